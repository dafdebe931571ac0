#include "object.h"

#include <bpf/btf.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "errors.h"
#include "handle.h"
#include "map.h"
#include "program.h"
#include "reuse.h"

namespace xdpnet {

namespace {

// Carries a freshly opened bpf_object into the constructor; closes it if the
// wrapper is never built.
struct ObjectInit {
  explicit ObjectInit(bpf_object* o) : obj(o) {}
  ~ObjectInit() {
    if (obj != nullptr) bpf_object__close(obj);
  }
  ObjectInit(const ObjectInit&) = delete;
  ObjectInit& operator=(const ObjectInit&) = delete;
  bpf_object* obj;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The internal map libbpf made for the .rodata section. Its name is the
// object name prefix plus ".rodata" (e.g. "x_bpf.rodata").
bpf_map* FindRodataMap(bpf_object* obj) {
  for (bpf_map* m = bpf_object__next_map(obj, nullptr); m != nullptr;
       m = bpf_object__next_map(obj, m)) {
    if (bpf_map__is_internal(m) && EndsWith(bpf_map__name(m), ".rodata")) {
      return m;
    }
  }
  return nullptr;
}

}  // namespace

// Runs bpf_object__load off the main thread. A strong reference keeps the
// NativeObject (and so obj_) alive until the promise settles; the worker is
// deleted on the main thread after OnOK, which drops it.
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Object* object, Napi::Promise::Deferred deferred)
      : Napi::AsyncWorker(object->Env(), "xdpnet:bpf_object__load"),
        object_(object),
        self_(Napi::Persistent(object->Value())),
        obj_(object->obj_),
        deferred_(deferred) {}

  void Execute() override {
    // Thread-local capture: only this load's messages, including the
    // verifier log libbpf 1.1 prints (WARN) when a program is rejected.
    LogCapture capture;
    // Pinned maps first, with our compatibility rules (reuse.h); libbpf's
    // own reuse step inside bpf_object__load then finds them compatible.
    ReuseFailure reuse;
    if (!ReusePinnedMaps(obj_, &reuse)) {
      err_ = reuse.err;
      op_ = reuse.op;
      detail_ = reuse.detail;
      log_ = capture.Take();
      return;
    }
    int err = bpf_object__load(obj_);
    if (err < 0) {
      err_ = -err;
      op_ = "bpf_object__load";
      detail_ = ErrnoMessage(err_);
      log_ = capture.Take();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    // First the C++ state, so the cleanup hook can close the object even if
    // the environment is already shutting down.
    object_->state_ = err_ != 0 ? Object::State::kFailed : Object::State::kLoaded;
    try {
      if (err_ != 0) {
        deferred_.Reject(MakeBpfError(
            env, err_, op_, "loading " + object_->name_ + ": " + detail_, log_));
      } else {
        deferred_.Resolve(env.Undefined());
      }
    } catch (const Napi::Error&) {
      // The load finished while the environment was being torn down (worker
      // terminated): JS can no longer run, so the promise cannot be settled.
      // Letting this escape would make node-addon-api's rethrow fail as well
      // and std::terminate the process.
    }
  }

 private:
  Object* object_;
  Napi::ObjectReference self_;
  bpf_object* obj_;
  Napi::Promise::Deferred deferred_;
  int err_ = 0;
  std::string op_;
  std::string detail_;
  std::string log_;
};

Napi::Function Object::Define(Napi::Env env) {
  return DefineClass(
      env, "NativeObject",
      {
          InstanceAccessor<&Object::GetName>("name"),
          InstanceAccessor<&Object::GetLoaded>("loaded"),
          InstanceMethod<&Object::SetRodata>("setRodata"),
          InstanceMethod<&Object::SetMapMaxEntries>("setMapMaxEntries"),
          InstanceMethod<&Object::SetMapPinPath>("setMapPinPath"),
          InstanceMethod<&Object::Maps>("maps"),
          InstanceMethod<&Object::Programs>("programs"),
          InstanceMethod<&Object::Load>("load"),
          InstanceMethod<&Object::GetMap>("map"),
          InstanceMethod<&Object::GetProgram>("program"),
          InstanceMethod<&Object::Close>("close"),
      });
}

Napi::Value Object::Open(Napi::Env env, const std::string& path) {
  LogCapture capture;
  bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
  if (obj == nullptr) {
    int err = errno != 0 ? errno : EINVAL;
    ThrowBpf(env, err, "bpf_object__open_file",
             "opening " + path + ": " + ErrnoMessage(err), capture.Take());
  }
  ObjectInit init(obj);
  return Data(env).objectCtor.New({Napi::External<ObjectInit>::New(env, &init)});
}

Object::Object(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Object>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(env, "object handles cannot be constructed from JS");
  }
  ObjectInit* init = info[0].As<Napi::External<ObjectInit>>().Data();
  obj_ = init->obj;
  init->obj = nullptr;
  name_ = bpf_object__name(obj_);
  state_ = State::kOpened;
  registry_ = Data(env).registry;
  registry_->live.insert(this);
}

