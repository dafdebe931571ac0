// Per-resource status as the API shows it (proto ResourceStatus), and the
// book that keeps it: which revision each resource is at, which pass settled
// it, and who wants to hear when it changes.
//
// PENDING: changed at a revision no finished pass has covered yet.
// ACTIVE / DOWN (admin_state_up false) / ERROR: settled by the last pass that
// covered the resource's revision. A resource keeps PENDING across a pass that
// started before its change.
//
// A full pass settles every resource (settle). An incremental pass settles the
// resources changed since a pass last settled them, plus those whose failure
// may have changed (settleSome): the renderer and the applier say which.

import type { AnyResource, ResourceKind, Snapshot, Uuid } from '../model/types.js';
import { type ResourceRef, parseRefKey, refKey } from './tables.js';

export type ResourceState = 'PENDING' | 'ACTIVE' | 'DOWN' | 'ERROR';

/** gRPC status names an ERROR carries. */
export type StatusCode =
  | 'UNIMPLEMENTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION';

export interface ResourceStatus {
  state: ResourceState;
  /** For ERROR: a StatusCode; '' otherwise. */
  code: string;
  message: string;
  /** The revision of the resource this status describes. */
  revision: number;
}

export interface StatusEvent {
  kind: ResourceKind;
  id: Uuid;
  status: ResourceStatus;
}

export type StatusListener = (event: StatusEvent) => void;

export interface Failure {
  code: StatusCode;
  message: string;
}

const SNAPSHOT_LISTS: readonly [ResourceKind, keyof Snapshot][] = [
  ['network', 'networks'],
  ['subnet', 'subnets'],
  ['port', 'ports'],
  ['router', 'routers'],
  ['floatingIp', 'floatingIps'],
];

/** Every resource of a snapshot with its ref. */
export function* snapshotResources(snapshot: Snapshot): Generator<{ ref: ResourceRef; resource: AnyResource }> {
  for (const [kind, list] of SNAPSHOT_LISTS) {
    for (const resource of snapshot[list]) yield { ref: { kind, id: resource.id }, resource };
  }
}

/** A resource's failure by refKey (a Map will do). */
export interface FailureLookup {
  get(refKey: string): Failure | undefined;
}

const adminDown = (r: AnyResource): boolean => 'adminStateUp' in r && !r.adminStateUp;

export class StatusBook {
  private readonly statuses = new Map<string, ResourceStatus>();
  /** The latest revision seen per resource; deleted ones stay as tombstones until a pass covers them. */
  private readonly revisions = new Map<string, { revision: number; deleted: boolean }>();
  private readonly listeners = new Set<StatusListener>();
  /** Changed (or deleted) since a pass last settled them: PENDING, or a tombstone. */
  private readonly unsettled = new Map<string, ResourceRef>();

  /** A throwing listener must not break a pass; its error goes here. */
  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  get(kind: ResourceKind, id: Uuid): ResourceStatus | undefined {
    const s = this.statuses.get(refKey({ kind, id }));
    return s && { ...s };
  }

  on(listener: StatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A committed change: PENDING at its revision, or gone for a delete. */
  changed(ref: ResourceRef, revision: number, deleted: boolean): void {
    const key = refKey(ref);
    this.revisions.set(key, { revision, deleted });
    this.unsettled.set(key, ref);
    if (deleted) this.statuses.delete(key);
    else this.set(ref, { state: 'PENDING', code: '', message: '', revision });
  }

  /**
   * Resources already in the state at start: PENDING until the first pass, at
   * their own stored revision (what a status's revision describes), not the
   * state's.
   */
  seed(snapshot: Snapshot, revisionOf: (ref: ResourceRef) => number): void {
    for (const { ref } of snapshotResources(snapshot)) {
      if (!this.revisions.has(refKey(ref))) this.changed(ref, revisionOf(ref), false);
    }
  }

  /**
   * A pass that applied `snapshot` (the state at `revision`) finished: each
   * resource it covered becomes ERROR (first failure), DOWN or ACTIVE.
   */
  settle(snapshot: Snapshot, revision: number, failures: FailureLookup): void {
    const present = new Set<string>();
    for (const { ref, resource } of snapshotResources(snapshot)) {
      const key = refKey(ref);
      present.add(key);
      let tracked = this.revisions.get(key);
      if (!tracked) {
        // First seen in a snapshot (not through a change): the snapshot's
        // revision is an upper bound of the resource's own.
        tracked = { revision, deleted: false };
        this.revisions.set(key, tracked);
      }
      if (tracked.revision > revision) continue; // changed (or deleted) after this pass began
      this.settleOne(key, ref, resource, tracked.revision, failures);
    }
    for (const [key, tracked] of this.revisions) {
      if (present.has(key) || tracked.revision > revision) continue;
      // Gone from the state as of this pass.
      this.forget(key);
    }
  }

  /**
   * An incremental pass that applied the state at `revision` finished: settles
   * the resources changed since a pass last settled them (unless changed again
   * after this one began) and those in `touched` (refs or refKeys: whose
   * failure may have changed); forgets the deleted ones. `lookup` gives a resource as of the
   * pass. Returns how many resources it looked at.
   */
  settleSome(
    revision: number,
    touched: Iterable<Iterable<string | ResourceRef>>,
    lookup: (ref: ResourceRef) => AnyResource | undefined,
    failures: FailureLookup,
  ): number {
    let looked = 0;
    const visit = (key: string, ref: ResourceRef): void => {
      looked++;
      let tracked = this.revisions.get(key);
      const resource = tracked?.deleted ? undefined : lookup(ref);
      if (!tracked) {
        if (!resource) return;
        tracked = { revision, deleted: false };
        this.revisions.set(key, tracked);
      }
      if (tracked.revision > revision) return; // changed (or deleted) after this pass began
      if (tracked.deleted) this.forget(key);
      else if (resource) this.settleOne(key, ref, resource, tracked.revision, failures);
      // else: not in the state the pass applied (cannot happen); the next full pass settles it.
    };
    const seen = new Set<string>();
    // Visiting deletes the entry visited, which a Map's iteration allows.
    for (const [key, ref] of this.unsettled) {
      seen.add(key);
      visit(key, ref);
    }
    for (const items of touched) {
      for (const item of items) {
        const key = typeof item === 'string' ? item : refKey(item);
        if (seen.has(key)) continue;
        seen.add(key);
        visit(key, typeof item === 'string' ? parseRefKey(item) : item);
      }
    }
    return looked;
  }

  private settleOne(key: string, ref: ResourceRef, resource: AnyResource, revision: number, failures: FailureLookup): void {
    this.unsettled.delete(key);
    const failure = failures.get(key);
    this.set(
      ref,
      failure
        ? { state: 'ERROR', code: failure.code, message: failure.message, revision }
        : { state: adminDown(resource) ? 'DOWN' : 'ACTIVE', code: '', message: '', revision },
    );
  }

  private forget(key: string): void {
    this.unsettled.delete(key);
    this.revisions.delete(key);
    this.statuses.delete(key);
  }

  private set(ref: ResourceRef, status: ResourceStatus): void {
    const key = refKey(ref);
    const old = this.statuses.get(key);
    if (
      old &&
      old.state === status.state &&
      old.code === status.code &&
      old.message === status.message &&
      old.revision === status.revision
    ) {
      return;
    }
    this.statuses.set(key, status);
    for (const listener of this.listeners) {
      try {
        listener({ kind: ref.kind, id: ref.id, status: { ...status } });
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
