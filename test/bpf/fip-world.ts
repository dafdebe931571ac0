// The floating IP and tunnel tables' shared world: snat-world.ts's gateway
// node (VTEP 192.0.2.1), with floating IPs and xdp_underlay loaded on its
// maps as well, and a compute node (VTEP 192.0.2.2, which is R2: where the
// gateway node's FDB puts green 10.1.0.21) with maps and objects of its own.
// Every entry is written through the daemon's encoders (overlay-encode.ts,
// router-encode.ts, snat-encode.ts, fip-encode.ts) exactly as the daemon will.
//
//   floating IPs, router A's unless said (external network 203.0.113.0/24):
//     203.0.113.102 -> p2 (10.2.0.12, orange): a VM of the gateway node
//     203.0.113.121 -> g2 (10.1.0.21, green):  a VM of the compute node
//     203.0.113.114 -> p4 (10.3.0.14, violet, router C: SNAT disabled)
//   p1 (10.1.0.11) and p3 (router B) have none: they leave through SNAT.
//
//   the compute node (bpffs <topology>/compute; interfaces c2, g2's port, and
//   cul, its underlay; both with peers in namespace vm):
//     networks green and orange; router A with the same tables as on the
//     gateway node, except that its external routes, its snat entry and its
//     floating IPs say the gateway node is 192.0.2.1; g2 local on c2; p1's
//     and p2's MACs behind 192.0.2.1; the underlay next hop to 192.0.2.1
//     (its MAC the gateway node's underlay MAC, ours R2's).
//
// Frames between the two nodes are fed from one node's output to the other's
// input, or built independently here (fromCompute, encapsulated in
// overlay-world.ts) to pin down each side on its own.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type LoadedObject, REASON_MAP_NAME, codec, readReasonCounters } from '../../src/dataplane/index.js';
import { encodeFixedToFloating, encodeFloatingIp, floatingIpMapKey } from '../../src/dataplane/fip-encode.js';
import { vtepNexthop } from '../../src/dataplane/layouts.js';
import { encodeArp, encodeFdb, encodeLocalPort, encodeNetwork, txPortWrite } from '../../src/dataplane/overlay-encode.js';
import { readPortCounters } from '../../src/dataplane/port-counters.js';
import { encodeRoute, encodeRouter, encodeRouterInterface } from '../../src/dataplane/router-encode.js';
import { encodeSnat } from '../../src/dataplane/snat-encode.js';
import type { TableKey, TableName, TableValue } from '../../src/reconciler/tables.js';
import { type PayloadInput, eth, flowHash, vxlanSourcePort } from '../helpers/frames.js';
import { NEXTHOP_MAC, R2, UNDERLAY_MAC, UNDERLAY_MTU, VTEP_IP, be32Setting } from './overlay-world.js';
import {
  EXT,
  EXT_MTU,
  EXT_NET,
  GREEN,
  type L3,
  type L4,
  MAC,
  NET,
  NETWORK_MTU,
  ORANGE,
  PORT_ID,
  ROUTER,
  type RunResult,
  SUBNET,
  type SnatWorld,
  VIOLET,
  VM,
  loadPinned,
  packet,
  snatTables,
  useSnatWorld,
} from './snat-world.js';

/** The compute node's VTEP: R2 of the gateway node's world. */
export const COMPUTE_VTEP = R2;
/** The compute node's underlay MAC (what the gateway node's next hop to R2 says). */
export const COMPUTE_UNDERLAY_MAC = NEXTHOP_MAC[R2]!;

export const FIP = {
  /** p2's (orange, router A, the gateway node). */
  p2: '203.0.113.102',
  /** g2's (green, router A, the compute node). */
  g2: '203.0.113.121',
  /** p4's (violet, router C: SNAT disabled). */
  p4: '203.0.113.114',
} as const;
export type FipName = keyof typeof FIP;

type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };

