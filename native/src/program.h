// NativeProgram: one program fd; test runs and attachment.
#pragma once

#include <napi.h>

#include "handle.h"

namespace xdpnet {

class Program : public FdHandle<Program> {
 public:
  static constexpr const char* kKind = "program";

  static Napi::Function Define(Napi::Env env);
  // Wraps an fd the caller owns (ownership passes even if this throws).
  static Napi::Value Create(Napi::Env env, int owned_fd);

  explicit Program(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value TestRun(const Napi::CallbackInfo& info);
  Napi::Value AttachXdpLink(const Napi::CallbackInfo& info);
  void AttachXdpNetlink(const Napi::CallbackInfo& info);
  Napi::Value AttachTcx(const Napi::CallbackInfo& info);
};

}  // namespace xdpnet
