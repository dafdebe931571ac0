// bpffs: where pinned maps, programs and links live.

import { mkdirSync } from 'node:fs';
import { native } from './native.js';

/** Default root for xdpnet's pins. */
export const DEFAULT_BPFFS_ROOT = '/sys/fs/bpf';

/**
 * Makes sure a bpffs is mounted at `mountPoint` (creating the directory),
 * mounting one when missing: it is missing on hosts that do not mount it at
 * boot, and inside `ip netns exec`, which remounts /sys. Returns true if it
 * mounted one.
 */
export function ensureBpffs(mountPoint: string = DEFAULT_BPFFS_ROOT): boolean {
  mkdirSync(mountPoint, { recursive: true });
  return native().ensureBpffs(mountPoint);
}
