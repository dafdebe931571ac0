// src/dataplane/router-encode.ts: the routing tables as map bytes and back.
// Round trips of what render() really produces (two routers routing the same
// CIDRs, static and external routes), byte-exact encodings written out by
// hand, the delete-key lookup, and the typed errors.
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DataplaneError } from '../../src/reconciler/dataplane.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import { render } from '../../src/reconciler/render.js';
import { routerMac } from '../../src/reconciler/router-mac.js';
import type { TableKey, TableName, TableValue } from '../../src/reconciler/tables.js';
import type { RawEntry } from '../../src/dataplane/overlay-encode.js';
import {
  RouterCodecError,
  type RouterMapWrite,
  decodeRoute,
  decodeRouter,
  decodeRouterInterface,
  encodeRoute,
  encodeRouter,
  encodeRouterInterface,
  routeMapKey,
  routerInterfaceMapKey,
  routerInterfaceMapKeyIn,
  routerMapKey,
} from '../../src/dataplane/router-encode.js';
import { routeEntry, routerIface } from '../../src/dataplane/layouts.js';
import { GATEWAY, externalNetwork, externalSubnet, netId, network, router, routerId, subnet, subnetId } from '../helpers/world.js';

const LE = endianness() === 'LE';
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const raw = (w: RouterMapWrite): RawEntry => ({ key: w.key, value: w.value });
const same = (a: unknown, b: unknown) => expect(canonicalJson(a)).toBe(canonicalJson(b));
const idHex = (id: string) => id.replaceAll('-', '');
type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };

/**
 * Two tenants with the same addressing: routers 1 and 2 each connect a
 * 10.0.0.0/24 and a 10.0.1.0/24 (networks 1, 2 and 3, 4), router 1 with a
 * static route and an external gateway, router 2 down.
 */
function rendered() {
  const nets = [1, 2, 3, 4].map((n) => network({ id: netId(n), segmentationId: 100 * n }));
  const subs = [1, 2, 3, 4].map((n) => subnet({ id: subnetId(n), networkId: netId(n), cidr: `10.0.${(n - 1) % 2}.0/24` }));
  const r1 = router({
    id: routerId(1),
    interfaces: [
      { subnetId: subnetId(1), ipAddress: '10.0.0.1' },
      { subnetId: subnetId(2), ipAddress: '10.0.1.1' },
    ],
    routes: [{ destination: '172.16.0.0/12', nexthop: '10.0.1.254' }],
    externalGateway: { ...GATEWAY },
  });
  const r2 = router({
    id: routerId(2),
    interfaces: [
      { subnetId: subnetId(3), ipAddress: '10.0.0.1' },
      { subnetId: subnetId(4), ipAddress: '10.0.1.254' },
    ],
    adminStateUp: false,
  });
  const out = render(
    { networks: [...nets, externalNetwork()], subnets: [...subs, externalSubnet()], ports: [], routers: [r1, r2], floatingIps: [] },
    { vtepIp: '192.0.2.1' },
  );
  expect(out.problems).toEqual([]);
  const list = <T extends 'routers' | 'routerInterfaces' | 'routes'>(t: T) =>
    [...out.tables[t].values()].map((e) => ({ key: e.key, value: e.value })) as Sample<T>[];
  return { routers: list('routers'), routerInterfaces: list('routerInterfaces'), routes: list('routes') };
}

describe('router-encode: round trips of rendered tables', () => {
  const t = rendered();

  it('the rendered world has every kind of entry', () => {
    expect(t.routers).toHaveLength(2);
    expect(t.routerInterfaces).toHaveLength(4);
    expect(new Set(t.routes.map((r) => r.value.kind))).toEqual(new Set(['connected', 'nexthop', 'external']));
    expect(t.routes.some((r) => r.value.kind === 'external' && r.value.nexthop === null)).toBe(true);
    expect(t.routes.some((r) => r.value.kind === 'external' && r.value.nexthop !== null)).toBe(true);
  });

  it('routers', () => {
    for (const e of t.routers) same(decodeRouter(raw(encodeRouter(e.key, e.value))), e);
  });

  it('routerInterfaces: keyed by (router, VNI), the subnet comes back from the value', () => {
    for (const e of t.routerInterfaces) same(decodeRouterInterface(raw(encodeRouterInterface(e.key, e.value))), e);
  });

  it('routes of every kind', () => {
    for (const e of t.routes) same(decodeRoute(raw(encodeRoute(e.key, e.value))), e);
  });

  it('two routers with the same prefixes and addresses never share a key', () => {
    const keys = (writes: RouterMapWrite[]) => new Set(writes.map((w) => w.key.toString('hex'))).size;
    expect(keys(t.routes.map((e) => encodeRoute(e.key, e.value)))).toBe(t.routes.length);
    expect(keys(t.routerInterfaces.map((e) => encodeRouterInterface(e.key, e.value)))).toBe(t.routerInterfaces.length);
    const r1 = routeMapKey({ routerId: routerId(1), prefix: '10.0.0.0/24' });
    const r2 = routeMapKey({ routerId: routerId(2), prefix: '10.0.0.0/24' });
    expect(r1.equals(r2)).toBe(false);
    expect(r1.subarray(20).equals(r2.subarray(20))).toBe(true); // the same prefix, another router
  });

  it('a delete finds the (router, VNI) key of a (router, subnet) among the map entries', () => {
    // A malformed entry first: skipped, it must not keep the others from being found.
    const entries = [{ key: Buffer.alloc(3), value: Buffer.alloc(1) }, ...t.routerInterfaces.map((e) => raw(encodeRouterInterface(e.key, e.value))).reverse()];
    const wanted = t.routerInterfaces.find((e) => e.key.routerId === routerId(2) && e.key.subnetId === subnetId(4))!;
    expect(routerInterfaceMapKeyIn(entries, wanted.key)?.equals(routerInterfaceMapKey(routerId(2), wanted.value.vni))).toBe(true);
    expect(routerInterfaceMapKeyIn(entries, { routerId: routerId(1), subnetId: subnetId(4) })).toBeUndefined();
  });
});

