// What the parent (bench/dataplane.ts, root namespace) and the worker
// (worker.ts, inside `node`) hand each other: plain JSON data.

import type { LiveSample, NsRun } from './measure.js';
import type { Options } from './options.js';
import type { PathKind } from './scenarios.js';
import type { BenchNet, LinkName } from './topology.js';

export interface WorkerConfig {
  options: Options;
  net: BenchNet;
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
  /** Our programs' reason counters over the whole run (warm-up and ns timings included). */
  reasons: Record<string, Record<string, number>>;
}
