// The reconciler's floating IP tables (src/reconciler/tables.ts) as the exact
// map writes of bpf/lib/fip_maps.h, and back.
//
// Pure, as snat-encode.ts: buffers in, buffers out, through the codecs of
// layouts.ts; no addon.
//
//   floatingIps     (floating network, floating IP)
//                   -> xdpnet_fip_in: (router, floating IP) -> {fixed IP, VNI, ...},
//                      on every node (the programs read it on the gateway node only);
//                      xdpnet_ext_addrs: floating IP -> {router, NIC, NIC MAC,
//                      EXT_ADDR_FLOATING}, only where this node is the router's
//                      gateway node of a flat external network (the only kind the
//                      programs forward), as encodeSnat() writes a gateway IP's
//   fixedToFloating (router, fixed IP)
//                   -> xdpnet_fip_out: (router, fixed IP) -> {floating IP, floating network}
//
// The map key of a floating IP is (router, floating IP), not the table's
// (floating network, floating IP): the program reaches it through the
// address's xdpnet_ext_addrs entry, which names the router, and no key of the
// dataplane is an address alone where tenants could overlap. The floating
// network travels in the value, so the table still reads back exactly;
// deleting one needs its router, which the table key does not hold:
// floatingIpMapKeyIn() finds the map key among the map's entries (as
// router-encode.ts does for router interfaces).
//
// What the table value does not say (the external NIC's ifindex and MAC)
// comes from the router's snat entry (its external network's type and
// physical network) and a caller-supplied resolver, as encodeSnat() resolves
// it. Every table round-trips from the map bytes alone: decode(encode(entry))
// is canonicalJson-equal to the entry.
//
// Every write is one floating IP's: associating, moving or disassociating
// one touches no other entry.

import { isIPv4 } from 'node:net';
import type { Uuid } from '../model/types.js';
import { DataplaneError, type DataplaneEntry } from '../reconciler/dataplane.js';
import type { FixedToFloatingKey, FixedToFloatingValue, FloatingIpKey, FloatingIpValue, SnatValue } from '../reconciler/tables.js';
import { decode, encode, ipv4 } from './codec.js';
import { EXT_ADDR_FLOATING, EXT_ADDR_GATEWAY, FIP_F_GATEWAY_LOCAL, extAddr, fipIn, fipKey, fipOut } from './layouts.js';
import type { RawEntry } from './overlay-encode.js';
import { type ExternalLinkOf, ExternalLinkNotPresentError } from './snat-encode.js';

export type FipMapName = 'xdpnet_fip_in' | 'xdpnet_fip_out' | 'xdpnet_ext_addrs';

/** One map update: exactly the key and value bytes the kernel gets. */
export interface FipMapWrite {
  map: FipMapName;
  key: Buffer;
  value: Buffer;
}

/** What a floatingIps entry becomes. */
export interface FloatingIpWrites {
  fipIn: FipMapWrite;
  /** The floating IP's xdpnet_ext_addrs entry, where this node forwards for it; else null. */
  extAddr: FipMapWrite | null;
}

/** An entry that cannot be encoded (invalid value) or a map entry that is no table entry. */
export class FipCodecError extends DataplaneError {
  override name = 'FipCodecError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options);
  }
}

/**
 * The floating IP's gateway is this node but its router's external side (its
 * snat entry) is not known: nothing says which NIC the address is on.
 * Retried on a later pass, once the snat entry is there.
 */
export class FloatingIpGatewayUnknownError extends DataplaneError {
  override name = 'FloatingIpGatewayUnknownError';

  constructor(readonly routerId: Uuid) {
    super('UNAVAILABLE', `router ${routerId} has no external side (snat entry) here yet: its floating IPs have no NIC`);
  }
}

// ---------------------------------------------------------------------------
// Helpers

const ANY = '0.0.0.0';

/** Runs a codec step, turning its RangeError/TypeError into a FipCodecError naming the entry. */
function codecStep<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DataplaneError) throw err;
    throw new FipCodecError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A dotted quad that reads back as written, and not 0.0.0.0 (no address of a packet). */
function checkHost(what: string, ip: string): string {
  if (!isIPv4(ip) || ip !== ip.split('.').map(Number).join('.')) throw new FipCodecError(`${what}: ${JSON.stringify(ip)} is not a canonical IPv4 address`);
  if (ip === ANY) throw new FipCodecError(`${what}: 0.0.0.0 is not a host address`);
  return ip;
}

