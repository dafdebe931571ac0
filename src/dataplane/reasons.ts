// Reading the per-CPU reason counters (bpf/lib/reason_maps.h) into totals.

import { REASONS, type ReasonInfo } from '../gen/reasons.js';
import { u32 } from './codec.js';
import { type ReasonCounters, reasonCounters } from './layouts.js';
import { type BpfMap, PerCpuMap } from './maps.js';

export interface ReasonCount extends ReasonInfo {
  packets: bigint;
  bytes: bigint;
}

/** Name of the reason counter map in every xdpnet BPF object. */
export const REASON_MAP_NAME = 'xdpnet_reasons';

/** Totals across CPUs for every known reason, in code order (zeroes included). */
export function readReasonCounters(map: BpfMap): ReasonCount[] {
  const counters = new PerCpuMap<number, ReasonCounters>(map, u32, reasonCounters);
  return REASONS.map((reason) => {
    const perCpu = counters.get(reason.code) ?? [];
    return {
      ...reason,
      packets: perCpu.reduce((sum, c) => sum + c.packets, 0n),
      bytes: perCpu.reduce((sum, c) => sum + c.bytes, 0n),
    };
  });
}
