// The `xdpnet` CLI against a real daemon (fake dataplane): reaching it
// ($XDPNET_SOCKET, an unreachable socket), node status and counters, `sync
// FILE` (and that a second run changes nothing), and `watch` streaming until
// interrupted.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { REASONS } from '../../src/gen/reasons.js';
import { TestDaemon } from '../helpers/daemon.js';

const BIN = join(REPO_ROOT, 'bin/xdpnet');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let daemon: TestDaemon;
let dir: string;

/** The environment without any XDPNET_SOCKET of the caller's, plus `extra`. */
function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('XDPNET_SOCKET' in extra)) delete env['XDPNET_SOCKET'];
  return env;
}

/** Runs the built CLI exactly with `args` (no --socket added); never rejects. */
function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: environment(extraEnv), timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const xdpnet = (...args: string[]): Promise<Result> => run(['--socket', daemon.socket, ...args]);

async function ok(...args: string[]): Promise<string> {
  const r = await xdpnet(...args);
  expect(r.stderr, `xdpnet ${args.join(' ')}`).toBe('');
  expect(r.code, `xdpnet ${args.join(' ')}`).toBe(0);
  return r.stdout;
}

const NET = 'a0000000-0000-4000-8000-000000000001';
const NET2 = 'a0000000-0000-4000-8000-000000000002';
const SUBNET = 'b0000000-0000-4000-8000-000000000001';
const PORT = 'c0000000-0000-4000-8000-000000000001';
const ROUTER = 'd0000000-0000-4000-8000-000000000001';

/** A desired state as an orchestrator would write it: snake_case YAML. */
const STATE_YAML = `
networks:
  - id: ${NET}
    name: synced-net
    type: vxlan
    segmentation_id: 2001
subnets:
  - id: ${SUBNET}
    network_id: ${NET}
    cidr: 10.1.0.0/24
    dns_nameservers: [192.0.2.53]
ports:
  - id: ${PORT}
    name: synced-port
    network_id: ${NET}
    mac_address: "fa:16:3e:00:01:01"
    fixed_ips:
      - { subnet_id: ${SUBNET}, ip_address: 10.1.0.10 }
    local: { interface_name: tap-synced }
routers:
  - id: ${ROUTER}
    name: synced-router
    interfaces:
      - { subnet_id: ${SUBNET} }
`;

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw new Error('dist/cli/main.js is missing: run `make build` first');
  dir = mkdtempSync(join(tmpdir(), 'xdpnet-cli-e2e-'));
  daemon = await TestDaemon.start();
  await daemon.waitServing();
});

