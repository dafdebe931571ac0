// The reconciler's overlay tables (src/reconciler/tables.ts) as the exact map
// writes the overlay programs read (bpf/lib/overlay_maps.h), and back.
//
// Pure: buffers in, buffers out, through the codecs of layouts.ts; no addon.
// The caller (the BPF dataplane) writes each MapWrite with one map update and
// lists a table by decoding what it reads from the maps.
//
//   networks   (vni)            -> xdpnet_networks: vni -> {mtu, flags}
//   localPorts (interfaceName)  -> xdpnet_ports: ifindex -> {vni, mac, flags,
//                                  the first PORT_FIXED_IPS fixed IPs}, plus what
//                                  the caller supplies (PortExtras: the counter
//                                  slot, the network's state)
//                                  xdpnet_tx_ports: ifindex -> ifindex
//                                  xdpnet_port_src: one LPM entry per allowed pair
//                                  and per further fixed IP (port MAC, /32)
//   fdb        (vni, mac)       -> xdpnet_fdb, a local MAC's entry with a copy of
//                                  its port's entry, a remote MAC's with a copy of
//                                  its VTEP's next hop (the caller supplies both)
//   arp        (vni, ip)        -> xdpnet_arp
//   floodList  (vni)            -> xdpnet_flood (capped: FloodListOverflowError)
//
// Interface names become ifindexes through a caller-supplied resolver (the
// daemon uses rtnetlink); a name it does not know is InterfaceNotPresentError.
//
// Every table round-trips from the map bytes alone (network_info and
// port_info carry the network and port UUIDs for this purpose, unread by the
// programs): decode(encode(entry)) is canonicalJson-equal to the entry. What a
// port entry carries beyond its table value (PortExtras) is the caller's to
// keep right; decoding leaves it out.

import { DataplaneError } from '../reconciler/dataplane.js';
import { formatCidr, parseCidr } from '../reconciler/ipv4.js';
import type {
  ArpKey,
  ArpValue,
  FdbKey,
  FdbValue,
  FloodKey,
  FloodValue,
  LocalPortKey,
  LocalPortValue,
  NetworkKey,
  NetworkValue,
} from '../reconciler/tables.js';
import type { DataplaneEntry } from '../reconciler/dataplane.js';
import type { Uuid } from '../model/types.js';
import { decode, encode, u32, uuid } from './codec.js';
import {
  FDB_LOCAL,
  FDB_REMOTE,
  FDB_ROUTER,
  FLOOD_MAX_LOCAL,
  FLOOD_MAX_REMOTE,
  NETWORK_F_ADMIN_UP,
  PORT_FIXED_IPS,
  PORT_F_ADMIN_UP,
  PORT_F_PORT_SECURITY,
  PORT_F_SRC_LPM,
  PORT_NET_F_ADMIN_UP,
  PORT_NET_F_PRESENT,
  PORT_SRC_ALLOWED_PAIR,
  PORT_SRC_FIXED_IP,
  PORT_SRC_PREFIX_BITS,
  type ArpEntry,
  arpEntry,
  arpKey,
  type FdbEntry,
  fdbEntry,
  vtepNexthop,
  fdbKey,
  floodList,
  networkInfo,
  type PortInfo,
  portInfo,
  portSrcKey,
  portSrcValue,
  routerInfo,
  snatInfo,
  extNexthop,
} from './layouts.js';

// ---------------------------------------------------------------------------
// Types

export type OverlayMapName =
  | 'xdpnet_networks'
  | 'xdpnet_ports'
  | 'xdpnet_tx_ports'
  | 'xdpnet_port_src'
  | 'xdpnet_fdb'
  | 'xdpnet_arp'
  | 'xdpnet_flood';

/** One map update: exactly the key and value bytes the kernel gets. */
export interface MapWrite {
  map: OverlayMapName;
  key: Buffer;
  value: Buffer;
}

/** A key/value pair as read from a map. */
export interface RawEntry {
  key: Buffer;
  value: Buffer;
}

/** Interface name -> ifindex; undefined when no such interface exists (yet). */
export type IfindexOf = (interfaceName: string) => number | undefined;
/** ifindex -> interface name; undefined when no such interface exists (any more). */
export type InterfaceNameOf = (ifindex: number) => string | undefined;

/** What decoding needs beyond the map bytes: ifindexes back to names. */
export interface DecodeContext {
  interfaceName: InterfaceNameOf;
}

/** What a local port becomes: its port, its transmit slot, its port-security entries. */
export interface LocalPortWrites {
  port: MapWrite;
  txPort: MapWrite;
  /**
   * Sorted by key bytes; one per allowed pair and per fixed IP beyond the
   * first PORT_FIXED_IPS (a pair equal to such a fixed IP shares its entry).
   * Empty for most ports: their fixed IPs are all in the port entry.
   */
  portSrc: MapWrite[];
}

/** A network's state as xdpnet_networks has it, which each of its ports' entries carries (port_info.net_*). */
export interface PortNetwork {
  mtu: number;
  adminStateUp: boolean;
}

