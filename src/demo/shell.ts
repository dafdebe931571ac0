// Running commands for the demo: always an argv (never a shell), inside a
// namespace or not, and stoppable as a whole on Ctrl-C.
//
// - `run` runs a command to completion; `inNs` wraps an argv to run inside one
//   of the demo's namespaces.
// - `spawnDetached` starts a long-running process (a daemon, a server) that
//   outlives the demo program: its own session and process group, output to a
//   log file, and a pid file recording pid and start time, so `clean` can stop
//   exactly that process later and never a recycled pid.
// - `interrupt()` (from the signal handler) makes every later `run` and
//   `sleep` reject with Interrupted; `settled()` waits for the commands still
//   in flight, so the cleanup that follows sees everything they created.

import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';

export const NETNS_DIR = '/run/netns';

export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor() {
    super('interrupted');
  }
}

/** A command that failed; carries its output. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const how = result.timedOut ? 'timed out' : result.code !== null ? `exited with code ${result.code}` : 'was killed by a signal';
    const out = [result.stdout.trimEnd(), result.stderr.trimEnd()].filter((s) => s !== '').join('\n');
    super(`${argv.join(' ')}: ${how}${out ? `\n${out}` : ''}`);
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  /** Return the result of a non-zero exit instead of throwing. */
  allowFailure?: boolean;
}

let interrupted = false;
const inFlight = new Set<Promise<unknown>>();

export function interrupt(): void {
  interrupted = true;
}

export function isInterrupted(): boolean {
  return interrupted;
}

/** Resolves once no command started by `run` is still running. */
export async function settled(): Promise<void> {
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  if (interrupted) return Promise.reject(new Interrupted());
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty argv'));
  const p = new Promise<RunResult>((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 30_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof err.code === 'string') return reject(new Error(`cannot run ${file}: ${err.code}`));
        const result: RunResult = { code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr, timedOut: err?.killed === true };
        if (interrupted) return reject(new Interrupted());
        if (result.code !== 0 && !opts.allowFailure) return reject(new CommandError(argv, result));
        resolve(result);
      },
    );
  });
  inFlight.add(p);
  const forget = () => inFlight.delete(p);
  p.then(forget, forget);
  return p;
}

/**
 * argv run inside namespace `ns` (a real name) with `ip netns exec`, which
 * also gives the command the namespace's own view of /sys: right for
 * iproute2, sysctl, ethtool and ping. Long-running processes use nsenter (see
 * spawnDetached) because they must keep seeing /sys/fs/bpf.
 */
export const inNs = (ns: string, argv: readonly string[]): string[] => ['ip', 'netns', 'exec', ns, ...argv];

/**
 * argv run inside namespace `ns` with `nsenter --net`: only the network
 * namespace changes, so bpffs at /sys/fs/bpf stays visible (`ip netns exec`
 * remounts /sys and hides it). nsenter execs the command: the pid is the
 * command's own.
 */
export const nsenter = (ns: string, argv: readonly string[]): string[] => ['nsenter', `--net=${NETNS_DIR}/${ns}`, '--', ...argv];

export function sleep(ms: number): Promise<void> {
  if (interrupted) return Promise.reject(new Interrupted());
  return new Promise((resolve, reject) => setTimeout(() => (interrupted ? reject(new Interrupted()) : resolve()), ms));
}

// ---------------------------------------------------------------- detached processes and pid files

interface PidRecord {
  pid: number;
  /** Field 22 of /proc/PID/stat: with the pid, identifies the process even after pid reuse. */
  start: string;
}

/** Start time of a process, or undefined if there is none. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) is parenthesised and may hold spaces: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The pid recorded in `pidFile` if that very process is still alive. */
export function livePid(pidFile: string): number | undefined {
  let rec: Partial<PidRecord>;
  try {
    rec = JSON.parse(readFileSync(pidFile, 'utf8')) as Partial<PidRecord>;
  } catch {
    return undefined;
  }
  if (typeof rec.pid !== 'number' || typeof rec.start !== 'string') return undefined;
  return processStartTime(rec.pid) === rec.start ? rec.pid : undefined;
}

/**
 * Starts argv in its own session (it survives the demo program and a Ctrl-C
 * in the terminal), stdout and stderr appended to `logFile`, and records it
 * in `pidFile`. Returns the pid.
 */
export function spawnDetached(argv: readonly string[], logFile: string, pidFile: string): number {
  if (interrupted) throw new Interrupted();
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty argv');
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd] });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start ${argv.join(' ')}`);
    child.unref();
    const start = processStartTime(pid);
    if (start !== undefined) writeFileSync(pidFile, JSON.stringify({ pid, start } satisfies PidRecord));
    return pid;
  } finally {
    closeSync(fd);
  }
}