/** The floating IPs' table entries, for a node whose VTEP is `vtep`. */
export function fipTables(vtep: string) {
  const local = vtep === VTEP_IP;
  const fip = (name: FipName, routerId: string, port: number, fixedIpAddress: string, vni: number) => ({
    floatingIps: {
      key: { floatingNetworkId: EXT_NET, floatingIpAddress: FIP[name] },
      value: { routerId, portId: PORT_ID(port), fixedIpAddress, vni, gatewayVtepIp: VTEP_IP, gatewayIsLocal: local },
    } satisfies Sample<'floatingIps'>,
    fixedToFloating: {
      key: { routerId, fixedIpAddress },
      value: { floatingNetworkId: EXT_NET, floatingIpAddress: FIP[name] },
    } satisfies Sample<'fixedToFloating'>,
  });
  return {
    p2: fip('p2', ROUTER.a, 2, VM.p2.ip, ORANGE),
    g2: fip('g2', ROUTER.a, 21, VM.g2.ip, GREEN),
    p4: fip('p4', ROUTER.c, 4, VM.p4.ip, VIOLET),
  };
}

export interface FipWorld {
  /** The gateway node: snat-world.ts's world, its maps now holding the floating IPs too. */
  gw: SnatWorld;
  /** xdp_underlay on the gateway node's maps. */
  gwUnderlay: LoadedObject;
  /** The compute node's objects. */
  compute: { port: LoadedObject; underlay: LoadedObject };
  /** ifindex of the compute node's interfaces. */
  computeIfindex(name: 'c2' | 'cul'): number;
  /** The gateway node's xdp_underlay on `frame` from its underlay. */
  gwTunnelIn(frame: Buffer): RunResult;
  /** The compute node's xdp_port on `frame` from g2's port. */
  computeOut(frame: Buffer): RunResult;
  /** The compute node's xdp_underlay on `frame` from its underlay. */
  computeIn(frame: Buffer): RunResult;
  /** Writes floating IP `name` on the gateway node as the daemon associates it: xdpnet_fip_in, xdpnet_ext_addrs, xdpnet_fip_out. */
  associate(name: FipName): void;
  /** Undoes it in the reverse order: xdpnet_fip_out, xdpnet_ext_addrs, xdpnet_fip_in. */
  disassociate(name: FipName, keep?: { fipIn?: boolean; extAddr?: boolean }): void;
  /** Frames handed to g2's port on the compute node so far. */
  computeTx(): bigint;
}

/** One run of `program` of `obj` on `frame` arriving on `ifindex`, counted through `reasons`' pinned counters. */
function runCounted(reasons: LoadedObject, obj: LoadedObject, program: string, frame: Buffer, ifindex: number): RunResult {
  const totals = () => {
    const map = reasons.map(REASON_MAP_NAME);
    try {
      return new Map(readReasonCounters(map).map((r) => [r.name, r]));
    } finally {
      map.close();
    }
  };
  const before = totals();
  const p = obj.program(program);
  let result;
  try {
    result = p.testRun(frame, { ingressIfindex: ifindex });
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
}

function writeAll(obj: LoadedObject, writes: readonly { map: string; key: Buffer; value: Buffer }[]): void {
  for (const w of writes) {
    const map = obj.map(w.map);
    try {
      map.update(w.key, w.value);
    } finally {
      map.close();
    }
  }
}

function remove(obj: LoadedObject, name: string, key: Buffer): void {
  const map = obj.map(name);
  try {
    map.delete(key);
  } finally {
    map.close();
  }
}

const ifindexOf = (name: string): number => Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));

/**
 * For the enclosing describe block: snat-world.ts's gateway node with the
 * floating IPs and its xdp_underlay, and the compute node.
 */
