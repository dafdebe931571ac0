// The reconciler's `snat` table (src/reconciler/tables.ts) as the exact map
// writes of SNAT (bpf/lib/snat_maps.h), and back; the external next hops the
// daemon resolves; and the connection table the programs fill
// (bpf/lib/conntrack_maps.h), decoded for the garbage collector and status.
//
// Pure, as router-encode.ts: buffers in, buffers out, through the codecs of
// layouts.ts; no addon.
//
//   snat (routerId)  -> xdpnet_snat: router -> {external IP, NIC, MTU, flags, ...}
//                       xdpnet_ext_addrs: external IP -> {router, NIC, MAC}, only
//                       where this node is the gateway node of a flat external
//                       network (the only kind the programs forward)
//   (node)           -> xdpnet_ext_nexthops: (NIC, next hop) -> {dst MAC, src MAC}
//   xdpnet_snat_ct   <- the programs' connections, two entries each
//
// What the table value does not say (the external NIC's ifindex, MTU and
// MAC) comes from a caller-supplied resolver, by physical network, as
// overlay-encode.ts resolves interface names; a physical network with no
// interface here is ExternalLinkNotPresentError. The snat table round-trips
// from the map bytes alone (snat_info carries the daemon-only fields, the
// physical network's name included): decode(encode(entry)) is
// canonicalJson-equal to the entry.

import { isIPv4 } from 'node:net';
import { DataplaneError, type DataplaneEntry } from '../reconciler/dataplane.js';
import type { SnatKey, SnatValue } from '../reconciler/tables.js';
import { decode, encode, ipv4, u64 } from './codec.js';
import {
  EXT_ADDR_GATEWAY,
  NAT_DIR_IN,
  NAT_DIR_OUT,
  NAT_F_REPLIED,
  NAT_F_TCP_ESTABLISHED,
  NAT_F_TCP_FIN,
  NAT_F_TCP_RST,
  SNAT_F_ENABLED,
  SNAT_F_GATEWAY_LOCAL,
  SNAT_NET_FLAT,
  SNAT_NET_VLAN,
  SNAT_NET_VXLAN,
  SNAT_PHYSNET_LEN,
  extAddr,
  extNexthop,
  extNexthopKey,
  natConn,
  natKey,
  routerKey,
  snatInfo,
} from './layouts.js';
import type { RawEntry } from './overlay-encode.js';

export type SnatMapName = 'xdpnet_snat' | 'xdpnet_ext_addrs' | 'xdpnet_ext_nexthops' | 'xdpnet_snat_ct';

/** One map update: exactly the key and value bytes the kernel gets. */
export interface SnatMapWrite {
  map: SnatMapName;
  key: Buffer;
  value: Buffer;
}

/** What a snat entry becomes. */
export interface SnatWrites {
  snat: SnatMapWrite;
  /** The external IP's entry, where this node forwards for it; else null. */
  extAddr: SnatMapWrite | null;
}

/** The external NIC of a physical network on this node, as the daemon resolves it. */
export interface ExternalLink {
  ifindex: number;
  /** The largest IPv4 packet SNAT sends out of it: the external network's MTU, capped by the NIC's. */
  mtu: number;
  /** The NIC's MAC: what ARP for the external IPs answers. */
  mac: string;
}
/** Physical network -> its NIC here; undefined when it has none (yet). */
export type ExternalLinkOf = (physicalNetwork: string) => ExternalLink | undefined;

/** An entry that cannot be encoded (invalid value) or a map entry that is no table entry. */
export class SnatCodecError extends DataplaneError {
  override name = 'SnatCodecError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options);
  }
}

/** The router's gateway is here, but its physical network has no NIC here (yet): retried on a later pass. */
export class ExternalLinkNotPresentError extends DataplaneError {
  override name = 'ExternalLinkNotPresentError';

  constructor(readonly physicalNetwork: string | null) {
    super(
      'UNAVAILABLE',
      physicalNetwork === null
        ? 'the external network names no physical network, so it has no interface on this node'
        : `physical network ${JSON.stringify(physicalNetwork)} has no interface on this node (yet)`,
    );
  }
}

// ---------------------------------------------------------------------------
// Helpers

const ANY = '0.0.0.0';
const MAC_TEXT = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const NETWORK_TYPES = { flat: SNAT_NET_FLAT, vlan: SNAT_NET_VLAN, vxlan: SNAT_NET_VXLAN } as const;
type NetworkType = keyof typeof NETWORK_TYPES;

