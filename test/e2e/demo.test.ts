// `make demo`'s program end to end (dist/demo/main.js, what the Makefile runs
// after its deps and build phases): the three-node topology with real
// daemons and real traffic, in an instance of its own (`--instance`), so a
// demo a user left running is never touched.
//
// - A run killed with SIGKILL half-way leaves daemons, namespaces and pins
//   behind; the next run removes them first and then works end to end: the
//   key lines (VM to VM across nodes, routed, SNAT, floating IP, the stats
//   table) are there, and all six traffic steps passed.
// - What it leaves running works after it exits (the topology is for the
//   user to explore), and `clean` leaves nothing: no namespace with the
//   instance's prefix, no process in any of its namespaces or from its pid
//   files, no bpffs pins, no demo directory.
// - Ctrl-C (SIGINT) half-way removes everything it created, and exits 130.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { type Instance, instance } from '../../src/demo/plan.js';
import { processStartTime } from '../../src/demo/shell.js';
import { MARKER_DIR } from '../helpers/netns.js';
import { describePrivileged } from '../helpers/privileged.js';

const MAIN = join(REPO_ROOT, 'dist/demo/main.js');

/** A fresh instance name: 'e' + 5 base36 characters. */
const instanceName = (): string => `e${Math.floor(Math.random() * 36 ** 5).toString(36).padStart(5, '0')}`;

// Each instance this test runs is owned by the test process, recorded in
// /run/xdpnet-test/demo-<name>.owner (pid and start time) before the demo
// creates anything; an instance whose owner is dead (a killed test run) is
// removed at the start of the next run, as the topologies of the other
// end-to-end tests are.
const OWNER_RE = /^demo-(e[0-9a-z]{5})\.owner$/;
const ownerFile = (name: string): string => join(MARKER_DIR, `demo-${name}.owner`);

function claim(name: string): void {
  mkdirSync(MARKER_DIR, { recursive: true });
  writeFileSync(ownerFile(name), JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) }));
}

