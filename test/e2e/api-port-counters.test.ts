// GetPortCounters and `xdpnet stats ports`.
//
// Against a real daemon with the fake dataplane (no root needed): what the
// request may name (syntax, existence, binding, checked in that order) and
// that the fake dataplane says it counts nothing instead of answering zeros.
//
// In process, on real BPF maps (root): the daemon's API context
// (src/daemon/api-context.ts) with `dataplane: bpf` and its bpffs root
// pointing at maps pinned the way the daemon pins them, filled by running
// xdp_port (BPF_PROG_RUN) on the overlay test world. The answer must carry
// exactly what the programs counted, per port UUID, in the order the request
// asks for; the CLI prints the same. The daemon's own loading and pinning of
// the overlay is tested elsewhere: here the maps are pinned by the test, so
// the reading path is checked independently of how the daemon fills them.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/api/client.js';
import { ApiServer } from '../../src/api/server.js';
import { type Config, parseConfig } from '../../src/daemon/config.js';
import { createApiContext } from '../../src/daemon/api-context.js';
import { type LoadedObject, loadObject } from '../../src/dataplane/index.js';
import { PORT_STATS_MAP_NAME } from '../../src/dataplane/layouts.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { FakeDataplane } from '../../src/reconciler/fake-dataplane.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { DesiredState } from '../../src/store/desired-state.js';
import { type Api, api, expectRejected, nextPrefix, portOn, rejectionOf, subnetOf, vxlanNetwork } from '../helpers/api.js';
import { objectPath } from '../helpers/bpf.js';
import { TestDaemon } from '../helpers/daemon.js';
import { eth } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';
import { BROADCAST, type IfName, MAC, OVERLAY_LOAD, installWorld, testId, useOverlayPorts } from '../bpf/overlay-world.js';

const BIN = join(REPO_ROOT, 'bin/xdpnet');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI against `socket`; never rejects. */
function xdpnet(socket: string, ...args: string[]): Promise<CliResult> {
  const env = { ...process.env };
  delete env['XDPNET_SOCKET'];
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--socket', socket, ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A network with a subnet, and ports on it bound locally, to another node, and to none. */
async function portsOfEveryBinding(a: Api): Promise<{ local: string; remote: string; unbound: string }> {
  const net = await a.createNetwork(vxlanNetwork());
  const prefix = nextPrefix();
  const sub = await a.createSubnet(subnetOf(net.id, prefix));
  const port = (n: number, over: pb.Port) => a.createPort(portOn(net.id, sub.id, `${prefix}.${n}`, over));
  const local = await port(10, { local: { interfaceName: `tap-pc-${process.pid % 100000}` } });
  const remote = await port(11, { remote: { vtepIp: '192.0.2.77' } });
  const unbound = await port(12, {});
  return { local: local.id, remote: remote.id, unbound: unbound.id };
}

// ---------------------------------------------------------------- a real daemon, fake dataplane

describe('GetPortCounters on a daemon with the fake dataplane', () => {
  let daemon: TestDaemon;
  let a: Api;
  let ports: { local: string; remote: string; unbound: string };
  const unknown = '00000000-0000-4000-8000-00000000abcd';

  beforeAll(async () => {
    daemon = await TestDaemon.start();
    try {
      await daemon.waitServing();
      a = api(daemon.client());
      ports = await portsOfEveryBinding(a);
    } catch (err) {
      await daemon.cleanup();
      throw err;
    }
  });
  afterAll(async () => {
    await daemon?.cleanup();
  });

  it('a malformed id is INVALID_ARGUMENT naming its index, before any id is looked up', async () => {
    await expectRejected(a.portCounters(['not-a-uuid']), grpc.status.INVALID_ARGUMENT, 'port_ids[0]');
    // The unknown port comes first, yet the malformed one is what is reported.
    await expectRejected(a.portCounters([unknown, ports.local, '']), grpc.status.INVALID_ARGUMENT, 'port_ids[2]');
  });

  it('an unknown port is NOT_FOUND, naming it', async () => {
    const err = await expectRejected(a.portCounters([ports.local, unknown]), grpc.status.NOT_FOUND, 'port_ids[1]');
    expect(err.details).toBe(`port_ids[1]: no port ${unknown}`);
  });

  it('a port bound to another node is FAILED_PRECONDITION, saying which node (its VTEP) holds its counters', async () => {
    const err = await expectRejected(a.portCounters([ports.local, ports.remote]), grpc.status.FAILED_PRECONDITION, 'port_ids[1]');
    expect(err.details).toBe(`port_ids[1]: port ${ports.remote} is bound to the node with VTEP 192.0.2.77, not this one: its counters are kept there`);
  });

  it('a port bound to no node is FAILED_PRECONDITION, saying so', async () => {
    const err = await expectRejected(a.portCounters([ports.unbound]), grpc.status.FAILED_PRECONDITION, 'port_ids[0]');
    expect(err.details).toBe(`port_ids[0]: port ${ports.unbound} is not bound to any node: no node counts its traffic`);
  });

  it('a port named twice is reported where it was first named (ids compare case-insensitively)', async () => {
    const err = await expectRejected(
      a.portCounters([ports.local, ports.remote.toUpperCase(), ports.remote]),
      grpc.status.FAILED_PRECONDITION,
      'port_ids[1]',
    );
    expect(err.details).toContain(`port ${ports.remote} is bound`);
  });

  it('valid requests get FAILED_PRECONDITION from the fake dataplane, not zeros that would look measured', async () => {
    for (const ids of [[], [ports.local], [ports.local.toUpperCase(), ports.local]]) {
      const err = await rejectionOf(a.portCounters(ids));
      expect(grpc.status[err.code], JSON.stringify(ids)).toBe('FAILED_PRECONDITION');
      expect(err.details).toBe('the fake dataplane (dataplane: fake) forwards nothing and keeps no per-port counters');
      // Not about a field of the request.
      expect(err.metadata.get('xdpnet-field')).toEqual([]);
    }
  });

  it('xdpnet stats ports prints the daemon’s refusal and exits 1', async () => {
    const refused = await xdpnet(daemon.socket, 'stats', 'ports');
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr: 'xdpnet: FAILED_PRECONDITION: the fake dataplane (dataplane: fake) forwards nothing and keeps no per-port counters\n',
    });
    const malformed = await xdpnet(daemon.socket, 'stats', 'ports', ports.local, 'bogus');
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/^xdpnet: INVALID_ARGUMENT: port_ids\[1\]: .+\n$/);
  });
});

