// The SNAT tables' shared world: a gateway node (VTEP 192.0.2.1, as in
// overlay-world.ts) with an external NIC on the flat physical network
// "external" (203.0.113.0/24, gateway 203.0.113.1) and three routers whose
// gateway is this node, written through the daemon's encoders
// (overlay-encode.ts, router-encode.ts, snat-encode.ts) exactly as the daemon
// will.
//
// Routers A and B are two tenants with the same addressing on purpose: each
// connects a 10.1.0.0/24 where 10.1.0.11 is a local VM with the MAC
// 02:00:00:00:10:11 (p1 behind A, p3 behind B).
//
//   router A (SNAT, external IP 203.0.113.10):
//     green  VNI 10  10.1.0.0/24 .1   p1 (10.1.0.11); 10.1.0.21 behind VTEP 192.0.2.2
//     orange VNI 20  10.2.0.0/24 .1   p2 (10.2.0.12)
//   router B (SNAT, external IP 203.0.113.20):
//     blue   VNI 110 10.1.0.0/24 .1   p3 (10.1.0.11)
//   router C (SNAT disabled, external IP 203.0.113.30):
//     violet VNI 30  10.3.0.0/24 .1   p4 (10.3.0.14)
//   each: 203.0.113.0/24 external on-link, 0.0.0.0/0 external via 203.0.113.1
//   external next hops: 203.0.113.1 and 203.0.113.50 resolved; nothing else
//   external MTU 1400 (below the tenant networks' 1450, so the two differ)
//
// Every object is loaded with every map it declares pinned under the
// topology's bpffs directory, as the daemon pins them (pinned-maps.ts), so
// the connections xdp_port creates are the ones xdp_external finds:
//   port      xdp_port, the default port range
//   tiny      xdp_port, ports 40000..40001 only (exhaustion)
//   external  xdp_external, unsolicited packets to the kernel
//   strict    xdp_external, unsolicited packets dropped
// The connection table is loaded smaller than its default (a load-time
// override, as the daemon may make one), which the sharing proves works.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import {
  type LoadedObject,
  type RodataValue,
  type XdpActionName,
  REASON_MAP_NAME,
  codec,
  loadObject,
  readReasonCounters,
} from '../../src/dataplane/index.js';
import { SNAT_CT_MAP_NAME, SNAT_MAP_NAME, vtepNexthop } from '../../src/dataplane/layouts.js';
import { fdbTargetOf, snatGatewayKeyOf, txPortWrite, uuidBytes, withFdbRouter } from '../../src/dataplane/overlay-encode.js';
import { declaredMaps } from '../../src/dataplane/pinned-maps.js';
import { readPortCounters } from '../../src/dataplane/port-counters.js';
import { encodeRoute, encodeRouter, encodeRouterInterface } from '../../src/dataplane/router-encode.js';
import { type NatHalf, decodeNatHalf, encodeExtNexthop, encodeNatHalf, encodeSnat, extNexthopMapKey } from '../../src/dataplane/snat-encode.js';
import { routerMac } from '../../src/reconciler/router-mac.js';
import type { Location, TableKey, TableName, TableValue } from '../../src/reconciler/tables.js';
import { objectPath } from '../helpers/bpf.js';
import { type PayloadInput, eth, hexdiff } from '../helpers/frames.js';
import { type Topology, useTopology } from '../helpers/netns.js';
import { NEXTHOP_MAC, R2, UNDERLAY_MAC, UNDERLAY_MTU, be32Setting, VTEP_IP, daemonOverlayWrites } from './overlay-world.js';

export const GREEN = 10;
export const ORANGE = 20;
export const VIOLET = 30;
export const BLUE = 110;
export const NETWORK_MTU = 1450;
export const EXT_MTU = 1400;

