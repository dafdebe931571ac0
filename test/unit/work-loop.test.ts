// The next-hop resolvers' serial worker (src/dataplane/work-loop.ts).
import { describe, expect, it } from 'vitest';
import { WorkLoop, type WorkStep } from '../../src/dataplane/work-loop.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('WorkLoop', () => {
  it('runs queued steps one at a time, never two at once, until none is left', async () => {
    let queued = 3;
    let active = 0;
    let maxActive = 0;
    const loop = new WorkLoop({
      next: () =>
        queued > 0
          ? async () => {
              queued--;
              active++;
              maxActive = Math.max(maxActive, active);
              await tick();
              active--;
            }
          : undefined,
      fullPass: async () => {},
      onError: (err) => {
        throw err;
      },
    });
    loop.kick();
    loop.kick(); // while running: folded into the running loop
    for (let i = 0; i < 10 && queued > 0; i++) await tick();
    await tick();
    expect(queued).toBe(0);
    expect(maxActive).toBe(1);
  });

  it('refresh() resolves only after a full pass that started after the call; requests made during a pass get one more', async () => {
    const started: number[] = [];
    let passes = 0;
    let release: (() => void) | undefined;
    const loop = new WorkLoop({
      next: (fullPending): WorkStep => (fullPending ? 'full' : undefined),
      fullPass: () => {
        started.push(++passes);
        return new Promise<void>((resolve) => (release = resolve));
      },
      onError: () => {},
    });
    let first = false;
    void loop.refresh().then(() => (first = true));
    await tick();
    expect(started).toEqual([1]);
    let second = false;
    void loop.refresh().then(() => (second = true)); // asked while pass 1 runs
    release!();
    await tick();
    expect(first).toBe(true);
    expect(second).toBe(false); // pass 1 began before it was asked for
    expect(started).toEqual([1, 2]);
    release!();
    await tick();
    expect(second).toBe(true);
  });

  it('goes on after a step throws, reports it, and close() resolves pending refreshes and stops the loop', async () => {
    const errors: unknown[] = [];
    let steps = 0;
    const loop = new WorkLoop({
      next: () =>
        steps < 2
          ? async () => {
              steps++;
              if (steps === 1) throw new Error('boom');
            }
          : undefined,
      fullPass: () => new Promise<void>(() => {}), // never finishes
      onError: (err) => errors.push(err),
    });
    loop.kick();
    for (let i = 0; i < 5; i++) await tick();
    expect(steps).toBe(2);
    expect(errors).toHaveLength(1);
    const pending = loop.refresh();
    loop.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(loop.refresh()).resolves.toBeUndefined();
  });
});
