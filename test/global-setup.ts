// Once per test run: what the run leaves in /sys/fs/bpf that no test pins.
//
// iproute2's BPF loader (`ip link set … xdp obj …`, used by the cluster
// helpers to give VM-side veths an XDP program) creates its pin directories
// /sys/fs/bpf/tc/globals and the links ip and xdp to it, even though it pins
// nothing there; and the tests' own root (BPFFS_TEST_ROOT) stays as
// an empty directory. Whatever of these the run created, and left empty, is
// removed when it ends. Anything holding a pin is left alone: that would be
// a test's leak, for its own cleanup to answer for.
import { existsSync, lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { BPFFS_TEST_ROOT } from './helpers/bpffs-root.js';

const IPROUTE_LINKS = ['/sys/fs/bpf/ip', '/sys/fs/bpf/xdp'];
const IPROUTE_DIRS = ['/sys/fs/bpf/tc/globals', '/sys/fs/bpf/tc'];

const present = (path: string): boolean => {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
};

export default function setup(): () => void {
  const before = new Set([...IPROUTE_LINKS, ...IPROUTE_DIRS, BPFFS_TEST_ROOT].filter(present));
  return () => {
    const removeEmptyDir = (dir: string) => {
      if (before.has(dir) || !existsSync(dir) || readdirSync(dir).length > 0) return;
      rmdirSync(dir);
    };
    removeEmptyDir(IPROUTE_DIRS[0]!);
    removeEmptyDir(IPROUTE_DIRS[1]!);
    // The links point into tc/: once it is gone (or was never there) they lead nowhere.
    for (const link of IPROUTE_LINKS) if (!before.has(link) && present(link) && !existsSync(link)) unlinkSync(link);
    removeEmptyDir(BPFFS_TEST_ROOT);
  };
}
