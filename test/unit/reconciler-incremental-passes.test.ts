// The Reconciler's incremental passes end where a from-scratch reconcile
// would: after random changes (with full passes now and then), the dataplane
// holds what render() wants and every status is what render()'s problems and
// the unsupported table make it. And an incremental pass looks at what
// changed only: one port among 5,000 costs one render, a handful of
// comparisons and dataplane ops, a couple of statuses (counted, not timed).
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyResource, Network, Port, ResourceKind, Router, Snapshot, Stored, Subnet } from '../../src/model/types.js';
import type { Change, ChangeListener, DesiredStateService } from '../../src/store/api.js';
import { FakeDataplane } from '../../src/reconciler/fake-dataplane.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { render } from '../../src/reconciler/render.js';
import { type TableName, TABLE_NAMES, refKey } from '../../src/reconciler/tables.js';
import { seededRandom } from '../helpers/random.js';

const LISTS: Record<ResourceKind, keyof Snapshot> = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  router: 'routers',
  floatingIp: 'floatingIps',
};
const KINDS = Object.keys(LISTS) as ResourceKind[];

/** Like the store: frozen resources, the same object until it changes, changes announced synchronously. */
class FakeState implements Pick<DesiredStateService, 'snapshot' | 'revision' | 'onChange' | 'get'> {
  revision = 0;
  readonly maps: Record<ResourceKind, Map<string, AnyResource>> = {
    network: new Map(),
    subnet: new Map(),
    port: new Map(),
    router: new Map(),
    floatingIp: new Map(),
  };
  /** The revision of each resource's last change. */
  readonly changedAt = new Map<string, number>();
  private readonly listeners = new Set<ChangeListener>();

