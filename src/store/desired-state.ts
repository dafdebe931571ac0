// The desired state: the model's index in memory, persisted in LevelDB.
//
// Every mutation goes through one queue (a promise chain), so each sees the
// result of the one before it. For each: plan (pure, src/model/plan.ts; a
// Rejection ends it here with nothing changed) → commit the changes and the
// new revision as one durable batch → apply them to the in-memory index →
// bump the revision → tell listeners, synchronously, in commit order →
// resolve. If the commit fails the in-memory state is untouched and the
// promise rejects with the storage error.
//
// A mutation that changes nothing (an update to the same values, clearing an
// absent gateway) commits nothing and keeps the revision.
//
// Listeners: a listener that throws does not undo or stop anything: the
// commit has happened. The error goes to `onListenerError` (default: one line
// on stderr) and the other listeners are still called.
//
// Resources handed out (get, list, snapshot, results, changes) are deeply
// frozen and shared: copy before changing.

import {
  type Outcome,
  type PlannedChange,
  ResourceIndex,
  planAddRouterInterface,
  planClearRouterGateway,
  planCreate,
  planDelete,
  planRemoveRouterInterface,
  planSetRouterGateway,
  planSync,
  planUpdate,
  routerForFloatingIp,
} from '../model/index.js';
import type { ExternalGateway, FloatingIp, ResourceByKind, ResourceKind, Snapshot, Stored, Uuid } from '../model/types.js';
import type { Change, ChangeListener, DesiredStateService, ListOptions, Page, SyncResult } from './api.js';
import type { CommitBatch, StateBackend } from './backend.js';
import { LevelBackend } from './leveldb-backend.js';
import { checkNetworkFilter, checkPageSize, decodePageToken, encodePageToken, pageOf } from './paging.js';

export interface DesiredStateOptions {
  /** Called when a change listener throws. Default: one line on stderr. */
  onListenerError?: (error: unknown) => void;
}

export class DesiredStateClosedError extends Error {
  override name = 'DesiredStateClosedError';
  constructor() {
    super('the desired state is closed');
  }
}

const UUID_LIKE = /^[0-9a-fA-F-]{36}$/;

export class DesiredState implements DesiredStateService {
  private index: ResourceIndex;
  private rev: number;
  private tail: Promise<unknown> = Promise.resolve();
  private closing = false;
  private readonly listeners = new Set<ChangeListener>();
  private readonly onListenerError: (error: unknown) => void;

  private constructor(
    private readonly backend: StateBackend,
    index: ResourceIndex,
    revision: number,
    options: DesiredStateOptions,
  ) {
    this.index = index;
    this.rev = revision;
    this.onListenerError =
      options.onListenerError ??
      ((error) => process.stderr.write(`xdpnet desired state: a change listener threw: ${String((error as Error)?.stack ?? error)}\n`));
  }

  /** Opens (or creates) the desired state under `stateDir` and loads all of it. */
  static async open(stateDir: string, options: DesiredStateOptions = {}): Promise<DesiredState> {
    return DesiredState.openBackend(await LevelBackend.open(stateDir), options);
  }

  /** Over any backend (tests use this to make commits fail). */
  static async openBackend(backend: StateBackend, options: DesiredStateOptions = {}): Promise<DesiredState> {
    try {
      const loaded = await backend.load();
      return new DesiredState(backend, ResourceIndex.fromStored(loaded.stored), loaded.revision, options);
    } catch (e) {
      await backend.close().catch(() => undefined);
      throw e;
    }
  }

  get revision(): number {
    return this.rev;
  }

  /** The committed state, read-only. Replaced (not changed in place) by a sync. */
  get resources(): ResourceIndex {
    return this.index;
  }

  // ---------------------------------------------------------------- reads

  get<K extends ResourceKind>(kind: K, id: Uuid): Stored<K> | undefined {
    if (typeof id !== 'string' || !UUID_LIKE.test(id)) return undefined;
    return this.index.stored(kind, id.toLowerCase());
  }

  list<K extends ResourceKind>(kind: K, options: ListOptions = {}): Page<K> {
    const size = checkPageSize(options.pageSize);
    const networkId = checkNetworkFilter(kind, options.networkId);
    const after = decodePageToken(options.pageToken, kind, networkId);
    let ids: readonly string[];
    if (networkId === null) ids = this.index.sortedIds(kind);
    else if (kind === 'subnet') ids = [...this.index.subnetsOf(networkId)].sort();
    else if (kind === 'port') ids = [...this.index.portsOf(networkId)].sort();
    else ids = [...this.index.floatingIpsOnNetwork(networkId)].sort();
    const page = pageOf(ids, after, size);
    const items = page.ids.map((id) => this.index.stored(kind, id)!);
    const last = page.ids[page.ids.length - 1];
    return { items, nextPageToken: page.more && last !== undefined ? encodePageToken(kind, last, networkId) : '' };
  }

