// Sync: the whole desired state replaced in one request, validated as a unit.
//
// The new state is built into a fresh ResourceIndex in dependency order
// (networks, subnets, ports, routers, floating IPs). Each resource is
// normalised, its defaults resolved against what is already in the fresh
// index, and every rule checked against it; since each kind refers only to
// kinds before it, checking each resource against the partial index checks
// every reference and every uniqueness constraint of the whole (the second
// holder of a MAC, an address, a VNI… is the one named). Field paths name the
// SyncRequest: "ports[12].mac_address".
//
// Cost: O(total size), each resource checked in O(its own size).

import { deepEqual } from './equal.js';
import { checkKind, normalizeKind, resolveKind } from './kinds.js';
import { NOUN, PLURAL } from './names.js';
import { invalid, taken } from './reject.js';
import { type PlannedChange, ResourceIndex } from './resource-index.js';
import { RESOURCE_KINDS, type ResourceByKind, type ResourceKind, type Snapshot } from './types.js';

const SNAPSHOT_FIELD: { [K in ResourceKind]: keyof Snapshot } = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  router: 'routers',
  floatingIp: 'floatingIps',
};

export interface SyncPlan {
  /**
   * Deletions first (floating IPs, routers, ports, subnets, networks: users
   * before what they use), then additions and modifications (networks first,
   * floating IPs last).
   */
  changes: PlannedChange[];
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  /**
   * The validated new state. Unchanged resources are the current objects with
   * their current revisions; added and modified ones carry revision 0 until the
   * store commits them and sets the revision.
   */
  next: ResourceIndex;
}

export function planSync(current: ResourceIndex, snapshot: Snapshot): SyncPlan {
  if (typeof snapshot !== 'object' || snapshot === null) throw invalid('sync', 'a snapshot is required');
  const next = new ResourceIndex();
  const upserts: PlannedChange[] = [];
  let created = 0;
  let updated = 0;
  let unchanged = 0;

  for (const kind of RESOURCE_KINDS) {
    const list = snapshot[SNAPSHOT_FIELD[kind]] as unknown;
    if (!Array.isArray(list)) throw invalid(PLURAL[kind], 'must be a list');
    (list as ResourceByKind[typeof kind][]).forEach((input, i) => {
      const p = `${PLURAL[kind]}[${i}]`;
      let r = normalizeKind(kind, input, p);
      if (next.has(kind, r.id)) throw taken(`${p}.id`, `${NOUN[kind]} ${r.id} appears more than once in the request`);
      r = resolveKind(next, kind, r, p);
      checkKind(next, kind, r, p);
      const old = current.stored(kind, r.id);
      if (old && deepEqual(old.resource, r)) {
        next.put(kind, old.resource, old.revision);
        unchanged++;
        return;
      }
      const stored = next.put(kind, r, 0);
      upserts.push({ type: old ? 'modified' : 'added', kind, id: r.id, resource: stored.resource } as PlannedChange);
      if (old) updated++;
      else created++;
    });
  }

  const deletions: PlannedChange[] = [];
  for (const kind of [...RESOURCE_KINDS].reverse()) {
    for (const old of current.values(kind)) {
      if (!next.has(kind, old.resource.id)) {
        deletions.push({ type: 'deleted', kind, id: old.resource.id, resource: old.resource } as PlannedChange);
      }
    }
  }
  return { changes: [...deletions, ...upserts], created, updated, deleted: deletions.length, unchanged, next };
}
