// src/dataplane/nexthops.ts on a real kernel: underlay next hops of remote
// VTEPs resolved from real routes and real ARP, written into the
// xdpnet_nexthops map of the compiled xdp_port object.
//
//        node ──eth0── br0 (ns sw) ──┬── peer  10.61.0.2   on-link VTEP
//     10.61.0.1                      ├── gw    10.61.0.3   gateway to 10.63.0.0/24
//                                    └── late  10.61.0.4   (and addresses added later)
//        node ──eth1── other 10.62.0.2                     gateway to 10.64.0.0/24 (not the underlay)
//        node: 10.64.0.0/16 via gw, blackhole 10.65.0.0/24, no default route
//
// UnderlayNexthops runs in an agent process inside `node` (nsenter --net, so
// the pinned map is visible) with the built code (dist/), driven over IPC.
// The test reads the map through its own handle, and the kernel's neighbour
// table with `ip -j -d neigh`. The agents run with the periodic refresh off
// unless a test says otherwise: what they resolve, events and the kernel
// resolved. Neighbour timers of node's eth0 are shortened so that a silent
// neighbour fails in seconds (the managed re-probe period, 5 s, is a global
// default and is left alone).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type LoadedObject, TypedMap, ensureBpffs, loadObject } from '../../src/dataplane/index.js';
import { ipv4 } from '../../src/dataplane/codec.js';
import { type VtepNexthop, vtepNexthop } from '../../src/dataplane/layouts.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import type { NexthopSnapshot, NexthopStatus } from '../../src/dataplane/nexthops.js';
import { objectPath } from '../helpers/bpf.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type Topology, useTopology } from '../helpers/netns.js';

const AGENT_SOURCES = [
  'nexthops',
  'nexthop-map',
  'nexthop-neighbors',
  'nexthop-resolve',
  'netlink-events',
  'netlink-relay',
  'netlink-neighbor',
  'rtnetlink',
  'maps',
  'codec',
  'layouts',
];

