#include "handle.h"

#include <fcntl.h>

#include <cstring>

namespace xdpnet {

int DupFd(Napi::Env env, int fd, const char* op) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    int err = errno;
    ThrowBpf(env, err, op, std::string("dup: ") + ErrnoMessage(err));
  }
  return copy;
}

FdKind KindOfFd(int fd) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  char target[64];
  ssize_t n = ::readlink(path, target, sizeof(target) - 1);
  if (n < 0) return FdKind::kOther;
  target[n] = '\0';
  // Names given by anon_inode_getfd()/anon_inode_getfile() in
  // kernel/bpf/syscall.c. Links are "bpf_link" when created (bpf_link_prime)
  // but "bpf-link" when reopened from bpffs or by id (bpf_link_new_fd).
  if (std::strcmp(target, "anon_inode:bpf-map") == 0) return FdKind::kMap;
  if (std::strcmp(target, "anon_inode:bpf-prog") == 0) return FdKind::kProgram;
  if (std::strcmp(target, "anon_inode:bpf_link") == 0 ||
      std::strcmp(target, "anon_inode:bpf-link") == 0) {
    return FdKind::kLink;
  }
  return FdKind::kOther;
}

}  // namespace xdpnet
