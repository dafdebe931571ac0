// BpfTables' routing tables (RouterTables) on a real kernel, through the
// Dataplane interface the reconciler drives: what render produces for a world
// of routers is upserted into the node's pinned maps and listed back exactly;
// deletes remove exactly the entry named; a router interface whose network's
// VNI changed leaves no entry on the old VNI; a (router, VNI) key holding
// another subnet is refused; what the maps hold but no table entry can be
// (a broken entry, an interface under two VNIs) is removed by list; a full
// map is RESOURCE_EXHAUSTED.
//
// The node runs in the root namespace on a veth of a test topology (the
// underlay), with its pins under the topology's bpffs directory. Map contents
// are checked with the maps' own bytes.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NodeDataplane } from '../../src/dataplane/node.js';
import { ROUTER_F_ADMIN_UP, fdbEntry, routerInfo } from '../../src/dataplane/layouts.js';
import { fdbMapKey, withFdbRouter } from '../../src/dataplane/overlay-encode.js';
import { OverlayTables } from '../../src/dataplane/overlay-tables.js';
import { encodeRoute, encodeRouterInterface, routeMapKey, routerInterfaceMapKey, routerMapKey } from '../../src/dataplane/router-encode.js';
import { RouterInterfaceConflictError, RouterTables } from '../../src/dataplane/router-tables.js';
import { BpfTables } from '../../src/dataplane/tables.js';
import type { Network, Snapshot, Subnet } from '../../src/model/types.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import { DataplaneError, type DataplaneEntry } from '../../src/reconciler/dataplane.js';
import { render } from '../../src/reconciler/render.js';
import { type Entry, type TableKey, type TableName, type TableValue, TABLE_NAMES, keyString } from '../../src/reconciler/tables.js';
import { describePrivileged } from '../helpers/privileged.js';
import { useTopology } from '../helpers/netns.js';
import { externalNetwork, externalSubnet, netId, router, routerId, subnetId } from '../helpers/world.js';

const VTEP = '192.0.2.1';
const ROUTING = ['routers', 'routerInterfaces', 'routes'] as const;
type Routing = (typeof ROUTING)[number];
const MAP_OF: Record<Routing, string> = { routers: 'xdpnet_routers', routerInterfaces: 'xdpnet_router_ifaces', routes: 'xdpnet_routes' };

const silent = { info: () => undefined, warn: () => undefined };

// Two tenants with the same addresses: router 1 (alpha: VNIs 101, 102, 103)
// and router 2 (beta: VNIs 201, 202), both on 10.1.0.0/24 and 10.2.0.0/24.
// Router 1 also has an interface away from its subnet's gateway, a static
// route and an external gateway on this node; router 3 (down) has its
// gateway on another node and no interface.
const A1 = 1;
const A2 = 2;
const A3 = 3;
const B1 = 11;
const B2 = 12;

function vxlan(n: number, vni: number): Network {
  return { id: netId(n), name: `n${n}`, type: 'vxlan', segmentationId: vni, physicalNetwork: null, mtu: 1450, external: false, adminStateUp: true };
}
function subnetOn(n: number, cidr: string, gatewayIp: string | null): Subnet {
  return { id: subnetId(n), name: `s${n}`, networkId: netId(n), cidr, gatewayIp, enableDhcp: false, dnsNameservers: [], hostRoutes: [] };
}

function snapshot(): Snapshot {
  return {
    networks: [vxlan(A1, 101), vxlan(A2, 102), vxlan(A3, 103), vxlan(B1, 201), vxlan(B2, 202), externalNetwork()],
    subnets: [
      subnetOn(A1, '10.1.0.0/24', '10.1.0.1'),
      subnetOn(A2, '10.2.0.0/24', '10.2.0.1'),
      subnetOn(A3, '10.3.0.0/24', '10.3.0.1'),
      subnetOn(B1, '10.1.0.0/24', '10.1.0.1'),
      subnetOn(B2, '10.2.0.0/24', '10.2.0.1'),
      externalSubnet(),
    ],
    ports: [],
    routers: [
      router({
        id: routerId(1),
        interfaces: [
          { subnetId: subnetId(A1), ipAddress: '10.1.0.1' },
          { subnetId: subnetId(A2), ipAddress: '10.2.0.1' },
          { subnetId: subnetId(A3), ipAddress: '10.3.0.254' },
        ],
        routes: [{ destination: '172.16.0.0/12', nexthop: '10.2.0.12' }],
        externalGateway: { networkId: netId(100), ipAddress: '203.0.113.2', enableSnat: true, gatewayNodeVtepIp: VTEP },
      }),
      router({
        id: routerId(2),
        interfaces: [
          { subnetId: subnetId(B1), ipAddress: '10.1.0.1' },
          { subnetId: subnetId(B2), ipAddress: '10.2.0.1' },
        ],
      }),
      router({
        id: routerId(3),
        adminStateUp: false,
        externalGateway: { networkId: netId(100), ipAddress: '203.0.113.3', enableSnat: false, gatewayNodeVtepIp: '192.0.2.7' },
      }),
    ],
    floatingIps: [],
  };
}

