// The routed direction's program, xdp_port, loaded with maps of its own and
// filled with router R's world of world.ts (green and orange, both with a
// port on this node) the way the daemon fills them: through its own table
// encoders (overlay-encode.ts, router-encode.ts; compare
// test/bpf/route-world.ts), so a layout change in src/dataplane/ reaches the
// benchmark without it following.
//
// The routed frame goes from the green VM to the orange VM: it is routed on
// this node and delivered into the orange VM's port on the same node
// (REASON_FWD_ROUTED_LOCAL). That is the delivery the kernel row (ip_forward
// between two veths) does too, so the pair compares routing with routing;
// routed to a VM behind another VTEP, the frame would be encapsulated after
// routing, which the encap direction already measures on its own.
//
// routerWrites() is also the tenant side of the gateway node (snat.ts).

import { type LoadedObject, type ReasonCount, REASON_MAP_NAME, readReasonCounters, loadObject } from '../../src/dataplane/index.js';
import {
  type IfindexOf,
  encodeArp,
  encodeFdb,
  encodeLocalPort,
  encodeNetwork,
  portNetworkOf,
  txPortWrite,
} from '../../src/dataplane/overlay-encode.js';
import { encodeRoute, encodeRouter, encodeRouterInterface } from '../../src/dataplane/router-encode.js';
import { codec } from '../../src/dataplane/index.js';
import type { BpfProgram } from '../../src/dataplane/index.js';
import type { RouteValue } from '../../src/reconciler/tables.js';
import { objectPath } from './layouts.js';
import { GREEN, ORANGE, RIP, RMAC, ROUTED_MTU, ROUTED_PREFIX_LEN, ROUTER_ID, UNDERLAY_MTU, VTEP_IP } from './world.js';

/** The node-side interfaces of the routing world. */
export interface RouterInterfaces {
  /** The green VM's port (the routed and SNAT frames come in here). */
  green: number;
  /** The orange VM's port. */
  orange: number;
  /** The external NIC (snat.ts). */
  external: number;
}

