// The incremental renderer (src/reconciler/incremental.ts) against render():
// after any sequence of changes its tables, problems, owners and upsert order
// equal a from-scratch render of the same state (random sequences over small
// pools of ids, addresses, VNIs and MACs, so that conflicts, dangling
// references, duplicate VNIs and provider networks come up often); and a
// change re-renders only the resources it affects (work counted, not timed).
// Also: sameJson is canonicalJson equality.
import { describe, expect, it } from 'vitest';
import type { AnyResource, FloatingIp, Network, Port, ResourceKind, Router, Snapshot, Subnet } from '../../src/model/types.js';
import { canonicalJson, sameJson } from '../../src/reconciler/canonical.js';
import { IncrementalRender } from '../../src/reconciler/incremental.js';
import { render } from '../../src/reconciler/render.js';
import { type Tables, TABLE_NAMES, refKey } from '../../src/reconciler/tables.js';
import { seededRandom } from '../helpers/random.js';

// --- a seeded generator of (often conflicting) resources ----------------------

const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const ME = '192.0.2.1';
const NODE = { vtepIp: ME };

const POOL = {
  network: [0, 1, 2, 3].map((i) => uuid(0x100 + i)),
  subnet: [0, 1, 2, 3, 4].map((i) => uuid(0x200 + i)),
  port: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => uuid(0x400 + i)),
  router: [0, 1, 2].map((i) => uuid(0x300 + i)),
  floatingIp: [0, 1, 2].map((i) => uuid(0x500 + i)),
} satisfies Record<ResourceKind, string[]>;
const IPS = ['10.0.0.1', '10.0.0.5', '10.0.0.6', '10.0.1.5', '10.0.1.1', '203.0.113.10', '203.0.113.11', '10.0.0.7'];
const CIDRS = ['10.0.0.0/24', '10.0.1.0/24', '10.0.0.0/16', '203.0.113.0/24', '10.0.0.5'];
const MACS = ['fa:16:3e:00:00:01', 'fa:16:3e:00:00:02', 'fa:16:3e:00:00:03'];
const VTEPS = [ME, '192.0.2.2', '192.0.2.3'];
const GROUPS = ['00000000-0000-4000-8000-000000000601', '00000000-0000-4000-8000-000000000602'];

class Gen {
  constructor(readonly random: () => number) {}
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  some<T>(max: number, make: () => T): T[] {
    return Array.from({ length: this.int(max + 1) }, make);
  }
  /** An id of the pool, or now and then one nothing has. */
  ref(kind: ResourceKind): string {
    return this.chance(0.05) ? uuid(0xdead) : this.pick(POOL[kind]);
  }

  resource(kind: ResourceKind, id: string): AnyResource {
    switch (kind) {
      case 'network': {
        const type = this.chance(0.75) ? 'vxlan' : this.pick(['flat', 'vlan'] as const);
        const n: Network = {
          id,
          name: '',
          type,
          segmentationId: type === 'flat' ? 0 : this.pick([100, 101, 102]),
          physicalNetwork: type === 'vxlan' ? null : this.pick(['physnet1', 'physnet2']),
          mtu: this.pick([1450, 1500]),
          external: this.chance(0.3),
          adminStateUp: this.chance(0.8),
        };
        return n;
      }
      case 'subnet': {
        const s: Subnet = {
          id,
          name: '',
          networkId: this.ref('network'),
          cidr: this.pick(CIDRS),
          gatewayIp: this.pick(['10.0.0.1', '10.0.1.1', '203.0.113.1', null]),
          enableDhcp: this.chance(0.3),
          dnsNameservers: [],
          hostRoutes: [],
        };
        return s;
      }
      case 'port': {
        const p: Port = {
          id,
          name: this.pick(['', 'vm']),
          networkId: this.ref('network'),
          macAddress: this.pick(MACS),
          fixedIps: this.some(2, () => ({ subnetId: this.ref('subnet'), ipAddress: this.pick(IPS) })),
          binding: this.pick([
            { kind: 'none' },
            { kind: 'local', interfaceName: this.pick(['tap0', 'tap1', 'tap2']) },
            { kind: 'remote', vtepIp: this.pick(VTEPS) },
            { kind: 'remote', vtepIp: this.pick(VTEPS) },
          ] as const),
          portSecurityEnabled: this.chance(0.5),
          allowedAddressPairs: this.some(2, () => ({
            ipAddress: this.pick(['10.0.0.200', '10.0.0.200/32', '10.0.0.128/25']),
            macAddress: this.pick([null, 'fa:16:3e:aa:aa:aa']),
          })),
          securityGroupIds: this.chance(0.3) ? [this.pick(GROUPS)] : [],
          deviceOwner: 'compute:nova',
          adminStateUp: this.chance(0.8),
        };
        return p;
      }
      case 'router': {
        const r: Router = {
          id,
          name: '',
          interfaces: this.some(3, () => ({ subnetId: this.ref('subnet'), ipAddress: this.pick(IPS) })),
          routes: this.some(2, () => ({
            destination: this.pick(['0.0.0.0/0', '192.168.0.0/16', '10.9.0.0/16', '10.0.0.0/24']),
            nexthop: this.pick(IPS),
          })),
          externalGateway: this.chance(0.3)
            ? null
            : {
                networkId: this.ref('network'),
                ipAddress: this.pick(['203.0.113.10', '203.0.113.11', '10.0.0.7']),
                enableSnat: this.chance(0.5),
                gatewayNodeVtepIp: this.pick(VTEPS),
              },
          adminStateUp: this.chance(0.8),
        };
        return r;
      }
      case 'floatingIp': {
        const associated = this.chance(0.8);
        const f: FloatingIp = {
          id,
          floatingNetworkId: this.ref('network'),
          floatingIpAddress: this.pick(['203.0.113.50', '203.0.113.51']),
          portId: associated ? this.ref('port') : null,
          fixedIpAddress: associated ? this.pick(IPS) : null,
        };
        return f;
      }
    }
  }
}

