// Per-environment state shared by every part of the addon.
#pragma once

#include <napi.h>

#include <memory>
#include <unordered_set>

namespace xdpnet {

// Something that owns a kernel resource and can be closed at environment
// teardown (the env cleanup hook closes whatever JS did not close).
class Closable {
 public:
  virtual void CloseForExit() = 0;

 protected:
  ~Closable() = default;
};

// Live handles of one environment. Shared (not owned by AddonData) because
// the cleanup hook and the handle finalizers may run in either order relative
// to the instance-data finalizer; whoever runs last frees it.
struct Registry {
  std::unordered_set<Closable*> live;
};

struct AddonData {
  Napi::FunctionReference errorClass;  // the BpfError class given to setup()
  Napi::FunctionReference objectCtor;
  Napi::FunctionReference mapCtor;
  Napi::FunctionReference programCtor;
  Napi::FunctionReference linkCtor;
  std::shared_ptr<Registry> registry = std::make_shared<Registry>();
};

inline AddonData& Data(Napi::Env env) {
  return *env.GetInstanceData<AddonData>();
}

}  // namespace xdpnet
