// The `snat` table (a router's external side) over the node's pinned maps:
// the BPF dataplane's side of the reconciler's Dataplane contract for it.
// What bytes go where is snat-encode.ts's; this file decides when they are
// written, what else follows from them, and what the router's status says.
//
//   snat (routerId) -> xdpnet_snat: router -> its external side, on every node
//                      xdpnet_ext_addrs: external IP -> router, where this node
//                      is the router's gateway node on a flat external network
//
// - The external NIC of a physical network is the interface the node's
//   configuration maps it to (physical_networks), running xdp_external since
//   start (node.ts). Its ifindex, MTU and MAC go into the entries: the MTU is
//   the NIC's (the table value carries no network MTU), the MAC is what ARP
//   for the external IP answers. A physical network with no usable NIC here
//   is UNAVAILABLE on the router, with what is wrong (not mapped, mapped to
//   the underlay, interface gone or recreated); whatever the router had here
//   before is removed, so nothing half-valid stays behind.
// - Order of writes: the external address first, then the router's entry (a
//   reply to a packet SNAT has sent must find the address). Before an entry
//   is replaced or deleted the old value is read: an external address it
//   implied and the new one does not is deleted (only if it is still this
//   router's), and the connections of that address are given up (the
//   conntrack collector deletes a zone that no router holds here any more).
//   An external address another router (or a floating IP) holds here is
//   refused, UNAVAILABLE: a stale holder whose own update comes later in the
//   same pass; the retry finds it gone.
// - An address that appears (or moves to another NIC or MAC) is announced
//   with gratuitous ARP (snat-announce.ts).
// - The external side's next hops (the external subnet's gateway) are handed
//   to the external next-hop resolver (external-nexthops.ts).
//
// What the fast path does not do yet is written all the same, so that the
// programs drop what cannot be forwarded with the reason that says why, and
// the router's status says so too (UNIMPLEMENTED, see NOT_FORWARDED):
//   - an external network that is not flat (REASON_DROP_EXTERNAL_NETWORK_TYPE);
//   - SNAT disabled: routing out untranslated is not implemented
//     (REASON_DROP_SNAT_DISABLED); its external IP still answers ARP and ping
//     (and floating IPs of the router are translated all the same).
// Such an entry is upserted (written, then UNIMPLEMENTED), and list() reports
// it with a `notForwarded` note beside the value, so that it never equals a
// rendered value: every full pass upserts it again (an idempotent rewrite:
// bytes that are already there are not written) and the status stays ERROR,
// while a deleted router's entry is still found and deleted like any other.
// A router whose gateway node is another node is forwarded here: its VMs'
// packets are tunnelled to the gateway node (REASON_FWD_EXTERNAL_TUNNEL),
// whose own status says whether it can take them out.
//
// list() reports what xdpnet_snat holds, decoded exactly as render shapes it,
// and tidies what follows from it: a local entry whose NIC facts changed
// (MTU, MAC) is rewritten, one whose NIC is gone is removed (and so upserted
// afresh, which says why), an entry that decodes to nothing is removed, a
// missing or wrong external address is put back (one another holds is left
// to the upsert, the entry reported with a note), and an external address
// of a router's gateway that no entry implies is deleted (floating IPs' are
// not this table's and are left alone).
//
// Router MACs' fdb entries carry a copy of what the programs read of a
// router's xdpnet_snat entry (fdb-copies.ts): after each write or delete of
// one, the listeners given to onRouterChanged() are told its router id
// (tables.ts gives OverlayTables' routerChanged), synchronously.

import { DataplaneError, type DataplaneEntry } from '../reconciler/dataplane.js';
import type { SnatKey, SnatValue, TableKey, TableValue } from '../reconciler/tables.js';
import { decode, ipv4 } from './codec.js';
import type { HookLogger } from './hook-links.js';
import type { InterfaceIndex } from './interface-index.js';
import { EXT_ADDR_GATEWAY, extAddr, routerKey } from './layouts.js';
import { BpfError } from './native.js';
import type { ExternalInterface } from './node.js';
import { txPortWrite, type RawEntry } from './overlay-encode.js';
import type { MapHandle, PinnedMaps } from './pinned-maps.js';
import type { LinkInfo } from './rtnetlink.js';
import {
  type ExternalLink,
  ExternalLinkNotPresentError,
  SnatCodecError,
  type SnatMapWrite,
  decodeSnat,
  encodeSnat,
  extAddrKeyOfSnat,
  snatMapKey,
} from './snat-encode.js';

