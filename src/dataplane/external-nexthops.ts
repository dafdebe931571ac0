// External next hops: the MACs SNAT'd packets leave the external NIC with,
// resolved from the kernel's neighbours and written to xdpnet_ext_nexthops
// ((NIC, next hop) -> {dst MAC, src MAC}), kept current.
//
//   const nh = await ExternalNexthops.start({ map, missMap, events, logger });
//   nh.setRouter(routerId, { ifindex, mac, externalIp, prefixLength, gateway });  // from the snat table
//   nh.routeUpserted(key, value);                                                 // from the routes table
//   ...
//   nh.close();
//
// Which next hops (every one of them is on-link on the external NIC: the
// external subnet is the NIC's network):
//   - of each router whose external side is on this node: its external
//     subnet's gateway, and the next hops of its routes through the external
//     gateway (static routes via the external subnet), resolved up front;
//   - on-link destinations (an external route without a next hop: a host on
//     the external subnet itself), which nobody can list in advance: the
//     programs record a next hop they lacked in xdpnet_ext_nh_miss, this
//     module reads that map every `missPollMs`, deletes each key it read, and
//     resolves the address if it is inside the external subnet of a router
//     on that NIC. The first packets to such a host are dropped
//     (REASON_DROP_NO_EXTERNAL_NEIGHBOR) while it resolves. An on-link next
//     hop is kept while connections to it exist (the conntrack collector
//     reports the addresses it sees: `touch`) and for `onLinkTtlMs` after it
//     was last seen; at most `maxOnLink` at a time.
//
// How (the underlay's pieces, nexthop-neighbors.ts and the shared netlink
// events): each next hop gets a managed neighbour entry on the NIC
// (NTF_EXT_MANAGED, NDA_PROTOCOL 120): the kernel resolves it and keeps it
// resolved with no traffic of its own; while the entry is valid (NUD_VALID)
// the map holds {its MAC, the NIC's MAC}, otherwise no entry (the program
// drops with a counted reason rather than sending to a dead MAC). No route
// lookup: the NIC and the address are known, and the NIC need not be in any
// route (it may carry no address at all).
//
// The NIC without an IPv4 address of its own: the kernel still resolves
// neighbours on it. Its ARP requests then name as sender another address of
// the node (inet_select_addr falls back to any interface's; the underlay's,
// typically), or 0.0.0.0 if the node has none, which every host answers
// (RFC 5227 probes). A router on the external network that filters ARP by
// the sender's subnet (Linux with rp_filter=1 does) will not answer the
// former: give the NIC an address on the external subnet then (not a
// router's external IP), and the kernel names that one. Sending our own
// requests from a router's external IP would need a way to transmit
// arbitrary frames and to receive the answers, which the kernel's neighbour
// table already does.
//
// What keeps it current: neighbour events re-derive the values behind that
// neighbour; link events of a NIC (its MAC, its removal) re-derive its
// values; a resync event or the periodic refresh re-reads every neighbour of
// every NIC, repairs the map entry by entry, and (once the routers have been
// listed) deletes map entries and neighbour entries of ours that nothing
// wants. Map entries are written only when their bytes change; after each
// write or delete the listeners of onNexthopChanged() are told which entry
// (routers' fdb entries carry a copy of their gateway's: fdb-copies.ts;
// tables.ts wires them).

import { isIPv4 } from 'node:net';
import type { RouteKey, RouteValue } from '../reconciler/tables.js';
import { extNexthopKey } from './layouts.js';
import type { BpfMap } from './maps.js';
import type { NetlinkEvent, NetlinkEvents, NetlinkLogger } from './netlink-events.js';
import type { NeighborEntry } from './netlink-neighbor.js';
import { NeighborKeeper, type ResolutionMode, XDPNET_NEIGH_PROTOCOL } from './nexthop-neighbors.js';
import { NetlinkError, RtNetlink } from './rtnetlink.js';
import { decodeExtNexthop, decodeExtNexthopMiss, encodeExtNexthop, extNexthopMapKey } from './snat-encode.js';
import type { ExternalSideSink, RouterExternalSide } from './snat-tables.js';
import { WorkLoop, type WorkStep } from './work-loop.js';