/**
 * What a port entry carries beyond the table's value, for the programs: the
 * port's counter slot (0: not counted) and its network's state (undefined:
 * the network is not in xdpnet_networks; the programs then look it up).
 */
export interface PortExtras {
  statsSlot: number;
  network: PortNetwork | undefined;
}

/** A port entry with nothing beyond its value: not counted, its network looked up by the programs. */
export const NO_PORT_EXTRAS: Readonly<PortExtras> = Object.freeze({ statsSlot: 0, network: undefined });

// ---------------------------------------------------------------------------
// Errors

/**
 * An interface a table names (or an ifindex a map holds) is not on this node,
 * yet or any more. UNAVAILABLE: the entry is right, the world is not there;
 * the reconciler retries it on a later pass.
 */
export class InterfaceNotPresentError extends DataplaneError {
  override name = 'InterfaceNotPresentError';

  constructor(readonly what: { interfaceName: string } | { ifindex: number }) {
    super(
      'UNAVAILABLE',
      'interfaceName' in what
        ? `interface ${JSON.stringify(what.interfaceName)} is not present on this node (yet)`
        : `ifindex ${what.ifindex} names no interface on this node`,
    );
  }
}

/** A flood list longer than the map's fixed arrays (FLOOD_MAX_LOCAL / FLOOD_MAX_REMOTE). */
export class FloodListOverflowError extends DataplaneError {
  override name = 'FloodListOverflowError';

  constructor(
    readonly vni: number,
    readonly field: 'localInterfaces' | 'remoteVteps',
    readonly count: number,
    readonly limit: number,
  ) {
    super(
      'RESOURCE_EXHAUSTED',
      `VNI ${vni}: ${count} ${field === 'localInterfaces' ? 'local ports' : 'remote VTEPs'} to flood to, ` +
        `the dataplane holds at most ${limit}`,
    );
  }
}

/** An entry that cannot be encoded (invalid value) or a map entry that is no table entry. */
export class OverlayCodecError extends DataplaneError {
  override name = 'OverlayCodecError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options);
  }
}

// ---------------------------------------------------------------------------
// Helpers

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const PAD2 = Buffer.alloc(2);
const PAD3 = Buffer.alloc(3);
const ZERO16 = Buffer.alloc(16);
const ANY = '0.0.0.0';

function checkVni(vni: number): number {
  if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff) throw new OverlayCodecError(`${vni} is not a VNI (1..16777215)`);
  return vni;
}

/** Runs a codec step, turning its RangeError/TypeError into an OverlayCodecError naming the entry. */
function codecStep<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DataplaneError) throw err;
    throw new OverlayCodecError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function ifindexOf(resolve: IfindexOf, interfaceName: string): number {
  const ifindex = resolve(interfaceName);
  if (ifindex === undefined) throw new InterfaceNotPresentError({ interfaceName });
  if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex > 0xffffffff) {
    throw new OverlayCodecError(`interface ${JSON.stringify(interfaceName)} resolved to an invalid ifindex ${ifindex}`);
  }
  return ifindex;
}

function nameOf(resolve: InterfaceNameOf, ifindex: number): string {
  const name = resolve(ifindex);
  if (name === undefined) throw new InterfaceNotPresentError({ ifindex });
  return name;
}

/** A canonical UUID as its 16 bytes (the uuid codec; errors as OverlayCodecError). */
export function uuidBytes(id: Uuid): Buffer {
  return codecStep('uuid', () => encode(uuid, id));
}

/** 16 bytes as a canonical UUID. */
export function uuidText(bytes: Buffer): Uuid {
  if (bytes.length !== uuid.size) throw new OverlayCodecError(`a UUID is 16 bytes, got ${bytes.length}`);
  return decode(uuid, bytes);
}

/** A canonical CIDR ("a.b.c.d/n", host bits clear): anything else would decode to a different string. */
function canonicalCidr(text: string): { ip: string; prefixLength: number } {
  const c = parseCidr(text);
  if (!c || !text.includes('/') || formatCidr(c) !== text) {
    throw new OverlayCodecError(`${JSON.stringify(text)} is not a canonical IPv4 CIDR`);
  }
  return { ip: text.slice(0, text.indexOf('/')), prefixLength: c.prefixLength };
}

function expectSize(map: OverlayMapName | 'xdpnet_nexthops' | 'xdpnet_routers' | 'xdpnet_snat' | 'xdpnet_ext_nexthops', part: 'key' | 'value', buf: Buffer, size: number): void {
  if (buf.length !== size) throw new OverlayCodecError(`${map}: a ${part} is ${size} bytes, got ${buf.length}`);
}

// ---------------------------------------------------------------------------
// Keys alone (for deletes)

export const networkMapKey = (key: NetworkKey): Buffer => encode(u32, checkVni(key.vni));
export const floodMapKey = (key: FloodKey): Buffer => encode(u32, checkVni(key.vni));
export const portMapKey = (ifindex: number): Buffer => encode(u32, ifindex);
export const fdbMapKey = (key: FdbKey): Buffer =>
  codecStep(`fdb ${key.vni}/${key.macAddress}`, () => fdbKey.encode({ vni: checkVni(key.vni), mac: key.macAddress, pad: PAD2 }));
