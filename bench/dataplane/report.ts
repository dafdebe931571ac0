// From the worker's raw measurements to the report: medians, ratios against
// the baselines measured in the same rounds, the issue's targets, one table
// for the terminal and the JSON document (bench/results/overlay.json, and
// the `dataplane` part of bench/results/bench.json).
//
// Ratios are the median of per-round ratios: both rates of a pair were
// measured in the same round, minutes apart at most, so a slow round (other
// work on the machine) cancels out instead of skewing one side.
//
// Nothing here knows the scenarios: rows are whatever the worker measured,
// comparisons whatever scenarios.ts asks for, in the directions that have
// both rows.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname } from 'node:path';
import { type Column, textTable } from '../text-table.js';
import { BATCH_SIZE } from './generator.js';
import type { LiveSample } from './measure.js';
import type { Options } from './options.js';
import type { RawResults } from './protocol.js';
import type { InterfaceCounters } from './real-interfaces.js';
import { max, median, min } from './stats.js';

export const REPORT_SCHEMA = 'xdpnet.bench.overlay/1';

/** The row every direction's other XDP rows are compared with. */
export const FLOOR = 'floor';

export interface ScenarioReport {
  id: string;
  direction: string;
  path: string;
  description: string;
  ingress: string;
  egress: string;
  offeredFrameBytes: number;
  deliveredFrameBytes: number;
  medianMpps: number;
  minMpps: number;
  maxMpps: number;
  /** Median over rounds of delivered / offered. */
  deliveredFraction: number;
  /** Frames the sink saw that were not the expected output, all rounds. */
  otherFrames: number;
  generatorErrors: number;
  samples: LiveSample[];
}

export interface RatioReport {
  direction: string;
  of: string;
  against: string;
  perRound: number[];
  median: number;
  /** The issue's target; null: reported without one (the issue asks only for the number). */
  target: number | null;
  /** Met, or no target to meet. */
  met: boolean;
}

export interface NsReport {
  id: string;
  direction: string;
  chain: string;
  medianNs: number;
  /** For a program under test: medianNs minus the same direction's generator alone, i.e. the program's own cost. */
  aboveGeneratorNs: number | null;
  samples: number[];
}

/** A comparison scenarios.ts asks for: in `direction` only, or in every direction that has both rows. */
export interface ComparisonSpec {
  direction?: string;
  of: string;
  against: string;
  /** The issue's target for of/against (rates); null: reported without a target. */
  atLeast: number | null;
}

/** Where the frames went: the benchmark's veth namespaces, or real interfaces (real-interfaces.ts). */
export type RunMode =
  | { kind: 'veth' }
  | {
      kind: 'real';
      interfaces: { ifname: string; netns: string | null; ifindex: number; mac: string; role: string }[];
      /** What each link of the topology stood for. */
      links: Record<string, string>;
      /** The interfaces' own counters over the run, to check the sink's counts against. */
      counters: InterfaceCounters[];
      /** Scenarios not run on real interfaces (the kernel's stack rows). */
      skipped: string[];
      /** What was done to the interfaces for the run, and undone after it. */
      setUp: string[];
    };

export interface Report {
  schema: typeof REPORT_SCHEMA;
  startedAt: string;
  finishedAt: string;
  machine: { kernel: string; cpus: number; cpuModel: string; node: string };
  settings: { rounds: number; secondsPerRun: number; warmupSeconds: number; batchSize: number; nsRepeat: number; quick: boolean };
  mode: RunMode;
  /** br_netfilter, if loaded, was switched off in the benchmark's namespace (see topology.ts). */
  kernelPath: { brNetfilterLoaded: boolean };
  scenarios: ScenarioReport[];
  ratios: RatioReport[];
  nsPerPacket: NsReport[];
  /** Our programs' reason counters over the whole run: where every frame went. */
  reasons: Record<string, Record<string, number>>;
  /** The connection tables after the run (protocol.ts RawResults.conntrack). */
  conntrack: RawResults['conntrack'];
  targetsMet: boolean;
  /** Results that make the numbers doubtful (lost or wrong frames). */
  warnings: string[];
  /** Results that make the numbers meaningless (nothing delivered, generator failures). */
  errors: string[];
}

export interface ReportContext {
  startedAt: Date;
  brNetfilter: boolean;
  comparisons: readonly ComparisonSpec[];
  mode?: RunMode;
}

