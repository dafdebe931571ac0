// BPF program tests as tables, run through BPF_PROG_RUN.
//
//   packetTable({
//     title: 'xdp_guard', object: 'xdp_guard', program: 'xdp_guard',
//     cases: [
//       { name: 'ICMP echo passes', frame: eth(...).ipv4(...).icmpEcho().build(),
//         expect: { action: 'PASS', reason: 'PASS_HOST' } },
//     ],
//   });
//
// Each case states the verdict, the one reason the frame must be counted under
// (checked against the object's reason counters before and after the run) and
// the expected output frame (default: the input, unchanged). Map contents come
// from the table's `setup` (once) and each case's `setup`; `setMapEntries`
// writes them through the struct codecs of src/dataplane/layouts.ts.

import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Codec } from '../../src/dataplane/codec.js';
import {
  type BpfProgram,
  TEST_RUN_LIVE_FRAMES,
  TypedMap,
  type LoadedObject,
  type LoadOptions,
  type ReasonCount,
  type XdpActionName,
  REASON_MAP_NAME,
  loadObject,
  readReasonCounters,
} from '../../src/dataplane/index.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { Reason } from '../../src/gen/reasons.js';
import { describePrivileged } from './privileged.js';
import { hexdiff } from './frames.js';

/** Path of a compiled object: `objectPath('xdp_guard')`, `objectPath('tests/verifier_reject')`. */
export function objectPath(name: string): string {
  return join(REPO_ROOT, 'bpf/build', `${name}.bpf.o`);
}

export type ReasonName = keyof typeof Reason;

export interface PacketCase {
  name: string;
  frame: Buffer;
  /**
   * xdp_md.ingress_ifindex for the run (the interface must exist in this
   * network namespace); a function is called when the case runs, for
   * interfaces a suite creates. Default: none (the kernel uses lo's).
   */
  ingressIfindex?: number | (() => number);
  /** Map writes before the run (per case; the object is shared by the table). */
  setup?: (obj: LoadedObject) => void;
  expect: {
    action: XdpActionName;
    reason: ReasonName;
    /** Expected output frame; default: the input frame unchanged. */
    frame?: Buffer;
    /** Extra checks on the output frame. */
    check?: (output: Buffer) => void;
    /**
     * Bytes the reason counter must move by. Default: the expected output
     * frame's length, since finish() counts the frame as it leaves (for an
     * encapsulated frame, with its outer headers).
     */
    bytes?: number;
  };
}

export interface PacketTable {
  title: string;
  object: string;
  program: string;
  load?: LoadOptions;
  /** Runs once after the object is loaded, before any case (e.g. map contents every case shares). */
  setup?: (obj: LoadedObject) => void | Promise<void>;
  cases: PacketCase[];
}

/**
 * Runs an XDP program once with BPF_F_TEST_XDP_LIVE_FRAMES: XDP_TX and
 * XDP_REDIRECT really transmit, so a capture can show where a frame went.
 * Only into interfaces a test created. The kernel reports no verdict and no
 * output frame in this mode (and refuses an output buffer: hence no room
 * for one, headroom = -length).
 */
export function runLive(program: BpfProgram, frame: Buffer, ingressIfindex: number): void {
  program.testRun(frame, { ingressIfindex, flags: TEST_RUN_LIVE_FRAMES, headroom: -frame.length });
}

/** Writes entries into one of the object's maps through codecs (key, value). */
export function setMapEntries<K, V>(
  obj: LoadedObject,
  mapName: string,
  keyCodec: Codec<K>,
  valueCodec: Codec<V>,
  entries: readonly (readonly [K, V])[],
): void {
  const raw = obj.map(mapName);
  try {
    const map = new TypedMap(raw, keyCodec, valueCodec);
    for (const [key, value] of entries) map.set(key, value);
  } finally {
    raw.close();
  }
}

/** Deletes keys from one of the object's maps (absent keys are fine). */
export function deleteMapEntries<K>(obj: LoadedObject, mapName: string, keyCodec: Codec<K>, keys: readonly K[]): void {
  const raw = obj.map(mapName);
  try {
    for (const key of keys) {
      const buf = Buffer.alloc(keyCodec.size);
      keyCodec.write(buf, 0, key);
      raw.delete(buf);
    }
  } finally {
    raw.close();
  }
}

function totals(obj: LoadedObject): Map<string, ReasonCount> {
  const map = obj.map(REASON_MAP_NAME);
  try {
    return new Map(readReasonCounters(map).map((r) => [r.name, r]));
  } finally {
    map.close();
  }
}

/** Which reasons moved between two readings, as "NAME +packets/+bytes". */
function reasonDelta(before: Map<string, ReasonCount>, after: Map<string, ReasonCount>): string[] {
  const moved: string[] = [];
  for (const [name, now] of after) {
    const then = before.get(name);
    const packets = now.packets - (then?.packets ?? 0n);
    const bytes = now.bytes - (then?.bytes ?? 0n);
    if (packets !== 0n || bytes !== 0n) moved.push(`${name.replace(/^REASON_/, '')} +${packets}/+${bytes}B`);
  }
  return moved;
}

/** One frame through `program` of `obj`: its verdict, the frame out, and which reasons moved ("NAME +packets/+bytes"). */
export function runCounted(obj: LoadedObject, program: string, frame: Buffer, ingressIfindex: number): { action: string; frame: Buffer; moved: string[] } {
  const before = totals(obj);
  const prog = obj.program(program);
  try {
    const result = prog.testRun(frame, { ingressIfindex });
    return { action: result.action, frame: result.frame, moved: reasonDelta(before, totals(obj)) };
  } finally {
    prog.close();
  }
}

/** Registers one privileged suite running every case through BPF_PROG_RUN. */
export function packetTable(table: PacketTable): void {
  describePrivileged(table.title, ['bpf'], () => {
    let obj: LoadedObject;

    beforeAll(async () => {
      obj = await loadObject(objectPath(table.object), table.load);
      await table.setup?.(obj);
    });
    afterAll(() => obj?.close());

    for (const c of table.cases) {
      it(c.name, () => {
        c.setup?.(obj);
        const program = obj.program(table.program);
        const before = totals(obj);
        const ingressIfindex = typeof c.ingressIfindex === 'function' ? c.ingressIfindex() : c.ingressIfindex;
        const result = program.testRun(c.frame, ingressIfindex === undefined ? {} : { ingressIfindex });
        program.close();
        const after = totals(obj);

        const wanted = c.expect.frame ?? c.frame;
        expect(result.action, 'XDP verdict').toBe(c.expect.action);
        expect(reasonDelta(before, after), 'reason counters that moved').toEqual([
          `${c.expect.reason} +1/+${c.expect.bytes ?? wanted.length}B`,
        ]);
        if (!result.frame.equals(wanted)) {
          expect.fail(`output frame differs from expected:\n${hexdiff(wanted, result.frame)}`);
        }
        c.expect.check?.(result.frame);
      });
    }
  });
}
