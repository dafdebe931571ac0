// Network-namespace topologies for end-to-end tests.
//
//   const topo = useTopology();                 // created in beforeAll, destroyed in afterAll
//   it('pings', async () => {
//     await topo().addNamespace('a');
//     await topo().addNamespace('b');
//     await topo().addVeth({ a: { ns: 'a', name: 'eth0', ip: '10.0.0.1/24' },
//                            b: { ns: 'b', name: 'eth0', ip: '10.0.0.2/24' } });
//     expect(await topo().ping('a', '10.0.0.2')).toBe(1);
//   });
//
// Naming and cleanup rules:
// - Every topology has a unique prefix `xt` + 6 base36 chars. Namespaces are
//   `<prefix>-<name>`; interfaces in the root namespace are `<prefix>-<name>`
//   with name ≤ 6 chars (IFNAMSIZ). Interfaces inside a test namespace keep their
//   plain name ('eth0'): each namespace has its own name space.
// - The owner is recorded in /run/xdpnet-test/<prefix>.pid (pid + process start
//   time, so a recycled pid does not count as alive). The marker is written
//   before anything else is created and removed after everything else is gone.
// - `sweepStale()` (run by every `Topology.create()`) removes everything whose
//   owner is dead: namespaces (after killing processes left inside), root-side
//   links, /sys/fs/bpf/xdpnet-test/<prefix>/ and the marker.
// - `destroy()` is idempotent; an exit/SIGINT/SIGTERM hook destroys leftovers
//   synchronously as a last resort.
//
// Commands always run through execFile/spawn with an argv array, never a shell.

import { execFile, execFileSync, spawn as spawnChild } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { BPFFS_TEST_ROOT } from './bpffs-root.js';

export const NETNS_DIR = '/run/netns';
export const MARKER_DIR = '/run/xdpnet-test';
export { BPFFS_TEST_ROOT };

/** A topology prefix: `xt` + 6 base36 chars. */
export const PREFIX_RE = /^xt[0-9a-z]{6}$/;
/** A namespace or root-namespace link created by a topology: `<prefix>-<name>`. */
export const OWNED_NAME_RE = /^(xt[0-9a-z]{6})-[A-Za-z0-9_-]{1,32}$/;
/** Short names given by tests (namespaces and root-side links). */
const SHORT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const IFNAME_MAX = 15;
const IP_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------
// Running commands

export interface ExecResult {
  /** Exit code, or null if killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ExecOptions {
  /** Kill (SIGKILL) after this long. Default 30 s. */
  timeoutMs?: number;
  /** Return the result instead of throwing on a non-zero exit or timeout. */
  allowFailure?: boolean;
}

/** A command that exited non-zero (or timed out); carries its output. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    const how = result.timedOut
      ? 'timed out'
      : result.code !== null
        ? `exited with code ${result.code}`
        : `was killed by ${result.signal ?? 'a signal'}`;
    super(
      `command ${JSON.stringify(argv)} ${how}` +
        (result.stdout ? `\n--- stdout\n${result.stdout.trimEnd()}` : '') +
        (result.stderr ? `\n--- stderr\n${result.stderr.trimEnd()}` : ''),
    );
  }
}

/** Runs argv (no shell). Rejects only if the program cannot be started at all. */
function runArgv(argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty argv'));
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ code: 0, signal: null, stdout, stderr, timedOut: false });
          return;
        }
        if (typeof err.code === 'string') {
          // spawn failed (ENOENT, EACCES): there is no result to report
          reject(new Error(`cannot run ${JSON.stringify(argv)}: ${err.code}`));
          return;
        }
        resolve({
          code: typeof err.code === 'number' ? err.code : null,
          signal: (err.signal ?? null) as NodeJS.Signals | null,
          stdout,
          stderr,
          timedOut: err.killed === true,
        });
      },
    );
  });
}

async function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const result = await runArgv(argv, opts.timeoutMs ?? 30_000);
  if ((result.code !== 0 || result.timedOut) && !opts.allowFailure) throw new CommandError(argv, result);
  return result;
}

