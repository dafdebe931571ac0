// Node status, counters, health checking and the API socket of xdpnetd.
//
// Against a real daemon (fake dataplane): GetNodeStatus, GetReasonCounters,
// GetPortCounters, grpc.health.v1 Check, the socket's mode, and a second
// daemon on the same socket. In process: ApiServer.start with a minimal fake
// ApiContext, to watch health go NOT_SERVING → SERVING → NOT_SERVING and the
// server become unreachable after stop(). No root needed.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, unary } from '../../src/api/client.js';
import type { ApiContext } from '../../src/api/context.js';
import { StatusError } from '../../src/api/errors.js';
import { ApiServer } from '../../src/api/server.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import type { DesiredStateService } from '../../src/store/api.js';
import {
  type Api,
  api,
  eventually,
  expectRejected,
  healthCheck,
  healthClient,
  rejectionOf,
  vxlanNetwork,
} from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// ---------------------------------------------------------------- a real daemon

describe('a running daemon', () => {
  let daemon: TestDaemon;
  let a: Api;
  let startedAt: number;
  const nodeName = `api-node-${process.pid}`;

  beforeAll(async () => {
    startedAt = Date.now();
    daemon = await TestDaemon.start({
      config: { node_name: nodeName, vtep_ip: '192.0.2.33', underlay_interface: 'eth7', physical_networks: { external: 'eth2', prov: 'eth3' } },
    });
    try {
      await daemon.waitServing();
    } catch (err) {
      await daemon.cleanup();
      throw err;
    }
    a = api(daemon.client());
  });
  afterAll(async () => {
    await daemon?.cleanup();
  });

  it('GetNodeStatus echoes the configuration and is ready, with counts and the last reconcile', async () => {
    const s = await a.nodeStatus();
    expect(s.config).toEqual({
      nodeName,
      vtepIp: '192.0.2.33',
      underlayInterface: 'eth7',
      physicalNetworks: [
        { physicalNetwork: 'external', interfaceName: 'eth2' },
        { physicalNetwork: 'prov', interfaceName: 'eth3' },
      ],
      bpffsRoot: '/sys/fs/bpf/xdpnet',
      dataplane: 'fake',
      listen: [`unix:${daemon.socket}`],
    });
    expect(s.version).toBe(PACKAGE_VERSION);
    expect(s.ready).toBe(true);
    expect(s.desiredRevision).toBe('0');
    expect(Number(s.startedUnixMs)).toBeGreaterThanOrEqual(startedAt);
    expect(Number(s.startedUnixMs)).toBeLessThanOrEqual(Date.now());
    // The fake dataplane attaches nothing and has no maps.
    expect(s.programs).toEqual([]);
    expect(s.maps).toEqual([]);
    expect(s.resourceCounts).toEqual({ network: 0, subnet: 0, port: 0, router: 0, floating_ip: 0 });
    expect(s.lastReconcile).not.toBeNull();
    expect(s.lastReconcile).toMatchObject({ kind: 'full', revision: '0', errors: 0, lastError: '' });
    expect(Number(s.lastReconcile!.startedUnixMs)).toBeGreaterThanOrEqual(Number(s.startedUnixMs));

    // After a change: counted, and a pass converges to the new revision.
    const net = await a.createNetwork(vxlanNetwork());
    const after = await eventually(a.nodeStatus, (x) => x.lastReconcile?.revision === net.revision);
    expect(after.desiredRevision).toBe(net.revision);
    expect(after.resourceCounts).toMatchObject({ network: 1, subnet: 0 });
    expect(after.lastReconcile?.errors).toBe(0);
    await a.deleteNetwork(net.id);
    expect((await a.nodeStatus()).resourceCounts.network).toBe(0);
  });

  it('GetReasonCounters lists every reason of reasons.proto once, with its category and zero counts', async () => {
    const reasons = new protobuf.Root().loadSync(join(REPO_ROOT, 'proto/xdpnet/v1/reasons.proto')).lookupEnum('xdpnet.v1.Reason');
    const names = Object.keys(reasons.values).filter((n) => n !== 'REASON_UNSPECIFIED');
    expect(names.length).toBeGreaterThan(5);
    const { counters } = await a.reasonCounters();
    expect(counters.map((c) => c.reason).sort()).toEqual([...names].sort());
    const categoryOf: Record<string, string> = { FWD: 'forwarded', PASS: 'passed', DROP: 'dropped' };
    for (const c of counters) {
      expect(c.category, c.reason).toBe(categoryOf[c.reason.split('_')[1]!]);
      expect(c.description.length, c.reason).toBeGreaterThan(10);
      // The fake dataplane forwards nothing.
      expect(c.packets).toBe('0');
      expect(c.bytes).toBe('0');
    }
  });

  it('GetPortCounters on the fake dataplane is FAILED_PRECONDITION, with a message saying why', async () => {
    const err = await rejectionOf(a.portCounters([]));
    expect(grpc.status[err.code]).toBe('FAILED_PRECONDITION');
    expect(err.details).toMatch(/fake dataplane/i);
    // A port that does not exist is NOT_FOUND whatever the dataplane: the
    // request is checked against the desired state first.
    const missing = await rejectionOf(a.portCounters(['00000000-0000-4000-8000-000000000001']));
    expect(grpc.status[missing.code]).toBe('NOT_FOUND');
  });

  it('health is SERVING for the server and for xdpnet.v1.XdpNet, NOT_FOUND for another service', async () => {
    expect(await daemon.health('')).toBe('SERVING');
    expect(await daemon.health('xdpnet.v1.XdpNet')).toBe('SERVING');
    const err = await rejectionOf(daemon.health('no.such.Service'));
    expect(grpc.status[(err as grpc.ServiceError).code]).toBe('NOT_FOUND');
  });

  it('serves the socket with mode 0600', () => {
    const st = statSync(daemon.socket);
    expect(st.isSocket()).toBe(true);
    expect((st.mode & 0o777).toString(8)).toBe('600');
  });

  it('a second daemon on the same socket refuses to start, says why, and leaves the first one serving', async () => {
    const second = await TestDaemon.start({ config: { api: { socket: daemon.socket } } });
    try {
      const exit = await second.exited;
      expect(exit).toEqual({ code: 1, signal: null });
      const fatal = second.logs
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message?: string } })
        .find((l) => l.level >= 60);
      expect(fatal, second.logs).toBeDefined();
      expect(fatal!.err?.message).toContain(daemon.socket);
      expect(fatal!.err?.message).toMatch(/another process is serving on this socket/);
    } finally {
      await second.cleanup();
    }
    // The first one is untouched: same socket file, mode, health and answers.
    expect((statSync(daemon.socket).mode & 0o777).toString(8)).toBe('600');
    expect(await daemon.health('')).toBe('SERVING');
    expect((await a.nodeStatus()).ready).toBe(true);
  });
});