/** What the table works on: the NodeDataplane has all of it. */
export interface SnatParts {
  maps: PinnedMaps;
  interfaces: InterfaceIndex;
  logger: HookLogger;
  /** The underlay interface's name (no external NIC can be it). */
  readonly underlayInterface: string;
  /** The external NICs, by interface name, with their ifindex at start. */
  readonly externalInterfaces: ReadonlyMap<string, ExternalInterface>;
  /** The interface the configuration maps a physical network to, if any. */
  physicalInterfaceOf(physicalNetwork: string): string | undefined;
}

/** A router's external side on this node, as the next-hop resolver needs it. */
export interface RouterExternalSide {
  /** The external NIC. */
  ifindex: number;
  /** The NIC's MAC (the source of what leaves through it). */
  mac: string;
  /** The router's external IP and its subnet's prefix length: what is on-link. */
  externalIp: string;
  prefixLength: number;
  /** The external subnet's gateway, if it has one. */
  gateway: string | null;
}

/** Where the external sides go to have their next hops resolved (external-nexthops.ts). */
export interface ExternalSideSink {
  /** The router's external side here, or null: it has none (any more). */
  setRouter(routerId: string, side: RouterExternalSide | null): void;
  /** A full list: exactly these routers have an external side here. */
  setRouters(sides: ReadonlyMap<string, RouterExternalSide>): void;
}

/** Where an external address that appears is announced (snat-announce.ts). */
export interface AddressAnnouncer {
  announce(ifindex: number, ip: string, nicMac: string): void;
}

export interface SnatTablesOptions {
  announcer?: AddressAnnouncer;
  nexthops?: ExternalSideSink;
  /** An external IP this node held for a router no longer is: its connections are to go (conntrack-gc.ts). */
  onZoneLost?: (externalIp: string) => void;
}

const SNAT_MAPS = ['xdpnet_snat', 'xdpnet_ext_addrs', 'xdpnet_tx_ports'] as const;
type SnatTableMap = (typeof SNAT_MAPS)[number];

/**
 * Why the fast path does not forward what the router sends out through its
 * gateway from this node, or null if it does. One line per thing not built
 * yet: the work that builds it removes its line.
 */
export const NOT_FORWARDED: readonly ((v: SnatValue, routerId: string) => string | null)[] = [
  (v) =>
    v.externalNetworkType === 'flat'
      ? null
      : `the external network ${v.externalNetworkId} is a ${v.externalNetworkType} network: only flat external networks are forwarded so far, ` +
        'so what the router sends out through its gateway is dropped (REASON_DROP_EXTERNAL_NETWORK_TYPE)',
  (v) =>
    v.enableSnat
      ? null
      : 'SNAT is disabled on the router (enable_snat false): routing to the external network without translation is not implemented, ' +
        'so what VMs without a floating IP send out through the router\'s gateway is dropped (REASON_DROP_SNAT_DISABLED); ' +
        'its external IP answers ARP and ping',
];

export function notForwarded(value: SnatValue, routerId: string): string | null {
  for (const why of NOT_FORWARDED) {
    const message = why(value, routerId);
    if (message) return message;
  }
  return null;
}

/** Whether the programs use an entry's external side on this node (gateway node, flat network). */
const forwardsHere = (v: SnatValue): boolean => v.gatewayIsLocal && v.externalNetworkType === 'flat';

const hex = (b: Buffer): string => b.toString('hex');

export class SnatTables {
  private readonly map: Record<SnatTableMap, MapHandle>;
  /** The external NICs as the kernel has them now (MTU, MAC), by name: refreshed by list() and on a miss. */
  private readonly links = new Map<string, LinkInfo>();
  /** External IPs this node holds for routers (the conntrack zones in use), with their router; undefined until the first list(). */
  private zones: Map<string, string> | undefined;

