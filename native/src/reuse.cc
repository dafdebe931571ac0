#include "reuse.h"

#include <unistd.h>

#include <bpf/bpf.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include "errors.h"
#include "handle.h"

namespace xdpnet {

namespace {

// Flags that belong to the fd a map was created through, not to the map:
// the kernel drops them before storing the map's flags
// (bpf_map_flags_retain_permanent() in kernel/bpf/syscall.c), so a map
// created with them never reports them.
constexpr uint32_t kFdOnlyFlags = BPF_F_RDONLY | BPF_F_WRONLY;

// Flags the kernel adds by itself to every map of `type` it creates. Only
// device maps have one: dev_map_init_map() sets BPF_F_RDONLY_PROG (a lookup
// from BPF returns a pointer into the entry), while dev_map_alloc_check()
// refuses that flag from user space (EINVAL), so no definition can carry it.
// Checked on kernel 6.18 by creating each of (per-CPU/LRU) hash, (per-CPU)
// array, LPM trie, hash-of-maps, prog/dev/dev-hash/cpu/xsk/sock/sockhash/
// cgroup/perf-event/reuseport arrays, stack trace, queue, stack, bloom
// filter and (user) ring buffer, and reading its flags back: only DEVMAP and
// DEVMAP_HASH report a flag they were not created with. Sizes and
// max_entries come back as given for all of them.
uint32_t KernelAddedFlags(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_DEVMAP:
    case BPF_MAP_TYPE_DEVMAP_HASH:
      return BPF_F_RDONLY_PROG;
    default:
      return 0;
  }
}

std::string TypeName(uint32_t type) {
  const char* name = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type));
  return name != nullptr ? name : "type " + std::to_string(type);
}

std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%" PRIx64, value);
  return text;
}

// Collects "<field> <definition> in the object, <pinned> pinned" when they differ.
class Differences {
 public:
  void Compare(const char* field, const std::string& object, const std::string& pinned) {
    if (object == pinned) return;
    if (!text_.empty()) text_ += "; ";
    text_ += std::string(field) + " " + object + " in the object, " + pinned + " pinned";
  }
  void Compare(const char* field, uint64_t object, uint64_t pinned) {
    Compare(field, std::to_string(object), std::to_string(pinned));
  }
  const std::string& Text() const { return text_; }

 private:
  std::string text_;
};

// What makes the pinned map unusable in place of `map`'s definition; empty if
// nothing. BTF plays no part: the pinned map may have been created from
// another build of the object (or none at all), and programs use a map by fd.
std::string Mismatches(const bpf_map* map, const bpf_map_info& pinned) {
  Differences d;
  uint32_t type = bpf_map__type(map);
  d.Compare("type", TypeName(type), TypeName(pinned.type));
  d.Compare("key_size", bpf_map__key_size(map), pinned.key_size);
  d.Compare("value_size", bpf_map__value_size(map), pinned.value_size);
  d.Compare("max_entries", bpf_map__max_entries(map), pinned.max_entries);
  uint32_t ignored = kFdOnlyFlags | KernelAddedFlags(type);
  d.Compare("map_flags", Hex(bpf_map__map_flags(map) & ~ignored),
            Hex(pinned.map_flags & ~ignored));
  d.Compare("map_extra", Hex(bpf_map__map_extra(map)), Hex(pinned.map_extra));
  // bpf_map__reuse_fd() renames the object's map after the pinned one unless
  // that is the first 15 characters of its own name (all the kernel keeps):
  // a map renamed so could no longer be found by its name in the object.
  std::string name = bpf_map__name(map);
  std::string kept = name.substr(0, BPF_OBJ_NAME_LEN - 1);
  std::string pinned_name(pinned.name, strnlen(pinned.name, sizeof(pinned.name)));
  d.Compare("name", "'" + kept + "'", "'" + pinned_name + "'");
  return d.Text();
}

// Closes an fd at scope exit (bpf_map__reuse_fd takes a duplicate).
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

bool Fail(ReuseFailure* failure, int err, const char* op, std::string detail) {
  failure->err = err;
  failure->op = op;
  failure->detail = std::move(detail);
  return false;
}

// One map: nothing pinned (true, left to libbpf), reused (true), or refused.
bool ReuseOne(bpf_map* map, const std::string& pin_path, ReuseFailure* failure) {
  std::string what = "map '" + std::string(bpf_map__name(map)) + "'";
  int fd = bpf_obj_get(pin_path.c_str());
  if (fd == -ENOENT) return true;
  if (fd < 0) {
    return Fail(failure, -fd, "bpf_obj_get",
                what + ": opening the map pinned at " + pin_path + ": " + ErrnoMessage(-fd));
  }
  FdCloser closer(fd);
  if (KindOfFd(fd) != FdKind::kMap) {
    return Fail(failure, EINVAL, "bpf_obj_get",
                what + ": " + pin_path + " is pinned but is not a map");
  }
  bpf_map_info pinned;
  std::memset(&pinned, 0, sizeof(pinned));
  uint32_t len = sizeof(pinned);
  int err = bpf_obj_get_info_by_fd(fd, &pinned, &len);
  if (err < 0) {
    return Fail(failure, -err, "bpf_obj_get_info_by_fd",
                what + ": reading the map pinned at " + pin_path + ": " + ErrnoMessage(-err));
  }
  std::string mismatches = Mismatches(map, pinned);
  if (!mismatches.empty()) {
    // EINVAL, as libbpf answers a pinned map it cannot reuse.
    return Fail(failure, EINVAL, "bpf_map__reuse_fd",
                what + " cannot reuse the map pinned at " + pin_path +
                    " (id " + std::to_string(pinned.id) + "): " + mismatches);
  }
  err = bpf_map__reuse_fd(map, fd);
  if (err < 0) {
    return Fail(failure, -err, "bpf_map__reuse_fd",
                what + ": reusing the map pinned at " + pin_path + ": " + ErrnoMessage(-err));
  }
  return true;
}

}  // namespace

bool ReusePinnedMaps(bpf_object* obj, ReuseFailure* failure) {
  for (bpf_map* m = bpf_object__next_map(obj, nullptr); m != nullptr;
       m = bpf_object__next_map(obj, m)) {
    const char* pin_path = bpf_map__pin_path(m);
    // libbpf neither creates nor reuses a map whose autocreate is off.
    if (pin_path == nullptr || !bpf_map__autocreate(m)) continue;
    if (!ReuseOne(m, pin_path, failure)) return false;
  }
  return true;
}

}  // namespace xdpnet
