// The README (and docs/*.md) cannot go stale: every shell command in them is
// run, or traced to the test that runs it, and every table that describes the
// code is checked against the code.
//
// 1. Every fenced block names its language. `sh` blocks hold commands (one per
//    line; a trailing `\` continues it; `#` starts a comment). `yaml` blocks
//    start with a comment naming their file: `# /etc/xdpnet/xdpnetd.yaml …` is
//    a daemon configuration (validated against the schema, and written to the
//    test's copy of that path when the run reaches it), `# desired-state.yaml`
//    an `xdpnet sync` file (read by the CLI's own reader). `text` and `ts`
//    blocks are not run.
// 2. Every command matches exactly one entry of RULES below, which either
//    - runs it: in document order, through bash, inside a network namespace
//      standing for the README's all-in-one node (underlay eth1 192.0.2.11,
//      external NIC eth2, a VM's tap0; another node's VTEP 192.0.2.12 and the
//      external gateway 203.0.113.1 behind them), against a real xdpnetd with
//      the BPF dataplane started from the README's own configuration file;
//      only paths are redirected (/etc/xdpnet/ to the test's directory; the
//      daemon's socket, state and bpffs root to the test's), and the
//      conntrack table is made small. Each entry checks the exit status and
//      the output; or
//    - maps it, when it cannot run inside the test suite (`make test` is the
//      suite, `systemctl` needs systemd as PID 1, …), to the file that runs it,
//      and checks that the file exists and contains what runs it (and, for a
//      make target, that the Makefile's recipe runs that).
//    A command that matches no entry fails the test: add one.
// 3. The README's tables are checked against the code: the configuration
//    keys (types by probing the zod schema with valid and invalid values,
//    defaults by parsing the README's value through the schema), the CLI's
//    command tree, the RPCs of service.proto, the metrics the daemon serves,
//    and the reason codes, generated from reasons.proto.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { packageDefinition, SERVICE_NAME } from '../../src/api/proto.js';
import { buildProgram } from '../../src/cli/program.js';
import type { Io } from '../../src/cli/session.js';
import { readSyncFile } from '../../src/cli/sync-file.js';
import { type Config, configSchema, parseConfig } from '../../src/daemon/config.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { type Api, api, eventually, listAll } from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';
import { NETNS_DIR, type Topology, useTopology } from '../helpers/netns.js';
import { describePrivileged } from '../helpers/privileged.js';

const THIS_FILE = 'test/e2e/readme-commands.test.ts';

// ---------------------------------------------------------------- the documents

const DOCUMENTS = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const text = (doc: string): string => readFileSync(join(REPO_ROOT, doc), 'utf8');

interface Block {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  body: string;
}