export const arpMapKey = (key: ArpKey): Buffer =>
  codecStep(`arp ${key.vni}/${key.ipAddress}`, () => arpKey.encode({ vni: checkVni(key.vni), ip: key.ipAddress }));

// ---------------------------------------------------------------------------
// networks -> xdpnet_networks

/**
 * network_info.mtu is "the largest L3 packet (IPv4 total length) a port may
 * send": xdp_port drops when the IPv4 total length exceeds it. That is the
 * Neutron network MTU as it is (an L3 MTU), so it is written unchanged.
 */
export function encodeNetwork(key: NetworkKey, value: NetworkValue): MapWrite {
  if (!Number.isInteger(value.mtu) || value.mtu < 68 || value.mtu > 0xffff) {
    throw new OverlayCodecError(`VNI ${key.vni}: MTU ${value.mtu} is not an IPv4 MTU (68..65535)`);
  }
  return {
    map: 'xdpnet_networks',
    key: networkMapKey(key),
    value: codecStep(`networks ${key.vni}`, () =>
      networkInfo.encode({ mtu: value.mtu, flags: value.adminStateUp ? NETWORK_F_ADMIN_UP : 0, network_id: value.networkId }),
    ),
  };
}

export function decodeNetwork(entry: RawEntry): DataplaneEntry<'networks'> {
  expectSize('xdpnet_networks', 'key', entry.key, u32.size);
  expectSize('xdpnet_networks', 'value', entry.value, networkInfo.size);
  const vni = decode(u32, entry.key);
  const info = networkInfo.decode(entry.value);
  if ((info.flags & ~NETWORK_F_ADMIN_UP) !== 0) throw new OverlayCodecError(`xdpnet_networks ${vni}: unknown flags 0x${info.flags.toString(16)}`);
  return { key: { vni }, value: { networkId: info.network_id, mtu: info.mtu, adminStateUp: (info.flags & NETWORK_F_ADMIN_UP) !== 0 } };
}

/** What the ports of a network carry of it, from its xdpnet_networks value (undefined: no entry). */
export function portNetworkOf(value: Buffer | undefined): PortNetwork | undefined {
  if (value === undefined) return undefined;
  expectSize('xdpnet_networks', 'value', value, networkInfo.size);
  const info = networkInfo.decode(value);
  return { mtu: info.mtu, adminStateUp: (info.flags & NETWORK_F_ADMIN_UP) !== 0 };
}

// ---------------------------------------------------------------------------
// localPorts -> xdpnet_ports + xdpnet_tx_ports + xdpnet_port_src

/** An xdpnet_tx_ports entry (also for the underlay interface). */
export function txPortWrite(ifindex: number): MapWrite {
  return { map: 'xdpnet_tx_ports', key: encode(u32, ifindex), value: encode(u32, ifindex) };
}

function portSrcWrite(ifindex: number, mac: string, ip: string, prefixLength: number, kind: number): MapWrite {
  return {
    map: 'xdpnet_port_src',
    key: portSrcKey.encode({ prefixlen: PORT_SRC_PREFIX_BITS + prefixLength, ifindex, mac, pad: PAD2, ip }),
    value: portSrcValue.encode({ kind }),
  };
}

/** port_info.net_mtu and net_flags for `network`. */
function netFields(network: PortNetwork | undefined): Pick<PortInfo, 'net_mtu' | 'net_flags'> {
  if (!network) return { net_mtu: 0, net_flags: 0 };
  // encodeNetwork refuses an MTU above 65535, so it fits the 16-bit copy.
  return { net_mtu: network.mtu, net_flags: PORT_NET_F_PRESENT | (network.adminStateUp ? PORT_NET_F_ADMIN_UP : 0) };
}

/**
 * The port, its transmit slot and its port-security entries. The sources
 * are written whether or not port security is on (the program reads them
 * only when it is): they are where the fixed IPs and pairs live.
 *
 * The fixed IPs, sorted, go into the port entry up to PORT_FIXED_IPS (the
 * programs compare them in place); further ones, and the allowed pairs, into
 * xdpnet_port_src, and the port entry then says so (PORT_F_SRC_LPM). A pair
 * that is exactly such a further fixed IP with the port's MAC (x/32) has the
 * same LPM key as the fixed IP; its kind is then PORT_SRC_FIXED_IP |
 * PORT_SRC_ALLOWED_PAIR (the kind is informational for the program), so that
 * both decode back.
 */
