// How API values read in tables: enum prefixes dropped, booleans as
// openstack shows them, lists one per line in the same key=value syntax the
// options take (so a value can be copied from `show` into `set`).

import type * as pb from '../gen/proto/xdpnet/v1/index.js';
import type { Column } from './output.js';

/** "RESOURCE_STATE_ACTIVE" → "ACTIVE"; "NETWORK_TYPE_VXLAN" → "vxlan" with lower. */
export const stripPrefix = (value: string, prefix: string): string => (value.startsWith(prefix) ? value.slice(prefix.length) : value);

/** The status column: state, and for ERROR the code and message that say why. */
export function statusText(status: pb.ResourceStatus__Output | null | undefined): string {
  if (!status) return '';
  const state = stripPrefix(status.state, 'RESOURCE_STATE_');
  if (state !== 'ERROR') return state;
  return ['ERROR', status.code, status.message].filter((s) => s !== '').join(': ');
}

export const boolText = (b: boolean | undefined): string => (b === undefined ? '' : b ? 'True' : 'False');

/** admin_state_up is optional in the API and defaults to true on create. */
export const adminText = (up: boolean | undefined): string => (up === false ? 'DOWN' : 'UP');

export const lines = (items: readonly string[]): string => items.join('\n');

/** The columns every resource ends with in `show`. */
export function statusColumns<T extends { status: pb.ResourceStatus__Output | null; revision: string }>(): Column<T>[] {
  return [
    { key: 'status', header: 'Status', get: (r) => statusText(r.status), inList: true },
    { key: 'revision', header: 'Revision', get: (r) => r.revision },
    // The resource revision the status describes; behind `revision` while the dataplane catches up.
    { key: 'status_revision', header: 'Status Revision', get: (r) => r.status?.revision ?? '' },
  ];
}
