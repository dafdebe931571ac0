// Codecs for every struct that C (bpf/lib/*_maps.h) and TypeScript share.
//
// The C headers are the source of truth; each codec here names the C struct it
// mirrors, and test/bpf/layouts.test.ts checks all of SHARED_LAYOUTS against
// the BTF of the compiled objects. Add every new shared struct to that list.

import { type StructLayout, struct, u64 } from './codec.js';

/** bpf/lib/reason_maps.h: value of the per-CPU `xdpnet_reasons` array. */
export const reasonCounters = struct<ReasonCounters>('reason_counters', {
  packets: u64,
  bytes: u64,
});
export interface ReasonCounters {
  packets: bigint;
  bytes: bigint;
}

export const SHARED_LAYOUTS: readonly StructLayout[] = [reasonCounters];
