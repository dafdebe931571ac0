// The operations on the desired state, as pure functions: each takes the
// current index and a request, throws a Rejection if the request may not
// happen, and otherwise returns what to write. Nothing is changed here; the
// store commits the changes and then applies them to its index.
//
// Field paths name the request's fields as in the proto: "port.mac_address"
// for CreatePort/UpdatePort, "id" for Delete*, "router_id"/"subnet_id"/
// "ip_address"/"external_gateway.…" for the router actions,
// "ports[12].mac_address" for Sync (sync.ts).

import { deepEqual } from './equal.js';
import { NOUN, SINGULAR } from './names.js';
import { checkKind, normalizeKind, resolveKind } from './kinds.js';
import { normalizeExternalGateway, normalizeInterface, resolveInterfaceIp, uuidAt } from './normalize.js';
import { notFound, taken } from './reject.js';
import type { PlannedChange, ResourceIndex } from './resource-index.js';
import type { ExternalGateway, ResourceByKind, ResourceKind, Router, Uuid } from './types.js';
import { mergeMasked } from './update.js';
import {
  checkExternalGateway,
  checkGatewayNotRelied,
  checkInterface,
  checkInterfaceRemovable,
  checkNetworkDeletable,
  checkPortDeletable,
  checkRouterDeletable,
  checkSubnetDeletable,
} from './validate.js';

export type { PlannedChange } from './resource-index.js';

/** What an operation would do. */
export interface Outcome<K extends ResourceKind> {
  /** To commit, in order; empty when the request changes nothing (an update to the same values). */
  changes: PlannedChange[];
  /** The resource after the operation; as it was, for a delete. */
  resource: ResourceByKind[K];
}

function existing<K extends ResourceKind>(index: ResourceIndex, kind: K, rawId: unknown, field: string): ResourceByKind[K] {
  const id = uuidAt(rawId, field);
  const r = index.get(kind, id);
  if (!r) throw notFound(field, `${NOUN[kind]} ${id} does not exist`);
  return r;
}

function one<K extends ResourceKind>(type: PlannedChange['type'], kind: K, resource: ResourceByKind[K]): Outcome<K> {
  return { changes: [{ type, kind, id: resource.id, resource } as PlannedChange], resource };
}

// ------------------------------------------------------------------ create / update / delete

export function planCreate<K extends ResourceKind>(index: ResourceIndex, kind: K, input: ResourceByKind[K]): Outcome<K> {
  const p = SINGULAR[kind];
  let r = normalizeKind(kind, input, p);
  if (index.has(kind, r.id)) throw taken(`${p}.id`, `${NOUN[kind]} ${r.id} already exists`);
  r = resolveKind(index, kind, r, p);
  checkKind(index, kind, r, p);
  return one('added', kind, r);
}

/** Only the fields named in `mask` (proto names) are taken from `patch`; see update.ts. */
export function planUpdate<K extends ResourceKind>(
  index: ResourceIndex,
  kind: K,
  id: Uuid,
  patch: ResourceByKind[K],
  mask: readonly string[],
): Outcome<K> {
  const p = SINGULAR[kind];
  const current = existing(index, kind, id, `${p}.id`);
  let r = normalizeKind(kind, mergeMasked(kind, current, patch, mask), p);
  r = resolveKind(index, kind, r, p);
  if (deepEqual(r, current)) return { changes: [], resource: current };
  checkKind(index, kind, r, p, current);
  return one('modified', kind, r);
}

export function planDelete<K extends ResourceKind>(index: ResourceIndex, kind: K, id: Uuid): Outcome<K> {
  const current = existing(index, kind, id, 'id');
  switch (kind) {
    case 'network':
      checkNetworkDeletable(index, current.id, 'id');
      break;
    case 'subnet':
      checkSubnetDeletable(index, current.id, 'id');
      break;
    case 'port':
      checkPortDeletable(index, current.id, 'id');
      break;
    case 'router':
      checkRouterDeletable(index, current as Router, 'id');
      break;
    case 'floatingIp':
      break;
  }
  return one('deleted', kind, current);
}

// ------------------------------------------------------------------ router actions

/** ipAddress null or "": the subnet's gateway IP. */
export function planAddRouterInterface(
  index: ResourceIndex,
  routerId: Uuid,
  subnetId: Uuid,
  ipAddress: string | null,
): Outcome<'router'> {
  const router = existing(index, 'router', routerId, 'router_id');
  let iface = normalizeInterface({ subnetId, ipAddress: ipAddress ?? '' }, 'subnet_id', 'ip_address', 'interface');
  iface = resolveInterfaceIp(index, iface, 'subnet_id', 'ip_address');
  checkInterface(index, router.id, iface, router.interfaces, { subnet: 'subnet_id', ip: 'ip_address' });
  return one('modified', 'router', { ...router, interfaces: [...router.interfaces, iface] });
}

export function planRemoveRouterInterface(index: ResourceIndex, routerId: Uuid, subnetId: Uuid): Outcome<'router'> {
  const router = existing(index, 'router', routerId, 'router_id');
  const sid = uuidAt(subnetId, 'subnet_id');
  if (!router.interfaces.some((i) => i.subnetId === sid)) {
    throw notFound('subnet_id', `router ${router.id} has no interface on subnet ${sid}`);
  }
  checkInterfaceRemovable(index, router, sid, 'subnet_id');
  return one('modified', 'router', { ...router, interfaces: router.interfaces.filter((i) => i.subnetId !== sid) });
}

/** Sets or replaces the external gateway. */
export function planSetRouterGateway(index: ResourceIndex, routerId: Uuid, gateway: ExternalGateway): Outcome<'router'> {
  const router = existing(index, 'router', routerId, 'router_id');
  const gw = normalizeExternalGateway(gateway, 'external_gateway');
  if (deepEqual(gw, router.externalGateway)) return { changes: [], resource: router };
  checkExternalGateway(index, router.id, gw, 'external_gateway');
  if (router.externalGateway && router.externalGateway.networkId !== gw.networkId) {
    checkGatewayNotRelied(index, router, 'external_gateway.network_id');
  }
  return one('modified', 'router', { ...router, externalGateway: gw });
}

/** Clearing a router without a gateway changes nothing. */
export function planClearRouterGateway(index: ResourceIndex, routerId: Uuid): Outcome<'router'> {
  const router = existing(index, 'router', routerId, 'router_id');
  if (!router.externalGateway) return { changes: [], resource: router };
  checkGatewayNotRelied(index, router, 'router_id');
  return one('modified', 'router', { ...router, externalGateway: null });
}

export { planSync, type SyncPlan } from './sync.js';