/** A stale dist/ would test old code. */
function assertBuilt(): void {
  for (const name of AGENT_SOURCES) {
    const src = statSync(join(REPO_ROOT, 'src/dataplane', `${name}.ts`)).mtimeMs;
    const out = statSync(join(REPO_ROOT, 'dist/dataplane', `${name}.js`), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (src > out) throw new Error(`dist/dataplane/${name}.js is older than its source: run make build`);
  }
}

const MAC = {
  node: '02:00:0a:3d:00:01',
  peer: '02:00:0a:3d:00:02',
  gw: '02:00:0a:3d:00:03',
  late: '02:00:0a:3d:00:04',
};

/**
 * Runs in `node`. argv: repo root, map pin path, underlay name, resolution
 * mode, refresh interval (ms), mode ('ipc', or for the exit test 'close' /
 * 'keep' with a VTEP to resolve first). Over IPC it answers
 * { id, op: want | retainOnly | refresh | snapshot } and forwards log lines.
 */
const AGENT = `
const [root, pin, underlay, resolution, refreshMs, mode, vtep] = process.argv.slice(1);
const dp = await import(root + '/dist/dataplane/index.js');
const { UnderlayNexthops } = await import(root + '/dist/dataplane/nexthops.js');
const send = (m) => process.send?.(m);
const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((level) => [level, (obj, msg) => send({ log: { level, msg, obj: JSON.stringify(obj) } })]));
const map = dp.BpfMap.openPinned(pin);
const nh = await UnderlayNexthops.start({ map, underlayInterface: underlay, logger, resolution, refreshIntervalMs: Number(refreshMs) });
if (mode === 'ipc') {
  process.on('message', async ({ id, op, args }) => {
    try {
      let result;
      if (op === 'want') nh.want(args);
      else if (op === 'retainOnly') nh.retainOnly(new Set(args));
      else if (op === 'refresh') await nh.refresh();
      else if (op === 'snapshot') result = nh.snapshot();
      else if (op === 'close') { nh.close(); map.close(); process.disconnect(); return; }
      send({ id, result });
    } catch (err) {
      send({ id, error: String(err && err.stack || err) });
    }
  });
  send({ ready: true });
} else {
  nh.want([vtep]);
  while (nh.snapshot().vteps[0].state !== 'resolved') await new Promise((r) => setTimeout(r, 50));
  console.log('resolved');
  if (mode === 'close') {
    nh.close();
    map.close();
    console.log('closed');
  }
}
`;

interface AgentOptions {
  resolution?: 'managed' | 'use';
  refreshMs?: number;
}

function agentArgv(topo: Topology, opts: AgentOptions, mode: string, vtep = ''): string[] {
  const pin = join(topo.bpffsDir, 'xdpnet_nexthops');
  return [process.execPath, '--input-type=module', '-e', AGENT, REPO_ROOT, pin, 'eth0', opts.resolution ?? 'managed', String(opts.refreshMs ?? 0), mode, vtep];
}

class NexthopsAgent {
  readonly logs: Array<{ level: string; msg: string; obj: string }> = [];
  private nextId = 1;
  private readonly replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private output = '';

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.on('message', (m: { log?: NexthopsAgent['logs'][number]; id?: number; result?: unknown; error?: string }) => {
      if (m.log) this.logs.push(m.log);
      if (m.id === undefined) return;
      const reply = this.replies.get(m.id);
      this.replies.delete(m.id);
      if (m.error !== undefined) reply?.reject(new Error(m.error));
      else reply?.resolve(m.result);
    });
  }

  static start(topo: Topology, opts: AgentOptions = {}): Promise<NexthopsAgent> {
    // Not topo.spawn(): that one has no IPC channel. The topology still kills it with the namespace.
    const args = [`--net=/run/netns/${topo.nsName('node')}`, '--', ...agentArgv(topo, opts, 'ipc')];
    const child = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
    const agent = new NexthopsAgent(child);
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(agent));
      child.once('exit', (code) => reject(new Error(`agent exited (${code}) before it was ready:\n${agent.output}`)));
    });
  }

  private call(op: string, args?: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      this.child.send({ id, op, args });
    });
  }

  want(vteps: string[]): Promise<unknown> {
    return this.call('want', vteps);
  }
  retainOnly(vteps: string[]): Promise<unknown> {
    return this.call('retainOnly', vteps);
  }
  refresh(): Promise<unknown> {
    return this.call('refresh');
  }
  async snapshot(): Promise<NexthopSnapshot> {
    return (await this.call('snapshot')) as NexthopSnapshot;
  }
  async status(vtep: string): Promise<NexthopStatus | undefined> {
    return (await this.snapshot()).vteps.find((v) => v.vtep === vtep);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    if (this.child.connected) this.child.send({ op: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Retries `check` until it stops throwing, for at most `timeoutMs`. */
async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface IpNeigh {
  dst: string;
  lladdr?: string;
  state?: string[];
  managed?: null;
  protocol?: string;
}

describePrivileged('underlay next hops', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      for (const ns of ['sw', 'node', 'peer', 'gw', 'late', 'other']) await t.addNamespace(ns, { disableIpv6: true });
      await t.exec('sw', ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
      await t.exec('sw', ['ip', 'link', 'set', 'br0', 'up']);
      const hosts: Array<[string, string, string]> = [
        ['node', '10.61.0.1/24', MAC.node],
        ['peer', '10.61.0.2/24', MAC.peer],
        ['gw', '10.61.0.3/24', MAC.gw],
        ['late', '10.61.0.4/24', MAC.late],
      ];
      for (const [ns, ip, mac] of hosts) {
        await t.addVeth({ a: { ns, name: 'eth0', ip, mac }, b: { ns: 'sw', name: `p-${ns}` } });
        await t.exec('sw', ['ip', 'link', 'set', `p-${ns}`, 'master', 'br0']);
      }
      await t.addVeth({ a: { ns: 'node', name: 'eth1', ip: '10.62.0.1/24' }, b: { ns: 'other', name: 'eth0', ip: '10.62.0.2/24' } });
      await t.exec('node', ['ip', 'route', 'add', '10.63.0.0/24', 'via', '10.61.0.3']);
      await t.exec('node', ['ip', 'route', 'add', '10.64.0.0/24', 'via', '10.62.0.2']);
      await t.exec('node', ['ip', 'route', 'add', '10.64.0.0/16', 'via', '10.61.0.3']);
      await t.exec('node', ['ip', 'route', 'add', 'blackhole', '10.65.0.0/24']);
      // A neighbour that stops answering is FAILED within seconds instead of a minute.
      await t.exec('node', [
        'sysctl', '-q', '-w',
        'net.ipv4.neigh.eth0.base_reachable_time_ms=1000',
        'net.ipv4.neigh.eth0.delay_first_probe_time=1',
        'net.ipv4.neigh.eth0.retrans_time_ms=300',
        'net.ipv4.neigh.eth0.ucast_solicit=1',
        'net.ipv4.neigh.eth0.mcast_solicit=2',
      ]);
    },
  });
  let obj: LoadedObject | undefined;
  let map: TypedMap<string, VtepNexthop>;
  let agent: NexthopsAgent | undefined;
  let nodeIfindex: number;

  beforeAll(async () => {
    assertBuilt();
    ensureBpffs();
    mkdirSync(topology().bpffsDir, { recursive: true });
    obj = await loadObject(objectPath('xdp_port'), {
      maps: { xdpnet_nexthops: { pinPath: join(topology().bpffsDir, 'xdpnet_nexthops') } },
    });
    map = new TypedMap(obj.map('xdpnet_nexthops'), ipv4, vtepNexthop);
    const { stdout } = await topology().exec('node', ['ip', '-j', 'link', 'show', 'dev', 'eth0']);
    nodeIfindex = (JSON.parse(stdout) as Array<{ ifindex: number }>)[0]!.ifindex;
  });
  afterAll(() => obj?.close());
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    for (const [k] of [...map.entries()]) map.delete(k);
  });

  async function neighbours(): Promise<IpNeigh[]> {
    const { stdout } = await topology().exec('node', ['ip', '-j', '-d', '-4', 'neigh', 'show', 'dev', 'eth0']);
    return JSON.parse(stdout || '[]') as IpNeigh[];
  }
  const neighbour = async (ip: string) => (await neighbours()).find((n) => n.dst === ip);

  function entryOf(dstMac: string, srcMac = MAC.node): VtepNexthop {
    return { dst_mac: dstMac, src_mac: srcMac, ifindex: nodeIfindex };
  }

  it('an on-link VTEP resolves to its own MAC, one behind a gateway to the gateway’s; the kernel ARPs for both', async () => {
    const t = topology();
    expect(await neighbour('10.61.0.2')).toBeUndefined(); // never seen: nobody but us makes the kernel ARP
    agent = await NexthopsAgent.start(t);
    await agent.want(['10.61.0.2', '10.63.0.7']);
    await eventually(() => {
      expect(map.get('10.61.0.2')).toEqual(entryOf(MAC.peer));
      expect(map.get('10.63.0.7')).toEqual(entryOf(MAC.gw));
    });
    const snap = await agent.snapshot();
    expect(snap).toMatchObject({ underlay: { name: 'eth0', ifindex: nodeIfindex, mac: MAC.node }, resolution: 'managed' });
    expect(snap.vteps).toEqual([
      expect.objectContaining({ vtep: '10.61.0.2', state: 'resolved', dstMac: MAC.peer, srcMac: MAC.node, gateway: null }),
      expect.objectContaining({ vtep: '10.63.0.7', state: 'resolved', dstMac: MAC.gw, gateway: '10.61.0.3' }),
    ]);
    // Both next hops are managed entries marked as ours; the gateway's VTEP itself is not a neighbour.
    for (const ip of ['10.61.0.2', '10.61.0.3']) {
      expect(await neighbour(ip)).toMatchObject({ lladdr: ip.endsWith('.2') ? MAC.peer : MAC.gw, managed: null, protocol: '120' });
    }
    expect(await neighbour('10.63.0.7')).toBeUndefined();

    // Nothing changed, so a full refresh compares the map and writes nothing.
    const writes = snap.mapWrites;
    await agent.refresh();
    expect((await agent.snapshot()).mapWrites).toBe(writes);
    expect(writes).toBe(2);
  });

  it('a next hop that does not answer yet is resolved by the kernel as soon as it does', async () => {
    const t = topology();
    agent = await NexthopsAgent.start(t);
    await agent.want(['10.61.0.5']); // nobody has this address yet
    const status = await eventually(async () => {
      const s = await agent!.status('10.61.0.5');
      expect(s).toMatchObject({ state: 'unresolved', reason: expect.stringMatching(/10\.61\.0\.5 on eth0 is (failed|incomplete)/) });
      return s;
    });
    expect(status).toBeDefined();
    expect(map.get('10.61.0.5')).toBeUndefined();

    // No refresh, no call: the managed entry is re-probed by the kernel, and the event does the rest.
    await t.exec('late', ['ip', 'addr', 'add', '10.61.0.5/24', 'dev', 'eth0']);
    await eventually(() => expect(map.get('10.61.0.5')).toEqual(entryOf(MAC.late)), 20_000);
    await t.exec('late', ['ip', 'addr', 'del', '10.61.0.5/24', 'dev', 'eth0']);
  });

  it('follows the peer’s new MAC, a route change and the underlay’s own new MAC', async () => {
    const t = topology();
    agent = await NexthopsAgent.start(t);
    await agent.want(['10.61.0.2', '10.63.0.8']);
    await eventually(() => expect(map.get('10.61.0.2')).toEqual(entryOf(MAC.peer)));
    await eventually(() => expect(map.get('10.63.0.8')).toEqual(entryOf(MAC.gw)));

    // The peer changes its MAC and talks to us: the kernel learns it from the ARP, and so do we.
    const newPeerMac = '02:00:0a:3d:00:22';
    try {
      await t.exec('peer', ['ip', 'link', 'set', 'eth0', 'address', newPeerMac]);
      await t.exec('peer', ['ip', 'neigh', 'flush', 'dev', 'eth0']);
      expect(await t.ping('peer', '10.61.0.1')).toBe(1);
      await eventually(() => expect(map.get('10.61.0.2')).toEqual(entryOf(newPeerMac)));
    } finally {
      // And back, the same way, so that the next tests find the peer as it was.
      await t.exec('peer', ['ip', 'link', 'set', 'eth0', 'address', MAC.peer]);
      await t.exec('peer', ['ip', 'neigh', 'flush', 'dev', 'eth0']);
      await t.ping('peer', '10.61.0.1');
    }
    await eventually(() => expect(map.get('10.61.0.2')).toEqual(entryOf(MAC.peer)));

    // The gateway of 10.63.0.0/24 becomes the peer.
    await t.exec('node', ['ip', 'route', 'replace', '10.63.0.0/24', 'via', '10.61.0.2']);
    try {
      await eventually(() => expect(map.get('10.63.0.8')).toEqual(entryOf(MAC.peer)));
      expect(await agent.status('10.63.0.8')).toMatchObject({ state: 'resolved', gateway: '10.61.0.2' });
    } finally {
      await t.exec('node', ['ip', 'route', 'replace', '10.63.0.0/24', 'via', '10.61.0.3']);
    }
    await eventually(() => expect(map.get('10.63.0.8')).toEqual(entryOf(MAC.gw)));

    // The underlay's own MAC changes: every entry's source MAC follows.
    const newNodeMac = '02:00:0a:3d:00:11';
    try {
      await t.exec('node', ['ip', 'link', 'set', 'eth0', 'address', newNodeMac]);
      await eventually(() => {
        expect(map.get('10.63.0.8')).toEqual(entryOf(MAC.gw, newNodeMac));
        expect(map.get('10.61.0.2')?.src_mac).toBe(newNodeMac);
      });
    } finally {
      await t.exec('node', ['ip', 'link', 'set', 'eth0', 'address', MAC.node]);
    }
  });

  it('a VTEP routed out of another interface, or not routed at all, gets no entry and says why', async () => {
    const t = topology();
    agent = await NexthopsAgent.start(t);
    await agent.want(['10.64.0.7', '10.99.0.1', '10.61.0.1', '10.65.0.1']);
    await eventually(async () => {
      const snap = await agent!.snapshot();
      expect(snap.vteps).toEqual([
        { vtep: '10.61.0.1', state: 'unresolved', reason: '10.61.0.1 is an address of this host' },
        {
          vtep: '10.64.0.7',
          state: 'unresolved',
          reason: expect.stringMatching(/leaves through eth1 \(ifindex \d+\), not the underlay eth0/),
        },
        { vtep: '10.65.0.1', state: 'unresolved', reason: 'the route to the VTEP is a blackhole' },
        { vtep: '10.99.0.1', state: 'unresolved', reason: 'no route to the VTEP' },
      ]);
    });
    expect([...map.entries()]).toEqual([]);
    expect(agent.logs.filter((l) => l.level === 'warn' && l.obj.includes('10.64.0.7'))).toEqual([
      expect.objectContaining({ msg: expect.stringMatching(/unresolved/), obj: expect.stringMatching(/eth1/) }),
    ]);

    // eth1 goes down: the kernel drops its routes without telling (no route
    // event), the /16 through the underlay's gateway takes over, and the
    // link event is what makes the VTEP resolve.
    await t.exec('node', ['ip', 'link', 'set', 'eth1', 'down']);
    try {
      await eventually(() => expect(map.get('10.64.0.7')).toEqual(entryOf(MAC.gw)));
      expect(await agent.status('10.64.0.7')).toMatchObject({ state: 'resolved', gateway: '10.61.0.3' });
    } finally {
      await t.exec('node', ['ip', 'link', 'set', 'eth1', 'up']);
      await t.exec('node', ['ip', 'route', 'replace', '10.64.0.0/24', 'via', '10.62.0.2']);
    }
    await eventually(() => expect(map.get('10.64.0.7')).toBeUndefined());
  });

  it('retainOnly removes the other entries, entries nobody wanted, and the neighbours it made', async () => {
    const t = topology();
    agent = await NexthopsAgent.start(t);
    map.set('10.70.0.1', entryOf('02:00:00:00:70:01')); // left by "a previous run"
    await agent.want(['10.61.0.2', '10.63.0.9', '10.61.0.4']);
    await eventually(() => {
      expect(map.get('10.61.0.2')).toEqual(entryOf(MAC.peer));
      expect(map.get('10.63.0.9')).toEqual(entryOf(MAC.gw));
      expect(map.get('10.61.0.4')).toEqual(entryOf(MAC.late));
    });
    expect(await neighbour('10.61.0.4')).toMatchObject({ protocol: '120' });
    expect(map.get('10.70.0.1')).toBeDefined(); // not ours to delete until retainOnly says what is wanted

    await agent.retainOnly(['10.61.0.2']);
    // The map is pruned by the time the call returns.
    expect([...map.entries()].map(([k]) => k)).toEqual(['10.61.0.2']);
    expect((await agent.snapshot()).vteps.map((v) => v.vtep)).toEqual(['10.61.0.2']);
    // The neighbours made for the others go (in the background); the one still used stays.
    await eventually(async () => {
      expect(await neighbour('10.61.0.3')).toBeUndefined();
      expect(await neighbour('10.61.0.4')).toBeUndefined();
    });
    expect(await neighbour('10.61.0.2')).toMatchObject({ managed: null, protocol: '120' });
  });

  it('a next hop that stops answering loses its entry, and gets it back when it answers again', async () => {
    const t = topology();
    agent = await NexthopsAgent.start(t);
    await agent.want(['10.61.0.4']);
    await eventually(() => expect(map.get('10.61.0.4')).toEqual(entryOf(MAC.late)));
    await t.exec('late', ['ip', 'link', 'set', 'eth0', 'down']);
    try {
      // Reachable ends, the kernel's probes go unanswered: FAILED, and the program drops (counted) instead.
      await eventually(() => expect(map.get('10.61.0.4')).toBeUndefined(), 20_000);
      expect(await agent.status('10.61.0.4')).toMatchObject({ state: 'unresolved', reason: expect.stringMatching(/failed/) });
      expect(agent.logs.some((l) => l.level === 'warn' && l.obj.includes('10.61.0.4'))).toBe(true);
    } finally {
      await t.exec('late', ['ip', 'link', 'set', 'eth0', 'up']);
    }
    await eventually(() => expect(map.get('10.61.0.4')).toEqual(entryOf(MAC.late)), 20_000);
  });

  it('without managed neighbours (the NTF_USE fallback) a never-seen next hop is resolved too', async () => {
    const t = topology();
    await t.exec('late', ['ip', 'addr', 'add', '10.61.0.6/24', 'dev', 'eth0']);
    try {
      expect(await neighbour('10.61.0.6')).toBeUndefined();
      agent = await NexthopsAgent.start(t, { resolution: 'use' });
      await agent.want(['10.61.0.6']);
      await eventually(() => expect(map.get('10.61.0.6')).toEqual(entryOf(MAC.late)));
      expect((await agent.snapshot()).resolution).toBe('use');
      const entry = await neighbour('10.61.0.6');
      expect(entry).toMatchObject({ lladdr: MAC.late, protocol: '120' });
      expect(entry).not.toHaveProperty('managed');
    } finally {
      await t.exec('late', ['ip', 'addr', 'del', '10.61.0.6/24', 'dev', 'eth0']);
    }
  });

  it('the periodic refresh repairs an entry changed behind its back', async () => {
    const t = topology();
    agent = await NexthopsAgent.start(t, { refreshMs: 300 });
    await agent.want(['10.61.0.2']);
    await eventually(() => expect(map.get('10.61.0.2')).toEqual(entryOf(MAC.peer)));
    map.set('10.61.0.2', entryOf('02:00:00:00:00:66'));
    await eventually(() => expect(map.get('10.61.0.2')).toEqual(entryOf(MAC.peer)), 5_000);
  });

  it('keeps the process alive while running, and not after close()', async () => {
    const t = topology();
    const closing = t.spawn('node', agentArgv(t, {}, 'close', '10.61.0.2'));
    await closing.waitFor(/closed/);
    expect(await Promise.race([closing.exited, new Promise((r) => setTimeout(() => r('still running'), 5_000))])).toEqual({
      code: 0,
      signal: null,
    });

    const keeping = t.spawn('node', agentArgv(t, {}, 'keep', '10.61.0.2'));
    await keeping.waitFor(/resolved/);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(keeping.running).toBe(true);
    await keeping.stop();
  });
});