const LISTS: Record<ResourceKind, keyof Snapshot> = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  router: 'routers',
  floatingIp: 'floatingIps',
};
const KINDS = Object.keys(LISTS) as ResourceKind[];

/** The state as maps; snapshots list resources in insertion order (render sorts). */
class World {
  readonly maps: Record<ResourceKind, Map<string, AnyResource>> = {
    network: new Map(),
    subnet: new Map(),
    port: new Map(),
    router: new Map(),
    floatingIp: new Map(),
  };
  snapshot(): Snapshot {
    const s = { networks: [], subnets: [], ports: [], routers: [], floatingIps: [] } as Snapshot;
    for (const kind of KINDS) (s[LISTS[kind]] as AnyResource[]).push(...this.maps[kind].values());
    return s;
  }
}

// --- comparing with render() -------------------------------------------------

function normTables(tables: Tables): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    TABLE_NAMES.map((t) => [
      t,
      Object.fromEntries(
        [...tables[t]].map(([ks, e]) => [ks, { key: e.key, value: e.value, owners: e.owners.map(refKey) }]),
      ),
    ]),
  );
}

function expectEqualToRender(engine: IncrementalRender, world: World, context: string): void {
  const reference = render(world.snapshot(), NODE);
  expect(normTables(engine.tables), context).toEqual(normTables(reference.tables));

  // Problems per resource, in order; their count; the last one.
  const byResource = new Map<string, unknown[]>();
  for (const p of reference.problems) {
    const list = byResource.get(refKey(p.ref)) ?? [];
    list.push(p);
    byResource.set(refKey(p.ref), list);
  }
  const keys = KINDS.flatMap((kind) => POOL[kind].map((id) => `${kind}/${id}`));
  for (const key of keys) expect(engine.problemsOf(key) ?? [], `${context}: problems of ${key}`).toEqual(byResource.get(key) ?? []);
  expect(engine.problemCount, context).toBe(reference.problems.length);
  expect(engine.lastProblem(), context).toEqual(reference.problems[reference.problems.length - 1]);

  // What each resource owns.
  const owned = new Map<string, string[]>();
  for (const t of TABLE_NAMES) {
    for (const [ks, e] of reference.tables[t]) {
      for (const o of e.owners) owned.set(refKey(o), [...(owned.get(refKey(o)) ?? []), `${t} ${ks}`]);
    }
  }
  for (const key of keys) {
    const mine = engine.ownedEntries(key).map(([t, ks]) => `${t} ${ks}`);
    expect(mine.sort(), `${context}: entries owned by ${key}`).toEqual((owned.get(key) ?? []).sort());
  }

  // Upsert order: render()'s insertion order.
  for (const t of TABLE_NAMES) {
    const mine = [...engine.tables[t].keys()];
    engine.sortInRenderOrder(t, mine);
    expect(mine, `${context}: order of ${t}`).toEqual([...reference.tables[t].keys()]);
  }
}