  snapshot(): Snapshot {
    const s = { networks: [], subnets: [], ports: [], routers: [], floatingIps: [] } as Snapshot;
    for (const kind of KINDS) (s[LISTS[kind]] as AnyResource[]).push(...[...this.maps[kind].values()].sort((a, b) => (a.id < b.id ? -1 : 1)));
    return s;
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get<K extends ResourceKind>(kind: K, id: string): Stored<K> | undefined {
    const resource = this.maps[kind].get(id);
    return resource ? ({ kind, resource, revision: this.changedAt.get(`${kind}/${id}`) ?? 0 } as Stored<K>) : undefined;
  }

  /** One commit of several changes. */
  commit(ops: { kind: ResourceKind; id: string; resource: AnyResource | undefined }[]): void {
    const revision = this.revision + 1;
    const changes: Change[] = [];
    for (const { kind, id, resource } of ops) {
      const map = this.maps[kind];
      const before = map.get(id);
      if (resource) {
        map.set(id, Object.freeze(resource));
        changes.push({ type: before ? 'modified' : 'added', kind, id, revision, resource });
      } else if (before) {
        map.delete(id);
        changes.push({ type: 'deleted', kind, id, revision, resource: before });
      }
      this.changedAt.set(`${kind}/${id}`, revision);
    }
    if (changes.length === 0) return;
    this.revision = revision;
    for (const l of this.listeners) l(changes, revision);
  }
}

const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const ME = '192.0.2.1';
const UNSUPPORTED = 'provider networks are not implemented here';
const NO_FLOODING = 'flooding is not implemented here';
type Unsupported = Partial<Record<TableName, string>>;

const POOL: Record<ResourceKind, string[]> = {
  network: [0, 1, 2].map((i) => uuid(0x100 + i)),
  subnet: [0, 1, 2].map((i) => uuid(0x200 + i)),
  port: [0, 1, 2, 3, 4, 5].map((i) => uuid(0x400 + i)),
  router: [0, 1].map((i) => uuid(0x300 + i)),
  floatingIp: [0, 1].map((i) => uuid(0x500 + i)),
};

function randomResource(random: () => number, kind: ResourceKind, id: string): AnyResource {
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const ips = ['10.0.0.1', '10.0.0.5', '10.0.0.6', '203.0.113.10'];
  switch (kind) {
    case 'network': {
      const type = pick(['vxlan', 'vxlan', 'vxlan', 'flat'] as const);
      return { id, name: '', type, segmentationId: type === 'flat' ? 0 : pick([100, 101]), physicalNetwork: type === 'flat' ? 'physnet1' : null, mtu: 1450, external: random() < 0.3, adminStateUp: random() < 0.8 };
    }
    case 'subnet':
      return { id, name: '', networkId: pick(POOL.network), cidr: pick(['10.0.0.0/24', '203.0.113.0/24']), gatewayIp: pick(['10.0.0.1', '203.0.113.1', null]), enableDhcp: random() < 0.3, dnsNameservers: [], hostRoutes: [] };
    case 'port':
      return {
        id,
        name: '',
        networkId: pick(POOL.network),
        macAddress: pick(['fa:16:3e:00:00:01', 'fa:16:3e:00:00:02', 'fa:16:3e:00:00:03']),
        fixedIps: random() < 0.8 ? [{ subnetId: pick(POOL.subnet), ipAddress: pick(ips) }] : [],
        binding: pick([{ kind: 'none' }, { kind: 'local', interfaceName: pick(['tap0', 'tap1']) }, { kind: 'remote', vtepIp: pick([ME, '192.0.2.2']) }] as const),
        portSecurityEnabled: true,
        allowedAddressPairs: [],
        securityGroupIds: random() < 0.3 ? [uuid(0x600)] : [],
        deviceOwner: '',
        adminStateUp: random() < 0.8,
      } satisfies Port;
    case 'router':
      return {
        id,
        name: '',
        interfaces: random() < 0.8 ? [{ subnetId: pick(POOL.subnet), ipAddress: pick(ips) }] : [],
        routes: [],
        externalGateway: random() < 0.5 ? null : { networkId: pick(POOL.network), ipAddress: '203.0.113.10', enableSnat: true, gatewayNodeVtepIp: ME },
        adminStateUp: random() < 0.8,
      } satisfies Router;
    case 'floatingIp':
      return { id, floatingNetworkId: pick(POOL.network), floatingIpAddress: '203.0.113.50', portId: pick(POOL.port), fixedIpAddress: pick(ips) };
  }
}

/**
 * What every status should be, from scratch: render()'s first problem that is
 * not partial, else UNIMPLEMENTED for owners of entries in unsupported tables
 * (the first such table), else render()'s first partial problem (DHCP,
 * security groups).
 */
function expectedStatuses(state: FakeState, unsupported: Unsupported): Map<string, unknown> {
  const { tables, problems } = render(state.snapshot(), { vtepIp: ME });
  const failure = new Map<string, { code: string; message: string }>();
  for (const p of problems) if (!p.partial && !failure.has(refKey(p.ref))) failure.set(refKey(p.ref), { code: p.code, message: p.message });
  for (const t of TABLE_NAMES) {
    const message = unsupported[t];
    if (message === undefined) continue;
    for (const e of tables[t].values()) {
      for (const o of e.owners) if (!failure.has(refKey(o))) failure.set(refKey(o), { code: 'UNIMPLEMENTED', message });
    }
  }
  for (const p of problems) if (p.partial && !failure.has(refKey(p.ref))) failure.set(refKey(p.ref), { code: p.code, message: p.message });
  const out = new Map<string, unknown>();
  for (const kind of KINDS) {
    for (const r of state.maps[kind].values()) {
      const key = `${kind}/${r.id}`;
      const f = failure.get(key);
      const down = 'adminStateUp' in r && !r.adminStateUp;
      // The resource's own revision: resources present at start keep the one they were stored at.
      const revision = state.changedAt.get(key) ?? 0;
      out.set(key, f ? { state: 'ERROR', ...f, revision } : { state: down ? 'DOWN' : 'ACTIVE', code: '', message: '', revision });
    }
  }
  return out;
}

function expectedContents(state: FakeState, unsupported: Unsupported): Record<string, Record<string, unknown>> {
  const { tables } = render(state.snapshot(), { vtepIp: ME });
  return Object.fromEntries(
    TABLE_NAMES.filter((t) => !(t in unsupported)).map((t) => [t, Object.fromEntries([...tables[t]].map(([k, e]) => [k, e.value]))]),
  );
}
function contents(dp: FakeDataplane, unsupported: Unsupported): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    TABLE_NAMES.filter((t) => !(t in unsupported)).map((t) => [t, Object.fromEntries(dp.keys(t).map((k) => [k, dp.get(t, k)]))]),
  );
}

let reconcilers: Reconciler[] = [];
afterEach(async () => {
  for (const r of reconcilers) await r.stop();
  reconcilers = [];
});
function make(state: FakeState, dp: FakeDataplane): Reconciler {
  const r = new Reconciler(state, dp, { node: { vtepIp: ME }, fullPassIntervalMs: 0 });
  reconcilers.push(r);
  return r;
}

