// The routing tables' shared world: a node (VTEP 192.0.2.1, as in
// overlay-world.ts, whose port interfaces and underlay it reuses) with three
// routers, written into xdp_port's maps through the daemon's encoders
// (overlay-encode.ts, router-encode.ts) exactly as the daemon will.
//
// Routers A and B route the same addresses on purpose: each connects a
// 10.1.0.0/24 and a 10.2.0.0/24 (its own networks), and on both 10.1.0.11 is a
// local VM with the MAC 02:00:00:00:10:11 (p1 behind A, p3 behind B), while
// 10.2.0.12 is local port p2 behind A but behind VTEP 192.0.2.3 behind B.
//
//   router A (up): green  VNI 10  10.1.0.0/24 .1   p1 (10.1.0.11, port security), p6 (.16); .21 behind R2
//                  orange VNI 20  10.2.0.0/24 .1   p2 (10.2.0.12); .22 behind R2; .29 known to ARP only;
//                                                  .5 is router E's interface (E has no table here)
//                  small  VNI 30  10.3.0.0/24 .1   p5 (10.3.0.15); MTU 1000
//                  dark   VNI 60  10.6.0.0/24 .1   admin down; .16 behind R2
//                  172.16.0.0/12 via 10.2.0.12 (p2), 192.168.0.0/16 via 10.2.0.77 (no ARP entry),
//                  10.99.0.0/16 via 10.2.0.5 (router E), 0.0.0.0/0 external via 203.0.113.1
//   router B (up): blue   VNI 110 10.1.0.0/24 .1   p3 (10.1.0.11)
//                  purple VNI 120 10.2.0.0/24 .1   10.2.0.12 behind R3; no default route
//   router C (down): VNI 40 10.4.0.0/24 .1         p4 (10.4.0.14)
//   router D: an FDB entry on green (MAC fa:16:3f:0d:0d:0d) for a router with no table here
import { readFileSync } from 'node:fs';
import type { LoadedObject } from '../../src/dataplane/index.js';
import { codec } from '../../src/dataplane/index.js';
import { vtepNexthop } from '../../src/dataplane/layouts.js';
import { txPortWrite } from '../../src/dataplane/overlay-encode.js';
import { encodeRoute, encodeRouter, encodeRouterInterface } from '../../src/dataplane/router-encode.js';
import { routerMac } from '../../src/reconciler/router-mac.js';
import type { Location, TableKey, TableName, TableValue } from '../../src/reconciler/tables.js';
import { type OverlayPorts, type PortName, NEXTHOP_MAC, R2, R3, UNDERLAY_MAC, daemonOverlayWrites } from './overlay-world.js';

export const GREEN = 10;
export const ORANGE = 20;
export const SMALL = 30;
export const DOWNED = 40;
export const DARK = 60;
export const BLUE = 110;
export const PURPLE = 120;
export const NETWORK_MTU = 1450;
export const SMALL_MTU = 1000;

