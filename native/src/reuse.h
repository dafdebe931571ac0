// Reusing maps pinned by an earlier load: what libbpf does for a map with a
// pin path, with a compatibility check that knows what the kernel changes.
//
// libbpf 1.1's own check (map_is_reuse_compat) compares the pinned map's
// flags with the definition's as they are; the kernel adds BPF_F_RDONLY_PROG
// to every DEVMAP/DEVMAP_HASH it creates, so such a pin never matches and the
// load fails (libbpf 1.3 ignores that flag). Here the pinned map is checked
// by rules that account for it and handed to libbpf with bpf_map__reuse_fd()
// before bpf_object__load(). libbpf then finds the map's definition equal to
// the pinned map (reuse_fd copies it) and marks it pinned, so its own reuse
// step passes and nothing is created or pinned twice.
#pragma once

#include <bpf/libbpf.h>

#include <string>

namespace xdpnet {

// Why a pinned map could not be reused: an errno, the operation that failed
// and a text naming the map and the mismatch.
struct ReuseFailure {
  int err = 0;
  std::string op;
  std::string detail;
};

// For every map of `obj` that libbpf will create and that has a pin path
// where a map is pinned: checks it and hands it to libbpf. A pin path with
// nothing pinned is left to libbpf (it creates the map and pins it after
// load). Returns false, with `failure` filled, at the first pin that is not a
// compatible map. Makes no JS calls: runs on the load worker thread.
bool ReusePinnedMaps(bpf_object* obj, ReuseFailure* failure);

}  // namespace xdpnet
