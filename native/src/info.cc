#include "info.h"

#include <bpf/libbpf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "errors.h"

namespace xdpnet {

namespace {

// uapi enum bpf_link_type values newer than libbpf 1.1's headers.
constexpr uint32_t kLinkTypeXdp = 6;
constexpr uint32_t kLinkTypeTcx = 11;

template <typename Info>
Info GetInfo(Napi::Env env, int fd) {
  Info info;
  std::memset(&info, 0, sizeof(info));
  uint32_t len = sizeof(info);
  int err = bpf_obj_get_info_by_fd(fd, &info, &len);
  if (err < 0) ThrowBpf(env, -err, "bpf_obj_get_info_by_fd");
  return info;
}

// Kernel object names are NUL-padded char[BPF_OBJ_NAME_LEN], not always
// NUL-terminated when the name fills the array.
std::string ObjName(const char* name, size_t cap) {
  return std::string(name, strnlen(name, cap));
}

}  // namespace

bpf_map_info GetMapInfo(Napi::Env env, int fd) {
  return GetInfo<bpf_map_info>(env, fd);
}
bpf_prog_info GetProgInfo(Napi::Env env, int fd) {
  return GetInfo<bpf_prog_info>(env, fd);
}
bpf_link_info GetLinkInfo(Napi::Env env, int fd) {
  return GetInfo<bpf_link_info>(env, fd);
}

Napi::Object MapInfoToJs(Napi::Env env, const bpf_map_info& info) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", info.id);
  o.Set("name", ObjName(info.name, sizeof(info.name)));
  o.Set("type", info.type);
  o.Set("keySize", info.key_size);
  o.Set("valueSize", info.value_size);
  o.Set("maxEntries", info.max_entries);
  o.Set("flags", info.map_flags);
  return o;
}

Napi::Object ProgInfoToJs(Napi::Env env, const bpf_prog_info& info) {
  static const char kHex[] = "0123456789abcdef";
  std::string tag;
  for (unsigned char byte : info.tag) {
    tag += kHex[byte >> 4];
    tag += kHex[byte & 0xf];
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", info.id);
  o.Set("name", ObjName(info.name, sizeof(info.name)));
  o.Set("type", info.type);
  o.Set("tag", tag);
  return o;
}

Napi::Object LinkInfoToJs(Napi::Env env, const bpf_link_info& info) {
  uint32_t ifindex = 0;
  uint32_t attach_type = 0;
  if (info.type == kLinkTypeXdp) {
    ifindex = info.xdp.ifindex;
  } else if (info.type == kLinkTypeTcx) {
    // The kernel's union member is `struct { __u32 ifindex; __u32
    // attach_type; } tcx;`, added after the uapi header libbpf 1.1 builds
    // against. All union members start at the union's offset, so read the
    // two words from there.
    const auto* raw = reinterpret_cast<const unsigned char*>(&info) +
                      offsetof(bpf_link_info, xdp);
    std::memcpy(&ifindex, raw, sizeof(ifindex));
    std::memcpy(&attach_type, raw + sizeof(ifindex), sizeof(attach_type));
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", info.id);
  o.Set("type", info.type);
  o.Set("progId", info.prog_id);
  o.Set("ifindex", ifindex);
  o.Set("attachType", attach_type);
  return o;
}

uint32_t PossibleCpus(Napi::Env env, const char* op) {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) ThrowBpf(env, n < 0 ? -n : EINVAL, op, "cannot count possible CPUs");
  return static_cast<uint32_t>(n);
}

}  // namespace xdpnet
