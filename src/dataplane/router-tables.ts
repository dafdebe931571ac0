// The routing tables (routers, routerInterfaces, routes) over the node's
// pinned maps: the BPF dataplane's side of the reconciler's Dataplane
// contract for distributed routing. What bytes go where is router-encode.ts's;
// this file decides when they are written and which map key a table key
// names.
//
// - routers and routes: one map update per upsert, one map delete per delete;
//   the table key gives the map key.
// - routerInterfaces: the table key is (router, subnet), the map key
//   (router, VNI). Which VNIs hold a (router, subnet) is kept in an index,
//   rebuilt by each list('routerInterfaces') (which reads the map anyway) and
//   kept up to date by our own writes; a key is deleted only after a lookup
//   shows it still holds that subnet, so a stale index never removes another
//   subnet's interface. An interface whose network's VNI changed loses its
//   old key when it is upserted with the new one; a (router, VNI) key that
//   holds another subnet is a RouterInterfaceConflictError (the model allows
//   one interface per network per router, so it is a stale entry whose delete
//   has not happened yet, and the reconciler's retry finds it gone).
// - list() reports what the maps hold, decoded exactly as render shapes it.
//   An entry that decodes to no table entry, and a (router, subnet) found
//   under more than one VNI, are removed there and not reported: nothing else
//   could remove them, and what is wanted is then upserted afresh.
// - A map with no room for a new key: RESOURCE_EXHAUSTED.
//
// A router's entry is copied into its MACs' fdb entries (fdb-copies.ts):
// after every write or delete of an xdpnet_routers entry, the listeners
// given to onRouterChanged() are told its router id (tables.ts gives
// OverlayTables' routerChanged), synchronously.
//
// External routes are written like any other. Off the router's gateway node
// what they match is tunnelled to the gateway node, which needs the underlay
// next hop of its VTEP (else DROP_NO_UNDERLAY_NEXTHOP): the gateway VTEPs of
// non-local external routes go to an optional NexthopSink (vtep-demand.ts
// shares the one UnderlayNexthops with the flood lists), wanted on every
// upsert and, after list('routes'), wanted and retained as the routes listed
// name them.

import { DataplaneError, type DataplaneEntry } from '../reconciler/dataplane.js';
import { type RouteValue, type RouterInterfaceKey, type TableKey, type TableName, type TableValue, keyString } from '../reconciler/tables.js';
import type { HookLogger } from './hook-links.js';
import { routerIface, routerKey } from './layouts.js';
import { BpfError } from './native.js';
import type { RawEntry } from './overlay-encode.js';
import type { NexthopSink } from './overlay-tables.js';
import type { MapHandle, PinnedMaps } from './pinned-maps.js';
import {
  RouterCodecError,
  type RouterMapName,
  type RouterMapWrite,
  decodeRoute,
  decodeRouter,
  decodeRouterInterface,
  encodeRoute,
  encodeRouter,
  encodeRouterInterface,
  routeMapKey,
  routerInterfaceMapKey,
  routerInterfaceMapKeyIn,
  routerMapKey,
} from './router-encode.js';

/** What the tables work on: the NodeDataplane has it. */
export interface RouterParts {
  maps: PinnedMaps;
  logger: HookLogger;
}

export const ROUTER_TABLES = ['routers', 'routerInterfaces', 'routes'] as const;
export type RouterTable = (typeof ROUTER_TABLES)[number];

const ROUTER_MAPS: readonly RouterMapName[] = ['xdpnet_routers', 'xdpnet_router_ifaces', 'xdpnet_routes'];

/** A (router, VNI) map key that holds another subnet's interface: the model allows one interface per network per router. */
export class RouterInterfaceConflictError extends DataplaneError {
  override name = 'RouterInterfaceConflictError';

  constructor(
    readonly key: RouterInterfaceKey,
    readonly vni: number,
    readonly holder: string,
  ) {
    super(
      'INTERNAL',
      `router ${key.routerId} already has an interface on VNI ${vni}, for subnet ${holder}; ` +
        `subnet ${key.subnetId} cannot have one there too (one interface per network per router)`,
    );
  }
}

const ifaceKs = (key: RouterInterfaceKey): string => keyString('routerInterfaces', key);

/** The subnet a xdpnet_router_ifaces value is for, or undefined if it is no such value. */
function subnetOf(value: Buffer): string | undefined {
  return value.length === routerIface.size ? routerIface.decode(value).subnet_id : undefined;
}