function fencedBlocks(doc: string): Block[] {
  const lines = text(doc).split('\n');
  const blocks: Block[] = [];
  let open: { line: number; lang: string; body: string[] } | undefined;
  lines.forEach((l, i) => {
    const fence = /^\s*```(.*)$/.exec(l);
    if (!fence) {
      open?.body.push(l);
      return;
    }
    if (open) {
      blocks.push({ doc, line: open.line, lang: open.lang, body: open.body.join('\n') });
      open = undefined;
    } else {
      open = { line: i + 1, lang: fence[1]!.trim(), body: [] };
    }
  });
  if (open) throw new Error(`${doc}:${open.line}: a fenced block is never closed`);
  return blocks;
}

const BLOCKS = DOCUMENTS.flatMap(fencedBlocks);
const SHELL_LANGS = new Set(['sh']);
const OTHER_LANGS = new Set(['yaml', 'text', 'ts']);

/** `line` without its comment: a `#` at the start or after a blank, outside quotes. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}

interface Command {
  doc: string;
  line: number;
  /** As written, continuation lines joined with single spaces. */
  text: string;
}

function commandsOf(block: Block): Command[] {
  const commands: Command[] = [];
  const lines = block.body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let joined = stripComment(lines[i]!);
    while (/\\\s*$/.test(joined) && i + 1 < lines.length) {
      joined = joined.replace(/\\\s*$/, ' ') + stripComment(lines[++i]!);
    }
    const t = joined.replace(/\s+/g, ' ').trim();
    if (t) commands.push({ doc: block.doc, line: block.line + 1 + start, text: t });
  }
  return commands;
}

const COMMANDS = BLOCKS.filter((b) => SHELL_LANGS.has(b.lang)).flatMap(commandsOf);
const where = (c: { doc: string; line: number }): string => `${c.doc}:${c.line}`;

/**
 * The first line of a yaml block: the file it is. `# /etc/xdpnet/xdpnetd.yaml`
 * alone is the file the reader writes (the run writes it there); with more
 * words after it (`… on a compute node`) it is an example of that file, only
 * validated.
 */
type YamlKind = { kind: 'config'; path: string; write: boolean } | { kind: 'sync'; path: string; write: true };
function yamlKind(block: Block): YamlKind | undefined {
  const first = block.body.split('\n')[0] ?? '';
  const config = /^# (\/etc\/xdpnet\/xdpnetd\.yaml)(\s.*)?$/.exec(first);
  if (config) return { kind: 'config', path: config[1]!, write: config[2] === undefined };
  const sync = /^# (desired-state\.yaml)$/.exec(first);
  if (sync) return { kind: 'sync', path: sync[1]!, write: true };
  return undefined;
}

// ---------------------------------------------------------------- running commands

const SERVICE_UNIT = join(REPO_ROOT, 'packaging/xdpnetd.service');
const EXECSTART = '/usr/local/bin/xdpnetd --config /etc/xdpnet/xdpnetd.yaml';
/** What the daemon's configuration gets besides its paths: a small conntrack table (the default preallocates ~270 MB). */
const TEST_CONNTRACK_MAX = 4096;

interface RunContext {
  topo: Topology;
  /** The test's directory: cwd of the commands, home of the redirected paths. */
  work: string;
  /** Shell variables the README assigned so far. */
  vars: Record<string, string>;
  daemon?: TestDaemon;
  a?: Api;
  /** The configuration the daemon was started from (the README's file, before the test's paths). */
  config?: Config;
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** README paths → the test's. */
const redirect = (ctx: RunContext, s: string): string => s.replaceAll('/etc/xdpnet/', `${ctx.work}/etc/xdpnet/`);
/** $NAME and ${NAME} from the README's own assignments (for the assertions; bash expands them for the run). */
const expand = (ctx: RunContext, s: string): string =>
  s.replace(/\$\{?([A-Z][A-Z0-9_]*)\}?/g, (m, name: string) => ctx.vars[name] ?? m);

const socketOf = (ctx: RunContext): string => join(ctx.work, 'daemon', 'xdpnetd.sock');

function environment(ctx: RunContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...ctx.vars };
  env['PATH'] = `${join(ctx.work, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
  env['XDPNET_SOCKET'] = socketOf(ctx);
  env['NO_COLOR'] = '1';
  return env;
}

/** The README's node: commands run in its network namespace (nsenter --net: bpffs stays visible). */
const inNode = (ctx: RunContext, argv: string[]): string[] => ['nsenter', `--net=${NETNS_DIR}/${ctx.topo.nsName('node')}`, '--', ...argv];

/** Runs one README command as an operator would type it; never rejects. */
function sh(ctx: RunContext, command: string, opts: { cwd?: string; inNode?: boolean } = {}): Promise<Result> {
  const argv = ['bash', '-o', 'pipefail', '-c', redirect(ctx, command)];
  const [file, ...args] = opts.inNode === false ? argv : inNode(ctx, argv);
  return new Promise((resolve) => {
    execFile(file!, args, { cwd: opts.cwd ?? ctx.work, env: environment(ctx), timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function ok(ctx: RunContext, command: string, opts: { cwd?: string; inNode?: boolean } = {}): Promise<string> {
  const r = await sh(ctx, command, opts);
  expect(r.stderr, `${command}: stderr`).toBe('');
  expect(r.code, `${command}: exit status (stdout: ${r.stdout})`).toBe(0);
  return r.stdout;
}

/** A Field/Value table (`show`) as a map. */
function fields(table: string): Map<string, string> {
  const m = new Map<string, string>();
  let last = '';
  for (const line of table.split('\n')) {
    const cells = /^\| (.*?) +\| (.*?) *\|$/.exec(line);
    if (!cells) continue;
    const [key, value] = [cells[1]!.trim(), cells[2]!];
    if (key === 'Field') continue;
    if (key === '') m.set(last, `${m.get(last)}\n${value}`);
    else m.set((last = key), value);
  }
  return m;
}

const API = (ctx: RunContext): Api => {
  if (!ctx.a) throw new Error('no daemon yet: the README starts it with `systemctl enable --now xdpnetd` before using the CLI');
  return ctx.a;
};

interface Everything {
  networks: pb.Network__Output[];
  subnets: pb.Subnet__Output[];
  ports: pb.Port__Output[];
  routers: pb.Router__Output[];
  floatingIps: pb.FloatingIp__Output[];
}

async function everything(a: Api): Promise<Everything> {
  const [networks, subnets, ports, routers, floatingIps] = await Promise.all([
    listAll<pb.Network__Output>(a.listNetworks, 'networks'),
    listAll<pb.Subnet__Output>(a.listSubnets, 'subnets'),
    listAll<pb.Port__Output>(a.listPorts, 'ports'),
    listAll<pb.Router__Output>(a.listRouters, 'routers'),
    listAll<pb.FloatingIp__Output>(a.listFloatingIps, 'floatingIps'),
  ]);
  return { networks, subnets, ports, routers, floatingIps };
}

const all = (e: Everything): { id: string; name?: string; status: pb.ResourceStatus__Output | null; revision: string }[] => [
  ...e.networks,
  ...e.subnets,
  ...e.ports,
  ...e.routers,
  ...e.floatingIps,
];

/** Waits until every resource is ACTIVE at its own revision, as the README's output shows it; an ERROR fails at once. */
async function converged(a: Api): Promise<Everything> {
  let last: Everything | undefined;
  try {
    return await eventually(
      async () => (last = await everything(a)),
      (e) =>
        all(e).every((r) => {
          if (r.status?.state === 'RESOURCE_STATE_ERROR') throw new Error(`${r.id} (${r.name}) is in ERROR: ${r.status.code}: ${r.status.message}`);
          return r.status?.state === 'RESOURCE_STATE_ACTIVE' && BigInt(r.status.revision) >= BigInt(r.revision);
        }),
    );
  } catch (err) {
    throw new Error(`not every resource became ACTIVE: ${(err as Error).message}\n${JSON.stringify(last && all(last).map((r) => [r.id, r.status]))}`);
  }
}

/** Starts what the unit's ExecStart runs, on the README's configuration file, with the test's paths. */
async function startDaemonAsTheUnitDoes(ctx: RunContext): Promise<void> {
  const execStart = /^ExecStart=(.*)$/m.exec(readFileSync(SERVICE_UNIT, 'utf8'))?.[1];
  expect(execStart, `${SERVICE_UNIT}'s ExecStart is what this test emulates; if it changed, change startDaemonAsTheUnitDoes`).toBe(EXECSTART);
  const configPath = redirect(ctx, execStart!.split(' ').at(-1)!);
  const doc = parseYaml(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  ctx.config = parseConfig(doc, configPath);
  const defaults = parseConfig({ vtep_ip: '192.0.2.1', underlay_interface: 'eth0' }, 'defaults');
  const dir = join(ctx.work, 'daemon');
  // TestDaemon's own defaults (fake dataplane, no metrics) must not apply: the schema's do, unless the README's file says.
  const config: Record<string, unknown> = {
    dataplane: defaults.dataplane,
    metrics: defaults.metrics,
    reconcile: defaults.reconcile,
    log: defaults.log,
    ...doc,
    api: { ...(doc['api'] as object | undefined), socket: socketOf(ctx) },
    state_dir: join(dir, 'state'),
    bpffs_root: join(ctx.topo.bpffsDir, 'xdpnet'),
    snat: { ...(doc['snat'] as object | undefined), conntrack_max: TEST_CONNTRACK_MAX },
  };
  ctx.daemon = await TestDaemon.start({ dir, config, wrap: (argv) => inNode(ctx, argv) });
  await ctx.daemon.waitServing();
  ctx.a = api(ctx.daemon.client());
}

/** `xdpnet watch`: runs until it has printed the initial state, then Ctrl-C. */
async function watchUntilSynced(ctx: RunContext, command: string): Promise<Result> {
  const [file, ...args] = inNode(ctx, ['bash', '-c', `exec ${command}`]);
  const child: ChildProcess = spawn(file!, args, { cwd: ctx.work, env: environment(ctx), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number>((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  try {
    await eventually(
      async () => stdout,
      (s) => / SYNCED /.test(s),
      20_000,
    );
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
  }
  return { code: await exited, stdout, stderr };
}

// ---------------------------------------------------------------- the table of commands

interface Mapping {
  /** The file that runs the command (repository-relative). */
  file: string;
  /** What that file must contain: how it runs the command. */
  contains: string[];
  /** Why this test does not run it. */
  why: string;
  /** For `make TARGET`: what the Makefile's rule must run or depend on, so that the file above runs what the target runs. */
  makefile?: { target: string; recipe?: string[]; prerequisites?: string[] };
}

interface Rule {
  match: RegExp;
  /** Runs the command (in document order) and checks what it did. */
  run?: (ctx: RunContext, command: Command, m: RegExpExecArray) => Promise<void>;
  /** The test that runs it, when it cannot run here (or, with `run`, what `run` stands in for). */
  mapped?: (m: RegExpExecArray) => Mapping;
}

const ID = '([0-9a-f-]{36}|\\$[A-Z][A-Z0-9_]*)';
const re = (source: string): RegExp => new RegExp(`^${source.replaceAll('{ID}', ID)}$`);

const RULES: Rule[] = [
  // ---- mapped: commands the test suite cannot run inside itself
  {
    match: re('make demo'),
    mapped: () => ({
      file: 'test/e2e/demo.test.ts',
      contains: ["'dist/demo/main.js'", 'describePrivileged'],
      why: 'a whole three-node demo; the demo test runs its program (what the make target runs after deps and build) in an instance of its own',
      makefile: { target: 'demo', recipe: ['dist/demo/main.js'] },
    }),
  },
  {
    match: re('make demo-clean'),
    mapped: () => ({
      file: 'test/e2e/demo.test.ts',
      contains: ["'dist/demo/main.js'", "'clean'"],
      why: 'removes the demo; the demo test runs `main.js clean` on its own instance',
      makefile: { target: 'demo-clean', recipe: ['dist/demo/main.js clean'] },
    }),
  },
  {
    match: re('make test'),
    mapped: () => ({ file: '.ci/run', contains: ['make test'], why: 'it is the test suite itself: CI runs it' }),
  },
  {
    match: re('make (build|lint)'),
    mapped: (m) => ({
      file: '.ci/run',
      contains: ['make test'],
      why: '`make test` builds and lints before it runs the tests (running it inside them would race the build)',
      makefile: { target: 'test', prerequisites: [m[1]!] },
    }),
  },
  {
    match: re('make install'),
    mapped: () => ({
      file: 'test/e2e/daemon-ops.test.ts',
      contains: ["'install'", 'DESTDIR='],
      why: 'it installs into the system; the packaging test runs it with DESTDIR and runs the installed daemon and CLI',
    }),
  },
  {
    match: re('make bench'),
    mapped: () => ({
      file: 'test/e2e/bench-dataplane.test.ts',
      contains: ['make bench', 'bench/tsconfig.json'],
      why: 'minutes of measurement; the benchmark test compiles bench/ as the target does and runs the dataplane benchmark in its quickest form',
      makefile: { target: 'bench', recipe: ['bench/tsconfig.json', 'build/bench/bench/'] },
    }),
  },
  {
    match: re("make bench BENCH_ARGS=--quick"),
    mapped: () => ({
      file: 'test/e2e/bench-report.test.ts',
      contains: ["'--quick'", "'bench/tsconfig.json'", "'bench/main.js'"],
      why: 'a minute of measurement; the report test runs the whole benchmark (bench/main.ts, what the target runs) with --quick and checks every row, the JSON and the plot',
      makefile: { target: 'bench', recipe: ['build/bench/bench/main.js', '$(BENCH_ARGS)'] },
    }),
  },
  {
    match: re('git worktree add /tmp/parent HEAD~1 && make -C /tmp/parent bpf'),
    mapped: () => ({
      file: 'test/e2e/bench-report.test.ts',
      contains: ["'worktree', 'add'", "'make', ['-C', tree, 'bpf']"],
      why: 'a second checkout of the repository; the report test makes one the same way (of HEAD, whose map layouts are this build’s) and builds its programs',
    }),
  },
  {
    match: re("make bench BENCH_ARGS='--only dataplane --compare-with /tmp/parent/bpf/build --directions routed --rounds 60 --seconds 0.15'"),
    mapped: () => ({
      file: 'test/e2e/bench-report.test.ts',
      contains: ["'--compare-with'", "'bpf/build'", "'--directions'"],
      why: 'minutes of measurement; the report test runs the same flags against its worktree’s build, one short round, and checks the twin rows and ratios',
      makefile: { target: 'bench', recipe: ['build/bench/bench/main.js', '$(BENCH_ARGS)'] },
    }),
  },
  {
    match: re("make bench BENCH_ARGS='--only dataplane --port-if [a-z0-9]+ --uplink-if [a-z0-9]+'"),
    mapped: () => ({
      file: 'test/e2e/bench-report.test.ts',
      contains: ["'--only', 'dataplane'", "'--port-if'", "'--uplink-if'"],
      why: 'needs two NICs cabled together; the report test runs the same flags on a veth pair standing in for them',
      makefile: { target: 'bench', recipe: ['build/bench/bench/main.js', '$(BENCH_ARGS)'] },
    }),
  },
  {
    // Not run: systemd is not PID 1 in the test suite. What it starts is run instead.
    match: re('systemctl enable --now xdpnetd'),
    mapped: () => ({
      file: 'test/e2e/daemon-ops.test.ts',
      contains: ["'systemd-analyze', ['verify'"],
      why: 'needs systemd as PID 1; the packaging test verifies the unit with systemd-analyze, and this test starts what its ExecStart runs',
    }),
    run: async (ctx) => startDaemonAsTheUnitDoes(ctx),
  },

  // ---- run: shell variables, installation, configuration
  {
    match: /^([A-Z][A-Z0-9_]*)=([^\s$`'"]+)$/,
    run: async (ctx, _c, m) => {
      ctx.vars[m[1]!] = m[2]!;
    },
  },
  {
    match: re('cp /etc/xdpnet/xdpnetd\\.example\\.yaml /etc/xdpnet/xdpnetd\\.yaml'),
    run: async (ctx, c) => {
      // Where `make install` puts the example (the Makefile installs packaging/xdpnetd.example.yaml there).
      expect(readFileSync(join(REPO_ROOT, 'Makefile'), 'utf8')).toContain('packaging/xdpnetd.example.yaml $(DESTDIR)$(CONFDIR)/xdpnetd.example.yaml');
      mkdirSync(join(ctx.work, 'etc/xdpnet'), { recursive: true });
      copyFileSync(join(REPO_ROOT, 'packaging/xdpnetd.example.yaml'), join(ctx.work, 'etc/xdpnet/xdpnetd.example.yaml'));
      await ok(ctx, c.text);
      expect(readFileSync(join(ctx.work, 'etc/xdpnet/xdpnetd.yaml'), 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'packaging/xdpnetd.example.yaml'), 'utf8'));
    },
  },
  {
    match: re('xdpnetd --config (/etc/xdpnet/\\S+) --check-config'),
    run: async (ctx, c, m) => {
      expect(await ok(ctx, c.text)).toBe(`${redirect(ctx, m[1]!)}: valid\n`);
    },
  },

  // ---- run: the CLI
  {
    match: re('xdpnet status'),
    run: async (ctx, c) => {
      const out = await ok(ctx, c.text);
      const f = fields(out.split('\n\n')[0]!);
      const config = ctx.config!;
      expect(f.get('ready')).toBe('True');
      expect(f.get('node_name')).toBe(config.node_name);
      expect(f.get('dataplane')).toBe('bpf');
      expect(f.get('vtep_ip')).toBe(config.vtep_ip);
      expect(f.get('underlay_interface')).toBe(config.underlay_interface);
      expect(out).toContain('Attached programs:');
      expect(out).toMatch(/\| xdp_underlay +\|/);
    },
  },
  {
    match: re('xdpnet (network|subnet|router|port|floatingip) create --id {ID} .*'),
    run: async (ctx, c, m) => {
      const f = fields(await ok(ctx, c.text));
      expect(f.get('id')).toBe(expand(ctx, m[2]!));
      expect(f.get('status')).toMatch(/^(PENDING|ACTIVE)/);
    },
  },
  {
    match: re('xdpnet router add-interface {ID} {ID}'),
    run: async (ctx, c, m) => {
      const f = fields(await ok(ctx, c.text));
      expect(f.get('id')).toBe(expand(ctx, m[1]!));
      expect(f.get('interfaces')).toContain(`subnet=${expand(ctx, m[2]!)}`);
    },
  },
  {
    match: re('xdpnet router set-gateway {ID} --external-network {ID} --ip-address (\\S+) --gateway-node (\\S+) --enable-snat'),
    run: async (ctx, c, m) => {
      const f = fields(await ok(ctx, c.text));
      expect(f.get('external_gateway')).toBe(
        [`network=${expand(ctx, m[2]!)}`, `ip-address=${m[3]}`, `gateway-node=${m[4]}`, 'snat=enabled'].join('\n'),
      );
    },
  },
  {
    // The README shows what converged state looks like from here on: wait for it first.
    match: re('xdpnet port list'),
    run: async (ctx, c) => {
      const state = await converged(API(ctx));
      const out = await ok(ctx, c.text);
      for (const p of state.ports) {
        const binding = p.local ? `local ${p.local.interfaceName}` : p.remote ? `remote ${p.remote.vtepIp}` : 'unbound';
        expect(out).toMatch(new RegExp(`\\| ${p.id} \\|.*\\| ${binding} +\\| ACTIVE +\\|`));
      }
    },
  },
  {
    match: re('xdpnet port show {ID} -o json'),
    run: async (ctx, c, m) => {
      const port = JSON.parse(await ok(ctx, c.text)) as pb.Port__Output;
      expect(port.id).toBe(expand(ctx, m[1]!));
      expect(port.status?.state).toBe('RESOURCE_STATE_ACTIVE');
    },
  },
  {
    match: re('xdpnet router show {ID}((?: -c \\S+)+)'),
    run: async (ctx, c, m) => {
      const wanted = m[2]!.trim().split(/\s+/).filter((w) => w !== '-c');
      const f = fields(await ok(ctx, c.text));
      expect([...f.keys()]).toEqual(wanted);
      if (f.has('status')) expect(f.get('status')).toBe('ACTIVE');
      if (f.has('external_gateway')) expect(f.get('external_gateway')).toMatch(/^network=/);
    },
  },
  {
    match: re('xdpnet (network|subnet|port|router|floatingip) list -o value((?: -c \\S+)+)'),
    run: async (ctx, c, m) => {
      const columns = m[2]!.trim().split(/\s+/).filter((w) => w !== '-c');
      const out = await ok(ctx, c.text);
      const items = JSON.parse(await ok(ctx, `xdpnet ${m[1]} list -o json`)) as Record<string, unknown>[];
      const camel = (s: string): string => s.replace(/_([a-z])/g, (_x, ch: string) => ch.toUpperCase());
      expect(items.length).toBeGreaterThan(0);
      expect(out).toBe(items.map((i) => `${columns.map((col) => String(i[camel(col)])).join(' ')}\n`).join(''));
    },
  },
  {
    match: re('xdpnet floatingip unset --port {ID}'),
    run: async (ctx, c) => {
      const f = fields(await ok(ctx, c.text));
      expect(f.get('port_id')).toBe('');
      expect(f.get('fixed_ip_address')).toBe('');
    },
  },
  {
    match: re('xdpnet floatingip set {ID} --port {ID}'),
    run: async (ctx, c, m) => {
      const f = fields(await ok(ctx, c.text));
      expect(f.get('port_id')).toBe(expand(ctx, m[2]!));
    },
  },
  {
    match: re('xdpnet port set {ID} --name (\\S+)'),
    run: async (ctx, c, m) => {
      expect(fields(await ok(ctx, c.text)).get('name')).toBe(m[2]);
    },
  },
  {
    // The README's file is the state its commands made: the sync changes nothing.
    match: re('xdpnet sync (desired-state\\.yaml)'),
    run: async (ctx, c, m) => {
      const file = join(ctx.work, m[1]!);
      expect(existsSync(file), `${m[1]} is written from the README's yaml block that names it, which must come before this command`).toBe(true);
      const request = readSyncFile(file);
      const count = ['networks', 'subnets', 'ports', 'routers', 'floatingIps'].reduce(
        (n, k) => n + ((request as Record<string, unknown[] | undefined>)[k]?.length ?? 0),
        0,
      );
      const f = fields(await ok(ctx, c.text));
      expect(Object.fromEntries(['created', 'updated', 'deleted', 'unchanged'].map((k) => [k, f.get(k)]))).toEqual({
        created: '0',
        updated: '0',
        deleted: '0',
        unchanged: String(count),
      });
      await converged(API(ctx));
    },
  },
  {
    match: re('xdpnet stats'),
    run: async (ctx, c) => {
      // Traffic of the node's own on the underlay, which xdp_underlay hands to the kernel.
      expect(await ctx.topo.ping('compute2', '192.0.2.11', { count: 2 })).toBe(2);
      const out = await ok(ctx, c.text);
      expect(out).toMatch(/^\| Reason +\| Category +\| Packets +\| Bytes +\| Description +\|$/m);
      expect(out).toMatch(/^\| PASS_HOST +\| passed +\| [1-9]\d* +\|/m);
    },
  },
  {
    match: re('xdpnet stats --all -o json'),
    run: async (ctx, c) => {
      const counters = JSON.parse(await ok(ctx, c.text)) as { reason: string; category: string }[];
      expect(counters.map((x) => x.reason).sort()).toEqual(protoReasons().map((r) => r.name).sort());
    },
  },
  {
    match: re('xdpnet stats ports'),
    run: async (ctx, c) => {
      const out = await ok(ctx, c.text);
      const local = (await everything(API(ctx))).ports.filter((p) => p.local);
      expect(local.length).toBeGreaterThan(0);
      for (const p of local) expect(out).toMatch(new RegExp(`^\\| ${p.id} \\|( +\\d+ +\\|){5}$`, 'm'));
    },
  },
  {
    match: re('xdpnet watch --initial'),
    run: async (ctx, c) => {
      const r = await watchUntilSynced(ctx, c.text);
      expect(r.stderr).toBe('');
      expect(r.code, 'Ctrl-C ends a watch cleanly').toBe(0);
      const added = r.stdout.split('\n').filter((l) => / ADDED /.test(l));
      expect(added).toHaveLength(all(await everything(API(ctx))).length);
    },
  },
  {
    match: re('bpftool net'),
    run: async (ctx, c) => {
      const out = await ok(ctx, c.text);
      // Its XDP section: every XDP program xdpnet status lists, by interface and program id (tcx links are not in it).
      const xdp = (await API(ctx).nodeStatus()).programs.filter((p) => !p.hook.startsWith('tcx'));
      expect(xdp.map((p) => p.programName).sort()).toEqual(['xdp_external', 'xdp_port', 'xdp_underlay']);
      for (const p of xdp) expect(out, `${p.programName} on ${p.interfaceName}`).toMatch(new RegExp(`^${p.interfaceName}\\(\\d+\\) \\w+ id ${p.programId}$`, 'm'));
    },
  },
  {
    match: re("curl -s http://127\\.0\\.0\\.1:9651/metrics \\| grep -E '\\^xdpnet_\\(ready\\|resources\\)'"),
    run: async (ctx, c) => {
      const out = await ok(ctx, c.text);
      expect(out).toMatch(/^xdpnet_ready 1$/m);
      const status = await API(ctx).nodeStatus();
      for (const [kind, n] of Object.entries(status.resourceCounts)) expect(out).toMatch(new RegExp(`^xdpnet_resources\\{kind="${kind}"\\} ${n}$`, 'm'));
    },
  },

  // ---- run: developing
  {
    match: re('npx vitest run (test/unit/[\\w-]+\\.test\\.ts)'),
    run: async (ctx, c) => {
      const r = await sh(ctx, c.text, { cwd: REPO_ROOT, inNode: false });
      // npm may warn about the machine's own npmrc; nothing else may be said on stderr.
      expect(r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('npm warn')), 'stderr').toEqual([]);
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toMatch(/Tests +\S*\d+ passed/);
    },
  },
];

/** The rules a command matches, with their matches. */
function rulesFor(command: Command): { rule: Rule; m: RegExpExecArray }[] {
  return RULES.flatMap((rule) => {
    const m = rule.match.exec(command.text);
    return m ? [{ rule, m }] : [];
  });
}

// ---------------------------------------------------------------- the config schema

type AnySchema = z.ZodType;
interface Def {
  type: string;
  innerType?: AnySchema;
  shape?: Record<string, AnySchema>;
  defaultValue?: unknown;
  entries?: Record<string, string>;
}
const defOf = (s: AnySchema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

interface Leaf {
  key: string;
  /** The field as declared (with its default/optional wrappers). */
  schema: AnySchema;
  /** The field without default/prefault/optional. */
  base: AnySchema;
  hasDefault: boolean;
  optional: boolean;
  /** The nearest optional object above it, e.g. api.tcp. */
  requiredWith?: string;
}

function unwrap(s: AnySchema): { base: AnySchema; hasDefault: boolean; optional: boolean } {
  let base = s;
  let hasDefault = false;
  let optional = false;
  for (;;) {
    const d = defOf(base);
    if (d.type === 'default' || d.type === 'prefault') hasDefault = true;
    else if (d.type === 'optional') optional = true;
    else return { base, hasDefault, optional };
    base = d.innerType!;
  }
}

function leaves(s: AnySchema, prefix = '', requiredWith?: string): Leaf[] {
  const shape = defOf(s).shape!;
  return Object.entries(shape).flatMap(([name, field]) => {
    const key = prefix + name;
    const u = unwrap(field);
    if (defOf(u.base).type === 'object') return leaves(u.base, `${key}.`, requiredWith ?? (u.optional ? key : undefined));
    return [{ key, schema: field, ...u, ...(requiredWith ? { requiredWith } : {}) }];
  });
}

/** Defaults that are computed, not literal: the README says what they are in words (in italics). */
const COMPUTED_DEFAULTS: Record<string, (leaf: Leaf) => void> = {
  node_name: (leaf) => expect((leaf.schema as z.ZodType).parse(undefined)).toBe(hostname()),
  underlay_mtu: (leaf) => expect(leaf.optional && !leaf.hasDefault, 'underlay_mtu is read from the interface when absent').toBe(true),
};

const accepts = (s: AnySchema, v: unknown): boolean => s.safeParse(v).success;

/** Checks the README's Type cell by probing the field's schema with values of that type and values outside it. */
function probeType(key: string, base: AnySchema, type: string): void {
  const what = `${key}: type "${type}"`;
  const nullable = / or null$/.test(type);
  expect(accepts(base, null), `${what}: null`).toBe(nullable);
  const t = type.replace(/ or null$/, '');
  const probe = (good: unknown[], bad: unknown[]): void => {
    for (const v of good) expect(accepts(base, v), `${what} accepts ${JSON.stringify(v)}`).toBe(true);
    for (const v of bad) expect(accepts(base, v), `${what} refuses ${JSON.stringify(v)}`).toBe(false);
  };
  let m: RegExpExecArray | null;
  if (t === 'string') probe(['x', 'node-1'], [5, true]);
  else if (t === 'boolean') probe([true, false], ['true', 1]);
  else if (t === 'IPv4 address') probe(['192.0.2.1'], ['192.0.2.256', 'eth0', '2001:db8::1']);
  else if (t === 'interface name') probe(['eth0', 'tap-vm1', 'a23456789012345'], ['', 'a/b', 'a b', 'a:1', 'a234567890123456']);
  else if (t === 'absolute path') probe(['/x/y'], ['x/y', '']);
  else if (t === 'host:port') probe(['127.0.0.1:9651', '0.0.0.0:9650', '[::1]:1'], ['127.0.0.1', 'a b:1']);
  else if (t === 'port range `MIN-MAX`') probe(['1024-65535', '1-1'], ['2-1', '0-10', '1-65536', '1024', 1024]);
  else if (t === 'map of physical network name to interface name') probe([{}, { external: 'eth2', 'phys.net_1-a': 'eth3' }], [{ external: 'a/b' }, { 'bad name': 'eth2' }, 'eth2']);
  else if ((m = /^integer (\d+)\.\.(\d+)$/.exec(t))) {
    const [min, max] = [Number(m[1]), Number(m[2])];
    probe([min, max], [min - 1, max + 1, min + 0.5, String(min)]);
  } else if ((m = /^one of ((?:`[^`]+`(?:, )?)+)$/.exec(t))) {
    const options = [...m[1]!.matchAll(/`([^`]+)`/g)].map((x) => x[1]!);
    expect(defOf(base).type, what).toBe('enum');
    expect(Object.keys(defOf(base).entries!).sort(), what).toEqual([...options].sort());
    probe(options, ['nope']);
  } else {
    throw new Error(`${what}: no probe for this type; use one of the types ${THIS_FILE} knows (probeType), or teach it this one`);
  }
}

// ---------------------------------------------------------------- the tables

/** The table right after the marker `<!-- checked by test/e2e/readme-commands.test.ts: NAME ...`, as rows of cells (header and rule dropped). */
function checkedTable(name: string): { rows: string[][]; lines: string[] } {
  const lines = text('README.md').split('\n');
  const at = lines.findIndex((l) => l.startsWith(`<!-- checked by ${THIS_FILE}: ${name}`));
  if (at < 0) throw new Error(`README.md has no "${name}" marker (<!-- checked by ${THIS_FILE}: ${name} ... -->) before its table`);
  let i = at + 1;
  while (lines[i]?.trim() === '') i++;
  const table: string[] = [];
  while (lines[i]?.startsWith('|')) table.push(lines[i++]!);
  const split = (l: string): string[] =>
    l
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  return { rows: table.slice(2).map(split), lines: table };
}

const codeSpans = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

interface ProtoReason {
  name: string;
  code: number;
  description: string;
}

/** The reasons as scripts/gen-reasons.mjs reads them: declaration order, comments as descriptions. */
function protoReasons(): ProtoReason[] {
  const root = new protobuf.Root().loadSync(join(REPO_ROOT, 'proto/xdpnet/v1/reasons.proto'), { alternateCommentMode: true });
  const e = root.lookupEnum('xdpnet.v1.Reason');
  return Object.entries(e.values)
    .filter(([name]) => name !== 'REASON_UNSPECIFIED')
    .map(([name, code]) => ({ name, code, description: (e.comments[name] ?? '').replace(/\s+/g, ' ').trim() }));
}

function reasonTable(): string[] {
  return [
    '| Reason | Code | Meaning |',
    '|---|---|---|',
    ...protoReasons().map((r) => `| \`${r.name.replace(/^REASON_/, '')}\` | ${r.code} | ${r.description.replaceAll('|', '\\|')} |`),
  ];
}

const silentIo: Io = {
  stdout: { write: () => true } as unknown as NodeJS.WritableStream,
  stderr: { write: () => true } as unknown as NodeJS.WritableStream,
  env: {},
  onInterrupt: () => () => undefined,
};

// ================================================================ the tests

describe('the documents', () => {
  it('every fenced block names a language this test knows', () => {
    const unknown = BLOCKS.filter((b) => !SHELL_LANGS.has(b.lang) && !OTHER_LANGS.has(b.lang));
    expect(
      unknown.map((b) => `${where(b)}: \`\`\`${b.lang}`),
      `fenced blocks must say what they are: sh (commands, run by ${THIS_FILE}), yaml, text or ts`,
    ).toEqual([]);
  });

  it(`every command is run or mapped by exactly one entry of ${THIS_FILE}`, () => {
    const problems: string[] = [];
    let runs = 0;
    let emulated = 0;
    let mapped = 0;
    for (const c of COMMANDS) {
      const found = rulesFor(c);
      if (found.length === 0) {
        problems.push(
          `${where(c)}: \`${c.text}\` is neither run nor mapped to a test: add an entry to RULES in ${THIS_FILE} that runs it ` +
            '(and checks its output), or maps it to the test file that runs it',
        );
      } else if (found.length > 1) {
        problems.push(`${where(c)}: \`${c.text}\` matches ${found.length} entries of RULES (${found.map((f) => f.rule.match).join(', ')}): make them exclusive`);
      } else if (found[0]!.rule.run && found[0]!.rule.mapped) {
        emulated++;
      } else if (found[0]!.rule.run) {
        runs++;
      } else {
        mapped++;
      }
    }
    expect(problems).toEqual([]);
    expect(COMMANDS.length).toBeGreaterThan(0);
    process.stdout.write(
      `${COMMANDS.length} commands in ${DOCUMENTS.join(', ')}: ${runs} run by this test, ${emulated} run as what they start ` +
        `(and mapped), ${mapped} mapped to the test that runs them\n`,
    );
  });

  it('no entry of RULES is left without a command (a command removed from the README takes its entry along)', () => {
    const unused = RULES.filter((r) => !COMMANDS.some((c) => r.match.test(c.text)));
    expect(unused.map((r) => String(r.match))).toEqual([]);
  });

  it('every mapped command is in the file that runs it, and the make target runs what that file runs', () => {
    const makefile = readFileSync(join(REPO_ROOT, 'Makefile'), 'utf8').split('\n');
    for (const c of COMMANDS) {
      for (const { rule, m } of rulesFor(c)) {
        if (!rule.mapped) continue;
        const mapping = rule.mapped(m);
        const path = join(REPO_ROOT, mapping.file);
        expect(existsSync(path), `${where(c)} \`${c.text}\` is mapped to ${mapping.file}, which does not exist`).toBe(true);
        const content = readFileSync(path, 'utf8');
        for (const s of mapping.contains) {
          expect(content.includes(s), `${where(c)} \`${c.text}\`: ${mapping.file} should contain ${JSON.stringify(s)} (how it runs the command; ${mapping.why})`).toBe(true);
        }
        if (mapping.makefile) {
          const { target, recipe = [], prerequisites = [] } = mapping.makefile;
          const at = makefile.findIndex((l) => l.startsWith(`${target}:`));
          expect(at, `Makefile has no rule for ${target}`).toBeGreaterThanOrEqual(0);
          const deps = makefile[at]!.slice(target.length + 1).split('##')[0]!.trim().split(/\s+/);
          for (const p of prerequisites) expect(deps, `make ${target} depends on ${p}`).toContain(p);
          const lines: string[] = [];
          for (let i = at + 1; makefile[i]?.startsWith('\t'); i++) lines.push(makefile[i]!);
          for (const r of recipe) expect(lines.join('\n'), `the recipe of make ${target} runs ${r}`).toContain(r);
        }
      }
    }
  });

  it('every yaml block names its file, and is valid: daemon configurations against the schema, sync files for xdpnet sync', () => {
    const yamlBlocks = BLOCKS.filter((b) => b.lang === 'yaml');
    expect(yamlBlocks.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'xdpnet-readme-yaml-'));
    try {
      for (const b of yamlBlocks) {
        const kind = yamlKind(b);
        expect(kind, `${where(b)}: a yaml block starts with a comment naming its file: "# /etc/xdpnet/xdpnetd.yaml …" or "# desired-state.yaml"`).toBeDefined();
        if (kind!.kind === 'config') {
          expect(() => parseConfig(parseYaml(b.body), where(b))).not.toThrow();
        } else {
          const file = join(dir, 'desired-state.yaml');
          writeFileSync(file, b.body);
          expect(() => readSyncFile(file), where(b)).not.toThrow();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the README tables match the code', () => {
  it('configuration: every key of the schema, with its type and default', () => {
    const schemaLeaves = leaves(configSchema as unknown as AnySchema);
    const { rows } = checkedTable('config table');
    const readme = new Map(rows.map((r) => [codeSpans(r[0]!)[0] ?? r[0]!, r]));
    expect([...readme.keys()].sort(), 'the README config table lists exactly the schema\'s keys (src/daemon/config.ts)').toEqual(
      schemaLeaves.map((l) => l.key).sort(),
    );
    for (const leaf of schemaLeaves) {
      const [, type, dflt, meaning] = readme.get(leaf.key)!;
      expect(meaning, `${leaf.key}: meaning`).toBeTruthy();
      probeType(leaf.key, leaf.base, type!);
      const what = `${leaf.key}: default "${dflt}"`;
      if (dflt === 'required') {
        expect(!leaf.hasDefault && !leaf.optional && !leaf.requiredWith, what).toBe(true);
      } else if (dflt?.startsWith('required with ')) {
        expect(!leaf.hasDefault && !leaf.optional, what).toBe(true);
        expect(codeSpans(dflt)[0], what).toBe(leaf.requiredWith);
      } else if (/^\*[^*]+\*$/.test(dflt ?? '')) {
        const check = COMPUTED_DEFAULTS[leaf.key];
        expect(check, `${what}: a default in words is for computed defaults (COMPUTED_DEFAULTS in ${THIS_FILE})`).toBeDefined();
        check!(leaf);
      } else {
        const literal = codeSpans(dflt ?? '');
        expect(literal, `${what}: a literal default is one code span`).toHaveLength(1);
        expect(leaf.hasDefault, `${what}: the schema has no default`).toBe(true);
        const actual = leaf.schema.parse(undefined);
        const written = leaf.base.parse(parseYaml(literal[0]!));
        expect(isDeepStrictEqual(written, actual), `${what}: the schema's default is ${JSON.stringify(actual)}`).toBe(true);
      }
    }
  });

  it('CLI: every command of the command tree', () => {
    const tree: string[] = [];
    const walk = (cmd: { commands: readonly unknown[] }, path: string[]): void => {
      for (const sub of cmd.commands as { name(): string; commands: readonly unknown[] }[]) {
        const p = [...path, sub.name()];
        tree.push(p.join(' '));
        walk(sub, p);
      }
    };
    walk(buildProgram(silentIo), []);
    const { rows } = checkedTable('CLI table');
    const readme = rows.flatMap((r) => {
      const group = codeSpans(r[0]!)[0]!.replace(/^xdpnet /, '');
      return [group, ...codeSpans(r[1] ?? '').map((s) => `${group} ${s}`)];
    });
    expect(readme.sort()).toEqual(tree.sort());
  });

  it('API: every RPC of service XdpNet', () => {
    const service = packageDefinition()[SERVICE_NAME] as Record<string, { originalName?: string }>;
    const rpcs = Object.keys(service).filter((k) => /^[A-Z]/.test(k));
    const { rows } = checkedTable('RPC table');
    expect(rows.flatMap((r) => codeSpans(r[1] ?? '')).sort()).toEqual(rpcs.sort());
  });

  it('metrics: every xdpnet_ metric the daemon serves', async () => {
    const daemon = await TestDaemon.start({ config: { metrics: { address: '127.0.0.1:0' } } });
    try {
      await daemon.waitServing();
      const address = /"metrics":"([^"]+)"/.exec(daemon.logs)?.[1];
      expect(address).toBeDefined();
      const served = [...(await (await fetch(`http://${address}/metrics`)).text()).matchAll(/^# HELP (xdpnet_\w+) /gm)].map((m) => m[1]!);
      const { rows } = checkedTable('metrics table');
      expect(rows.map((r) => codeSpans(r[0]!)[0]!).sort()).toEqual(served.sort());
    } finally {
      await daemon.cleanup();
    }
  });

  it('reason codes: the table is generated from proto/xdpnet/v1/reasons.proto', () => {
    const expected = reasonTable();
    const { lines } = checkedTable('reason table');
    expect(
      lines.join('\n'),
      `README.md's reason table differs from reasons.proto; replace it (after its marker) with:\n\n${expected.join('\n')}\n`,
    ).toBe(expected.join('\n'));
  });
});

describe('the README names what exists', () => {
  // The prose: fenced blocks out (their ``` would pair with the backticks of code spans).
  const readme = text('README.md').replace(/^```.*\n[\s\S]*?^```$/gm, '');
  const spans = [...new Set(codeSpans(readme))];
  const bpfSources = (dir: string): string[] =>
    readdirSync(join(REPO_ROOT, dir)).filter((f) => /\.(h|c)$/.test(f)).map((f) => readFileSync(join(REPO_ROOT, dir, f), 'utf8'));
  const bpf = [...bpfSources('bpf'), ...bpfSources('bpf/lib')].join('\n');

  it('reason codes (the packet walks name the reasons that count each step)', () => {
    const names = protoReasons().map((r) => r.name.replace(/^REASON_/, ''));
    const mentioned = spans.filter((sp) => /^(?:REASON_)?(?:FWD|PASS|DROP)_[A-Z0-9_]*\*?$/.test(sp)).map((sp) => sp.replace(/^REASON_/, ''));
    expect(mentioned.length, 'the README names reasons in its packet walks').toBeGreaterThan(20);
    const unknown = mentioned.filter((m) => (m.endsWith('*') ? !names.some((n) => n.startsWith(m.slice(0, -1))) : !names.includes(m)));
    expect(unknown, 'reasons the README names that reasons.proto does not have').toEqual([]);
  });

  it('BPF programs, maps and headers', () => {
    const programs = new Set([...bpf.matchAll(/^int ((?:xdp|tc)_[a-z_]+)\(/gm)].map((m) => m[1]!));
    const maps = new Set([...bpf.matchAll(/\} (xdpnet_[a-z0-9_]+) SEC\("\.maps"\)/g)].map((m) => m[1]!));
    const metrics = new Set(checkedTable('metrics table').rows.map((r) => codeSpans(r[0]!)[0]!));
    expect(spans.filter((sp) => programs.has(sp) || maps.has(sp)).length, 'the README names programs and maps').toBeGreaterThan(10);
    const problems: string[] = [];
    for (const sp of spans) {
      if (/^(?:xdp|tc)_[a-z_]+$/.test(sp) && !programs.has(sp)) problems.push(`${sp}: no such program in bpf/*.bpf.c`);
      if (/^xdpnet_[a-z0-9_]+$/.test(sp) && !maps.has(sp) && !metrics.has(sp)) problems.push(`${sp}: neither a BPF map nor a metric`);
      const header = /^(?:bpf\/lib\/)?([a-z0-9_]+\.h)$/.exec(sp);
      if (header && !existsSync(join(REPO_ROOT, 'bpf/lib', header[1]!))) problems.push(`${sp}: no such header in bpf/lib/`);
    }
    expect(problems).toEqual([]);
  });

  it('links between the documents resolve, anchors included', () => {
    /** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
    const anchors = (doc: string): Set<string> =>
      new Set(
        text(doc)
          .split('\n')
          .filter((l) => /^#{1,6} /.test(l))
          .map((l) => l.replace(/^#+ /, '').toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')),
      );
    const problems: string[] = [];
    for (const doc of DOCUMENTS) {
      for (const [, target] of text(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [file, anchor] = target!.split('#') as [string, string | undefined];
        const path = file === '' ? doc : join(dirname(doc), file);
        if (!existsSync(join(REPO_ROOT, path))) problems.push(`${doc}: ${target}: no file ${path}`);
        else if (anchor !== undefined && path.endsWith('.md') && !anchors(path).has(anchor)) problems.push(`${doc}: ${target}: no heading #${anchor} in ${path}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describePrivileged('the README, run in order on its own node', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      for (const ns of ['node', 'compute2', 'upstream', 'vm1']) await t.addNamespace(ns, { disableIpv6: true });
      // The README's all-in-one node: underlay eth1, external NIC eth2 (with an address on the external subnet), a VM's tap0.
      await t.addVeth({ a: { ns: 'node', name: 'eth1', ip: '192.0.2.11/24' }, b: { ns: 'compute2', name: 'eth1', ip: '192.0.2.12/24' } });
      await t.addVeth({ a: { ns: 'node', name: 'eth2', ip: '203.0.113.2/24' }, b: { ns: 'upstream', name: 'eth0', ip: '203.0.113.1/24' } });
      await t.addVeth({ a: { ns: 'node', name: 'tap0' }, b: { ns: 'vm1', name: 'eth0', ip: '10.0.0.5/24', mac: 'fa:16:3e:00:00:05' }, mtu: 1450 });
    },
  });

  const ctx = {} as RunContext;
  beforeAll(() => {
    Object.assign(ctx, { topo: topology(), work: mkdtempSync(join(tmpdir(), 'xdpnet-readme-')), vars: {} });
    const bin = join(ctx.work, 'bin');
    mkdirSync(bin);
    for (const cmd of ['xdpnet', 'xdpnetd']) {
      writeFileSync(join(bin, cmd), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(REPO_ROOT, 'bin', cmd))} "$@"\n`);
      chmodSync(join(bin, cmd), 0o755);
    }
  });
  afterAll(async () => {
    await ctx.daemon?.stop();
    await ctx.daemon?.cleanup();
    if (ctx.work) rmSync(ctx.work, { recursive: true, force: true });
  });

  // Blocks in document order: a yaml block is written to its (redirected) file when reached; commands run.
  for (const block of BLOCKS) {
    const kind = block.lang === 'yaml' ? yamlKind(block) : undefined;
    if (kind?.write) {
      it(`${where(block)}: write ${kind.path} (yaml block)`, () => {
        const path = kind.kind === 'config' ? redirect(ctx, kind.path) : join(ctx.work, kind.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, `${block.body}\n`);
      });
      continue;
    }
    if (!SHELL_LANGS.has(block.lang)) continue;
    for (const c of commandsOf(block)) {
      const found = rulesFor(c);
      const only = found.length === 1 ? found[0]! : undefined;
      if (!only?.rule.run) continue; // mapped (or unclassified: the classification test says so)
      it(`${where(c)}: ${c.text}`, async () => {
        await only.rule.run!(ctx, c, only.m);
      }, 180_000);
    }
  }
});
