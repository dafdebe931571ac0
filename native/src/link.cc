#include "link.h"

#include <bpf/bpf.h>

#include "info.h"

namespace xdpnet {

Napi::Function Link::Define(Napi::Env env) {
  Props props{
      InstanceMethod<&Link::Info>("info"),
      InstanceMethod<&Link::Detach>("detach"),
      InstanceMethod<&Link::UpdateProgram>("updateProgram"),
  };
  AddCommon(&props);
  return DefineClass(env, "NativeLink", props);
}

Napi::Value Link::Create(Napi::Env env, int owned_fd) {
  FdInit init(owned_fd);
  return Data(env).linkCtor.New({Napi::External<FdInit>::New(env, &init)});
}

Link::Link(const Napi::CallbackInfo& info) : FdHandle<Link>(info) {}

Napi::Value Link::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return LinkInfoToJs(env, GetLinkInfo(env, Fd(env, "link.info")));
}

void Link::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int err = bpf_link_detach(Fd(env, "link.detach"));
  if (err < 0) ThrowBpf(env, -err, "bpf_link_detach");
}

void Link::UpdateProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "link.updateProgram";
  int prog_fd = IntArg(info, 0, op, "progFd");
  int fd = Fd(env, op);
  int err = bpf_link_update(fd, prog_fd, nullptr);
  if (err < 0) ThrowBpf(env, -err, "bpf_link_update");
}

}  // namespace xdpnet
