// The far end of every path: bpf/bench/xdp_sink.bpf.c on the sink side of
// each veth, counting what arrives as expected and dropping it.
//
// Runs in the worker (in `node`), but the veths' far ends are in `sink`: the
// program is pinned in the run's bpffs directory and attached there by
// iproute2 entered into `sink` with `nsenter --net` (not `ip -n` or `ip netns
// exec`: those remount /sys, and with it /sys/fs/bpf, for the namespace and
// would not find the pin). Native (driver) mode: veth runs it in its NAPI
// poll on the xdp_frame, as a NIC driver would.

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { u32 } from '../../src/dataplane/codec.js';
import { type LoadedObject, PerCpuMap, TypedMap, loadObject } from '../../src/dataplane/index.js';
import { NETNS_DIR } from '../../test/helpers/netns.js';
import { SINK_MATCH_END, SINK_MAX_IFINDEX, type SinkCounters, type SinkExpect, objectPath, sinkCounters, sinkExpect } from './layouts.js';
import type { Delivered } from './scenarios.js';

export interface SinkCount {
  delivered: number;
  other: number;
}

export class Sink {
  private constructor(
    private readonly obj: LoadedObject,
    private readonly pin: string,
    private readonly expectations: TypedMap<number, SinkExpect>,
    private readonly counters: PerCpuMap<number, SinkCounters>,
  ) {}

  static async load(bpffsDir: string): Promise<Sink> {
    const obj = await loadObject(objectPath('bench/xdp_sink'));
    try {
      mkdirSync(bpffsDir, { recursive: true });
      const pin = join(bpffsDir, 'xdp_sink');
      const program = obj.program('xdp_sink');
      try {
        program.pin(pin);
      } finally {
        program.close();
      }
      return new Sink(
        obj,
        pin,
        new TypedMap(obj.map('sink_expect'), u32, sinkExpect),
        new PerCpuMap(obj.map('sink_counters'), u32, sinkCounters),
      );
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /** Attaches the sink to `ifname` in namespace `ns` (its real name under /run/netns, or a path for nsenter). */
  attach(ns: string, ifname: string): void {
    const file = ns.startsWith('/') ? ns : `${NETNS_DIR}/${ns}`;
    execFileSync('nsenter', [`--net=${file}`, '--', 'ip', 'link', 'set', 'dev', ifname, 'xdpdrv', 'pinned', this.pin], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }

  /** What must arrive on `ifindex` (in the sink's namespace) to count as delivered. */
  expect(ifindex: number, want: Delivered): void {
    checkIfindex(ifindex);
    const m = want.match;
    if (m && (m.offset < 6 || m.offset + 4 > Math.min(SINK_MATCH_END, want.len) || m.bytes.length !== 4)) {
      throw new RangeError(`sink match of ${m.bytes.length} bytes at ${m.offset}: 4 bytes within 6..${SINK_MATCH_END} and the frame`);
    }
    this.expectations.set(ifindex, { dst_mac: want.dstMac, len: want.len, match: m?.bytes ?? Buffer.alloc(4), match_off: m?.offset ?? 0, pad: 0 });
  }

  /** Totals so far on `ifindex`, all CPUs. */
  read(ifindex: number): SinkCount {
    checkIfindex(ifindex);
    const perCpu = this.counters.get(ifindex) ?? [];
    return {
      delivered: Number(perCpu.reduce((sum, c) => sum + c.delivered, 0n)),
      other: Number(perCpu.reduce((sum, c) => sum + c.other, 0n)),
    };
  }

  /** The attachments go with the namespace; the pin with the run's bpffs directory. */
  close(): void {
    this.expectations.raw.close();
    this.counters.raw.close();
    this.obj.close();
  }
}

function checkIfindex(ifindex: number): void {
  // The sink's maps are arrays indexed by ifindex.
  if (!Number.isInteger(ifindex) || ifindex < 1 || ifindex >= SINK_MAX_IFINDEX) {
    throw new RangeError(`sink ifindex ${ifindex} is outside 1..${SINK_MAX_IFINDEX - 1}`);
  }
}