function checkUint(what: string, name: string, n: number, max: number, min = 0): number {
  if (!Number.isInteger(n) || n < min || n > max) throw new FipCodecError(`${what}: ${name} ${n} is not ${min}..${max}`);
  return n;
}

function expectSize(map: string, part: 'key' | 'value', buf: Buffer, size: number): void {
  if (buf.length !== size) throw new FipCodecError(`${map}: a ${part} is ${size} bytes, got ${buf.length}`);
}

// ---------------------------------------------------------------------------
// floatingIps -> xdpnet_fip_in (+ xdpnet_ext_addrs)

/** The xdpnet_fip_in key of a floating IP carried by `routerId`. */
export function floatingIpMapKey(routerId: Uuid, floatingIpAddress: string): Buffer {
  const what = `floating IP ${floatingIpAddress} of router ${routerId}`;
  return codecStep(what, () => fipKey.encode({ router_id: routerId, ip: checkHost(what, floatingIpAddress) }));
}

/**
 * The writes of a floatingIps entry. `snat` is its router's snat entry (the
 * table's value), needed where the gateway is this node: the external
 * network's type and physical network, whose NIC `linkOf` gives
 * (ExternalLinkNotPresentError if none; FloatingIpGatewayUnknownError
 * without a snat entry).
 */
export function encodeFloatingIp(key: FloatingIpKey, value: FloatingIpValue, snat: SnatValue | undefined, linkOf: ExternalLinkOf): FloatingIpWrites {
  const what = `floating IP ${key.floatingNetworkId}/${key.floatingIpAddress}`;
  const info = {
    fixed_ip: checkHost(`${what} fixed IP`, value.fixedIpAddress),
    vni: checkUint(what, 'VNI', value.vni, 0xffffff, 1),
    gateway_vtep: checkHost(`${what} gateway VTEP`, value.gatewayVtepIp),
    flags: value.gatewayIsLocal ? FIP_F_GATEWAY_LOCAL : 0,
    pad: Buffer.alloc(3),
    port_id: value.portId,
    floating_network_id: key.floatingNetworkId,
  };
  const fipInWrite: FipMapWrite = {
    map: 'xdpnet_fip_in',
    key: floatingIpMapKey(value.routerId, key.floatingIpAddress),
    value: codecStep(what, () => fipIn.encode(info)),
  };
  if (!value.gatewayIsLocal) return { fipIn: fipInWrite, extAddr: null };
  if (!snat) throw new FloatingIpGatewayUnknownError(value.routerId);
  if (snat.externalNetworkId !== key.floatingNetworkId) {
    throw new FipCodecError(`${what}: router ${value.routerId}'s external network is ${snat.externalNetworkId}, not the floating IP's`);
  }
  // As encodeSnat: the programs forward for flat external networks only.
  if (snat.externalNetworkType !== 'flat') return { fipIn: fipInWrite, extAddr: null };
  const link = snat.physicalNetwork === null ? undefined : linkOf(snat.physicalNetwork);
  if (!link) throw new ExternalLinkNotPresentError(snat.physicalNetwork);
  checkUint(what, 'ifindex', link.ifindex, 0xffffffff, 1);
  const addr = { router_id: value.routerId, ifindex: link.ifindex, mac: link.mac, kind: EXT_ADDR_FLOATING, pad: 0 };
  return {
    fipIn: fipInWrite,
    extAddr: { map: 'xdpnet_ext_addrs', key: encode(ipv4, key.floatingIpAddress), value: codecStep(what, () => extAddr.encode(addr)) },
  };
}

export function decodeFloatingIp(entry: RawEntry): DataplaneEntry<'floatingIps'> {
  expectSize('xdpnet_fip_in', 'key', entry.key, fipKey.size);
  expectSize('xdpnet_fip_in', 'value', entry.value, fipIn.size);
  const k = fipKey.decode(entry.key);
  const v = fipIn.decode(entry.value);
  const what = `xdpnet_fip_in ${k.router_id}/${k.ip}`;
  if ((v.flags & ~FIP_F_GATEWAY_LOCAL) !== 0 || !v.pad.equals(Buffer.alloc(3))) {
    throw new FipCodecError(`${what}: unknown flags 0x${v.flags.toString(16)} or padding ${v.pad.toString('hex')}`);
  }
  if (k.ip === ANY || v.fixed_ip === ANY || v.gateway_vtep === ANY || v.vni < 1 || v.vni > 0xffffff) {
    throw new FipCodecError(`${what}: floating IP, fixed IP ${v.fixed_ip}, gateway VTEP ${v.gateway_vtep} or VNI ${v.vni} out of range`);
  }
  return {
    key: { floatingNetworkId: v.floating_network_id, floatingIpAddress: k.ip },
    value: {
      routerId: k.router_id,
      portId: v.port_id,
      fixedIpAddress: v.fixed_ip,
      vni: v.vni,
      gatewayVtepIp: v.gateway_vtep,
      gatewayIsLocal: (v.flags & FIP_F_GATEWAY_LOCAL) !== 0,
    },
  };
}