export function encodeLocalPort(key: LocalPortKey, value: LocalPortValue, resolve: IfindexOf, extras: PortExtras = NO_PORT_EXTRAS): LocalPortWrites {
  const ifindex = ifindexOf(resolve, key.interfaceName);
  const what = `localPorts ${key.interfaceName}`;
  if (!Number.isInteger(extras.statsSlot) || extras.statsSlot < 0 || extras.statsSlot > 0xffffffff) {
    throw new OverlayCodecError(`${what}: counter slot ${extras.statsSlot} is not a slot`);
  }
  const fixed = [...new Set(value.ipAddresses.map((ip) => canonicalCidr(`${ip}/32`).ip))].sort(cmp);
  const inline = fixed.slice(0, PORT_FIXED_IPS);

  // LPM key bytes (hex) -> [write args, kind bits]
  const src = new Map<string, { mac: string; ip: string; prefixLength: number; kind: number }>();
  const add = (mac: string, ip: string, prefixLength: number, kind: number) => {
    const k = codecStep(what, () => portSrcWrite(ifindex, mac, ip, prefixLength, 0)).key.toString('hex');
    const prev = src.get(k);
    src.set(k, { mac, ip, prefixLength, kind: (prev?.kind ?? 0) | kind });
  };
  for (const ip of fixed.slice(PORT_FIXED_IPS)) add(value.macAddress, ip, 32, PORT_SRC_FIXED_IP);
  for (const pair of value.allowedAddressPairs) {
    const c = canonicalCidr(pair.cidr);
    add(pair.macAddress, c.ip, c.prefixLength, PORT_SRC_ALLOWED_PAIR);
  }
  const portSrc = [...src.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([, s]) => portSrcWrite(ifindex, s.mac, s.ip, s.prefixLength, s.kind));

  const flags =
    (value.adminStateUp ? PORT_F_ADMIN_UP : 0) | (value.portSecurityEnabled ? PORT_F_PORT_SECURITY : 0) | (portSrc.length > 0 ? PORT_F_SRC_LPM : 0);
  const port = codecStep(what, () =>
    portInfo.encode({
      vni: checkVni(value.vni),
      mac: value.macAddress,
      flags,
      fixed_ip_count: inline.length,
      stats_slot: extras.statsSlot,
      ...netFields(extras.network),
      pad: 0,
      fixed_ip: inline,
      port_id: value.portId,
    }),
  );
  return { port: { map: 'xdpnet_ports', key: portMapKey(ifindex), value: port }, txPort: txPortWrite(ifindex), portSrc };
}

/** A port entry's counter slot and its copy of its network's state (what the table's value leaves out). */
export function portExtrasOf(value: Buffer): PortExtras {
  expectSize('xdpnet_ports', 'value', value, portInfo.size);
  const info = portInfo.decode(value);
  const network = info.net_flags & PORT_NET_F_PRESENT ? { mtu: info.net_mtu, adminStateUp: (info.net_flags & PORT_NET_F_ADMIN_UP) !== 0 } : undefined;
  return { statsSlot: info.stats_slot, network };
}

/** The port entry `value` with other extras: the same port, the same bytes otherwise. */
export function withPortExtras(value: Buffer, extras: PortExtras): Buffer {
  expectSize('xdpnet_ports', 'value', value, portInfo.size);
  const info = portInfo.decode(value);
  return codecStep('xdpnet_ports', () => portInfo.encode({ ...info, stats_slot: extras.statsSlot, ...netFields(extras.network) }));
}

/** The VNI of a port entry. */
export function portVniOf(value: Buffer): number {
  expectSize('xdpnet_ports', 'value', value, portInfo.size);
  return portInfo.decode(value).vni;
}

/**
 * One local port back from its xdpnet_ports entry and the xdpnet_port_src
 * entries (those of other ifindexes are ignored, so all of the map may be
 * passed). As the programs see it: the source entries of a port whose entry
 * does not say PORT_F_SRC_LPM are never looked at, so they are not part of
 * it either.
 */
