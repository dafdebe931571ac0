#include "program.h"

#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "info.h"
#include "link.h"

namespace xdpnet {

namespace {

std::string OnIfindex(const char* what, uint32_t ifindex, int err) {
  return std::string(what) + " on ifindex " + std::to_string(ifindex) + ": " +
         ErrnoMessage(err);
}

}  // namespace

Napi::Function Program::Define(Napi::Env env) {
  Props props{
      InstanceMethod<&Program::Info>("info"),
      InstanceMethod<&Program::TestRun>("testRun"),
      InstanceMethod<&Program::AttachXdpLink>("attachXdpLink"),
      InstanceMethod<&Program::AttachXdpNetlink>("attachXdpNetlink"),
      InstanceMethod<&Program::AttachTcx>("attachTcx"),
  };
  AddCommon(&props);
  return DefineClass(env, "NativeProgram", props);
}

Napi::Value Program::Create(Napi::Env env, int owned_fd) {
  FdInit init(owned_fd);
  return Data(env).programCtor.New({Napi::External<FdInit>::New(env, &init)});
}

Program::Program(const Napi::CallbackInfo& info) : FdHandle<Program>(info) {}

Napi::Value Program::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return ProgInfoToJs(env, GetProgInfo(env, Fd(env, "program.info")));
}

Napi::Value Program::TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "program.testRun";
  if (!info[0].IsObject()) ThrowBpf(env, EINVAL, op, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto data = BufferProp(env, o, "data", op);
  uint32_t ingress_ifindex = U32Prop(env, o, "ingressIfindex", op);
  uint32_t rx_queue_index = U32Prop(env, o, "rxQueueIndex", op);
  uint32_t repeat = U32Prop(env, o, "repeat", op);
  uint32_t flags = U32Prop(env, o, "flags", op);
  uint32_t data_size_out = U32Prop(env, o, "dataSizeOut", op);
  uint32_t batch_size = U32Prop(env, o, "batchSize", op);
  int fd = Fd(env, op);
  if (data.Length() > UINT32_MAX) ThrowBpf(env, E2BIG, op, "data is too large");
  if (repeat > INT32_MAX) ThrowBpf(env, EINVAL, op, "repeat is too large");
  auto data_len = static_cast<uint32_t>(data.Length());

  std::vector<uint8_t> out(data_size_out);
  auto opts = ZeroedOpts<bpf_test_run_opts>();
  opts.data_in = data.Data();
  opts.data_size_in = data_len;
  opts.data_out = data_size_out > 0 ? out.data() : nullptr;
  opts.data_size_out = data_size_out;
  opts.repeat = static_cast<int>(repeat);
  opts.flags = flags;
  opts.batch_size = batch_size;

  // The kernel only accepts an xdp_md context whose data_end equals the data
  // length (and data_meta 0); it then sets up rxq info from the ifindex.
  xdp_md ctx;
  std::memset(&ctx, 0, sizeof(ctx));
  if (ingress_ifindex != 0) {
    ctx.data = 0;
    ctx.data_end = data_len;
    ctx.ingress_ifindex = ingress_ifindex;
    ctx.rx_queue_index = rx_queue_index;
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
  }

  int err = bpf_prog_test_run_opts(fd, &opts);
  if (err < 0) ThrowBpf(env, -err, "bpf_prog_test_run_opts");

  size_t produced = std::min<size_t>(opts.data_size_out, out.size());
  Napi::Object result = Napi::Object::New(env);
  result.Set("retval", opts.retval);
  result.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), produced));
  result.Set("durationNs", opts.duration);
  return result;
}

Napi::Value Program::AttachXdpLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "program.attachXdpLink";
  uint32_t ifindex = U32Arg(info, 0, op, "ifindex");
  uint32_t flags = U32Arg(info, 1, op, "flags");
  int fd = Fd(env, op);
  auto opts = ZeroedOpts<bpf_link_create_opts>();
  opts.flags = flags;
  LogCapture capture;
  int link_fd =
      bpf_link_create(fd, static_cast<int>(ifindex), BPF_XDP, &opts);
  if (link_fd < 0) {
    ThrowBpf(env, -link_fd, "bpf_link_create",
             OnIfindex("XDP link", ifindex, -link_fd), capture.Take());
  }
  return Link::Create(env, link_fd);
}

void Program::AttachXdpNetlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "program.attachXdpNetlink";
  uint32_t ifindex = U32Arg(info, 0, op, "ifindex");
  uint32_t flags = U32Arg(info, 1, op, "flags");
  int expected_fd = IntArg(info, 2, op, "expectedProgFd");
  int fd = Fd(env, op);
  // libbpf adds XDP_FLAGS_REPLACE itself when old_prog_fd is non-zero.
  auto opts = ZeroedOpts<bpf_xdp_attach_opts>();
  opts.old_prog_fd = expected_fd;
  LogCapture capture;
  int err = bpf_xdp_attach(static_cast<int>(ifindex), fd, flags, &opts);
  if (err < 0) {
    ThrowBpf(env, -err, "bpf_xdp_attach", OnIfindex("XDP", ifindex, -err),
             capture.Take());
  }
}

Napi::Value Program::AttachTcx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "program.attachTcx";
  uint32_t ifindex = U32Arg(info, 0, op, "ifindex");
  uint32_t attach_type = U32Arg(info, 1, op, "attachType");
  int fd = Fd(env, op);
  // BPF_TCX_INGRESS (46) / BPF_TCX_EGRESS (47) are newer than libbpf 1.1's
  // headers, so the number is passed through as-is; libbpf 1.1 forwards
  // unknown attach types to BPF_LINK_CREATE unchanged.
  LogCapture capture;
  int link_fd = bpf_link_create(fd, static_cast<int>(ifindex),
                                static_cast<bpf_attach_type>(attach_type),
                                nullptr);
  if (link_fd < 0) {
    ThrowBpf(env, -link_fd, "bpf_link_create",
             OnIfindex(("TCX (attach type " + std::to_string(attach_type) + ")").c_str(),
                       ifindex, -link_fd),
             capture.Take());
  }
  return Link::Create(env, link_fd);
}

}  // namespace xdpnet
