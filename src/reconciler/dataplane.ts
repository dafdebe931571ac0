// What the reconciler drives: a store of logical table entries (tables.ts).
// The BPF dataplane encodes them into pinned maps; FakeDataplane keeps them in
// memory. The reconciler never assumes more than this interface says.

import type { TableKey, TableName, TableValue } from './tables.js';

/** gRPC status names a dataplane failure maps to (they become the owners' ERROR code). */
export type DataplaneErrorCode = 'UNIMPLEMENTED' | 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE' | 'INTERNAL';

/**
 * A failure the dataplane can name. RESOURCE_EXHAUSTED is the capacity signal:
 * an upsert of a new key into a full map. Anything else thrown counts as INTERNAL.
 */
export class DataplaneError extends Error {
  override name = 'DataplaneError';

  constructor(
    readonly code: DataplaneErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** true, or why this dataplane has no such table (the message reaches the owners' status). */
export type TableSupport = true | { code: 'UNIMPLEMENTED' | 'UNAVAILABLE'; message: string };

export interface DataplaneEntry<T extends TableName = TableName> {
  key: TableKey<T>;
  value: TableValue<T>;
}

export interface Dataplane {
  /** Static per table; the reconciler makes no other call for an unsupported table. */
  supports(table: TableName): TableSupport;
  /**
   * What is really in the table now. Values must decode to exactly what render
   * produces for an entry written by upsert (after canonicalJson), or every
   * full pass rewrites the entry.
   */
  list<T extends TableName>(table: T): Promise<DataplaneEntry<T>[]>;
  /** Insert or replace. Idempotent. Rejects with DataplaneError RESOURCE_EXHAUSTED when a new key does not fit. */
  upsert<T extends TableName>(table: T, key: TableKey<T>, value: TableValue<T>): Promise<void>;
  /** Idempotent: deleting an absent key succeeds. */
  delete<T extends TableName>(table: T, key: TableKey<T>): Promise<void>;
}