export function buildReport(raw: RawResults, options: Options, context: ReportContext): Report {
  const scenarios: ScenarioReport[] = raw.scenarios.map((s) => {
    const mpps = s.samples.map((x) => x.mpps);
    return {
      id: s.id,
      direction: s.direction,
      path: s.path,
      description: s.description,
      ingress: s.ingress,
      egress: s.egress,
      offeredFrameBytes: s.offeredFrameBytes,
      deliveredFrameBytes: s.deliveredFrameBytes,
      medianMpps: mpps.length > 0 ? median(mpps) : 0,
      minMpps: mpps.length > 0 ? min(mpps) : 0,
      maxMpps: mpps.length > 0 ? max(mpps) : 0,
      deliveredFraction: s.samples.length > 0 ? median(s.samples.map((x) => (x.offered > 0 ? x.delivered / x.offered : 0))) : 0,
      otherFrames: s.samples.reduce((n, x) => n + x.other, 0),
      generatorErrors: s.generatorErrors,
      samples: s.samples,
    };
  });

  const ratios: RatioReport[] = [];
  for (const direction of new Set(scenarios.map((s) => s.direction))) {
    for (const c of context.comparisons) {
      if (c.direction !== undefined && c.direction !== direction) continue;
      const of = scenarios.find((s) => s.direction === direction && s.path === c.of);
      const against = scenarios.find((s) => s.direction === direction && s.path === c.against);
      if (!of || !against) continue;
      const perRound = of.samples.map((x, round) => x.mpps / (against.samples[round]?.mpps ?? Number.NaN)).filter(Number.isFinite);
      if (perRound.length === 0) continue;
      const m = median(perRound);
      ratios.push({ direction, of: c.of, against: c.against, perRound, median: m, target: c.atLeast, met: c.atLeast === null || m >= c.atLeast });
    }
  }

  const nsPerPacket: NsReport[] = raw.nsPerPacket
    .filter((n) => n.ns.length > 0)
    .map((n) => {
      const generator = raw.nsPerPacket.find((g) => g.direction === n.direction && g.chain === 'generator' && g.ns.length > 0);
      const m = median(n.ns);
      const isChain = n.chain !== 'generator' && n.chain !== 'bpf_prog_run';
      return {
        id: n.id,
        direction: n.direction,
        chain: n.chain,
        medianNs: m,
        aboveGeneratorNs: generator && isChain ? m - median(generator.ns) : null,
        samples: n.ns,
      };
    });

  const warnings: string[] = [];
  const errors: string[] = [];
  for (const s of scenarios) {
    if (s.samples.length === 0 || s.samples.some((x) => x.delivered === 0)) errors.push(`${s.id}: a round delivered nothing`);
    if (s.generatorErrors > 0) errors.push(`${s.id}: the generator failed ${s.generatorErrors} frames`);
    if (s.otherFrames > 0) warnings.push(`${s.id}: the sink saw ${s.otherFrames} frames other than the expected output`);
    if (s.samples.length > 0 && s.deliveredFraction < 0.99) warnings.push(`${s.id}: only ${(100 * s.deliveredFraction).toFixed(1)}% of offered frames delivered`);
  }

  return {
    schema: REPORT_SCHEMA,
    startedAt: context.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machine(),
    settings: {
      rounds: options.rounds,
      secondsPerRun: options.seconds,
      warmupSeconds: options.warmupSeconds,
      batchSize: BATCH_SIZE,
      nsRepeat: options.repeat,
      quick: options.quick,
    },
    mode: context.mode ?? { kind: 'veth' },
    kernelPath: { brNetfilterLoaded: context.brNetfilter },
    scenarios,
    ratios,
    nsPerPacket,
    reasons: raw.reasons,
    conntrack: raw.conntrack,
    targetsMet: ratios.every((r) => r.met),
    warnings,
    errors,
  };
}

export function machine(): Report['machine'] {
  return { kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version };
}

/** The ratio of one comparison as a table cell: `0.67 ≥0.8 NOT met`, `6.96× kernel ≥5 met`. */
export function ratioCell(r: RatioReport): string {
  const target = r.target === null ? '(no target)' : `≥${r.target} ${r.met ? 'met' : 'NOT met'}`;
  return r.against === FLOOR ? `${r.median.toFixed(2)} ${target}` : `${r.median.toFixed(2)}× ${r.against} ${target}`;
}