/** Runs a codec step, turning its RangeError/TypeError into a SnatCodecError naming the entry. */
function codecStep<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DataplaneError) throw err;
    throw new SnatCodecError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A dotted quad that reads back as written, and not 0.0.0.0 (which stands for "none" in the maps). */
function checkHost(what: string, ip: string): string {
  if (!isIPv4(ip) || ip !== ip.split('.').map(Number).join('.')) throw new SnatCodecError(`${what}: ${JSON.stringify(ip)} is not a canonical IPv4 address`);
  if (ip === ANY) throw new SnatCodecError(`${what}: 0.0.0.0 is not a host address`);
  return ip;
}

function checkMac(what: string, mac: string): string {
  if (!MAC_TEXT.test(mac)) throw new SnatCodecError(`${what}: ${JSON.stringify(mac)} is not a lower-case MAC address`);
  return mac;
}

function checkUint(what: string, name: string, n: number, max: number, min = 0): number {
  if (!Number.isInteger(n) || n < min || n > max) throw new SnatCodecError(`${what}: ${name} ${n} is not ${min}..${max}`);
  return n;
}

function expectSize(map: string, part: 'key' | 'value', buf: Buffer, size: number): void {
  if (buf.length !== size) throw new SnatCodecError(`${map}: a ${part} is ${size} bytes, got ${buf.length}`);
}

/** The physical network's name as the zero-padded bytes of snat_info (none: all zero). */
function physnetBytes(what: string, name: string | null): Buffer {
  if (name === null) return Buffer.alloc(0);
  const bytes = Buffer.from(name, 'utf8');
  if (name === '' || bytes.includes(0) || bytes.length > SNAT_PHYSNET_LEN || bytes.toString('utf8') !== name) {
    throw new SnatCodecError(`${what}: physical network ${JSON.stringify(name)} is not 1..${SNAT_PHYSNET_LEN} bytes of UTF-8 without NUL`);
  }
  return bytes;
}

function physnetName(what: string, bytes: Buffer): string | null {
  const end = bytes.indexOf(0);
  const used = end < 0 ? bytes : bytes.subarray(0, end);
  if (!bytes.subarray(used.length).every((b) => b === 0)) throw new SnatCodecError(`${what}: physical network name has bytes after its end`);
  if (used.length === 0) return null;
  const name = used.toString('utf8');
  if (!Buffer.from(name, 'utf8').equals(used)) throw new SnatCodecError(`${what}: physical network name is not UTF-8`);
  return name;
}

// ---------------------------------------------------------------------------
// snat -> xdpnet_snat (+ xdpnet_ext_addrs)

export const snatMapKey = (key: SnatKey): Buffer => codecStep(`snat ${key.routerId}`, () => routerKey.encode({ router_id: key.routerId }));

/** Whether the programs forward for this entry on this node: the gateway node of a flat external network. */
const forwardsHere = (value: SnatValue): boolean => value.gatewayIsLocal && value.externalNetworkType === 'flat';

/**
 * The writes of a snat entry. Where the gateway is local on a flat or VLAN
 * network, `linkOf` gives the NIC of its physical network
 * (ExternalLinkNotPresentError if none).
 */
export function encodeSnat(key: SnatKey, value: SnatValue, linkOf: ExternalLinkOf): SnatWrites {
  const what = `snat ${key.routerId}`;
  const type = NETWORK_TYPES[value.externalNetworkType as NetworkType];
  if (type === undefined) throw new SnatCodecError(`${what}: unknown external network type ${JSON.stringify(value.externalNetworkType)}`);
  let link: ExternalLink | undefined;
  if (value.gatewayIsLocal && value.externalNetworkType !== 'vxlan') {
    link = value.physicalNetwork === null ? undefined : linkOf(value.physicalNetwork);
    if (!link) throw new ExternalLinkNotPresentError(value.physicalNetwork);
    checkUint(what, 'ifindex', link.ifindex, 0xffffffff, 1);
    checkUint(what, 'MTU', link.mtu, 0xffff, 68);
    checkMac(what, link.mac);
  }
  const info = {
    external_ip: checkHost(`${what} external IP`, value.externalIp),
    ifindex: link?.ifindex ?? 0,
    mtu: link?.mtu ?? 0,
    flags: (value.enableSnat ? SNAT_F_ENABLED : 0) | (value.gatewayIsLocal ? SNAT_F_GATEWAY_LOCAL : 0),
    network_type: type,
    prefixlen: checkUint(what, 'prefix length', value.externalPrefixLength, 32, 1),
    pad: 0,
    segmentation_id: checkUint(what, 'segmentation id', value.segmentationId, 0xffffffff),
    // 0.0.0.0 stands for "no gateway" (null), so it cannot be one itself.
    nexthop: value.externalNexthop === null ? ANY : checkHost(`${what} next hop`, value.externalNexthop),
    gateway_vtep: checkHost(`${what} gateway VTEP`, value.gatewayVtepIp),
    external_network_id: value.externalNetworkId,
    physical_network: physnetBytes(what, value.physicalNetwork),
  };
  const snat: SnatMapWrite = { map: 'xdpnet_snat', key: snatMapKey(key), value: codecStep(what, () => snatInfo.encode(info)) };
  if (!forwardsHere(value) || !link) return { snat, extAddr: null };
  const addr = { router_id: key.routerId, ifindex: link.ifindex, mac: link.mac, kind: EXT_ADDR_GATEWAY, pad: 0 };
  return {
    snat,
    extAddr: { map: 'xdpnet_ext_addrs', key: encode(ipv4, value.externalIp), value: codecStep(what, () => extAddr.encode(addr)) },
  };
}

