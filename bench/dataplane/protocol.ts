// What the parent (bench/dataplane.ts, root namespace) and the worker
// (worker.ts, inside `node`) hand each other: plain JSON data.

import type { KernelConntrack } from './hosts.js';
import type { LiveSample, NsRun } from './measure.js';
import type { Options } from './options.js';
import type { PathKind } from './scenarios.js';
import type { ConntrackFill } from './snat.js';
import type { BenchNet, Host, LinkName } from './topology.js';

export interface WorkerConfig {
  options: Options;
  net: BenchNet;
  /** The ids of the scenarios to run, in SCENARIOS order (default: all). */
  scenarios?: string[];
  /**
   * Where to attach the sink: a namespace (a name under /run/netns, or a
   * path for `nsenter --net=`) and interface each. Default: every link's
   * far end in `net.sink`.
   */
  sinks?: { netns: string; ifname: string }[];
}

/** The worker writes its RawResults, as JSON, to this file descriptor (a pipe to the parent). */
export const RESULT_FD = 3;

export interface RawScenario {
  id: string;
  direction: string;
  path: PathKind;
  description: string;
  ingress: LinkName;
  egress: LinkName;
  offeredFrameBytes: number;
  deliveredFrameBytes: number;
  samples: LiveSample[];
  generatorErrors: number;
}

export interface RawResults {
  scenarios: RawScenario[];
  nsPerPacket: NsRun[];
  /** Our programs' reason counters over the whole run (warm-up, setup and ns timings included). */
  reasons: Record<string, Record<string, number>>;
  /**
   * The connection tables after the last round: ours of the new-connection
   * scenario (entries, two a connection), and the kernel gateways', by
   * namespace (how many it tracked, early drops, drops).
   */
  conntrack: { xdpnet: ConntrackFill | null; kernel: Partial<Record<Host, KernelConntrack>> };
}
