// A serial worker for the next-hop resolvers (nexthops.ts for the underlay,
// external-nexthops.ts for the external NICs): events and timers queue work,
// one loop does it, one step at a time, never two at once, until nothing is
// left. Full passes are counted in generations, so that refresh() resolves
// only when a pass that started after the call has finished, however many
// requests were folded into it.

/** What to do next: a full pass, another step, or nothing. */
export type WorkStep = 'full' | (() => Promise<void>) | undefined;

export interface WorkLoopOptions {
  /**
   * The next step, in the owner's order of priority; `fullPending` says
   * whether a full pass is wanted (return 'full' to run it now).
   */
  next(fullPending: boolean): WorkStep;
  fullPass(): Promise<void>;
  /** A step threw what it did not handle itself; the loop goes on. */
  onError(err: unknown): void;
}

export class WorkLoop {
  private closed = false;
  private running: Promise<void> | undefined;
  private fullRequested = 0;
  private fullDone = 0;
  private readonly waiters: { generation: number; resolve: () => void }[] = [];

  constructor(private readonly opts: WorkLoopOptions) {}

  /** Asks for a full pass; returns its generation. */
  requestFull(): number {
    this.fullRequested++;
    this.kick();
    return this.fullRequested;
  }

  /** A full pass that starts after this call; resolves when it is over (at once when closed). */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const generation = this.requestFull();
    return new Promise((resolve) => this.waiters.push({ generation, resolve }));
  }

  /** Work was queued: runs the loop unless it is running (it will look again) or closed. */
  kick(): void {
    if (this.closed || this.running) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
      // Work queued by the last step of the loop, after it looked.
      if (this.next() !== undefined) this.kick();
    });
  }

  /** No more steps start; pending refresh() calls resolve. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private next(): WorkStep {
    return this.closed ? undefined : this.opts.next(this.fullRequested > this.fullDone);
  }

  private async run(): Promise<void> {
    for (let step = this.next(); step !== undefined; step = this.next()) {
      try {
        if (step === 'full') await this.full();
        else await step();
      } catch (err) {
        // Each step handles the errors it expects; this is for the unexpected ones.
        if (this.closed) return;
        this.opts.onError(err);
      }
    }
  }

  private async full(): Promise<void> {
    const generation = this.fullRequested;
    try {
      await this.opts.fullPass();
    } finally {
      // Done even if it failed: the next request (or tick) tries again; looping now would spin.
      this.fullDone = generation;
      for (const w of this.waiters.filter((x) => x.generation <= generation)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
}