afterAll(async () => {
  await daemon?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('reaching the daemon', () => {
  it('$XDPNET_SOCKET is used when there is no --socket', async () => {
    const r = await run(['status', '-o', 'value', '-c', 'ready'], { XDPNET_SOCKET: daemon.socket });
    expect(r).toEqual({ code: 0, stdout: 'True\n', stderr: '' });
  });

  it('an unreachable socket: exit 1, which socket, and what to check', async () => {
    const missing = join(dir, 'nobody-listens.sock');
    const r = await run(['--socket', missing, 'network', 'list']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`xdpnet: cannot reach xdpnetd on socket ${missing}: ENOENT (no such socket)\n  is xdpnetd running? check: systemctl status xdpnetd\n`);
  });
});

describe('status and stats', () => {
  it('status prints config, readiness, revision, reconcile and counts; -o json is the NodeStatus', async () => {
    const out = await ok('status');
    expect(out).toMatch(/\| ready +\| True +\|/);
    expect(out).toMatch(/\| dataplane +\| fake +\|/);
    expect(out).toMatch(/\| vtep_ip +\| 192\.0\.2\.1 +\|/);
    expect(out).toMatch(/\| desired_revision +\| \d+ +\|/);
    expect(out).toMatch(/\| last_reconcile +\| revision \d+ \((full|incremental)\) at /);
    expect(out).toMatch(/\| resource_counts +\| network=\d+ +\|/);
    expect(out).toContain(`unix:${daemon.socket}`);
    expect(out).toContain('\nAttached programs:\nnone\n'); // the fake dataplane attaches nothing
    expect(out).toContain('\nMaps:\n');

    const status = JSON.parse(await ok('status', '-o', 'json')) as Record<string, unknown>;
    expect(status).toMatchObject({ ready: true, config: { dataplane: 'fake', vtepIp: '192.0.2.1', underlayInterface: 'eth0' } });
    expect(status['desiredRevision']).toMatch(/^\d+$/);
    expect(Object.keys(status['resourceCounts'] as object).sort()).toEqual(['floating_ip', 'network', 'port', 'router', 'subnet']);
  });

  it('stats: only reasons with packets by default (none on the fake dataplane), --all every one with its category', async () => {
    const quiet = await xdpnet('stats');
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/\| Reason +\| Category +\| Packets +\| Bytes +\| Description +\|/);
    expect(quiet.stderr).toBe('(no packets counted yet; --all lists every reason)\n');
    expect(JSON.parse(await ok('stats', '-o', 'json'))).toEqual([]);

    const all = await ok('stats', '--all');
    expect(all).toMatch(/\| PASS_HOST +\| passed +\| 0 +\| 0 +\| /);
    expect(all).toMatch(/\| DROP_INVALID_SOURCE_MAC +\| dropped +\| 0 +\| 0 +\| /);
    const counters = JSON.parse(await ok('stats', '--all', '-o', 'json')) as { reason: string; category: string; packets: string }[];
    expect(counters).toHaveLength(REASONS.length);
    expect(counters.every((c) => ['forwarded', 'passed', 'dropped'].includes(c.category) && c.packets === '0')).toBe(true);
  });

  it('stats ports: the fake dataplane\'s FAILED_PRECONDITION is printed and the exit is non-zero', async () => {
    const r = await xdpnet('stats', 'ports');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^xdpnet: FAILED_PRECONDITION: .+\n$/);
  });
});

describe('sync', () => {
  it('creates the state of a YAML file; a second run changes nothing', async () => {
    const file = join(dir, 'state.yaml');
    writeFileSync(file, STATE_YAML);
    const first = await ok('sync', file);
    expect(first).toMatch(/\| created +\| 4 +\|/);
    expect(first).toMatch(/\| unchanged +\| 0 +\|/);

    const second = JSON.parse(await ok('sync', file, '-o', 'json')) as Record<string, unknown>;
    expect(second).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 4 });
    expect(second['revision']).toMatch(/^\d+$/);

    const port = JSON.parse(await ok('port', 'show', PORT, '-o', 'json')) as Record<string, unknown>;
    expect(port).toMatchObject({ name: 'synced-port', macAddress: 'fa:16:3e:00:01:01', local: { interfaceName: 'tap-synced' } });
    expect(await ok('router', 'show', ROUTER, '-o', 'value', '-c', 'interfaces')).toBe(`subnet=${SUBNET},ip-address=10.1.0.1\n`);
  });

  it('JSON works too, and what the file leaves out is deleted', async () => {
    const file = join(dir, 'state.json');
    writeFileSync(
      file,
      JSON.stringify({
        networks: [
          { id: NET, name: 'synced-net', type: 'NETWORK_TYPE_VXLAN', segmentation_id: 2001 },
          { id: NET2, name: 'second', segmentation_id: 2002 },
        ],
      }),
    );
    const r = JSON.parse(await ok('sync', file, '-o', 'json')) as Record<string, unknown>;
    expect(r).toMatchObject({ created: 1, updated: 0, deleted: 3, unchanged: 1 });
    expect(JSON.parse(await ok('port', 'list', '-o', 'json'))).toEqual([]);
  });

  it('a bad file is refused before anything is sent, naming the path of the problem', async () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, `networks:\n  - { id: ${NET}, segmentation_idd: 5 }\n`);
    const before = await ok('network', 'list', '-o', 'json');
    const r = await xdpnet('sync', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`xdpnet: ${file}: networks[0].segmentation_idd: unknown field of Network (fields: id, name, type, segmentation_id, physical_network, mtu, external, admin_state_up, revision, status)\n`);
    expect(await ok('network', 'list', '-o', 'json')).toBe(before);
  });

  it('a file the daemon refuses changes nothing and the daemon\'s message is printed', async () => {
    const file = join(dir, 'dup-vni.yaml');
    writeFileSync(file, `networks:\n  - { id: ${NET}, segmentation_id: 7 }\n  - { id: ${NET2}, segmentation_id: 7 }\n`);
    const r = await xdpnet('sync', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xdpnet: (ALREADY_EXISTS|INVALID_ARGUMENT): .*segmentation_id/);
    expect(await ok('network', 'show', NET, '-o', 'value', '-c', 'segmentation_id')).toBe('2001\n');
  });
});

