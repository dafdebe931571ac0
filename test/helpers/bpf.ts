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
// the expected output frame (default: the input, unchanged).

import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
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
  /** Map writes before the run (per case; the object is shared by the table). */
  setup?: (obj: LoadedObject) => void;
  expect: {
    action: XdpActionName;
    reason: ReasonName;
    /** Expected output frame; default: the input frame unchanged. */
    frame?: Buffer;
    /** Extra checks on the output frame. */
    check?: (output: Buffer) => void;
  };
}

export interface PacketTable {
  title: string;
  object: string;
  program: string;
  load?: LoadOptions;
  cases: PacketCase[];
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

/** Registers one privileged suite running every case through BPF_PROG_RUN. */
export function packetTable(table: PacketTable): void {
  describePrivileged(table.title, ['bpf'], () => {
    let obj: LoadedObject;

    beforeAll(async () => {
      obj = await loadObject(objectPath(table.object), table.load);
    });
    afterAll(() => obj?.close());

    for (const c of table.cases) {
      it(c.name, () => {
        c.setup?.(obj);
        const program = obj.program(table.program);
        const before = totals(obj);
        const result = program.testRun(c.frame);
        program.close();
        const after = totals(obj);

        expect(result.action, 'XDP verdict').toBe(c.expect.action);
        expect(reasonDelta(before, after), 'reason counters that moved').toEqual([
          `${c.expect.reason} +1/+${c.frame.length}B`,
        ]);
        const wanted = c.expect.frame ?? c.frame;
        if (!result.frame.equals(wanted)) {
          expect.fail(`output frame differs from expected:\n${hexdiff(wanted, result.frame)}`);
        }
        c.expect.check?.(result.frame);
      });
    }
  });
}
