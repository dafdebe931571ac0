// Underlay next hops of the remote VTEPs: resolved from the kernel's routes
// and neighbours, written to xdpnet_nexthops, and kept current.
//
//   const nh = await UnderlayNexthops.start({ map, underlayInterface: 'eth0', logger, events });
//   nh.want(['192.0.2.7', '198.51.100.9']);    // resolution starts at once, in the background
//   nh.retainOnly(new Set(['192.0.2.7']));     // everything else leaves the map
//   nh.snapshot();                             // per VTEP: resolved (MACs, gateway) or why not
//   nh.close();
//
// For each wanted VTEP (the decisions are in nexthop-resolve.ts):
//   1. the kernel's route to it (`ip route get`) must leave through the
//      underlay interface; its gateway, or the VTEP itself, is the next hop;
//   2. the kernel is made to resolve the next hop and keep it resolved
//      (a managed neighbour; nexthop-neighbors.ts);
//   3. while the neighbour entry is valid, the map holds
//      { dst_mac: its MAC, src_mac: the underlay's MAC, ifindex: the underlay's };
//      otherwise the VTEP has no entry and the program drops with a counted reason.
//
// What keeps it current: neighbour events re-derive the values of the VTEPs
// behind that neighbour (no lookups); route and address events, and any
// change of the underlay link, redo the route lookups; another link going
// down or away redoes the lookups of the VTEPs routed through it (the kernel
// drops its routes without a route event); a resync event or the periodic
// refresh redoes everything and also repairs the map against what it should
// hold. Map entries are written only when they differ from the map's
// (nexthop-map.ts).
//
// Ownership: `retainOnly` is the authoritative list. From its first call on,
// map entries for any other VTEP (for instance left by a previous run) are
// deleted, and so are neighbour entries this module made (NDA_PROTOCOL
// XDPNET_NEIGH_PROTOCOL) that no wanted VTEP uses. Before it, only what this
// run stopped using is deleted. `close()` leaves the map and the neighbours
// as they are: the dataplane keeps working while the daemon is away.

import { isIPv4 } from 'node:net';
import type { VtepNexthop } from './layouts.js';
import type { BpfMap, TypedMap } from './maps.js';
import { type NetlinkEvent, NetlinkEvents, type NetlinkLogger } from './netlink-events.js';
import type { NeighborEntry } from './netlink-neighbor.js';
import { NexthopMap } from './nexthop-map.js';
import { NeighborKeeper, type ResolutionMode } from './nexthop-neighbors.js';
import { type RouteDecision, type UnderlayLink, decideRoute, decideValue, routeError } from './nexthop-resolve.js';
import { NetlinkError, RtNetlink } from './rtnetlink.js';
import { WorkLoop, type WorkStep } from './work-loop.js';

export interface UnderlayNexthopsOptions {
  /** The pinned xdpnet_nexthops map (raw or typed). Not closed by `close()`. */
  map: BpfMap | TypedMap<string, VtepNexthop>;
  /** Name of the underlay interface; it may appear, vanish or be recreated later. */
  underlayInterface: string;
  logger: NetlinkLogger;
  /** A subscription to share (all four groups); else one is opened here, and closed by `close()`. */
  events?: NetlinkEvents;
  /** Period of the full refresh (safety net for lost events and drift). Default 30 s; 0 turns it off. */
  refreshIntervalMs?: number;
  /** How the kernel is made to keep next hops resolved (nexthop-neighbors.ts). Default 'managed'. */
  resolution?: ResolutionMode;
}

export type NexthopStatus =
  | {
      vtep: string;
      state: 'resolved';
      dstMac: string;
      srcMac: string;
      ifindex: number;
      /** The route's gateway; null when the VTEP is on-link (its own MAC is used). */
      gateway: string | null;
      /** NUD state of the next hop's neighbour entry, e.g. ['reachable'] or ['stale']. */
      neighborState: string[];
    }
  | {
      vtep: string;
      state: 'unresolved';
      reason: string;
      /** The gateway, when the route is known to be good. */
      gateway?: string | null;
    };