Object::~Object() {
  if (registry_) registry_->live.erase(this);
  CloseObject();
}

void Object::CloseForExit() { CloseObject(); }

void Object::CloseObject() {
  // A worker thread is inside bpf_object__load: closing under it would be a
  // use-after-free. Only reachable at environment teardown (the worker keeps
  // the JS object alive otherwise); the kernel reclaims the fds at exit.
  if (state_ == State::kLoading) return;
  if (obj_ != nullptr) bpf_object__close(obj_);
  obj_ = nullptr;
  state_ = State::kClosed;
}

void Object::RequireOpen(Napi::Env env, const char* op) const {
  if (state_ == State::kClosed) ThrowBpf(env, EBADF, op, "object is closed");
  if (state_ == State::kLoading) ThrowBpf(env, EBUSY, op, "object is loading");
}

void Object::RequireBeforeLoad(Napi::Env env, const char* op) const {
  RequireOpen(env, op);
  // EBUSY, as libbpf itself answers bpf_map__set_max_entries after load.
  if (state_ != State::kOpened) {
    ThrowBpf(env, EBUSY, op, "only possible before load (object was loaded)");
  }
}

void Object::RequireLoaded(Napi::Env env, const char* op) const {
  RequireOpen(env, op);
  if (state_ == State::kFailed) ThrowBpf(env, EINVAL, op, "object failed to load");
  if (state_ != State::kLoaded) ThrowBpf(env, EINVAL, op, "object is not loaded");
}

bpf_map* Object::FindMap(Napi::Env env, const char* op,
                         const std::string& name) const {
  bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
  if (m == nullptr) ThrowBpf(env, ENOENT, op, "no map named '" + name + "'");
  return m;
}

Napi::Value Object::GetName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), name_);
}

Napi::Value Object::GetLoaded(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), state_ == State::kLoaded);
}

void Object::SetRodata(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "object.setRodata";
  std::string variable = StringArg(info, 0, op, "variable");
  auto value = BufferArg(info, 1, op, "value");
  RequireBeforeLoad(env, op);

  bpf_map* rodata = FindRodataMap(obj_);
  const btf* types = bpf_object__btf(obj_);
  int sec_id = types != nullptr
                   ? btf__find_by_name_kind(types, ".rodata", BTF_KIND_DATASEC)
                   : -ENOENT;
  if (rodata == nullptr || sec_id < 0) {
    ThrowBpf(env, ENOENT, op, "object " + name_ + " has no .rodata (with BTF)");
  }
  // libbpf has already fixed up this DATASEC at open time (clang leaves the
  // variable offsets 0; libbpf fills them from the ELF symbols).
  const btf_type* sec = btf__type_by_id(types, static_cast<__u32>(sec_id));
  const btf_var_secinfo* vars = btf_var_secinfos(sec);
  for (unsigned i = 0; i < btf_vlen(sec); i++) {
    const btf_type* var = btf__type_by_id(types, vars[i].type);
    const char* var_name = btf__name_by_offset(types, var->name_off);
    if (var_name == nullptr || variable != var_name) continue;
    CheckLength(env, op, "value", value.Length(),
                "size of '" + variable + "'", vars[i].size);
    size_t mem_size = 0;
    // libbpf 1.1 declares the result const, but it is the map's writable
    // mmap()ed initial image; writing it before load is the documented way
    // to set `const volatile` globals (skeletons do exactly this).
    void* mem = const_cast<void*>(bpf_map__initial_value(rodata, &mem_size));
    if (mem == nullptr ||
        static_cast<size_t>(vars[i].offset) + vars[i].size > mem_size) {
      ThrowBpf(env, EINVAL, op, "'" + variable + "' lies outside .rodata");
    }
    std::memcpy(static_cast<uint8_t*>(mem) + vars[i].offset, value.Data(),
                vars[i].size);
    return;
  }
  ThrowBpf(env, ENOENT, op, "no variable '" + variable + "' in .rodata");
}

