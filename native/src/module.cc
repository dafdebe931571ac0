// Module entry: per-env state, the exit-time cleanup hook, and the free
// functions of NativeBinding (native.ts).
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "btf.h"
#include "errors.h"
#include "handle.h"
#include "info.h"
#include "link.h"
#include "map.h"
#include "object.h"
#include "program.h"

namespace xdpnet {

Napi::Object InitModule(Napi::Env env, Napi::Object exports);

namespace {

void Setup(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) {
    throw Napi::TypeError::New(info.Env(), "setup(errorClass): errorClass must be a class");
  }
  Data(info.Env()).errorClass = Napi::Persistent(info[0].As<Napi::Function>());
}

Napi::Value OpenObject(const Napi::CallbackInfo& info) {
  return Object::Open(info.Env(), StringArg(info, 0, "openObject", "path"));
}

// bpf_obj_get(path), checked to be the kind of object the caller asked for.
int GetPinned(const Napi::CallbackInfo& info, const char* op, FdKind want,
              const char* kind) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, op, "path");
  LogCapture capture;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    ThrowBpf(env, -fd, "bpf_obj_get",
             "opening pinned " + path + ": " + ErrnoMessage(-fd), capture.Take());
  }
  if (KindOfFd(fd) != want) {
    ::close(fd);
    ThrowBpf(env, EINVAL, op, path + " is not a pinned " + kind);
  }
  return fd;
}

Napi::Value OpenPinnedMap(const Napi::CallbackInfo& info) {
  return Map::Create(info.Env(), GetPinned(info, "openPinnedMap", FdKind::kMap, "map"));
}

Napi::Value OpenPinnedLink(const Napi::CallbackInfo& info) {
  return Link::Create(info.Env(), GetPinned(info, "openPinnedLink", FdKind::kLink, "link"));
}

Napi::Value OpenPinnedProgram(const Napi::CallbackInfo& info) {
  return Program::Create(info.Env(),
                         GetPinned(info, "openPinnedProgram", FdKind::kProgram, "program"));
}

void Unpin(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "unpin", "path");
  if (::unlink(path.c_str()) < 0) {
    int err = errno;
    ThrowBpf(info.Env(), err, "unlink", "unpinning " + path + ": " + ErrnoMessage(err));
  }
}

Napi::Value EnsureBpffs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "ensureBpffs", "path");
  struct statfs st;
  if (::statfs(path.c_str(), &st) < 0) {
    int err = errno;
    ThrowBpf(env, err, "statfs", path + ": " + ErrnoMessage(err));
  }
  if (static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC) {
    return Napi::Boolean::New(env, false);
  }
  if (::mount("bpf", path.c_str(), "bpf", 0, "mode=0700") < 0) {
    int err = errno;
    ThrowBpf(env, err, "mount", "mounting bpffs at " + path + ": " + ErrnoMessage(err));
  }
  return Napi::Boolean::New(env, true);
}

void DetachXdpNetlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "detachXdpNetlink";
  uint32_t ifindex = U32Arg(info, 0, op, "ifindex");
  uint32_t flags = U32Arg(info, 1, op, "flags");
  LogCapture capture;
  int err = bpf_xdp_detach(static_cast<int>(ifindex), flags, nullptr);
  if (err < 0) {
    ThrowBpf(env, -err, "bpf_xdp_detach",
             "ifindex " + std::to_string(ifindex) + ": " + ErrnoMessage(-err),
             capture.Take());
  }
}

Napi::Value QueryXdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = U32Arg(info, 0, "queryXdp", "ifindex");
  auto opts = ZeroedOpts<bpf_xdp_query_opts>();
  LogCapture capture;
  int err = bpf_xdp_query(static_cast<int>(ifindex), 0, &opts);
  if (err < 0) {
    ThrowBpf(env, -err, "bpf_xdp_query",
             "ifindex " + std::to_string(ifindex) + ": " + ErrnoMessage(-err),
             capture.Take());
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("attachMode", opts.attach_mode);
  o.Set("progId", opts.prog_id);
  o.Set("drvProgId", opts.drv_prog_id);
  o.Set("skbProgId", opts.skb_prog_id);
  o.Set("hwProgId", opts.hw_prog_id);
  return o;
}

Napi::Value ListLinks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  __u32 id = 0;
  for (;;) {
    int err = bpf_link_get_next_id(id, &id);
    if (err == -ENOENT) break;
    if (err < 0) ThrowBpf(env, -err, "bpf_link_get_next_id");
    int fd = bpf_link_get_fd_by_id(id);
    if (fd == -ENOENT) continue;  // released between the two calls
    if (fd < 0) ThrowBpf(env, -fd, "bpf_link_get_fd_by_id");
    FdInit owned(fd);  // closes the fd on every path
    out.Set(n++, LinkInfoToJs(env, GetLinkInfo(env, fd)));
  }
  return out;
}

Napi::Value ProgramInfoById(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = U32Arg(info, 0, "programInfoById", "id");
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd == -ENOENT) return env.Undefined();
  if (fd < 0) ThrowBpf(env, -fd, "bpf_prog_get_fd_by_id");
  FdInit owned(fd);
  return ProgInfoToJs(env, GetProgInfo(env, fd));
}

Napi::Value DescribeBtfFn(const Napi::CallbackInfo& info) {
  return DescribeBtf(info.Env(), StringArg(info, 0, "describeBtf", "objectPath"));
}

Napi::Value PossibleCpusFn(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), PossibleCpus(info.Env(), "possibleCpus"));
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), std::to_string(libbpf_major_version()) + "." +
                                           std::to_string(libbpf_minor_version()));
}

// Env teardown (process exit, worker exit): close every handle JS left open.
// Handles stay allocated; their finalizers later find them already closed.
void CloseAll(Registry& registry) {
  std::vector<Closable*> live(registry.live.begin(), registry.live.end());
  for (Closable* c : live) c->CloseForExit();
}

}  // namespace

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  auto* data = new AddonData();
  env.SetInstanceData(data);  // deleted by node-addon-api at env teardown
  data->objectCtor = Napi::Persistent(Object::Define(env));
  data->mapCtor = Napi::Persistent(Map::Define(env));
  data->programCtor = Napi::Persistent(Program::Define(env));
  data->linkCtor = Napi::Persistent(Link::Define(env));
  env.AddCleanupHook([registry = data->registry] { CloseAll(*registry); });

  auto fn = [&](const char* name, auto cb) {
    exports.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("setup", Setup);
  fn("openObject", OpenObject);
  fn("openPinnedMap", OpenPinnedMap);
  fn("openPinnedLink", OpenPinnedLink);
  fn("openPinnedProgram", OpenPinnedProgram);
  fn("unpin", Unpin);
  fn("ensureBpffs", EnsureBpffs);
  fn("detachXdpNetlink", DetachXdpNetlink);
  fn("queryXdp", QueryXdp);
  fn("listLinks", ListLinks);
  fn("programInfoById", ProgramInfoById);
  fn("describeBtf", DescribeBtfFn);
  fn("possibleCpus", PossibleCpusFn);
  fn("libbpfVersion", LibbpfVersion);
  return exports;
}

}  // namespace xdpnet

// NODE_API_MODULE pastes its second argument into an identifier.
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  return xdpnet::InitModule(env, exports);
}

NODE_API_MODULE(xdpnet_native, Init)