describe('IncrementalRender equals render()', () => {
  it('after every batch of random changes (creates, replacements, deletes), for 60 seeds', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const gen = new Gen(seededRandom(seed));
      const world = new World();
      const engine = new IncrementalRender(NODE);
      for (let batch = 0; batch < 40; batch++) {
        const size = 1 + gen.int(4);
        for (let i = 0; i < size; i++) {
          const kind = gen.pick(KINDS);
          const id = gen.pick(POOL[kind]);
          const map = world.maps[kind];
          if (map.has(id) && gen.chance(0.25)) {
            map.delete(id);
            engine.set(kind, id, undefined);
          } else {
            const r = Object.freeze(gen.resource(kind, id));
            map.set(id, r);
            engine.set(kind, id, r);
          }
        }
        engine.flush();
        expectEqualToRender(engine, world, `seed ${seed}, batch ${batch}`);
      }
    }
  });

  it('after resync to a snapshot (the full pass), including from objects that are equal but not identical', () => {
    for (let seed = 100; seed < 120; seed++) {
      const gen = new Gen(seededRandom(seed));
      const world = new World();
      const engine = new IncrementalRender(NODE);
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 6; i++) {
          const kind = gen.pick(KINDS);
          const id = gen.pick(POOL[kind]);
          if (gen.chance(0.2)) world.maps[kind].delete(id);
          else world.maps[kind].set(id, gen.resource(kind, id));
        }
        const snapshot = round % 3 === 0 ? structuredClone(world.snapshot()) : world.snapshot();
        engine.resync(snapshot);
        engine.flush();
        expectEqualToRender(engine, world, `seed ${seed}, round ${round}`);
      }
    }
  });

  it('when many ports join or leave flood lists at once (sorted arrays rebuilt rather than patched)', () => {
    const world = new World();
    const engine = new IncrementalRender(NODE);
    const put = (kind: ResourceKind, r: AnyResource | undefined, id = r!.id): void => {
      if (r) world.maps[kind].set(id, r);
      else world.maps[kind].delete(id);
      engine.set(kind, id, r);
    };
    put('network', { id: NET, name: '', type: 'vxlan', segmentationId: 100, physicalNetwork: null, mtu: 1450, external: false, adminStateUp: true });
    put('subnet', { id: SUB, name: '', networkId: NET, cidr: '10.0.0.0/16', gatewayIp: '10.0.0.1', enableDhcp: false, dnsNameservers: [], hostRoutes: [] });
    for (let n = 0; n < 300; n++) put('port', bigPort(n, { binding: { kind: 'remote', vtepIp: `192.0.2.${n % 50}` } }));
    engine.flush();
    expectEqualToRender(engine, world, 'bulk join');
    for (let n = 0; n < 300; n += 3) put('port', undefined, bigPort(n).id);
    for (let n = 300; n < 340; n++) put('port', bigPort(n));
    engine.flush();
    expectEqualToRender(engine, world, 'bulk leave and join');
    for (let n = 1; n < 20; n += 3) put('port', undefined, bigPort(n).id);
    engine.flush();
    expectEqualToRender(engine, world, 'a few leave');
  });

  it('a change that makes no difference to the tables reports nothing dirty', () => {
    const gen = new Gen(seededRandom(7));
    const engine = new IncrementalRender(NODE);
    for (const kind of KINDS) for (const id of POOL[kind]) engine.set(kind, id, gen.resource(kind, id));
    engine.flush();
    const port = engine.resource('port', POOL.port[0]!) as Port;
    engine.set('port', port.id, { ...port, name: `${port.name}-renamed` });
    const delta = engine.flush();
    expect([...delta.dirty.values()].every((keys) => keys.size === 0)).toBe(true);
    expect(delta.problemsChanged.size).toBe(0);
  });
});

// --- work is proportional to the change ---------------------------------------

const NET = uuid(0x101);
const SUB = uuid(0x201);

function bigNetwork(ports: number): IncrementalRender {
  const engine = new IncrementalRender(NODE);
  const network: Network = { id: NET, name: '', type: 'vxlan', segmentationId: 100, physicalNetwork: null, mtu: 1450, external: false, adminStateUp: true };
  engine.set('network', NET, network);
  engine.set('subnet', SUB, { id: SUB, name: '', networkId: NET, cidr: '10.0.0.0/16', gatewayIp: '10.0.0.1', enableDhcp: false, dnsNameservers: [], hostRoutes: [] });
  for (let n = 0; n < ports; n++) engine.set('port', bigPort(n).id, bigPort(n));
  engine.flush();
  return engine;
}

function bigPort(n: number, over: Partial<Port> = {}): Port {
  return {
    id: uuid(0x10000 + n),
    name: '',
    networkId: NET,
    macAddress: `fa:16:3e:00:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`,
    fixedIps: [{ subnetId: SUB, ipAddress: `10.0.${n >> 8}.${(n & 255) + 2}` }],
    binding: n % 2 ? { kind: 'local', interfaceName: `tap${n}` } : { kind: 'remote', vtepIp: VTEPS[1 + (n % 2)]! },
    portSecurityEnabled: true,
    allowedAddressPairs: [],
    securityGroupIds: [],
    deviceOwner: 'compute:nova',
    adminStateUp: true,
    ...over,
  };
}

