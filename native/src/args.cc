#include "args.h"

#include <cerrno>
#include <cmath>

#include "errors.h"

namespace xdpnet {

namespace {

[[noreturn]] void BadArg(Napi::Env env, const char* op, const char* name,
                         const char* want) {
  ThrowBpf(env, EINVAL, op, std::string(name) + " must be " + want);
}

// A JS number that is an integer in [0, max].
bool AsInteger(const Napi::Value& v, double max, double* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || std::trunc(d) != d) return false;
  *out = d;
  return true;
}

}  // namespace

uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                const char* name) {
  double d = 0;
  if (!AsInteger(info[i], 4294967295.0, &d)) {
    BadArg(info.Env(), op, name, "an integer in [0, 2^32)");
  }
  return static_cast<uint32_t>(d);
}

uint64_t U64Arg(const Napi::CallbackInfo& info, size_t i, const char* op,
                const char* name) {
  double d = 0;
  // Beyond 2^53 a JS number is not an exact integer any more.
  if (!AsInteger(info[i], 9007199254740991.0, &d)) {
    BadArg(info.Env(), op, name, "a safe non-negative integer");
  }
  return static_cast<uint64_t>(d);
}

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* op,
           const char* name) {
  double d = 0;
  if (!AsInteger(info[i], 2147483647.0, &d)) {
    BadArg(info.Env(), op, name, "an integer in [0, 2^31)");
  }
  return static_cast<int>(d);
}

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i,
                                const char* op, const char* name) {
  if (!info[i].IsBuffer()) BadArg(info.Env(), op, name, "a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

std::optional<Napi::Buffer<uint8_t>> NullableBufferArg(
    const Napi::CallbackInfo& info, size_t i, const char* op,
    const char* name) {
  if (info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  if (!info[i].IsBuffer()) BadArg(info.Env(), op, name, "a Buffer or null");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i,
                      const char* op, const char* name) {
  if (!info[i].IsString()) BadArg(info.Env(), op, name, "a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::optional<std::string> NullableStringArg(const Napi::CallbackInfo& info,
                                             size_t i, const char* op,
                                             const char* name) {
  if (info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  if (!info[i].IsString()) BadArg(info.Env(), op, name, "a string or null");
  return info[i].As<Napi::String>().Utf8Value();
}

uint32_t U32Prop(Napi::Env env, const Napi::Object& obj, const char* key,
                 const char* op) {
  double d = 0;
  if (!AsInteger(obj.Get(key), 4294967295.0, &d)) {
    BadArg(env, op, key, "an integer in [0, 2^32)");
  }
  return static_cast<uint32_t>(d);
}

Napi::Buffer<uint8_t> BufferProp(Napi::Env env, const Napi::Object& obj,
                                 const char* key, const char* op) {
  Napi::Value v = obj.Get(key);
  if (!v.IsBuffer()) BadArg(env, op, key, "a Buffer");
  return v.As<Napi::Buffer<uint8_t>>();
}

void CheckLength(Napi::Env env, const char* op, const char* what, size_t got,
                 const std::string& expected, size_t want) {
  if (got == want) return;
  ThrowBpf(env, EINVAL, op,
           std::string(what) + " is " + std::to_string(got) + " bytes, " +
               expected + " is " + std::to_string(want));
}

}  // namespace xdpnet
