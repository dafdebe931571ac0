// The desired-state service as the rest of the daemon sees it.
//
// Every mutation is validated against the current state, written durably
// (fsync'd) and only then applied in memory, announced to listeners and
// resolved. A mutation that is refused rejects with a model Rejection and
// changes nothing. Mutations are serialised: each sees the result of the one
// before it.

import type { ExternalGateway, FloatingIp, ResourceByKind, ResourceKind, Snapshot, Stored, Uuid } from '../model/types.js';

export interface ListOptions {
  /** 1..1000; default 100. */
  pageSize?: number;
  /** Opaque token from the previous page; empty or absent for the first page. */
  pageToken?: string;
  /** Subnets/ports: of this network; floating IPs: of this floating network. */
  networkId?: Uuid;
}

export interface Page<K extends ResourceKind> {
  items: Stored<K>[];
  /** Empty on the last page. */
  nextPageToken: string;
}

/** One resource change, as committed. */
export interface Change<K extends ResourceKind = ResourceKind> {
  type: 'added' | 'modified' | 'deleted';
  kind: K;
  id: Uuid;
  /** The desired-state revision of the commit that made this change. */
  revision: number;
  /** The resource after the change (before it, for 'deleted'). */
  resource: ResourceByKind[K];
}

export interface SyncResult {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  revision: number;
}

/** Listener for committed changes; called synchronously after each commit, in commit order. */
export type ChangeListener = (changes: readonly Change[], revision: number) => void;

export interface DesiredStateService {
  /** Revision of the last commit (0 for an empty, never-written state). */
  readonly revision: number;

  get<K extends ResourceKind>(kind: K, id: Uuid): Stored<K> | undefined;
  /** Sorted by id. Rejects (INVALID_ARGUMENT) a malformed token or page size. */
  list<K extends ResourceKind>(kind: K, options?: ListOptions): Page<K>;
  count(kind: ResourceKind): number;
  snapshot(): Snapshot;
  /** The router that carries an associated floating IP (derived from the state, never stored). */
  routerForFloatingIp(fip: FloatingIp): Uuid | null;

  /** Input may leave defaults unresolved (see src/model/types.ts and normalize). */
  create<K extends ResourceKind>(kind: K, input: ResourceByKind[K]): Promise<Stored<K>>;
  /** Only the fields named in `mask` (proto field names) are taken from `patch`. */
  update<K extends ResourceKind>(kind: K, id: Uuid, patch: ResourceByKind[K], mask: readonly string[]): Promise<Stored<K>>;
  /** Resolves with the resource as it was. */
  delete<K extends ResourceKind>(kind: K, id: Uuid): Promise<Stored<K>>;

  addRouterInterface(routerId: Uuid, subnetId: Uuid, ipAddress: string | null): Promise<Stored<'router'>>;
  removeRouterInterface(routerId: Uuid, subnetId: Uuid): Promise<Stored<'router'>>;
  setRouterGateway(routerId: Uuid, gateway: ExternalGateway): Promise<Stored<'router'>>;
  clearRouterGateway(routerId: Uuid): Promise<Stored<'router'>>;

  /** Replaces the whole desired state; validated as a whole; writes only the difference. */
  sync(snapshot: Snapshot): Promise<SyncResult>;

  /** Returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void;
  close(): Promise<void>;
}