/** `ip ARGS`, throwing on failure. */
function ip(...args: string[]): Promise<ExecResult> {
  return run(['ip', ...args], { timeoutMs: IP_TIMEOUT_MS });
}

/** `ip ARGS`, treating "already gone" (per `gone`) as success. */
async function ipIgnoringGone(args: string[], gone: RegExp): Promise<void> {
  const r = await run(['ip', ...args], { timeoutMs: IP_TIMEOUT_MS, allowFailure: true });
  if (r.code !== 0 && !gone.test(r.stderr)) throw new CommandError(['ip', ...args], r);
}

const NS_GONE = /No such file or directory/;
const LINK_GONE = /Cannot find device|does not exist/;

function ipSync(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: IP_TIMEOUT_MS });
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------
// Owner markers and the stale sweep

function markerPath(prefix: string): string {
  return `${MARKER_DIR}/${prefix}.pid`;
}

function bpffsDirOf(prefix: string): string {
  return `${BPFFS_TEST_ROOT}/${prefix}`;
}

/** Start time of a process (field 22 of /proc/PID/stat), or undefined if there is no such process. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is parenthesised and may contain spaces or ')': split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // rest[0] is field 3
  } catch {
    return undefined;
  }
}

interface Marker {
  pid: number;
  start: string;
}

/**
 * Records `pid` as the owner of `prefix`. Atomic and exclusive: the content is
 * written to a private temp file first, then hard-linked to the final name
 * (link(2) fails with EEXIST if the name is taken), so a reader never sees a
 * half-written marker. Exported for tests that simulate a dead owner.
 */
