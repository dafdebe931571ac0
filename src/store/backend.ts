// What the desired state needs from durable storage: load everything once,
// then commit batches atomically and durably.

import type { AnyResource, ResourceKind, Stored, Uuid } from '../model/types.js';

export interface CommitBatch {
  /** The revision this commit creates; also recorded as the state's revision. */
  revision: number;
  /** Resources written (added or modified), each at `revision`. */
  puts: ReadonlyArray<{ kind: ResourceKind; resource: AnyResource }>;
  deletes: ReadonlyArray<{ kind: ResourceKind; id: Uuid }>;
}

export interface LoadedState {
  revision: number;
  stored: Stored[];
}

export interface StateBackend {
  load(): Promise<LoadedState>;
  /** Resolves once the whole batch is durable (fsync'd); all of it or none of it is applied. */
  commit(batch: CommitBatch): Promise<void>;
  close(): Promise<void>;
}