/** A running `xdpnet watch`, its stdout split into lines as they come. */
class Watch {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, '--socket', daemon.socket, 'watch', ...args], { env: environment(), stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      const parts = (partial + s).split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Waits until some line matches; fails with what was seen. */
  async waitFor(test: (line: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const line = this.lines.find(test);
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new Error(`no ${what} from watch; lines:\n${this.lines.join('\n')}\nstderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  interrupt(): void {
    this.child.kill('SIGINT');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

describe('watch', () => {
  it('--initial -o json: ADDED for what exists, then SYNCED, then live events; Ctrl-C ends it with exit 0', async () => {
    const watch = new Watch(['--initial', '-o', 'json']);
    try {
      await watch.waitFor((l) => l.includes('"SYNCED"'), 'SYNCED event');
      const events = watch.lines.map((l) => JSON.parse(l) as { type: string; kind: string; id: string; network?: { name: string } });
      const synced = events.findIndex((e) => e.type === 'SYNCED');
      expect(events.slice(0, synced).every((e) => e.type === 'ADDED')).toBe(true);
      expect(events.slice(0, synced).map((e) => e.id).sort()).toEqual([NET, NET2].sort());
      expect(events.find((e) => e.id === NET)).toMatchObject({ kind: 'RESOURCE_KIND_NETWORK', network: { name: 'synced-net' } });

      await ok('network', 'set', NET2, '--name', 'renamed-while-watched');
      const modified = await watch.waitFor((l) => l.includes('"MODIFIED"') && l.includes(NET2), 'MODIFIED event');
      expect(JSON.parse(modified)).toMatchObject({ type: 'MODIFIED', id: NET2, network: { name: 'renamed-while-watched' } });

      watch.interrupt();
      expect(await watch.exited).toEqual({ code: 0, signal: null });
      expect(watch.stderr).toBe('');
    } finally {
      watch.kill();
    }
  });

  it('text lines, filtered by --kind', async () => {
    const watch = new Watch(['--initial', '--kind', 'network']);
    try {
      await watch.waitFor((l) => / SYNCED /.test(l), 'SYNCED line');
      expect(watch.lines.filter((l) => / ADDED network /.test(l))).toHaveLength(2);
      expect(watch.lines.find((l) => l.includes(NET))).toMatch(
        new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ADDED network ${NET} revision=\\d+ status=(PENDING|ACTIVE) name=synced-net$`),
      );

      await ok('subnet', 'create', '--id', SUBNET, '--network', NET, '--cidr', '10.1.0.0/24');
      await ok('network', 'set', NET, '--mtu', '1400');
      await watch.waitFor((l) => / MODIFIED network /.test(l) && l.includes(NET), 'MODIFIED network line');
      expect(watch.lines.some((l) => / subnet /.test(l))).toBe(false);

      watch.interrupt();
      expect((await watch.exited).code).toBe(0);
    } finally {
      watch.kill();
    }
  });

  it('a daemon that goes away ends the watch with a non-zero exit and a message', async () => {
    const watch = new Watch(['--initial']);
    try {
      // SYNCED means the daemon has subscribed the stream: later changes reach it.
      await watch.waitFor((l) => / SYNCED /.test(l), 'SYNCED line');
      await ok('network', 'set', NET, '--name', 'before-stop');
      await watch.waitFor((l) => l.includes('name=before-stop'), 'MODIFIED line');
      await daemon.stop();
      const exit = await watch.exited;
      expect(exit.code).toBe(1);
      expect(watch.stderr).toMatch(/^xdpnet: the daemon ended the watch \(.+\); is it restarting\? check: systemctl status xdpnetd, then watch again with --initial\n$/);
    } finally {
      watch.kill();
      daemon.relaunch();
      await daemon.waitServing();
    }
  });
});
