// One reconcile pass's work on the dataplane: compare the desired tables with
// what is there, upsert what is missing or different, delete (prune) what
// nobody wants, and remember, per entry, why one is not as desired.
//
// "What is there" is, for a full pass, the dataplane's own list() (this is how
// drift — a hand-deleted entry, a stray one, a failed op — gets repaired, and
// how a restarted daemon adopts what the previous one left: equal entries are
// not touched); for an incremental pass it is the cache of what this
// reconciler last applied successfully, which makes an incremental pass cost
// no dataplane reads.
//
// A full pass compares every entry. An incremental pass compares only the
// entries the incremental renderer says changed, plus every entry that failed
// last time (a failed upsert or delete is retried on every pass); a table that
// has no cache yet, could not be listed last time or changed support is
// compared whole. Values are compared with sameJson (= equal canonicalJson),
// and the cache keeps the rendered value object, so an entry that did not
// change is an identity check.
//
// The cache only records what is known to be in the dataplane: a failed upsert
// removes its key (the old value may or may not be there), so the next pass of
// either kind tries again; a failed delete keeps it, so the delete is retried.
//
// Failures are kept per entry (EntryFailure), not per pass: an entry of an
// unsupported or unreadable table, a stale entry that could not be deleted, an
// entry that could not be upserted. A resource's status is its first render
// problem, else the first failure among the entries it owns (and the stale
// ones it owned): table-level failures, then deletes (in reverse table order),
// then upserts (in table order) — the order a pass meets them in. Each change
// of a record says whose status it touched, so statuses are recomputed only
// for those.

import { sameJson } from './canonical.js';
import { DataplaneError, type Dataplane } from './dataplane.js';
import type { Failure } from './status.js';
import { type Entry, type ResourceRef, type TableKey, type TableName, type Tables, TABLE_NAMES, keyString, refKey } from './tables.js';

export type PassKind = 'full' | 'incremental';

interface CachedEntry {
  key: unknown;
  /** The rendered value last written, or the listed one (JSON-equal to what render wants, or not). */
  value: unknown;
  owners: readonly ResourceRef[];
}

/** Per table, by key string: what this reconciler believes is in the dataplane. */
export type AppliedCache = Map<TableName, Map<string, CachedEntry>>;

/** Where a pass met a failure: 0 the table (unsupported, unreadable), 1 a delete, 2 an upsert. */
export type FailurePhase = 0 | 1 | 2;

/** Why one entry is not in the dataplane as desired. */
export interface EntryFailure {
  readonly table: TableName;
  readonly ks: string;
  readonly phase: FailurePhase;
  readonly failure: Failure;
  /** Whose status it makes ERROR: the entry's owners (a stale entry's last known owners). */
  owners: readonly ResourceRef[];
  /** When it was recorded, for ties within a phase and table. */
  readonly seq: number;
}

export interface ApplyResult {
  updated: number;
  deleted: number;
  /** Entries that could not be applied (failed ops, unsupported tables, unreadable tables); render problems are not counted here. */
  errors: number;
  /** The last failure this pass met (upserts, else deletes, else tables); '' if none. */
  lastError: string;
  /** Something failed that may succeed if simply tried again. */
  retryable: boolean;
  /** A table could not be listed: the next pass should be a full one. */
  listFailed: boolean;
  /** Resources (refKey) whose entry failures changed (incremental passes: their statuses need a look). */
  touched: Set<string>;
}

/** Work counters, for tests and diagnostics. */
export interface ApplyWork {
  /** Desired entries compared with the cache or the dataplane. */
  compared: number;
}

interface TablePlan {
  table: TableName;
  current: Map<string, CachedEntry>;
  upserts: string[];
  deletes: [string, CachedEntry][];
}

/** Sorts a table's keys (in place) into the order their upserts should go in. */
export type UpsertOrder = (table: TableName, keys: string[]) => void;

export class Applier {
  readonly work: ApplyWork = { compared: 0 };
  private readonly cache: AppliedCache = new Map();
  private readonly failures = new Map<TableName, Map<string, EntryFailure>>(TABLE_NAMES.map((t) => [t, new Map()]));
  /** Failed deletes by the refKey of each of the stale entry's owners. */
  private readonly staleByOwner = new Map<string, Set<EntryFailure>>();
  /** The last supports() answer per table ('' = supported). */
  private readonly support = new Map<TableName, string>();
  /** Tables the last pass that tried could not list. */
  private readonly unreadable = new Set<TableName>();
  private failureCount = 0;
  private seq = 0;
  private touched = new Set<string>();