const COLUMNS: readonly Column[] = [
  { header: 'scenario', align: 'left' },
  { header: 'bytes in→out', align: 'right' },
  { header: 'Mpps', align: 'right' },
  { header: 'min–max', align: 'right' },
  { header: 'delivered', align: 'right' },
  { header: '/ floor (target)', align: 'left' },
  { header: '/ baseline (target)', align: 'left' },
  { header: 'ns/pkt', align: 'right' },
];

/**
 * The dataplane as one table: a row per scenario, grouped by direction, with
 * its rate, its ratios against the floor and the baseline (on the row they
 * are the ratios of) and the program's own ns/packet; then what the
 * columns mean and whatever went wrong.
 */
export function renderTable(r: Report): string {
  const s = r.settings;
  const out: string[] = [];
  const where =
    r.mode.kind === 'veth'
      ? 'veth pairs in namespaces of its own'
      : `real interfaces ${r.mode.interfaces.map((i) => `${i.ifname} (${i.role})`).join(', ')}`;
  out.push(
    `dataplane: ${where}; ${s.rounds} round${s.rounds === 1 ? '' : 's'} × ${s.secondsPerRun} s per scenario, ` +
      `BPF_PROG_RUN live frames in batches of ${s.batchSize}; Mpps delivered at the far end, medians`,
  );
  const rows: (string[] | null)[] = [];
  let direction: string | undefined;
  for (const x of r.scenarios) {
    if (direction !== undefined && x.direction !== direction) rows.push(null);
    direction = x.direction;
    const mine = r.ratios.filter((q) => q.direction === x.direction && q.of === x.path);
    const ns = r.nsPerPacket.find((n) => n.id === x.id);
    rows.push([
      x.id,
      `${x.offeredFrameBytes}→${x.deliveredFrameBytes}`,
      x.medianMpps.toFixed(3),
      `${x.minMpps.toFixed(2)}–${x.maxMpps.toFixed(2)}`,
      `${(100 * x.deliveredFraction).toFixed(1)}%`,
      mine
        .filter((q) => q.against === FLOOR)
        .map(ratioCell)
        .join(', '),
      mine
        .filter((q) => q.against !== FLOOR)
        .map(ratioCell)
        .join(', '),
      ns ? nsCell(ns.aboveGeneratorNs ?? ns.medianNs) : '',
    ]);
  }
  out.push(...textTable(COLUMNS, rows));
  out.push('');
  out.push(
    `  / floor, / baseline: ratios of delivered rates, median of per-round ratios. ns/pkt: the program alone, BPF_PROG_RUN without live frames ` +
      `(repeat ${s.nsRepeat}, median of rounds) less the generator's own cost`,
  );
  const generators = r.nsPerPacket.filter((n) => n.chain === 'generator').map((n) => `${n.direction} ${n.medianNs.toFixed(1)}`);
  const loops = r.nsPerPacket.filter((n) => n.chain === 'bpf_prog_run').map((n) => n.medianNs);
  if (generators.length > 0) {
    const loop = loops.length === 0 ? '' : `; BPF_PROG_RUN's own loop ${min(loops).toFixed(1)}${max(loops) > min(loops) ? `–${max(loops).toFixed(1)}` : ''} ns`;
    out.push(`  (the generator alone: ${generators.join(', ')} ns${loop})`);
  }
  if (r.mode.kind === 'real') {
    if (r.mode.setUp.length > 0) out.push(`  for the run, undone after it: ${r.mode.setUp.join('; ')}`);
    if (r.mode.skipped.length > 0) {
      out.push(`  not run on real interfaces (the kernel's stack needs its own set-up): ${r.mode.skipped.join(', ')}`);
    }
    for (const c of r.mode.counters) {
      const stats = Object.entries(c.statistics)
        .filter(([, v]) => v !== 0)
        .map(([k, v]) => `${k} +${v}`);
      const xdp = Object.entries(c.xdp).map(([k, v]) => `${k} +${v}`);
      out.push(`  ${c.ifname} (${c.role}): ${[...stats, ...xdp].join(', ') || 'no counter moved'}`);
    }
  }
  if (r.kernelPath.brNetfilterLoaded) out.push('  (br_netfilter is loaded on this machine; it was switched off in the benchmark namespace)');
  for (const w of r.warnings) out.push(`  warning: ${w}`);
  for (const e of r.errors) out.push(`  ERROR: ${e}`);
  return out.join('\n');
}

/** A program's own ns/packet: below the generator's noise (negative) it is about nothing. */
const nsCell = (ns: number): string => (ns < 0 ? '~0' : ns.toFixed(1));

export function writeReport(path: string, report: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