// ---------------------------------------------------------------- in process, real BPF maps

describePrivileged('GetPortCounters on pinned BPF maps', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  let dir: string;
  let obj: LoadedObject;
  let state: DesiredState;
  let reconciler: Reconciler;
  const servers: ApiServer[] = [];
  const clients: grpc.Client[] = [];

  /**
   * Starts the daemon's API (its own context code) in this process, with the
   * configuration `dataplane: bpf` and `bpffs_root: bpffsRoot`, on a socket named `name`.
   */
  async function serve(bpffsRoot: string, name: string): Promise<{ a: Api; socket: string }> {
    const socket = join(dir, `${name}.sock`);
    const config: Config = parseConfig(
      {
        vtep_ip: '192.0.2.1',
        underlay_interface: 'eth0',
        dataplane: 'bpf',
        bpffs_root: bpffsRoot,
        state_dir: join(dir, 'state'),
        api: { socket },
        metrics: { address: null },
      },
      'test',
    );
    const logger = pino({ level: 'silent' });
    const ctx = createApiContext({ config, logger, state, reconciler, node: undefined, startedUnixMs: Date.now(), underlayMtu: 1500, listening: () => [] });
    const server = await ApiServer.start(ctx, { socket });
    servers.push(server);
    server.setServing(true);
    const client = connect({ socket });
    clients.push(client);
    return { a: api(client), socket };
  }

  // The overlay world's port UUIDs: testId(100 + n) for lo, p1 … p6 in that order.
  const P1 = testId(101);
  const P2 = testId(102);
  const P5 = testId(105);
  /** Bound here in the desired state, not in the port table (its interface is not there yet). */
  const LATE = randomUUID();

  const p1ToP2 = eth({ src: MAC.m1, dst: MAC.m2 }).ipv4({ src: '10.0.0.11', dst: '10.0.0.12' }).udp({ sport: 1, dport: 2 }).payload('via the api').build();
  const p1Spoofed = eth({ src: MAC.m1, dst: MAC.m2 }).ipv4({ src: '10.0.0.99', dst: '10.0.0.12' }).udp({ sport: 1, dport: 2 }).build();
  const p1Arp = eth({ src: MAC.m1, dst: BROADCAST }).arp({ senderIp: '10.0.0.11', targetIp: '10.0.0.12' }).build();

  let root: string;
  let main: { a: Api; socket: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xdpnet-port-counters-'));
    root = join(world().topo.bpffsDir, 'xdpnet');
    mkdirSync(root, { recursive: true });
    obj = await loadObject(objectPath('xdp_port'), {
      ...OVERLAY_LOAD,
      maps: Object.fromEntries(['xdpnet_ports', PORT_STATS_MAP_NAME].map((m) => [m, { pinPath: join(root, m) }])),
    });
    installWorld(obj, ifx);
    const program = obj.program('xdp_port');
    try {
      for (const frame of [p1ToP2, p1ToP2, p1Spoofed, p1Arp]) program.testRun(frame, { ingressIfindex: ifx('p1') });
    } finally {
      program.close();
    }

    state = await DesiredState.open(join(dir, 'state'));
    reconciler = new Reconciler(state, new FakeDataplane(), { node: { vtepIp: '192.0.2.1' }, fullPassIntervalMs: 60_000 });
    await reconciler.start();
    main = await serve(root, 'main');
    const net = await main.a.createNetwork(vxlanNetwork());
    const prefix = nextPrefix();
    const sub = await main.a.createSubnet(subnetOf(net.id, prefix));
    const bound = [
      [P1, 'vm-p1'],
      [P2, 'vm-p2'],
      [P5, 'vm-p5'],
      [LATE, 'vm-late'],
    ] as const;
    for (const [i, [id, interfaceName]] of bound.entries()) {
      await main.a.createPort(portOn(net.id, sub.id, `${prefix}.${10 + i}`, { id, local: { interfaceName } }));
    }
    await main.a.createPort(portOn(net.id, sub.id, `${prefix}.20`, { id: testId(103), remote: { vtepIp: '192.0.2.3' } }));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.stop(0);
    await reconciler?.stop();
    await state?.close();
    obj?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const p1Counted: pb.PortCounter__Output = {
    portId: P1,
    rxPackets: '4',
    rxBytes: String(2 * p1ToP2.length + p1Spoofed.length + p1Arp.length),
    txPackets: '1',
    txBytes: String(p1Arp.length),
    droppedPackets: '1',
  };
  const p2Counted: pb.PortCounter__Output = { portId: P2, rxPackets: '0', rxBytes: '0', txPackets: '2', txBytes: String(2 * p1ToP2.length), droppedPackets: '0' };
  const zero = (portId: string): pb.PortCounter__Output => ({ portId, rxPackets: '0', rxBytes: '0', txPackets: '0', txBytes: '0', droppedPackets: '0' });

  it('no ids: every port bound to this node, sorted by id, with what the programs counted (zeros where nothing was)', async () => {
    const { ports } = await main.a.portCounters();
    const expected = [p1Counted, p2Counted, zero(P5), zero(LATE)].sort((x, y) => (x.portId < y.portId ? -1 : 1));
    // The port bound to another node (its UUID is in this node's test port table) is not among them.
    expect(ports).toEqual(expected);
  });

  it('named ids: in the order first named, each once, canonical (lower-case) ids', async () => {
    const { ports } = await main.a.portCounters([P2, P1.toUpperCase(), P2, LATE]);
    expect(ports).toEqual([p2Counted, p1Counted, zero(LATE)]);
  });

  it('xdpnet stats ports prints them as a table, and -o json as the API has them', async () => {
    const table = await xdpnet(main.socket, 'stats', 'ports', P1);
    expect(table.code).toBe(0);
    expect(table.stderr).toBe('');
    expect(table.stdout).toMatch(/\| Port +\| RX Packets +\| RX Bytes +\| TX Packets +\| TX Bytes +\| Dropped +\|/);
    expect(table.stdout).toMatch(
      new RegExp(`\\| ${P1} +\\| ${p1Counted.rxPackets} +\\| ${p1Counted.rxBytes} +\\| ${p1Counted.txPackets} +\\| ${p1Counted.txBytes} +\\| ${p1Counted.droppedPackets} +\\|`),
    );
    const json = JSON.parse((await xdpnet(main.socket, 'stats', 'ports', P2, P1, '-o', 'json')).stdout) as unknown;
    expect(json).toEqual([p2Counted, p1Counted]);
  });

  it('a bpffs root where the maps are not pinned: FAILED_PRECONDITION naming the missing map', async () => {
    const empty = join(world().topo.bpffsDir, 'nothing-pinned');
    mkdirSync(empty, { recursive: true });
    const elsewhere = await serve(empty, 'unpinned');
    const err = await rejectionOf(elsewhere.a.portCounters([P1]));
    expect(grpc.status[err.code]).toBe('FAILED_PRECONDITION');
    expect(err.details).toBe(`${join(empty, 'xdpnet_ports')} is not pinned: the overlay programs that count per port are not loaded on this node`);
  });

  it('counts keep moving between calls', async () => {
    const program = obj.program('xdp_port');
    try {
      program.testRun(p1ToP2, { ingressIfindex: ifx('p1') });
    } finally {
      program.close();
    }
    const { ports } = await main.a.portCounters([P1, P2]);
    expect(ports).toEqual([
      { ...p1Counted, rxPackets: '5', rxBytes: String(Number(p1Counted.rxBytes) + p1ToP2.length) },
      { ...p2Counted, txPackets: '3', txBytes: String(3 * p1ToP2.length) },
    ]);
  });

  it('the CLI notes when no port is bound to this node', async () => {
    for (const id of [P1, P2, P5, LATE]) await main.a.deletePort(id);
    const r = await xdpnet(main.socket, 'stats', 'ports');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('(no ports are bound to this node)\n');
    expect(JSON.parse((await xdpnet(main.socket, 'stats', 'ports', '-o', 'json')).stdout)).toEqual([]);
  });
});
