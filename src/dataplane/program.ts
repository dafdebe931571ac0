// A loaded BPF program: test runs (BPF_PROG_RUN) and attachment.

import { type NativeProgram, type NativeProgramInfo, native } from './native.js';

/** XDP verdicts (uapi enum xdp_action). */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export type XdpActionName = keyof typeof XdpAction;

const ACTION_NAMES = Object.fromEntries(Object.entries(XdpAction).map(([k, v]) => [v, k])) as Record<number, XdpActionName>;

export function xdpActionName(verdict: number): XdpActionName | `UNKNOWN(${number})` {
  return ACTION_NAMES[verdict] ?? `UNKNOWN(${verdict})`;
}

/** BPF_F_TEST_XDP_LIVE_FRAMES: really transmit redirected/TX'd frames (benchmarks only, inside test namespaces). */
export const TEST_RUN_LIVE_FRAMES = 2;

export interface TestRunOptions {
  /** xdp_md.ingress_ifindex; the interface must exist in this network namespace. */
  ingressIfindex?: number;
  rxQueueIndex?: number;
  /** Times to run the program on the frame; the reported duration is the mean. Default 1. */
  repeat?: number;
  flags?: number;
  /** Room for headers the program pushes (encapsulation). Default: frame length + 256. */
  headroom?: number;
  batchSize?: number;
}

export interface TestRunResult {
  verdict: number;
  action: ReturnType<typeof xdpActionName>;
  /** The frame as the program left it. */
  frame: Buffer;
  /** Mean run time per repetition, in nanoseconds. */
  durationNs: number;
}

export class BpfProgram {
  readonly info: NativeProgramInfo;

  constructor(readonly handle: NativeProgram) {
    this.info = handle.info();
  }

  static openPinned(path: string): BpfProgram {
    return new BpfProgram(native().openPinnedProgram(path));
  }

  get name(): string {
    return this.info.name;
  }

  get id(): number {
    return this.info.id;
  }

  /** Runs the program once (or `repeat` times) on `frame` in the kernel, without a device. */
  testRun(frame: Buffer, options: TestRunOptions = {}): TestRunResult {
    const repeat = options.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError(`repeat must be a positive integer, got ${repeat}`);
    const result = this.handle.testRun({
      data: frame,
      ingressIfindex: options.ingressIfindex ?? 0,
      rxQueueIndex: options.rxQueueIndex ?? 0,
      repeat,
      flags: options.flags ?? 0,
      dataSizeOut: frame.length + (options.headroom ?? 256),
      batchSize: options.batchSize ?? 0,
    });
    return { verdict: result.retval, action: xdpActionName(result.retval), frame: result.data, durationNs: result.durationNs };
  }

  pin(path: string): void {
    this.handle.pin(path);
  }

  close(): void {
    this.handle.close();
  }
}
