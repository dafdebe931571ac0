// Codecs for the structs the benchmark's own BPF objects (bpf/bench/) share
// with TypeScript. The C files are the source of truth; checkLayouts()
// compares each codec with the compiled object's BTF before anything runs,
// so a C change cannot silently skew what the benchmark writes or reads.

import { join } from 'node:path';
import { type StructLayout, bytes, mac, struct, u16, u32, u64 } from '../../src/dataplane/codec.js';
import { describeBtf, layoutMismatches } from '../../src/dataplane/index.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';

let objectDir = join(REPO_ROOT, 'bpf/build');

/** Path of a compiled object: `objectPath('bench/xdp_gen')`, `objectPath('xdp_port')`; another build's within withObjectDir(). */
export const objectPath = (name: string): string => join(objectDir, `${name}.bpf.o`);

/**
 * Runs `load` with objectPath() resolving into `dir`, another build's
 * bpf/build (--compare-with). Loads are awaited one at a time, so no other
 * load sees the switch.
 */
export async function withObjectDir<T>(dir: string, load: () => Promise<T>): Promise<T> {
  const before = objectDir;
  objectDir = dir;
  try {
    return await load();
  } finally {
    objectDir = before;
  }
}

/** bpf/bench/xdp_gen.bpf.c: GEN_FRAME_MAX. */
export const GEN_FRAME_MAX = 256;

/** xdp_gen's gen_frame value: the frame every run starts from, and whether each run is a new flow. */
export const genFrame = struct<GenFrame>('gen_frame', { len: u32, vary_ports_off: u16, vary_csum_off: u16, bytes: bytes(GEN_FRAME_MAX) });
export interface GenFrame {
  len: number;
  /** Offset of the TCP/UDP source port rewritten per frame (0: frames not varied). */
  vary_ports_off: number;
  /** Offset of the L4 checksum kept right (0: none). */
  vary_csum_off: number;
  bytes: Buffer;
}

/** xdp_sink's sink_expect value (key: ifindex in the sink's namespace). */
export const sinkExpect = struct<SinkExpect>('sink_expect', { dst_mac: mac, len: u16, match: bytes(4), match_off: u16, pad: u16 });
export interface SinkExpect {
  dst_mac: string;
  len: number;
  /** The four bytes at match_off, as on the wire. */
  match: Buffer;
  /** 0: nothing beyond MAC and length; else 6..SINK_MATCH_END - 4. */
  match_off: number;
  pad: number;
}

/** bpf/bench/xdp_sink.bpf.c: SINK_MATCH_END. */
export const SINK_MATCH_END = 128;

/** xdp_sink's per-CPU sink_counters value. */
export const sinkCounters = struct<SinkCounters>('sink_counters', { delivered: u64, other: u64 });
export interface SinkCounters {
  delivered: bigint;
  other: bigint;
}

/** bpf/bench/xdp_sink.bpf.c: SINK_MAX_IFINDEX. */
export const SINK_MAX_IFINDEX = 64;

const CHECKED: readonly (readonly [object: string, layout: StructLayout])[] = [
  ['bench/xdp_gen', genFrame],
  ['bench/xdp_sink', sinkExpect],
  ['bench/xdp_sink', sinkCounters],
];

/** Throws, naming every difference, if a codec above no longer mirrors its C struct. */
export function checkLayouts(): void {
  const problems: string[] = [];
  for (const [object, layout] of CHECKED) {
    const btf = describeBtf(objectPath(object)).structs[layout.cName];
    if (!btf) problems.push(`${object}: no struct ${layout.cName}`);
    else problems.push(...layoutMismatches(layout, btf).map((p) => `${object}: ${p}`));
  }
  if (problems.length > 0) throw new Error(`benchmark struct codecs disagree with bpf/bench/:\n  ${problems.join('\n  ')}`);
}
