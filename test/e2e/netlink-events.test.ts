// src/dataplane/netlink-events.ts on a real kernel.
//
// The subscription belongs to the network namespace of the process that
// opens it, so it runs in an agent process inside a test namespace (nsenter
// --net, which keeps /sys/fs/bpf and the repo visible). The agent runs the
// built code (dist/, from `make build`), as xdpnetd does, and reports every
// event over an IPC channel; the test changes links, neighbours, routes and
// addresses of that namespace with `ip` and checks what arrives, comparing
// with `ip -j` where the kernel assigns values (ifindex, MAC). The overflow
// test pauses the relay child (SIGSTOP) while the kernel queues more
// notifications than its socket holds.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import type { NetlinkEvent } from '../../src/dataplane/netlink-events.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type Topology, useTopology } from '../helpers/netns.js';

/** The sources the agent runs, compiled; a stale dist/ would test old code. */
const AGENT_SOURCES = ['netlink-events', 'netlink-relay', 'netlink-neighbor', 'rtnetlink'];

function assertBuilt(): void {
  for (const name of AGENT_SOURCES) {
    const src = statSync(join(REPO_ROOT, 'src/dataplane', `${name}.ts`)).mtimeMs;
    const out = statSync(join(REPO_ROOT, 'dist/dataplane', `${name}.js`), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (src > out) throw new Error(`dist/dataplane/${name}.js is older than its source: run make build`);
  }
}

/**
 * Runs in the namespace: opens the subscription, forwards events and log
 * lines, answers { op: 'relayPid' } and { op: 'close' }. argv: repo root,
 * receive buffer size, mode ('ipc', or for the exit test 'close' / 'keep').
 */
const AGENT = `
const [root, rcvbuf, mode] = process.argv.slice(1);
const { NetlinkEvents } = await import(root + '/dist/dataplane/netlink-events.js');
const send = (m) => process.send?.(m);
const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((level) => [level, (obj, msg) => send({ log: { level, msg } })]));
const events = await NetlinkEvents.open({ logger, recvBufferSize: Number(rcvbuf) });
if (mode === 'close') {
  events.close();
  console.log('closed');
} else if (mode === 'keep') {
  console.log('open');
} else {
  events.subscribe((event) => send({ event }));
  process.on('message', (cmd) => {
    if (cmd.op === 'relayPid') send({ id: cmd.id, result: events.relayPid });
    if (cmd.op === 'close') { events.close(); process.disconnect(); }
  });
  send({ ready: true });
}
`;

function agentArgv(rcvbuf: number, mode: string): string[] {
  return [process.execPath, '--input-type=module', '-e', AGENT, REPO_ROOT, String(rcvbuf), mode];
}

/** The agent, seen from the test: every event it reported, and a way to wait for one. */
class EventsAgent {
  readonly events: NetlinkEvent[] = [];
  readonly logs: Array<{ level: string; msg: string }> = [];
  private readonly waiters = new Set<() => void>();
  private nextId = 1;
  private readonly replies = new Map<number, (v: unknown) => void>();
  private output = '';

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.on('message', (m: { event?: NetlinkEvent; log?: { level: string; msg: string }; id?: number; result?: unknown }) => {
      if (m.event) this.events.push(m.event);
      if (m.log) this.logs.push(m.log);
      if (m.id !== undefined) this.replies.get(m.id)?.(m.result);
      for (const w of [...this.waiters]) w();
    });
  }

  static start(topo: Topology, ns: string, rcvbuf = 4 * 1024 * 1024): Promise<EventsAgent> {
    // Not topo.spawn(): that one has no IPC channel. The topology still kills it with the namespace.
    const args = [`--net=/run/netns/${topo.nsName(ns)}`, '--', ...agentArgv(rcvbuf, 'ipc')];
    const child = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
    const agent = new EventsAgent(child);
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(agent));
      child.once('exit', (code) => reject(new Error(`agent exited (${code}) before it was ready:\n${agent.output}`)));
    });
  }

  /** Waits for an event matching `pred` among those received from index `from` on. */
  waitFor(pred: (e: NetlinkEvent) => boolean, from = 0, timeoutMs = 10_000): Promise<NetlinkEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.events.slice(from).find(pred);
        if (!hit) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no matching event within ${timeoutMs} ms; got:\n${this.events.slice(from).map((e) => JSON.stringify(e)).join('\n')}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  request(op: string): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      this.child.send({ id, op });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    if (this.child.connected) this.child.send({ op: 'close' });
    const timer = setTimeout(() => { process.stderr.write(`agent did not exit: ${this.output}\n`); this.child.kill("SIGKILL"); }, 3_000);
    await exited;
    clearTimeout(timer);
  }
}

