// Keeps the dataplane equal to the rendered desired state, and says per
// resource how far that got.
//
// Passes. The desired tables are kept by an incremental renderer
// (incremental.ts): each change re-renders only the resources it affects, and
// a pass applies only the entries that changed (apply.ts), so a pass costs what
// changed, not the size of the state:
// - incremental, after changes: the changes (the exact list each commit
//   announces, with the resources) go to the renderer; the changed entries are
//   diffed against what this reconciler last applied (its cache), no dataplane
//   reads; statuses are settled for the changed resources and for those whose
//   failures changed;
// - full, at start and every fullPassIntervalMs: the renderer is brought in
//   line with a snapshot of the state (objects are compared by identity), and
//   every entry is diffed against the dataplane's real contents, which repairs
//   drift and prunes strays; every status is settled. The first full pass
//   adopts whatever a previous daemon left: equal entries are not rewritten, so
//   forwarding does not blink on restart.
// render() (render.ts) remains the definition of the tables; the renderer
// equals it after every change (tested by comparing them on random changes).
//
// Coalescing. Changes only mark work as wanted; one loop runs passes one at a
// time. Before each pass the loop lets the event loop take in I/O
// (setImmediate), so a burst of commits is one pass, the reply to the request
// that made a change is written before the pass runs (the client's next
// request overlaps it), and requests are never starved by back-to-back
// passes; any changes that arrive while a pass runs are all covered by the
// single pass that follows it. A full pass covers an incremental one, never
// the other way round.
//
// Retries. A pass whose failures might go away on their own (a full map, a
// dataplane error) schedules another pass with exponential backoff, capped at
// the full-pass interval; changes and the periodic full pass retry too.
// Failures that need a change to the desired state (UNIMPLEMENTED, render
// problems, among them the partial ones of features not implemented: DHCP,
// security groups) wait for that change.

import type { AnyResource, ResourceKind, Snapshot, Uuid } from '../model/types.js';
import type { Change, DesiredStateService } from '../store/api.js';
import { Applier, type EntryFailure, type PassKind, firstFailure } from './apply.js';
import type { Dataplane } from './dataplane.js';
import { IncrementalRender } from './incremental.js';
import { type Failure, type ResourceStatus, StatusBook, type StatusListener } from './status.js';

export type { PassKind } from './apply.js';

/** Satisfied by pino's logger. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ReconcilerOptions {
  node: { vtepIp: string };
  /** Period of the drift-repairing full pass; 0 turns it off (tests). */
  fullPassIntervalMs: number;
  /** First retry delay after a pass with retryable failures; doubles per failed pass. Default 1000. */
  retryDelayMs?: number;
  logger?: Logger;
}

/** The last finished pass (proto ReconcileSummary). */
export interface PassSummary {
  /** The desired-state revision the pass applied. */
  revision: number;
  kind: PassKind;
  startedUnixMs: number;
  durationMs: number;
  updated: number;
  deleted: number;
  errors: number;
  lastError: string;
}

/** Work done since start, summed over passes: counts (not timings) for tests and diagnostics. */
export interface ReconcilerWork {
  /** Resources rendered (per-resource fragments). */
  fragments: number;
  /** Table keys whose claims were re-resolved. */
  keys: number;
  /** Flood lists rebuilt. */
  floodLists: number;
  /** Desired entries compared with the cache or the dataplane. */
  compared: number;
  /** Resources whose status a pass looked at. */
  statuses: number;
}

type StateSource = Pick<DesiredStateService, 'snapshot' | 'revision' | 'onChange' | 'get'>;

/**
 * Lets the event loop take in I/O before a pass. Bound when the module loads:
 * it is a yield, not a timer, so tests that fake timers do not have to advance
 * them for passes to run.
 */
const yieldToIo: () => Promise<void> = ((immediate) => () => new Promise<void>((resolve) => immediate(resolve)))(
  globalThis.setImmediate,
);

