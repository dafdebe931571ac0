// From the worker's raw measurements to the report: medians, ratios against
// the baselines measured in the same rounds, the issue's targets, a table for
// the terminal and the JSON document (bench/results/overlay.json).
//
// Ratios are the median of per-round ratios: both rates of a pair were
// measured in the same round, minutes apart at most, so a slow round (other
// work on the machine) cancels out instead of skewing one side.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname } from 'node:path';
import { BATCH_SIZE } from './generator.js';
import type { LiveSample } from './measure.js';
import type { Options } from './options.js';
import type { RawResults } from './protocol.js';
import { COMPARISONS, type PathKind } from './scenarios.js';
import { max, median, min } from './stats.js';

export const REPORT_SCHEMA = 'xdpnet.bench.overlay/1';

export interface ScenarioReport {
  id: string;
  direction: string;
  path: PathKind;
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
  of: PathKind;
  against: PathKind;
  perRound: number[];
  median: number;
  target: number;
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

export interface Report {
  schema: typeof REPORT_SCHEMA;
  startedAt: string;
  finishedAt: string;
  machine: { kernel: string; cpus: number; cpuModel: string; node: string };
  settings: { rounds: number; secondsPerRun: number; warmupSeconds: number; batchSize: number; nsRepeat: number; quick: boolean };
  /** br_netfilter, if loaded, was switched off in the benchmark's namespace (see topology.ts). */
  kernelPath: { brNetfilterLoaded: boolean };
  scenarios: ScenarioReport[];
  ratios: RatioReport[];
  nsPerPacket: NsReport[];
  /** Our programs' reason counters over the whole run: where every frame went. */
  reasons: Record<string, Record<string, number>>;
  targetsMet: boolean;
  /** Results that make the numbers doubtful (lost or wrong frames). */
  warnings: string[];
  /** Results that make the numbers meaningless (nothing delivered, generator failures). */
  errors: string[];
}

export function buildReport(raw: RawResults, options: Options, context: { startedAt: Date; brNetfilter: boolean }): Report {
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
      medianMpps: median(mpps),
      minMpps: min(mpps),
      maxMpps: max(mpps),
      deliveredFraction: median(s.samples.map((x) => x.delivered / x.offered)),
      otherFrames: s.samples.reduce((n, x) => n + x.other, 0),
      generatorErrors: s.generatorErrors,
      samples: s.samples,
    };
  });

  const ratios: RatioReport[] = [];
  for (const direction of new Set(scenarios.map((s) => s.direction))) {
    for (const c of COMPARISONS) {
      const of = scenarios.find((s) => s.direction === direction && s.path === c.of);
      const against = scenarios.find((s) => s.direction === direction && s.path === c.against);
      if (!of || !against) continue;
      const perRound = of.samples.map((x, round) => x.mpps / against.samples[round]!.mpps);
      const m = median(perRound);
      ratios.push({ direction, of: c.of, against: c.against, perRound, median: m, target: c.atLeast, met: m >= c.atLeast });
    }
  }

  const nsPerPacket: NsReport[] = raw.nsPerPacket.map((n) => {
    const generator = raw.nsPerPacket.find((g) => g.direction === n.direction && g.chain === 'generator');
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
    if (s.samples.some((x) => x.delivered === 0)) errors.push(`${s.id}: a round delivered nothing`);
    if (s.generatorErrors > 0) errors.push(`${s.id}: the generator failed ${s.generatorErrors} frames`);
    if (s.otherFrames > 0) warnings.push(`${s.id}: the sink saw ${s.otherFrames} frames other than the expected output`);
    if (s.deliveredFraction < 0.99) warnings.push(`${s.id}: only ${(100 * s.deliveredFraction).toFixed(1)}% of offered frames delivered`);
  }

  return {
    schema: REPORT_SCHEMA,
    startedAt: context.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
    settings: {
      rounds: options.rounds,
      secondsPerRun: options.seconds,
      warmupSeconds: options.warmupSeconds,
      batchSize: BATCH_SIZE,
      nsRepeat: options.repeat,
      quick: options.quick,
    },
    kernelPath: { brNetfilterLoaded: context.brNetfilter },
    scenarios,
    ratios,
    nsPerPacket,
    reasons: raw.reasons,
    targetsMet: ratios.every((r) => r.met),
    warnings,
    errors,
  };
}

export function renderTable(r: Report): string {
  const out: string[] = [];
  const s = r.settings;
  out.push(
    `overlay dataplane: ${s.rounds} rounds × ${s.secondsPerRun} s per scenario, live BPF_PROG_RUN in batches of ${s.batchSize}` +
      ` (kernel ${r.machine.kernel}, ${r.machine.cpus} CPUs)`,
  );
  out.push('');
  out.push(`  ${'scenario'.padEnd(14)} ${'bytes in→out'.padStart(12)} ${'Mpps'.padStart(7)} ${'min–max'.padStart(13)} ${'delivered'.padStart(9)}`);
  for (const x of r.scenarios) {
    out.push(
      `  ${x.id.padEnd(14)} ${`${x.offeredFrameBytes}→${x.deliveredFrameBytes}`.padStart(12)} ${x.medianMpps.toFixed(3).padStart(7)}` +
        ` ${`${x.minMpps.toFixed(2)}–${x.maxMpps.toFixed(2)}`.padStart(13)} ${`${(100 * x.deliveredFraction).toFixed(1)}%`.padStart(9)}`,
    );
  }
  out.push('');
  out.push('  ratios of delivered rates (median of per-round ratios)');
  for (const x of r.ratios) {
    const name = `${x.direction} ${x.of}/${x.against}`;
    out.push(
      `  ${name.padEnd(22)} ${x.median.toFixed(2).padStart(6)}   target ≥ ${String(x.target).padEnd(4)} ${(x.met ? 'met' : 'NOT met').padEnd(7)}` +
        `   (rounds ${min(x.perRound).toFixed(2)}–${max(x.perRound).toFixed(2)})`,
    );
  }
  out.push('');
  out.push(`  ns/packet without live frames (BPF_PROG_RUN, repeat ${s.nsRepeat}, median; chains include the generator)`);
  for (const x of r.nsPerPacket) {
    const own = x.aboveGeneratorNs === null ? '' : `   program ≈ ${x.aboveGeneratorNs.toFixed(1)}`;
    out.push(`  ${x.id.padEnd(18)} ${x.medianNs.toFixed(1).padStart(7)}${own}`);
  }
  if (r.kernelPath.brNetfilterLoaded) out.push('', '  (br_netfilter is loaded on this machine; it was switched off in the benchmark namespace)');
  for (const w of r.warnings) out.push(`  warning: ${w}`);
  for (const e of r.errors) out.push(`  ERROR: ${e}`);
  return out.join('\n');
}

export function writeReport(path: string, report: Report): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