const isLink = (name: string, action: string) => (e: NetlinkEvent) => e.type === 'link' && e.link.name === name && e.action === action;

interface IpLink {
  ifindex: number;
  ifname: string;
  address: string;
}

describePrivileged('netlink events', ['netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('n', { disableIpv6: true });
      await t.addNamespace('o', { disableIpv6: true });
    },
  });
  let agent: EventsAgent | undefined;

  beforeAll(assertBuilt);
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  async function ipLink(ns: string, name: string): Promise<IpLink> {
    const { stdout } = await topology().exec(ns, ['ip', '-j', 'link', 'show', 'dev', name]);
    return (JSON.parse(stdout) as IpLink[])[0]!;
  }

  it('links: added, changed (MTU, up, MAC) and removed, with the kernel’s index and MAC', async () => {
    const t = topology();
    agent = await EventsAgent.start(t, 'n');
    await t.exec('n', ['ip', 'link', 'add', 'la0', 'type', 'veth', 'peer', 'name', 'la1']);
    const added = await agent.waitFor(isLink('la0', 'added'));
    const shown = await ipLink('n', 'la0');
    expect(added).toMatchObject({ link: { index: shown.ifindex, name: 'la0', mac: shown.address, mtu: 1500, up: false, kind: 'veth' } });

    let mark = agent.events.length;
    await t.exec('n', ['ip', 'link', 'set', 'la0', 'mtu', '1400']);
    const mtu = await agent.waitFor(isLink('la0', 'changed'), mark);
    expect(mtu).toMatchObject({ link: { mtu: 1400, up: false }, previous: { mtu: 1500 } });

    mark = agent.events.length;
    await t.exec('n', ['ip', 'link', 'set', 'la0', 'up']);
    expect(await agent.waitFor((e) => isLink('la0', 'changed')(e) && e.type === 'link' && e.link.up, mark)).toMatchObject({
      previous: { up: false },
    });

    mark = agent.events.length;
    await t.exec('n', ['ip', 'link', 'set', 'la0', 'address', '02:00:00:00:1a:00']);
    expect(await agent.waitFor((e) => isLink('la0', 'changed')(e) && e.type === 'link' && e.link.mac === '02:00:00:00:1a:00', mark)).toMatchObject({
      link: { index: shown.ifindex, mac: '02:00:00:00:1a:00' },
      previous: { mac: shown.address },
    });

    // The kernel sent more RTM_NEWLINKs than that (carrier, operstate): those change nothing we report.
    mark = agent.events.length;
    const changes = agent.events.filter((e) => e.type === 'link' && e.action === 'changed' && e.link.name === 'la0');
    expect(changes).toHaveLength(3);

    await t.exec('n', ['ip', 'link', 'del', 'la0']);
    expect(await agent.waitFor(isLink('la0', 'removed'), mark)).toMatchObject({ link: { index: shown.ifindex } });
    await agent.waitFor(isLink('la1', 'removed'), mark); // the peer goes too
  });

  it('neighbours: new and deleted, with ifindex, address, MAC, state and the managed flag', async () => {
    const t = topology();
    await t.exec('n', ['ip', 'link', 'add', 'nb0', 'type', 'veth', 'peer', 'name', 'nb1']);
    await t.exec('n', ['ip', 'link', 'set', 'nb0', 'up']);
    await t.exec('n', ['ip', 'addr', 'add', '10.71.0.1/24', 'dev', 'nb0']);
    const { ifindex } = await ipLink('n', 'nb0');
    agent = await EventsAgent.start(t, 'n');

    await t.exec('n', ['ip', 'neigh', 'add', '10.71.0.7', 'lladdr', '02:00:00:00:07:07', 'dev', 'nb0', 'nud', 'permanent']);
    const added = await agent.waitFor((e) => e.type === 'neighbor' && e.neighbor.ip === '10.71.0.7' && e.action === 'new');
    expect(added).toMatchObject({
      neighbor: { ifindex, ip: '10.71.0.7', mac: '02:00:00:00:07:07', state: ['permanent'], valid: true, managed: false, protocol: 0 },
    });

    // A managed entry for an address nobody answers: the kernel tries, and says so.
    await t.exec('n', ['ip', 'neigh', 'add', '10.71.0.8', 'dev', 'nb0', 'managed', 'protocol', '120']);
    const managed = await agent.waitFor((e) => e.type === 'neighbor' && e.neighbor.ip === '10.71.0.8');
    expect(managed).toMatchObject({ action: 'new', neighbor: { ifindex, managed: true, protocol: 120, valid: false, mac: undefined } });

    // The kernel marks a deleted entry FAILED before it goes, so the deletion carries no MAC.
    const mark = agent.events.length;
    await t.exec('n', ['ip', 'neigh', 'del', '10.71.0.7', 'dev', 'nb0']);
    expect(await agent.waitFor((e) => e.type === 'neighbor' && e.action === 'deleted', mark)).toMatchObject({
      neighbor: { ifindex, ip: '10.71.0.7', valid: false },
    });
    await t.exec('n', ['ip', 'link', 'del', 'nb0']);
  });

  it('routes and addresses: new and deleted, IPv4 only', async () => {
    const t = topology();
    await t.exec('n', ['ip', 'link', 'add', 'rt0', 'type', 'veth', 'peer', 'name', 'rt1']);
    await t.exec('n', ['ip', 'link', 'set', 'rt0', 'up']);
    const { ifindex } = await ipLink('n', 'rt0');
    agent = await EventsAgent.start(t, 'n');

    await t.exec('n', ['ip', 'addr', 'add', '10.72.0.1/24', 'dev', 'rt0']);
    expect(await agent.waitFor((e) => e.type === 'address')).toMatchObject({
      action: 'new',
      address: { ifindex, address: '10.72.0.1', prefixLen: 24, cidr: '10.72.0.1/24' },
    });
    await t.exec('n', ['ip', 'route', 'add', '10.73.0.0/16', 'via', '10.72.0.9']);
    const route = await agent.waitFor((e) => e.type === 'route' && e.route.dst === '10.73.0.0/16');
    expect(route).toMatchObject({ action: 'new', route: { gateway: '10.72.0.9', ifindex, table: 254, type: 'UNICAST' } });

    let mark = agent.events.length;
    await t.exec('n', ['ip', 'route', 'del', '10.73.0.0/16']);
    expect(await agent.waitFor((e) => e.type === 'route' && e.route.dst === '10.73.0.0/16', mark)).toMatchObject({ action: 'deleted' });

    // IPv6 changes are not reported (the namespace has IPv6 off; this link gets it back on for the test).
    mark = agent.events.length;
    await t.exec('n', ['sysctl', '-q', '-w', 'net.ipv6.conf.rt0.disable_ipv6=0']);
    await t.exec('n', ['ip', '-6', 'addr', 'add', 'fd00:72::1/64', 'dev', 'rt0', 'nodad']);
    await t.exec('n', ['ip', 'addr', 'del', '10.72.0.1/24', 'dev', 'rt0']);
    await agent.waitFor((e) => e.type === 'address' && e.action === 'deleted', mark);
    const seen = agent.events.slice(mark);
    expect(seen.filter((e) => e.type === 'address').map((e) => e.type === 'address' && e.address.address)).toEqual(['10.72.0.1']);
    expect(seen.some((e) => e.type === 'route' && e.route.dst.includes(':'))).toBe(false);
    await t.exec('n', ['ip', 'link', 'del', 'rt0']);
  });

  it('only the namespace of the subscribing process is reported', async () => {
    const t = topology();
    agent = await EventsAgent.start(t, 'n');
    await t.exec('o', ['ip', 'link', 'add', 'elsewhere0', 'type', 'veth', 'peer', 'name', 'elsewhere1']);
    await t.exec('n', ['ip', 'link', 'add', 'here0', 'type', 'veth', 'peer', 'name', 'here1']);
    // Events arrive in order, so once 'here0' is in, 'elsewhere0' would have been too.
    await agent.waitFor(isLink('here0', 'added'));
    expect(agent.events.some((e) => e.type === 'link' && e.link.name.startsWith('elsewhere'))).toBe(false);
    await t.exec('n', ['ip', 'link', 'del', 'here0']);
    await t.exec('o', ['ip', 'link', 'del', 'elsewhere0']);
  });

  it('survives a socket overflow: one resync event, then events flow again', async () => {
    const t = topology();
    await t.exec('n', ['ip', 'link', 'add', 'ov0', 'type', 'veth', 'peer', 'name', 'ov1']);
    await t.exec('n', ['ip', 'link', 'set', 'ov0', 'up']);
    await t.exec('n', ['ip', 'addr', 'add', '10.74.0.1/16', 'dev', 'ov0']);
    // The smallest buffer the kernel grants (it doubles the request: 8 KiB), so a few hundred notifications overflow it.
    agent = await EventsAgent.start(t, 'n', 4096);
    const relay = (await agent.request('relayPid')) as number;
    // 600 notifications of ~100 bytes: several times what the socket holds.
    const dir = mkdtempSync(join(tmpdir(), 'xdpnet-nl-'));
    const batch = join(dir, 'neigh.batch');
    const lines = Array.from({ length: 600 }, (_, i) => `neigh add 10.74.${1 + Math.floor(i / 200)}.${1 + (i % 200)} lladdr 02:00:00:74:00:01 dev ov0 nud permanent`);
    writeFileSync(batch, `${lines.join('\n')}\n`);
    process.kill(relay, 'SIGSTOP'); // nothing reads the socket while the kernel fills it
    try {
      await t.exec('n', ['ip', '-batch', batch]);
    } finally {
      process.kill(relay, 'SIGCONT');
      rmSync(dir, { recursive: true, force: true });
    }
    const resync = await agent.waitFor((e) => e.type === 'resync');
    expect(resync).toMatchObject({ reason: expect.stringMatching(/overflow/) });
    expect(agent.events.filter((e) => e.type === 'resync')).toHaveLength(1);
    expect(agent.logs.some((l) => l.level === 'warn' && /overflow/.test(l.msg))).toBe(true);
    expect(await agent.request('relayPid')).not.toBe(relay);

    const mark = agent.events.length;
    await t.exec('n', ['ip', 'link', 'set', 'ov0', 'mtu', '1300']);
    expect(await agent.waitFor(isLink('ov0', 'changed'), mark)).toMatchObject({ link: { mtu: 1300 }, previous: { mtu: 1500 } });
    await t.exec('n', ['ip', 'link', 'del', 'ov0']);
  });

  it('keeps the process alive while open, and not after close()', async () => {
    const t = topology();
    const closing = t.spawn('n', agentArgv(65536, 'close'));
    await closing.waitFor(/closed/);
    const exit = await Promise.race([closing.exited, new Promise((r) => setTimeout(() => r('still running'), 5_000))]);
    expect(exit).toEqual({ code: 0, signal: null });

    // The control: the same process without close() does not exit by itself.
    const keeping = t.spawn('n', agentArgv(65536, 'keep'));
    await keeping.waitFor(/open/);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(keeping.running).toBe(true);
    await keeping.stop();
  });
});
