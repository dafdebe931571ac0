// The reconciler's tables (src/reconciler/tables.ts) as the BPF fast path
// implements them. Each table is implemented by the issue that adds the BPF
// program consuming it; until then it is reported as UNIMPLEMENTED, which the
// reconciler turns into an ERROR status with this message on every resource
// that needs it, instead of pretending the resource is forwarded.

import { DataplaneError, type Dataplane, type DataplaneEntry, type TableSupport } from '../reconciler/dataplane.js';
import type { TableKey, TableName, TableValue } from '../reconciler/tables.js';

const NOT_YET: Record<TableName, string> = {
  networks: 'the VXLAN overlay fast path is not implemented yet',
  localPorts: 'the VXLAN overlay fast path is not implemented yet',
  fdb: 'the VXLAN overlay fast path is not implemented yet',
  arp: 'the ARP responder is not implemented yet',
  floodList: 'flooding (head-end replication) is not implemented yet',
  routers: 'distributed routing is not implemented yet',
  routerInterfaces: 'distributed routing is not implemented yet',
  routes: 'distributed routing is not implemented yet',
  snat: 'SNAT on the external interface is not implemented yet',
  floatingIps: 'floating IPs are not implemented yet',
  fixedToFloating: 'floating IPs are not implemented yet',
  providerPorts: 'provider (flat/VLAN) networks are not implemented by the dataplane yet',
};

export class BpfTables implements Dataplane {
  supports(table: TableName): TableSupport {
    return { code: 'UNIMPLEMENTED', message: NOT_YET[table] };
  }

  // The reconciler makes no other call for an unsupported table; these say so
  // plainly should that contract ever be broken.
  list<T extends TableName>(table: T): Promise<DataplaneEntry<T>[]> {
    return Promise.reject(new DataplaneError('UNIMPLEMENTED', `${table}: ${NOT_YET[table]}`));
  }

  upsert<T extends TableName>(table: T, _key: TableKey<T>, _value: TableValue<T>): Promise<void> {
    return Promise.reject(new DataplaneError('UNIMPLEMENTED', `${table}: ${NOT_YET[table]}`));
  }

  delete<T extends TableName>(table: T, _key: TableKey<T>): Promise<void> {
    return Promise.reject(new DataplaneError('UNIMPLEMENTED', `${table}: ${NOT_YET[table]}`));
  }
}
