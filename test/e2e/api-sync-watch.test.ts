// Sync and Watch of a real xdpnetd (fake dataplane) through the generated
// client. Sync: created / unchanged / updated / deleted counts, the revision
// kept when nothing changes, whole-request validation with SyncRequest field
// paths and nothing changed on a refusal. Watch: initial state (ADDED…,
// SYNCED), then live ADDED / MODIFIED / DELETED and STATUS events, the kinds
// filter, refusals, and cancelling. No root needed.

import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import type { XdpNetClient } from '../../src/gen/proto/xdpnet/v1/XdpNet.js';
import {
  type Api,
  type Topology,
  api,
  eventually,
  eventuallyState,
  expectRejectedUnchanged,
  nextPrefix,
  portOn,
  stateView,
  subnetOf,
  topology,
  topologyAsSync,
  vxlanNetwork,
  withoutStatus,
} from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';

async function startDaemon(): Promise<TestDaemon> {
  const d = await TestDaemon.start();
  try {
    await d.waitServing();
  } catch (err) {
    await d.cleanup();
    throw err;
  }
  return d;
}

const count = (s: pb.SyncResponse__Output) => ({ created: s.created, updated: s.updated, deleted: s.deleted, unchanged: s.unchanged });

// ---------------------------------------------------------------- Sync