  count(kind: ResourceKind): number {
    return this.index.count(kind);
  }

  snapshot(): Snapshot {
    return this.index.snapshot();
  }

  /** The router that carries an associated floating IP (derived, never stored; see model/derive.ts), or null. */
  routerForFloatingIp(fip: FloatingIp): Uuid | null {
    return routerForFloatingIp(this.index, fip)?.id ?? null;
  }

  // ---------------------------------------------------------------- mutations

  create<K extends ResourceKind>(kind: K, input: ResourceByKind[K]): Promise<Stored<K>> {
    return this.mutate(() => planCreate(this.index, kind, input), kind);
  }

  update<K extends ResourceKind>(kind: K, id: Uuid, patch: ResourceByKind[K], mask: readonly string[]): Promise<Stored<K>> {
    return this.mutate(() => planUpdate(this.index, kind, id, patch, mask), kind);
  }

  delete<K extends ResourceKind>(kind: K, id: Uuid): Promise<Stored<K>> {
    return this.enqueue(async () => {
      const outcome = planDelete(this.index, kind, id);
      const before = this.index.stored(kind, outcome.resource.id)!;
      await this.commit(outcome.changes);
      return before;
    });
  }

  addRouterInterface(routerId: Uuid, subnetId: Uuid, ipAddress: string | null): Promise<Stored<'router'>> {
    return this.mutate(() => planAddRouterInterface(this.index, routerId, subnetId, ipAddress), 'router');
  }

  removeRouterInterface(routerId: Uuid, subnetId: Uuid): Promise<Stored<'router'>> {
    return this.mutate(() => planRemoveRouterInterface(this.index, routerId, subnetId), 'router');
  }

  setRouterGateway(routerId: Uuid, gateway: ExternalGateway): Promise<Stored<'router'>> {
    return this.mutate(() => planSetRouterGateway(this.index, routerId, gateway), 'router');
  }

  clearRouterGateway(routerId: Uuid): Promise<Stored<'router'>> {
    return this.mutate(() => planClearRouterGateway(this.index, routerId), 'router');
  }

  sync(snapshot: Snapshot): Promise<SyncResult> {
    return this.enqueue(async () => {
      const plan = planSync(this.index, snapshot);
      const revision = await this.commit(plan.changes, plan.next);
      return { created: plan.created, updated: plan.updated, deleted: plan.deleted, unchanged: plan.unchanged, revision };
    });
  }

  onChange(listener: ChangeListener): () => void {
    // Wrapped so that subscribing the same function twice gives two subscriptions.
    const entry: ChangeListener = (changes, revision) => listener(changes, revision);
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  /** Waits for queued mutations, then closes the database. Later mutations reject. */
  async close(): Promise<void> {
    if (this.closing) return this.tail.then(() => undefined);
    this.closing = true;
    const closed = this.tail.then(() => this.backend.close());
    this.tail = closed.catch(() => undefined);
    await closed;
  }

  // ---------------------------------------------------------------- internals

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new DesiredStateClosedError());
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private mutate<K extends ResourceKind>(plan: () => Outcome<K>, kind: K): Promise<Stored<K>> {
    return this.enqueue(async () => {
      const outcome = plan();
      await this.commit(outcome.changes);
      return this.index.stored(kind, outcome.resource.id)!;
    });
  }

  /**
   * Commits planned changes as one durable batch, then applies them (or swaps
   * in `next`, the validated new state of a sync), bumps the revision and
   * announces. Returns the revision after the commit.
   */
  private async commit(changes: readonly PlannedChange[], next?: ResourceIndex): Promise<number> {
    if (changes.length === 0) return this.rev; // `next` would equal the current index: keep the current one
    const revision = this.rev + 1;
    const batch: CommitBatch = {
      revision,
      puts: changes.filter((c) => c.type !== 'deleted').map((c) => ({ kind: c.kind, resource: c.resource })),
      deletes: changes.filter((c) => c.type === 'deleted').map((c) => ({ kind: c.kind, id: c.id })),
    };
    await this.backend.commit(batch);
    if (next) {
      for (const c of changes) if (c.type !== 'deleted') next.setRevision(c.kind, c.id, revision);
      this.index = next;
    } else {
      this.index.apply(changes, revision);
    }
    this.rev = revision;
    this.announce(changes, revision);
    return revision;
  }

  private announce(planned: readonly PlannedChange[], revision: number): void {
    if (this.listeners.size === 0) return;
    const changes: readonly Change[] = Object.freeze(
      planned.map((c) =>
        Object.freeze({
          type: c.type,
          kind: c.kind,
          id: c.id,
          revision,
          resource: c.type === 'deleted' ? c.resource : this.index.get(c.kind, c.id)!,
        }),
      ),
    );
    for (const listener of [...this.listeners]) {
      try {
        listener(changes, revision);
      } catch (error) {
        try {
          this.onListenerError(error);
        } catch {
          // Nothing left to tell.
        }
      }
    }
  }
}