void Object::SetMapMaxEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "object.setMapMaxEntries";
  std::string map = StringArg(info, 0, op, "map");
  uint32_t max_entries = U32Arg(info, 1, op, "maxEntries");
  RequireBeforeLoad(env, op);
  int err = bpf_map__set_max_entries(FindMap(env, op, map), max_entries);
  if (err < 0) ThrowBpf(env, -err, "bpf_map__set_max_entries");
}

void Object::SetMapPinPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "object.setMapPinPath";
  std::string map = StringArg(info, 0, op, "map");
  auto path = NullableStringArg(info, 1, op, "path");
  RequireBeforeLoad(env, op);
  int err = bpf_map__set_pin_path(FindMap(env, op, map),
                                  path ? path->c_str() : nullptr);
  if (err < 0) ThrowBpf(env, -err, "bpf_map__set_pin_path");
}

Napi::Value Object::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "object.maps");
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (bpf_map* m = bpf_object__next_map(obj_, nullptr); m != nullptr;
       m = bpf_object__next_map(obj_, m)) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", bpf_map__name(m));
    d.Set("type", static_cast<uint32_t>(bpf_map__type(m)));
    d.Set("keySize", bpf_map__key_size(m));
    d.Set("valueSize", bpf_map__value_size(m));
    d.Set("maxEntries", bpf_map__max_entries(m));
    const char* pin = bpf_map__pin_path(m);
    d.Set("pinPath", pin != nullptr ? Napi::Value(Napi::String::New(env, pin))
                                    : env.Null());
    d.Set("internal", bpf_map__is_internal(m));
    out.Set(i++, d);
  }
  return out;
}

Napi::Value Object::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "object.programs");
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (bpf_program* p = bpf_object__next_program(obj_, nullptr); p != nullptr;
       p = bpf_object__next_program(obj_, p)) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", bpf_program__name(p));
    d.Set("section", bpf_program__section_name(p));
    d.Set("type", static_cast<uint32_t>(bpf_program__type(p)));
    out.Set(i++, d);
  }
  return out;
}

Napi::Value Object::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "object.load";
  auto deferred = Napi::Promise::Deferred::New(env);
  // Phase errors reject rather than throw: callers of a Promise API expect
  // failures in one place.
  try {
    RequireOpen(env, op);
    if (state_ != State::kOpened) {
      ThrowBpf(env, EINVAL, op, "object " + name_ + " was already loaded");
    }
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
    return deferred.Promise();
  }
  state_ = State::kLoading;
  (new LoadWorker(this, deferred))->Queue();  // AsyncWorker deletes itself
  return deferred.Promise();
}

Napi::Value Object::GetMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "object.map";
  std::string name = StringArg(info, 0, op, "name");
  RequireLoaded(env, op);
  int fd = bpf_map__fd(FindMap(env, op, name));
  // -1 (not an errno) when libbpf did not create the map (autocreate off).
  if (fd < 0) ThrowBpf(env, EINVAL, op, "map '" + name + "' was not created");
  return Map::Create(env, DupFd(env, fd, op));
}

Napi::Value Object::GetProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "object.program";
  std::string name = StringArg(info, 0, op, "name");
  RequireLoaded(env, op);
  bpf_program* p = bpf_object__find_program_by_name(obj_, name.c_str());
  if (p == nullptr) ThrowBpf(env, ENOENT, op, "no program named '" + name + "'");
  int fd = bpf_program__fd(p);
  // -1 (not an errno) when libbpf did not load it (autoload off).
  if (fd < 0) ThrowBpf(env, EINVAL, op, "program '" + name + "' was not loaded");
  return Program::Create(env, DupFd(env, fd, op));
}

void Object::Close(const Napi::CallbackInfo& info) {
  if (state_ == State::kLoading) {
    ThrowBpf(info.Env(), EBUSY, "object.close", "object is loading");
  }
  CloseObject();
}

}  // namespace xdpnet
