// An in-memory Dataplane: the `dataplane: fake` mode of the daemon and the
// stand-in for BPF maps in unit and API tests. It behaves as the real one is
// meant to (idempotent upsert/delete, a full map refuses new keys with
// RESOURCE_EXHAUSTED, unsupported tables say so) and adds what tests need:
// an operations log, and ways to change it behind the reconciler's back.
//
// It stores and hands out copies (a caller changing a value afterwards changes
// nothing here), made by `copy`: table values are plain data, and a flood list
// can hold thousands of names, which structuredClone copies about 20 times
// slower than a plain walk does.

import { DataplaneError, type Dataplane, type DataplaneEntry, type TableSupport } from './dataplane.js';
import { type TableKey, type TableName, type TableValue, TABLE_NAMES, keyString } from './tables.js';

export interface FakeDataplaneOptions {
  /** Max entries per table (like a BPF map's max_entries); unlimited when absent. */
  capacity?: Partial<Record<TableName, number>>;
  /** Tables this dataplane does not implement, with the message owners will see. */
  unsupported?: Partial<Record<TableName, string>>;
}

export interface FakeOp {
  op: 'list' | 'upsert' | 'delete';
  table: TableName;
  /** keyString of the key; absent for list. */
  key?: string;
  /** Whether the operation succeeded. */
  ok: boolean;
}

interface Stored {
  key: unknown;
  value: unknown;
}

export class FakeDataplane implements Dataplane {
  /** Every call the reconciler made, in order. Tampering is not logged. */
  readonly ops: FakeOp[] = [];
  private readonly tables = new Map<TableName, Map<string, Stored>>(TABLE_NAMES.map((t) => [t, new Map()]));
  private readonly capacity = new Map<TableName, number>();
  private readonly unsupported = new Map<TableName, string>();
  private readonly failures = new Map<TableName, Error>();

  constructor(options: FakeDataplaneOptions = {}) {
    for (const [t, n] of Object.entries(options.capacity ?? {})) this.setCapacity(t as TableName, n);
    for (const [t, m] of Object.entries(options.unsupported ?? {})) this.setUnsupported(t as TableName, m);
  }

  supports(table: TableName): TableSupport {
    const message = this.unsupported.get(table);
    return message === undefined ? true : { code: 'UNIMPLEMENTED', message };
  }

  async list<T extends TableName>(table: T): Promise<DataplaneEntry<T>[]> {
    try {
      this.check(table);
    } catch (err) {
      this.ops.push({ op: 'list', table, ok: false });
      throw err;
    }
    this.ops.push({ op: 'list', table, ok: true });
    return [...this.map(table).values()].map((e) => copy(e) as DataplaneEntry<T>);
  }

  async upsert<T extends TableName>(table: T, key: TableKey<T>, value: TableValue<T>): Promise<void> {
    const ks = keyString(table, key);
    const map = this.map(table);
    try {
      this.check(table);
      const max = this.capacity.get(table);
      if (!map.has(ks) && max !== undefined && map.size >= max) {
        throw new DataplaneError('RESOURCE_EXHAUSTED', `${table} is full (${max} entries)`);
      }
    } catch (err) {
      this.ops.push({ op: 'upsert', table, key: ks, ok: false });
      throw err;
    }
    map.set(ks, copy({ key, value }));
    this.ops.push({ op: 'upsert', table, key: ks, ok: true });
  }

  async delete<T extends TableName>(table: T, key: TableKey<T>): Promise<void> {
    const ks = keyString(table, key);
    try {
      this.check(table);
    } catch (err) {
      this.ops.push({ op: 'delete', table, key: ks, ok: false });
      throw err;
    }
    this.map(table).delete(ks);
    this.ops.push({ op: 'delete', table, key: ks, ok: true });
  }

  // --- configuration ---------------------------------------------------------

  /** undefined: unlimited. Lowering it below the current size keeps what is there (as a real map would). */
  setCapacity(table: TableName, maxEntries: number | undefined): void {
    if (maxEntries === undefined) this.capacity.delete(table);
    else this.capacity.set(table, maxEntries);
  }

  /** null: supported again. */
  setUnsupported(table: TableName, message: string | null): void {
    if (message === null) this.unsupported.delete(table);
    else this.unsupported.set(table, message);
  }

  /** Every list/upsert/delete on `table` rejects with `error` until cleared with null. */
  setFailure(table: TableName, error: Error | null): void {
    if (error === null) this.failures.delete(table);
    else this.failures.set(table, error);
  }

  // --- inspection and tampering (not logged) ---------------------------------

  /** The value stored under a key string, or undefined. */
  get<T extends TableName>(table: T, ks: string): TableValue<T> | undefined {
    const e = this.map(table).get(ks);
    return e && (copy(e.value) as TableValue<T>);
  }

  /** Key strings of a table, sorted. */
  keys(table: TableName): string[] {
    return [...this.map(table).keys()].sort();
  }

  size(table: TableName): number {
    return this.map(table).size;
  }

  /** Removes an entry as an operator with bpftool would. */
  tamperDelete<T extends TableName>(table: T, key: TableKey<T>): boolean {
    return this.map(table).delete(keyString(table, key));
  }

  /** Writes an entry nobody asked for (or overwrites one), ignoring capacity. */
  tamperInsert<T extends TableName>(table: T, key: TableKey<T>, value: TableValue<T>): void {
    this.map(table).set(keyString(table, key), copy({ key, value }));
  }

  clearOps(): void {
    this.ops.length = 0;
  }

  private map(table: TableName): Map<string, Stored> {
    const map = this.tables.get(table);
    if (!map) throw new Error(`unknown table ${table}`);
    return map;
  }

  private check(table: TableName): void {
    const unsupported = this.unsupported.get(table);
    if (unsupported !== undefined) throw new DataplaneError('UNIMPLEMENTED', unsupported);
    const failure = this.failures.get(table);
    if (failure) throw failure;
  }
}

/** A deep copy of plain data (arrays, plain objects, primitives); anything else goes through structuredClone. */
function copy<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (const item of value) if (item !== null && typeof item === 'object') return value.map(copy) as T;
    return value.slice() as T; // primitives only (a list of names): a flat copy is a deep one
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = copy((value as Record<string, unknown>)[k]);
  return out as T;
}

