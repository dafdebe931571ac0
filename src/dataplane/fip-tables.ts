// The floating IP tables (floatingIps, fixedToFloating) over the node's
// pinned maps: the BPF dataplane's side of the reconciler's Dataplane
// contract for them. What bytes go where is fip-encode.ts's; this file
// decides when they are written, which map key a table key names, and what
// the floating IP's status says.
//
//   floatingIps     -> xdpnet_fip_in: (router, floating IP) -> the VM, on every node;
//                      xdpnet_ext_addrs: floating IP -> {router, NIC, MAC, floating},
//                      where this node is the router's gateway node (flat network)
//   fixedToFloating -> xdpnet_fip_out: (router, fixed IP) -> the floating IP
//
// - The NIC of a floating IP is its router's: the one its snat entry in
//   xdpnet_snat names (ifindex, MTU) with the MAC of the router's own
//   gateway address in xdpnet_ext_addrs, both as SnatTables resolved and
//   wrote them. A floating IP thus never names another NIC than its
//   router's SNAT. No snat entry yet: FloatingIpGatewayUnknownError; one
//   without a NIC here: ExternalLinkNotPresentError (both UNAVAILABLE,
//   retried by a later pass).
// - The table key (floating network, IP) is not the map key (router, IP):
//   which routers hold a table key is kept in an index, rebuilt by each
//   list('floatingIps') and kept up to date by our own writes; a key is
//   deleted only after a lookup shows it still holds that table key.
// - Order of writes, associating: xdpnet_fip_in, then the address (what the
//   address leads to exists first), then the old router's key if the
//   floating IP moved to another router. Disassociating: the address, then
//   xdpnet_fip_in. The reconciler's table order puts fixedToFloating after
//   floatingIps on the way in and before it on the way out.
// - An address a router's gateway holds here, or another router's floating
//   IP, is refused (UNAVAILABLE) and nothing is written: a stale holder
//   whose own update comes later in the same pass; the retry finds it gone.
// - An address that appears (or moves to another NIC or MAC) is announced
//   with gratuitous ARP (snat-announce.ts), as SnatTables does.
// - Only 'floating' addresses are this file's: a router gateway's is never
//   written, replaced or removed here (and SnatTables leaves ours alone).
//
// list('floatingIps') reports what xdpnet_fip_in holds, decoded exactly as
// render shapes it, and tidies what follows from it: an entry that decodes
// to nothing, and a table key found under several routers, are removed and
// not reported (what is wanted is then upserted afresh); a missing or
// out-of-date address is put back; an entry whose address cannot be there
// (no snat entry, no NIC, held by another) is reported with a
// `notForwarded` note beside the value, so that it never equals a rendered
// value and the full pass upserts it again, which says why (the status goes
// ERROR); and a floating address that no listed entry holds is deleted.
//
// A change of a router's external side (its NIC, or the snat entry going)
// re-encodes that router's local floating IPs at once: followSides() wraps
// the ExternalSideSink SnatTables reports to. What then cannot be forwarded
// loses its address and a full pass is requested, which gives it its status.

import { DataplaneError, type DataplaneEntry } from '../reconciler/dataplane.js';
import { type FloatingIpKey, type SnatValue, type TableKey, type TableName, type TableValue, keyString } from '../reconciler/tables.js';
import { decode, encode, ipv4 } from './codec.js';
import {
  FipCodecError,
  type FipMapName,
  type FipMapWrite,
  decodeFixedToFloating,
  decodeFloatingIp,
  encodeFixedToFloating,
  encodeFloatingIp,
  fixedToFloatingMapKey,
  floatingIpMapKey,
  floatingIpMapKeyIn,
} from './fip-encode.js';
import type { HookLogger } from './hook-links.js';
import { EXT_ADDR_FLOATING, EXT_ADDR_GATEWAY, extAddr, fipKey, snatInfo } from './layouts.js';
import { BpfError } from './native.js';
import type { RawEntry } from './overlay-encode.js';
import type { MapHandle, PinnedMaps } from './pinned-maps.js';
import { type ExternalLink, SnatCodecError, decodeSnat, snatMapKey } from './snat-encode.js';
import type { AddressAnnouncer, ExternalSideSink, RouterExternalSide } from './snat-tables.js';

