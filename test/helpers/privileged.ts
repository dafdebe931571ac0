// The one gate for tests that need root, BPF or network namespaces.
//
//   describePrivileged('xdp redirect', ['bpf', 'netns'], () => { ... });
//
// If the needs are met this is a plain `describe`. If not:
// - on CI (CI=true) the suite becomes one failing test saying what is missing,
//   because a privileged test that cannot run on CI is a broken CI setup;
// - elsewhere the suite is skipped and one line `SKIP <suite>: needs ...` goes
//   to stderr.
//
// `decide()` is the pure decision; `gatherFacts()` looks at the machine.

import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

export type Need = 'root' | 'bpf' | 'netns';

/** What the machine offers; everything `decide` looks at. */
export interface Facts {
  uid: number;
  /** /sys/kernel/btf/vmlinux exists */
  btfVmlinux: boolean;
  /** native/build/Release/xdpnet_native.node exists */
  addonBuilt: boolean;
  /** an `ip` (iproute2) executable is on PATH or in /sbin, /usr/sbin */
  ipTool: boolean;
}

export type Decision =
  | { action: 'run' }
  | { action: 'skip'; missing: string[]; message: string }
  | { action: 'fail'; missing: string[]; message: string };

export const ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/xdpnet_native.node', import.meta.url));
const BTF_PATH = '/sys/kernel/btf/vmlinux';

/**
 * Pure: which requirements are missing, and what to do about it.
 * `suite` only feeds the message.
 */
export function decide(
  needs: readonly Need[],
  facts: Facts,
  env: Readonly<Record<string, string | undefined>>,
  suite = 'suite',
): Decision {
  const missing: string[] = [];
  const add = (m: string) => {
    if (!missing.includes(m)) missing.push(m);
  };
  for (const need of needs) {
    // Every need implies root.
    if (facts.uid !== 0) add(`root (running as uid ${facts.uid})`);
    if (need === 'bpf') {
      if (!facts.btfVmlinux) add(`kernel BTF (${BTF_PATH} missing)`);
      if (!facts.addonBuilt) add(`the native addon (${ADDON_PATH} missing; run make build)`);
    }
    if (need === 'netns' && !facts.ipTool) add('iproute2 (`ip` not found)');
  }
  if (missing.length === 0) return { action: 'run' };
  const message = `${suite}: needs ${missing.join(', ')}`;
  return env.CI === 'true' ? { action: 'fail', missing, message } : { action: 'skip', missing, message };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks at this machine and process. */
export function gatherFacts(): Facts {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].filter((d) => d !== '');
  return {
    uid: process.getuid?.() ?? -1,
    btfVmlinux: existsSync(BTF_PATH),
    addonBuilt: existsSync(ADDON_PATH),
    ipTool: dirs.some((d) => isExecutable(join(d, 'ip'))),
  };
}

let cachedFacts: Facts | undefined;
function facts(): Facts {
  return (cachedFacts ??= gatherFacts());
}

/** `describe` that runs only if `needs` are met (see the file comment). */
export function describePrivileged(name: string, needs: readonly Need[], fn: () => void): void {
  const d = decide(needs, facts(), process.env, name);
  if (d.action === 'run') {
    describe(name, fn);
  } else if (d.action === 'fail') {
    describe(name, () => {
      it(name, () => {
        throw new Error(`${d.message}; a privileged suite cannot be skipped on CI`);
      });
    });
  } else {
    process.stderr.write(`SKIP ${d.message}\n`);
    describe.skip(name, fn);
  }
}

/** Single-test version of `describePrivileged`. */
export function itPrivileged(
  name: string,
  needs: readonly Need[],
  fn: () => unknown,
  timeout?: number,
): void {
  const d = decide(needs, facts(), process.env, name);
  if (d.action === 'run') {
    it(name, fn, timeout);
  } else if (d.action === 'fail') {
    it(name, () => {
      throw new Error(`${d.message}; a privileged test cannot be skipped on CI`);
    });
  } else {
    process.stderr.write(`SKIP ${d.message}\n`);
    it.skip(name, fn);
  }
}