export function decodeSnat(entry: RawEntry): DataplaneEntry<'snat'> {
  expectSize('xdpnet_snat', 'key', entry.key, routerKey.size);
  expectSize('xdpnet_snat', 'value', entry.value, snatInfo.size);
  const routerId = routerKey.decode(entry.key).router_id;
  const v = snatInfo.decode(entry.value);
  const what = `xdpnet_snat ${routerId}`;
  const type = (Object.keys(NETWORK_TYPES) as NetworkType[]).find((t) => NETWORK_TYPES[t] === v.network_type);
  if (!type) throw new SnatCodecError(`${what}: unknown network type ${v.network_type}`);
  if ((v.flags & ~(SNAT_F_ENABLED | SNAT_F_GATEWAY_LOCAL)) !== 0 || v.pad !== 0) {
    throw new SnatCodecError(`${what}: unknown flags 0x${v.flags.toString(16)} or padding ${v.pad}`);
  }
  if (v.prefixlen < 1 || v.prefixlen > 32 || v.external_ip === ANY || v.gateway_vtep === ANY) {
    throw new SnatCodecError(`${what}: prefix length ${v.prefixlen}, external IP ${v.external_ip} or gateway VTEP ${v.gateway_vtep} out of range`);
  }
  return {
    key: { routerId },
    value: {
      externalNetworkId: v.external_network_id,
      externalNetworkType: type,
      physicalNetwork: physnetName(what, v.physical_network),
      segmentationId: v.segmentation_id,
      externalIp: v.external_ip,
      externalPrefixLength: v.prefixlen,
      externalNexthop: v.nexthop === ANY ? null : v.nexthop,
      gatewayVtepIp: v.gateway_vtep,
      gatewayIsLocal: (v.flags & SNAT_F_GATEWAY_LOCAL) !== 0,
      enableSnat: (v.flags & SNAT_F_ENABLED) !== 0,
    },
  };
}

/**
 * The xdpnet_ext_addrs key a snat map value implies (what is written with
 * it), or null: what a delete or a change of external IP removes, read from
 * the map before the snat entry is replaced.
 */
export function extAddrKeyOfSnat(value: Buffer): Buffer | null {
  if (value.length !== snatInfo.size) return null;
  const v = snatInfo.decode(value);
  const local = (v.flags & SNAT_F_GATEWAY_LOCAL) !== 0 && v.network_type === SNAT_NET_FLAT && v.ifindex !== 0;
  return local ? encode(ipv4, v.external_ip) : null;
}

// ---------------------------------------------------------------------------
// (node) -> xdpnet_ext_nexthops

export interface ExtNexthopKey {
  /** The external NIC. */
  ifindex: number;
  /** The next hop: the route's, or an on-link destination. */
  ip: string;
}
export interface ExtNexthopValue {
  /** The next hop's MAC. */
  dstMac: string;
  /** The external NIC's MAC. */
  srcMac: string;
}

export function extNexthopMapKey(key: ExtNexthopKey): Buffer {
  const what = `external next hop ${key.ip} on ifindex ${key.ifindex}`;
  return extNexthopKey.encode({ ifindex: checkUint(what, 'ifindex', key.ifindex, 0xffffffff, 1), ip: checkHost(what, key.ip) });
}