/** What the tables work on: the NodeDataplane has it. */
export interface FipParts {
  maps: PinnedMaps;
  logger: HookLogger;
}

export interface FipTablesOptions {
  /** Where an address that appears is announced (snat-announce.ts). */
  announcer?: AddressAnnouncer;
  /** Asked for when floating IPs lost their address outside a reconciler call (their status is then out of date). */
  requestFullPass?: () => void;
}

export const FIP_TABLES = ['floatingIps', 'fixedToFloating'] as const;
export type FipTable = (typeof FIP_TABLES)[number];

type FipTableMap = FipMapName | 'xdpnet_snat';
const FIP_MAPS: readonly FipTableMap[] = ['xdpnet_fip_in', 'xdpnet_fip_out', 'xdpnet_ext_addrs', 'xdpnet_snat'];

const fipKs = (key: FloatingIpKey): string => keyString('floatingIps', key);
const hex = (b: Buffer): string => b.toString('hex');

/** A listed xdpnet_fip_in entry with its map key. */
interface FipInEntry extends DataplaneEntry<'floatingIps'> {
  mapKey: Buffer;
}

/** Whether a floating IP's address is in place (`held`: it has one here), or why it cannot be. */
type AddressState = { held: boolean } | { problem: string };

export class FipTables {
  private readonly map: Record<FipTableMap, MapHandle>;
  /**
   * The routers whose xdpnet_fip_in key holds each floatingIps table key, by
   * its key string: rebuilt whole by list('floatingIps'), built from the map
   * on first use otherwise, and kept up to date by our own writes.
   */
  private holders: Map<string, Set<string>> | undefined;
  /** Each router's external side (NIC and MAC) as last reported by SnatTables: what a change is told by. */
  private readonly sides = new Map<string, string>();

  constructor(
    private readonly parts: FipParts,
    private readonly options: FipTablesOptions = {},
  ) {
    this.map = Object.fromEntries(FIP_MAPS.map((n) => [n, parts.maps.require(n)])) as Record<FipTableMap, MapHandle>;
  }

  handles(table: TableName): table is FipTable {
    return (FIP_TABLES as readonly string[]).includes(table);
  }

  async list<T extends FipTable>(table: T): Promise<DataplaneEntry<T>[]> {
    switch (table) {
      case 'floatingIps':
        return this.listFloatingIps() as DataplaneEntry<T>[];
      case 'fixedToFloating':
        return this.listFixedToFloating() as DataplaneEntry<T>[];
    }
    throw new DataplaneError('INTERNAL', `${table} is no floating IP table`);
  }

  async upsert<T extends FipTable>(table: T, key: TableKey<T>, value: TableValue<T>): Promise<void> {
    switch (table) {
      case 'floatingIps':
        return this.upsertFloatingIp(key as TableKey<'floatingIps'>, value as TableValue<'floatingIps'>);
      case 'fixedToFloating':
        return this.write(encodeFixedToFloating(key as TableKey<'fixedToFloating'>, value as TableValue<'fixedToFloating'>));
    }
    throw new DataplaneError('INTERNAL', `${table} is no floating IP table`);
  }

  async delete<T extends FipTable>(table: T, key: TableKey<T>): Promise<void> {
    switch (table) {
      case 'floatingIps':
        return this.deleteFloatingIp(key as TableKey<'floatingIps'>);
      case 'fixedToFloating':
        this.map.xdpnet_fip_out.delete(fixedToFloatingMapKey(key as TableKey<'fixedToFloating'>));
        return;
    }
    throw new DataplaneError('INTERNAL', `${table} is no floating IP table`);
  }

  /**
   * The sink to give SnatTables (its `nexthops` option): forwards to `next`
   * (the external next-hop resolver) and re-encodes the local floating IPs of
   * every router whose external side changed (see the top of the file).
   */
  followSides(next?: ExternalSideSink): ExternalSideSink {
    return {
      setRouter: (routerId, side) => {
        next?.setRouter(routerId, side);
        if (this.noteSide(routerId, side)) this.refreshRouters(new Set([routerId]));
      },
      setRouters: (sides) => {
        next?.setRouters(sides);
        const changed = new Set<string>();
        for (const routerId of new Set([...this.sides.keys(), ...sides.keys()])) {
          if (this.noteSide(routerId, sides.get(routerId) ?? null)) changed.add(routerId);
        }
        if (changed.size > 0) this.refreshRouters(changed);
      },
    };
  }