describe('Sync', () => {
  let daemon: TestDaemon;
  let a: Api;
  let t: Topology;
  let firstRevision: string;

  beforeAll(async () => {
    daemon = await startDaemon();
    a = api(daemon.client());
    t = topology();
  });
  afterAll(async () => {
    await daemon?.cleanup();
  });

  it('creates a whole topology in one call and reports the created counts', async () => {
    const before = await a.nodeStatus();
    const result = await a.sync(topologyAsSync(t));
    expect(count(result)).toEqual({ created: 7, updated: 0, deleted: 0, unchanged: 0 });
    expect(BigInt(result.revision)).toBeGreaterThan(BigInt(before.desiredRevision));
    firstRevision = result.revision;
    const status = await a.nodeStatus();
    expect(status.desiredRevision).toBe(result.revision);
    expect(status.resourceCounts).toEqual({ network: 2, subnet: 2, port: 1, router: 1, floating_ip: 1 });

    // Defaults resolved as on create; every resource at the sync's revision; the floating IP's router derived.
    expect(await a.getNetwork(t.net.id!)).toMatchObject({ mtu: 1450, adminStateUp: true, revision: result.revision });
    expect(await a.getNetwork(t.ext.id!)).toMatchObject({ mtu: 1500, external: true });
    expect(await a.getSubnet(t.sub.id!)).toMatchObject({ gatewayIp: `${t.prefix}.1` });
    expect(await a.getPort(t.port.id!)).toMatchObject({ portSecurityEnabled: true, adminStateUp: true });
    expect((await a.getRouter(t.router.id!)).interfaces).toEqual([{ subnetId: t.sub.id, ipAddress: `${t.prefix}.1` }]);
    expect(await a.getFloatingIp(t.fip.id!)).toMatchObject({
      fixedIpAddress: `${t.prefix}.10`,
      routerId: t.router.id,
      revision: result.revision,
    });
    await eventuallyState(() => a.getFloatingIp(t.fip.id!), 'RESOURCE_STATE_ACTIVE');
    await eventuallyState(() => a.getRouter(t.router.id!), 'RESOURCE_STATE_ACTIVE');
  });

  it('syncing the same topology again changes nothing: all unchanged, revision kept', async () => {
    const before = await stateView(a);
    const result = await a.sync(topologyAsSync(t));
    expect(count(result)).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 7 });
    expect(result.revision).toBe(firstRevision);
    expect(await stateView(a)).toEqual(before);

    // The same, spelled differently (upper-case ids, defaults written out) is still unchanged.
    const spelled = topologyAsSync(t);
    spelled.networks = spelled.networks!.map((n) => ({ ...n, id: n.id!.toUpperCase(), mtu: n.type === 'NETWORK_TYPE_VXLAN' ? 1450 : 1500 }));
    spelled.subnets = spelled.subnets!.map((s) => ({ ...s, gatewayIp: s.cidr!.replace(/\.0\/24$/, '.1') }));
    const again = await a.sync(spelled);
    expect(count(again)).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 7 });
    expect(again.revision).toBe(firstRevision);
  });

  it('a sync that removes and changes things reports updated and deleted counts', async () => {
    const renamed = { ...t.net, name: 'renamed-by-sync' };
    const extraNet = vxlanNetwork();
    const req: pb.SyncRequest = {
      networks: [renamed, t.ext, extraNet],
      subnets: [t.sub, t.extSub],
      ports: [], // the port and the floating IP on it go
      routers: [t.router],
      floatingIps: [],
    };
    const result = await a.sync(req);
    // 7 before: the port and the floating IP deleted, the network renamed, 4 untouched; one new network.
    expect(count(result)).toEqual({ created: 1, updated: 1, deleted: 2, unchanged: 4 });
    expect(BigInt(result.revision)).toBe(BigInt(firstRevision) + 1n);
    const net = await a.getNetwork(t.net.id!);
    expect(net).toMatchObject({ name: 'renamed-by-sync', revision: result.revision });
    // Unchanged resources keep their revision.
    expect((await a.getSubnet(t.sub.id!)).revision).toBe(firstRevision);
    expect((await a.getRouter(t.router.id!)).revision).toBe(firstRevision);
    expect((await a.listPorts()).ports).toEqual([]);
    expect((await a.listFloatingIps()).floatingIps).toEqual([]);
    expect((await a.nodeStatus()).resourceCounts).toEqual({ network: 3, subnet: 2, port: 0, router: 1, floating_ip: 0 });
    t = { ...t, net: renamed };
    await eventuallyState(() => a.getNetwork(extraNet.id!), 'RESOURCE_STATE_ACTIVE');
  });

  it('refuses a duplicate VNI at networks[1], naming networks[1].segmentation_id, and changes nothing', async () => {
    const dup = vxlanNetwork({ segmentationId: t.net.segmentationId! });
    const err = await expectRejectedUnchanged(
      a,
      () => a.sync({ networks: [t.net, dup], subnets: [], ports: [], routers: [], floatingIps: [] }),
      grpc.status.ALREADY_EXISTS,
      'networks[1].segmentation_id',
    );
    expect(err.details).toContain(String(t.net.segmentationId));
  });

  it('refuses other invalid syncs with the SyncRequest field path, changing nothing', async () => {
    const base = (): pb.SyncRequest => ({ networks: [t.net, t.ext], subnets: [t.sub, t.extSub], ports: [], routers: [t.router], floatingIps: [] });

    // The same id twice.
    await expectRejectedUnchanged(
      a,
      () => {
        const req = base();
        req.networks = [t.net, t.ext, { ...vxlanNetwork(), id: t.net.id! }];
        return a.sync(req);
      },
      grpc.status.ALREADY_EXISTS,
      'networks[2].id',
    );
    // A subnet of a network not in the request.
    await expectRejectedUnchanged(
      a,
      () => {
        const req = base();
        req.subnets = [t.sub, t.extSub, subnetOf(randomUUID(), nextPrefix())];
        return a.sync(req);
      },
      grpc.status.NOT_FOUND,
      'subnets[2].network_id',
    );
    // A port with an address outside its subnet.
    await expectRejectedUnchanged(
      a,
      () => {
        const req = base();
        req.ports = [portOn(t.net.id!, t.sub.id!, `${t.prefix}.20`), portOn(t.net.id!, t.sub.id!, '192.0.2.9')];
        return a.sync(req);
      },
      grpc.status.INVALID_ARGUMENT,
      'ports[1].fixed_ips[0].ip_address',
    );
    // Removing the network a kept subnet is on: the subnet no longer finds it.
    await expectRejectedUnchanged(
      a,
      () => {
        const req = base();
        req.networks = [t.ext];
        return a.sync(req);
      },
      grpc.status.NOT_FOUND,
      'subnets[0].network_id',
    );
  });

  it('names the SyncRequest path when a subnet has both no_gateway and a gateway_ip', async () => {
    // The shape check of convert.ts runs for Sync too; its field path must be the Sync one.
    await expectRejectedUnchanged(
      a,
      () =>
        a.sync({
          networks: [t.net, t.ext],
          subnets: [t.sub, t.extSub, subnetOf(t.net.id!, nextPrefix(), { noGateway: true, gatewayIp: '10.255.0.1' })],
          ports: [],
          routers: [t.router],
          floatingIps: [],
        }),
      grpc.status.INVALID_ARGUMENT,
      'subnets[2].gateway_ip',
    );
  });

  it('names the SyncRequest path for a network type the daemon does not know', async () => {
    // On CreateNetwork the path is network.type …
    await expectRejectedUnchanged(
      a,
      () => a.createNetwork(vxlanNetwork({ type: 7 as pb.NetworkType })),
      grpc.status.INVALID_ARGUMENT,
      'network.type',
    );
    // … and in a Sync it is the element's.
    await expectRejectedUnchanged(
      a,
      () =>
        a.sync({
          networks: [t.net, t.ext, vxlanNetwork({ type: 7 as pb.NetworkType })],
          subnets: [t.sub, t.extSub],
          ports: [],
          routers: [t.router],
          floatingIps: [],
        }),
      grpc.status.INVALID_ARGUMENT,
      'networks[2].type',
    );
  });

  it('an empty sync deletes everything', async () => {
    const before = await a.nodeStatus();
    const total = Object.values(before.resourceCounts).reduce((x, y) => x + y, 0);
    const result = await a.sync({});
    expect(count(result)).toEqual({ created: 0, updated: 0, deleted: total, unchanged: 0 });
    expect((await a.nodeStatus()).resourceCounts).toEqual({ network: 0, subnet: 0, port: 0, router: 0, floating_ip: 0 });
    const view = await stateView(a);
    expect(view).toMatchObject({ networks: [], subnets: [], ports: [], routers: [], floatingIps: [], desiredRevision: result.revision });
  });
});

