// bpf_*_info structs fetched by fd and converted to the JS shapes of
// native.ts (NativeMapInfo, NativeProgramInfo, NativeLinkInfo).
#pragma once

#include <napi.h>

#include <bpf/bpf.h>

#include <cstdint>

namespace xdpnet {

bpf_map_info GetMapInfo(Napi::Env env, int fd);
bpf_prog_info GetProgInfo(Napi::Env env, int fd);
bpf_link_info GetLinkInfo(Napi::Env env, int fd);

Napi::Object MapInfoToJs(Napi::Env env, const bpf_map_info& info);
Napi::Object ProgInfoToJs(Napi::Env env, const bpf_prog_info& info);
Napi::Object LinkInfoToJs(Napi::Env env, const bpf_link_info& info);

// libbpf_num_possible_cpus(), throwing on failure (it reads
// /sys/devices/system/cpu/possible once and caches it).
uint32_t PossibleCpus(Napi::Env env, const char* op);

}  // namespace xdpnet