  // ------------------------------------------------------------------ floatingIps

  private upsertFloatingIp(key: TableKey<'floatingIps'>, value: TableValue<'floatingIps'>): void {
    // Everything that can refuse before anything is written.
    const w = this.encodeFloatingIp(key, value);
    const oldKeys = this.mapKeysOf(key);
    const movedFrom = oldKeys.map((k) => fipKey.decode(k).router_id).filter((r) => r !== value.routerId);
    if (w.extAddr) this.checkHolder(w.extAddr, key.floatingIpAddress, value.routerId, movedFrom);

    const current = this.map.xdpnet_fip_in.lookup(w.fipIn.key);
    if (!current?.equals(w.fipIn.value)) this.write(w.fipIn);
    const routers = this.routersOf(key);
    routers.add(value.routerId);
    if (w.extAddr) this.putAddress(w.extAddr, key.floatingIpAddress);
    else this.dropAddress(key.floatingIpAddress, [value.routerId, ...movedFrom]);
    // Last: the old router's key (the floating IP moved).
    for (const k of oldKeys) {
      if (k.equals(w.fipIn.key)) continue;
      this.map.xdpnet_fip_in.delete(k);
      routers.delete(fipKey.decode(k).router_id);
    }
  }

  private deleteFloatingIp(key: TableKey<'floatingIps'>): void {
    for (const k of this.mapKeysOf(key)) {
      const { router_id: routerId } = fipKey.decode(k);
      this.dropAddress(key.floatingIpAddress, [routerId]);
      this.map.xdpnet_fip_in.delete(k);
    }
    this.holders?.delete(fipKs(key));
  }

  /** The xdpnet_fip_in keys that hold `key` now: the index's, each checked by a lookup; the map searched if the index has none. */
  private mapKeysOf(key: FloatingIpKey): Buffer[] {
    const routers = this.routersOf(key);
    const found: Buffer[] = [];
    for (const routerId of [...routers]) {
      const k = floatingIpMapKey(routerId, key.floatingIpAddress);
      const v = this.map.xdpnet_fip_in.lookup(k);
      if (v && floatingIpMapKeyIn([{ key: k, value: v }], key)) found.push(k);
      else routers.delete(routerId);
    }
    if (found.length === 0) {
      // Not in the index: written by someone else since the map was read. Rare, so the map is searched.
      for (const e of rawEntries(this.map.xdpnet_fip_in)) {
        if (floatingIpMapKeyIn([e], key)) {
          found.push(e.key);
          routers.add(fipKey.decode(e.key).router_id);
        }
      }
    }
    return found;
  }

  /** The index's routers of one table key: a live set (built from the map if no list() has yet). */
  private routersOf(key: FloatingIpKey): Set<string> {
    if (!this.holders) {
      this.holders = new Map();
      for (const e of this.decodeFipIn(false)) this.routersOf(e.key).add(e.value.routerId);
    }
    const ks = fipKs(key);
    let routers = this.holders.get(ks);
    if (!routers) this.holders.set(ks, (routers = new Set()));
    return routers;
  }