  constructor(private readonly dataplane: Dataplane) {}

  /** How many entries are not as desired. */
  get failing(): number {
    return this.failureCount;
  }

  /** Why an entry is not as desired, if it is not. */
  entryFailure(table: TableName, ks: string): EntryFailure | undefined {
    return this.failures.get(table)!.get(ks);
  }

  /** The failed deletes of stale entries a resource owned. */
  staleFailures(refKeyString: string): Iterable<EntryFailure> {
    return this.staleByOwner.get(refKeyString) ?? [];
  }

  /**
   * One pass. `dirty` (incremental passes) names the keys whose desired entry
   * changed since the last pass; a full pass looks at everything.
   */
  async apply(
    kind: PassKind,
    desiredTables: Tables,
    dirty: ReadonlyMap<TableName, ReadonlySet<string>>,
    order?: UpsertOrder,
  ): Promise<ApplyResult> {
    const dataplane = this.dataplane;
    this.touched = new Set();
    const result: ApplyResult = {
      updated: 0,
      deleted: 0,
      errors: 0,
      lastError: '',
      retryable: false,
      listFailed: false,
      touched: this.touched,
    };
    let tableError = '';
    let opError = '';
    let ownerless = 0; // unreadable tables with nothing desired: an error nobody owns

    // Read everything first, so that the pass compares against one view.
    const plans: TablePlan[] = [];
    for (const table of TABLE_NAMES) {
      const desired = desiredTables[table] as Map<string, Entry>;
      const changed = dirty.get(table);
      const support = dataplane.supports(table);
      const signature = support === true ? '' : `${support.code} ${support.message}`;
      const supportChanged = this.support.get(table) !== signature;
      this.support.set(table, signature);

      if (support !== true) {
        this.cache.delete(table);
        this.unreadable.delete(table);
        const failure: Failure = { code: support.code, message: support.message };
        if (kind === 'full' || supportChanged) {
          for (const record of [...this.failures.get(table)!.values()]) {
            if (record.phase !== 0 || !desired.has(record.ks)) this.clear(table, record.ks);
          }
          for (const [ks, entry] of desired) this.fail(table, ks, 0, failure, entry.owners);
        } else if (changed) {
          for (const ks of changed) {
            const entry = desired.get(ks);
            if (entry) this.fail(table, ks, 0, failure, entry.owners);
            else this.clear(table, ks);
          }
        }
        if (desired.size > 0) tableError = failure.message;
        continue;
      }

      let current = this.cache.get(table);
      const whole = kind === 'full' || !current || supportChanged || this.unreadable.has(table);
      if (kind === 'full' || !current) {
        try {
          current = await listTable(dataplane, table, current);
        } catch (err) {
          result.listFailed = result.retryable = true;
          this.unreadable.add(table);
          const failure = asFailure(err, `list ${table}`);
          this.clearTable(table);
          for (const [ks, entry] of desired) this.fail(table, ks, 0, failure, entry.owners);
          if (desired.size === 0) ownerless++;
          tableError = failure.message;
          continue;
        }
        this.cache.set(table, current);
      }
      this.unreadable.delete(table);

      const plan: TablePlan = { table, current, upserts: [], deletes: [] };
      const compare = (ks: string, entry: Entry): void => {
        this.work.compared++;
        const have = current.get(ks);
        if (have && (have.value === entry.value || sameJson(have.value, entry.value))) {
          have.value = entry.value; // the same JSON: keep the rendered object, so next time is an identity check
          have.owners = entry.owners;
          this.clear(table, ks, entry.owners);
        } else {
          plan.upserts.push(ks);
        }
      };
      if (whole) {
        this.clearTable(table);
        for (const [ks, entry] of desired) compare(ks, entry);
        for (const [ks, have] of current) if (!desired.has(ks)) plan.deletes.push([ks, have]);
      } else {
        const look = (ks: string): void => {
          const entry = desired.get(ks);
          const have = current.get(ks);
          if (entry) compare(ks, entry);
          else if (have) plan.deletes.push([ks, have]);
          else this.clear(table, ks);
        };
        if (changed) for (const ks of changed) look(ks);
        // What failed last time is retried every pass.
        const failed = this.failures.get(table)!;
        if (failed.size > 0) for (const ks of [...failed.keys()]) if (!changed?.has(ks)) look(ks);
      }
      order?.(table, plan.upserts);
      plans.push(plan);
    }

    // Deletes first, so that what goes away frees map space for what comes in;
    // in reverse table order, so nothing is left pointing at a deleted entry.
    for (const { table, current, deletes } of [...plans].reverse()) {
      for (const [ks, have] of deletes) {
        try {
          await dataplane.delete(table, have.key as TableKey<typeof table>);
          current.delete(ks);
          result.deleted++;
          this.clear(table, ks);
        } catch (err) {
          result.retryable = true;
          // Owners of a stale entry that still exist are not as desired; the
          // ones that were deleted have no status left to set.
          const failure = asFailure(err, `delete ${table} ${ks}`);
          this.fail(table, ks, 1, failure, have.owners);
          opError = failure.message;
        }
      }
    }

    // Then upserts in table order: what an entry leads to exists before it.
    for (const { table, current, upserts } of plans) {
      const desired = desiredTables[table] as Map<string, Entry>;
      for (const ks of upserts) {
        const entry = desired.get(ks)!;
        try {
          await dataplane.upsert(table, entry.key, entry.value);
          current.set(ks, { key: entry.key, value: entry.value, owners: entry.owners });
          result.updated++;
          this.clear(table, ks, entry.owners);
        } catch (err) {
          current.delete(ks);
          const failure = asFailure(err, `upsert ${table} ${ks}`);
          if (failure.code !== 'UNIMPLEMENTED') result.retryable = true;
          this.fail(table, ks, 2, failure, entry.owners);
          opError = failure.message;
        }
      }
    }

    result.errors = this.failureCount + ownerless;
    result.lastError = opError || tableError;
    return result;
  }

