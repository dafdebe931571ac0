#include "errors.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "addon.h"

namespace xdpnet {

namespace {

thread_local LogCapture* tls_capture = nullptr;

__attribute__((format(printf, 1, 0)))
std::string VFormat(const char* fmt, va_list ap) {
  va_list measure;
  va_copy(measure, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, measure);
  va_end(measure);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), fmt, ap);
  out.resize(static_cast<size_t>(n));
  return out;
}

// libbpf's print hook. DEBUG is dropped (it is per-relocation chatter); the
// verifier log of a failed load is printed by libbpf 1.1 at WARN level.
__attribute__((format(printf, 2, 0)))
int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  if (tls_capture != nullptr) {
    tls_capture->Append(level == LIBBPF_WARN, VFormat(fmt, ap));
  } else if (level == LIBBPF_WARN) {
    std::vfprintf(stderr, fmt, ap);
  }
  return 0;
}

}  // namespace

std::string ErrnoName(int err) {
  // Kernel-internal codes from include/linux/errno.h that the bpf syscall
  // returns as-is; glibc has no name for them.
  switch (err) {
    case 512: return "ERESTARTSYS";
    case 524: return "ENOTSUPP";
    default: break;
  }
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E" + std::to_string(err);
}

std::string ErrnoMessage(int err) {
  switch (err) {
    case 512: return "Restart system call (kernel ERESTARTSYS)";
    case 524: return "Operation not supported (kernel ENOTSUPP)";
    default: return std::strerror(err);
  }
}

Napi::Value MakeBpfError(Napi::Env env, int err, const std::string& op,
                         const std::string& detail, const std::string& log) {
  std::string message =
      op + ": " + (detail.empty() ? ErrnoMessage(err) : detail);
  std::string code = ErrnoName(err);
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->errorClass.IsEmpty()) {
    return data->errorClass.New({
        Napi::String::New(env, message),
        Napi::Number::New(env, err),
        Napi::String::New(env, code),
        Napi::String::New(env, op),
        Napi::String::New(env, log),
    });
  }
  // setup() was not called: still give the caller every field.
  Napi::Error e = Napi::Error::New(env, message);
  Napi::Object o = e.Value();
  o.Set("errno", err);
  o.Set("code", code);
  o.Set("op", op);
  o.Set("log", log);
  return o;
}

void ThrowBpf(Napi::Env env, int err, const std::string& op,
              const std::string& detail, const std::string& log) {
  throw Napi::Error(env, MakeBpfError(env, err, op, detail, log));
}

LogCapture::LogCapture() : outer_(tls_capture) { tls_capture = this; }

LogCapture::~LogCapture() {
  tls_capture = outer_;
  if (!taken_ && !warnings_.empty()) std::fputs(warnings_.c_str(), stderr);
}

std::string LogCapture::Take() {
  taken_ = true;
  return std::move(text_);
}

void LogCapture::Append(bool warning, const std::string& text) {
  text_ += text;
  if (warning) warnings_ += text;
}

void InstallLibbpfPrint() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(LibbpfPrint); });
}

}  // namespace xdpnet