  constructor(
    private readonly parts: SnatParts,
    private readonly options: SnatTablesOptions = {},
  ) {
    this.map = Object.fromEntries(SNAT_MAPS.map((n) => [n, parts.maps.require(n)])) as Record<SnatTableMap, MapHandle>;
  }

  /** Told the router id after each write or delete of its xdpnet_snat entry (router MACs' fdb entries carry a copy: fdb-copies.ts). */
  private readonly routerListeners: ((routerId: string) => void)[] = [];

  /** `listener` is called with the router id after each write or delete of a router's xdpnet_snat entry. */
  onRouterChanged(listener: (routerId: string) => void): void {
    this.routerListeners.push(listener);
  }

  private snatChanged(key: Buffer): void {
    if (key.length !== routerKey.size) return;
    const routerId = routerKey.decode(key).router_id;
    for (const listener of this.routerListeners) listener(routerId);
  }

  handles(table: string): table is 'snat' {
    return table === 'snat';
  }

  /** The external IPs held here for routers (conntrack zones that are alive); undefined until the table has been listed once. */
  liveZones(): ReadonlySet<string> | undefined {
    return this.zones && new Set(this.zones.keys());
  }

  // ------------------------------------------------------------------ the table

  async list(_table: 'snat'): Promise<DataplaneEntry<'snat'>[]> {
    await this.refreshLinks();
    const { logger } = this.parts;
    const listed: DataplaneEntry<'snat'>[] = [];
    const zones = new Map<string, string>();
    const sides = new Map<string, RouterExternalSide>();
    for (const e of rawEntries(this.map.xdpnet_snat)) {
      let entry: DataplaneEntry<'snat'>;
      try {
        entry = decodeSnat(e);
      } catch (err) {
        if (!(err instanceof SnatCodecError)) throw err;
        logger.warn({ map: 'xdpnet_snat', key: hex(e.key), error: err.message }, 'map entry that is no table entry: removed');
        this.map.xdpnet_snat.delete(e.key);
        this.snatChanged(e.key);
        continue;
      }
      const { key, value } = entry;
      let problem: string | null = null;
      if (forwardsHere(value)) {
        let w;
        try {
          w = encodeSnat(key, value, (p) => this.linkOf(p));
        } catch (err) {
          if (!(err instanceof ExternalLinkNotPresentError)) throw err;
          // Not reported: the reconciler upserts it again, which says why it cannot be here.
          logger.warn({ routerId: key.routerId, problem: this.linkProblem(value.physicalNetwork) }, 'router external side without its NIC: removed');
          this.removeEntry(key, e.value);
          continue;
        }
        if (!w.snat.value.equals(e.value)) {
          logger.warn({ routerId: key.routerId }, 'router external side out of date (its NIC changed): rewritten');
          this.write(w.snat);
        }
        if (w.extAddr) {
          try {
            this.putAddress(key, value, w.extAddr);
            zones.set(value.externalIp, key.routerId);
            sides.set(key.routerId, this.sideOf(value));
          } catch (err) {
            if (!(err instanceof DataplaneError)) throw err;
            // Reported unequal (below): the upsert that follows says so on the router.
            problem = err.message;
          }
        }
      }
      const why = problem ?? notForwarded(value, key.routerId);
      // The note makes it unequal to every rendered value: see the top of the file.
      listed.push(why ? { key, value: Object.assign({}, value, { notForwarded: why }) } : entry);
    }
    // External addresses of router gateways that no entry implies: nobody's.
    for (const e of rawEntries(this.map.xdpnet_ext_addrs)) {
      if (e.value.length !== extAddr.size) continue;
      const a = extAddr.decode(e.value);
      const ip = decode(ipv4, e.key);
      if (a.kind !== EXT_ADDR_GATEWAY || zones.get(ip) === a.router_id) continue;
      logger.warn({ ip, routerId: a.router_id }, 'external address of no router gateway here: removed');
      this.map.xdpnet_ext_addrs.delete(e.key);
    }
    // The NICs' transmit slots are the node's (node.ts writes them): put back if lost.
    for (const ext of this.parts.externalInterfaces.values()) {
      const tx = txPortWrite(ext.ifindex);
      if (!this.map.xdpnet_tx_ports.lookup(tx.key)) {
        try {
          this.map.xdpnet_tx_ports.update(tx.key, tx.value);
        } catch (err) {
          logger.warn({ err, interface: ext.name }, 'cannot put the external NIC back into xdpnet_tx_ports');
        }
      }
    }
    const lost = this.zones ? [...this.zones.keys()].filter((ip) => !zones.has(ip)) : [];
    this.zones = zones;
    for (const ip of lost) this.options.onZoneLost?.(ip);
    this.options.nexthops?.setRouters(sides);
    return listed;
  }