const id = (tag: number, n: number) => `0000${tag.toString(16).padStart(4, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
export const ROUTER = { a: id(0xa, 1), b: id(0xa, 2), c: id(0xa, 3), d: id(0xa, 4), e: id(0xa, 5) } as const;
const NET = (vni: number) => id(0x1, vni);
const SUBNET = (vni: number) => id(0x2, vni);

export const MAC = {
  /** p1 on green, p3 on blue. */
  g1: '02:00:00:00:10:11',
  /** p6 on green. */
  g6: '02:00:00:00:10:16',
  /** Green, behind R2 (10.1.0.21). */
  g2: '02:00:00:00:10:21',
  /** p2 on orange; behind R3 on purple (both 10.2.0.12). */
  o1: '02:00:00:00:20:12',
  /** Orange, behind R2 (10.2.0.22). */
  o2: '02:00:00:00:20:22',
  /** Orange 10.2.0.29: in ARP, in no FDB. */
  o9: '02:00:00:00:20:29',
  /** p5 on small. */
  s1: '02:00:00:00:30:15',
  /** p4 on the network of the down router. */
  c1: '02:00:00:00:40:14',
  /** Dark, behind R2 (10.6.0.16). */
  d1: '02:00:00:00:60:16',
  a: routerMac(ROUTER.a),
  b: routerMac(ROUTER.b),
  c: routerMac(ROUTER.c),
  d: 'fa:16:3f:0d:0d:0d',
  e: 'fa:16:3f:0e:0e:0e',
} as const;

type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };
export interface RouteWorld {
  networks: Sample<'networks'>[];
  localPorts: Sample<'localPorts'>[];
  fdb: Sample<'fdb'>[];
  arp: Sample<'arp'>[];
  routers: Sample<'routers'>[];
  routerInterfaces: Sample<'routerInterfaces'>[];
  routes: Sample<'routes'>[];
}

/** The tables, for a world whose ports are the interfaces name('p1') … name('p6'). */
export function routeTables(name: (p: PortName) => string): RouteWorld {
  const network = (vni: number, mtu = NETWORK_MTU, adminStateUp = true): Sample<'networks'> => ({
    key: { vni },
    value: { networkId: NET(vni), mtu, adminStateUp },
  });
  const port = (p: PortName, vni: number, macAddress: string, ip: string, portSecurityEnabled = false): Sample<'localPorts'> => ({
    key: { interfaceName: name(p) },
    value: { portId: id(0x3, Number(p.slice(1))), vni, macAddress, ipAddresses: [ip], portSecurityEnabled, allowedAddressPairs: [], adminStateUp: true },
  });
  const fdb = (vni: number, macAddress: string, location: Location): Sample<'fdb'> => ({ key: { vni, macAddress }, value: { location } });
  const local = (p: PortName): Location => ({ kind: 'local', interfaceName: name(p) });
  const remote = (vtepIp: string): Location => ({ kind: 'remote', vtepIp });
  const router = (routerId: string): Location => ({ kind: 'router', routerId });
  const arp = (vni: number, ipAddress: string, macAddress: string): Sample<'arp'> => ({ key: { vni, ipAddress }, value: { macAddress } });
  const iface = (routerId: string, vni: number, ipAddress: string, macAddress: string): Sample<'routerInterfaces'> => ({
    key: { routerId, subnetId: SUBNET(vni) },
    value: { vni, ipAddress, prefixLength: 24, macAddress },
  });
  const route = (routerId: string, prefix: string, value: TableValue<'routes'>): Sample<'routes'> => ({ key: { routerId, prefix }, value });
  const connected = (routerId: string, prefix: string, vni: number) => route(routerId, prefix, { kind: 'connected', vni, subnetId: SUBNET(vni) });

  return {
    networks: [
      network(GREEN),
      network(ORANGE),
      network(SMALL, SMALL_MTU),
      network(DOWNED),
      network(DARK, NETWORK_MTU, false),
      network(BLUE),
      network(PURPLE),
    ],
    localPorts: [
      port('p1', GREEN, MAC.g1, '10.1.0.11', true),
      port('p2', ORANGE, MAC.o1, '10.2.0.12'),
      port('p3', BLUE, MAC.g1, '10.1.0.11'),
      port('p4', DOWNED, MAC.c1, '10.4.0.14'),
      port('p5', SMALL, MAC.s1, '10.3.0.15'),
      port('p6', GREEN, MAC.g6, '10.1.0.16'),
    ],
    fdb: [
      fdb(GREEN, MAC.g1, local('p1')),
      fdb(GREEN, MAC.g6, local('p6')),
      fdb(GREEN, MAC.g2, remote(R2)),
      fdb(GREEN, MAC.a, router(ROUTER.a)),
      fdb(GREEN, MAC.d, router(ROUTER.d)),
      fdb(ORANGE, MAC.o1, local('p2')),
      fdb(ORANGE, MAC.o2, remote(R2)),
      fdb(ORANGE, MAC.a, router(ROUTER.a)),
      fdb(ORANGE, MAC.e, router(ROUTER.e)),
      fdb(SMALL, MAC.s1, local('p5')),
      fdb(SMALL, MAC.a, router(ROUTER.a)),
      fdb(DARK, MAC.d1, remote(R2)),
      fdb(DARK, MAC.a, router(ROUTER.a)),
      fdb(DOWNED, MAC.c1, local('p4')),
      fdb(DOWNED, MAC.c, router(ROUTER.c)),
      fdb(BLUE, MAC.g1, local('p3')),
      fdb(BLUE, MAC.b, router(ROUTER.b)),
      fdb(PURPLE, MAC.o1, remote(R3)),
      fdb(PURPLE, MAC.b, router(ROUTER.b)),
    ],
    arp: [
      arp(GREEN, '10.1.0.1', MAC.a),
      arp(GREEN, '10.1.0.11', MAC.g1),
      arp(GREEN, '10.1.0.16', MAC.g6),
      arp(GREEN, '10.1.0.21', MAC.g2),
      arp(ORANGE, '10.2.0.1', MAC.a),
      arp(ORANGE, '10.2.0.5', MAC.e),
      arp(ORANGE, '10.2.0.12', MAC.o1),
      arp(ORANGE, '10.2.0.22', MAC.o2),
      arp(ORANGE, '10.2.0.29', MAC.o9),
      arp(SMALL, '10.3.0.1', MAC.a),
      arp(SMALL, '10.3.0.15', MAC.s1),
      arp(DARK, '10.6.0.1', MAC.a),
      arp(DARK, '10.6.0.16', MAC.d1),
      arp(DOWNED, '10.4.0.1', MAC.c),
      arp(DOWNED, '10.4.0.14', MAC.c1),
      arp(BLUE, '10.1.0.1', MAC.b),
      arp(BLUE, '10.1.0.11', MAC.g1),
      arp(PURPLE, '10.2.0.1', MAC.b),
      arp(PURPLE, '10.2.0.12', MAC.o1),
    ],
    routers: [
      { key: { routerId: ROUTER.a }, value: { macAddress: MAC.a, adminStateUp: true } },
      { key: { routerId: ROUTER.b }, value: { macAddress: MAC.b, adminStateUp: true } },
      { key: { routerId: ROUTER.c }, value: { macAddress: MAC.c, adminStateUp: false } },
    ],
    routerInterfaces: [
      iface(ROUTER.a, GREEN, '10.1.0.1', MAC.a),
      iface(ROUTER.a, ORANGE, '10.2.0.1', MAC.a),
      iface(ROUTER.a, SMALL, '10.3.0.1', MAC.a),
      iface(ROUTER.a, DARK, '10.6.0.1', MAC.a),
      iface(ROUTER.b, BLUE, '10.1.0.1', MAC.b),
      iface(ROUTER.b, PURPLE, '10.2.0.1', MAC.b),
      iface(ROUTER.c, DOWNED, '10.4.0.1', MAC.c),
    ],
    routes: [
      connected(ROUTER.a, '10.1.0.0/24', GREEN),
      connected(ROUTER.a, '10.2.0.0/24', ORANGE),
      connected(ROUTER.a, '10.3.0.0/24', SMALL),
      connected(ROUTER.a, '10.6.0.0/24', DARK),
      route(ROUTER.a, '172.16.0.0/12', { kind: 'nexthop', vni: ORANGE, nexthop: '10.2.0.12' }),
      route(ROUTER.a, '192.168.0.0/16', { kind: 'nexthop', vni: ORANGE, nexthop: '10.2.0.77' }),
      route(ROUTER.a, '10.99.0.0/16', { kind: 'nexthop', vni: ORANGE, nexthop: '10.2.0.5' }),
      route(ROUTER.a, '0.0.0.0/0', { kind: 'external', nexthop: '203.0.113.1', gatewayVtepIp: '192.0.2.10', gatewayIsLocal: false }),
      connected(ROUTER.b, '10.1.0.0/24', BLUE),
      connected(ROUTER.b, '10.2.0.0/24', PURPLE),
      connected(ROUTER.c, '10.4.0.0/24', DOWNED),
    ],
  };
}

/** An interface's ifindex by name, as the daemon resolves it (here through /sys). */
export function sysIfindex(name: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Writes the world into the object's maps through the encoders, plus the
 * node's underlay next hops: with the copies the daemon keeps (the router
 * in its MACs' fdb entries, the port in its MAC's, the network in its
 * ports'), or with `copies: false` without any, as another writer might
 * (the programs then look each original up).
 */
export function installRouteWorld(obj: LoadedObject, ports: OverlayPorts, opts: { copies?: boolean } = {}): void {
  const w = routeTables((p) => ports.topo.rootLinkName(p));
  const writes = [
    ...w.routers.map((e) => encodeRouter(e.key, e.value)),
    ...w.routerInterfaces.map((e) => encodeRouterInterface(e.key, e.value)),
    ...w.routes.map((e) => encodeRoute(e.key, e.value)),
    ...daemonOverlayWrites(w, sysIfindex, opts),
    txPortWrite(ports.ifindex('ul')),
  ];
  for (const write of writes) {
    const map = obj.map(write.map);
    try {
      map.update(write.key, write.value);
    } finally {
      map.close();
    }
  }
  const nexthops = obj.map('xdpnet_nexthops');
  try {
    for (const vtep of [R2, R3]) {
      nexthops.update(codec.encode(codec.ipv4, vtep), vtepNexthop.encode({ dst_mac: NEXTHOP_MAC[vtep]!, src_mac: UNDERLAY_MAC, ifindex: ports.ifindex('ul') }));
    }
  } finally {
    nexthops.close();
  }
}