const NO_LOG: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export class Reconciler {
  /** Resolves when the first full pass has finished (health turns SERVING). */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private isReadyFlag = false;

  private readonly log: Logger;
  private readonly book: StatusBook;
  private renderer: IncrementalRender;
  private readonly applier: Applier;
  /** Changes not yet given to the renderer, latest per resource. */
  private queued = new Map<string, { kind: ResourceKind; id: Uuid; resource: AnyResource | undefined }>();
  private readonly workDone = { fragments: 0, keys: 0, floodLists: 0, statuses: 0 };

  private started = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  /** The strongest pass asked for since the loop last picked one up. */
  private wanted: PassKind | undefined;
  private loop: Promise<void> | undefined;
  private fullTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAttempt = 0;
  /** A table could not be read: the next pass must be full to know the truth. */
  private needsFull = false;

  private last: PassSummary | undefined;
  private readonly counts = { full: 0, incremental: 0 };

  constructor(
    private readonly state: StateSource,
    private readonly dataplane: Dataplane,
    private readonly options: ReconcilerOptions,
  ) {
    this.log = options.logger ?? NO_LOG;
    this.book = new StatusBook((err) => this.log.error({ err }, 'status listener threw'));
    this.renderer = new IncrementalRender(options.node);
    this.applier = new Applier(dataplane);
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /** Subscribes to changes and runs the first full pass; resolves with `ready`. */
  start(): Promise<void> {
    if (this.started) throw new Error('Reconciler already started');
    this.started = true;
    // Subscribe before reading the state so that no change falls in between.
    this.unsubscribe = this.state.onChange((changes) => this.onChanges(changes));
    this.book.seed(this.state.snapshot(), (ref) => this.state.get(ref.kind, ref.id)?.revision ?? this.state.revision);
    this.request('full');
    return this.ready;
  }

  /** Stops timers and change handling; resolves once a pass in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.fullTimer);
    clearTimeout(this.retryTimer);
    await this.loop;
  }

  get isReady(): boolean {
    return this.isReadyFlag;
  }

  /** undefined for a resource this reconciler has not seen (or that was deleted). */
  status(kind: ResourceKind, id: Uuid): ResourceStatus | undefined {
    return this.book.get(kind, id);
  }

  /** Called on every status change; returns an unsubscribe function. */
  onStatus(listener: StatusListener): () => void {
    return this.book.on(listener);
  }

  /** The last finished pass; undefined before the first. */
  summary(): PassSummary | undefined {
    return this.last && { ...this.last };
  }

  /** Passes finished since start, by kind. */
  get passes(): { full: number; incremental: number } {
    return { ...this.counts };
  }

  /** Work done since start (counts, for tests and diagnostics; not part of the API). */
  get work(): ReconcilerWork {
    const r = this.renderer.work;
    return {
      fragments: this.workDone.fragments + r.fragments,
      keys: this.workDone.keys + r.keys,
      floodLists: this.workDone.floodLists + r.floodLists,
      compared: this.applier.work.compared,
      statuses: this.workDone.statuses,
    };
  }

  /** Asks for a full pass soon (e.g. after an interface came back). */
  requestFullPass(): void {
    this.request('full');
  }

  /** Resolves when no pass is running or wanted (timers may still start one later). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) {
      this.book.changed({ kind: c.kind, id: c.id }, c.revision, c.type === 'deleted');
      this.queued.set(`${c.kind}/${c.id}`, { kind: c.kind, id: c.id, resource: c.type === 'deleted' ? undefined : c.resource });
    }
    this.request('incremental');
  }

  private request(kind: PassKind): void {
    if (this.stopped || !this.started) return;
    if (kind === 'full' || this.needsFull) this.wanted = 'full';
    else this.wanted ??= 'incremental';
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    try {
      // Before each pass, let the event loop take in I/O: the reply to the
      // request that made the change goes out first (the client's next request
      // overlaps the pass), and commits that land meanwhile join the pass.
      while (this.wanted && !this.stopped) {
        await yieldToIo();
        if (!this.wanted || this.stopped) break;
        const kind = this.wanted;
        this.wanted = undefined;
        await this.pass(kind);
      }
    } finally {
      this.loop = undefined;
    }
  }

  private async pass(wanted: PassKind): Promise<void> {
    const startedUnixMs = Date.now();
    const startedAt = performance.now();
    // Nothing cached can be trusted after a pass that could not read a table or that broke.
    const kind: PassKind = this.needsFull ? 'full' : wanted;
    // Read together, in one tick: the renderer is given the state at `revision`.
    const revision = this.state.revision;
    const snapshot: Snapshot | undefined = kind === 'full' ? this.state.snapshot() : undefined;
    const queued = this.queued;
    this.queued = new Map();

    let summary: PassSummary;
    let retryable: boolean;
    try {
      if (snapshot) this.renderer.resync(snapshot); // it has the queued changes
      else for (const c of queued.values()) this.renderer.set(c.kind, c.id, c.resource);
      const delta = this.renderer.flush();
      const renderer = this.renderer;
      const result = await this.applier.apply(kind, renderer.tables, delta.dirty, (table, keys) =>
        renderer.sortInRenderOrder(table, keys),
      );
      this.needsFull = result.listFailed;
      retryable = result.retryable;
      const failures = { get: (key: string) => this.failureOf(key) };
      if (snapshot) {
        this.book.settle(snapshot, revision, failures);
        this.workDone.statuses += snapshot.networks.length + snapshot.subnets.length + snapshot.ports.length + snapshot.routers.length + snapshot.floatingIps.length;
      } else {
        this.workDone.statuses += this.book.settleSome(
          revision,
          [delta.problemsChanged, delta.ownershipChanged, result.touched],
          (ref) => this.renderer.resource(ref.kind, ref.id),
          failures,
        );
      }
      summary = {
        revision,
        kind,
        startedUnixMs,
        durationMs: Math.round(performance.now() - startedAt),
        updated: result.updated,
        deleted: result.deleted,
        errors: this.renderer.problemCount + result.errors,
        lastError: result.lastError || (this.renderer.lastProblem()?.message ?? ''),
      };
    } catch (err) {
      // A bug, not a dataplane failure (those are per entry): keep statuses,
      // trust nothing cached or rendered, try again with a full pass.
      this.log.error({ err, kind, revision }, 'reconcile pass failed');
      this.needsFull = true;
      retryable = true;
      this.restartRenderer();
      summary = {
        revision,
        kind,
        startedUnixMs,
        durationMs: Math.round(performance.now() - startedAt),
        updated: 0,
        deleted: 0,
        errors: 1,
        lastError: err instanceof Error ? err.message : String(err),
      };
    }

    this.last = summary;
    this.counts[kind]++;
    const log = summary.errors > 0 ? this.log.warn.bind(this.log) : this.log.debug.bind(this.log);
    log(summary, 'reconcile pass');

    if (kind === 'full') {
      this.armFullTimer();
      if (!this.isReadyFlag) {
        this.isReadyFlag = true;
        this.log.info({ revision }, 'first full reconcile finished');
        this.resolveReady();
      }
    }
    this.armRetry(retryable);
  }

  /**
   * A resource's status failure: its first render problem that kept it from
   * being rendered, else the first failure among the entries it owns (or
   * owned), else its first partial problem (a feature not implemented while
   * its entries are in place: render.ts). So a port with security groups
   * whose interface is not there yet says UNAVAILABLE, which is why it does
   * not forward, until it does; then it says that its groups are not enforced.
   */
  private failureOf(key: string): Failure | undefined {
    const problems = this.renderer.problemsOf(key);
    const problem = problems?.find((p) => !p.partial);
    if (problem) return { code: problem.code, message: problem.message };
    let first: EntryFailure | undefined;
    if (this.applier.failing > 0) {
      for (const [table, ks] of this.renderer.ownedEntries(key)) {
        const f = this.applier.entryFailure(table, ks);
        if (f) first = first ? firstFailure(first, f) : f;
      }
      for (const f of this.applier.staleFailures(key)) first = first ? firstFailure(first, f) : f;
    }
    if (first) return first.failure;
    const partial = problems?.[0];
    return partial && { code: partial.code, message: partial.message };
  }

  private restartRenderer(): void {
    const w = this.renderer.work;
    this.workDone.fragments += w.fragments;
    this.workDone.keys += w.keys;
    this.workDone.floodLists += w.floodLists;
    this.renderer = new IncrementalRender(this.options.node);
  }

  private armFullTimer(): void {
    clearTimeout(this.fullTimer);
    const interval = this.options.fullPassIntervalMs;
    if (this.stopped || !(interval > 0)) return;
    this.fullTimer = setTimeout(() => this.request('full'), interval);
    this.fullTimer.unref?.();
  }

  private armRetry(retryable: boolean): void {
    if (!retryable) {
      this.retryAttempt = 0;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      return;
    }
    if (this.stopped || this.retryTimer) return; // one retry pending is enough
    const base = this.options.retryDelayMs ?? 1000;
    const cap = this.options.fullPassIntervalMs > 0 ? this.options.fullPassIntervalMs : 60_000;
    const delay = Math.min(base * 2 ** this.retryAttempt, cap);
    this.retryAttempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.request('incremental');
    }, delay);
    this.retryTimer.unref?.();
  }
}