  async upsert(_table: 'snat', key: TableKey<'snat'>, value: TableValue<'snat'>): Promise<void> {
    if (forwardsHere(value) && value.physicalNetwork !== null) await this.ensureLink(value.physicalNetwork);
    let w;
    try {
      w = encodeSnat(key, value, (p) => this.linkOf(p));
    } catch (err) {
      if (!(err instanceof ExternalLinkNotPresentError)) throw err;
      // Whatever the router had here is no longer right.
      const old = this.map.xdpnet_snat.lookup(snatMapKey(key));
      if (old) this.removeEntry(key, old);
      throw new DataplaneError('UNAVAILABLE', this.linkProblem(value.physicalNetwork), { cause: err });
    }
    const old = this.map.xdpnet_snat.lookup(w.snat.key);
    // The address first: a reply to what SNAT sends must find it.
    if (w.extAddr) this.putAddress(key, value, w.extAddr);
    if (!old?.equals(w.snat.value)) this.write(w.snat);
    const oldAddr = old && extAddrKeyOfSnat(old);
    if (oldAddr && !(w.extAddr && oldAddr.equals(w.extAddr.key))) this.dropAddress(key.routerId, oldAddr);
    if (w.extAddr) {
      this.zones?.set(value.externalIp, key.routerId);
      this.options.nexthops?.setRouter(key.routerId, this.sideOf(value));
    } else {
      this.options.nexthops?.setRouter(key.routerId, null);
    }
    const why = notForwarded(value, key.routerId);
    if (why) throw new DataplaneError('UNIMPLEMENTED', why);
  }

  async delete(_table: 'snat', key: TableKey<'snat'>): Promise<void> {
    const old = this.map.xdpnet_snat.lookup(snatMapKey(key));
    if (old) this.removeEntry(key, old);
    else this.options.nexthops?.setRouter(key.routerId, null);
  }

  // ------------------------------------------------------------------ entries and addresses

  /** Removes a router's entry and the address it implied: the entry first (SNAT stops), then the address. */
  private removeEntry(key: SnatKey, value: Buffer): void {
    this.map.xdpnet_snat.delete(snatMapKey(key));
    this.snatChanged(snatMapKey(key));
    const addr = extAddrKeyOfSnat(value);
    if (addr) this.dropAddress(key.routerId, addr);
    this.options.nexthops?.setRouter(key.routerId, null);
  }

  /** Writes a router's external address (and announces it) unless it is there as it should be; refuses another holder's. */
  private putAddress(key: SnatKey, value: SnatValue, w: SnatMapWrite): void {
    const current = this.map.xdpnet_ext_addrs.lookup(w.key);
    if (current?.equals(w.value)) return;
    if (current && current.length === extAddr.size) {
      const holder = extAddr.decode(current);
      if (holder.kind !== EXT_ADDR_GATEWAY || holder.router_id !== key.routerId) {
        const who = holder.kind === EXT_ADDR_GATEWAY ? `router ${holder.router_id}'s gateway` : `a floating IP (router ${holder.router_id})`;
        throw new DataplaneError('UNAVAILABLE', `external IP ${value.externalIp} is held on this node by ${who}`);
      }
    }
    this.write(w);
    const a = extAddr.decode(w.value);
    this.options.announcer?.announce(a.ifindex, value.externalIp, a.mac);
  }