describe('IncrementalRender: work follows the change, not the state', () => {
  it('one port changed among 5,000: one resource rendered, its keys resolved, one flood list rebuilt', () => {
    const engine = bigNetwork(5000);
    const before = { ...engine.work };
    engine.set('port', bigPort(43).id, bigPort(43, { adminStateUp: false }));
    const delta = engine.flush();
    expect(engine.work.fragments - before.fragments).toBe(1);
    expect(engine.work.keys - before.keys).toBe(3); // fdb, arp, localPorts
    expect(engine.work.floodLists - before.floodLists).toBe(1);
    expect(Object.fromEntries([...delta.dirty].map(([t, keys]) => [t, [...keys]]))).toEqual({ localPorts: ['tap43'] });
  });

  it('one port created and one deleted among 5,000: one resource rendered, one dropped', () => {
    const engine = bigNetwork(5000);
    const before = { ...engine.work };
    engine.set('port', bigPort(5001).id, bigPort(5001));
    engine.set('port', bigPort(7).id, undefined);
    const delta = engine.flush();
    expect(engine.work.fragments - before.fragments).toBe(1);
    expect(engine.work.keys - before.keys).toBe(6);
    expect(engine.work.floodLists - before.floodLists).toBe(1);
    expect(Object.fromEntries([...delta.dirty].map(([t, keys]) => [t, [...keys].sort()]))).toEqual({
      fdb: [`100/${bigPort(5001).macAddress}`, `100/${bigPort(7).macAddress}`].sort(),
      arp: ['100/10.0.19.139', '100/10.0.0.9'].sort(),
      localPorts: ['tap5001', 'tap7'],
      floodList: ['100'],
    });
    expect(engine.tables.floodList.get('100')?.owners).toHaveLength(1 + 5000);
  });

  it('a network change re-renders the ports on it (they depend on it), and nothing else', () => {
    const engine = bigNetwork(2000);
    const other = uuid(0x102);
    engine.set('network', other, { id: other, name: '', type: 'vxlan', segmentationId: 200, physicalNetwork: null, mtu: 1450, external: false, adminStateUp: true });
    engine.flush();
    const before = { ...engine.work };
    const network = engine.resource('network', other) as Network;
    engine.set('network', other, { ...network, mtu: 1400 });
    engine.flush();
    expect(engine.work.fragments - before.fragments).toBe(1);

    const busy = engine.resource('network', NET) as Network;
    engine.set('network', NET, { ...busy, adminStateUp: false });
    const delta = engine.flush();
    expect(engine.work.fragments - before.fragments).toBe(1 + 1 + 2000);
    expect(Object.fromEntries([...delta.dirty].map(([t, keys]) => [t, [...keys]]))).toEqual({ networks: ['100'] });
  });
});

// --- sameJson ------------------------------------------------------------------

describe('sameJson', () => {
  function value(gen: Gen, depth: number): unknown {
    const leaves: unknown[] = [0, -0, 1, 1.5, NaN, Infinity, -Infinity, '', 'a', 'b', true, false, null, undefined];
    if (depth === 0 || gen.chance(0.4)) return gen.pick(leaves);
    if (gen.chance(0.5)) return gen.some(3, () => value(gen, depth - 1));
    const keys = gen.some(3, () => gen.pick(['a', 'b', 'c', '1']));
    return Object.fromEntries(keys.map((k) => [k, value(gen, depth - 1)]));
  }
  /** The same value with object keys in another order (equal JSON, different objects). */
  function shuffled(gen: Gen, v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => shuffled(gen, x));
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).map(([k, x]) => [k, shuffled(gen, x)] as const);
      entries.sort(() => (gen.chance(0.5) ? 1 : -1));
      return Object.fromEntries(entries);
    }
    return v;
  }

  it('is canonicalJson equality, on random values and on reordered copies', () => {
    const gen = new Gen(seededRandom(99));
    for (let i = 0; i < 5000; i++) {
      const a = value(gen, 3);
      const b = gen.chance(0.5) ? shuffled(gen, a) : value(gen, 3);
      expect(sameJson(a, b), `${canonicalJson(a)} vs ${canonicalJson(b)}`).toBe(canonicalJson(a) === canonicalJson(b));
    }
  });

  it('handles what JSON drops or rewrites', () => {
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson([undefined], [null])).toBe(true);
    expect(sameJson(NaN, null)).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: [1, 2, 3] })).toBe(false);
    expect(sameJson([], {})).toBe(false);
    expect(sameJson({ x: new Date(0) }, { x: {} })).toBe(canonicalJson({ x: new Date(0) }) === canonicalJson({ x: {} }));
  });
});
