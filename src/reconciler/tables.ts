// The logical dataplane tables: what the fast path needs to know, in a form no
// particular dataplane dictates. render() produces them from the desired state;
// a Dataplane stores them (the BPF one will encode each entry into one or more
// map structs; the fake one keeps them in Maps).
//
// Keys are shaped as the fast path looks them up:
//
// - Network-scoped tables are keyed by VNI. The VNI is unique among VXLAN
//   networks, it is what a decapsulated frame carries and what encapsulation
//   writes, so it serves as the network's dataplane identity and no separate
//   network index is needed. Only VXLAN networks have one; ports and router
//   interfaces on FLAT/VLAN networks go to `providerPorts` instead.
// - Router-scoped tables are keyed by router id (a UUID: 16 bytes in a BPF key,
//   no index allocator needed; an LPM key is (prefixlen = 128 + n, router id,
//   address)).
// - Tenants overlap, so no IP is a key on its own: ARP is (VNI, IP), routes are
//   (router, prefix), SNAT-reverse is (router, fixed IP), floating IPs are
//   (floating network, IP).
//
// Values hold only what a lookup has to answer. Admin state travels in the
// values (network, router, local port) so that the fast path can drop with a
// reason code instead of the entry vanishing and the traffic falling through
// to the kernel.
//
// Every entry carries its owners: the resources whose status depends on the
// entry being in the dataplane.

import type { ResourceKind, Uuid } from '../model/types.js';

export interface ResourceRef {
  kind: ResourceKind;
  id: Uuid;
}

export const refKey = (ref: ResourceRef): string => `${ref.kind}/${ref.id}`;

/** The inverse of refKey (kinds have no '/'). */
export function parseRefKey(key: string): ResourceRef {
  const slash = key.indexOf('/');
  return { kind: key.slice(0, slash) as ResourceKind, id: key.slice(slash + 1) };
}

// --- networks: VNI → network. The underlay program's first lookup after decap.
export interface NetworkKey {
  vni: number;
}
export interface NetworkValue {
  networkId: Uuid;
  mtu: number;
  adminStateUp: boolean;
}

// --- routers: router → its MAC and admin state. Found through an FDB entry
// whose location is the router; its routes are in `routes`.
export interface RouterKey {
  routerId: Uuid;
}
export interface RouterValue {
  /** Derived from the router id (router-mac.ts); the same on every network. */
  macAddress: string;
  adminStateUp: boolean;
}

// --- localPorts: host interface → the VM port behind it (ports bound to this node).
export interface LocalPortKey {
  interfaceName: string;
}
export interface AllowedPair {
  /** Canonical CIDR (a lone address is a /32). */
  cidr: string;
  /** Resolved: the port's own MAC when the pair names none. */
  macAddress: string;
}
export interface LocalPortValue {
  portId: Uuid;
  vni: number;
  macAddress: string;
  /** The port's fixed IPs, sorted. */
  ipAddresses: string[];
  portSecurityEnabled: boolean;
  /** Sorted by (cidr, mac). */
  allowedAddressPairs: AllowedPair[];
  adminStateUp: boolean;
}

// --- fdb: (network, MAC) → where that MAC lives. L2 population: every bound
// port of every VXLAN network, plus each router's MAC on its networks.
export type Location =
  | { kind: 'local'; interfaceName: string }
  | { kind: 'remote'; vtepIp: string }
  /** Frames to this MAC are routed, on this node (distributed routing). */
  | { kind: 'router'; routerId: Uuid };
export interface FdbKey {
  vni: number;
  macAddress: string;
}
export interface FdbValue {
  location: Location;
}

// --- arp: (network, IPv4) → MAC, for the ARP responder. Bound ports' fixed
// IPs, and router interface IPs → the router's MAC.
export interface ArpKey {
  vni: number;
  ipAddress: string;
}
export interface ArpValue {
  macAddress: string;
}

// --- floodList: network → where broadcast/unknown/multicast goes (head-end
// replication). Remote VTEPs exclude this node's own.
export interface FloodKey {
  vni: number;
}
export interface FloodValue {
  /** Sorted, unique, never this node's VTEP. */
  remoteVteps: string[];
  /** This node's ports on the network, sorted: clone targets for local delivery. */
  localInterfaces: string[];
}

// --- routerInterfaces: (router, subnet) → the router's address on that subnet.
export interface RouterInterfaceKey {
  routerId: Uuid;
  subnetId: Uuid;
}
export interface RouterInterfaceValue {
  vni: number;
  ipAddress: string;
  prefixLength: number;
  macAddress: string;
}

// --- routes: (router, prefix) → next hop. Longest-prefix match per router.
export interface RouteKey {
  routerId: Uuid;
  /** Canonical CIDR. */
  prefix: string;
}
export type RouteValue =
  /** A subnet the router has an interface on: deliver by ARP/FDB on that VNI. */
  | { kind: 'connected'; vni: number; subnetId: Uuid }
  /** A static route via a host on one of the router's tenant subnets. */
  | { kind: 'nexthop'; vni: number; nexthop: string }
  /**
   * Out through the external gateway (the external subnet itself with nexthop
   * null, the default route and static routes via the external subnet). Off
   * the gateway node the frame is tunnelled, unrouted, to the gateway node.
   */
  | { kind: 'external'; nexthop: string | null; gatewayVtepIp: string; gatewayIsLocal: boolean };

