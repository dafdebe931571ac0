// FdHandle: the common base of NativeMap, NativeProgram and NativeLink, an
// ObjectWrap that owns exactly one file descriptor.
#pragma once

#include <napi.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace xdpnet {

// Carries an owned fd (plus whatever a handle class needs) from C++ into the
// handle's constructor through a Napi::External. If the handle is never
// built (an exception on the way) the fd is closed here, so it cannot leak.
struct FdInit {
  explicit FdInit(int owned) : fd(owned) {}
  ~FdInit() {
    if (fd >= 0) ::close(fd);
  }
  FdInit(const FdInit&) = delete;
  FdInit& operator=(const FdInit&) = delete;
  int Release() {
    int f = fd;
    fd = -1;
    return f;
  }
  int fd;
};

// fcntl(F_DUPFD_CLOEXEC): a private copy of an fd that someone else owns.
int DupFd(Napi::Env env, int fd, const char* op);

enum class FdKind { kMap, kProgram, kLink, kOther };
// What kind of bpf object an fd refers to. BPF_OBJ_GET_INFO_BY_FD cannot tell
// (it happily fills a bpf_map_info from a program fd), so this looks at the
// anon inode's name in /proc/self/fd.
FdKind KindOfFd(int fd);

template <typename T>
class FdHandle : public Napi::ObjectWrap<T>, public Closable {
 public:
  using Props = std::vector<typename Napi::ObjectWrap<T>::PropertyDescriptor>;

  // info[0] must be an External<FdInit>: handles are only made by the addon.
  explicit FdHandle(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<T>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(
          env, std::string(T::kKind) + " handles cannot be constructed from JS");
    }
    fd_ = info[0].As<Napi::External<FdInit>>().Data()->Release();
    registry_ = Data(env).registry;
    registry_->live.insert(this);
  }

  // GC finalizer: close what JS forgot to close.
  ~FdHandle() override {
    if (registry_) registry_->live.erase(this);
    CloseFd();
  }

  void CloseForExit() override { CloseFd(); }

 protected:
  // fd, close() and pin(), shared by every handle class.
  static void AddCommon(Props* props) {
    props->push_back(
        FdHandle::InstanceAccessor("fd", &FdHandle::GetFd, nullptr));
    props->push_back(FdHandle::InstanceMethod("close", &FdHandle::Close));
    props->push_back(FdHandle::InstanceMethod("pin", &FdHandle::Pin));
  }

  // The fd; a closed handle throws EBADF naming `op`.
  int Fd(Napi::Env env, const char* op) const {
    if (fd_ < 0) ThrowBpf(env, EBADF, op, std::string(T::kKind) + " handle is closed");
    return fd_;
  }

 private:
  Napi::Value GetFd(const Napi::CallbackInfo& info) {
    std::string op = std::string(T::kKind) + ".fd";
    return Napi::Number::New(info.Env(), Fd(info.Env(), op.c_str()));
  }

  void Close(const Napi::CallbackInfo&) { CloseFd(); }

  void Pin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string op = std::string(T::kKind) + ".pin";
    std::string path = StringArg(info, 0, op.c_str(), "path");
    int fd = Fd(env, op.c_str());
    LogCapture capture;
    int err = bpf_obj_pin(fd, path.c_str());
    if (err < 0) {
      ThrowBpf(env, -err, "bpf_obj_pin",
               "pinning at " + path + ": " + ErrnoMessage(-err),
               capture.Take());
    }
  }

  void CloseFd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  std::shared_ptr<Registry> registry_;
};

}  // namespace xdpnet