/**
 * The xdpnet_fip_in key that holds the floatingIps entry `key` among a
 * map's entries, or undefined: what a delete, or an upsert that moves the
 * floating IP to another router, removes. Entries of the wrong size are
 * skipped, not fatal: one bad entry must not keep another from being deleted.
 */
export function floatingIpMapKeyIn(entries: Iterable<RawEntry>, key: FloatingIpKey): Buffer | undefined {
  for (const e of entries) {
    if (e.key.length !== fipKey.size || e.value.length !== fipIn.size) continue;
    if (fipKey.decode(e.key).ip === key.floatingIpAddress && fipIn.decode(e.value).floating_network_id === key.floatingNetworkId) return e.key;
  }
  return undefined;
}

/** The xdpnet_ext_addrs key that goes with an xdpnet_fip_in key: the floating IP. */
export function extAddrKeyOfFloatingIp(fipInKey: Buffer): Buffer {
  expectSize('xdpnet_fip_in', 'key', fipInKey, fipKey.size);
  return encode(ipv4, fipKey.decode(fipInKey).ip);
}

// ---------------------------------------------------------------------------
// fixedToFloating -> xdpnet_fip_out

export function fixedToFloatingMapKey(key: FixedToFloatingKey): Buffer {
  const what = `fixedToFloating ${key.routerId}/${key.fixedIpAddress}`;
  return codecStep(what, () => fipKey.encode({ router_id: key.routerId, ip: checkHost(what, key.fixedIpAddress) }));
}

export function encodeFixedToFloating(key: FixedToFloatingKey, value: FixedToFloatingValue): FipMapWrite {
  const what = `fixedToFloating ${key.routerId}/${key.fixedIpAddress}`;
  return {
    map: 'xdpnet_fip_out',
    key: fixedToFloatingMapKey(key),
    value: codecStep(what, () =>
      fipOut.encode({ floating_ip: checkHost(`${what} floating IP`, value.floatingIpAddress), floating_network_id: value.floatingNetworkId }),
    ),
  };
}

export function decodeFixedToFloating(entry: RawEntry): DataplaneEntry<'fixedToFloating'> {
  expectSize('xdpnet_fip_out', 'key', entry.key, fipKey.size);
  expectSize('xdpnet_fip_out', 'value', entry.value, fipOut.size);
  const k = fipKey.decode(entry.key);
  const v = fipOut.decode(entry.value);
  if (k.ip === ANY || v.floating_ip === ANY) throw new FipCodecError(`xdpnet_fip_out ${k.router_id}/${k.ip}: an address is 0.0.0.0`);
  return {
    key: { routerId: k.router_id, fixedIpAddress: k.ip },
    value: { floatingNetworkId: v.floating_network_id, floatingIpAddress: v.floating_ip },
  };
}

// ---------------------------------------------------------------------------
// xdpnet_ext_addrs, read back: what the daemon prunes

/** One entry of xdpnet_ext_addrs: an external address held on this node. */
export interface ExtAddrEntry {
  ip: string;
  kind: 'gateway' | 'floating';
  routerId: Uuid;
  ifindex: number;
  mac: string;
}

export function decodeExtAddr(entry: RawEntry): ExtAddrEntry {
  expectSize('xdpnet_ext_addrs', 'key', entry.key, 4);
  expectSize('xdpnet_ext_addrs', 'value', entry.value, extAddr.size);
  const ip = decode(ipv4, entry.key);
  const v = extAddr.decode(entry.value);
  const kind = v.kind === EXT_ADDR_GATEWAY ? 'gateway' : v.kind === EXT_ADDR_FLOATING ? 'floating' : undefined;
  if (!kind || v.pad !== 0) throw new FipCodecError(`xdpnet_ext_addrs ${ip}: unknown kind ${v.kind} or padding ${v.pad}`);
  return { ip, kind, routerId: v.router_id, ifindex: v.ifindex, mac: v.mac };
}