export interface ExternalNexthopsOptions {
  /** xdpnet_ext_nexthops. */
  map: BpfMap;
  /** xdpnet_ext_nh_miss. */
  missMap: BpfMap;
  /** Shared netlink events (link and neighbour groups at least). */
  events: NetlinkEvents;
  logger: NetlinkLogger;
  /** Period of the full refresh. Default 30 s; 0 turns it off. */
  refreshIntervalMs?: number;
  /** How often xdpnet_ext_nh_miss is read. Default 250 ms; 0 turns it off. */
  missPollMs?: number;
  /** How long an on-link next hop is kept after it was last seen. Default 10 min. */
  onLinkTtlMs?: number;
  /** On-link next hops kept at most. Default 4096 (as many as the miss map holds). */
  maxOnLink?: number;
  resolution?: ResolutionMode;
}

/** A routes-table observer (tables.ts calls it for every routes write the reconciler makes). */
export interface RouteObserver {
  routeUpserted(key: RouteKey, value: RouteValue): void;
  routeDeleted(key: RouteKey): void;
  routesListed(entries: readonly { key: RouteKey; value: RouteValue }[]): void;
}

export type ExternalNexthopStatus =
  | { ifindex: number; ip: string; why: string[]; state: 'resolved'; dstMac: string; srcMac: string; neighborState: string[] }
  | { ifindex: number; ip: string; why: string[]; state: 'unresolved'; reason: string };

const DEFAULT_REFRESH_MS = 30_000;
const DEFAULT_MISS_POLL_MS = 250;
const DEFAULT_ONLINK_TTL_MS = 10 * 60_000;
const DEFAULT_MAX_ONLINK = 4096;

interface Target {
  ifindex: number;
  ip: string;
  entry: NeighborEntry | undefined;
  /** Bumped by every event; a read that started before an event must not overwrite it. */
  version: number;
  /** Not read since it started being tracked. */
  fresh: boolean;
  status: ExternalNexthopStatus;
}

const keyOf = (ifindex: number, ip: string): string => `${ifindex}/${ip}`;
const ipNumber = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

function onSubnet(side: RouterExternalSide, ip: string): boolean {
  const bits = side.prefixLength;
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
  return ((ipNumber(side.externalIp) & mask) >>> 0) === ((ipNumber(ip) & mask) >>> 0);
}

export class ExternalNexthops implements ExternalSideSink, RouteObserver {
  private readonly routers = new Map<string, RouterExternalSide>();
  /** Next hops of local external routes, by router, by prefix. */
  private readonly routes = new Map<string, Map<string, string>>();
  /** On-link destinations learnt from misses: key -> last seen (ms). */
  private readonly onLink = new Map<string, { ifindex: number; ip: string; seenAt: number }>();
  private readonly targets = new Map<string, Target>();
  /** The NICs' MACs, by ifindex (from the routers' sides, then link events). */
  private readonly nicMacs = new Map<number, string>();
  private readonly keeper: NeighborKeeper;
  private readonly unsubscribe: () => void;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** setRouters has been called: the routers are known, so what nothing wants can go. */
  private retained = false;
  private onLinkFullWarned = false;
  /** Told (ifindex, ip) after each write or delete of an xdpnet_ext_nexthops entry (router MACs' fdb entries copy their gateway's). */
  private readonly changeListeners: ((ifindex: number, ip: string) => void)[] = [];

  // Pending work, drained by one loop at a time (one netlink request at a time).
  private dirty = false;
  private readonly toEnsure = new Set<string>();
  private readonly toRelease = new Map<string, { ifindex: number; ip: string }>();
  private readonly loop = new WorkLoop({
    next: (fullPending) => this.nextStep(fullPending),
    fullPass: () => this.fullPass(),
    onError: (err) => this.opts.logger.error({ err }, 'external next hops: a resolution step failed; the next refresh retries'),
  });