export interface NexthopSnapshot {
  underlay: { name: string; ifindex: number | null; mac: string | null };
  resolution: ResolutionMode;
  /** Sorted by VTEP address. */
  vteps: NexthopStatus[];
  /** Map updates and deletes made since start: entries are only written when they change. */
  mapWrites: number;
  mapDeletes: number;
}

const DEFAULT_REFRESH_MS = 30_000;
/** Route lookups in flight at once during a pass. */
const LOOKUP_CONCURRENCY = 16;

interface VtepState {
  ip: string;
  /** The last route decision; undefined until the first lookup. */
  route: RouteDecision | undefined;
  /** The interface that route leaves through, underlay or not. */
  routeIfindex: number | undefined;
  /** Key (ifindex/ip) of the neighbour the VTEP resolves through. */
  neighborKey: string | undefined;
  status: NexthopStatus;
}

interface TrackedNeighbor {
  ifindex: number;
  ip: string;
  entry: NeighborEntry | undefined;
  /** VTEPs resolving through it. */
  users: Set<string>;
  /** Bumped by every event; a read that started before an event must not overwrite it. */
  version: number;
  /** Not read since it started being tracked. */
  fresh: boolean;
}

const neighborKey = (ifindex: number, ip: string): string => `${ifindex}/${ip}`;

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class UnderlayNexthops {
  private readonly vteps = new Map<string, VtepState>();
  private readonly neighbors = new Map<string, TrackedNeighbor>();
  private underlay: UnderlayLink | undefined;
  private readonly keeper: NeighborKeeper;
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  // Pending work, drained by one loop (`run`) at a time.
  private readonly routesDirty = new Set<string>();
  private allRoutesDirty = false;
  private readonly toEnsure = new Set<string>();
  private readonly toRelease = new Map<string, { ifindex: number; ip: string }>();
  private sweepWanted = false;
  /** `retainOnly` has been called: the wanted set is authoritative. */
  private retained = false;
  private readonly loop = new WorkLoop({
    next: (fullPending) => this.nextStep(fullPending),
    fullPass: () => this.fullPass(),
    onError: (err) => this.log.error({ err }, 'underlay next hops: a resolution step failed; the next refresh retries'),
  });

  private constructor(
    private readonly map: NexthopMap,
    private readonly underlayName: string,
    private readonly log: NetlinkLogger,
    private readonly nl: RtNetlink,
    private readonly events: NetlinkEvents,
    private readonly ownEvents: boolean,
    resolution: ResolutionMode,
    refreshIntervalMs: number,
  ) {
    this.keeper = new NeighborKeeper(nl, log, resolution);
    this.unsubscribe = events.subscribe((e) => this.onEvent(e));
    if (refreshIntervalMs > 0) {
      // A safety net only: it never keeps the process alive by itself.
      this.timer = setInterval(() => this.loop.requestFull(), refreshIntervalMs).unref();
    }
  }

  static async start(opts: UnderlayNexthopsOptions): Promise<UnderlayNexthops> {
    const map = new NexthopMap(opts.map);
    const refresh = opts.refreshIntervalMs ?? DEFAULT_REFRESH_MS;
    if (!Number.isInteger(refresh) || refresh < 0) throw new RangeError(`refreshIntervalMs must be an integer >= 0, got ${refresh}`);
    const resolution = opts.resolution ?? 'managed';
    if (resolution !== 'managed' && resolution !== 'use') throw new RangeError(`unknown resolution mode ${String(resolution)}`);
    const nl = RtNetlink.open();
    let events = opts.events;
    try {
      events ??= await NetlinkEvents.open({ groups: ['link', 'neighbor', 'route', 'address'], logger: opts.logger });
      const underlay = toUnderlay(await nl.linkByName(opts.underlayInterface));
      if (!underlay) opts.logger.warn({ underlay: opts.underlayInterface }, 'underlay next hops: the underlay interface does not exist (yet)');
      const nh = new UnderlayNexthops(map, opts.underlayInterface, opts.logger, nl, events, !opts.events, resolution, refresh);
      nh.underlay = underlay;
      return nh;
    } catch (err) {
      if (!opts.events) events?.close();
      nl.close();
      throw err;
    }
  }

  /** Calls `listener` with the VTEP right after each write or delete of its xdpnet_nexthops entry; returns the unsubscribe function. */
  onChange(listener: (vtep: string) => void): () => void {
    return this.map.onChange(listener);
  }

  /** Adds VTEPs to resolve; resolution starts at once, in the background. A string that is not an IPv4 address throws (and nothing is added). */
  want(vteps: readonly string[]): void {
    for (const ip of vteps) if (typeof ip !== 'string' || !isIPv4(ip)) throw new TypeError(`${JSON.stringify(ip)} is not an IPv4 address`);
    if (this.closed) return;
    for (const ip of vteps) {
      if (this.vteps.has(ip)) continue;
      this.vteps.set(ip, {
        ip,
        route: undefined,
        routeIfindex: undefined,
        neighborKey: undefined,
        status: { vtep: ip, state: 'unresolved', reason: 'not resolved yet' },
      });
      this.routesDirty.add(ip);
    }
    this.loop.kick();
  }

  /**
   * Forgets every VTEP not in `vteps` and deletes their map entries at once;
   * also deletes map entries of VTEPs this run never wanted, and (in the
   * background) neighbour entries we made that are no longer needed.
   */
  retainOnly(vteps: ReadonlySet<string>): void {
    if (this.closed) return;
    for (const v of [...this.vteps.values()]) if (!vteps.has(v.ip)) this.forget(v);
    this.map.retainOnly(vteps);
    this.retained = true;
    this.sweepWanted = true;
    this.loop.kick();
  }

  /** Redoes everything (route lookups, neighbour reads, map comparison); resolves when that pass is over. */
  refresh(): Promise<void> {
    return this.loop.refresh();
  }

  snapshot(): NexthopSnapshot {
    const vteps = [...this.vteps.values()]
      .map((v) => ({ ...v.status }))
      .sort((a, b) => ipv4Number(a.vtep) - ipv4Number(b.vtep));
    return {
      underlay: { name: this.underlayName, ifindex: this.underlay?.index ?? null, mac: this.underlay?.mac ?? null },
      resolution: this.keeper.mode,
      vteps,
      mapWrites: this.map.writes,
      mapDeletes: this.map.deletes,
    };
  }

  /** Stops following the kernel. The map and the neighbour entries stay as they are. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribe();
    if (this.ownEvents) this.events.close();
    this.nl.close();
    this.loop.close();
  }

  // --- events -----------------------------------------------------------------------

  private onEvent(e: NetlinkEvent): void {
    if (this.closed) return;
    switch (e.type) {
      case 'neighbor':
        this.onNeighbor(e.action === 'deleted' ? undefined : e.neighbor, neighborKey(e.neighbor.ifindex, e.neighbor.ip));
        return;
      case 'route':
        // Any route may change any VTEP's answer (policy rules, more specific prefixes): ask again.
        this.allRoutesDirty = true;
        this.loop.kick();
        return;
      case 'link':
        this.onLink(e);
        return;
      case 'address':
        // Connected routes come and go with addresses, not always with a route event of their own.
        this.allRoutesDirty = true;
        this.loop.kick();
        return;
      case 'resync':
        this.loop.requestFull();
        return;
    }
  }

  private onNeighbor(entry: NeighborEntry | undefined, key: string): void {
    const n = this.neighbors.get(key);
    if (!n) return;
    n.entry = entry;
    n.version++;
    for (const ip of n.users) {
      const v = this.vteps.get(ip);
      if (v) this.apply(v);
    }
    // Gone (flushed, or garbage-collected in 'use' mode), or no longer ours: make the kernel resolve it again.
    if (!entry || (this.keeper.mode === 'managed' && !entry.managed && !entry.state.includes('permanent') && !entry.state.includes('noarp'))) {
      this.toEnsure.add(key);
      this.loop.kick();
    }
  }

  private onLink(e: Extract<NetlinkEvent, { type: 'link' }>): void {
    const isUnderlay = e.link.name === this.underlayName && e.action !== 'removed';
    const wasUnderlay = this.underlay !== undefined && e.link.index === this.underlay.index;
    if (isUnderlay || wasUnderlay) {
      // A new ifindex or MAC changes every value; up/down changes routes.
      this.underlay = isUnderlay ? toUnderlay(e.link) : undefined;
      this.allRoutesDirty = true;
      this.loop.kick();
      return;
    }
    // The kernel drops the routes of a link that goes down or away without a
    // route event for each: the VTEPs routed through it (out of the underlay,
    // so unresolved) may now have a route through the underlay. Links that
    // appear or come up bring routes with route events of their own.
    const lost = e.action === 'removed' || (e.action === 'changed' && e.previous.up && !e.link.up);
    if (!lost) return;
    for (const v of this.vteps.values()) if (v.routeIfindex === e.link.index) this.routesDirty.add(v.ip);
    this.loop.kick();
  }

  // --- the work loop ---------------------------------------------------------------

  /** The next step of the loop (work-loop.ts), in order of priority; pure until the step runs. */
  private nextStep(fullPending: boolean): WorkStep {
    if (fullPending) return 'full';
    if (this.allRoutesDirty || this.routesDirty.size > 0) {
      return () => {
        const ips = this.allRoutesDirty ? [...this.vteps.keys()] : [...this.routesDirty];
        this.allRoutesDirty = false;
        this.routesDirty.clear();
        return this.routePass(ips);
      };
    }
    if (this.toEnsure.size > 0) {
      return async () => {
        const keys = [...this.toEnsure];
        this.toEnsure.clear();
        for (const key of keys) await this.ensure(key);
      };
    }
    if (this.toRelease.size > 0) {
      return async () => {
        const gone = [...this.toRelease.values()];
        this.toRelease.clear();
        for (const n of gone) await this.release(n.ifindex, n.ip);
      };
    }
    if (this.sweepWanted) {
      return () => {
        this.sweepWanted = false;
        return this.sweep();
      };
    }
    return undefined;
  }

  /** Route lookups for `ips`, then whatever the answers require: new neighbours read and ensured, values applied. */
  private async routePass(ips: readonly string[]): Promise<void> {
    if (!this.underlay) this.underlay = toUnderlay(await this.nl.linkByName(this.underlayName));
    await forEachLimit(ips, LOOKUP_CONCURRENCY, (ip) => this.lookupRoute(ip));
    await this.readFreshNeighbors();
    for (const ip of ips) {
      const v = this.vteps.get(ip);
      if (v) this.apply(v);
    }
  }

  /** Everything again, and the map checked entry by entry. */
  private async fullPass(): Promise<void> {
    this.underlay = toUnderlay(await this.nl.linkByName(this.underlayName));
    this.allRoutesDirty = false;
    this.routesDirty.clear();
    await forEachLimit([...this.vteps.keys()], LOOKUP_CONCURRENCY, (ip) => this.lookupRoute(ip));
    if (this.underlay) {
      const versions = new Map([...this.neighbors].map(([k, n]) => [k, n.version]));
      const entries = await this.nl.neighborEntries(this.underlay.index);
      const byKey = new Map(entries.map((e) => [neighborKey(e.ifindex, e.ip), e]));
      for (const [key, n] of this.neighbors) {
        if (versions.get(key) !== n.version) continue; // an event said something newer meanwhile
        n.entry = byKey.get(key);
        n.fresh = false;
      }
      for (const [key, n] of [...this.neighbors]) {
        try {
          await this.keeper.kick(n.ifindex, n.ip, n.entry);
        } catch (err) {
          this.warn(err, `underlay next hops: cannot make the kernel resolve ${n.ip}`);
        }
        this.toEnsure.delete(key);
      }
    }
    for (const v of this.vteps.values()) this.apply(v);
    if (this.retained) {
      this.map.retainOnly(new Set(this.vteps.keys()));
      await this.sweep();
    }
  }

  private async lookupRoute(ip: string): Promise<void> {
    const v = this.vteps.get(ip);
    if (!v) return;
    let decision: RouteDecision;
    let routeIfindex: number | undefined;
    try {
      const route = await this.nl.routeTo(ip);
      routeIfindex = route.ifindex;
      let otherName: string | undefined;
      if (route.ifindex !== undefined && route.ifindex !== this.underlay?.index)
        otherName = (await this.nl.linkByIndex(route.ifindex).catch(() => undefined))?.name;
      decision = decideRoute(ip, route, this.underlay, () => otherName);
    } catch (err) {
      if (!(err instanceof NetlinkError)) throw err;
      if (this.closed) return;
      decision = routeError(err.code);
    }
    if (this.vteps.get(ip) !== v || this.closed) return; // forgotten meanwhile
    v.route = decision;
    v.routeIfindex = routeIfindex;
    this.attach(v, decision.ok && this.underlay ? { ifindex: this.underlay.index, ip: decision.neighbor } : undefined);
  }

  /** Moves a VTEP to the neighbour it now resolves through (or none). */
  private attach(v: VtepState, target: { ifindex: number; ip: string } | undefined): void {
    const key = target && neighborKey(target.ifindex, target.ip);
    if (v.neighborKey === key) return;
    this.detach(v);
    if (!target || key === undefined) return;
    v.neighborKey = key;
    let n = this.neighbors.get(key);
    if (!n) {
      n = { ...target, entry: undefined, users: new Set(), version: 0, fresh: true };
      this.neighbors.set(key, n);
      this.toRelease.delete(key);
    }
    n.users.add(v.ip);
  }

  private detach(v: VtepState): void {
    if (v.neighborKey === undefined) return;
    const n = this.neighbors.get(v.neighborKey);
    v.neighborKey = undefined;
    if (!n) return;
    n.users.delete(v.ip);
    if (n.users.size === 0) {
      this.neighbors.delete(neighborKey(n.ifindex, n.ip));
      this.toRelease.set(neighborKey(n.ifindex, n.ip), { ifindex: n.ifindex, ip: n.ip });
    }
  }

  /** Reads and ensures the neighbours that started being tracked since the last look. */
  private async readFreshNeighbors(): Promise<void> {
    for (const [key, n] of [...this.neighbors]) {
      if (!n.fresh) continue;
      n.fresh = false;
      const version = n.version;
      try {
        const entry = await this.nl.neighborEntry(n.ifindex, n.ip);
        if (n.version === version) n.entry = entry;
      } catch (err) {
        this.warn(err, `underlay next hops: cannot read the neighbour ${n.ip}`);
      }
      await this.ensure(key);
    }
  }

  private async ensure(key: string): Promise<void> {
    const n = this.neighbors.get(key);
    if (!n || this.closed) return;
    try {
      await this.keeper.ensure(n.ifindex, n.ip, n.entry);
    } catch (err) {
      this.warn(err, `underlay next hops: cannot make the kernel resolve ${n.ip}`);
    }
  }

  private async release(ifindex: number, ip: string): Promise<void> {
    if (this.neighbors.has(neighborKey(ifindex, ip)) || this.closed) return; // wanted again meanwhile
    try {
      await this.keeper.release(ifindex, ip);
    } catch (err) {
      this.warn(err, `underlay next hops: cannot delete the neighbour ${ip}`);
    }
  }

  /** Deletes neighbour entries we made that no tracked VTEP uses (e.g. left by a previous run). */
  private async sweep(): Promise<void> {
    if (!this.underlay || this.closed) return;
    const index = this.underlay.index;
    const keep = new Set([...this.neighbors.values()].filter((n) => n.ifindex === index).map((n) => n.ip));
    try {
      for (const orphan of await this.keeper.orphans(index, keep)) await this.release(orphan.ifindex, orphan.ip);
    } catch (err) {
      this.warn(err, 'underlay next hops: cannot list the underlay neighbours');
    }
  }

  // --- the map ----------------------------------------------------------------------

  /** Derives a VTEP's value from what is known now and writes or deletes its entry if that differs. */
  private apply(v: VtepState): void {
    if (this.closed) return;
    const route = v.route;
    if (!route) return; // not looked up yet
    if (!route.ok) {
      this.setUnresolved(v, route.reason, route.warn);
      return;
    }
    const n = v.neighborKey === undefined ? undefined : this.neighbors.get(v.neighborKey);
    if (!this.underlay || !n) {
      this.setUnresolved(v, 'the underlay interface does not exist', true);
      return;
    }
    const d = decideValue(this.underlay, route, n.entry);
    if (!d.ok) {
      this.setUnresolved(v, d.reason, n.entry?.state.includes('failed') === true, route.gateway);
      return;
    }
    try {
      this.map.set(v.ip, d.value);
    } catch (err) {
      // E2BIG (the map is full) or the like: say so per VTEP; the next pass tries again.
      this.log.error({ err, vtep: v.ip }, 'underlay next hops: cannot write xdpnet_nexthops');
      this.setUnresolved(v, `cannot write the map entry (${(err as { code?: string }).code ?? String(err)})`, false);
      return;
    }
    const was = v.status;
    v.status = {
      vtep: v.ip,
      state: 'resolved',
      dstMac: d.value.dst_mac,
      srcMac: d.value.src_mac,
      ifindex: d.value.ifindex,
      gateway: route.gateway,
      neighborState: n.entry?.state ?? [],
    };
    if (was.state !== 'resolved' || was.dstMac !== d.value.dst_mac || was.srcMac !== d.value.src_mac || was.ifindex !== d.value.ifindex)
      this.log.info({ vtep: v.ip, dstMac: d.value.dst_mac, gateway: route.gateway, ifindex: d.value.ifindex }, 'underlay next hop resolved');
  }

  private setUnresolved(v: VtepState, reason: string, warn: boolean, gateway?: string | null): void {
    try {
      this.map.delete(v.ip);
    } catch (err) {
      this.log.error({ err, vtep: v.ip }, 'underlay next hops: cannot delete from xdpnet_nexthops');
    }
    const was = v.status;
    v.status = { vtep: v.ip, state: 'unresolved', reason, ...(gateway !== undefined ? { gateway } : {}) };
    if (was.state === 'unresolved' && was.reason === reason) return;
    // Waiting for ARP is routine; a VTEP that lost its next hop, or cannot have one, is worth a warning.
    if (warn || was.state === 'resolved') {
      this.log.warn({ vtep: v.ip, reason }, 'underlay next hop unresolved: the VTEP is not encapsulated to');
    } else {
      this.log.debug({ vtep: v.ip, reason }, 'underlay next hop not resolved yet');
    }
  }

  private forget(v: VtepState): void {
    this.vteps.delete(v.ip);
    this.routesDirty.delete(v.ip);
    this.detach(v);
    this.map.delete(v.ip);
  }

  private warn(err: unknown, msg: string): void {
    if (this.closed) return;
    this.log.warn({ err }, msg);
  }
}

function toUnderlay(link: { name: string; index: number; mac: string | undefined } | undefined): UnderlayLink | undefined {
  return link && { name: link.name, index: link.index, mac: link.mac };
}

function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}
