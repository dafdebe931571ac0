// Removing a demo instance: everything it may have created, found from the
// system's own state rather than from memory, so the same code serves
// `make demo-clean`, Ctrl-C half-way through, and a new run after one that
// was killed:
//
//   1. the processes it started, by the pid files in the demo directory
//      (SIGTERM, then SIGKILL after a grace period);
//   2. every process still inside one of its namespaces (a server of a
//      traffic step, the daemon's netlink helper), SIGKILL;
//   3. its namespaces (`<prefix>-*`): their veths and bridge go with them;
//   4. its bpffs directory (pinned maps, links and programs of each node);
//   5. its demo directory (configs, sockets, state, logs, pid files).

import { execFileSync } from 'node:child_process';
import { type Dirent, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Instance } from './plan.js';
import { NETNS_DIR, livePid, processStartTime } from './shell.js';

export interface CleanReport {
  processes: number;
  namespaces: string[];
  bpffs: boolean;
  dir: boolean;
}

export const nothingRemoved = (r: CleanReport): boolean => r.processes === 0 && r.namespaces.length === 0 && !r.bpffs && !r.dir;

function exists(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Every pid file under the demo directory (one level of node directories). */
function pidFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isFile() && e.name.endsWith('.pid')) found.push(join(d, e.name));
      else if (e.isDirectory() && depth > 0 && e.name !== 'state') walk(join(d, e.name), depth - 1);
    }
  };
  walk(dir, 1);
  return found;
}

/** The instance's namespaces that exist now. */
export function instanceNamespaces(inst: Instance): string[] {
  try {
    return readdirSync(NETNS_DIR).filter((n) => n.startsWith(`${inst.prefix}-`));
  } catch {
    return [];
  }
}

function namespacePids(ns: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return out
      .split(/\s+/)
      .filter((s) => /^\d+$/.test(s))
      .map(Number);
  } catch {
    return [];
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Removes everything of `inst`; idempotent, best effort, and says what it removed. */
export async function cleanInstance(inst: Instance): Promise<CleanReport> {
  const report: CleanReport = { processes: 0, namespaces: [], bpffs: false, dir: false };

  // 1. The processes we started, politely first: xdpnetd exits cleanly on SIGTERM.
  const started = pidFiles(inst.dir)
    .map((f) => livePid(f))
    .filter((p): p is number => p !== undefined)
    .map((pid) => ({ pid, start: processStartTime(pid) }));
  for (const { pid } of started) kill(pid, 'SIGTERM');
  report.processes += started.length;
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && started.some(({ pid, start }) => processStartTime(pid) === start)) await sleep(50);
  for (const { pid, start } of started) if (processStartTime(pid) === start) kill(pid, 'SIGKILL');

  // 2 and 3. Whatever is left inside the namespaces, then the namespaces.
  for (const ns of instanceNamespaces(inst)) {
    const pids = namespacePids(ns);
    for (const pid of pids) kill(pid, 'SIGKILL');
    report.processes += pids.length;
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* raced with another cleaner: gone is gone */
    }
    report.namespaces.push(ns);
  }

  // 4. Pins: the links there would keep the programs loaded.
  if (exists(inst.bpffsDir)) {
    rmSync(inst.bpffsDir, { recursive: true, force: true });
    report.bpffs = true;
  }

  // 5. The demo directory.
  if (exists(inst.dir)) {
    rmSync(inst.dir, { recursive: true, force: true });
    report.dir = true;
  }
  return report;
}

export function describeReport(r: CleanReport): string {
  const parts: string[] = [];
  if (r.processes) parts.push(`${r.processes} process${r.processes === 1 ? '' : 'es'}`);
  if (r.namespaces.length) parts.push(`${r.namespaces.length} namespace${r.namespaces.length === 1 ? '' : 's'}`);
  if (r.bpffs) parts.push('bpffs pins');
  if (r.dir) parts.push('the demo directory');
  return parts.join(', ');
}