// ---------------------------------------------------------------- in process

/** Just enough of an ApiContext for the server to start and answer GetNodeStatus. */
function fakeContext(): ApiContext {
  const nodeStatus: pb.NodeStatus = {
    version: 'in-process',
    ready: false,
    desiredRevision: '0',
    programs: [],
    maps: [],
    resourceCounts: {},
  };
  const state = {
    revision: 0,
    get: () => undefined,
    list: () => ({ items: [], nextPageToken: '' }),
    count: () => 0,
    onChange: () => () => undefined,
  } as unknown as DesiredStateService;
  return {
    state,
    statusOf: () => ({ state: 'PENDING', code: '', message: '', revision: 0 }),
    onStatus: () => () => undefined,
    routerForFloatingIp: () => null,
    nodeStatus: async () => nodeStatus,
    reasonCounters: async () => ({ counters: [] }),
    portCounters: () => Promise.reject(new StatusError(grpc.status.UNIMPLEMENTED, 'not here')),
    networkDefaults: { vxlanMtu: 1450 },
    logger: { error() {}, info() {}, warn() {} },
  };
}

describe('ApiServer in process', () => {
  let dir: string;
  let server: ApiServer | undefined;
  const clients: grpc.Client[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xdpnet-api-node-'));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.stop(0);
    server = undefined;
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is NOT_SERVING until setServing(true), SERVING after, and NOT_SERVING then unreachable after stop()', async () => {
    const socket = join(dir, 'health.sock');
    server = await ApiServer.start(fakeContext(), { socket });
    expect(server.listening).toEqual([`unix:${socket}`]);
    expect((statSync(socket).mode & 0o777).toString(8)).toBe('600');

    const health = healthClient(socket);
    clients.push(health);
    expect(await healthCheck(health, '')).toBe('NOT_SERVING');
    expect(await healthCheck(health, 'xdpnet.v1.XdpNet')).toBe('NOT_SERVING');
    // The API itself answers while NOT_SERVING.
    const client = connect({ socket });
    clients.push(client);
    const status = await unary<pb.NodeStatus__Output>((cb) => client.getNodeStatus({}, cb));
    expect(status).toMatchObject({ version: 'in-process', ready: false });

    // A Watch sees every transition.
    const seen: string[] = [];
    const watch = health.watch({ service: 'xdpnet.v1.XdpNet' });
    let watchError: grpc.ServiceError | undefined;
    watch.on('data', (m: { status: string }) => seen.push(m.status));
    watch.on('error', (err: grpc.ServiceError) => (watchError = err));
    await eventually(async () => seen.length, (n) => n >= 1);
    expect(seen).toEqual(['NOT_SERVING']);

    server.setServing(true);
    expect(await healthCheck(health, '')).toBe('SERVING');
    expect(await healthCheck(health, 'xdpnet.v1.XdpNet')).toBe('SERVING');
    await eventually(async () => seen.length, (n) => n >= 2);
    expect(seen).toEqual(['NOT_SERVING', 'SERVING']);

    const stopped = server.stop(2_000);
    server = undefined;
    // stop() turns health NOT_SERVING before it closes: the open Watch hears it.
    await eventually(async () => seen.length, (n) => n >= 3);
    expect(seen).toEqual(['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
    await stopped;
    await eventually(async () => watchError !== undefined, (x) => x);

    // Now nothing answers on the socket.
    const fresh = healthClient(socket);
    clients.push(fresh);
    const err = await rejectionOf(healthCheck(fresh, '', 2_000));
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(grpc.status[(err as grpc.ServiceError).code]);
  });

  it('setServing(false) goes back to NOT_SERVING', async () => {
    const socket = join(dir, 'toggle.sock');
    server = await ApiServer.start(fakeContext(), { socket });
    const health = healthClient(socket);
    clients.push(health);
    server.setServing(true);
    expect(await healthCheck(health, '')).toBe('SERVING');
    server.setServing(false);
    expect(await healthCheck(health, '')).toBe('NOT_SERVING');
    expect(await healthCheck(health, 'xdpnet.v1.XdpNet')).toBe('NOT_SERVING');
  });

  it('refuses a socket another server is serving on, and replaces a stale socket file', async () => {
    const socket = join(dir, 'claimed.sock');
    server = await ApiServer.start(fakeContext(), { socket });
    await expect(ApiServer.start(fakeContext(), { socket })).rejects.toThrow(/another process is serving on this socket/);
    // The first is unharmed.
    const health = healthClient(socket);
    clients.push(health);
    expect(await healthCheck(health, '')).toBe('NOT_SERVING');
    await server.stop(0);
    server = undefined;

    // Whatever the stopped server left behind is not in the way of the next one.
    server = await ApiServer.start(fakeContext(), { socket });
    const again = healthClient(socket);
    clients.push(again);
    expect(await healthCheck(again, '')).toBe('NOT_SERVING');
  });

  it('refuses to start with nothing to listen on', async () => {
    await expect(ApiServer.start(fakeContext(), {})).rejects.toThrow(/nothing to listen on/);
  });

  it('answers a rejection from the context with its code, field details and trailer', async () => {
    const socket = join(dir, 'reject.sock');
    server = await ApiServer.start(fakeContext(), { socket });
    const client = connect({ socket });
    clients.push(client);
    await expectRejected(
      unary((cb) => client.getNetwork({ id: '00000000-0000-4000-8000-000000000009' }, cb)),
      grpc.status.NOT_FOUND,
      'id',
    );
  });
});
