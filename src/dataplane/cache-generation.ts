// The generation of the maps the BPF programs cache (bpf/lib/cache_gen.h,
// bpf/lib/lookup_cache.h, route_cache.h, external_cache.h, flow_cache.h, conntrack_cache.h): every CPU keeps copies of the entries of
// CACHED_MAPS it looked up last, each stamped with the generation it was
// made under, and uses a copy only while the generation is unchanged. So
// whoever changes a cached map must write a new generation after the change:
// a handle of a cached map taken through an object that declares the
// generation (LoadedObject.map) does it after every change it makes
// (BpfMap.onChange), and the node does it once a second as well
// (NodeDataplane), which bounds how long a change written past our handles
// (bpftool, another process) can go unseen.
//
// A generation is CLOCK_MONOTONIC in ns, and never below the last one this
// process wrote plus one: later than any written before it, by this process
// or another on the machine, so a copy stamped with an old generation never
// becomes valid again. (Two processes writing at the same moment could write
// theirs out of order; a copy is then dropped once more than needed, never
// kept wrongly, since no generation value comes back.)

import { endianness } from 'node:os';
import type { BpfMap, MapChangeListener } from './maps.js';

/** The map holding the generation: one u64, host order, at key 0. */
export const CACHE_GEN_MAP = 'xdpnet_cache_gen';

/**
 * The maps the programs keep per-CPU copies of (lookup_cache.h, route_cache.h, external_cache.h, flow_cache.h): a change to
 * any of them must be followed by a new generation. test/bpf/lookup-cache.test.ts
 * changes each through a handle and checks the very next frame sees it.
 */
export const CACHED_MAPS: ReadonlySet<string> = new Set([
  'xdpnet_ports',
  'xdpnet_fdb',
  'xdpnet_routes',
  'xdpnet_arp',
  'xdpnet_routers',
  'xdpnet_ext_addrs',
  'xdpnet_fip_out',
  // Not copied on their own, but read into what routing decided for a flow (flow_cache.h): a destination
  // network's MTU and state; a router's external side and its next hops' MACs.
  'xdpnet_networks',
  'xdpnet_snat',
  'xdpnet_ext_nexthops',
  // The programs' copies of connections (conntrack_cache.h): the daemon's writes (the collector's
  // deletions) move this generation, the programs' own move xdpnet_ct_gen.
  'xdpnet_snat_ct',
]);

const KEY = Buffer.alloc(4);
let last = 0n;

/** The next generation: now, and later than any this process wrote. */
function nextGeneration(): bigint {
  const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, ns: the same clock in every process
  last = now > last ? now : last + 1n;
  return last;
}

/** Writes a new generation into `map` (xdpnet_cache_gen): the programs drop every copy made before. */
export function advanceGeneration(map: BpfMap): void {
  const value = Buffer.alloc(8);
  if (endianness() === 'LE') value.writeBigUInt64LE(nextGeneration());
  else value.writeBigUInt64BE(nextGeneration());
  map.update(KEY, value);
}

/** The generation in `map` now (0 before anything wrote one). */
export function readGeneration(map: BpfMap): bigint {
  const value = map.lookup(KEY);
  if (!value) return 0n;
  return endianness() === 'LE' ? value.readBigUInt64LE() : value.readBigUInt64BE();
}

/** A cached map's change listener: a new generation after every change. Owns `generation` (a handle of its own). */
export class GenerationOnChange implements MapChangeListener {
  constructor(private readonly generation: BpfMap) {}

  changed(): void {
    advanceGeneration(this.generation);
  }

  close(): void {
    this.generation.close();
  }
}