export function useFipWorld(): () => FipWorld {
  const gwWorld = useSnatWorld();
  let world: FipWorld | undefined;
  const objects: LoadedObject[] = [];

  beforeAll(async () => {
    const gw = gwWorld();
    const topo = gw.topo;
    for (const name of ['c2', 'cul']) await topo.addVeth({ a: { name }, b: { ns: 'vm', name } });
    const computeIfindex = (n: 'c2' | 'cul') => ifindexOf(topo.rootLinkName(n));

    // The gateway node: its underlay program on the same pins, and the floating IPs.
    const gwUnderlay = await loadPinned(topo.bpffsDir, 'xdp_underlay', { vtep_ip: be32Setting(VTEP_IP), underlay_mtu: UNDERLAY_MTU });
    objects.push(gwUnderlay);
    const link = { ifindex: gw.ifindex('ext'), mtu: EXT_MTU, mac: MAC.ext };
    const gwSnat = snatTables((n) => topo.rootLinkName(n)).snat;
    const snatOf = (routerId: string) => gwSnat.find((s) => s.key.routerId === routerId)?.value;
    const gwFips = fipTables(VTEP_IP);
    const associationWrites = (name: FipName) => {
      const f = gwFips[name];
      const w = encodeFloatingIp(f.floatingIps.key, f.floatingIps.value, snatOf(f.floatingIps.value.routerId), () => link);
      return { fipIn: w.fipIn, extAddr: w.extAddr!, fipOut: encodeFixedToFloating(f.fixedToFloating.key, f.fixedToFloating.value) };
    };
    for (const name of Object.keys(FIP) as FipName[]) {
      const w = associationWrites(name);
      writeAll(gw.port, [w.fipIn, w.extAddr, w.fipOut]);
    }

    // The compute node.
    const dir = join(topo.bpffsDir, 'compute');
    mkdirSync(dir, { recursive: true });
    const settings = { vtep_ip: be32Setting(COMPUTE_VTEP), underlay_mtu: UNDERLAY_MTU };
    const port = await loadPinned(dir, 'xdp_port', settings);
    objects.push(port);
    const underlay = await loadPinned(dir, 'xdp_underlay', settings);
    objects.push(underlay);
    writeAll(port, computeWrites(topo.rootLinkName('c2'), computeIfindex));

    world = {
      gw,
      gwUnderlay,
      compute: { port, underlay },
      computeIfindex,
      gwTunnelIn: (frame) => gw.run(gwUnderlay, 'xdp_underlay', frame, 'ul'),
      computeOut: (frame) => runCounted(port, port, 'xdp_port', frame, computeIfindex('c2')),
      computeIn: (frame) => runCounted(port, underlay, 'xdp_underlay', frame, computeIfindex('cul')),
      associate(name) {
        const w = associationWrites(name);
        writeAll(gw.port, [w.fipIn, w.extAddr, w.fipOut]);
      },
      disassociate(name, keep = {}) {
        const w = associationWrites(name);
        remove(gw.port, w.fipOut.map, w.fipOut.key);
        if (!keep.extAddr) remove(gw.port, w.extAddr.map, w.extAddr.key);
        if (!keep.fipIn) remove(gw.port, w.fipIn.map, floatingIpMapKey(gwFips[name].floatingIps.value.routerId, FIP[name]));
      },
      computeTx: () => readPortCounters(dir).get(PORT_ID(21))?.txPackets ?? 0n,
    };
  }, 60_000);
  afterAll(() => {
    world = undefined;
    for (const o of objects.splice(0)) o.close();
  });
  return () => {
    if (!world) throw new Error('the floating IP world was not set up');
    return world;
  };
}