export function decodeLocalPort(port: RawEntry, portSrc: readonly RawEntry[], ctx: DecodeContext): DataplaneEntry<'localPorts'> {
  expectSize('xdpnet_ports', 'key', port.key, u32.size);
  expectSize('xdpnet_ports', 'value', port.value, portInfo.size);
  const ifindex = decode(u32, port.key);
  const info = portInfo.decode(port.value);
  const known = PORT_F_ADMIN_UP | PORT_F_PORT_SECURITY | PORT_F_SRC_LPM;
  if ((info.flags & ~known) !== 0) throw new OverlayCodecError(`xdpnet_ports ${ifindex}: unknown flags 0x${info.flags.toString(16)}`);
  if (info.fixed_ip_count > PORT_FIXED_IPS || info.fixed_ip.slice(info.fixed_ip_count).some((ip) => ip !== ANY)) {
    throw new OverlayCodecError(`xdpnet_ports ${ifindex}: ${info.fixed_ip_count} fixed IPs in [${info.fixed_ip.join(', ')}]`);
  }
  const interfaceName = nameOf(ctx.interfaceName, ifindex);
  const portId = info.port_id;

  const ipAddresses: string[] = info.fixed_ip.slice(0, info.fixed_ip_count);
  const pairs: { cidr: string; macAddress: string }[] = [];
  for (const e of info.flags & PORT_F_SRC_LPM ? portSrc : []) {
    expectSize('xdpnet_port_src', 'key', e.key, portSrcKey.size);
    expectSize('xdpnet_port_src', 'value', e.value, portSrcValue.size);
    const k = portSrcKey.decode(e.key);
    if (k.ifindex !== ifindex) continue;
    const prefixLength = k.prefixlen - PORT_SRC_PREFIX_BITS;
    const { kind } = portSrcValue.decode(e.value);
    const bad = (why: string) => new OverlayCodecError(`xdpnet_port_src ${ifindex}/${k.mac}/${k.ip}/${prefixLength}: ${why}`);
    if (prefixLength < 0 || prefixLength > 32) throw bad('prefix length out of range');
    if (kind === 0 || (kind & ~(PORT_SRC_FIXED_IP | PORT_SRC_ALLOWED_PAIR)) !== 0) throw bad(`unknown kind ${kind}`);
    if (kind & PORT_SRC_FIXED_IP) {
      if (prefixLength !== 32 || k.mac !== info.mac) throw bad('a fixed IP is a /32 with the port’s MAC');
      ipAddresses.push(k.ip);
    }
    if (kind & PORT_SRC_ALLOWED_PAIR) pairs.push({ cidr: `${k.ip}/${prefixLength}`, macAddress: k.mac });
  }
  ipAddresses.sort(cmp);
  pairs.sort((x, y) => cmp(x.cidr, y.cidr) || cmp(x.macAddress, y.macAddress));
  return {
    key: { interfaceName },
    value: {
      portId,
      vni: info.vni,
      macAddress: info.mac,
      ipAddresses,
      portSecurityEnabled: (info.flags & PORT_F_PORT_SECURITY) !== 0,
      allowedAddressPairs: pairs,
      adminStateUp: (info.flags & PORT_F_ADMIN_UP) !== 0,
    },
  };
}

/** Every local port from all of xdpnet_ports and xdpnet_port_src, sorted by interface name. */
export function decodeLocalPorts(ports: readonly RawEntry[], portSrc: readonly RawEntry[], ctx: DecodeContext): DataplaneEntry<'localPorts'>[] {
  const byIfindex = new Map<number, RawEntry[]>();
  for (const e of portSrc) {
    expectSize('xdpnet_port_src', 'key', e.key, portSrcKey.size);
    const ifindex = portSrcKey.decode(e.key).ifindex;
    let list = byIfindex.get(ifindex);
    if (!list) byIfindex.set(ifindex, (list = []));
    list.push(e);
  }
  return ports
    .map((p) => decodeLocalPort(p, byIfindex.get(p.key.length === 4 ? decode(u32, p.key) : -1) ?? [], ctx))
    .sort((a, b) => cmp(a.key.interfaceName, b.key.interfaceName));
}

// ---------------------------------------------------------------------------
// fdb -> xdpnet_fdb

/**
 * What a local MAC's entry carries of the port on its interface: the port
 * entry as xdpnet_ports holds it (`port`: its value, undefined while there
 * is none). No copy unless that entry is on the same network as the MAC; the
 * programs then look the port up themselves (bpf/lib/port_state.h).
 */
type FdbPortFields = Pick<FdbEntry, 'port_stats_slot' | 'port_present' | 'port_flags' | 'port_net_flags' | 'port_net_mtu'>;
const NO_PORT: FdbPortFields = { port_stats_slot: 0, port_present: 0, port_flags: 0, port_net_flags: 0, port_net_mtu: 0 };

function fdbPortFields(vni: number, port: Buffer | undefined): FdbPortFields {
  if (port === undefined) return NO_PORT;
  expectSize('xdpnet_ports', 'value', port, portInfo.size);
  const info = portInfo.decode(port);
  if (info.vni !== vni) return NO_PORT;
  return { port_stats_slot: info.stats_slot, port_present: 1, port_flags: info.flags, port_net_flags: info.net_flags, port_net_mtu: info.net_mtu };
}

type FdbRouterFields = Pick<FdbEntry, 'router_present' | 'router_flags' | 'router_mac'>;
const NO_ROUTER: FdbRouterFields = { router_present: 0, router_flags: 0, router_mac: '00:00:00:00:00:00' };
type FdbSnatFields = Pick<
  FdbEntry,
  'snat_present' | 'snat_flags' | 'snat_network_type' | 'snat_external_ip' | 'snat_ifindex' | 'snat_mtu' | 'snat_nexthop' | 'ext_nh_present' | 'ext_nh_dst_mac' | 'ext_nh_src_mac'
>;
const NO_MAC = '00:00:00:00:00:00';
const NO_SNAT: FdbSnatFields = {
  snat_present: 0,
  snat_flags: 0,
  snat_network_type: 0,
  snat_external_ip: ANY,
  snat_ifindex: 0,
  snat_mtu: 0,
  snat_nexthop: ANY,
  ext_nh_present: 0,
  ext_nh_dst_mac: NO_MAC,
  ext_nh_src_mac: NO_MAC,
};