export class RouterTables {
  private readonly map: Record<RouterMapName, MapHandle>;
  /**
   * The VNIs whose xdpnet_router_ifaces key holds each (router, subnet), by
   * its key string: rebuilt whole by list('routerInterfaces'), built from the
   * map on first use otherwise, and kept up to date by our own writes.
   */
  private ifaceVnis: Map<string, Set<number>> | undefined;
  /** Told the router id after each write or delete of its xdpnet_routers entry. */
  private readonly routerListeners: ((routerId: string) => void)[] = [];

  constructor(
    private readonly parts: RouterParts,
    /** Where the gateway VTEPs of non-local external routes go (see the top of the file). */
    private readonly vteps?: NexthopSink,
  ) {
    this.map = Object.fromEntries(ROUTER_MAPS.map((n) => [n, parts.maps.require(n)])) as Record<RouterMapName, MapHandle>;
  }

  /** `listener` is called with the router id after each write or delete of a router's entry. */
  onRouterChanged(listener: (routerId: string) => void): void {
    this.routerListeners.push(listener);
  }

  private routerChanged(routerId: string): void {
    for (const listener of this.routerListeners) listener(routerId);
  }

  handles(table: TableName): table is RouterTable {
    return (ROUTER_TABLES as readonly string[]).includes(table);
  }

  async list<T extends RouterTable>(table: T): Promise<DataplaneEntry<T>[]> {
    switch (table) {
      case 'routers':
        return this.decodeAll('xdpnet_routers', decodeRouter) as DataplaneEntry<T>[];
      case 'routes': {
        const routes = this.decodeAll('xdpnet_routes', decodeRoute);
        // Wanted as well as retained: after a restart the routes are already there and nothing is upserted.
        const vteps = new Set(routes.map((e) => remoteGatewayOf(e.value)).filter((ip): ip is string => ip !== undefined));
        this.vteps?.want([...vteps]);
        this.vteps?.retainOnly(vteps);
        return routes as DataplaneEntry<T>[];
      }
      case 'routerInterfaces':
        return this.listInterfaces() as DataplaneEntry<T>[];
    }
    throw new DataplaneError('INTERNAL', `${table} is no routing table`);
  }

  async upsert<T extends RouterTable>(table: T, key: TableKey<T>, value: TableValue<T>): Promise<void> {
    switch (table) {
      case 'routers':
        this.write(encodeRouter(key as TableKey<'routers'>, value as TableValue<'routers'>));
        this.routerChanged((key as TableKey<'routers'>).routerId);
        return;
      case 'routes': {
        this.write(encodeRoute(key as TableKey<'routes'>, value as TableValue<'routes'>));
        const vtep = remoteGatewayOf(value as TableValue<'routes'>);
        if (vtep !== undefined) this.vteps?.want([vtep]);
        return;
      }
      case 'routerInterfaces':
        return this.upsertInterface(key as TableKey<'routerInterfaces'>, value as TableValue<'routerInterfaces'>);
    }
    throw new DataplaneError('INTERNAL', `${table} is no routing table`);
  }

  async delete<T extends RouterTable>(table: T, key: TableKey<T>): Promise<void> {
    switch (table) {
      case 'routers':
        this.map.xdpnet_routers.delete(routerMapKey(key as TableKey<'routers'>));
        this.routerChanged((key as TableKey<'routers'>).routerId);
        return;
      case 'routes':
        this.map.xdpnet_routes.delete(routeMapKey(key as TableKey<'routes'>));
        return;
      case 'routerInterfaces':
        return this.deleteInterface(key as TableKey<'routerInterfaces'>);
    }
    throw new DataplaneError('INTERNAL', `${table} is no routing table`);
  }

  // ------------------------------------------------------------------ router interfaces

  private upsertInterface(key: TableKey<'routerInterfaces'>, value: TableValue<'routerInterfaces'>): void {
    const w = encodeRouterInterface(key, value);
    const holder = this.map.xdpnet_router_ifaces.lookup(w.key);
    const holderSubnet = holder && subnetOf(holder);
    if (holderSubnet !== undefined && holderSubnet !== key.subnetId) throw new RouterInterfaceConflictError(key, value.vni, holderSubnet);
    // Its keys on other VNIs first (its network's VNI changed): the map then
    // never holds the interface twice, even if the write below fails. The
    // programs read these entries only to source ICMP errors, so a moment
    // without one costs nothing else.
    const vnis = this.vnisOf(key);
    for (const vni of [...vnis]) if (vni !== value.vni) this.removeInterfaceKey(key, vni, vnis);
    this.write(w);
    vnis.add(value.vni);
  }

  private deleteInterface(key: TableKey<'routerInterfaces'>): void {
    const vnis = this.vnisOf(key);
    if (vnis.size === 0) {
      // Not in the index: written by someone else since the map was read. Rare, so the map is searched.
      const found = routerInterfaceMapKeyIn(rawEntries(this.map.xdpnet_router_ifaces), key);
      if (found) this.map.xdpnet_router_ifaces.delete(found);
    }
    for (const vni of [...vnis]) this.removeInterfaceKey(key, vni, vnis);
    this.ifaceVnis?.delete(ifaceKs(key));
  }

