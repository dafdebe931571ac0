// Argument conversion. TypeScript validates; these only make sure a wrong
// JS value becomes a BpfError(EINVAL) instead of undefined behaviour.
#pragma once

#include <napi.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace xdpnet {

uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                const char* name);
uint64_t U64Arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                const char* name);
// A file descriptor or another non-negative C int.
int IntArg(const Napi::CallbackInfo& info, size_t i, const char* op,
           const char* name);
Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i,
                                const char* op, const char* name);
// null or undefined -> nullopt.
std::optional<Napi::Buffer<uint8_t>> NullableBufferArg(
    const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* op,
                      const char* name);
std::optional<std::string> NullableStringArg(const Napi::CallbackInfo& info,
                                             size_t i, const char* op,
                                             const char* name);

// A property of an options object.
uint32_t U32Prop(Napi::Env env, const Napi::Object& obj, const char* key,
                 const char* op);
Napi::Buffer<uint8_t> BufferProp(Napi::Env env, const Napi::Object& obj,
                                 const char* key, const char* op);

// A buffer must be exactly `want` bytes; checked before any syscall. Throws
// EINVAL "<op>: <what> is <got> bytes, <expected> is <want>".
void CheckLength(Napi::Env env, const char* op, const char* what, size_t got,
                 const std::string& expected, size_t want);

// libbpf's *_opts structs: zeroed with .sz set. (LIBBPF_OPTS relies on C
// compound literals and statement expressions, which are not C++17.)
template <typename T>
T ZeroedOpts() {
  T opts;
  std::memset(&opts, 0, sizeof(opts));
  opts.sz = sizeof(opts);
  return opts;
}

}  // namespace xdpnet