const id = (tag: number, n: number) => `0000${tag.toString(16).padStart(4, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
export const ROUTER = { a: id(0xa, 1), b: id(0xa, 2), c: id(0xa, 3) } as const;
export const PORT_ID = (n: number) => id(0x3, n);
export const NET = (vni: number) => id(0x1, vni);
export const SUBNET = (vni: number) => id(0x2, vni);
export const EXT_NET = id(0x1, 1000);

export const EXT = {
  a: '203.0.113.10',
  b: '203.0.113.20',
  c: '203.0.113.30',
  /** The external subnet's gateway. */
  gateway: '203.0.113.1',
  /** A host on the external subnet, its MAC resolved. */
  onLink: '203.0.113.50',
  /** A host on the external subnet, its MAC unknown. */
  unresolved: '203.0.113.99',
  /** Nobody's address on the external subnet: not held here. */
  stranger: '203.0.113.77',
} as const;

export const MAC = {
  /** p1 on green, p3 on blue. */
  g1: '02:00:00:00:10:11',
  /** Green, behind R2 (10.1.0.21). */
  g2: '02:00:00:00:10:21',
  /** p2 on orange. */
  o1: '02:00:00:00:20:12',
  /** p4 on violet. */
  v1: '02:00:00:00:30:14',
  a: routerMac(ROUTER.a),
  b: routerMac(ROUTER.b),
  c: routerMac(ROUTER.c),
  /** The external NIC's. */
  ext: '02:00:00:00:ee:ff',
  /** The external subnet's gateway's. */
  gateway: '02:00:00:00:ee:01',
  onLink: '02:00:00:00:ee:50',
} as const;

export const TINY_PORTS = { min: 40000, max: 40001 } as const;
/** The connection table as loaded here: smaller than its default, as a load-time override. */
export const CT_ENTRIES = 65536;

export const SNAT_IFNAMES = ['p1', 'p2', 'p3', 'p4', 'ul', 'ext'] as const;
export type SnatIfName = (typeof SNAT_IFNAMES)[number];

type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };

/** The tables, for a world whose interfaces are name('p1') … name('ext'). */
export function snatTables(name: (n: SnatIfName) => string) {
  const network = (vni: number): Sample<'networks'> => ({ key: { vni }, value: { networkId: NET(vni), mtu: NETWORK_MTU, adminStateUp: true } });
  const port = (p: SnatIfName, n: number, vni: number, macAddress: string, ip: string): Sample<'localPorts'> => ({
    key: { interfaceName: name(p) },
    value: { portId: PORT_ID(n), vni, macAddress, ipAddresses: [ip], portSecurityEnabled: true, allowedAddressPairs: [], adminStateUp: true },
  });
  const fdb = (vni: number, macAddress: string, location: Location): Sample<'fdb'> => ({ key: { vni, macAddress }, value: { location } });
  const local = (p: SnatIfName): Location => ({ kind: 'local', interfaceName: name(p) });
  const routerAt = (routerId: string): Location => ({ kind: 'router', routerId });
  const arp = (vni: number, ipAddress: string, macAddress: string): Sample<'arp'> => ({ key: { vni, ipAddress }, value: { macAddress } });
  const iface = (routerId: string, vni: number, ipAddress: string): Sample<'routerInterfaces'> => ({
    key: { routerId, subnetId: SUBNET(vni) },
    value: { vni, ipAddress, prefixLength: 24, macAddress: routerMac(routerId) },
  });
  const external = { kind: 'external', gatewayVtepIp: VTEP_IP, gatewayIsLocal: true } as const;
  const routes = (routerId: string, connected: [string, number][]): Sample<'routes'>[] => [
    ...connected.map(([prefix, vni]) => ({ key: { routerId, prefix }, value: { kind: 'connected', vni, subnetId: SUBNET(vni) } }) as Sample<'routes'>),
    { key: { routerId, prefix: '203.0.113.0/24' }, value: { ...external, nexthop: null } },
    { key: { routerId, prefix: '0.0.0.0/0' }, value: { ...external, nexthop: EXT.gateway } },
  ];
  const snat = (routerId: string, externalIp: string, enableSnat: boolean): Sample<'snat'> => ({
    key: { routerId },
    value: {
      externalNetworkId: EXT_NET,
      externalNetworkType: 'flat',
      physicalNetwork: 'external',
      segmentationId: 0,
      externalIp,
      externalPrefixLength: 24,
      externalNexthop: EXT.gateway,
      gatewayVtepIp: VTEP_IP,
      gatewayIsLocal: true,
      enableSnat,
    },
  });

  return {
    networks: [network(GREEN), network(ORANGE), network(VIOLET), network(BLUE)],
    localPorts: [
      port('p1', 1, GREEN, MAC.g1, '10.1.0.11'),
      port('p2', 2, ORANGE, MAC.o1, '10.2.0.12'),
      port('p3', 3, BLUE, MAC.g1, '10.1.0.11'),
      port('p4', 4, VIOLET, MAC.v1, '10.3.0.14'),
    ],
    fdb: [
      fdb(GREEN, MAC.g1, local('p1')),
      fdb(GREEN, MAC.g2, { kind: 'remote', vtepIp: R2 }),
      fdb(GREEN, MAC.a, routerAt(ROUTER.a)),
      fdb(ORANGE, MAC.o1, local('p2')),
      fdb(ORANGE, MAC.a, routerAt(ROUTER.a)),
      fdb(BLUE, MAC.g1, local('p3')),
      fdb(BLUE, MAC.b, routerAt(ROUTER.b)),
      fdb(VIOLET, MAC.v1, local('p4')),
      fdb(VIOLET, MAC.c, routerAt(ROUTER.c)),
    ],
    arp: [
      arp(GREEN, '10.1.0.1', MAC.a),
      arp(GREEN, '10.1.0.11', MAC.g1),
      arp(GREEN, '10.1.0.21', MAC.g2),
      arp(ORANGE, '10.2.0.1', MAC.a),
      arp(ORANGE, '10.2.0.12', MAC.o1),
      arp(BLUE, '10.1.0.1', MAC.b),
      arp(BLUE, '10.1.0.11', MAC.g1),
      arp(VIOLET, '10.3.0.1', MAC.c),
      arp(VIOLET, '10.3.0.14', MAC.v1),
    ],
    routers: [ROUTER.a, ROUTER.b, ROUTER.c].map((routerId) => ({ key: { routerId }, value: { macAddress: routerMac(routerId), adminStateUp: true } })),
    routerInterfaces: [iface(ROUTER.a, GREEN, '10.1.0.1'), iface(ROUTER.a, ORANGE, '10.2.0.1'), iface(ROUTER.b, BLUE, '10.1.0.1'), iface(ROUTER.c, VIOLET, '10.3.0.1')],
    routes: [
      ...routes(ROUTER.a, [
        ['10.1.0.0/24', GREEN],
        ['10.2.0.0/24', ORANGE],
      ]),
      ...routes(ROUTER.b, [['10.1.0.0/24', BLUE]]),
      ...routes(ROUTER.c, [['10.3.0.0/24', VIOLET]]),
    ],
    snat: [snat(ROUTER.a, EXT.a, true), snat(ROUTER.b, EXT.b, true), snat(ROUTER.c, EXT.c, false)],
  };
}

export interface RunResult {
  action: XdpActionName | `UNKNOWN(${number})`;
  frame: Buffer;
  /** Reason counters that moved, as "NAME +packets/+bytes". */
  moved: string[];
  durationNs: number;
}

export interface SnatWorld {
  topo: Topology;
  ifindex(name: SnatIfName): number;
  port: LoadedObject;
  tiny: LoadedObject;
  external: LoadedObject;
  strict: LoadedObject;
  /** One run of `program` in `obj` on `frame` arriving on `from`. */
  run(obj: LoadedObject, program: string, frame: Buffer, from: SnatIfName): RunResult;
  /** xdp_port on `frame` from a VM port. */
  out(frame: Buffer, from: SnatIfName, obj?: LoadedObject): RunResult;
  /** xdp_external on `frame` from the external NIC. */
  in(frame: Buffer, obj?: LoadedObject): RunResult;
  /** Every entry of the connection table, decoded. */
  connections(): NatHalf[];
  /** Writes both halves of a connection (for replies to connections made elsewhere). */
  seed(...halves: NatHalf[]): void;
  /** Writes one map entry (through any object: the maps are shared). */
  write(w: { map: string; key: Buffer; value: Buffer }): void;
  /** Deletes one map entry. */
  remove(map: string, key: Buffer): void;
  /** Router `id`'s snat entry as the world writes it, with `change` applied. */
  snatEntry(routerId: string, change?: Partial<TableValue<'snat'>>): { map: string; key: Buffer; value: Buffer };
  /** Frames handed to a VM port so far (its tx counter). */
  portTx(port: 'p1' | 'p2' | 'p3' | 'p4'): bigint;
  /** Keys in a map, raw. */
  keys(map: string): Buffer[];
}

const PORT_NUMBER = { p1: 1, p2: 2, p3: 3, p4: 4 } as const;

/** Loads object `name` with every map it declares pinned under `dir` (the connection table at CT_ENTRIES). */
export async function loadPinned(dir: string, name: string, rodata: Record<string, RodataValue>): Promise<LoadedObject> {
  const path = objectPath(name);
  const maps = Object.fromEntries(
    declaredMaps(path).map((m) => [m.name, { pinPath: join(dir, m.name), ...(m.name === SNAT_CT_MAP_NAME ? { maxEntries: CT_ENTRIES } : {}) }]),
  );
  return loadObject(path, { rodata, maps });
}

function write(obj: LoadedObject, w: { map: string; key: Buffer; value: Buffer }): void {
  const map = obj.map(w.map);
  try {
    map.update(w.key, w.value);
  } finally {
    map.close();
  }
}

/**
 * Creates, for the enclosing describe block, the interfaces (`<prefix>-p1`
 * … `-ext` in the root namespace, peers in namespace `vm`), loads the four
 * objects with shared pins and writes the world.
 */
export function useSnatWorld(): () => SnatWorld {
  let world: SnatWorld | undefined;
  const objects: LoadedObject[] = [];
  const topo = useTopology({
    setup: async (t) => {
      await t.addNamespace('vm', { disableIpv6: true });
      for (const name of SNAT_IFNAMES) await t.addVeth({ a: { name }, b: { ns: 'vm', name } });
      mkdirSync(t.bpffsDir, { recursive: true });
      const overlay = { vtep_ip: be32Setting(VTEP_IP), underlay_mtu: UNDERLAY_MTU };
      const port = await loadPinned(t.bpffsDir, 'xdp_port', overlay);
      objects.push(port);
      const tiny = await loadPinned(t.bpffsDir, 'xdp_port', { ...overlay, snat_port_min: TINY_PORTS.min, snat_port_max: TINY_PORTS.max });
      objects.push(tiny);
      const external = await loadPinned(t.bpffsDir, 'xdp_external', overlay);
      objects.push(external);
      const strict = await loadPinned(t.bpffsDir, 'xdp_external', { ...overlay, drop_unsolicited: true });
      objects.push(strict);
      world = makeWorld(t, port, tiny, external, strict);
    },
  });
  afterAll(() => {
    world = undefined;
    for (const o of objects.splice(0)) o.close();
  });
  return () => {
    topo();
    if (!world) throw new Error('the SNAT world was not set up');
    return world;
  };
}

function makeWorld(topo: Topology, port: LoadedObject, tiny: LoadedObject, external: LoadedObject, strict: LoadedObject): SnatWorld {
  const ifindexes = new Map<string, number>();
  const ifindex = (n: SnatIfName): number => {
    const name = topo.rootLinkName(n);
    let i = ifindexes.get(name);
    if (i === undefined) {
      i = sysIfindexOf(name);
      ifindexes.set(name, i);
    }
    return i;
  };
  const byName = (name: string) => SNAT_IFNAMES.map((n) => [topo.rootLinkName(n), ifindex(n)] as const).find(([n]) => n === name)?.[1];

  const w = snatTables((n) => topo.rootLinkName(n));
  const link = { ifindex: ifindex('ext'), mtu: EXT_MTU, mac: MAC.ext };
  const extNexthops = [
    encodeExtNexthop({ ifindex: ifindex('ext'), ip: EXT.gateway }, { dstMac: MAC.gateway, srcMac: MAC.ext }),
    encodeExtNexthop({ ifindex: ifindex('ext'), ip: EXT.onLink }, { dstMac: MAC.onLink, srcMac: MAC.ext }),
  ];
  /** The external next hop of a snat entry's gateway, as xdpnet_ext_nexthops holds it. */
  const gatewayOf = (snat: Buffer): Buffer | undefined => {
    const key = snatGatewayKeyOf(snat);
    return key && extNexthops.find((w) => w.key.equals(extNexthopMapKey(key)))?.value;
  };
  const snats = w.snat.map((e) => ({ routerId: e.key.routerId, ...encodeSnat(e.key, e.value, (physnet) => (physnet === 'external' ? link : undefined)) }));
  const writes = [
    ...w.routers.map((e) => encodeRouter(e.key, e.value)),
    ...w.routerInterfaces.map((e) => encodeRouterInterface(e.key, e.value)),
    ...w.routes.map((e) => encodeRoute(e.key, e.value)),
    ...snats.flatMap((s) => (s.extAddr ? [s.snat, s.extAddr] : [s.snat])),
    // As the daemon writes them: each port counts in a slot of its own (portTx reads it), the routers' MACs carry their copies.
    ...daemonOverlayWrites(w, byName, { snat: (routerId) => snats.find((s) => s.routerId === routerId)?.snat.value, gateway: gatewayOf }),
    txPortWrite(ifindex('ul')),
    txPortWrite(ifindex('ext')),
    ...extNexthops,
    {
      map: 'xdpnet_nexthops',
      key: codec.encode(codec.ipv4, R2),
      value: vtepNexthop.encode({ dst_mac: NEXTHOP_MAC[R2]!, src_mac: UNDERLAY_MAC, ifindex: ifindex('ul') }),
    },
  ];
  for (const x of writes) write(port, x);

  const totals = () => {
    const map = port.map(REASON_MAP_NAME);
    try {
      return new Map(readReasonCounters(map).map((r) => [r.name, r]));
    } finally {
      map.close();
    }
  };
  const run = (obj: LoadedObject, program: string, frame: Buffer, from: SnatIfName): RunResult => {
    const before = totals();
    const p = obj.program(program);
    let result;
    try {
      result = p.testRun(frame, { ingressIfindex: ifindex(from) });
    } finally {
      p.close();
    }
    const moved: string[] = [];
    for (const [name, now] of totals()) {
      const then = before.get(name);
      const packets = now.packets - (then?.packets ?? 0n);
      const bytes = now.bytes - (then?.bytes ?? 0n);
      if (packets !== 0n || bytes !== 0n) moved.push(`${name.replace(/^REASON_/, '')} +${packets}/+${bytes}B`);
    }
    return { action: result.action, frame: result.frame, moved, durationNs: result.durationNs };
  };
  /**
   * After a write or delete of a router's xdpnet_routers or xdpnet_snat
   * entry (key: the router id): its MACs' fdb entries get the copies the
   * daemon would give them (fdb-copies.ts routerChanged).
   */
  const followRouter = (routerKey: Buffer): void => {
    const lookup = (name: string) => {
      const map = port.map(name);
      try {
        return map.lookup(routerKey) ?? undefined;
      } finally {
        map.close();
      }
    };
    const router = lookup('xdpnet_routers');
    const snat = lookup(SNAT_MAP_NAME);
    const gatewayKey = snat && snatGatewayKeyOf(snat);
    let gateway: Buffer | undefined;
    if (gatewayKey) {
      const map = port.map('xdpnet_ext_nexthops');
      try {
        gateway = map.lookup(extNexthopMapKey(gatewayKey)) ?? undefined;
      } finally {
        map.close();
      }
    }
    const fdbMap = port.map('xdpnet_fdb');
    try {
      for (const [key, value] of [...fdbMap.entries()].map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const)) {
        const target = fdbTargetOf(value);
        if (target?.kind === 'router' && uuidBytes(target.routerId).equals(routerKey)) fdbMap.update(key, withFdbRouter(value, router, snat, gateway));
      }
    } finally {
      fdbMap.close();
    }
  };
  /** After a write or delete of an external next hop: every router's MACs as the daemon would have them (extNexthopChanged). */
  const followAllRouters = (): void => {
    const ids = new Map<string, Buffer>();
    const fdbMap = port.map('xdpnet_fdb');
    try {
      for (const [, value] of fdbMap.entries()) {
        const target = fdbTargetOf(Buffer.from(value));
        if (target?.kind === 'router') ids.set(target.routerId, uuidBytes(target.routerId));
      }
    } finally {
      fdbMap.close();
    }
    for (const key of ids.values()) followRouter(key);
  };
  const keys = (name: string): Buffer[] => {
    const map = port.map(name);
    try {
      return [...map.keys()];
    } finally {
      map.close();
    }
  };

  return {
    topo,
    ifindex,
    port,
    tiny,
    external,
    strict,
    run,
    out: (frame, from, obj = port) => run(obj, 'xdp_port', frame, from),
    in: (frame, obj = external) => run(obj, 'xdp_external', frame, 'ext'),
    connections() {
      const map = port.map(SNAT_CT_MAP_NAME);
      try {
        return [...map.entries()].map(([key, value]) => decodeNatHalf({ key, value }));
      } finally {
        map.close();
      }
    },
    seed(...halves) {
      for (const h of halves) write(port, encodeNatHalf(h));
    },
    write(x) {
      write(port, x);
      if (x.map === SNAT_MAP_NAME || x.map === 'xdpnet_routers') followRouter(x.key);
      if (x.map === 'xdpnet_ext_nexthops') followAllRouters();
    },
    remove(name, key) {
      const map = port.map(name);
      try {
        map.delete(key);
      } finally {
        map.close();
      }
      if (name === SNAT_MAP_NAME || name === 'xdpnet_routers') followRouter(key);
      if (name === 'xdpnet_ext_nexthops') followAllRouters();
    },
    snatEntry(routerId, change = {}) {
      const e = w.snat.find((x) => x.key.routerId === routerId)!;
      return encodeSnat(e.key, { ...e.value, ...change }, () => link).snat;
    },
    portTx(p) {
      return readPortCounters(topo.bpffsDir).get(PORT_ID(PORT_NUMBER[p]))?.txPackets ?? 0n;
    },
    keys,
  };
}

function sysIfindexOf(name: string): number {
  return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
}

/** Asserts the run's verdict, the one reason it was counted under, and (if given) the exact output frame. */
export function expectRun(r: RunResult, action: XdpActionName, reason: string, frame?: Buffer): void {
  expect(r.action, `verdict (counted: ${r.moved.join(', ')})`).toBe(action);
  expect(r.moved.map((m) => m.replace(/ .*/, '')), 'reason counters that moved').toEqual([reason]);
  expect(r.moved[0], 'one packet, counted at its length as it left').toBe(`${reason} +1/+${r.frame.length}B`);
  if (frame) expectFrame(r.frame, frame);
}

/** Asserts two frames are equal, showing where they differ. */
export function expectFrame(got: Buffer, want: Buffer): void {
  if (!got.equals(want)) expect.fail(`output frame differs from expected:\n${hexdiff(want, got)}`);
}

// ---------------------------------------------------------------------------
// Frames of the world, built independently of the programs: every checksum
// computed in full by the frame builder, never incrementally.

export interface Host {
  mac: string;
  ip: string;
}
export const VM = {
  /** p1, green, behind router A. */
  p1: { mac: MAC.g1, ip: '10.1.0.11' },
  /** p2, orange, behind router A. */
  p2: { mac: MAC.o1, ip: '10.2.0.12' },
  /** p3, blue, behind router B: p1's twin. */
  p3: { mac: MAC.g1, ip: '10.1.0.11' },
  /** p4, violet, behind router C (SNAT disabled). */
  p4: { mac: MAC.v1, ip: '10.3.0.14' },
  /** Green, behind VTEP 192.0.2.2. */
  g2: { mac: MAC.g2, ip: '10.1.0.21' },
} as const;
/** Somewhere on the internet. */
export const REMOTE = '198.51.100.7';

export type L4 =
  | { kind: 'tcp'; sport: number; dport: number; flags?: string; seq?: number; ack?: number }
  | { kind: 'udp'; sport: number; dport: number; noChecksum?: boolean }
  | { kind: 'echo'; op?: 'request' | 'reply'; id: number; seq?: number };

export interface L3 {
  src: string;
  dst: string;
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
}

/** An Ethernet/IPv4 frame with the L4 header `l4` and `payload`. */
export function packet(l2: { src: string; dst: string }, l3: L3, l4: L4, payload: PayloadInput = 'through the router'): Buffer {
  const ip = eth(l2).ipv4({ id: 0x1234, ...l3 });
  switch (l4.kind) {
    case 'tcp':
      return ip.tcp({ sport: l4.sport, dport: l4.dport, flags: l4.flags ?? 'S', seq: l4.seq ?? 1000, ack: l4.ack ?? 0 }).payload(payload).build();
    case 'udp':
      return ip.udp({ sport: l4.sport, dport: l4.dport, ...(l4.noChecksum ? { checksum: 0 } : {}) }).payload(payload).build();
    case 'echo':
      return ip.icmpEcho({ op: l4.op ?? 'request', id: l4.id, seq: l4.seq ?? 1 }).payload(payload).build();
  }
}

/** The L4 header with the source port (echo: identifier) `port`. */
export const withSource = (l4: L4, port: number): L4 => (l4.kind === 'echo' ? { ...l4, id: port } : { ...l4, sport: port });
/** The L4 header with the destination port (echo: identifier) `port`. */
export const withDest = (l4: L4, port: number): L4 => (l4.kind === 'echo' ? { ...l4, id: port } : { ...l4, dport: port });
/** The L4 header of the answer: ports swapped (echo: a reply). */
export const answer = (l4: L4, flags?: string): L4 => {
  switch (l4.kind) {
    case 'tcp':
      return { ...l4, sport: l4.dport, dport: l4.sport, flags: flags ?? 'SA' };
    case 'udp':
      return { ...l4, sport: l4.dport, dport: l4.sport };
    case 'echo':
      return { ...l4, op: 'reply' };
  }
};

/** What the VM `vm` sends to `dst` through its router (MAC `router`). */
export const fromVm = (vm: Host, router: string, dst: string, l4: L4, l3: Partial<L3> = {}, payload?: PayloadInput) =>
  packet({ src: vm.mac, dst: router }, { src: vm.ip, dst, ...l3 }, l4, payload);

/** That packet as SNAT sends it: from (extIp, port), TTL one lower, to the next hop's MAC from the NIC's. */
export const snatted = (extIp: string, port: number, dst: string, l4: L4, nexthopMac: string = MAC.gateway, l3: Partial<L3> = {}, payload?: PayloadInput) =>
  packet({ src: MAC.ext, dst: nexthopMac }, { src: extIp, dst, ttl: 63, ...l3 }, withSource(l4, port), payload);

/** What `src` sends back to (extIp, port), arriving from the external gateway. */
export const fromOutside = (src: string, extIp: string, port: number, l4: L4, l3: Partial<L3> = {}, payload?: PayloadInput) =>
  packet({ src: MAC.gateway, dst: MAC.ext }, { src, dst: extIp, ttl: 50, ...l3 }, withDest(l4, port), payload);

/** That answer as the VM gets it: to its address and port, TTL one lower, from its router's MAC. */
export const toVm = (vm: Host, router: string, src: string, l4: L4, l3: Partial<L3> = {}, payload?: PayloadInput) =>
  packet({ src: router, dst: vm.mac }, { src, dst: vm.ip, ttl: 49, ...l3 }, l4, payload);

/** The source port (echo: identifier) of an IPv4 frame without options. */
export const sourcePortOf = (frame: Buffer): number => (frame[14 + 9] === 1 ? frame.readUInt16BE(14 + 24) : frame.readUInt16BE(14 + 20));