const uuid = (tag: number, n: number) => `0000${tag.toString(16).padStart(4, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
export const NETWORK_ID = (vni: number): string => uuid(0x1, vni);
export const SUBNET_ID = (vni: number): string => uuid(0x2, vni);
const PORT_ID = (vni: number): string => uuid(0x3, vni);

/** One map update, as every encoder of src/dataplane/ gives it. */
export interface MapWrite {
  map: string;
  key: Buffer;
  value: Buffer;
}

/** Interface names as the encoders take them; resolved to the world's ifindexes. */
const GREEN_PORT = 'green';
const ORANGE_PORT = 'orange';

/** Router R's routes: its two networks, and out through its external gateway on this node. */
const ROUTES: readonly (readonly [prefix: string, route: RouteValue])[] = [
  ['10.1.0.0/24', { kind: 'connected', vni: GREEN, subnetId: SUBNET_ID(GREEN) }],
  ['10.2.0.0/24', { kind: 'connected', vni: ORANGE, subnetId: SUBNET_ID(ORANGE) }],
  ['203.0.113.0/24', { kind: 'external', nexthop: null, gatewayVtepIp: VTEP_IP, gatewayIsLocal: true }],
  ['0.0.0.0/0', { kind: 'external', nexthop: RIP.gateway, gatewayVtepIp: VTEP_IP, gatewayIsLocal: true }],
];

/**
 * Router R and its two networks as the daemon writes them: networks, the two
 * local ports (port security on, Neutron's default; each its own counter
 * slot and its network's state copied in), their FDB entries (the local
 * ones with their copy of the port, the router's with its copy of the
 * router and, given `copies` (snat.ts: its xdpnet_snat value, its
 * gateway's xdpnet_ext_nexthops value), of its external side and its
 * gateway's MACs) and ARP entries (each with its copy of its MAC's FDB
 * entry), the router, its interfaces and its
 * routes, and the transmit slots.
 */
export function routerWrites(ifx: RouterInterfaces, copies: { snat?: Buffer; gateway?: Buffer } = {}): MapWrite[] {
  const resolve: IfindexOf = (name) => (name === GREEN_PORT ? ifx.green : name === ORANGE_PORT ? ifx.orange : undefined);
  const networks = [GREEN, ORANGE].map((vni) => encodeNetwork({ vni }, { networkId: NETWORK_ID(vni), mtu: ROUTED_MTU, adminStateUp: true }));
  const network = (vni: number) => portNetworkOf(networks.find((w) => w.key.equals(codec.encode(codec.u32, vni)))?.value);
  const vms = [
    { name: GREEN_PORT, vni: GREEN, mac: RMAC.green, ip: RIP.green, router: RIP.greenRouter, slot: 1 },
    { name: ORANGE_PORT, vni: ORANGE, mac: RMAC.orange, ip: RIP.orange, router: RIP.orangeRouter, slot: 2 },
  ];
  // The router first: its MACs' fdb entries carry a copy of it, as the daemon writes them (fdb-copies.ts).
  const router = encodeRouter({ routerId: ROUTER_ID }, { macAddress: RMAC.router, adminStateUp: true });
  const writes: MapWrite[] = [...networks, router];
  for (const vm of vms) {
    const port = encodeLocalPort(
      { interfaceName: vm.name },
      { portId: PORT_ID(vm.vni), vni: vm.vni, macAddress: vm.mac, ipAddresses: [vm.ip], portSecurityEnabled: true, allowedAddressPairs: [], adminStateUp: true },
      resolve,
      { statsSlot: vm.slot, network: network(vm.vni) },
    );
    const vmFdb = encodeFdb({ vni: vm.vni, macAddress: vm.mac }, { location: { kind: 'local', interfaceName: vm.name } }, resolve, { port: port.port.value });
    const routerFdb = encodeFdb(
      { vni: vm.vni, macAddress: RMAC.router },
      { location: { kind: 'router', routerId: ROUTER_ID } },
      resolve,
      { router: router.value, snat: copies.snat, gateway: copies.gateway },
    );
    writes.push(
      port.port,
      port.txPort,
      ...port.portSrc,
      vmFdb,
      routerFdb,
      // Each with its copy of its MAC's fdb entry (arp-copies.ts).
      encodeArp({ vni: vm.vni, ipAddress: vm.ip }, { macAddress: vm.mac }, { fdb: vmFdb.value }),
      encodeArp({ vni: vm.vni, ipAddress: vm.router }, { macAddress: RMAC.router }, { fdb: routerFdb.value }),
      encodeRouterInterface(
        { routerId: ROUTER_ID, subnetId: SUBNET_ID(vm.vni) },
        { vni: vm.vni, ipAddress: vm.router, prefixLength: ROUTED_PREFIX_LEN, macAddress: RMAC.router },
      ),
    );
  }
  for (const [prefix, route] of ROUTES) writes.push(encodeRoute({ routerId: ROUTER_ID, prefix }, route));
  writes.push(txPortWrite(ifx.external));
  return writes;
}

/** Writes each of `writes` whose map the object declares (an object without it has no use for it). */
export function writeDeclared(obj: LoadedObject, writes: readonly MapWrite[]): void {
  const declared = new Set(obj.maps().map((m) => m.name));
  for (const w of writes) {
    if (!declared.has(w.map)) continue;
    const map = obj.map(w.map);
    try {
      map.update(w.key, w.value);
    } finally {
      map.close();
    }
  }
}

/** Packets per reason so far (non-zero reasons only). */
export function reasonsOf(obj: LoadedObject): Record<string, number> {
  const map = obj.map(REASON_MAP_NAME);
  try {
    const counts: ReasonCount[] = readReasonCounters(map);
    return Object.fromEntries(counts.filter((c) => c.packets > 0n).map((c) => [c.name, Number(c.packets)]));
  } finally {
    map.close();
  }
}

/** The settings the daemon gives xdp_port (and xdp_external) on this node. */
export const nodeSettings = () => ({ vtep_ip: codec.encode(codec.ipv4, VTEP_IP), underlay_mtu: UNDERLAY_MTU });

export class Routed {
  private constructor(
    private readonly obj: LoadedObject,
    readonly port: BpfProgram,
  ) {}

  static async load(ifx: RouterInterfaces): Promise<Routed> {
    const obj = await loadObject(objectPath('xdp_port'), { rodata: nodeSettings() });
    try {
      writeDeclared(obj, routerWrites(ifx));
      return new Routed(obj, obj.program('xdp_port'));
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  reasons(): Record<string, number> {
    return reasonsOf(this.obj);
  }

  close(): void {
    this.port.close();
    this.obj.close();
  }
}
