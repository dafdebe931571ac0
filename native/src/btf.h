// describeBtf(): the types an object file declares, for code generation and
// for checking that TypeScript's struct layouts match the C side.
#pragma once

#include <napi.h>

#include <string>

namespace xdpnet {

// NativeBtfDescription of the ELF file at `path` (btf__parse_elf).
Napi::Value DescribeBtf(Napi::Env env, const std::string& path);

}  // namespace xdpnet