/** The compute node's map writes: router A's tables with the gateway on 192.0.2.1, g2 on `c2`. */
function computeWrites(c2: string, ifindex: (n: 'c2' | 'cul') => number) {
  const external = { kind: 'external', gatewayVtepIp: VTEP_IP, gatewayIsLocal: false } as const;
  const byName = (name: string) => (name === c2 ? ifindex('c2') : undefined);
  const gwSnat = snatTables((n) => n).snat.find((s) => s.key.routerId === ROUTER.a)!;
  const snat: Sample<'snat'> = { key: gwSnat.key, value: { ...gwSnat.value, gatewayIsLocal: false } };
  const fips = fipTables(COMPUTE_VTEP);
  return [
    encodeNetwork({ vni: GREEN }, { networkId: NET(GREEN), mtu: NETWORK_MTU, adminStateUp: true }),
    encodeNetwork({ vni: ORANGE }, { networkId: NET(ORANGE), mtu: NETWORK_MTU, adminStateUp: true }),
    encodeRouter({ routerId: ROUTER.a }, { macAddress: MAC.a, adminStateUp: true }),
    encodeRouterInterface({ routerId: ROUTER.a, subnetId: SUBNET(GREEN) }, { vni: GREEN, ipAddress: '10.1.0.1', prefixLength: 24, macAddress: MAC.a }),
    encodeRouterInterface({ routerId: ROUTER.a, subnetId: SUBNET(ORANGE) }, { vni: ORANGE, ipAddress: '10.2.0.1', prefixLength: 24, macAddress: MAC.a }),
    encodeRoute({ routerId: ROUTER.a, prefix: '10.1.0.0/24' }, { kind: 'connected', vni: GREEN, subnetId: SUBNET(GREEN) }),
    encodeRoute({ routerId: ROUTER.a, prefix: '10.2.0.0/24' }, { kind: 'connected', vni: ORANGE, subnetId: SUBNET(ORANGE) }),
    encodeRoute({ routerId: ROUTER.a, prefix: '203.0.113.0/24' }, { ...external, nexthop: null }),
    encodeRoute({ routerId: ROUTER.a, prefix: '0.0.0.0/0' }, { ...external, nexthop: EXT.gateway }),
    encodeSnat(snat.key, snat.value, () => undefined).snat,
    ...[fips.g2, fips.p2].flatMap((f) => [
      encodeFloatingIp(f.floatingIps.key, f.floatingIps.value, snat.value, () => undefined).fipIn,
      encodeFixedToFloating(f.fixedToFloating.key, f.fixedToFloating.value),
    ]),
    encodeArp({ vni: GREEN, ipAddress: '10.1.0.1' }, { macAddress: MAC.a }),
    encodeArp({ vni: GREEN, ipAddress: VM.p1.ip }, { macAddress: VM.p1.mac }),
    encodeArp({ vni: GREEN, ipAddress: VM.g2.ip }, { macAddress: VM.g2.mac }),
    encodeArp({ vni: ORANGE, ipAddress: '10.2.0.1' }, { macAddress: MAC.a }),
    encodeArp({ vni: ORANGE, ipAddress: VM.p2.ip }, { macAddress: VM.p2.mac }),
    encodeFdb({ vni: GREEN, macAddress: VM.g2.mac }, { location: { kind: 'local', interfaceName: c2 } }, byName),
    encodeFdb({ vni: GREEN, macAddress: VM.p1.mac }, { location: { kind: 'remote', vtepIp: VTEP_IP } }, byName),
    encodeFdb({ vni: GREEN, macAddress: MAC.a }, { location: { kind: 'router', routerId: ROUTER.a } }, byName),
    encodeFdb({ vni: ORANGE, macAddress: VM.p2.mac }, { location: { kind: 'remote', vtepIp: VTEP_IP } }, byName),
    encodeFdb({ vni: ORANGE, macAddress: MAC.a }, { location: { kind: 'router', routerId: ROUTER.a } }, byName),
    ...(() => {
      const p = encodeLocalPort(
        { interfaceName: c2 },
        { portId: PORT_ID(21), vni: GREEN, macAddress: VM.g2.mac, ipAddresses: [VM.g2.ip], portSecurityEnabled: true, allowedAddressPairs: [], adminStateUp: true },
        byName,
        // A counter slot of its own, as the daemon gives every port (computeTx reads it).
        { statsSlot: 1, network: undefined },
      );
      return [...p.portSrc, p.txPort, p.port];
    })(),
    txPortWrite(ifindex('cul')),
    { map: 'xdpnet_nexthops', key: codec.encode(codec.ipv4, VTEP_IP), value: vtepNexthop.encode({ dst_mac: UNDERLAY_MAC, src_mac: COMPUTE_UNDERLAY_MAC, ifindex: ifindex('cul') }) },
  ];
}

// ---------------------------------------------------------------------------
// Frames of the world, built independently of the programs.

/** What the compute node sends the gateway node for `inner`: in green's VNI, as vxlan.h says, from R2's underlay MAC. */
export function fromCompute(inner: Buffer, vni: number = GREEN): Buffer {
  return eth({ src: COMPUTE_UNDERLAY_MAC, dst: UNDERLAY_MAC })
    .ipv4({ src: COMPUTE_VTEP, dst: VTEP_IP, ttl: 64, id: 0, df: true })
    .udp({ sport: vxlanSourcePort(flowHash(inner)), dport: 4789, checksum: 0 })
    .vxlan({ vni })
    .payload(inner)
    .build();
}

/** A VM's packet as its floating IP sends it out of the NIC: from `fip`, TTL one lower, to the next hop's MAC. */
export const floated = (fip: string, dst: string, l4: L4, nexthopMac: string = MAC.gateway, l3: Partial<L3> = {}, payload?: PayloadInput) =>
  packet({ src: MAC.ext, dst: nexthopMac }, { src: fip, dst, ttl: 63, ...l3 }, l4, payload);

/** What `src` sends to the floating IP `fip`, arriving from the external gateway (TTL 50). */
export const toFip = (src: string, fip: string, l4: L4, l3: Partial<L3> = {}, payload?: PayloadInput) =>
  packet({ src: MAC.gateway, dst: MAC.ext }, { src, dst: fip, ttl: 50, ...l3 }, l4, payload);
