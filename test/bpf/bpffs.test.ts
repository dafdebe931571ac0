// bpffs is mounted where it is missing (as inside `ip netns exec`), and left
// alone where it is already there.
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { ensureBpffs } from '../../src/dataplane/index.js';
import { describePrivileged } from '../helpers/privileged.js';

const BPF_FS_MAGIC = 0xcafe4a11;

describePrivileged('bpffs', ['bpf'], () => {
  it('mounts a bpffs on a directory without one, once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdpnet-bpffs-'));
    const mountPoint = join(dir, 'nested/bpf'); // created on the way
    try {
      expect(ensureBpffs(mountPoint)).toBe(true);
      expect(statfsSync(mountPoint).type).toBe(BPF_FS_MAGIC);
      expect(ensureBpffs(mountPoint)).toBe(false);
    } finally {
      execFileSync('umount', [mountPoint], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