describe.runIf(LE)('router-encode: exact bytes (little-endian host)', () => {
  const R = '5d2a7c4e-0b8f-4a3c-9e1d-2f3a4b5c6d7e';
  const S = '0b3c1a52-6f0e-4d7e-9a55-2c1d1e4f9a01';
  const MAC = routerMac(R);

  it('xdpnet_routers: the UUID bytes -> MAC, flags, pad', () => {
    const w = encodeRouter({ routerId: R }, { macAddress: MAC, adminStateUp: true });
    expect(w.map).toBe('xdpnet_routers');
    expect(w.key.toString('hex')).toBe(idHex(R));
    expect(w.value.toString('hex')).toBe(MAC.replaceAll(':', '') + '01' + '00');
    expect(encodeRouter({ routerId: R }, { macAddress: MAC, adminStateUp: false }).value.toString('hex')).toBe(MAC.replaceAll(':', '') + '0000');
    expect(routerMapKey({ routerId: R }).equals(w.key)).toBe(true);
  });

  it('xdpnet_router_ifaces: (router, host-order VNI) -> network-order IP, MAC, prefix length, pad, subnet', () => {
    const w = encodeRouterInterface({ routerId: R, subnetId: S }, { vni: 0x123456, ipAddress: '10.0.0.1', prefixLength: 24, macAddress: MAC });
    expect(w.map).toBe('xdpnet_router_ifaces');
    expect(w.key.toString('hex')).toBe(idHex(R) + '56341200');
    expect(w.value.toString('hex')).toBe('0a000001' + MAC.replaceAll(':', '') + '18' + '00' + idHex(S));
    expect(w.value).toHaveLength(routerIface.size);
  });

  it('xdpnet_routes: LPM key (128 + n, router, prefix); one value layout per kind, unused fields zero', () => {
    const connected = encodeRoute({ routerId: R, prefix: '10.0.0.0/24' }, { kind: 'connected', vni: 100, subnetId: S });
    expect(connected.map).toBe('xdpnet_routes');
    expect(connected.key.toString('hex')).toBe('98000000' + idHex(R) + '0a000000');
    expect(connected.value.toString('hex')).toBe('01000000 64000000 00000000 00000000 00000000'.replaceAll(' ', '') + idHex(S));
    expect(connected.value).toHaveLength(routeEntry.size);

    const nexthop = encodeRoute({ routerId: R, prefix: '172.16.0.0/12' }, { kind: 'nexthop', vni: 200, nexthop: '10.0.1.254' });
    expect(nexthop.key.toString('hex')).toBe('8c000000' + idHex(R) + 'ac100000');
    expect(nexthop.value.equals(hex('02000000 c8000000 0a0001fe 00000000 00000000' + '00'.repeat(16)))).toBe(true);

    const dflt = encodeRoute(
      { routerId: R, prefix: '0.0.0.0/0' },
      { kind: 'external', nexthop: '203.0.113.1', gatewayVtepIp: '192.0.2.10', gatewayIsLocal: true },
    );
    expect(dflt.key.toString('hex')).toBe('80000000' + idHex(R) + '00000000');
    expect(dflt.value.equals(hex('03000000 00000000 cb007101 c000020a 01000000' + '00'.repeat(16)))).toBe(true);

    const onLink = encodeRoute(
      { routerId: R, prefix: '203.0.113.0/24' },
      { kind: 'external', nexthop: null, gatewayVtepIp: '192.0.2.10', gatewayIsLocal: false },
    );
    expect(onLink.value.equals(hex('03000000 00000000 00000000 c000020a 00000000' + '00'.repeat(16)))).toBe(true);

    const host = routeMapKey({ routerId: R, prefix: '10.9.8.7/32' });
    expect(host.toString('hex')).toBe('a0000000' + idHex(R) + '0a090807');
  });
});

