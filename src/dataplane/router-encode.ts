// The reconciler's routing tables (src/reconciler/tables.ts) as the exact map
// writes xdp_port's router reads (bpf/lib/router_maps.h), and back.
//
// Pure, as overlay-encode.ts: buffers in, buffers out, through the codecs of
// layouts.ts; no addon. The caller (the BPF dataplane) writes each
// RouterMapWrite with one map update and lists a table by decoding what it
// reads from the maps.
//
//   routers          (routerId)            -> xdpnet_routers: router -> {mac, flags}
//   routerInterfaces (routerId, subnetId)  -> xdpnet_router_ifaces: (router, vni) -> {ip, mac, prefixlen, subnet}
//   routes           (routerId, prefix)    -> xdpnet_routes: LPM (128 + n, router, prefix) -> {kind, ...}
//
// The map key of a router interface is (router, VNI), not (router, subnet):
// the program looks it up by the sender's network. The model allows one
// interface per network per router, so the VNI names the interface; the
// subnet travels in the value. Deleting one therefore needs its VNI, which
// the table key does not hold: routerInterfaceMapKeyIn() finds the map key
// of a (router, subnet) among the map's entries.
//
// Every table round-trips from the map bytes alone: decode(encode(entry)) is
// canonicalJson-equal to the entry.

import type { Uuid } from '../model/types.js';
import { DataplaneError, type DataplaneEntry } from '../reconciler/dataplane.js';
import { formatCidr, parseCidr } from '../reconciler/ipv4.js';
import type {
  RouteKey,
  RouteValue,
  RouterInterfaceKey,
  RouterInterfaceValue,
  RouterKey,
  RouterValue,
} from '../reconciler/tables.js';
import { decode, encode, ipv4, uuid } from './codec.js';
import {
  ROUTER_F_ADMIN_UP,
  ROUTE_CONNECTED,
  ROUTE_EXTERNAL,
  ROUTE_F_GATEWAY_LOCAL,
  ROUTE_NEXTHOP,
  ROUTE_PREFIX_BITS,
  routeEntry,
  routeKey,
  routerIface,
  routerIfaceKey,
  routerInfo,
  routerKey,
} from './layouts.js';
import type { RawEntry } from './overlay-encode.js';

export type RouterMapName = 'xdpnet_routers' | 'xdpnet_router_ifaces' | 'xdpnet_routes';

/** One map update: exactly the key and value bytes the kernel gets. */
export interface RouterMapWrite {
  map: RouterMapName;
  key: Buffer;
  value: Buffer;
}

/** An entry that cannot be encoded (invalid value) or a map entry that is no table entry. */
export class RouterCodecError extends DataplaneError {
  override name = 'RouterCodecError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options);
  }
}

// ---------------------------------------------------------------------------
// Helpers

const ANY = '0.0.0.0';
const ZERO16 = Buffer.alloc(16);
const MAC_TEXT = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

/** Runs a codec step, turning its RangeError/TypeError into a RouterCodecError naming the entry. */
function codecStep<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DataplaneError) throw err;
    throw new RouterCodecError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function checkVni(what: string, vni: number): number {
  if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff) throw new RouterCodecError(`${what}: ${vni} is not a VNI (1..16777215)`);
  return vni;
}

/** Lower-case "aa:bb:cc:dd:ee:ff" only: the map gives back lower case, and the round trip must be exact. */
function checkMac(what: string, mac: string): string {
  if (!MAC_TEXT.test(mac)) throw new RouterCodecError(`${what}: ${JSON.stringify(mac)} is not a lower-case MAC address`);
  return mac;
}

/** A dotted quad that reads back as written (the codec accepts nothing else), and not 0.0.0.0 where that means "none". */
function checkHost(what: string, ip: string): string {
  codecStep(what, () => encode(ipv4, ip));
  if (ip === ANY) throw new RouterCodecError(`${what}: 0.0.0.0 is not a host address`);
  return ip;
}

function checkUuid(what: string, id: Uuid): Buffer {
  return codecStep(what, () => encode(uuid, id));
}

/** A canonical CIDR ("a.b.c.d/n", host bits clear): anything else would decode to a different string. */
function canonicalCidr(what: string, text: string): { ip: string; prefixLength: number } {
  const c = parseCidr(text);
  if (!c || !text.includes('/') || formatCidr(c) !== text) {
    throw new RouterCodecError(`${what}: ${JSON.stringify(text)} is not a canonical IPv4 CIDR`);
  }
  return { ip: text.slice(0, text.indexOf('/')), prefixLength: c.prefixLength };
}