export function writeOwnerMarker(prefix: string, pid: number = process.pid): void {
  if (!PREFIX_RE.test(prefix)) throw new Error(`bad topology prefix ${JSON.stringify(prefix)}`);
  const start = processStartTime(pid);
  if (start === undefined) throw new Error(`no process ${pid}`);
  mkdirSync(MARKER_DIR, { recursive: true });
  const tmp = `${MARKER_DIR}/.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, JSON.stringify({ pid, start } satisfies Marker));
  try {
    linkSync(tmp, markerPath(prefix));
  } finally {
    unlinkSync(tmp);
  }
}

/** True if the marker of `prefix` names a live process (same pid *and* start time). */
export function ownerAlive(prefix: string): boolean {
  let marker: Partial<Marker>;
  try {
    marker = JSON.parse(readFileSync(markerPath(prefix), 'utf8')) as Partial<Marker>;
  } catch {
    return false; // no marker (or a corrupt one): nobody owns this prefix
  }
  if (typeof marker.pid !== 'number' || typeof marker.start !== 'string') return false;
  return processStartTime(marker.pid) === marker.start;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function rootLinkNames(): Promise<string[]> {
  const r = await run(['ip', '-j', 'link', 'show'], { timeoutMs: IP_TIMEOUT_MS });
  const links = JSON.parse(r.stdout || '[]') as Array<{ ifname?: string }>;
  return links.map((l) => l.ifname ?? '');
}

/** Kills (SIGKILL) every process still inside a namespace. */
async function killNamespacePids(ns: string): Promise<void> {
  const r = await run(['ip', 'netns', 'pids', ns], { timeoutMs: IP_TIMEOUT_MS, allowFailure: true });
  for (const pid of r.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export interface SweepReport {
  prefixes: string[];
  namespaces: string[];
  links: string[];
}

/**
 * Removes everything left behind by topologies whose owner process is dead:
 * namespaces named `xt??????-*` (after killing processes inside them),
 * root-namespace links with such names, /sys/fs/bpf/xdpnet-test/<prefix>/ and
 * the marker. Best effort and safe to run concurrently from several processes.
 */
export async function sweepStale(): Promise<SweepReport> {
  const report: SweepReport = { prefixes: [], namespaces: [], links: [] };
  const namespaces = listDir(NETNS_DIR).filter((n) => OWNED_NAME_RE.test(n));
  const links = (await rootLinkNames()).filter((n) => OWNED_NAME_RE.test(n));
  const prefixes = new Set<string>();
  for (const name of [...namespaces, ...links]) prefixes.add(name.slice(0, 8));
  for (const f of listDir(MARKER_DIR)) if (f.endsWith('.pid') && PREFIX_RE.test(f.slice(0, -4))) prefixes.add(f.slice(0, -4));
  for (const d of listDir(BPFFS_TEST_ROOT)) if (PREFIX_RE.test(d)) prefixes.add(d);

  // Temp files of writeOwnerMarker() whose writer died between write and link.
  for (const f of listDir(MARKER_DIR)) {
    const pid = /^\.tmp-(\d+)-/.exec(f)?.[1];
    if (pid !== undefined && processStartTime(Number(pid)) === undefined) rmSync(`${MARKER_DIR}/${f}`, { force: true });
  }
  for (const prefix of prefixes) {
    if (ownerAlive(prefix)) continue;
    report.prefixes.push(prefix);
    for (const link of links.filter((l) => l.startsWith(`${prefix}-`))) {
      try {
        await ipIgnoringGone(['link', 'del', link], LINK_GONE);
        report.links.push(link);
      } catch {
        /* best effort */
      }
    }
    for (const ns of namespaces.filter((n) => n.startsWith(`${prefix}-`))) {
      try {
        await killNamespacePids(ns);
        await ipIgnoringGone(['netns', 'del', ns], NS_GONE);
        report.namespaces.push(ns);
      } catch {
        /* best effort */
      }
    }
    try {
      rmSync(bpffsDirOf(prefix), { recursive: true, force: true });
      rmSync(markerPath(prefix), { force: true });
    } catch {
      /* best effort */
    }
  }
  return report;
}

// ---------------------------------------------------------------------------
// Spawned (long-running) processes

export interface SpawnOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** A long-running process started by `Topology.spawn`. Output is buffered. */
export class SpawnedProcess {
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private out = '';
  private err = '';
  private done = false;
  private readonly listeners = new Set<() => void>();
  private static readonly MAX_BUFFER = 8 * 1024 * 1024;

  constructor(
    readonly argv: readonly string[],
    private readonly child: ChildProcess,
  ) {
    this.pid = child.pid ?? -1;
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      this.out = (this.out + s).slice(-SpawnedProcess.MAX_BUFFER);
      this.notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.err = (this.err + s).slice(-SpawnedProcess.MAX_BUFFER);
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.once('error', (e) => {
        this.err += `\n[spawn error] ${e.message}`;
        this.done = true;
        this.notify();
        resolve({ code: null, signal: null });
      });
      child.once('close', (code, signal) => {
        this.done = true;
        this.notify();
        resolve({ code, signal });
      });
    });
  }

  get stdout(): string {
    return this.out;
  }
  get stderr(): string {
    return this.err;
  }
  get running(): boolean {
    return !this.done;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /**
   * Waits until stdout or stderr matches `pattern` (e.g. tcpdump's
   * /listening on/). Rejects on timeout or if the process exits first.
   */
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.out.match(pattern) ?? this.err.match(pattern);
        if (m) return finish(() => resolve(m));
        if (this.done) return finish(() => reject(this.failure(`exited before printing ${pattern}`)));
      };
      const timer = setTimeout(() => finish(() => reject(this.failure(`no ${pattern} within ${timeoutMs} ms`))), timeoutMs);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        f();
      };
      this.listeners.add(check);
      check();
    });
  }

  private failure(why: string): Error {
    return new Error(
      `${JSON.stringify(this.argv)}: ${why}\n--- stdout\n${this.out.slice(-4000)}\n--- stderr\n${this.err.slice(-4000)}`,
    );
  }

  /** Sends `signal` to the process group (the process and anything it forked). */
  signal(signal: NodeJS.Signals): void {
    if (this.done || this.pid <= 0) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      /* already gone */
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.done) return;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.signal('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
  }

  /** For the synchronous exit hook. */
  killSync(): void {
    this.signal('SIGKILL');
  }
}

// ---------------------------------------------------------------------------
// Topology

export interface VethEnd {
  /** Short namespace name given to `addNamespace`; omitted = root namespace. */
  ns?: string;
  /**
   * Interface name. Inside a test namespace it is used as is ('eth0'); in the
   * root namespace it becomes `<prefix>-<name>` and must be ≤ 6 chars.
   */
  name: string;
  /** IPv4 address(es) in CIDR form, e.g. '10.0.0.1/24'. */
  ip?: string | string[];
  mac?: string;
  /** Bring the interface up (default true). */
  up?: boolean;
}

export interface VethSpec {
  a: VethEnd;
  b: VethEnd;
  mtu?: number;
}

export interface CreatedEnd {
  /** Real namespace name, or null for the root namespace. */
  ns: string | null;
  /** Real interface name. */
  name: string;
}

export interface NamespaceOptions {
  /** Turn IPv6 off in the namespace (no router solicitations / DAD / MLD noise in captures). */
  disableIpv6?: boolean;
}

const live = new Set<Topology>();
let hooksInstalled = false;

function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', destroyAllSync);
  const onSignal = (sig: NodeJS.Signals) => {
    destroyAllSync();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.kill(process.pid, sig); // re-raise: default action or other listeners
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function destroyAllSync(): void {
  for (const t of [...live]) t.destroySync();
}

function newPrefix(): string {
  // 6 base36 chars from 31 random bits (36^6 > 2^31).
  return `xt${(randomBytes(4).readUInt32BE(0) >>> 1).toString(36).padStart(6, '0').slice(-6)}`;
}

export class Topology {
  readonly prefix: string;
  /** bpffs directory for this topology's pins; removed on destroy and by the stale sweep. */
  readonly bpffsDir: string;
  private readonly namespaces = new Map<string, string>(); // short -> real
  private readonly rootLinks = new Set<string>();
  private readonly children = new Set<SpawnedProcess>();
  private destroying: Promise<void> | undefined;

  private constructor(prefix: string) {
    this.prefix = prefix;
    this.bpffsDir = bpffsDirOf(prefix);
  }

  /** Sweeps stale leftovers (unless `sweep: false`), then claims a fresh prefix. */
  static async create(opts: { sweep?: boolean } = {}): Promise<Topology> {
    if (opts.sweep !== false) await sweepStale().catch(() => undefined); // best effort
    for (let attempt = 0; ; attempt++) {
      const prefix = newPrefix();
      try {
        writeOwnerMarker(prefix);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 10) continue;
        throw e;
      }
      const topo = new Topology(prefix);
      live.add(topo);
      installProcessHooks();
      return topo;
    }
  }

  get destroyed(): boolean {
    return this.destroying !== undefined;
  }

  private assertLive(): void {
    if (this.destroying) throw new Error(`topology ${this.prefix} has been destroyed`);
  }

  /** Real name of a namespace added with `addNamespace(short)`. */
  nsName(short: string): string {
    const real = this.namespaces.get(short);
    if (real !== undefined) return real;
    if ([...this.namespaces.values()].includes(short)) return short; // already a real name
    throw new Error(`topology ${this.prefix} has no namespace ${JSON.stringify(short)}`);
  }

  /** Real name of a root-namespace interface: `<prefix>-<short>` (≤ 15 chars). */
  rootLinkName(short: string): string {
    const name = `${this.prefix}-${short}`;
    if (!SHORT_NAME_RE.test(short) || name.length > IFNAME_MAX)
      throw new Error(`root-side interface name ${JSON.stringify(short)} must be 1-${IFNAME_MAX - this.prefix.length - 1} chars of [A-Za-z0-9_-]`);
    return name;
  }

  /**
   * Like `rootLinkName`, and records the name so that `destroy()` deletes the
   * link: for root-namespace links created by other means (e.g. by the code
   * under test).
   */
  claimRootLink(short: string): string {
    this.assertLive();
    const name = this.rootLinkName(short);
    this.rootLinks.add(name);
    return name;
  }

  /** Creates namespace `<prefix>-<short>` with `lo` up; returns its real name. */
  async addNamespace(short: string, opts: NamespaceOptions = {}): Promise<string> {
    this.assertLive();
    if (!SHORT_NAME_RE.test(short) || short.length > 24) throw new Error(`bad namespace name ${JSON.stringify(short)}`);
    if (this.namespaces.has(short)) throw new Error(`namespace ${JSON.stringify(short)} already exists`);
    const real = `${this.prefix}-${short}`;
    this.namespaces.set(short, real); // recorded first: destroy() removes it even if setup fails half-way
    await ip('netns', 'add', real);
    await ip('-n', real, 'link', 'set', 'lo', 'up');
    if (opts.disableIpv6) {
      await this.exec(short, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    return real;
  }

  /** Creates a veth pair between two namespaces (or a namespace and the root namespace). */
  async addVeth(spec: VethSpec): Promise<{ a: CreatedEnd; b: CreatedEnd }> {
    this.assertLive();
    const resolve = (end: VethEnd): CreatedEnd => {
      if (end.ns === undefined) return { ns: null, name: this.rootLinkName(end.name) };
      if (!end.name || end.name.length > IFNAME_MAX) throw new Error(`bad interface name ${JSON.stringify(end.name)}`);
      return { ns: this.nsName(end.ns), name: end.name };
    };
    const a = resolve(spec.a);
    const b = resolve(spec.b);
    const endArgs = (end: CreatedEnd, def: VethEnd) => [
      ...(end.ns ? ['netns', end.ns] : []),
      ...(spec.mtu !== undefined ? ['mtu', String(spec.mtu)] : []),
      ...(def.mac !== undefined ? ['address', def.mac] : []),
    ];
    // Root-side names are recorded before creation so that destroy() removes them whatever happens next.
    for (const end of [a, b]) if (end.ns === null) this.rootLinks.add(end.name);
    // Each end is created directly in its namespace (IFLA_NET_NS_FD), so plain names never clash in the root namespace.
    await ip('link', 'add', a.name, ...endArgs(a, spec.a), 'type', 'veth', 'peer', 'name', b.name, ...endArgs(b, spec.b));
    for (const [end, def] of [
      [a, spec.a],
      [b, spec.b],
    ] as const) {
      const nsArgs = end.ns ? ['-n', end.ns] : [];
      const ips = def.ip === undefined ? [] : Array.isArray(def.ip) ? def.ip : [def.ip];
      for (const cidr of ips) await ip(...nsArgs, 'addr', 'add', cidr, 'dev', end.name);
      if (def.up !== false) await ip(...nsArgs, 'link', 'set', end.name, 'up');
    }
    return { a, b };
  }

  /**
   * Runs a command to completion inside namespace `ns` (short or real name;
   * null = root namespace) via `ip netns exec`. Throws CommandError with the
   * output on a non-zero exit or timeout unless `allowFailure`.
   */
  async exec(ns: string | null, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.assertLive();
    if (argv.length === 0) throw new Error('empty argv');
    const full = ns === null ? [...argv] : ['ip', 'netns', 'exec', this.nsName(ns), ...argv];
    return run(full, opts);
  }

  /**
   * Starts a long-running process (daemon, tcpdump) inside `ns`; it is stopped
   * by `destroy()`.
   *
   * Uses `nsenter --net=/run/netns/NAME` rather than `ip netns exec`: the latter
   * also unshares the mount namespace and remounts /sys for the target
   * namespace, which hides /sys/fs/bpf and so every bpffs pin; `nsenter --net`
   * changes the network namespace only. (nsenter execs the command, so the
   * pid is the command's.) The process gets its own process group so that
   * stopping it also stops anything it forked.
   */
  spawn(ns: string | null, argv: readonly string[], opts: SpawnOptions = {}): SpawnedProcess {
    this.assertLive();
    if (argv.length === 0) throw new Error('empty argv');
    const full = ns === null ? [...argv] : ['nsenter', `--net=${NETNS_DIR}/${this.nsName(ns)}`, '--', ...argv];
    const [file, ...args] = full as [string, ...string[]];
    const child = spawnChild(file, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    const proc = new SpawnedProcess(full, child);
    this.children.add(proc);
    void proc.exited.then(() => this.children.delete(proc));
    return proc;
  }

  /** Pings `target` from namespace `ns`; returns the number of replies received. */
  async ping(ns: string | null, target: string, opts: { count?: number; timeoutMs?: number } = {}): Promise<number> {
    if (!isIPv4(target)) throw new Error(`ping: ${JSON.stringify(target)} is not an IPv4 address`);
    const count = opts.count ?? 1;
    const deadlineS = Math.max(1, Math.ceil((opts.timeoutMs ?? 5_000) / 1000));
    const argv = ['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', '-w', String(deadlineS), target];
    const r = await this.exec(ns, argv, { allowFailure: true, timeoutMs: deadlineS * 1000 + 5_000 });
    const received = /(\d+) (?:packets )?received/.exec(r.stdout)?.[1];
    if (received === undefined) throw new CommandError(argv, r); // ping itself failed (missing binary, bad args)
    return Number(received);
  }

  /**
   * Stops spawned processes, kills anything left in the namespaces, deletes
   * root-side links and namespaces (which takes their veths along), the bpffs
   * directory and the owner marker. Idempotent; concurrent calls share one run.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    await Promise.all([...this.children].map((c) => attempt(() => c.stop())));
    for (const link of this.rootLinks) await attempt(() => ipIgnoringGone(['link', 'del', link], LINK_GONE));
    for (const ns of this.namespaces.values()) {
      await attempt(() => killNamespacePids(ns));
      await attempt(() => ipIgnoringGone(['netns', 'del', ns], NS_GONE));
    }
    await attempt(async () => rmSync(this.bpffsDir, { recursive: true, force: true }));
    if (errors.length === 0) {
      rmSync(markerPath(this.prefix), { force: true });
      live.delete(this);
      return;
    }
    // Keep the marker (and the exit hook) so a later sweep or the exit hook retries.
    throw new AggregateError(errors, `destroying topology ${this.prefix} failed`);
  }

  /** Last-resort synchronous cleanup for process exit hooks. */
  destroySync(): void {
    for (const c of this.children) c.killSync();
    for (const link of this.rootLinks) ipSync(['link', 'del', link]);
    for (const ns of this.namespaces.values()) {
      for (const pid of ipSync(['netns', 'pids', ns]).split(/\s+/).filter((s) => /^\d+$/.test(s))) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      ipSync(['netns', 'del', ns]);
    }
    rmSync(this.bpffsDir, { recursive: true, force: true });
    rmSync(markerPath(this.prefix), { force: true });
    this.destroying ??= Promise.resolve();
    live.delete(this);
  }
}

// ---------------------------------------------------------------------------
// vitest integration

export interface UseTopologyOptions {
  /** 'all' (default): one topology per describe block; 'each': a fresh one per test. */
  scope?: 'all' | 'each';
  /** Builds the topology (namespaces, veths); it is destroyed if this throws. */
  setup?: (topo: Topology) => Promise<void> | void;
  /** Hook timeout (default 60 s). */
  timeoutMs?: number;
}

/**
 * Creates a topology before the tests of the enclosing describe block (or
 * before each test) and destroys it afterwards, pass or fail. Returns a getter.
 */
export function useTopology(opts: UseTopologyOptions = {}): () => Topology {
  let current: Topology | undefined;
  const timeout = opts.timeoutMs ?? 60_000;
  const up = async () => {
    const topo = await Topology.create();
    current = topo;
    try {
      await opts.setup?.(topo);
    } catch (e) {
      current = undefined;
      await topo.destroy().catch(() => undefined);
      throw e;
    }
  };
  const down = async () => {
    const topo = current;
    current = undefined;
    await topo?.destroy();
  };
  if (opts.scope === 'each') {
    beforeEach(up, timeout);
    afterEach(down, timeout);
  } else {
    beforeAll(up, timeout);
    afterAll(down, timeout);
  }
  return () => {
    if (!current) throw new Error('useTopology(): no topology (called outside a test, or setup failed)');
    return current;
  };
}

/** Whether a namespace currently exists (by real name). */
export function namespaceExists(name: string): boolean {
  return existsSync(`${NETNS_DIR}/${name}`);
}