type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };

/** Entries in key order, as canonical JSON: what the reconciler compares. */
const canonical = <T extends TableName>(table: T, entries: readonly Sample<T>[]): string[] =>
  [...entries].sort((a, b) => (keyString(table, a.key) < keyString(table, b.key) ? -1 : 1)).map((e) => canonicalJson({ key: e.key, value: e.value }));

describePrivileged('BpfTables: the routing tables on a real kernel', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('peer', { disableIpv6: true });
      await t.addVeth({ a: { name: 'ul' }, b: { ns: 'peer', name: 'ul' } });
    },
  });
  let node: NodeDataplane;
  let tables: BpfTables;
  const rendered = render(snapshot(), { vtepIp: VTEP });
  const desired = <T extends Routing>(table: T): Sample<T>[] =>
    [...(rendered.tables[table] as Map<string, Entry<T>>).values()].map(({ key, value }) => ({ key, value }));
  const startNode = () =>
    NodeDataplane.start({
      bpffsRoot: join(topology().bpffsDir, 'xdpnet'),
      vtepIp: VTEP,
      underlayInterface: topology().rootLinkName('ul'),
      physicalInterfaces: [],
      logger: silent,
    });
  const routingTables = (n: NodeDataplane) => new BpfTables(new OverlayTables(n), new RouterTables(n));

  beforeAll(async () => {
    node = await startNode();
    tables = routingTables(node);
  });
  afterAll(() => node?.teardown());

  /** Raw keys of a map, through the node's handle. */
  const mapKeys = (map: string): string[] => [...node.maps.require(map).keys()].map((k) => Buffer.from(k).toString('hex')).sort();
  /** Exactly this key (a lookup in the LPM trie would find a shorter prefix too). */
  const hasKey = (map: string, key: Buffer): boolean => mapKeys(map).includes(key.toString('hex'));
  const listed = async <T extends Routing>(table: T): Promise<string[]> => canonical(table, (await tables.list(table)) as DataplaneEntry<T>[]);
  const iface = (router: number, subnet: number) => desired('routerInterfaces').find((e) => e.key.routerId === routerId(router) && e.key.subnetId === subnetId(subnet))!;

  it('the render of a world with two tenants is what it should be: no problems, external routes included', () => {
    expect(rendered.problems).toEqual([]);
    expect(desired('routers')).toHaveLength(3);
    expect(desired('routerInterfaces')).toHaveLength(5);
    const kinds = desired('routes').map((e) => e.value.kind).sort();
    // 5 connected, 1 static, router 1's and router 3's external subnet and default routes.
    expect(kinds).toEqual(['connected', 'connected', 'connected', 'connected', 'connected', 'external', 'external', 'external', 'external', 'nexthop']);
  });

  it('supports the three routing tables (SNAT and floating IPs stay UNIMPLEMENTED), and lists back exactly what render produced', async () => {
    for (const table of ROUTING) expect(tables.supports(table), table).toBe(true);
    for (const table of ['snat', 'floatingIps', 'fixedToFloating', 'providerPorts'] as const) {
      expect(tables.supports(table), table).toMatchObject({ code: 'UNIMPLEMENTED' });
    }
    for (const table of ROUTING) expect(await tables.list(table), table).toEqual([]);
    // In the reconciler's order.
    for (const table of TABLE_NAMES.filter((t): t is Routing => (ROUTING as readonly string[]).includes(t))) {
      for (const e of desired(table)) await tables.upsert(table, e.key, e.value as never);
    }
    for (const table of ROUTING) expect(await listed(table), table).toEqual(canonical(table, desired(table)));
    // One map entry per table entry.
    for (const table of ROUTING) expect(mapKeys(MAP_OF[table]), table).toHaveLength(desired(table).length);
  });

  it('an upsert of what is there changes nothing; one of a changed value replaces it in place', async () => {
    const before = ROUTING.map((t) => mapKeys(MAP_OF[t]));
    for (const table of ROUTING) for (const e of desired(table)) await tables.upsert(table, e.key, e.value as never);
    for (const table of ROUTING) expect(await listed(table), table).toEqual(canonical(table, desired(table)));
    expect(ROUTING.map((t) => mapKeys(MAP_OF[t]))).toEqual(before);

    // Router 2 down, then up again: the same key, the value follows.
    const r2 = desired('routers').find((e) => e.key.routerId === routerId(2))!;
    await tables.upsert('routers', r2.key, { ...r2.value, adminStateUp: false });
    expect((await tables.list('routers')).find((e) => e.key.routerId === routerId(2))?.value).toEqual({ ...r2.value, adminStateUp: false });
    await tables.upsert('routers', r2.key, r2.value);
    expect(await listed('routers')).toEqual(canonical('routers', desired('routers')));
  });

  it('deletes remove exactly the entry named (the other tenant’s same prefix stays), and deleting again succeeds', async () => {
    const route = desired('routes').find((e) => e.key.routerId === routerId(1) && e.key.prefix === '10.2.0.0/24')!;
    const other = desired('routes').find((e) => e.key.routerId === routerId(2) && e.key.prefix === '10.2.0.0/24')!;
    const ifc = iface(1, A2);
    const r3 = desired('routers').find((e) => e.key.routerId === routerId(3))!;

    await tables.delete('routes', route.key);
    await tables.delete('routerInterfaces', ifc.key);
    await tables.delete('routers', r3.key);
    expect(hasKey('xdpnet_routes', routeMapKey(route.key))).toBe(false);
    expect(hasKey('xdpnet_routes', routeMapKey(other.key))).toBe(true);
    expect(hasKey('xdpnet_router_ifaces', routerInterfaceMapKey(routerId(1), 102))).toBe(false);
    expect(hasKey('xdpnet_router_ifaces', routerInterfaceMapKey(routerId(2), 202))).toBe(true);
    expect(hasKey('xdpnet_routers', routerMapKey(r3.key))).toBe(false);
    const without = <T extends Routing>(table: T, gone: Sample<T>) =>
      canonical(table, desired(table).filter((e) => keyString(table, e.key) !== keyString(table, gone.key)));
    expect(await listed('routes')).toEqual(without('routes', route));
    expect(await listed('routerInterfaces')).toEqual(without('routerInterfaces', ifc));
    expect(await listed('routers')).toEqual(without('routers', r3));

    await tables.delete('routes', route.key);
    await tables.delete('routerInterfaces', ifc.key);
    await tables.delete('routers', r3.key);

    // Back, for the tests below.
    await tables.upsert('routers', r3.key, r3.value);
    await tables.upsert('routerInterfaces', ifc.key, ifc.value);
    await tables.upsert('routes', route.key, route.value);
    for (const table of ROUTING) expect(await listed(table), table).toEqual(canonical(table, desired(table)));
  });

  it('an interface whose network’s VNI changed leaves nothing on the old VNI; a delete then finds it on the new one', async () => {
    const ifc = iface(1, A1);
    const moved = { ...ifc.value, vni: 105 };
    await tables.upsert('routerInterfaces', ifc.key, moved);
    expect(hasKey('xdpnet_router_ifaces', routerInterfaceMapKey(routerId(1), 101))).toBe(false);
    expect(hasKey('xdpnet_router_ifaces', routerInterfaceMapKey(routerId(1), 105))).toBe(true);
    const all = await tables.list('routerInterfaces');
    expect(all.filter((e) => keyString('routerInterfaces', e.key) === keyString('routerInterfaces', ifc.key))).toEqual([{ key: ifc.key, value: moved }]);

    await tables.delete('routerInterfaces', ifc.key);
    expect(hasKey('xdpnet_router_ifaces', routerInterfaceMapKey(routerId(1), 105))).toBe(false);
    await tables.upsert('routerInterfaces', ifc.key, ifc.value);
    expect(await listed('routerInterfaces')).toEqual(canonical('routerInterfaces', desired('routerInterfaces')));
  });

  it('a (router, VNI) that holds another subnet is refused, and nothing changes', async () => {
    const before = mapKeys('xdpnet_router_ifaces');
    const holder = iface(1, A2); // (router 1, VNI 102)
    const intruder = { key: { routerId: routerId(1), subnetId: subnetId(99) }, value: { ...holder.value, ipAddress: '10.2.0.254' } };
    const err = await tables.upsert('routerInterfaces', intruder.key, intruder.value).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterInterfaceConflictError);
    expect(err).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining(`already has an interface on VNI 102, for subnet ${subnetId(A2)}`) });
    expect(mapKeys('xdpnet_router_ifaces')).toEqual(before);
    expect(await listed('routerInterfaces')).toEqual(canonical('routerInterfaces', desired('routerInterfaces')));
    // The same VNI on another router is no conflict.
    const r3Mac = desired('routers').find((e) => e.key.routerId === routerId(3))!.value.macAddress;
    const elsewhere = { key: { routerId: routerId(3), subnetId: subnetId(99) }, value: { ...holder.value, macAddress: r3Mac } };
    await tables.upsert('routerInterfaces', elsewhere.key, elsewhere.value);
    await tables.delete('routerInterfaces', elsewhere.key);
    expect(mapKeys('xdpnet_router_ifaces')).toEqual(before);
  });

  it('a dataplane whose index is stale never deletes another subnet’s interface; a fresh one (a restart) finds what is there', async () => {
    const ifc = iface(1, A1);
    const stale = routingTables(node);
    await stale.list('routerInterfaces'); // indexes (router 1, subnet A1) on VNI 101
    // Meanwhile (through another handle): A1's interface goes, another subnet's takes VNI 101.
    const next = { key: { routerId: routerId(1), subnetId: subnetId(98) }, value: { ...ifc.value, ipAddress: '10.1.0.254' } };
    await tables.delete('routerInterfaces', ifc.key);
    await tables.upsert('routerInterfaces', next.key, next.value);
    await stale.delete('routerInterfaces', ifc.key);
    expect(node.maps.require('xdpnet_router_ifaces').lookup(routerInterfaceMapKey(routerId(1), 101))).toEqual(encodeRouterInterface(next.key, next.value).value);
    // Moving it is refused by the stale one too (the map is looked at, not the index).
    await expect(stale.upsert('routerInterfaces', ifc.key, ifc.value)).rejects.toBeInstanceOf(RouterInterfaceConflictError);

    // A fresh dataplane over the same node (no list yet) deletes by what the map holds.
    const fresh = routingTables(node);
    await fresh.delete('routerInterfaces', next.key);
    expect(hasKey('xdpnet_router_ifaces', routerInterfaceMapKey(routerId(1), 101))).toBe(false);
    await fresh.upsert('routerInterfaces', ifc.key, ifc.value);
    expect(await listed('routerInterfaces')).toEqual(canonical('routerInterfaces', desired('routerInterfaces')));
  });

  it('list removes what no table entry can be: an interface under two VNIs, an undecodable route', async () => {
    const ifc = iface(2, B1);
    // As a crash or an older daemon could leave them, written behind the tables' back.
    const twice = encodeRouterInterface(ifc.key, { ...ifc.value, vni: 209 });
    node.maps.require(twice.map).update(twice.key, twice.value);
    const bad = encodeRoute({ routerId: routerId(2), prefix: '10.9.0.0/16' }, { kind: 'connected', vni: 209, subnetId: subnetId(B1) });
    const value = Buffer.from(bad.value);
    value.writeUInt32LE(99, 0); // kind 99
    node.maps.require(bad.map).update(bad.key, value);

    const ifaces = await tables.list('routerInterfaces');
    expect(ifaces.map((e) => keyString('routerInterfaces', e.key))).not.toContain(keyString('routerInterfaces', ifc.key));
    expect(hasKey('xdpnet_router_ifaces', routerInterfaceMapKey(routerId(2), 201))).toBe(false);
    expect(hasKey('xdpnet_router_ifaces', routerInterfaceMapKey(routerId(2), 209))).toBe(false);
    expect(await listed('routes')).toEqual(canonical('routes', desired('routes')));
    expect(hasKey('xdpnet_routes', bad.key)).toBe(false);

    // What the reconciler then does: upsert what it wants.
    await tables.upsert('routerInterfaces', ifc.key, ifc.value);
    expect(await listed('routerInterfaces')).toEqual(canonical('routerInterfaces', desired('routerInterfaces')));
  });

  it('reports the gateway VTEPs of non-local external routes to its sink: wanted on upsert, wanted and retained after list', async () => {
    const calls: [string, string[]][] = [];
    const sink = {
      want: (vteps: readonly string[]) => void calls.push(['want', [...vteps]]),
      retainOnly: (vteps: ReadonlySet<string>) => void calls.push(['retainOnly', [...vteps].sort()]),
    };
    const reporting = new BpfTables(new OverlayTables(node), new RouterTables(node, sink));
    // Router 3's gateway is on 192.0.2.7; router 1's is this node (not wanted).
    expect(await reporting.list('routes')).toHaveLength(desired('routes').length);
    expect(calls).toEqual([
      ['want', ['192.0.2.7']],
      ['retainOnly', ['192.0.2.7']],
    ]);
    calls.length = 0;
    for (const e of desired('routes')) await reporting.upsert('routes', e.key, e.value);
    // Router 3's two external routes (its subnet and the default route); nothing for the others.
    expect(calls).toEqual([
      ['want', ['192.0.2.7']],
      ['want', ['192.0.2.7']],
    ]);
    calls.length = 0;
    // Its gateway moves to another node: the next list retains only that one.
    const r3routes = desired('routes').filter((e) => e.key.routerId === routerId(3));
    for (const e of r3routes) await reporting.upsert('routes', e.key, { ...e.value, gatewayVtepIp: '192.0.2.8' } as TableValue<'routes'>);
    await reporting.list('routes');
    expect(calls.at(-1)).toEqual(['retainOnly', ['192.0.2.8']]);
    // Without a route through another node nothing is retained.
    for (const e of r3routes) await reporting.delete('routes', e.key);
    calls.length = 0;
    await reporting.list('routes');
    expect(calls).toEqual([
      ['want', []],
      ['retainOnly', []],
    ]);
    for (const e of r3routes) await reporting.upsert('routes', e.key, e.value);
    expect(await listed('routes')).toEqual(canonical('routes', desired('routes')));
  });

  it('a router MAC’s fdb entry carries a copy of its router: with the entry, after each write or delete of the router, and put right by list', async () => {
    const id = routerId(9);
    const other = routerId(8);
    const VNI = 4000;
    const macOf = (n: number) => `02:00:00:00:09:0${n}`;
    const fdbMap = node.maps.require('xdpnet_fdb');
    const copy = (macAddress: string) => {
      const e = fdbEntry.decode(fdbMap.lookup(fdbMapKey({ vni: VNI, macAddress }))!);
      return e.router_present ? { flags: e.router_flags, mac: e.router_mac } : { flags: e.router_flags, mac: e.router_mac, absent: true };
    };
    const ABSENT = { flags: 0, mac: '00:00:00:00:00:00', absent: true };
    try {
      // Written before its router: no copy (the programs look it up and find none).
      await tables.upsert('fdb', { vni: VNI, macAddress: macOf(1) }, { location: { kind: 'router', routerId: id } });
      expect(copy(macOf(1))).toEqual(ABSENT);
      // The router written: its MACs, and only its, get the copy.
      await tables.upsert('fdb', { vni: VNI, macAddress: macOf(3) }, { location: { kind: 'router', routerId: other } });
      await tables.upsert('routers', { routerId: id }, { macAddress: '02:00:00:00:09:aa', adminStateUp: true });
      expect(copy(macOf(1))).toEqual({ flags: ROUTER_F_ADMIN_UP, mac: '02:00:00:00:09:aa' });
      expect(copy(macOf(3))).toEqual(ABSENT);
      // Written while the router is there: with its copy.
      await tables.upsert('fdb', { vni: VNI, macAddress: macOf(2) }, { location: { kind: 'router', routerId: id } });
      expect(copy(macOf(2))).toEqual({ flags: ROUTER_F_ADMIN_UP, mac: '02:00:00:00:09:aa' });
      // The router changes (admin down, another MAC): both follow.
      await tables.upsert('routers', { routerId: id }, { macAddress: '02:00:00:00:09:bb', adminStateUp: false });
      expect([copy(macOf(1)), copy(macOf(2))]).toEqual([
        { flags: 0, mac: '02:00:00:00:09:bb' },
        { flags: 0, mac: '02:00:00:00:09:bb' },
      ]);
      // A MAC that becomes another router's takes that router's copy (none yet), and no longer follows this one.
      await tables.upsert('fdb', { vni: VNI, macAddress: macOf(2) }, { location: { kind: 'router', routerId: other } });
      expect(copy(macOf(2))).toEqual(ABSENT);
      await tables.upsert('routers', { routerId: id }, { macAddress: '02:00:00:00:09:aa', adminStateUp: true });
      expect(copy(macOf(2))).toEqual(ABSENT);
      expect(copy(macOf(1))).toEqual({ flags: ROUTER_F_ADMIN_UP, mac: '02:00:00:00:09:aa' });
      // The router deleted: its copies go with it.
      await tables.delete('routers', { routerId: id });
      expect(copy(macOf(1))).toEqual(ABSENT);
      // A copy gone stale behind the tables' back (a daemon stopped between two writes) is put right by list('fdb').
      await tables.upsert('routers', { routerId: id }, { macAddress: '02:00:00:00:09:aa', adminStateUp: true });
      const key = fdbMapKey({ vni: VNI, macAddress: macOf(1) });
      const stale = node.maps.require('xdpnet_routers').lookup(routerMapKey({ routerId: id }))!;
      fdbMap.update(key, withFdbRouter(fdbMap.lookup(key)!, Buffer.from([2, 0, 0, 0, 9, 0xcc, 0, 0]), undefined));
      expect(copy(macOf(1))).toEqual({ flags: 0, mac: '02:00:00:00:09:cc' });
      const listed = (await tables.list('fdb')).find((e) => e.key.vni === VNI && e.key.macAddress === macOf(1));
      expect(listed?.value).toEqual({ location: { kind: 'router', routerId: id } });
      expect(copy(macOf(1))).toEqual({ flags: routerInfo.decode(stale).flags, mac: '02:00:00:00:09:aa' });
      // And the copy of a router whose entry is missing is removed by list too.
      node.maps.require('xdpnet_routers').delete(routerMapKey({ routerId: id }));
      await tables.list('fdb');
      expect(copy(macOf(1))).toEqual(ABSENT);
    } finally {
      for (const n of [1, 2, 3]) await tables.delete('fdb', { vni: VNI, macAddress: macOf(n) });
      await tables.delete('routers', { routerId: id });
    }
  });

  it('a restarted node lists the same tables from the pinned maps', async () => {
    const before = await Promise.all(ROUTING.map((t) => listed(t)));
    node.close();
    node = await startNode();
    tables = routingTables(node);
    expect(await Promise.all(ROUTING.map((t) => listed(t)))).toEqual(before);
  });

  it('a full map is RESOURCE_EXHAUSTED for a new key; existing keys still update', async () => {
    const routers = node.maps.require('xdpnet_routers');
    const { maxEntries } = routers.info;
    const r1 = desired('routers').find((e) => e.key.routerId === routerId(1))!;
    const filler = (i: number) => routerMapKey({ routerId: routerId(0x10000 + i) });
    const have = mapKeys('xdpnet_routers').length;
    const value = routers.lookup(routerMapKey(r1.key))!;
    for (let i = 0; i < maxEntries - have; i++) routers.update(filler(i), value);
    try {
      const err = await tables.upsert('routers', { routerId: routerId(0xfffff) }, r1.value).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataplaneError);
      expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/xdpnet_routers is full/) });
      await tables.upsert('routers', r1.key, { ...r1.value, adminStateUp: false });
      await tables.upsert('routers', r1.key, r1.value);
    } finally {
      for (let i = 0; i < maxEntries - have; i++) routers.delete(filler(i));
    }
    expect(await listed('routers')).toEqual(canonical('routers', desired('routers')));
  });
});