describe('router-encode: errors', () => {
  const R = routerId(1);
  const S = subnetId(1);
  const MAC = routerMac(R);
  const bad = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ name: 'RouterCodecError', code: 'INTERNAL' }));

  it('invalid values are INTERNAL codec errors (DataplaneError), not crashes', () => {
    expect(() => encodeRouter({ routerId: 'nope' }, { macAddress: MAC, adminStateUp: true })).toThrow(RouterCodecError);
    expect(() => encodeRouter({ routerId: 'nope' }, { macAddress: MAC, adminStateUp: true })).toThrow(DataplaneError);
    // The map gives back lower case: an upper-case MAC would not round-trip.
    bad(() => encodeRouter({ routerId: R }, { macAddress: MAC.toUpperCase(), adminStateUp: true }));
    bad(() => encodeRouter({ routerId: R }, { macAddress: 'fa:16:3f', adminStateUp: true }));
    const iface = { vni: 100, ipAddress: '10.0.0.1', prefixLength: 24, macAddress: MAC };
    bad(() => encodeRouterInterface({ routerId: R, subnetId: S }, { ...iface, vni: 0 }));
    bad(() => encodeRouterInterface({ routerId: R, subnetId: S }, { ...iface, vni: 1 << 24 }));
    bad(() => encodeRouterInterface({ routerId: R, subnetId: S }, { ...iface, prefixLength: 0 }));
    bad(() => encodeRouterInterface({ routerId: R, subnetId: S }, { ...iface, prefixLength: 33 }));
    bad(() => encodeRouterInterface({ routerId: R, subnetId: S }, { ...iface, ipAddress: '10.0.0.256' }));
    bad(() => encodeRouterInterface({ routerId: R, subnetId: 'x' }, iface));
    // A non-canonical prefix would decode to another string.
    bad(() => encodeRoute({ routerId: R, prefix: '10.0.0.1/24' }, { kind: 'connected', vni: 100, subnetId: S }));
    bad(() => encodeRoute({ routerId: R, prefix: '10.0.0.0' }, { kind: 'connected', vni: 100, subnetId: S }));
    bad(() => encodeRoute({ routerId: R, prefix: '10.0.0.0/24' }, { kind: 'connected', vni: 0, subnetId: S }));
    bad(() => encodeRoute({ routerId: R, prefix: '10.0.0.0/24' }, { kind: 'nexthop', vni: 100, nexthop: '0.0.0.0' }));
    // 0.0.0.0 encodes "on-link" (null) for an external route.
    bad(() => encodeRoute({ routerId: R, prefix: '0.0.0.0/0' }, { kind: 'external', nexthop: '0.0.0.0', gatewayVtepIp: '192.0.2.1', gatewayIsLocal: false }));
    bad(() => encodeRoute({ routerId: R, prefix: '0.0.0.0/0' }, { kind: 'external', nexthop: null, gatewayVtepIp: 'x', gatewayIsLocal: false }));
  });

  it('map entries that are no table entry', () => {
    const route = encodeRoute({ routerId: R, prefix: '10.0.0.0/24' }, { kind: 'connected', vni: 100, subnetId: S });
    const withValue = (patch: (v: Buffer) => void) => {
      const value = Buffer.from(route.value);
      patch(value);
      return { key: route.key, value };
    };
    bad(() => decodeRoute(withValue((v) => v.writeUInt8(9, 0)))); // unknown kind
    bad(() => decodeRoute(withValue((v) => v.writeUInt8(1, 8)))); // a connected route with a next hop
    bad(() => decodeRoute(withValue((v) => v.writeUInt8(2, 0)))); // a next-hop route without one
    bad(() => decodeRoute({ key: Buffer.concat([hex('a1000000'), route.key.subarray(4)]), value: route.value })); // /33
    bad(() => decodeRoute({ key: Buffer.concat([route.key.subarray(0, 20), hex('0a000001')]), value: route.value })); // host bits
    bad(() => decodeRoute({ key: route.key.subarray(1), value: route.value }));
    const r = encodeRouter({ routerId: R }, { macAddress: MAC, adminStateUp: true });
    bad(() => decodeRouter({ key: r.key, value: hex(MAC.replaceAll(':', '') + '0300') }));
    bad(() => decodeRouter({ key: r.key, value: r.value.subarray(1) }));
    const i = encodeRouterInterface({ routerId: R, subnetId: S }, { vni: 100, ipAddress: '10.0.0.1', prefixLength: 24, macAddress: MAC });
    bad(() => decodeRouterInterface({ key: i.key, value: Buffer.concat([i.value.subarray(0, 10), hex('2100'), i.value.subarray(12)]) }));
  });
});