export function encodeExtNexthop(key: ExtNexthopKey, value: ExtNexthopValue): SnatMapWrite {
  const what = `external next hop ${key.ip} on ifindex ${key.ifindex}`;
  return {
    map: 'xdpnet_ext_nexthops',
    key: extNexthopMapKey(key),
    value: extNexthop.encode({ dst_mac: checkMac(what, value.dstMac), src_mac: checkMac(what, value.srcMac) }),
  };
}

export function decodeExtNexthop(entry: RawEntry): { key: ExtNexthopKey; value: ExtNexthopValue } {
  expectSize('xdpnet_ext_nexthops', 'key', entry.key, extNexthopKey.size);
  expectSize('xdpnet_ext_nexthops', 'value', entry.value, extNexthop.size);
  const k = extNexthopKey.decode(entry.key);
  const v = extNexthop.decode(entry.value);
  return { key: { ifindex: k.ifindex, ip: k.ip }, value: { dstMac: v.dst_mac, srcMac: v.src_mac } };
}

/** An entry of xdpnet_ext_nh_miss: a next hop a packet needed, and when (CLOCK_MONOTONIC ns). */
export function decodeExtNexthopMiss(entry: RawEntry): ExtNexthopKey & { missedAtNs: bigint } {
  expectSize('xdpnet_ext_nh_miss', 'key', entry.key, extNexthopKey.size);
  expectSize('xdpnet_ext_nh_miss', 'value', entry.value, 8);
  const k = extNexthopKey.decode(entry.key);
  return { ifindex: k.ifindex, ip: k.ip, missedAtNs: decode(u64, entry.value) };
}

// ---------------------------------------------------------------------------
// xdpnet_snat_ct: connections

export type NatProtocol = 'tcp' | 'udp' | 'icmp';
const PROTOCOLS: Record<NatProtocol, number> = { tcp: 6, udp: 17, icmp: 1 };

/** A SNAT connection, as both of its entries say. */
export interface NatConnection {
  protocol: NatProtocol;
  /** The router's external IP (the entries' zone). */
  externalIp: string;
  externalPort: number;
  vmIp: string;
  /** The VM's port, or its echo identifier (ICMP). */
  vmPort: number;
  remoteIp: string;
  /** 0 for ICMP. */
  remotePort: number;
  /** The VM's network. */
  vni: number;
  /** The MAC the VM sent from. */
  vmMac: string;
}

/** One entry of xdpnet_snat_ct: a direction of a connection. */
export interface NatHalf {
  direction: 'out' | 'in';
  connection: NatConnection;
  /** CLOCK_MONOTONIC ns of the last packet of this direction (refreshed at most once a second). */
  lastSeenNs: bigint;
  /** NAT_F_* seen in this direction. */
  flags: number;
}

/** Both keys of a connection: what the collector deletes (OUT first, then IN). */
export function natKeys(c: NatConnection): { out: Buffer; in: Buffer } {
  const what = `connection ${c.vmIp}:${c.vmPort} -> ${c.remoteIp}:${c.remotePort}`;
  const proto = PROTOCOLS[c.protocol];
  if (proto === undefined) throw new SnatCodecError(`${what}: unknown protocol ${JSON.stringify(c.protocol)}`);
  if (c.protocol === 'icmp' && c.remotePort !== 0) throw new SnatCodecError(`${what}: an ICMP connection has no remote port`);
  return codecStep(what, () => ({
    out: natKey.encode({
      saddr: c.vmIp,
      daddr: c.remoteIp,
      sport: c.vmPort,
      dport: c.remotePort,
      proto,
      dir: NAT_DIR_OUT,
      pad: Buffer.alloc(2),
      zone: checkHost(what, c.externalIp),
    }),
    in: natKey.encode({
      saddr: c.remoteIp,
      daddr: c.externalIp,
      sport: c.remotePort,
      dport: c.externalPort,
      proto,
      dir: NAT_DIR_IN,
      pad: Buffer.alloc(2),
      zone: c.externalIp,
    }),
  }));
}

/** The entry a program writes for one direction of a connection (tests seed the table with it). */
export function encodeNatHalf(half: NatHalf): SnatMapWrite {
  const c = half.connection;
  const keys = natKeys(c);
  const what = `connection ${c.vmIp}:${c.vmPort} -> ${c.remoteIp}:${c.remotePort} (${half.direction})`;
  const value = codecStep(what, () =>
    natConn.encode({
      last_seen_ns: half.lastSeenNs,
      flags: BigInt(checkUint(what, 'flags', half.flags, 0xffffffff)),
      vm_ip: c.vmIp,
      vm_port: c.vmPort,
      ext_port: c.externalPort,
      vni: checkUint(what, 'VNI', c.vni, 0xffffff, 1),
      vm_mac: checkMac(what, c.vmMac),
      pad: Buffer.alloc(0),
    }),
  );
  return { map: 'xdpnet_snat_ct', key: half.direction === 'out' ? keys.out : keys.in, value };
}