/** The xdpnet_ext_nexthops key of the external subnet's gateway of an xdpnet_snat value, or undefined (none). */
export function snatGatewayKeyOf(snat: Buffer): { ifindex: number; ip: string } | undefined {
  expectSize('xdpnet_snat', 'value', snat, snatInfo.size);
  const info = snatInfo.decode(snat);
  return info.ifindex === 0 || info.nexthop === ANY ? undefined : { ifindex: info.ifindex, ip: info.nexthop };
}

/**
 * What a router MAC's entry carries of its router: the xdpnet_routers value
 * (`router`; undefined while there is none, and the programs then look it
 * up and find none: bpf/lib/route.h router_of), what the programs read
 * of its xdpnet_snat value (`snat`, likewise: bpf/lib/external_route.h
 * snat_side_of) and, with it, the xdpnet_ext_nexthops value of the external
 * subnet's gateway it names (`gateway`: snatGatewayKeyOf's entry).
 */
function fdbRouterFields(router: Buffer | undefined, snat: Buffer | undefined, gateway: Buffer | undefined): FdbRouterFields & FdbSnatFields {
  let r = NO_ROUTER;
  if (router !== undefined) {
    expectSize('xdpnet_routers', 'value', router, routerInfo.size);
    const info = routerInfo.decode(router);
    r = { router_present: 1, router_flags: info.flags, router_mac: info.mac };
  }
  let n = NO_SNAT;
  if (snat !== undefined) {
    expectSize('xdpnet_snat', 'value', snat, snatInfo.size);
    const info = snatInfo.decode(snat);
    n = {
      ...NO_SNAT,
      snat_present: 1,
      snat_flags: info.flags,
      snat_network_type: info.network_type,
      snat_external_ip: info.external_ip,
      snat_ifindex: info.ifindex,
      snat_mtu: info.mtu,
      snat_nexthop: info.nexthop,
    };
    if (gateway !== undefined && snatGatewayKeyOf(snat) !== undefined) {
      expectSize('xdpnet_ext_nexthops', 'value', gateway, extNexthop.size);
      const nh = extNexthop.decode(gateway);
      n = { ...n, ext_nh_present: 1, ext_nh_dst_mac: nh.dst_mac, ext_nh_src_mac: nh.src_mac };
    }
  }
  return { ...r, ...n };
}

const NO_NEXTHOP: Pick<FdbEntry, 'nexthop_present' | 'nexthop'> = {
  nexthop_present: 0,
  nexthop: { dst_mac: '00:00:00:00:00:00', src_mac: '00:00:00:00:00:00', ifindex: 0 },
};

/**
 * What a remote MAC's entry carries of its VTEP's next hop: the
 * xdpnet_nexthops value (`nexthop`; undefined while there is none, and the
 * programs then look it up and find none).
 */
function fdbNexthopFields(nexthop: Buffer | undefined): Pick<FdbEntry, 'nexthop_present' | 'nexthop'> {
  if (nexthop === undefined) return NO_NEXTHOP;
  expectSize('xdpnet_nexthops', 'value', nexthop, vtepNexthop.size);
  return { nexthop_present: 1, nexthop: vtepNexthop.decode(nexthop) };
}

/** Copies an fdb entry may carry: of the local port's entry, of the remote VTEP's next hop. */
export interface FdbCopies {
  /** For a local location: the xdpnet_ports value on its interface (undefined: none there). */
  port?: Buffer | undefined;
  /** For a remote location: the VTEP's xdpnet_nexthops value (undefined: none resolved). */
  nexthop?: Buffer | undefined;
  /** For a router location: the router's xdpnet_routers value (undefined: none there). */
  router?: Buffer | undefined;
  /** For a router location: the router's xdpnet_snat value (undefined: none there). */
  snat?: Buffer | undefined;
  /** For a router location with `snat`: the xdpnet_ext_nexthops value of its gateway (snatGatewayKeyOf; undefined: none). */
  gateway?: Buffer | undefined;
}

/** Every copy field of an fdb entry, absent: what an entry holds besides its location when it carries no copy. */
export const FDB_NO_COPIES: Omit<FdbEntry, 'kind' | 'ifindex' | 'vtep_ip' | 'router_id'> = {
  ...NO_PORT,
  ...NO_NEXTHOP,
  ...NO_ROUTER,
  ...NO_SNAT,
  pad: PAD3,
  pad2: PAD3,
};

/**
 * An fdb entry with the copies `copies` gives it (none given: the programs
 * look the port or next hop up themselves).
 */