describe('Reconciler: incremental passes end where a from-scratch reconcile would', () => {
  it('contents, statuses (state, code, message, revision) and error counts, after random commits, for 40 seeds', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      // Unsupported tables are where entries fail for good: their owners' statuses follow ownership.
      const unsupported: Unsupported = seed % 2 ? { providerPorts: UNSUPPORTED } : { floodList: NO_FLOODING, providerPorts: UNSUPPORTED };
      const random = seededRandom(seed);
      const state = new FakeState();
      for (let i = 0; i < 8; i++) {
        const kind = KINDS[Math.floor(random() * KINDS.length)]!;
        const id = POOL[kind][Math.floor(random() * POOL[kind].length)]!;
        state.commit([{ kind, id, resource: randomResource(random, kind, id) }]);
      }
      const dp = new FakeDataplane({ unsupported });
      const r = make(state, dp);
      await r.start();

      for (let round = 0; round < 25; round++) {
        const commits = 1 + Math.floor(random() * 3);
        for (let c = 0; c < commits; c++) {
          const ops = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
            const kind = KINDS[Math.floor(random() * KINDS.length)]!;
            const id = POOL[kind][Math.floor(random() * POOL[kind].length)]!;
            return { kind, id, resource: random() < 0.25 ? undefined : randomResource(random, kind, id) };
          });
          state.commit(ops);
        }
        if (random() < 0.1) r.requestFullPass();
        await r.idle();

        const context = `seed ${seed}, round ${round}`;
        expect(contents(dp, unsupported), context).toEqual(expectedContents(state, unsupported));
        const want = expectedStatuses(state, unsupported);
        for (const kind of KINDS) {
          for (const id of POOL[kind]) {
            expect(r.status(kind, id), `${context}: ${kind} ${id}`).toEqual(want.get(`${kind}/${id}`));
          }
        }
        const { tables, problems } = render(state.snapshot(), { vtepIp: ME });
        const failing = TABLE_NAMES.filter((t) => t in unsupported && tables[t].size > 0);
        expect(r.summary()?.errors, context).toBe(problems.length + failing.reduce((n, t) => n + tables[t].size, 0));
        const lastTable = failing[failing.length - 1];
        const last = lastTable ? unsupported[lastTable] : (problems[problems.length - 1]?.message ?? '');
        expect(r.summary()?.lastError, context).toBe(last);
      }
      await r.stop();
    }
  });
});

// --- the work of one change among many ----------------------------------------

const NET = uuid(0x101);
const SUB = uuid(0x201);
const network: Network = { id: NET, name: '', type: 'vxlan', segmentationId: 100, physicalNetwork: null, mtu: 1450, external: false, adminStateUp: true };
const subnet: Subnet = { id: SUB, name: '', networkId: NET, cidr: '10.0.0.0/16', gatewayIp: '10.0.0.1', enableDhcp: false, dnsNameservers: [], hostRoutes: [] };
const port = (n: number, over: Partial<Port> = {}): Port => ({
  id: uuid(0x10000 + n),
  name: '',
  networkId: NET,
  macAddress: `fa:16:3e:00:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`,
  fixedIps: [{ subnetId: SUB, ipAddress: `10.0.${n >> 8}.${(n & 255) + 2}` }],
  binding: { kind: 'local', interfaceName: `tap${n}` },
  portSecurityEnabled: true,
  allowedAddressPairs: [],
  securityGroupIds: [],
  deviceOwner: 'compute:nova',
  adminStateUp: true,
  ...over,
});

