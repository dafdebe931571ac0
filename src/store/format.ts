// The on-disk layout of the desired state (one LevelDB database):
//
//   m/format            "1"                         layout version of this database
//   m/revision          "<n>"                       revision of the last commit
//   r/<kind>/<id>       {"resource":…,"revision":n} one resource and the revision of its last change
//
// <kind> is the model's kind name (network, subnet, port, router, floatingIp).
// Keys and values are UTF-8; values are JSON. A database whose format is newer
// than FORMAT_VERSION is refused, never read or rewritten.

import { RESOURCE_KINDS, type ResourceKind, type Stored } from '../model/types.js';

export const FORMAT_VERSION = 1;
export const FORMAT_KEY = 'm/format';
export const REVISION_KEY = 'm/revision';
/** All resource keys lie in [RESOURCE_PREFIX, RESOURCE_END). */
export const RESOURCE_PREFIX = 'r/';
export const RESOURCE_END = 'r0'; // '0' follows '/'

export class StateFormatError extends Error {
  override name = 'StateFormatError';
}

export function resourceKey(kind: ResourceKind, id: string): string {
  return `${RESOURCE_PREFIX}${kind}/${id}`;
}

export function encodeResource(stored: Pick<Stored, 'resource' | 'revision'>): string {
  return JSON.stringify({ resource: stored.resource, revision: stored.revision });
}

/** Parses one resource record; `where` names the database in errors. */
export function decodeResource(key: string, value: string, where: string): Stored {
  const parts = key.split('/');
  const kind = parts[1] as ResourceKind;
  const id = parts[2];
  if (parts.length !== 3 || !RESOURCE_KINDS.includes(kind) || !id) {
    throw new StateFormatError(`${where}: unexpected key ${JSON.stringify(key)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    throw new StateFormatError(`${where}: the record ${key} is not JSON (${(e as Error).message})`);
  }
  const rec = parsed as { resource?: { id?: unknown }; revision?: unknown };
  if (typeof rec !== 'object' || rec === null || typeof rec.resource !== 'object' || rec.resource === null) {
    throw new StateFormatError(`${where}: the record ${key} has no resource`);
  }
  if (rec.resource.id !== id) throw new StateFormatError(`${where}: the record ${key} holds resource ${String(rec.resource.id)}`);
  if (typeof rec.revision !== 'number' || !Number.isSafeInteger(rec.revision) || rec.revision < 1) {
    throw new StateFormatError(`${where}: the record ${key} has no valid revision`);
  }
  return { kind, resource: rec.resource as Stored['resource'], revision: rec.revision };
}

/** Parses a non-negative integer meta value. */
export function decodeCounter(key: string, value: string, where: string): number {
  if (!/^(0|[1-9]\d{0,15})$/.test(value)) throw new StateFormatError(`${where}: ${key} is ${JSON.stringify(value)}, not a whole number`);
  return Number(value);
}