export function encodeFdb(key: FdbKey, value: FdbValue, resolve: IfindexOf, copies: FdbCopies = {}): MapWrite {
  const what = `fdb ${key.vni}/${key.macAddress}`;
  const loc = value.location;
  const none = FDB_NO_COPIES;
  const entry: FdbEntry =
    loc.kind === 'local'
      ? { kind: FDB_LOCAL, ifindex: ifindexOf(resolve, loc.interfaceName), vtep_ip: ANY, router_id: ZERO16, ...none, ...fdbPortFields(key.vni, copies.port) }
      : loc.kind === 'remote'
        ? { kind: FDB_REMOTE, ifindex: 0, vtep_ip: loc.vtepIp, router_id: ZERO16, ...none, ...fdbNexthopFields(copies.nexthop) }
        : { kind: FDB_ROUTER, ifindex: 0, vtep_ip: ANY, router_id: uuidBytes(loc.routerId), ...none, ...fdbRouterFields(copies.router, copies.snat, copies.gateway) };
  return { map: 'xdpnet_fdb', key: fdbMapKey(key), value: codecStep(what, () => fdbEntry.encode(entry)) };
}

/** Where an xdpnet_fdb value points, for the copies it carries: a local MAC's interface, a remote MAC's VTEP, a router MAC's router. */
export type FdbTarget =
  | { kind: 'local'; ifindex: number }
  | { kind: 'remote'; vtep: string }
  /** `gateway`: the external next hop whose copy it may carry ("ifindex/ip", from its copy of the router's external side), if any. */
  | { kind: 'router'; routerId: string; gateway?: string }
  | undefined;

export function fdbTargetOf(value: Buffer): FdbTarget {
  expectSize('xdpnet_fdb', 'value', value, fdbEntry.size);
  const v = fdbEntry.decode(value);
  if (v.kind === FDB_LOCAL) return { kind: 'local', ifindex: v.ifindex };
  if (v.kind === FDB_REMOTE) return { kind: 'remote', vtep: v.vtep_ip };
  if (v.kind === FDB_ROUTER) {
    const gateway = v.snat_present && v.snat_ifindex !== 0 && v.snat_nexthop !== ANY ? `${v.snat_ifindex}/${v.snat_nexthop}` : undefined;
    return gateway === undefined ? { kind: 'router', routerId: uuidText(v.router_id) } : { kind: 'router', routerId: uuidText(v.router_id), gateway };
  }
  return undefined;
}

/** The interface of a local MAC's entry (xdpnet_fdb value), else undefined. */
export function fdbLocalIfindexOf(value: Buffer): number | undefined {
  const target = fdbTargetOf(value);
  return target?.kind === 'local' ? target.ifindex : undefined;
}

/** A local MAC's entry (key and value as in xdpnet_fdb) with its copy of `port` (the xdpnet_ports value on its interface, or undefined). */
export function withFdbPort(key: Buffer, value: Buffer, port: Buffer | undefined): Buffer {
  expectSize('xdpnet_fdb', 'key', key, fdbKey.size);
  expectSize('xdpnet_fdb', 'value', value, fdbEntry.size);
  const v = fdbEntry.decode(value);
  if (v.kind !== FDB_LOCAL) return value;
  return codecStep('xdpnet_fdb', () => fdbEntry.encode({ ...v, ...fdbPortFields(fdbKey.decode(key).vni, port) }));
}

/** A remote MAC's entry (an xdpnet_fdb value) with its copy of `nexthop` (its VTEP's xdpnet_nexthops value, or undefined). */
export function withFdbNexthop(value: Buffer, nexthop: Buffer | undefined): Buffer {
  expectSize('xdpnet_fdb', 'value', value, fdbEntry.size);
  const v = fdbEntry.decode(value);
  if (v.kind !== FDB_REMOTE) return value;
  return codecStep('xdpnet_fdb', () => fdbEntry.encode({ ...v, ...fdbNexthopFields(nexthop) }));
}

/**
 * A router MAC's entry (an xdpnet_fdb value) with its copies of `router`,
 * `snat` and `gateway` (its router's xdpnet_routers and xdpnet_snat values,
 * its gateway's xdpnet_ext_nexthops value: encodeFdb; or undefined).
 */
export function withFdbRouter(value: Buffer, router: Buffer | undefined, snat: Buffer | undefined, gateway?: Buffer | undefined): Buffer {
  expectSize('xdpnet_fdb', 'value', value, fdbEntry.size);
  const v = fdbEntry.decode(value);
  if (v.kind !== FDB_ROUTER) return value;
  return codecStep('xdpnet_fdb', () => fdbEntry.encode({ ...v, ...fdbRouterFields(router, snat, gateway) }));
}

export function decodeFdb(entry: RawEntry, resolve: InterfaceNameOf): DataplaneEntry<'fdb'> {
  expectSize('xdpnet_fdb', 'key', entry.key, fdbKey.size);
  expectSize('xdpnet_fdb', 'value', entry.value, fdbEntry.size);
  const k = fdbKey.decode(entry.key);
  const v = fdbEntry.decode(entry.value);
  const key = { vni: k.vni, macAddress: k.mac };
  switch (v.kind) {
    case FDB_LOCAL:
      return { key, value: { location: { kind: 'local', interfaceName: nameOf(resolve, v.ifindex) } } };
    case FDB_REMOTE:
      return { key, value: { location: { kind: 'remote', vtepIp: v.vtep_ip } } };
    case FDB_ROUTER:
      return { key, value: { location: { kind: 'router', routerId: uuidText(v.router_id) } } };
    default:
      throw new OverlayCodecError(`xdpnet_fdb ${k.vni}/${k.mac}: unknown kind ${v.kind}`);
  }
}