describe('Reconciler: an incremental pass does not touch what did not change', () => {
  async function started(ports: number): Promise<{ state: FakeState; dp: FakeDataplane; r: Reconciler }> {
    const state = new FakeState();
    state.commit([
      { kind: 'network', id: NET, resource: network },
      { kind: 'subnet', id: SUB, resource: subnet },
      ...Array.from({ length: ports }, (_, n) => ({ kind: 'port' as const, id: port(n).id, resource: port(n) })),
    ]);
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    dp.clearOps();
    return { state, dp, r };
  }

  it('one port changed among 5,000', async () => {
    const { state, dp, r } = await started(5000);
    const before = r.work;
    state.commit([{ kind: 'port', id: port(42).id, resource: port(42, { adminStateUp: false }) }]);
    await r.idle();
    const after = r.work;
    expect(after.fragments - before.fragments).toBe(1);
    expect(after.keys - before.keys).toBe(3);
    expect(after.floodLists - before.floodLists).toBe(1);
    expect(after.compared - before.compared).toBe(1); // localPorts tap42, the only entry that changed
    expect(after.statuses - before.statuses).toBe(1);
    expect(dp.ops).toEqual([{ op: 'upsert', table: 'localPorts', key: 'tap42', ok: true }]);
    expect(r.status('port', port(42).id)?.state).toBe('DOWN');
  });

  it('one port created, then one deleted, among 5,000', async () => {
    const { state, dp, r } = await started(5000);
    const before = r.work;
    state.commit([{ kind: 'port', id: port(5000).id, resource: port(5000) }]);
    await r.idle();
    const mid = r.work;
    expect(mid.fragments - before.fragments).toBe(1);
    expect(mid.compared - before.compared).toBe(4); // fdb, arp, localPorts, the flood list
    expect(mid.statuses - before.statuses).toBeLessThanOrEqual(2); // the port (and the network: no failure, no event)
    expect(dp.ops.map((o) => `${o.op} ${o.table} ${o.key}`)).toEqual([
      `upsert arp 100/10.0.19.138`,
      `upsert fdb 100/${port(5000).macAddress}`,
      'upsert floodList 100',
      'upsert localPorts tap5000',
    ]);
    expect(r.status('port', port(5000).id)?.state).toBe('ACTIVE');
    expect(dp.get('floodList', '100')?.localInterfaces).toHaveLength(5001);

    dp.clearOps();
    state.commit([{ kind: 'port', id: port(7).id, resource: undefined }]);
    await r.idle();
    const after = r.work;
    expect(after.fragments - mid.fragments).toBe(0);
    expect(after.compared - mid.compared).toBe(1); // the flood list; the port's own entries are deleted unread
    expect(dp.ops.map((o) => `${o.op} ${o.table} ${o.key}`)).toEqual([
      'delete localPorts tap7',
      `delete fdb 100/${port(7).macAddress}`,
      'delete arp 100/10.0.0.9',
      'upsert floodList 100',
    ]);
    expect(r.status('port', port(7).id)).toBeUndefined();
    expect(r.passes).toEqual({ full: 1, incremental: 2 });
  });

  it('a failing entry is retried, and only its owners\' statuses are looked at', async () => {
    const { state, dp, r } = await started(2000);
    dp.setFailure('localPorts', new Error('EIO'));
    state.commit([{ kind: 'port', id: port(3).id, resource: port(3, { adminStateUp: false }) }]);
    await r.idle();
    expect(r.status('port', port(3).id)).toMatchObject({ state: 'ERROR', code: 'INTERNAL', message: 'upsert localPorts tap3: EIO' });
    expect(r.summary()).toMatchObject({ errors: 1, lastError: 'upsert localPorts tap3: EIO' });

    dp.setFailure('localPorts', null);
    dp.clearOps();
    const before = r.work;
    state.commit([{ kind: 'port', id: port(9).id, resource: port(9, { adminStateUp: false }) }]);
    await r.idle();
    expect(dp.ops.map((o) => `${o.op} ${o.table} ${o.key}`).sort()).toEqual(['upsert localPorts tap3', 'upsert localPorts tap9']);
    expect(r.work.statuses - before.statuses).toBe(2);
    expect(r.status('port', port(3).id)?.state).toBe('DOWN');
    expect(r.summary()).toMatchObject({ errors: 0, lastError: '' });
  });

  it('a full pass still compares everything with the dataplane', async () => {
    const { dp, r } = await started(1000);
    const before = r.work;
    dp.tamperDelete('fdb', { vni: 100, macAddress: port(5).macAddress });
    r.requestFullPass();
    await r.idle();
    expect(r.work.compared - before.compared).toBe(1 + 1000 * 3 + 1); // network, each port's fdb/arp/localPorts, the flood list
    expect(r.work.fragments - before.fragments).toBe(0); // same objects: nothing to re-render
    expect(dp.ops.filter((o) => o.op !== 'list').map((o) => `${o.op} ${o.table} ${o.key}`)).toEqual([
      `upsert fdb 100/${port(5).macAddress}`,
    ]);
  });
});
