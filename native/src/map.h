// NativeMap: one map fd, element and batch operations.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "handle.h"

namespace xdpnet {

class Map : public FdHandle<Map> {
 public:
  static constexpr const char* kKind = "map";

  static Napi::Function Define(Napi::Env env);
  // Wraps an fd the caller owns (ownership passes even if this throws).
  static Napi::Value Create(Napi::Env env, int owned_fd);

  explicit Map(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  void Update(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value NextKey(const Napi::CallbackInfo& info);
  Napi::Value LookupBatch(const Napi::CallbackInfo& info);
  Napi::Value UpdateBatch(const Napi::CallbackInfo& info);
  Napi::Value DeleteBatch(const Napi::CallbackInfo& info);

  void CheckKey(Napi::Env env, const char* op, size_t len) const;
  void CheckValue(Napi::Env env, const char* op, size_t len) const;
  std::string ValueSizeName() const;

  uint32_t type_ = 0;
  bool per_cpu_ = false;
  size_t key_size_ = 0;
  size_t value_size_ = 0;
  // Bytes of one value as user space sees it: for per-CPU maps one slot of
  // round_up(value_size, 8) per possible CPU.
  size_t value_bytes_ = 0;
};

}  // namespace xdpnet
