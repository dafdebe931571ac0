// NativeObject: one bpf_object (an opened ELF file), configured before load,
// loaded on a worker thread, then the source of map and program handles.
#pragma once

#include <napi.h>

#include <bpf/libbpf.h>

#include <memory>
#include <string>

#include "addon.h"

namespace xdpnet {

class Object : public Napi::ObjectWrap<Object>, public Closable {
 public:
  static Napi::Function Define(Napi::Env env);
  // bpf_object__open_file(path) wrapped in a NativeObject.
  static Napi::Value Open(Napi::Env env, const std::string& path);

  explicit Object(const Napi::CallbackInfo& info);
  ~Object() override;

  void CloseForExit() override;

 private:
  friend class LoadWorker;

  // kLoading: a worker thread owns obj_; every call throws EBUSY.
  // kFailed: the load failed (a pinned map could not be reused, or libbpf
  // has unloaded the object after bpf_object__load failed); it can still be
  // described and closed, nothing else.
  enum class State { kOpened, kLoading, kLoaded, kFailed, kClosed };

  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetLoaded(const Napi::CallbackInfo& info);
  void SetRodata(const Napi::CallbackInfo& info);
  void SetMapMaxEntries(const Napi::CallbackInfo& info);
  void SetMapPinPath(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value GetMap(const Napi::CallbackInfo& info);
  Napi::Value GetProgram(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  // Phase guards; each throws the documented error for the wrong phase.
  void RequireOpen(Napi::Env env, const char* op) const;        // not closed/loading
  void RequireBeforeLoad(Napi::Env env, const char* op) const;  // kOpened
  void RequireLoaded(Napi::Env env, const char* op) const;      // kLoaded
  bpf_map* FindMap(Napi::Env env, const char* op, const std::string& name) const;
  void CloseObject();

  bpf_object* obj_ = nullptr;
  State state_ = State::kClosed;
  std::string name_;
  std::shared_ptr<Registry> registry_;
};

}  // namespace xdpnet