// ---------------------------------------------------------------------------
// arp -> xdpnet_arp

/** No copy of an fdb entry (all zero). */
const NO_FDB = (): FdbEntry => fdbEntry.decode(Buffer.alloc(fdbEntry.size));

function arpFdbFields(fdb: Buffer | undefined): Pick<ArpEntry, 'fdb_present' | 'fdb'> {
  if (fdb === undefined) return { fdb_present: 0, fdb: NO_FDB() };
  expectSize('xdpnet_fdb', 'value', fdb, fdbEntry.size);
  return { fdb_present: 1, fdb: fdbEntry.decode(fdb) };
}

/**
 * An ARP entry with the copy `copies.fdb` gives it: the xdpnet_fdb value of
 * its MAC on its network (arpFdbKeyOf; undefined: none there, and the
 * programs look it up and find none).
 */
export function encodeArp(key: ArpKey, value: ArpValue, copies: { fdb?: Buffer | undefined } = {}): MapWrite {
  const what = `arp ${key.vni}/${key.ipAddress}`;
  return {
    map: 'xdpnet_arp',
    key: arpMapKey(key),
    value: codecStep(what, () => arpEntry.encode({ mac: value.macAddress, pad: 0, ...arpFdbFields(copies.fdb) })),
  };
}

/** The xdpnet_fdb key an ARP entry (key and value as in xdpnet_arp) copies: its MAC on its network. */
export function arpFdbKeyOf(key: Buffer, value: Buffer): Buffer {
  expectSize('xdpnet_arp', 'key', key, arpKey.size);
  expectSize('xdpnet_arp', 'value', value, arpEntry.size);
  return fdbMapKey({ vni: arpKey.decode(key).vni, macAddress: arpEntry.decode(value).mac });
}

/** An ARP entry (an xdpnet_arp value) with its copy of `fdb` (the xdpnet_fdb value of its MAC, or undefined). */
export function withArpFdb(value: Buffer, fdb: Buffer | undefined): Buffer {
  expectSize('xdpnet_arp', 'value', value, arpEntry.size);
  const v = arpEntry.decode(value);
  return codecStep('xdpnet_arp', () => arpEntry.encode({ ...v, ...arpFdbFields(fdb) }));
}

export function decodeArp(entry: RawEntry): DataplaneEntry<'arp'> {
  expectSize('xdpnet_arp', 'key', entry.key, arpKey.size);
  expectSize('xdpnet_arp', 'value', entry.value, arpEntry.size);
  const k = arpKey.decode(entry.key);
  return { key: { vni: k.vni, ipAddress: k.ip }, value: { macAddress: arpEntry.decode(entry.value).mac } };
}

// ---------------------------------------------------------------------------
// floodList -> xdpnet_flood

/** Throws FloodListOverflowError (RESOURCE_EXHAUSTED) past FLOOD_MAX_LOCAL / FLOOD_MAX_REMOTE. */
export function encodeFlood(key: FloodKey, value: FloodValue, resolve: IfindexOf): MapWrite {
  if (value.localInterfaces.length > FLOOD_MAX_LOCAL) {
    throw new FloodListOverflowError(key.vni, 'localInterfaces', value.localInterfaces.length, FLOOD_MAX_LOCAL);
  }
  if (value.remoteVteps.length > FLOOD_MAX_REMOTE) {
    throw new FloodListOverflowError(key.vni, 'remoteVteps', value.remoteVteps.length, FLOOD_MAX_REMOTE);
  }
  const local_ifindex = value.localInterfaces.map((name) => ifindexOf(resolve, name));
  const remote_vtep = [...value.remoteVteps];
  const encoded = codecStep(`floodList ${key.vni}`, () =>
    floodList.encode({ local_count: local_ifindex.length, remote_count: remote_vtep.length, local_ifindex, remote_vtep }),
  );
  return { map: 'xdpnet_flood', key: floodMapKey(key), value: encoded };
}

export function decodeFlood(entry: RawEntry, resolve: InterfaceNameOf): DataplaneEntry<'floodList'> {
  expectSize('xdpnet_flood', 'key', entry.key, u32.size);
  expectSize('xdpnet_flood', 'value', entry.value, floodList.size);
  const vni = decode(u32, entry.key);
  const v = floodList.decode(entry.value);
  if (v.local_count > FLOOD_MAX_LOCAL || v.remote_count > FLOOD_MAX_REMOTE) {
    throw new OverlayCodecError(`xdpnet_flood ${vni}: counts ${v.local_count}/${v.remote_count} exceed the arrays`);
  }
  return {
    key: { vni },
    value: {
      remoteVteps: v.remote_vtep.slice(0, v.remote_count).sort(cmp),
      localInterfaces: v.local_ifindex.slice(0, v.local_count).map((i) => nameOf(resolve, i)).sort(cmp),
    },
  };
}