  // ------------------------------------------------------------------ failure records

  /** Records (or keeps) an entry's failure; touches its owners if it is new or different. */
  private fail(table: TableName, ks: string, phase: FailurePhase, failure: Failure, owners: readonly ResourceRef[]): void {
    const records = this.failures.get(table)!;
    const old = records.get(ks);
    if (old && old.phase === phase && old.failure.code === failure.code && old.failure.message === failure.message) {
      if (old.owners !== owners) {
        // Same failure, other owners: those who joined or left are the renderer's ownership changes
        // (desired entries); a stale entry's owners only change here.
        if (phase === 1) {
          this.unindexStale(old);
          this.touch(old.owners);
          old.owners = owners;
          this.indexStale(old);
          this.touch(owners);
        } else {
          old.owners = owners;
        }
      }
      return;
    }
    if (old) this.remove(old);
    const record: EntryFailure = { table, ks, phase, failure, owners, seq: ++this.seq };
    records.set(ks, record);
    this.failureCount++;
    if (phase === 1) this.indexStale(record);
    this.touch(owners);
    if (old) this.touch(old.owners);
  }

  /** The entry is as desired (or gone from both sides): forgets its failure. */
  private clear(table: TableName, ks: string, owners?: readonly ResourceRef[]): void {
    const old = this.failures.get(table)!.get(ks);
    if (!old) return;
    this.remove(old);
    this.touch(old.owners);
    if (owners && owners !== old.owners) this.touch(owners);
  }

  private clearTable(table: TableName): void {
    for (const record of [...this.failures.get(table)!.values()]) this.clear(table, record.ks);
  }

  private remove(record: EntryFailure): void {
    this.failures.get(record.table)!.delete(record.ks);
    this.failureCount--;
    if (record.phase === 1) this.unindexStale(record);
  }

  private indexStale(record: EntryFailure): void {
    for (const ref of record.owners) {
      const key = refKey(ref);
      let set = this.staleByOwner.get(key);
      if (!set) this.staleByOwner.set(key, (set = new Set()));
      set.add(record);
    }
  }

  private unindexStale(record: EntryFailure): void {
    for (const ref of record.owners) {
      const key = refKey(ref);
      const set = this.staleByOwner.get(key);
      set?.delete(record);
      if (set?.size === 0) this.staleByOwner.delete(key);
    }
  }

  private touch(owners: readonly ResourceRef[]): void {
    for (const ref of owners) this.touched.add(refKey(ref));
  }
}

/** Which of two entry failures a pass meets first. */
export function firstFailure(a: EntryFailure, b: EntryFailure): EntryFailure {
  if (a.phase !== b.phase) return a.phase < b.phase ? a : b;
  if (a.table !== b.table) {
    const ia = TABLE_NAMES.indexOf(a.table);
    const ib = TABLE_NAMES.indexOf(b.table);
    return (a.phase === 1 ? ia > ib : ia < ib) ? a : b; // deletes go in reverse table order
  }
  return a.seq <= b.seq ? a : b;
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
    current.set(ks, { key: e.key, value: e.value, owners: known?.get(ks)?.owners ?? [] });
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
