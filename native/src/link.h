// NativeLink: one bpf_link fd.
#pragma once

#include <napi.h>

#include "handle.h"

namespace xdpnet {

class Link : public FdHandle<Link> {
 public:
  static constexpr const char* kKind = "link";

  static Napi::Function Define(Napi::Env env);
  // Wraps an fd the caller owns (ownership passes even if this throws).
  static Napi::Value Create(Napi::Env env, int owned_fd);

  explicit Link(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  void Detach(const Napi::CallbackInfo& info);
  void UpdateProgram(const Napi::CallbackInfo& info);
};

}  // namespace xdpnet
