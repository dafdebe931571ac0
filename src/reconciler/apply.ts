// One reconcile pass's work on the dataplane: compare the rendered tables with
// what is there, upsert what is missing or different, delete (prune) what
// nobody wants, and say which resources that failed for.
//
// "What is there" is, for a full pass, the dataplane's own list() (this is how
// drift — a hand-deleted entry, a stray one, a failed op — gets repaired, and
// how a restarted daemon adopts what the previous one left: equal entries are
// not touched); for an incremental pass it is the cache of what this
// reconciler last applied successfully, which makes an incremental pass cost
// no dataplane reads.
//
// The cache only records what is known to be in the dataplane: a failed upsert
// removes its key (the old value may or may not be there), so the next pass of
// either kind tries again; a failed delete keeps it, so the delete is retried.

import { canonicalJson } from './canonical.js';
import { DataplaneError, type Dataplane } from './dataplane.js';
import type { Rendered } from './render.js';
import type { Failure } from './status.js';
import { type Entry, type ResourceRef, type TableKey, type TableName, TABLE_NAMES, keyString, refKey } from './tables.js';

export type PassKind = 'full' | 'incremental';

interface CachedEntry {
  key: unknown;
  valueJson: string;
  owners: readonly ResourceRef[];
}

/** Per table, by key string: what this reconciler believes is in the dataplane. */
export type AppliedCache = Map<TableName, Map<string, CachedEntry>>;

export interface ApplyResult {
  updated: number;
  deleted: number;
  /** Entries that could not be applied (failed ops, unsupported tables, unreadable tables, render problems). */
  errors: number;
  lastError: string;
  /** The first failure per resource (by refKey). */
  failures: Map<string, Failure>;
  /** Something failed that may succeed if simply tried again. */
  retryable: boolean;
  /** A table could not be listed: the next pass should be a full one. */
  listFailed: boolean;
}

interface TablePlan {
  table: TableName;
  current: Map<string, CachedEntry>;
  upserts: Entry[];
  deletes: [string, CachedEntry][];
}

export async function applyRendered(
  kind: PassKind,
  rendered: Rendered,
  dataplane: Dataplane,
  cache: AppliedCache,
): Promise<ApplyResult> {
  const result: ApplyResult = {
    updated: 0,
    deleted: 0,
    errors: 0,
    lastError: '',
    failures: new Map(),
    retryable: false,
    listFailed: false,
  };
  const fail = (owners: readonly ResourceRef[], failure: Failure): void => {
    result.errors++;
    result.lastError = failure.message;
    for (const ref of owners) {
      const key = refKey(ref);
      if (!result.failures.has(key)) result.failures.set(key, failure);
    }
  };

  for (const p of rendered.problems) fail([p.ref], p);

  // Read everything first, so that the pass compares against one view.
  const plans: TablePlan[] = [];
  for (const table of TABLE_NAMES) {
    const desired = rendered.tables[table] as Map<string, Entry>;
    const support = dataplane.supports(table);
    if (support !== true) {
      cache.delete(table);
      for (const entry of desired.values()) fail(entry.owners, { code: support.code, message: support.message });
      continue;
    }
    let current = cache.get(table);
    if (kind === 'full' || !current) {
      try {
        current = await listTable(dataplane, table, current);
      } catch (err) {
        result.listFailed = result.retryable = true;
        const failure = asFailure(err, `list ${table}`);
        for (const entry of desired.values()) fail(entry.owners, failure);
        if (desired.size === 0) fail([], failure);
        continue;
      }
      cache.set(table, current);
    }
    const upserts: Entry[] = [];
    for (const [ks, entry] of desired) {
      const have = current.get(ks);
      if (have && have.valueJson === canonicalJson(entry.value)) have.owners = entry.owners;
      else upserts.push(entry);
    }
    const deletes = [...current].filter(([ks]) => !desired.has(ks));
    plans.push({ table, current, upserts, deletes });
  }

  // Deletes first, so that what goes away frees map space for what comes in;
  // in reverse table order, so nothing is left pointing at a deleted entry.
  for (const { table, current, deletes } of [...plans].reverse()) {
    for (const [ks, have] of deletes) {
      try {
        await dataplane.delete(table, have.key as TableKey<typeof table>);
        current.delete(ks);
        result.deleted++;
      } catch (err) {
        result.retryable = true;
        // Owners of a stale entry that still exist are not as desired; the
        // ones that were deleted have no status left to set.
        fail(have.owners, asFailure(err, `delete ${table} ${ks}`));
      }
    }
  }

  // Then upserts in table order: what an entry leads to exists before it.
  for (const { table, current, upserts } of plans) {
    for (const entry of upserts) {
      const ks = keyString(table, entry.key);
      try {
        await dataplane.upsert(table, entry.key, entry.value);
        current.set(ks, { key: entry.key, valueJson: canonicalJson(entry.value), owners: entry.owners });
        result.updated++;
      } catch (err) {
        current.delete(ks);
        const failure = asFailure(err, `upsert ${table} ${ks}`);
        if (failure.code !== 'UNIMPLEMENTED') result.retryable = true;
        fail(entry.owners, failure);
      }
    }
  }

  return result;
}

/** The dataplane's entries, keeping the owners the cache knew for them. */
async function listTable(
  dataplane: Dataplane,
  table: TableName,
  known: Map<string, CachedEntry> | undefined,
): Promise<Map<string, CachedEntry>> {
  const entries = await dataplane.list(table);
  const current = new Map<string, CachedEntry>();
  for (const e of entries) {
    const ks = keyString(table, e.key);
    current.set(ks, { key: e.key, valueJson: canonicalJson(e.value), owners: known?.get(ks)?.owners ?? [] });
  }
  return current;
}

/** A dataplane error keeps its code and message (it is written for people); anything else is INTERNAL, with what failed. */
function asFailure(err: unknown, what: string): Failure {
  if (err instanceof DataplaneError) {
    return { code: err.code, message: err.code === 'INTERNAL' ? `${what}: ${err.message}` : err.message };
  }
  return { code: 'INTERNAL', message: `${what}: ${err instanceof Error ? err.message : String(err)}` };
}