function expectSize(map: RouterMapName, part: 'key' | 'value', buf: Buffer, size: number): void {
  if (buf.length !== size) throw new RouterCodecError(`${map}: a ${part} is ${size} bytes, got ${buf.length}`);
}

// ---------------------------------------------------------------------------
// routers -> xdpnet_routers

export const routerMapKey = (key: RouterKey): Buffer => {
  checkUuid(`routers ${key.routerId}`, key.routerId);
  return routerKey.encode({ router_id: key.routerId });
};

export function encodeRouter(key: RouterKey, value: RouterValue): RouterMapWrite {
  const what = `routers ${key.routerId}`;
  const info = { mac: checkMac(what, value.macAddress), flags: value.adminStateUp ? ROUTER_F_ADMIN_UP : 0, pad: 0 };
  return { map: 'xdpnet_routers', key: routerMapKey(key), value: codecStep(what, () => routerInfo.encode(info)) };
}

export function decodeRouter(entry: RawEntry): DataplaneEntry<'routers'> {
  expectSize('xdpnet_routers', 'key', entry.key, routerKey.size);
  expectSize('xdpnet_routers', 'value', entry.value, routerInfo.size);
  const routerId = routerKey.decode(entry.key).router_id;
  const info = routerInfo.decode(entry.value);
  if ((info.flags & ~ROUTER_F_ADMIN_UP) !== 0 || info.pad !== 0) {
    throw new RouterCodecError(`xdpnet_routers ${routerId}: unknown flags 0x${info.flags.toString(16)} or padding ${info.pad}`);
  }
  return { key: { routerId }, value: { macAddress: info.mac, adminStateUp: (info.flags & ROUTER_F_ADMIN_UP) !== 0 } };
}

// ---------------------------------------------------------------------------
// routerInterfaces -> xdpnet_router_ifaces

/** The map key of router `routerId`'s interface on network `vni`. */
export function routerInterfaceMapKey(routerId: Uuid, vni: number): Buffer {
  const what = `routerInterfaces ${routerId} on VNI ${vni}`;
  checkUuid(what, routerId);
  return routerIfaceKey.encode({ router_id: routerId, vni: checkVni(what, vni) });
}

export function encodeRouterInterface(key: RouterInterfaceKey, value: RouterInterfaceValue): RouterMapWrite {
  const what = `routerInterfaces ${key.routerId}/${key.subnetId}`;
  checkUuid(what, key.subnetId);
  if (!Number.isInteger(value.prefixLength) || value.prefixLength < 1 || value.prefixLength > 32) {
    throw new RouterCodecError(`${what}: prefix length ${value.prefixLength} is not 1..32`);
  }
  const iface = {
    ip: checkHost(what, value.ipAddress),
    mac: checkMac(what, value.macAddress),
    prefixlen: value.prefixLength,
    pad: 0,
    subnet_id: key.subnetId,
  };
  return {
    map: 'xdpnet_router_ifaces',
    key: routerInterfaceMapKey(key.routerId, value.vni),
    value: codecStep(what, () => routerIface.encode(iface)),
  };
}

export function decodeRouterInterface(entry: RawEntry): DataplaneEntry<'routerInterfaces'> {
  expectSize('xdpnet_router_ifaces', 'key', entry.key, routerIfaceKey.size);
  expectSize('xdpnet_router_ifaces', 'value', entry.value, routerIface.size);
  const k = routerIfaceKey.decode(entry.key);
  const v = routerIface.decode(entry.value);
  if (v.prefixlen < 1 || v.prefixlen > 32 || v.pad !== 0) {
    throw new RouterCodecError(`xdpnet_router_ifaces ${k.router_id}/${k.vni}: prefix length ${v.prefixlen} or padding ${v.pad} out of range`);
  }
  return {
    key: { routerId: k.router_id, subnetId: v.subnet_id },
    value: { vni: k.vni, ipAddress: v.ip, prefixLength: v.prefixlen, macAddress: v.mac },
  };
}

/**
 * The map key holding (router, subnet)'s interface among `entries` (all of
 * xdpnet_router_ifaces, as read), or undefined: what a delete, which is given
 * the table key alone, removes. Entries of the wrong size are skipped, not
 * fatal: one bad entry must not keep another from being deleted.
 */
