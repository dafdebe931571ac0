// `make bench`'s one report: the dataplane's table (dataplane/report.ts) and
// the control plane's (control-plane.ts) under one heading, the targets met
// and missed, one JSON document (bench/results/bench.json) and the plot
// (bench/results/bench.svg, plot.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ControlPlaneReport, renderControlPlane } from './control-plane.js';
import { type Report as DataplaneReport, machine, renderTable, writeReport } from './dataplane/report.js';
import { plotSvg } from './plot.js';

export const BENCH_SCHEMA = 'xdpnet.bench/1';

export interface BenchReport {
  schema: typeof BENCH_SCHEMA;
  startedAt: string;
  finishedAt: string;
  machine: DataplaneReport['machine'];
  quick: boolean;
  /** null when left out (--only). */
  controlPlane: ControlPlaneReport | null;
  dataplane: DataplaneReport | null;
  targets: { met: number; total: number; notMet: string[] };
  files: { json: string; plot: string | null };
}

export function buildBenchReport(parts: {
  startedAt: Date;
  quick: boolean;
  controlPlane: ControlPlaneReport | null;
  dataplane: DataplaneReport | null;
  outDir: string;
}): BenchReport {
  const ratios = parts.dataplane?.ratios ?? [];
  return {
    schema: BENCH_SCHEMA,
    startedAt: parts.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: parts.dataplane?.machine ?? machine(),
    quick: parts.quick,
    controlPlane: parts.controlPlane,
    dataplane: parts.dataplane,
    targets: {
      met: ratios.filter((r) => r.target !== null && r.met).length,
      total: ratios.filter((r) => r.target !== null).length,
      notMet: ratios.filter((r) => !r.met).map((r) => `${r.direction} ${r.of}/${r.against} ${r.median.toFixed(2)} (≥${r.target})`),
    },
    files: { json: join(parts.outDir, 'bench.json'), plot: parts.dataplane ? join(parts.outDir, 'bench.svg') : null },
  };
}

export function renderBench(r: BenchReport): string {
  const m = r.machine;
  const seconds = (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000;
  const took = seconds >= 90 ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
  const out = [
    `xdpnet benchmarks, ${r.quick ? 'quick' : 'full'} run: ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${took}; ` +
      `kernel ${m.kernel}, ${m.cpus} × ${m.cpuModel.replace(/\s+/g, ' ').trim()}, Node ${m.node}`,
  ];
  if (r.dataplane) out.push('', renderTable(r.dataplane));
  if (r.controlPlane) out.push('', renderControlPlane(r.controlPlane));
  out.push('');
  if (r.targets.total > 0) {
    out.push(
      `targets: ${r.targets.met} of ${r.targets.total} met` + (r.targets.notMet.length > 0 ? `; not met: ${r.targets.notMet.join(', ')}` : ''),
    );
  }
  out.push(`results: ${r.files.json}${r.files.plot ? `, plot ${r.files.plot}` : ''}`);
  return out.join('\n');
}

/** Writes the JSON and, with a dataplane part, the plot. */
export async function writeBench(r: BenchReport): Promise<void> {
  writeReport(r.files.json, r);
  if (r.dataplane && r.files.plot) {
    mkdirSync(join(r.files.plot, '..'), { recursive: true });
    writeFileSync(r.files.plot, await plotSvg(r.dataplane));
  }
}