  private listFloatingIps(): DataplaneEntry<'floatingIps'>[] {
    const { logger } = this.parts;
    const byKs = new Map<string, FipInEntry[]>();
    for (const e of this.decodeFipIn(true)) {
      const ks = fipKs(e.key);
      const same = byKs.get(ks);
      if (same) same.push(e);
      else byKs.set(ks, [e]);
    }
    this.holders = new Map();
    const listed: DataplaneEntry<'floatingIps'>[] = [];
    const held = new Map<string, string>();
    for (const entries of byKs.values()) {
      if (entries.length > 1) {
        const { floatingNetworkId, floatingIpAddress } = entries[0]!.key;
        const routers = entries.map((e) => e.value.routerId);
        logger.warn({ floatingNetworkId, floatingIpAddress, routers }, 'floating IP on several routers: entries removed');
        this.dropAddress(floatingIpAddress, routers);
        for (const e of entries) this.map.xdpnet_fip_in.delete(e.mapKey);
        continue;
      }
      const { key, value } = entries[0]!;
      this.routersOf(key).add(value.routerId);
      const state = this.syncAddress(key, value);
      if ('held' in state) {
        if (state.held) held.set(key.floatingIpAddress, value.routerId);
        listed.push({ key, value });
      } else {
        // The note makes it unequal to every rendered value: see the top of the file.
        listed.push({ key, value: Object.assign({}, value, { notForwarded: state.problem }) });
      }
    }
    // Floating addresses no listed entry holds: nobody's. (A gateway's are SnatTables'.)
    for (const e of rawEntries(this.map.xdpnet_ext_addrs)) {
      if (e.value.length !== extAddr.size || e.key.length !== 4) continue;
      const a = extAddr.decode(e.value);
      const ip = decode(ipv4, e.key);
      if (a.kind !== EXT_ADDR_FLOATING || held.get(ip) === a.router_id) continue;
      logger.warn({ ip, routerId: a.router_id }, 'floating address of no floating IP here: removed');
      this.map.xdpnet_ext_addrs.delete(e.key);
    }
    return listed;
  }