async function sweepStale(): Promise<void> {
  for (const f of existsSync(MARKER_DIR) ? readdirSync(MARKER_DIR) : []) {
    const name = OWNER_RE.exec(f)?.[1];
    if (name === undefined) continue;
    let owner: { pid?: number; start?: string } = {};
    try {
      owner = JSON.parse(readFileSync(join(MARKER_DIR, f), 'utf8')) as typeof owner;
    } catch {
      /* half-written: its owner died writing it */
    }
    if (owner.pid !== undefined && processStartTime(owner.pid) === owner.start) continue;
    await clean(name);
    rmSync(join(MARKER_DIR, f), { force: true });
  }
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The demo program, running; `output` grows as it prints. */
class DemoRun {
  readonly child: ChildProcess;
  output = '';
  stderr = '';
  readonly done: Promise<Result>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.output += s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.done = new Promise((resolve) => this.child.once('close', (code) => resolve({ code, stdout: this.output, stderr: this.stderr })));
  }

  /** Waits until the output matches (fails if the program ends first). */
  async waitFor(pattern: RegExp, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    void this.done.then(() => (ended = true));
    while (!pattern.test(this.output)) {
      if (ended || Date.now() > deadline) throw new Error(`no ${pattern} in the demo's output:\n${this.output}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function demo(...args: string[]): Promise<Result> {
  return new DemoRun(args).done;
}

function clean(name: string): Promise<Result> {
  return new Promise((resolve) =>
    execFile(process.execPath, [MAIN, 'clean', '--instance', name], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

/** The text of traffic step `n` ("== n. …" up to the next section). */
function stepText(out: string, n: number): string {
  const start = out.indexOf(`\n== ${n}. `);
  if (start < 0) throw new Error(`no step ${n} in the demo's output:\n${out}`);
  const end = out.indexOf('\n== ', start + 1);
  return out.slice(start, end < 0 ? undefined : end);
}

const namespacesOf = (inst: Instance): string[] => readdirSync('/run/netns').filter((n) => n.startsWith(`${inst.prefix}-`));

/** The network namespaces (by inode) of the instance's named namespaces. */
const namespaceInodes = (inst: Instance): Set<number> => new Set(namespacesOf(inst).map((n) => statSync(`/run/netns/${n}`).ino));

/** Processes whose network namespace is one of `inodes`. */
function processesIn(inodes: Set<number>): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`));
      if (m && inodes.has(Number(m[1]))) found.push(Number(pid));
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return found;
}

/** The pids recorded in the instance's pid files (daemons and servers), alive or not. */
function recordedPids(inst: Instance): number[] {
  const pids: number[] = [];
  const walk = (dir: string, depth: number) => {
    for (const e of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
      if (e.isFile() && e.name.endsWith('.pid')) pids.push((JSON.parse(readFileSync(join(dir, e.name), 'utf8')) as { pid: number }).pid);
      else if (e.isDirectory() && depth > 0 && e.name !== 'state') walk(join(dir, e.name), depth - 1);
    }
  };
  walk(inst.dir, 1);
  return pids;
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);

/** Nothing of the instance is left: namespaces, processes (by pid file and by namespace), pins, directory. */
function expectNothingLeft(inst: Instance, pids: number[], inodes: Set<number>): void {
  expect(namespacesOf(inst), 'namespaces').toEqual([]);
  expect(pids.filter(alive), 'processes from the pid files').toEqual([]);
  expect(processesIn(inodes), "processes in the demo's namespaces").toEqual([]);
  expect(existsSync(inst.bpffsDir), `bpffs pins (${inst.bpffsDir})`).toBe(false);
  expect(existsSync(inst.dir), `demo directory (${inst.dir})`).toBe(false);
}

describePrivileged('make demo (the demo program, its own instance)', ['bpf', 'netns'], () => {
  const names: string[] = [];
  /** A fresh instance, owned by this process. */
  const newInstance = (): Instance => {
    const name = instanceName();
    claim(name);
    names.push(name);
    return instance(name);
  };
  beforeAll(sweepStale, 120_000);
  afterAll(async () => {
    for (const name of names) {
      await clean(name);
      rmSync(ownerFile(name), { force: true });
    }
  }, 120_000);

  it(
    'after a killed run: cleans up first, runs end to end, stays up, and clean leaves nothing',
    async () => {
      const inst = newInstance();
      const name = inst.name;

      // A run killed (SIGKILL: no chance to clean) once its daemons are up.
      const killed = new DemoRun(['--instance', name]);
      await killed.waitFor(/all three SERVING/);
      killed.child.kill('SIGKILL');
      await killed.done;
      const leftover = recordedPids(inst).filter(alive);
      expect(leftover.length, 'daemons left running by the killed run').toBeGreaterThanOrEqual(3);
      expect(namespacesOf(inst).length).toBeGreaterThan(0);

      const r = await demo('--instance', name);
      // Commands are wrapped shell-style (` \` and an indented next line): read them whole.
      const out = r.stdout.replace(/ \\\n\s+/g, ' ');
      expect(r.code, `${out}\n${r.stderr}`).toBe(0);
      expect(out).toMatch(/removed a previous demo first: \d+ processes, \d+ namespaces, bpffs pins, the demo directory/);
      expect(leftover.filter(alive), 'the killed run\'s daemons').toEqual([]);

      // Programmed with the CLI, the commands shown.
      expect(out).toMatch(/\$ bin\/xdpnet --socket \S+\/compute1\/api\.sock network create/);
      expect(out).toMatch(/--local-interface tap-vm1/);
      expect(out).toMatch(/--remote-vtep 192\.0\.2\.12/);
      expect(out).toMatch(/\$ bin\/xdpnet --socket \S+\/compute2\/api\.sock sync \S+desired-state\.yaml/);

      // VM to VM on one network, across nodes: ping, TCP, encapsulated on the sender's node, decapsulated on the receiver's.
      expect(out).toMatch(/✓ ping 10\.1\.0\.13: 3 of 3 replies/);
      expect(out).toMatch(/✓ TCP: 1 MiB to vm3's echo server and back, intact/);
      expect(out).toMatch(/✓ compute1 FWD_ENCAP \+\d+/);
      expect(out).toMatch(/✓ compute2 FWD_DECAP \+\d+/);
      // ARP answered on the node.
      expect(out).toMatch(/✓ compute1 FWD_ARP_REPLY \+\d+/);
      // Routed, on one node and across nodes.
      expect(out).toMatch(/✓ ping 10\.2\.0\.12: 3 of 3 replies/);
      expect(out).toMatch(/✓ compute1 FWD_ROUTED_LOCAL \+\d+/);
      expect(out).toMatch(/✓ TCP: 1 MiB to vm4's echo server and back, intact/);
      expect(out).toMatch(/✓ compute1 FWD_ROUTED_ENCAP \+\d+/);
      // Every resource ACTIVE on every node (an ERROR would have failed the demo).
      for (const node of ['compute1', 'compute2', 'network']) expect(out).toMatch(new RegExp(`✓ ${node}: converged, all \\d+ resources ACTIVE`));
      // 5. SNAT: vm1's connection reached the internet from the router's external IP.
      const snat = stepText(out, 5);
      expect(snat).toMatch(/^\n== 5\. To the internet through the router \(SNAT\)/);
      expect(snat).toMatch(/✓ the internet host saw the connection come from 203\.0\.113\.10 \(expected 203\.0\.113\.10, /);
      expect(snat).not.toMatch(/✗/);
      // 6. Floating IP: the internet reached vm4 at 203.0.113.20 (seeing the internet host's own address),
      // and vm4's own connection arrived from its floating IP, not the router's SNAT address.
      const fip = stepText(out, 6);
      expect(fip).toMatch(/^\n== 6\. Floating IP: from the internet to a VM, and back out/);
      expect(fip).toMatch(/internet host \(from 198\.51\.100\.80\): HTTP GET http:\/\/203\.0\.113\.20:\d+\//);
      expect(fip).toMatch(/✓ vm4 saw the connection come from 198\.51\.100\.80 \(expected 198\.51\.100\.80, /);
      expect(fip).toMatch(/✓ the internet host saw the connection come from 203\.0\.113\.20 \(expected 203\.0\.113\.20, vm4's floating IP\)/);
      expect(fip).not.toMatch(/✗/);
      // The statistics, where to look next, and no step failed.
      expect(out).toMatch(/\| Reason +\| compute1 \| compute2 \| network \|/);
      expect(out).toMatch(/\| compute1 \| tap-vm1 +\| xdp_port +\|/);
      expect(out).toMatch(/\| compute2 \| vm3 \(tap-vm3\) \|/);
      expect(out).toMatch(/Where to look next/);
      expect(out).toMatch(/✓ 6 of 6 traffic steps passed; /);
      expect(out).not.toMatch(/✗/);

      // It keeps running after the program ended: routed traffic across nodes still flows.
      const ping = await new Promise<string>((resolve) =>
        execFile('ip', ['netns', 'exec', `${inst.prefix}-vm1`, 'ping', '-n', '-c', '2', '-i', '0.2', '-W', '2', '10.2.0.14'], (_e, stdout) => resolve(stdout)),
      );
      expect(ping).toMatch(/2 received/);

      const pids = recordedPids(inst);
      const inodes = namespaceInodes(inst);
      expect(pids.filter(alive).length, 'daemons and the internet web server').toBeGreaterThanOrEqual(4);
      expect(processesIn(inodes).length).toBeGreaterThanOrEqual(4);

      const c = await clean(name);
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout).toMatch(/^demo-clean: removed \d+ processes, 9 namespaces, bpffs pins, the demo directory$/m);
      expectNothingLeft(inst, pids, inodes);

      const again = await clean(name);
      expect(again.stdout).toMatch(/nothing to remove/);
    },
    300_000,
  );

  it(
    'Ctrl-C half-way removes everything it created',
    async () => {
      const inst = newInstance();
      const name = inst.name;
      const run = new DemoRun(['--instance', name]);
      await run.waitFor(/\$ bin\/xdpnet --socket \S+ subnet create/);
      const pids = recordedPids(inst);
      const inodes = namespaceInodes(inst);
      expect(pids.filter(alive).length).toBeGreaterThanOrEqual(3);

      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.code, r.stdout).toBe(130);
      expect(r.stdout).toMatch(/SIGINT: interrupted; removing everything the demo created/);
      expect(r.stdout).toMatch(/removed \d+ processes, 9 namespaces, bpffs pins, the demo directory/);
      expectNothingLeft(inst, pids, inodes);
    },
    180_000,
  );
});