  /** Deletes an external address if it is still `routerId`'s gateway address; its connections are given up. */
  private dropAddress(routerId: string, addrKey: Buffer): void {
    const current = this.map.xdpnet_ext_addrs.lookup(addrKey);
    const ip = decode(ipv4, addrKey);
    if (current && current.length === extAddr.size) {
      const holder = extAddr.decode(current);
      if (holder.kind === EXT_ADDR_GATEWAY && holder.router_id === routerId) this.map.xdpnet_ext_addrs.delete(addrKey);
    }
    if (this.zones?.get(ip) === routerId) this.zones.delete(ip);
    this.options.onZoneLost?.(ip);
  }

  private sideOf(value: SnatValue): RouterExternalSide {
    const link = this.linkOf(value.physicalNetwork!)!;
    return { ifindex: link.ifindex, mac: link.mac, externalIp: value.externalIp, prefixLength: value.externalPrefixLength, gateway: value.externalNexthop };
  }

  /** One map update; a full map is RESOURCE_EXHAUSTED. */
  private write(w: SnatMapWrite): void {
    const map = this.parts.maps.require(w.map);
    try {
      map.update(w.key, w.value);
    } catch (err) {
      if (err instanceof BpfError && err.code === 'E2BIG') {
        throw new DataplaneError('RESOURCE_EXHAUSTED', `map ${w.map} is full (${map.info.maxEntries} entries)`, { cause: err });
      }
      throw err;
    }
    if (w.map === 'xdpnet_snat') this.snatChanged(w.key);
  }

  // ------------------------------------------------------------------ the external NICs

  private async refreshLinks(): Promise<void> {
    for (const name of this.parts.externalInterfaces.keys()) await this.lookupLink(name);
  }

  /** Makes sure the NIC of `physicalNetwork` has been looked up (once; list() refreshes). */
  private async ensureLink(physicalNetwork: string): Promise<void> {
    const name = this.parts.physicalInterfaceOf(physicalNetwork);
    if (name !== undefined && this.parts.externalInterfaces.has(name) && !this.links.has(name)) await this.lookupLink(name);
  }

  private async lookupLink(name: string): Promise<void> {
    const link = await this.parts.interfaces.lookupLink(name);
    if (link) this.links.set(name, link);
    else this.links.delete(name);
  }

  /** The NIC of a physical network as the entries need it, or why there is none. */
  private resolve(physicalNetwork: string | null): { link: ExternalLink } | { problem: string } {
    if (physicalNetwork === null) return { problem: 'the external network names no physical network, so it has no interface on this node' };
    const what = `physical network ${JSON.stringify(physicalNetwork)}`;
    const name = this.parts.physicalInterfaceOf(physicalNetwork);
    if (name === undefined) {
      return {
        problem: `${what} is not mapped to an interface on this node (physical_networks): this is the router's gateway node, yet it has no interface to the external network`,
      };
    }
    if (name === this.parts.underlayInterface) {
      return { problem: `${what} is mapped to the underlay interface ${name}: SNAT needs an external interface of its own (xdp_external runs there)` };
    }
    const ext = this.parts.externalInterfaces.get(name);
    const now = this.links.get(name);
    if (!ext || !now) return { problem: `interface ${name} (${what}) does not exist` };
    if (now.index !== ext.ifindex) {
      // Transient: the node attaches xdp_external to the new interface on its link event, then asks for a full pass.
      return { problem: `interface ${name} (${what}) was recreated (ifindex ${ext.ifindex}, now ${now.index}); xdp_external is not attached to it yet` };
    }
    if (now.mac === undefined || now.mac === '00:00:00:00:00:00') return { problem: `interface ${name} (${what}) has no MAC address` };
    return { link: { ifindex: ext.ifindex, mtu: Math.min(now.mtu, 0xffff), mac: now.mac } };
  }

  private linkOf(physicalNetwork: string): ExternalLink | undefined {
    const r = this.resolve(physicalNetwork);
    return 'link' in r ? r.link : undefined;
  }

  private linkProblem(physicalNetwork: string | null): string {
    const r = this.resolve(physicalNetwork);
    return 'problem' in r ? r.problem : 'the external interface is not usable';
  }
}

/** Every entry, copied out of the batch buffers (decoders may keep slices). */
function rawEntries(map: MapHandle): RawEntry[] {
  return [...map.entries()].map(([key, value]) => ({ key: Buffer.from(key), value: Buffer.from(value) }));
}