// --- snat: router → its external side (rendered whether or not SNAT is enabled:
// floating IPs use the same external next hop).
export interface SnatKey {
  routerId: Uuid;
}
export interface SnatValue {
  externalNetworkId: Uuid;
  externalNetworkType: 'vxlan' | 'flat' | 'vlan';
  /** The node config maps it to the external NIC; null for a VXLAN external network. */
  physicalNetwork: string | null;
  /** VLAN id (VLAN), VNI (VXLAN), 0 (FLAT). */
  segmentationId: number;
  externalIp: string;
  externalPrefixLength: number;
  /** The external subnet's gateway; null when it has none (no default route). */
  externalNexthop: string | null;
  gatewayVtepIp: string;
  gatewayIsLocal: boolean;
  enableSnat: boolean;
}

// --- floatingIps: inbound, (floating network, floating IP) → the VM (DNAT).
export interface FloatingIpKey {
  floatingNetworkId: Uuid;
  floatingIpAddress: string;
}
export interface FloatingIpValue {
  routerId: Uuid;
  portId: Uuid;
  fixedIpAddress: string;
  /** The port's network. */
  vni: number;
  gatewayVtepIp: string;
  gatewayIsLocal: boolean;
}

// --- fixedToFloating: outbound, (router, fixed IP) → floating IP (1:1 source
// rewrite, taking precedence over SNAT). The router is part of the key because
// two routers may route the same tenant addresses.
export interface FixedToFloatingKey {
  routerId: Uuid;
  fixedIpAddress: string;
}
export interface FixedToFloatingValue {
  floatingNetworkId: Uuid;
  floatingIpAddress: string;
}

// --- providerPorts: bound ports and router interfaces on FLAT/VLAN networks.
// The provider (VLAN/flat) dataplane comes later; until then the BPF dataplane
// reports this table unsupported and its owners show UNIMPLEMENTED.
export interface ProviderPortKey {
  networkId: Uuid;
  macAddress: string;
}
export interface ProviderPortValue {
  networkType: 'flat' | 'vlan';
  physicalNetwork: string | null;
  segmentationId: number;
  location: Location;
}

export interface TableTypes {
  networks: { key: NetworkKey; value: NetworkValue };
  routers: { key: RouterKey; value: RouterValue };
  routerInterfaces: { key: RouterInterfaceKey; value: RouterInterfaceValue };
  routes: { key: RouteKey; value: RouteValue };
  snat: { key: SnatKey; value: SnatValue };
  floatingIps: { key: FloatingIpKey; value: FloatingIpValue };
  fixedToFloating: { key: FixedToFloatingKey; value: FixedToFloatingValue };
  arp: { key: ArpKey; value: ArpValue };
  fdb: { key: FdbKey; value: FdbValue };
  floodList: { key: FloodKey; value: FloodValue };
  providerPorts: { key: ProviderPortKey; value: ProviderPortValue };
  localPorts: { key: LocalPortKey; value: LocalPortValue };
}

export type TableName = keyof TableTypes;
export type TableKey<T extends TableName> = TableTypes[T]['key'];
export type TableValue<T extends TableName> = TableTypes[T]['value'];

/**
 * Every table, in the order upserts are applied: what a lookup leads to exists
 * before what leads to it (routes before the ARP/FDB entries that reach the
 * router, local ports last because an entry there makes the port live).
 * Deletes go in the reverse order, and before the upserts of the same pass.
 */
export const TABLE_NAMES: readonly TableName[] = [
  'networks',
  'routers',
  'routerInterfaces',
  'routes',
  'snat',
  'floatingIps',
  'fixedToFloating',
  'arp',
  'fdb',
  'floodList',
  'providerPorts',
  'localPorts',
];

/** A rendered entry: key, value and the resources whose status depends on it. */
export interface Entry<T extends TableName = TableName> {
  key: TableKey<T>;
  value: TableValue<T>;
  /** Sorted by (kind, id), unique. */
  owners: ResourceRef[];
}

/** Entries of every table by canonical key string (see keyString), in render order. */
export type Tables = { [T in TableName]: Map<string, Entry<T>> };

export function emptyTables(): Tables {
  return Object.fromEntries(TABLE_NAMES.map((t) => [t, new Map()])) as unknown as Tables;
}

const KEY_STRING: { [T in TableName]: (key: TableKey<T>) => string } = {
  networks: (k) => `${k.vni}`,
  routers: (k) => k.routerId,
  routerInterfaces: (k) => `${k.routerId}/${k.subnetId}`,
  routes: (k) => `${k.routerId}/${k.prefix}`,
  snat: (k) => k.routerId,
  floatingIps: (k) => `${k.floatingNetworkId}/${k.floatingIpAddress}`,
  fixedToFloating: (k) => `${k.routerId}/${k.fixedIpAddress}`,
  arp: (k) => `${k.vni}/${k.ipAddress}`,
  fdb: (k) => `${k.vni}/${k.macAddress}`,
  floodList: (k) => `${k.vni}`,
  providerPorts: (k) => `${k.networkId}/${k.macAddress}`,
  localPorts: (k) => k.interfaceName,
};

/** The canonical string of a key: how the reconciler matches entries across render, cache and dataplane. */
export function keyString<T extends TableName>(table: T, key: TableKey<T>): string {
  return (KEY_STRING[table] as (k: TableKey<T>) => string)(key);
}
