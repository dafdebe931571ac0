// The reconciler's tables (src/reconciler/tables.ts) as the BPF fast path
// implements them. The VXLAN overlay's tables (networks, localPorts, fdb, arp,
// floodList) are written into the pinned maps by OverlayTables, distributed
// routing's (routers, routerInterfaces, routes) by RouterTables. Each other
// table is implemented by the issue that adds the BPF program consuming it;
// until then it is reported as UNIMPLEMENTED, which the reconciler turns into
// an ERROR status with this message on every resource that needs it, instead
// of pretending the resource is forwarded.

import { DataplaneError, type Dataplane, type DataplaneEntry, type TableSupport } from '../reconciler/dataplane.js';
import type { TableKey, TableName, TableValue } from '../reconciler/tables.js';
import type { OverlayTable, OverlayTables } from './overlay-tables.js';
import type { RouterTable, RouterTables } from './router-tables.js';

type UnimplementedTable = Exclude<TableName, OverlayTable | RouterTable>;

const NOT_YET: Record<UnimplementedTable, string> = {
  // Owned by every router with an external gateway: the router shows this even while it routes between its own subnets.
  snat: 'the external gateway is not implemented yet (no SNAT, no routing through it): what the router would send out through it is dropped',
  floatingIps: 'floating IPs are not implemented yet',
  fixedToFloating: 'floating IPs are not implemented yet',
  providerPorts: 'provider (flat/VLAN) networks are not implemented by the dataplane yet',
};

export class BpfTables implements Dataplane {
  constructor(
    private readonly overlay: OverlayTables,
    private readonly routers: RouterTables,
  ) {}

  supports(table: TableName): TableSupport {
    if (this.overlay.handles(table) || this.routers.handles(table)) return true;
    return { code: 'UNIMPLEMENTED', message: NOT_YET[table] };
  }

  list<T extends TableName>(table: T): Promise<DataplaneEntry<T>[]> {
    if (this.overlay.handles(table)) return this.overlay.list(table) as Promise<DataplaneEntry<T>[]>;
    if (this.routers.handles(table)) return this.routers.list(table) as Promise<DataplaneEntry<T>[]>;
    return Promise.reject(unimplemented(table));
  }

  upsert<T extends TableName>(table: T, key: TableKey<T>, value: TableValue<T>): Promise<void> {
    if (this.overlay.handles(table)) return this.overlay.upsert(table, key as TableKey<typeof table>, value as TableValue<typeof table>);
    if (this.routers.handles(table)) return this.routers.upsert(table, key as TableKey<typeof table>, value as TableValue<typeof table>);
    return Promise.reject(unimplemented(table));
  }

  delete<T extends TableName>(table: T, key: TableKey<T>): Promise<void> {
    if (this.overlay.handles(table)) return this.overlay.delete(table, key as TableKey<typeof table>);
    if (this.routers.handles(table)) return this.routers.delete(table, key as TableKey<typeof table>);
    return Promise.reject(unimplemented(table));
  }
}

// The reconciler makes no other call for an unsupported table; this says so
// plainly should that contract ever be broken.
function unimplemented(table: UnimplementedTable): DataplaneError {
  return new DataplaneError('UNIMPLEMENTED', `${table}: ${NOT_YET[table]}`);
}