/** One entry of xdpnet_snat_ct, checked to be consistent (key and value of one connection). */
export function decodeNatHalf(entry: RawEntry): NatHalf {
  expectSize('xdpnet_snat_ct', 'key', entry.key, natKey.size);
  expectSize('xdpnet_snat_ct', 'value', entry.value, natConn.size);
  const k = natKey.decode(entry.key);
  const v = natConn.decode(entry.value);
  const what = `xdpnet_snat_ct ${k.saddr}:${k.sport} -> ${k.daddr}:${k.dport} proto ${k.proto} dir ${k.dir}`;
  const protocol = (Object.keys(PROTOCOLS) as NatProtocol[]).find((p) => PROTOCOLS[p] === k.proto);
  if (!protocol) throw new SnatCodecError(`${what}: unknown protocol`);
  if (!k.pad.equals(Buffer.alloc(2)) || !v.pad.equals(Buffer.alloc(2)) || v.flags > 0xffffffffn) {
    throw new SnatCodecError(`${what}: padding or flags out of range`);
  }
  let connection: NatConnection;
  if (k.dir === NAT_DIR_OUT) {
    if (k.saddr !== v.vm_ip || k.sport !== v.vm_port) throw new SnatCodecError(`${what}: the value is another connection's`);
    connection = { protocol, externalIp: k.zone, externalPort: v.ext_port, vmIp: k.saddr, vmPort: k.sport, remoteIp: k.daddr, remotePort: k.dport, vni: v.vni, vmMac: v.vm_mac };
  } else if (k.dir === NAT_DIR_IN) {
    if (k.daddr !== k.zone || k.dport !== v.ext_port) throw new SnatCodecError(`${what}: the value is another connection's`);
    connection = { protocol, externalIp: k.zone, externalPort: k.dport, vmIp: v.vm_ip, vmPort: v.vm_port, remoteIp: k.saddr, remotePort: k.sport, vni: v.vni, vmMac: v.vm_mac };
  } else {
    throw new SnatCodecError(`${what}: unknown direction`);
  }
  return { direction: k.dir === NAT_DIR_OUT ? 'out' : 'in', connection, lastSeenNs: v.last_seen_ns, flags: Number(v.flags) };
}

/**
 * Where a connection stands, from both of its halves (either may be
 * missing): the state the collector's timeouts are chosen by
 * (conntrack_maps.h), and when it last carried a packet.
 */
export type NatPhase = 'tcp-opening' | 'tcp-established' | 'tcp-closing' | 'udp-unreplied' | 'udp-replied' | 'icmp';

export function natPhase(protocol: NatProtocol, flags: number): NatPhase {
  switch (protocol) {
    case 'tcp':
      if (flags & (NAT_F_TCP_FIN | NAT_F_TCP_RST)) return 'tcp-closing';
      return flags & NAT_F_TCP_ESTABLISHED ? 'tcp-established' : 'tcp-opening';
    case 'udp':
      return flags & NAT_F_REPLIED ? 'udp-replied' : 'udp-unreplied';
    case 'icmp':
      return 'icmp';
  }
}

export function natState(out: NatHalf | undefined, back: NatHalf | undefined): { phase: NatPhase; lastSeenNs: bigint; flags: number } {
  const halves = [out, back].filter((h): h is NatHalf => h !== undefined);
  const first = halves[0];
  if (!first) throw new SnatCodecError('a connection needs at least one of its entries');
  const flags = halves.reduce((f, h) => f | h.flags, 0);
  const lastSeenNs = halves.reduce((t, h) => (h.lastSeenNs > t ? h.lastSeenNs : t), 0n);
  return { phase: natPhase(first.connection.protocol, flags), lastSeenNs, flags };
}

/** The other entry's key of the connection `entry` is one half of (nat_partner_key in conntrack.h). */
export function natPartnerKey(entry: RawEntry): Buffer {
  const half = decodeNatHalf(entry);
  const keys = natKeys(half.connection);
  return half.direction === 'out' ? keys.in : keys.out;
}

