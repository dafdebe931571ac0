// The reconciler's tables (src/reconciler/tables.ts) as the BPF fast path
// implements them, each by one adapter over the pinned maps: the VXLAN
// overlay's (networks, localPorts, fdb, arp, floodList) by OverlayTables,
// distributed routing's (routers, routerInterfaces, routes) by RouterTables,
// a router's external side (snat) by SnatTables, floating IPs (floatingIps,
// fixedToFloating) by FipTables. More adapters plug in as the programs
// consuming their tables arrive: one more TableAdapter given to the
// constructor, which routes each table to the first adapter that handles it. A table no adapter handles is reported as
// UNIMPLEMENTED, which the reconciler turns into an ERROR status with this
// message on every resource that needs it, instead of pretending the
// resource is forwarded.
//
// The overlay's fdb entries carry copies of the routers and their external
// sides (fdb-copies.ts): the writes of every adapter that says when it
// changes a router's entry (onRouterChanged: RouterTables, SnatTables) are
// wired here to the overlay's routerChanged; and the external next hops'
// writer (the route observer, ExternalNexthops.onNexthopChanged) to its
// extNexthopChanged.
//
// The routes table is also shown to a RouteObserver (the external next-hop
// resolver: a static route through the external gateway has a next hop to
// resolve up front), after each successful write and on each list.

import { DataplaneError, type Dataplane, type DataplaneEntry, type TableSupport } from '../reconciler/dataplane.js';
import type { TableKey, TableName, TableValue } from '../reconciler/tables.js';
import type { RouteObserver } from './external-nexthops.js';

/** One adapter: the tables it handles, each with the reconciler's operations. */
export interface TableAdapter {
  handles(table: TableName): boolean;
  list(table: TableName): Promise<DataplaneEntry[]>;
  upsert(table: TableName, key: TableKey<TableName>, value: TableValue<TableName>): Promise<void>;
  delete(table: TableName, key: TableKey<TableName>): Promise<void>;
}

/** Why a table no adapter handles is not forwarded (the owners' status message). */
const NOT_YET: Partial<Record<TableName, string>> = {
  snat: 'the external gateway is not implemented yet (no SNAT, no routing through it): what the router would send out through it is dropped',
  floatingIps: 'floating IPs are not implemented yet',
  fixedToFloating: 'floating IPs are not implemented yet',
  providerPorts: 'provider (flat/VLAN) networks are not implemented by the dataplane yet',
};

/** An adapter whose entries carry copies of the routers (OverlayTables). */
interface RouterCopyHolder {
  routerChanged(routerId: string): void;
}

/** An adapter that writes a router's entries (RouterTables, SnatTables). */
interface RouterCopySource {
  onRouterChanged(listener: (routerId: string) => void): void;
}

/** An adapter whose entries carry copies of external next hops (OverlayTables). */
interface ExtNexthopCopyHolder {
  extNexthopChanged(ifindex: number, ip: string): void;
}

/** The writer of the external next hops (ExternalNexthops, given as the route observer). */
interface ExtNexthopWriter {
  onNexthopChanged(listener: (ifindex: number, ip: string) => void): void;
}

export interface BpfTablesOptions {
  /** Shown every routes write and list (external-nexthops.ts). */
  routeObserver?: RouteObserver;
}

export class BpfTables implements Dataplane {
  private readonly adapters: TableAdapter[];
  private readonly routeObserver: RouteObserver | undefined;

  /** `adapters` after the first two are tried in order; options may come last. */
  constructor(overlay: TableAdapter, routers: TableAdapter, ...more: (TableAdapter | BpfTablesOptions)[]) {
    const isAdapter = (x: TableAdapter | BpfTablesOptions): x is TableAdapter => typeof (x as TableAdapter).handles === 'function';
    this.adapters = [overlay, routers, ...more.filter(isAdapter)];
    const copies = overlay as Partial<RouterCopyHolder>;
    if (typeof copies.routerChanged === 'function') {
      for (const adapter of this.adapters) {
        const source = adapter as Partial<RouterCopySource>;
        if (adapter !== overlay && typeof source.onRouterChanged === 'function') source.onRouterChanged((routerId) => copies.routerChanged!(routerId));
      }
    }
    this.routeObserver = more.find((x): x is BpfTablesOptions => !isAdapter(x))?.routeObserver;
    const gateways = overlay as Partial<ExtNexthopCopyHolder>;
    const writer = this.routeObserver as Partial<ExtNexthopWriter> | undefined;
    if (typeof gateways.extNexthopChanged === 'function' && typeof writer?.onNexthopChanged === 'function') {
      writer.onNexthopChanged((ifindex, ip) => gateways.extNexthopChanged!(ifindex, ip));
    }
  }

  private adapterFor(table: TableName): TableAdapter | undefined {
    return this.adapters.find((a) => a.handles(table));
  }

  supports(table: TableName): TableSupport {
    if (this.adapterFor(table)) return true;
    return { code: 'UNIMPLEMENTED', message: notYet(table) };
  }

  async list<T extends TableName>(table: T): Promise<DataplaneEntry<T>[]> {
    const adapter = this.adapterFor(table);
    if (!adapter) throw unimplemented(table);
    const entries = (await adapter.list(table)) as DataplaneEntry<T>[];
    if (table === 'routes') this.routeObserver?.routesListed(entries as DataplaneEntry<'routes'>[]);
    return entries;
  }

  async upsert<T extends TableName>(table: T, key: TableKey<T>, value: TableValue<T>): Promise<void> {
    const adapter = this.adapterFor(table);
    if (!adapter) throw unimplemented(table);
    await adapter.upsert(table, key, value);
    if (table === 'routes') this.routeObserver?.routeUpserted(key as TableKey<'routes'>, value as TableValue<'routes'>);
  }

  async delete<T extends TableName>(table: T, key: TableKey<T>): Promise<void> {
    const adapter = this.adapterFor(table);
    if (!adapter) throw unimplemented(table);
    await adapter.delete(table, key);
    if (table === 'routes') this.routeObserver?.routeDeleted(key as TableKey<'routes'>);
  }
}

function notYet(table: TableName): string {
  return NOT_YET[table] ?? `the ${table} table is not implemented by the BPF dataplane yet`;
}

// The reconciler makes no other call for an unsupported table; this says so
// plainly should that contract ever be broken.
function unimplemented(table: TableName): DataplaneError {
  return new DataplaneError('UNIMPLEMENTED', `${table}: ${notYet(table)}`);
}