// ---------------------------------------------------------------- Watch

/** A Watch stream and everything it delivered. */
class Watcher {
  readonly events: pb.WatchEvent__Output[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  readonly stream: grpc.ClientReadableStream<pb.WatchEvent__Output>;
  private waiters: (() => void)[] = [];

  constructor(client: XdpNetClient, request: pb.WatchRequest, options: grpc.CallOptions = {}) {
    this.stream = client.watch(request, options);
    this.stream.on('data', (e: pb.WatchEvent__Output) => {
      this.events.push(e);
      this.wake();
    });
    this.stream.on('error', (err: grpc.ServiceError) => {
      this.error = err;
      this.wake();
    });
    this.stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until `done(events)` holds (or the stream fails), then returns the events. */
  async until(done: (events: pb.WatchEvent__Output[]) => boolean, what: string, timeoutMs = 20_000): Promise<pb.WatchEvent__Output[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.events)) {
      if (this.error || this.ended) {
        throw new Error(`watch ended (${this.error ? `${this.error.code} ${this.error.details}` : 'end'}) before: ${what}; events: ${show(this.events)}`);
      }
      if (Date.now() > deadline) throw new Error(`watch: no ${what} within ${timeoutMs} ms; events: ${show(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.events;
  }

  /** Resolves when the stream has closed with an error (e.g. CANCELLED) or ended. */
  async closed(timeoutMs = 10_000): Promise<void> {
    await eventually(async () => this.error !== undefined || this.ended, (x) => x, timeoutMs);
  }

  cancel(): void {
    this.stream.cancel();
  }
}

function show(events: pb.WatchEvent__Output[]): string {
  return JSON.stringify(events.map((e) => `${e.type}:${e.kind}:${e.id}${e.type === 'STATUS' ? `:${statusOf(e)?.state}` : ''}@${e.revision}`));
}

function resourceOf(e: pb.WatchEvent__Output) {
  return e.resource ? e[e.resource] : undefined;
}

function statusOf(e: pb.WatchEvent__Output): pb.ResourceStatus__Output | null | undefined {
  return resourceOf(e)?.status;
}

const isEvent = (type: string, id: string) => (e: pb.WatchEvent__Output) => e.type === type && e.id === id;

describe('Watch', () => {
  let daemon: TestDaemon;
  let a: Api;
  let client: XdpNetClient;
  let t: Topology;
  const watchers: Watcher[] = [];
  const watch = (req: pb.WatchRequest, options: grpc.CallOptions = {}) => {
    const w = new Watcher(client, req, options);
    watchers.push(w);
    return w;
  };

  beforeAll(async () => {
    daemon = await startDaemon();
    client = daemon.client();
    a = api(client);
    t = topology();
    await a.sync(topologyAsSync(t));
    await eventuallyState(() => a.getFloatingIp(t.fip.id!), 'RESOURCE_STATE_ACTIVE');
  });
  afterAll(async () => {
    for (const w of watchers) w.cancel();
    await daemon?.cleanup();
  });

  it('sends every existing resource as ADDED, then SYNCED, then live changes and status events', async () => {
    const w = watch({ initialState: true });
    const initial = await w.until((es) => es.some((e) => e.type === 'SYNCED'), 'SYNCED');
    const syncedAt = initial.findIndex((e) => e.type === 'SYNCED');
    const added = initial.slice(0, syncedAt);
    expect(added.every((e) => e.type === 'ADDED')).toBe(true);
    const ids = (kind: pb.ResourceKind__Output) => added.filter((e) => e.kind === kind).map((e) => e.id).sort();
    expect(ids('RESOURCE_KIND_NETWORK')).toEqual([t.net.id!, t.ext.id!].sort());
    expect(ids('RESOURCE_KIND_SUBNET')).toEqual([t.sub.id!, t.extSub.id!].sort());
    expect(ids('RESOURCE_KIND_PORT')).toEqual([t.port.id!]);
    expect(ids('RESOURCE_KIND_ROUTER')).toEqual([t.router.id!]);
    expect(ids('RESOURCE_KIND_FLOATING_IP')).toEqual([t.fip.id!]);
    expect(added).toHaveLength(7);
    // Each carries the resource as it is, in the oneof member of its kind.
    const fipEvent = added.find((e) => e.kind === 'RESOURCE_KIND_FLOATING_IP')!;
    expect(fipEvent.resource).toBe('floatingIp');
    expect(fipEvent.floatingIp).toMatchObject({ id: t.fip.id, routerId: t.router.id, fixedIpAddress: `${t.prefix}.10` });
    expect(fipEvent.floatingIp?.status?.state).toBe('RESOURCE_STATE_ACTIVE');
    const synced = initial[syncedAt]!;
    const revision = (await a.nodeStatus()).desiredRevision;
    expect(synced).toMatchObject({ type: 'SYNCED', kind: 'RESOURCE_KIND_UNSPECIFIED', id: '', revision });
    expect(synced.resource).toBeUndefined();

    // Live: create, update, delete a network.
    const net = vxlanNetwork();
    const created = await a.createNetwork(net);
    const afterAdd = await w.until((es) => es.some(isEvent('ADDED', net.id!)), 'ADDED of the new network');
    const addEvent = afterAdd.find(isEvent('ADDED', net.id!))!;
    expect(addEvent).toMatchObject({ kind: 'RESOURCE_KIND_NETWORK', revision: created.revision, resource: 'network' });
    expect(withoutStatus(addEvent.network!)).toEqual(withoutStatus(created));

    // The reconciler makes it ACTIVE: a STATUS event says so.
    await w.until(
      (es) => es.some((e) => isEvent('STATUS', net.id!)(e) && statusOf(e)?.state === 'RESOURCE_STATE_ACTIVE'),
      'STATUS ACTIVE of the new network',
    );

    const renamed = await a.updateNetwork({ id: net.id!, name: 'watched' }, ['name']);
    const modEvent = (await w.until((es) => es.some(isEvent('MODIFIED', net.id!)), 'MODIFIED')).find(isEvent('MODIFIED', net.id!))!;
    expect(modEvent).toMatchObject({ kind: 'RESOURCE_KIND_NETWORK', revision: renamed.revision });
    expect(modEvent.network).toMatchObject({ name: 'watched', revision: renamed.revision });

    const down = await a.updateNetwork({ id: net.id!, adminStateUp: false }, ['admin_state_up']);
    await w.until(
      (es) =>
        es.some(
          (e) => isEvent('STATUS', net.id!)(e) && statusOf(e)?.state === 'RESOURCE_STATE_DOWN' && statusOf(e)?.revision === down.revision,
        ),
      'STATUS DOWN',
    );

    await a.deleteNetwork(net.id!);
    const delEvent = (await w.until((es) => es.some(isEvent('DELETED', net.id!)), 'DELETED')).find(isEvent('DELETED', net.id!))!;
    expect(delEvent.kind).toBe('RESOURCE_KIND_NETWORK');
    expect(BigInt(delEvent.revision)).toBeGreaterThan(BigInt(down.revision));
    // As it was: admin down, renamed.
    expect(delEvent.network).toMatchObject({ id: net.id, name: 'watched', adminStateUp: false });

    // Events of one resource come in commit order.
    const mine = w.events.filter((e) => e.id === net.id && e.type !== 'STATUS').map((e) => e.type);
    expect(mine).toEqual(['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED']);
    expect(w.error).toBeUndefined();
  });

  it('tells of a resource before it tells of its status: no STATUS event precedes the ADDED one', async () => {
    const w = watch({});
    // Without initial_state nothing is sent until something changes.
    const net = vxlanNetwork();
    await a.createNetwork(net);
    await w.until(
      (es) => es.some((e) => isEvent('STATUS', net.id!)(e) && statusOf(e)?.state === 'RESOURCE_STATE_ACTIVE'),
      'STATUS ACTIVE',
    );
    const first = w.events.find((e) => e.id === net.id)!;
    expect.soft(`${first.type} ${first.kind}`, show(w.events)).toBe('ADDED RESOURCE_KIND_NETWORK');

    // Likewise for a modification: the first event at the new revision is MODIFIED, not STATUS.
    const renamed = await a.updateNetwork({ id: net.id!, name: 'order' }, ['name']);
    await w.until((es) => es.some((e) => isEvent('MODIFIED', net.id!)(e)), 'MODIFIED');
    const firstAtRevision = w.events.find((e) => e.id === net.id && e.revision === renamed.revision)!;
    expect.soft(firstAtRevision.type, show(w.events)).toBe('MODIFIED');
  });

  it('reports what a Sync did: DELETED, MODIFIED and ADDED events at the sync revision', async () => {
    // From exactly the topology (earlier tests left other networks behind).
    await a.sync(topologyAsSync(t));
    const w = watch({ initialState: true });
    await w.until((es) => es.some((e) => e.type === 'SYNCED'), 'SYNCED');
    const start = w.events.length;
    const extra = vxlanNetwork();
    const renamedRouter = { ...t.router, name: 'renamed-router' };
    const result = await a.sync({
      networks: [t.net, t.ext, extra],
      subnets: [t.sub, t.extSub],
      ports: [t.port],
      routers: [renamedRouter],
      floatingIps: [],
    });
    expect(count(result)).toEqual({ created: 1, updated: 1, deleted: 1, unchanged: 5 });
    const events = (await w.until((es) => es.slice(start).filter((e) => e.type !== 'STATUS').length >= 3, 'the sync events')).slice(start);
    const changes = events.filter((e) => e.type !== 'STATUS');
    expect(changes.map((e) => `${e.type} ${e.id}`).sort()).toEqual(
      [`DELETED ${t.fip.id}`, `MODIFIED ${t.router.id}`, `ADDED ${extra.id}`].sort(),
    );
    for (const e of changes) expect(e.revision).toBe(result.revision);
    t = { ...t, router: renamedRouter };
    // Put the floating IP back for the next tests.
    const back = await a.sync(topologyAsSync(t));
    expect(count(back)).toEqual({ created: 1, updated: 0, deleted: 1, unchanged: 6 });
  });

  it('filters by kind: only ports, initial and live', async () => {
    const w = watch({ kinds: ['RESOURCE_KIND_PORT'], initialState: true });
    const initial = await w.until((es) => es.some((e) => e.type === 'SYNCED'), 'SYNCED');
    expect(initial.filter((e) => e.type === 'ADDED').map((e) => `${e.kind} ${e.id}`)).toEqual([`RESOURCE_KIND_PORT ${t.port.id}`]);

    // A network, then a port: the port event arrives, the network's never does.
    const net = await a.createNetwork(vxlanNetwork());
    const sub = await a.createSubnet(subnetOf(net.id, nextPrefix()));
    const port = await a.createPort(portOn(net.id, sub.id, sub.gatewayIp.replace(/\.1$/, '.10')));
    await w.until(
      (es) => es.some((e) => isEvent('STATUS', port.id)(e) && statusOf(e)?.state === 'RESOURCE_STATE_ACTIVE'),
      'STATUS ACTIVE of the port',
    );
    expect(w.events.every((e) => e.type === 'SYNCED' || e.kind === 'RESOURCE_KIND_PORT'), show(w.events)).toBe(true);
    expect(w.events.some((e) => e.id === net.id || e.id === sub.id)).toBe(false);

    // Two kinds.
    const w2 = watch({ kinds: ['RESOURCE_KIND_ROUTER', 'RESOURCE_KIND_FLOATING_IP'], initialState: true });
    const initial2 = await w2.until((es) => es.some((e) => e.type === 'SYNCED'), 'SYNCED');
    expect(initial2.filter((e) => e.type === 'ADDED').map((e) => e.id).sort()).toEqual([t.router.id!, t.fip.id!].sort());
  });

  // A refused Watch must end with its status at once. The deadline only keeps
  // a stream that never ends from hanging the test: DEADLINE_EXCEEDED here
  // means the daemon never sent the status.
  it('refuses an unknown kind with INVALID_ARGUMENT naming kinds', async () => {
    for (const kinds of [['RESOURCE_KIND_UNSPECIFIED'], [99]] as pb.ResourceKind[][]) {
      const w = watch({ kinds }, { deadline: Date.now() + 5_000 });
      await w.closed();
      expect(w.events).toEqual([]);
      expect(`${grpc.status[w.error!.code]} ${w.error!.details}`).toMatch(/^INVALID_ARGUMENT kinds: /);
    }
  });

  it('carries the xdpnet-field trailer on a refused Watch, as on every other rejection', async () => {
    const w = watch({ kinds: ['RESOURCE_KIND_UNSPECIFIED'] }, { deadline: Date.now() + 5_000 });
    await w.closed();
    expect(grpc.status[w.error!.code]).toBe('INVALID_ARGUMENT');
    expect(w.error!.metadata.get('xdpnet-field')).toEqual(['kinds']);
  });

  it('cancelling a watch is clean: CANCELLED on the client, nothing more, the daemon logs no error and keeps serving', async () => {
    const w = watch({ initialState: true });
    await w.until((es) => es.some((e) => e.type === 'SYNCED'), 'SYNCED');
    const other = watch({});
    w.cancel();
    await w.closed();
    expect(grpc.status[w.error!.code]).toBe('CANCELLED');
    const seen = w.events.length;

    // Changes after the cancel reach the other watcher, not the cancelled one.
    const net = await a.createNetwork(vxlanNetwork());
    await other.until((es) => es.some(isEvent('ADDED', net.id)), 'ADDED on the other watcher');
    await a.deleteNetwork(net.id);
    await other.until((es) => es.some(isEvent('DELETED', net.id)), 'DELETED on the other watcher');
    expect(w.events.length).toBe(seen);

    // Many watchers opened and cancelled leave the daemon healthy.
    for (let i = 0; i < 20; i++) {
      const x = watch({ initialState: true });
      x.cancel();
    }
    expect(await daemon.health()).toBe('SERVING');
    expect((await a.nodeStatus()).ready).toBe(true);
    const errorLines = daemon.logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level >= 50);
    expect(errorLines).toEqual([]);
  });
});
