// The traffic generator: BPF_PROG_RUN of bpf/bench/xdp_gen.bpf.c, which puts
// the scenario's frame back as built and tail-calls the program under test.
//
// Live (BPF_F_TEST_XDP_LIVE_FRAMES): the kernel runs the chain on real
// page-pool frames in batches and carries out the verdict: XDP_REDIRECT
// transmits through the target's ndo_xdp_xmit, XDP_PASS hands the frame to
// the stack as received on the ingress interface. This is what offers the
// traffic whose delivery the sink counts.
//
// Not live: the chain runs `repeat` times on one buffer and nothing is
// transmitted (a redirect only records its target); the kernel reports the
// mean time per run, i.e. the chain's own CPU cost.
//
// With `vary`, every frame (live or not) is a new flow: xdp_gen rewrites its
// TCP/UDP ports from a counter the generator keeps across calls.

import { performance } from 'node:perf_hooks';
import { encode, u32, u64 } from '../../src/dataplane/codec.js';
import {
  type BpfProgram,
  type LoadedObject,
  PerCpuMap,
  TEST_RUN_LIVE_FRAMES,
  type TestRunResult,
  TypedMap,
  loadObject,
} from '../../src/dataplane/index.js';
import { GEN_FRAME_MAX, genFrame, objectPath } from './layouts.js';
import type { Vary } from './scenarios.js';

/**
 * Frames per batch: the kernel's default, and a NIC driver's NAPI budget, so
 * redirects are flushed (bulk-transmitted) as often as a driver would.
 */
export const BATCH_SIZE = 64;

/** Aim for BPF_PROG_RUN calls this long: long enough to amortise the call, short enough to stop near the deadline. */
const CALL_SECONDS = 0.05;
const FIRST_CALL_FRAMES = 8192;

/** gen_errors slots (bpf/bench/xdp_gen.bpf.c GEN_ERR_*). */
const GEN_ERR_RESTORE = 0;
const GEN_ERR_NO_TARGET = 1;

export interface LiveRun {
  /** Frames the generator offered. */
  offered: number;
  /** Wall-clock time the offering took. */
  seconds: number;
}

export class Generator {
  private constructor(
    private readonly obj: LoadedObject,
    private readonly program: BpfProgram,
    private readonly frame: Buffer,
  ) {}

  /** A generator offering `frame` to `target`, each one a new flow if `vary` says where its ports are. */
  static async load(target: BpfProgram, frame: Buffer, vary?: Vary): Promise<Generator> {
    if (frame.length > GEN_FRAME_MAX) throw new RangeError(`frames of at most ${GEN_FRAME_MAX} bytes, got ${frame.length}`);
    if (vary && (vary.ports < 1 || vary.ports + 4 > frame.length || vary.checksum < 0 || vary.checksum + 2 > frame.length)) {
      throw new RangeError(`ports at ${vary.ports} or checksum at ${vary.checksum} outside a ${frame.length}-byte frame`);
    }
    const obj = await loadObject(objectPath('bench/xdp_gen'));
    try {
      const frames = new TypedMap(obj.map('gen_frame'), u32, genFrame);
      try {
        frames.set(0, { len: frame.length, vary_ports_off: vary?.ports ?? 0, vary_csum_off: vary?.checksum ?? 0, bytes: frame });
      } finally {
        frames.raw.close();
      }
      // The slot holds the target for as long as the object keeps the map open.
      const slots = obj.map('gen_target');
      try {
        slots.update(encode(u32, 0), encode(u32, target.handle.fd));
      } finally {
        slots.close();
      }
      return new Generator(obj, obj.program('xdp_gen'), frame);
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /** Offers the frame, arriving on `ingressIfindex`, for about `seconds`. */
  live(ingressIfindex: number, seconds: number): LiveRun {
    let offered = 0;
    let chunk = FIRST_CALL_FRAMES;
    const start = performance.now();
    for (;;) {
      const before = performance.now();
      this.program.testRun(this.frame, {
        ingressIfindex,
        flags: TEST_RUN_LIVE_FRAMES,
        repeat: chunk,
        batchSize: BATCH_SIZE,
        // The kernel refuses an output buffer in live mode.
        headroom: -this.frame.length,
      });
      const now = performance.now();
      offered += chunk;
      const left = seconds - (now - start) / 1000;
      if (left <= 0) return { offered, seconds: (now - start) / 1000 };
      // Next call: CALL_SECONDS at the rate just seen, without overshooting the deadline much.
      const rate = chunk / Math.max((now - before) / 1000, 1e-6);
      chunk = Math.max(BATCH_SIZE, Math.round(rate * Math.min(CALL_SECONDS, left)));
    }
  }

  /** Offers exactly `frames` frames (untimed: setup traffic). */
  offer(ingressIfindex: number, frames: number): void {
    for (let left = frames; left > 0; ) {
      const chunk = Math.min(left, 1 << 20);
      this.program.testRun(this.frame, { ingressIfindex, flags: TEST_RUN_LIVE_FRAMES, repeat: chunk, batchSize: BATCH_SIZE, headroom: -this.frame.length });
      left -= chunk;
    }
  }

  /**
   * Runs the chain `repeat` times, not live: the kernel's mean ns per run,
   * and the last run's verdict and output frame (which show the restore
   * worked: an encapsulation stacked on the previous run's would not be
   * redirected, nor come out at the scenario's length).
   */
  runAlone(ingressIfindex: number, repeat: number): TestRunResult {
    return this.program.testRun(this.frame, { ingressIfindex, repeat });
  }

  /** Frames the generator failed (it drops them): restore failures, and runs with nothing under test. */
  errors(): { restore: number; noTarget: number } {
    const raw = this.obj.map('gen_errors');
    try {
      const counters = new PerCpuMap(raw, u32, u64);
      const total = (slot: number) => Number((counters.get(slot) ?? []).reduce((sum, n) => sum + n, 0n));
      return { restore: total(GEN_ERR_RESTORE), noTarget: total(GEN_ERR_NO_TARGET) };
    } finally {
      raw.close();
    }
  }

  close(): void {
    this.program.close();
    this.obj.close();
  }
}