export function routerInterfaceMapKeyIn(entries: Iterable<RawEntry>, key: RouterInterfaceKey): Buffer | undefined {
  for (const e of entries) {
    if (e.key.length !== routerIfaceKey.size || e.value.length !== routerIface.size) continue;
    if (routerIfaceKey.decode(e.key).router_id === key.routerId && routerIface.decode(e.value).subnet_id === key.subnetId) return e.key;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// routes -> xdpnet_routes

export function routeMapKey(key: RouteKey): Buffer {
  const what = `routes ${key.routerId}/${key.prefix}`;
  checkUuid(what, key.routerId);
  const { ip, prefixLength } = canonicalCidr(what, key.prefix);
  return routeKey.encode({ prefixlen: ROUTE_PREFIX_BITS + prefixLength, router_id: key.routerId, ip });
}

/** The route_entry of a route (unused fields zero). */
function routeEntryOf(what: string, value: RouteValue) {
  switch (value.kind) {
    case 'connected':
      return {
        kind: ROUTE_CONNECTED,
        vni: checkVni(what, value.vni),
        nexthop: ANY,
        gateway_vtep: ANY,
        flags: 0,
        subnet_id: checkUuid(what, value.subnetId),
      };
    case 'nexthop':
      return { kind: ROUTE_NEXTHOP, vni: checkVni(what, value.vni), nexthop: checkHost(what, value.nexthop), gateway_vtep: ANY, flags: 0, subnet_id: ZERO16 };
    case 'external':
      return {
        kind: ROUTE_EXTERNAL,
        vni: 0,
        // 0.0.0.0 stands for "on-link" (null), so it cannot be a next hop itself.
        nexthop: value.nexthop === null ? ANY : checkHost(what, value.nexthop),
        gateway_vtep: checkHost(what, value.gatewayVtepIp),
        flags: value.gatewayIsLocal ? ROUTE_F_GATEWAY_LOCAL : 0,
        subnet_id: ZERO16,
      };
    default: {
      const unknown: never = value;
      throw new RouterCodecError(`${what}: unknown route kind ${JSON.stringify((unknown as { kind: unknown }).kind)}`);
    }
  }
}

export function encodeRoute(key: RouteKey, value: RouteValue): RouterMapWrite {
  const what = `routes ${key.routerId}/${key.prefix}`;
  const entry = routeEntryOf(what, value);
  return { map: 'xdpnet_routes', key: routeMapKey(key), value: codecStep(what, () => routeEntry.encode(entry)) };
}

export function decodeRoute(entry: RawEntry): DataplaneEntry<'routes'> {
  expectSize('xdpnet_routes', 'key', entry.key, routeKey.size);
  expectSize('xdpnet_routes', 'value', entry.value, routeEntry.size);
  const k = routeKey.decode(entry.key);
  const prefixLength = k.prefixlen - ROUTE_PREFIX_BITS;
  const bad = (why: string) => new RouterCodecError(`xdpnet_routes ${k.router_id}/${k.ip}/${prefixLength}: ${why}`);
  if (prefixLength < 0 || prefixLength > 32) throw bad('prefix length out of range');
  const prefix = `${k.ip}/${prefixLength}`;
  if (parseCidr(prefix) === null || formatCidr(parseCidr(prefix)!) !== prefix) throw bad('host bits set in the prefix');
  const key = { routerId: k.router_id, prefix };
  const v = routeEntry.decode(entry.value);
  const noSubnet = v.subnet_id.equals(ZERO16);
  switch (v.kind) {
    case ROUTE_CONNECTED:
      if (v.nexthop !== ANY || v.gateway_vtep !== ANY || v.flags !== 0 || v.vni === 0) throw bad('not a connected route');
      return { key, value: { kind: 'connected', vni: v.vni, subnetId: decode(uuid, v.subnet_id) } };
    case ROUTE_NEXTHOP:
      if (v.nexthop === ANY || v.gateway_vtep !== ANY || v.flags !== 0 || v.vni === 0 || !noSubnet) throw bad('not a next-hop route');
      return { key, value: { kind: 'nexthop', vni: v.vni, nexthop: v.nexthop } };
    case ROUTE_EXTERNAL:
      if (v.vni !== 0 || (v.flags & ~ROUTE_F_GATEWAY_LOCAL) !== 0 || !noSubnet) throw bad('not an external route');
      return {
        key,
        value: {
          kind: 'external',
          nexthop: v.nexthop === ANY ? null : v.nexthop,
          gatewayVtepIp: v.gateway_vtep,
          gatewayIsLocal: (v.flags & ROUTE_F_GATEWAY_LOCAL) !== 0,
        },
      };
    default:
      throw bad(`unknown kind ${v.kind}`);
  }
}