  /** Every xdpnet_fip_in entry, decoded; one that is no table entry is removed if `prune` (list()), else skipped. */
  private decodeFipIn(prune: boolean): FipInEntry[] {
    const out: FipInEntry[] = [];
    for (const e of rawEntries(this.map.xdpnet_fip_in)) {
      try {
        out.push({ ...decodeFloatingIp(e), mapKey: e.key });
      } catch (err) {
        if (!(err instanceof FipCodecError)) throw err;
        if (!prune) continue;
        this.parts.logger.warn({ map: 'xdpnet_fip_in', key: hex(e.key), error: err.message }, 'map entry that is no table entry: removed');
        this.map.xdpnet_fip_in.delete(e.key);
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ addresses

  /** The writes of a floating IP, with its router's snat entry and NIC as they are in the maps now. */
  private encodeFloatingIp(key: FloatingIpKey, value: TableValue<'floatingIps'>) {
    const snat = this.snatOf(value.routerId);
    return encodeFloatingIp(key, value, snat?.value, () => snat && this.linkOf(value.routerId, snat.raw));
  }

  /** The router's snat entry, decoded, with its bytes; undefined if none (or one SnatTables' list will remove). */
  private snatOf(routerId: string): { value: SnatValue; raw: Buffer } | undefined {
    const key = snatMapKey({ routerId });
    const raw = this.map.xdpnet_snat.lookup(key);
    if (!raw) return undefined;
    try {
      return { value: decodeSnat({ key, value: raw }).value, raw };
    } catch (err) {
      if (err instanceof SnatCodecError) return undefined;
      throw err;
    }
  }

  /** The router's external NIC as SnatTables wrote it: the snat entry's ifindex and MTU, its gateway address's MAC. */
  private linkOf(routerId: string, snatRaw: Buffer): ExternalLink | undefined {
    const info = snatInfo.decode(snatRaw);
    if (info.ifindex === 0) return undefined;
    const gw = this.map.xdpnet_ext_addrs.lookup(encode(ipv4, info.external_ip));
    if (!gw || gw.length !== extAddr.size) return undefined;
    const a = extAddr.decode(gw);
    if (a.kind !== EXT_ADDR_GATEWAY || a.router_id !== routerId || a.ifindex !== info.ifindex) return undefined;
    return { ifindex: info.ifindex, mtu: info.mtu, mac: a.mac };
  }

  /** Puts a listed floating IP's address right (or says why it cannot be). */
  private syncAddress(key: FloatingIpKey, value: TableValue<'floatingIps'>): AddressState {
    try {
      const w = this.encodeFloatingIp(key, value);
      if (!w.extAddr) return { held: false };
      this.checkHolder(w.extAddr, key.floatingIpAddress, value.routerId, []);
      this.putAddress(w.extAddr, key.floatingIpAddress);
      return { held: true };
    } catch (err) {
      if (!(err instanceof DataplaneError)) throw err;
      return { problem: err.message };
    }
  }

  /** Refuses an address held by a router's gateway, or by a floating IP of a router other than `routerId` and those it moves from. */
  private checkHolder(w: FipMapWrite, ip: string, routerId: string, movedFrom: readonly string[]): void {
    const current = this.map.xdpnet_ext_addrs.lookup(w.key);
    if (!current || current.equals(w.value) || current.length !== extAddr.size) return;
    const holder = extAddr.decode(current);
    if (holder.kind === EXT_ADDR_GATEWAY) {
      throw new DataplaneError('UNAVAILABLE', `floating IP ${ip} is held on this node as router ${holder.router_id}'s gateway IP`);
    }
    if (holder.kind === EXT_ADDR_FLOATING && holder.router_id !== routerId && !movedFrom.includes(holder.router_id)) {
      throw new DataplaneError('UNAVAILABLE', `floating IP ${ip} is held on this node by a floating IP of router ${holder.router_id}`);
    }
  }

  /** Writes a floating address (and announces it) unless it is there as it should be. */
  private putAddress(w: FipMapWrite, ip: string): void {
    if (this.map.xdpnet_ext_addrs.lookup(w.key)?.equals(w.value)) return;
    this.write(w);
    const a = extAddr.decode(w.value);
    this.options.announcer?.announce(a.ifindex, ip, a.mac);
  }

  /** Deletes the floating address of `ip` if one of `routers` holds it (never a gateway's). */
  private dropAddress(ip: string, routers: readonly string[]): void {
    const key = encode(ipv4, ip);
    const current = this.map.xdpnet_ext_addrs.lookup(key);
    if (!current || current.length !== extAddr.size) return;
    const holder = extAddr.decode(current);
    if (holder.kind === EXT_ADDR_FLOATING && routers.includes(holder.router_id)) this.map.xdpnet_ext_addrs.delete(key);
  }

  // ------------------------------------------------------------------ external sides

  /** Records a router's external side; whether it changed. */
  private noteSide(routerId: string, side: RouterExternalSide | null): boolean {
    const now = side ? `${side.ifindex}/${side.mac}` : undefined;
    if (this.sides.get(routerId) === now) return false;
    if (now === undefined) this.sides.delete(routerId);
    else this.sides.set(routerId, now);
    return true;
  }

  /** Re-encodes the addresses of the local floating IPs of these routers; what cannot be forwarded loses its address. */
  private refreshRouters(routers: ReadonlySet<string>): void {
    let lost = false;
    for (const { key, value } of this.decodeFipIn(false)) {
      if (!routers.has(value.routerId) || !value.gatewayIsLocal) continue;
      const state = this.syncAddress(key, value);
      if ('problem' in state) {
        this.parts.logger.warn({ floatingIp: key.floatingIpAddress, routerId: value.routerId, problem: state.problem }, 'floating IP lost its external address');
        this.dropAddress(key.floatingIpAddress, [value.routerId]);
        lost = true;
      }
    }
    if (lost) this.options.requestFullPass?.();
  }

  // ------------------------------------------------------------------ fixedToFloating

  private listFixedToFloating(): DataplaneEntry<'fixedToFloating'>[] {
    const out: DataplaneEntry<'fixedToFloating'>[] = [];
    for (const e of rawEntries(this.map.xdpnet_fip_out)) {
      try {
        out.push(decodeFixedToFloating(e));
      } catch (err) {
        if (!(err instanceof FipCodecError)) throw err;
        this.parts.logger.warn({ map: 'xdpnet_fip_out', key: hex(e.key), error: err.message }, 'map entry that is no table entry: removed');
        this.map.xdpnet_fip_out.delete(e.key);
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ writes

  /** One map update; a full map is RESOURCE_EXHAUSTED. */
  private write(w: FipMapWrite): void {
    const map = this.map[w.map];
    try {
      map.update(w.key, w.value);
    } catch (err) {
      if (err instanceof BpfError && (err.code === 'E2BIG' || err.code === 'ENOSPC')) {
        throw new DataplaneError('RESOURCE_EXHAUSTED', `map ${w.map} is full (${map.info.maxEntries} entries)`, { cause: err });
      }
      throw err;
    }
  }
}

/** Every entry, copied out of the batch buffers (decoders may keep slices). */
function rawEntries(map: MapHandle): RawEntry[] {
  return [...map.entries()].map(([key, value]) => ({ key: Buffer.from(key), value: Buffer.from(value) }));
}