  private constructor(
    private readonly opts: ExternalNexthopsOptions,
    private readonly nl: RtNetlink,
  ) {
    this.keeper = new NeighborKeeper(nl, opts.logger, opts.resolution ?? 'managed');
    this.unsubscribe = opts.events.subscribe((e) => this.onEvent(e));
    const refresh = opts.refreshIntervalMs ?? DEFAULT_REFRESH_MS;
    if (refresh > 0) this.timers.push(setInterval(() => this.loop.requestFull(), refresh).unref());
    const poll = opts.missPollMs ?? DEFAULT_MISS_POLL_MS;
    if (poll > 0) this.timers.push(setInterval(() => this.pollMisses(), poll).unref());
  }

  static start(opts: ExternalNexthopsOptions): ExternalNexthops {
    for (const [name, v] of [
      ['refreshIntervalMs', opts.refreshIntervalMs],
      ['missPollMs', opts.missPollMs],
      ['onLinkTtlMs', opts.onLinkTtlMs],
      ['maxOnLink', opts.maxOnLink],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new RangeError(`${name} must be an integer >= 0, got ${v}`);
    }
    return new ExternalNexthops(opts, RtNetlink.open());
  }

  /** `listener` is called with (ifindex, ip) after each write or delete of an xdpnet_ext_nexthops entry, synchronously. */
  onNexthopChanged(listener: (ifindex: number, ip: string) => void): void {
    this.changeListeners.push(listener);
  }

  private mapUpdate(key: Buffer, value: Buffer): void {
    this.opts.map.update(key, value);
    this.entryChanged(key);
  }

  private mapDelete(key: Buffer): void {
    this.opts.map.delete(key);
    this.entryChanged(key);
  }

  private entryChanged(key: Buffer): void {
    if (this.changeListeners.length === 0 || key.length !== extNexthopKey.size) return;
    const k = extNexthopKey.decode(key);
    for (const listener of this.changeListeners) listener(k.ifindex, k.ip);
  }

  // ------------------------------------------------------------------ inputs

  setRouter(routerId: string, side: RouterExternalSide | null): void {
    if (this.closed) return;
    if (side) {
      this.routers.set(routerId, side);
      this.nicMacs.set(side.ifindex, side.mac);
    } else {
      this.routers.delete(routerId);
    }
    this.changed();
  }

  setRouters(sides: ReadonlyMap<string, RouterExternalSide>): void {
    if (this.closed) return;
    this.routers.clear();
    for (const [id, side] of sides) {
      this.routers.set(id, side);
      this.nicMacs.set(side.ifindex, side.mac);
    }
    this.retained = true;
    this.changed();
  }

  routeUpserted(key: RouteKey, value: RouteValue): void {
    if (this.closed) return;
    const nexthop = value.kind === 'external' && value.gatewayIsLocal ? value.nexthop : null;
    const mine = this.routes.get(key.routerId);
    if (nexthop === null) {
      if (!mine?.delete(key.prefix)) return;
      if (mine.size === 0) this.routes.delete(key.routerId);
    } else {
      if (mine?.get(key.prefix) === nexthop) return;
      if (mine) mine.set(key.prefix, nexthop);
      else this.routes.set(key.routerId, new Map([[key.prefix, nexthop]]));
    }
    this.changed();
  }

  routeDeleted(key: RouteKey): void {
    this.routeUpserted(key, { kind: 'connected', vni: 0, subnetId: '' });
  }

  routesListed(entries: readonly { key: RouteKey; value: RouteValue }[]): void {
    if (this.closed) return;
    this.routes.clear();
    for (const { key, value } of entries) {
      if (value.kind !== 'external' || !value.gatewayIsLocal || value.nexthop === null) continue;
      const mine = this.routes.get(key.routerId) ?? new Map<string, string>();
      mine.set(key.prefix, value.nexthop);
      this.routes.set(key.routerId, mine);
    }
    this.changed();
  }

  /** Addresses the conntrack collector should report when it sees connections to them (on-link next hops), as numbers. */
  watchedRemotes(): ReadonlySet<number> {
    return new Set([...this.onLink.values()].map((o) => ipNumber(o.ip)));
  }

  /** Connections to these addresses exist: their on-link next hops are in use. */
  touch(remotes: Iterable<number>): void {
    const now = Date.now();
    const seen = new Set(remotes);
    for (const o of this.onLink.values()) if (seen.has(ipNumber(o.ip))) o.seenAt = now;
  }

  /** Redoes everything (neighbour reads, map comparison, sweep); resolves when that pass is over. */
  refresh(): Promise<void> {
    return this.loop.refresh();
  }

  /** Per next hop: resolved (MACs) or why not, sorted. */
  snapshot(): ExternalNexthopStatus[] {
    return [...this.targets.values()].map((t) => ({ ...t.status })).sort((a, b) => a.ifindex - b.ifindex || ipNumber(a.ip) - ipNumber(b.ip));
  }

  /** Stops following the kernel. The map and the neighbour entries stay as they are. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe();
    this.nl.close();
    this.loop.close();
  }

  // ------------------------------------------------------------------ what is wanted

  /** Every next hop wanted now, with why (for the snapshot). */
  private wanted(): Map<string, { ifindex: number; ip: string; why: string[] }> {
    const out = new Map<string, { ifindex: number; ip: string; why: string[] }>();
    const add = (ifindex: number, ip: string, why: string): void => {
      const k = keyOf(ifindex, ip);
      const w = out.get(k);
      if (w) w.why.push(why);
      else out.set(k, { ifindex, ip, why: [why] });
    };
    for (const [id, side] of this.routers) {
      if (side.gateway) add(side.ifindex, side.gateway, `router ${id}: external gateway`);
      for (const [prefix, nh] of this.routes.get(id) ?? []) add(side.ifindex, nh, `router ${id}: route ${prefix}`);
    }
    // Only while a router here has the address on-link (its external side may have gone).
    const sides = [...this.routers.values()];
    for (const o of this.onLink.values()) {
      if (sides.some((side) => side.ifindex === o.ifindex && onSubnet(side, o.ip))) add(o.ifindex, o.ip, 'on-link destination');
    }
    return out;
  }

  private changed(): void {
    this.dirty = true;
    this.loop.kick();
  }

  // ------------------------------------------------------------------ misses

  /** Reads xdpnet_ext_nh_miss, deleting what it reads; on-link destinations of a local router become next hops. */
  private pollMisses(): void {
    if (this.closed) return;
    let added = false;
    try {
      const misses = [...this.opts.missMap.entries()].map(([key, value]) => ({ key: Buffer.from(key), value: Buffer.from(value) }));
      for (const e of misses) {
        this.opts.missMap.delete(e.key);
        let miss;
        try {
          miss = decodeExtNexthopMiss(e);
        } catch {
          continue;
        }
        const k = keyOf(miss.ifindex, miss.ip);
        if (this.targets.has(k) || this.onLink.has(k)) continue;
        const local = [...this.routers.values()].some((side) => side.ifindex === miss.ifindex && onSubnet(side, miss.ip));
        if (!local) {
          this.opts.logger.debug({ ifindex: miss.ifindex, ip: miss.ip }, 'external next hop miss outside every local router\'s external subnet: ignored');
          continue;
        }
        if (this.onLink.size >= (this.opts.maxOnLink ?? DEFAULT_MAX_ONLINK)) {
          if (!this.onLinkFullWarned) this.opts.logger.warn({ max: this.opts.maxOnLink ?? DEFAULT_MAX_ONLINK }, 'too many on-link external next hops: new ones are not resolved');
          this.onLinkFullWarned = true;
          continue;
        }
        this.onLink.set(k, { ifindex: miss.ifindex, ip: miss.ip, seenAt: Date.now() });
        added = true;
      }
    } catch (err) {
      this.opts.logger.error({ err }, 'external next hops: cannot read xdpnet_ext_nh_miss');
    }
    if (added) this.changed();
  }

  // ------------------------------------------------------------------ events

  private onEvent(e: NetlinkEvent): void {
    if (this.closed) return;
    switch (e.type) {
      case 'neighbor': {
        const t = this.targets.get(keyOf(e.neighbor.ifindex, e.neighbor.ip));
        if (!t) return;
        t.entry = e.action === 'deleted' ? undefined : e.neighbor;
        t.version++;
        this.apply(t);
        const entry = t.entry;
        // Gone, or no longer ours: make the kernel resolve it again.
        if (!entry || (this.keeper.mode === 'managed' && !entry.managed && !entry.state.includes('permanent') && !entry.state.includes('noarp'))) {
          this.toEnsure.add(keyOf(t.ifindex, t.ip));
          this.loop.kick();
        }
        return;
      }
      case 'link': {
        const index = e.link.index;
        if (!this.nicMacs.has(index)) return;
        if (e.action === 'removed') this.nicMacs.delete(index);
        else if (e.link.mac) this.nicMacs.set(index, e.link.mac);
        for (const t of this.targets.values()) if (t.ifindex === index) this.apply(t);
        return;
      }
      case 'resync':
        this.loop.requestFull();
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------------ the work loop

  /** The next step of the loop (work-loop.ts): tracking what is wanted comes before a full pass. */
  private nextStep(fullPending: boolean): WorkStep {
    if (this.dirty) {
      return () => {
        this.dirty = false;
        return this.track();
      };
    }
    if (fullPending) return 'full';
    if (this.toEnsure.size > 0) {
      return async () => {
        const keys = [...this.toEnsure];
        this.toEnsure.clear();
        for (const k of keys) await this.ensure(k);
      };
    }
    if (this.toRelease.size > 0) {
      return async () => {
        const gone = [...this.toRelease.values()];
        this.toRelease.clear();
        for (const n of gone) await this.release(n.ifindex, n.ip);
      };
    }
    return undefined;
  }

  /** Starts tracking what is wanted and not tracked, stops tracking the rest. */
  private async track(): Promise<void> {
    const wanted = this.wanted();
    for (const [k, t] of [...this.targets]) {
      if (wanted.has(k)) continue;
      this.targets.delete(k);
      this.deleteEntry(t.ifindex, t.ip);
      this.toRelease.set(k, { ifindex: t.ifindex, ip: t.ip });
    }
    const fresh: Target[] = [];
    for (const [k, w] of wanted) {
      const t = this.targets.get(k);
      if (t) {
        t.status.why = w.why;
        continue;
      }
      const target: Target = {
        ifindex: w.ifindex,
        ip: w.ip,
        entry: undefined,
        version: 0,
        fresh: true,
        status: { ifindex: w.ifindex, ip: w.ip, why: w.why, state: 'unresolved', reason: 'not resolved yet' },
      };
      this.targets.set(k, target);
      this.toRelease.delete(k);
      fresh.push(target);
    }
    for (const t of fresh) {
      if (this.targets.get(keyOf(t.ifindex, t.ip)) !== t || this.closed) continue;
      const version = t.version;
      try {
        const entry = await this.nl.neighborEntry(t.ifindex, t.ip);
        if (t.version === version) t.entry = entry;
      } catch (err) {
        this.warn(err, `external next hops: cannot read the neighbour ${t.ip}`);
      }
      t.fresh = false;
      this.apply(t);
      await this.ensure(keyOf(t.ifindex, t.ip));
    }
  }

  /** Everything again: on-link expiry, neighbours re-read and kicked, the map repaired, orphans swept. */
  private async fullPass(): Promise<void> {
    const now = Date.now();
    const ttl = this.opts.onLinkTtlMs ?? DEFAULT_ONLINK_TTL_MS;
    for (const [k, o] of [...this.onLink]) if (now - o.seenAt > ttl) this.onLink.delete(k);
    await this.track();
    const nics = new Set([...this.targets.values()].map((t) => t.ifindex));
    if (this.retained) for (const side of this.routers.values()) nics.add(side.ifindex);
    for (const ifindex of nics) {
      let entries: NeighborEntry[];
      try {
        entries = await this.nl.neighborEntries(ifindex);
      } catch (err) {
        this.warn(err, `external next hops: cannot list the neighbours of ifindex ${ifindex}`);
        continue;
      }
      const byKey = new Map(entries.map((e) => [keyOf(e.ifindex, e.ip), e]));
      for (const [k, t] of this.targets) {
        if (t.ifindex !== ifindex) continue;
        t.entry = byKey.get(k);
        try {
          await this.keeper.kick(t.ifindex, t.ip, t.entry);
        } catch (err) {
          this.warn(err, `external next hops: cannot make the kernel resolve ${t.ip}`);
        }
      }
      if (this.retained) {
        const keep = new Set([...this.targets.values()].filter((t) => t.ifindex === ifindex).map((t) => t.ip));
        for (const e of entries) {
          if (e.protocol === XDPNET_NEIGH_PROTOCOL && !keep.has(e.ip) && !e.state.includes('permanent') && !e.state.includes('noarp')) {
            await this.release(e.ifindex, e.ip);
          }
        }
      }
    }
    for (const t of this.targets.values()) this.apply(t);
    if (this.retained) {
      // Entries of nothing we track (left by a previous run, or by hand): removed.
      for (const [key, value] of [...this.opts.map.entries()]) {
        let k;
        try {
          k = decodeExtNexthop({ key: Buffer.from(key), value: Buffer.from(value) }).key;
        } catch {
          this.mapDelete(Buffer.from(key));
          continue;
        }
        if (!this.targets.has(keyOf(k.ifindex, k.ip))) this.mapDelete(Buffer.from(key));
      }
    }
  }

  private async ensure(k: string): Promise<void> {
    const t = this.targets.get(k);
    if (!t || this.closed) return;
    try {
      await this.keeper.ensure(t.ifindex, t.ip, t.entry);
    } catch (err) {
      this.warn(err, `external next hops: cannot make the kernel resolve ${t.ip}`);
    }
  }

  private async release(ifindex: number, ip: string): Promise<void> {
    if (this.targets.has(keyOf(ifindex, ip)) || this.closed) return; // wanted again meanwhile
    try {
      await this.keeper.release(ifindex, ip);
    } catch (err) {
      if (!(err instanceof NetlinkError && err.code === 'ENODEV')) this.warn(err, `external next hops: cannot delete the neighbour ${ip}`);
    }
  }

  // ------------------------------------------------------------------ the map

  /** Derives a next hop's value from what is known now and writes or deletes its entry if that differs. */
  private apply(t: Target): void {
    if (this.closed || t.fresh) return;
    const srcMac = this.nicMacs.get(t.ifindex);
    const e = t.entry;
    let reason: string | undefined;
    if (!srcMac) reason = `the external NIC (ifindex ${t.ifindex}) is gone or has no MAC`;
    else if (!e) reason = `the neighbour ${t.ip} is not resolved yet`;
    else if (!e.valid || e.mac === undefined) reason = `the neighbour ${t.ip} is ${e.state.length > 0 ? e.state.join(',') : 'none'}`;
    if (reason !== undefined || !srcMac || !e?.mac) {
      this.deleteEntry(t.ifindex, t.ip);
      const was = t.status;
      t.status = { ifindex: t.ifindex, ip: t.ip, why: was.why, state: 'unresolved', reason: reason ?? 'unresolved' };
      if (was.state === 'resolved') this.opts.logger.warn({ ifindex: t.ifindex, ip: t.ip, reason }, 'external next hop unresolved: packets to it are dropped');
      return;
    }
    const w = encodeExtNexthop({ ifindex: t.ifindex, ip: t.ip }, { dstMac: e.mac, srcMac });
    try {
      const current = this.opts.map.lookup(w.key);
      if (!current?.equals(w.value)) this.mapUpdate(w.key, w.value);
    } catch (err) {
      this.opts.logger.error({ err, ip: t.ip }, 'external next hops: cannot write xdpnet_ext_nexthops');
      return;
    }
    const was = t.status;
    t.status = { ifindex: t.ifindex, ip: t.ip, why: was.why, state: 'resolved', dstMac: e.mac, srcMac, neighborState: e.state };
    if (was.state !== 'resolved' || was.dstMac !== e.mac || was.srcMac !== srcMac) {
      this.opts.logger.info({ ifindex: t.ifindex, ip: t.ip, dstMac: e.mac }, 'external next hop resolved');
    }
  }

  private deleteEntry(ifindex: number, ip: string): void {
    if (!isIPv4(ip)) return;
    try {
      const key = extNexthopMapKey({ ifindex, ip });
      if (this.opts.map.lookup(key)) this.mapDelete(key);
    } catch (err) {
      this.opts.logger.error({ err, ip }, 'external next hops: cannot delete from xdpnet_ext_nexthops');
    }
  }

  private warn(err: unknown, msg: string): void {
    if (this.closed) return;
    this.opts.logger.warn({ err }, msg);
  }
}
