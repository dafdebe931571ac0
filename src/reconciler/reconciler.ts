// Keeps the dataplane equal to the rendered desired state, and says per
// resource how far that got.
//
// Passes. Every pass renders the whole snapshot (render is cheap and pure) and
// applies the difference (apply.ts):
// - incremental, after changes: diffed against what this reconciler last
//   applied (its cache), no dataplane reads;
// - full, at start and every fullPassIntervalMs: diffed against the
//   dataplane's real contents, which repairs drift and prunes strays. The
//   first full pass adopts whatever a previous daemon left: equal entries are
//   not rewritten, so forwarding does not blink on restart.
//
// Coalescing. Changes only mark work as wanted; one loop runs passes one at a
// time. The loop starts a microtask after the first change, so a synchronous
// burst of commits is one pass, and any changes that arrive while a pass runs
// are all covered by the single pass that follows it. A full pass covers an
// incremental one, never the other way round.
//
// Retries. A pass whose failures might go away on their own (a full map, a
// dataplane error) schedules another pass with exponential backoff, capped at
// the full-pass interval; changes and the periodic full pass retry too.
// Failures that need a change to the desired state (UNIMPLEMENTED, render
// problems) wait for that change.

import type { ResourceKind, Uuid } from '../model/types.js';
import type { Change, DesiredStateService } from '../store/api.js';
import { type AppliedCache, type PassKind, applyRendered } from './apply.js';
import type { Dataplane } from './dataplane.js';
import { render } from './render.js';
import { type ResourceStatus, StatusBook, type StatusListener } from './status.js';

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

type StateSource = Pick<DesiredStateService, 'snapshot' | 'revision' | 'onChange'>;

const NO_LOG: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export class Reconciler {
  /** Resolves when the first full pass has finished (health turns SERVING). */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private isReadyFlag = false;

  private readonly log: Logger;
  private readonly book: StatusBook;
  private readonly cache: AppliedCache = new Map();

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
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /** Subscribes to changes and runs the first full pass; resolves with `ready`. */
  start(): Promise<void> {
    if (this.started) throw new Error('Reconciler already started');
    this.started = true;
    // Subscribe before reading the state so that no change falls in between.
    this.unsubscribe = this.state.onChange((changes) => this.onChanges(changes));
    this.book.seed(this.state.snapshot(), this.state.revision);
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

  /** Asks for a full pass soon (e.g. after an interface came back). */
  requestFullPass(): void {
    this.request('full');
  }

  /** Resolves when no pass is running or wanted (timers may still start one later). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private onChanges(changes: readonly Change[]): void {
    for (const c of changes) this.book.changed({ kind: c.kind, id: c.id }, c.revision, c.type === 'deleted');
    this.request('incremental');
  }

  private request(kind: PassKind): void {
    if (this.stopped || !this.started) return;
    if (kind === 'full' || this.needsFull) this.wanted = 'full';
    else this.wanted ??= 'incremental';
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    // Let the rest of a synchronous burst of changes arrive first.
    await Promise.resolve();
    try {
      while (this.wanted && !this.stopped) {
        const kind = this.wanted;
        this.wanted = undefined;
        await this.pass(kind);
      }
    } finally {
      this.loop = undefined;
    }
  }

  private async pass(kind: PassKind): Promise<void> {
    const startedUnixMs = Date.now();
    const startedAt = performance.now();
    // Read together, in one tick: the snapshot is the state at `revision`.
    const revision = this.state.revision;
    const snapshot = this.state.snapshot();

    let summary: PassSummary;
    let retryable: boolean;
    try {
      const rendered = render(snapshot, this.options.node);
      const result = await applyRendered(kind, rendered, this.dataplane, this.cache);
      this.needsFull = result.listFailed;
      retryable = result.retryable;
      this.book.settle(snapshot, revision, result.failures);
      summary = {
        revision,
        kind,
        startedUnixMs,
        durationMs: Math.round(performance.now() - startedAt),
        updated: result.updated,
        deleted: result.deleted,
        errors: result.errors,
        lastError: result.lastError,
      };
    } catch (err) {
      // A bug, not a dataplane failure (those are per entry): keep statuses,
      // trust nothing cached, try again.
      this.log.error({ err, kind, revision }, 'reconcile pass failed');
      this.needsFull = true;
      retryable = true;
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
