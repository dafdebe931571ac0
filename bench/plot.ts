// The dataplane's rates as a picture: delivered Mpps per scenario, grouped by
// direction, one bar per path (ours, the floor, the kernel's baseline), the
// median on each bar, whiskers over the middle half of the rounds (25th to
// 75th percentile: on a shared machine the slowest and fastest rounds are
// other work's doing).
// Vega-Lite compiles the chart, Vega renders it to SVG headless (no canvas,
// no browser: text widths are estimated).

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Report } from './dataplane/report.js';

/** Bar colours, ours first; paths not listed take the remaining ones in order. */
const PALETTE: Record<string, string> = { xdpnet: '#2f6fb0', floor: '#9aa5b1', kernel: '#d9822b', nftables: '#b5523b' };
const SPARE = ['#6a8f3a', '#8e5ea2', '#3b9ea8', '#c2a23a'];

export interface PlotRow {
  direction: string;
  path: string;
  scenario: string;
  mpps: number;
  /** 25th and 75th percentile over rounds. */
  q1: number;
  q3: number;
}

/** The chart's data: one row per scenario, in the report's order. */
export function plotRows(report: Report): PlotRow[] {
  return report.scenarios.map((s) => ({
    direction: s.direction,
    path: s.path,
    scenario: s.id,
    mpps: round(s.medianMpps),
    q1: round(quantile(s.samples.map((x) => x.mpps), 0.25)),
    q3: round(quantile(s.samples.map((x) => x.mpps), 0.75)),
  }));
}

/** The q-quantile, interpolated between the closest ranks (0 of nothing). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** The Vega-Lite specification of the chart (pure: the tests look at it without rendering). */
export function plotSpec(report: Report): TopLevelSpec {
  const rows = plotRows(report);
  const directions = [...new Set(rows.map((r) => r.direction))];
  const paths = [...new Set(rows.map((r) => r.path))];
  const spare = [...SPARE];
  const colours = paths.map((p) => PALETTE[p] ?? spare.shift() ?? '#555555');
  const s = report.settings;
  const where = report.mode.kind === 'veth' ? 'veth namespaces' : `real interfaces (${report.mode.interfaces.map((i) => i.ifname).join(', ')})`;
  const x = { field: 'direction', type: 'nominal', sort: directions, title: null, axis: { labelAngle: 0, labelFontSize: 12 } } as const;
  const xOffset = { field: 'path', type: 'nominal', sort: paths } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'xdpnet dataplane: delivered Mpps per scenario',
      subtitle: [
        `median of ${s.rounds} round${s.rounds === 1 ? '' : 's'} × ${s.secondsPerRun} s, whiskers the middle half of the rounds; ${where}`,
        `kernel ${report.machine.kernel}, ${report.machine.cpus} CPUs, ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
      ],
      anchor: 'start',
    },
    width: Math.max(360, directions.length * Math.max(2, paths.length) * 34),
    height: 300,
    data: { values: rows.map((r) => ({ ...r, top: Math.max(r.mpps, r.q3) })) },
    encoding: { x, xOffset },
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'mpps', type: 'quantitative', title: 'Mpps delivered (median)' },
          color: { field: 'path', type: 'nominal', sort: paths, scale: { domain: paths, range: colours }, legend: { title: 'path', orient: 'top' } },
        },
      },
      { mark: { type: 'rule', color: '#333333' }, encoding: { y: { field: 'q1', type: 'quantitative' }, y2: { field: 'q3' } } },
      {
        mark: { type: 'text', dy: -4, fontSize: 9, baseline: 'bottom' },
        encoding: { y: { field: 'top', type: 'quantitative' }, text: { field: 'mpps', type: 'quantitative', format: '.2f' } },
      },
    ],
    config: { font: 'sans-serif', view: { stroke: null } },
  };
}

/** The chart as an SVG document. */
export async function plotSvg(report: Report): Promise<string> {
  const view = new vega.View(vega.parse(compile(plotSpec(report)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
