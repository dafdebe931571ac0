// The one place BpfErrors are built, and the capture of libbpf's log.
#pragma once

#include <napi.h>

#include <string>

namespace xdpnet {

// Symbolic name of an errno value ("ENOENT"), including the kernel-internal
// values the bpf syscall can leak to user space (ENOTSUPP = 524).
std::string ErrnoName(int err);

// strerror(err), with a readable text for the kernel-internal codes that
// glibc calls "Unknown error 524".
std::string ErrnoMessage(int err);

// A BpfError instance: new errorClass(message, errno, code, op, log), where
// message is "<op>: <detail>" and detail defaults to ErrnoMessage(err).
Napi::Value MakeBpfError(Napi::Env env, int err, const std::string& op,
                         const std::string& detail = {},
                         const std::string& log = {});

// Throws MakeBpfError(...) as a C++ exception that node-addon-api rethrows
// into JavaScript.
[[noreturn]] void ThrowBpf(Napi::Env env, int err, const std::string& op,
                           const std::string& detail = {},
                           const std::string& log = {});

// Collects libbpf's WARN and INFO messages printed on this thread while the
// capture is alive (libbpf's print callback is process-global, so the buffer
// is thread-local: a load on a worker thread captures only its own log).
// Messages not claimed with Take() (the call succeeded) are echoed to stderr
// if they were warnings, so nothing libbpf warns about is silently lost.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The captured text; after this the capture echoes nothing on destruction.
  std::string Take();

  void Append(bool warning, const std::string& text);

 private:
  std::string text_;
  std::string warnings_;
  bool taken_ = false;
  LogCapture* outer_;
};

// Installs the libbpf print callback (idempotent, process-wide).
void InstallLibbpfPrint();

}  // namespace xdpnet