  /** Deletes (router, vni) if it still holds `key`'s subnet, and forgets it. */
  private removeInterfaceKey(key: RouterInterfaceKey, vni: number, vnis: Set<number>): void {
    const mapKey = routerInterfaceMapKey(key.routerId, vni);
    const value = this.map.xdpnet_router_ifaces.lookup(mapKey);
    if (value && subnetOf(value) === key.subnetId) this.map.xdpnet_router_ifaces.delete(mapKey);
    vnis.delete(vni);
  }

  /** The index's VNIs of one (router, subnet): a live set (built from the map if no list() has yet). */
  private vnisOf(key: RouterInterfaceKey): Set<number> {
    if (!this.ifaceVnis) {
      this.ifaceVnis = new Map();
      for (const e of rawEntries(this.map.xdpnet_router_ifaces)) {
        try {
          this.remember(decodeRouterInterface(e));
        } catch (err) {
          if (!(err instanceof RouterCodecError)) throw err; // list() removes it
        }
      }
    }
    const ks = ifaceKs(key);
    let vnis = this.ifaceVnis.get(ks);
    if (!vnis) this.ifaceVnis.set(ks, (vnis = new Set()));
    return vnis;
  }

  private remember(entry: DataplaneEntry<'routerInterfaces'>): void {
    this.vnisOf(entry.key).add(entry.value.vni);
  }

  /** Every interface, each (router, subnet) once (see the top of the file); rebuilds the index. */
  private listInterfaces(): DataplaneEntry<'routerInterfaces'>[] {
    const byKs = new Map<string, DataplaneEntry<'routerInterfaces'>[]>();
    for (const e of this.decodeAll('xdpnet_router_ifaces', decodeRouterInterface)) {
      const ks = ifaceKs(e.key);
      const same = byKs.get(ks);
      if (same) same.push(e);
      else byKs.set(ks, [e]);
    }
    this.ifaceVnis = new Map();
    const listed: DataplaneEntry<'routerInterfaces'>[] = [];
    for (const entries of byKs.values()) {
      if (entries.length === 1) {
        this.remember(entries[0]!);
        listed.push(entries[0]!);
        continue;
      }
      const { routerId, subnetId } = entries[0]!.key;
      const vnis = entries.map((e) => e.value.vni);
      this.parts.logger.warn({ routerId, subnetId, vnis }, 'router interface on several networks: entries removed');
      for (const vni of vnis) this.map.xdpnet_router_ifaces.delete(routerInterfaceMapKey(routerId, vni));
    }
    return listed;
  }

  // ------------------------------------------------------------------ reads and writes

  /** Every entry of a map, decoded; an entry that is no table entry is removed (see the top of the file). */
  private decodeAll<E>(mapName: RouterMapName, decodeEntry: (e: RawEntry) => E): E[] {
    const map = this.map[mapName];
    const out: E[] = [];
    for (const e of rawEntries(map)) {
      try {
        out.push(decodeEntry(e));
      } catch (err) {
        if (!(err instanceof RouterCodecError)) throw err;
        this.parts.logger.warn({ map: mapName, key: e.key.toString('hex'), error: err.message }, 'map entry that is no table entry: removed');
        map.delete(e.key);
        if (mapName === 'xdpnet_routers' && e.key.length === routerKey.size) this.routerChanged(routerKey.decode(e.key).router_id);
      }
    }
    return out;
  }

  /** One map update; a full map is RESOURCE_EXHAUSTED. */
  private write(w: RouterMapWrite): void {
    const map = this.map[w.map];
    try {
      map.update(w.key, w.value);
    } catch (err) {
      // A full hash map says E2BIG, a full LPM trie ENOSPC.
      if (err instanceof BpfError && (err.code === 'E2BIG' || err.code === 'ENOSPC')) {
        throw new DataplaneError('RESOURCE_EXHAUSTED', `map ${w.map} is full (${map.info.maxEntries} entries)`, { cause: err });
      }
      throw err;
    }
  }
}

/** The gateway node's VTEP of an external route that leaves through another node, else undefined. */
function remoteGatewayOf(value: RouteValue): string | undefined {
  return value.kind === 'external' && !value.gatewayIsLocal ? value.gatewayVtepIp : undefined;
}

/** Every entry, copied out of the batch buffers (decoders may keep slices). */
function rawEntries(map: MapHandle): RawEntry[] {
  return [...map.entries()].map(([key, value]) => ({ key: Buffer.from(key), value: Buffer.from(value) }));
}
