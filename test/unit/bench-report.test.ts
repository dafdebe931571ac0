// The benchmark's pure parts: flags (bench/options.ts,
// bench/dataplane/options.ts), where real interfaces put each link
// (assignLinks), the report built from raw measurements and its table
// (bench/dataplane/report.ts, bench/report.ts), the plot (bench/plot.ts).
// No root: nothing here loads a program or touches an interface.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ControlPlaneReport } from '../../bench/control-plane.js';
import { FULL, QUICK, dataplaneOptions, parseOptions } from '../../bench/dataplane/options.js';
import type { RawResults } from '../../bench/dataplane/protocol.js';
import { assignLinks, realScenarios } from '../../bench/dataplane/real-interfaces.js';
import { type ComparisonSpec, buildReport, renderTable } from '../../bench/dataplane/report.js';
import { COMPARISONS as TARGETS, SCENARIOS, withOtherBuild } from '../../bench/dataplane/scenarios.js';
import { LINKS } from '../../bench/dataplane/topology.js';
import { parseBenchOptions } from '../../bench/options.js';
import { plotRows, plotSpec, plotSvg, quantile } from '../../bench/plot.js';
import { buildBenchReport, renderBench } from '../../bench/report.js';
import { textTable } from '../../bench/text-table.js';

const count = (n: number) => () => n;

describe('bench flags', () => {
  it('shares the traffic budget out over rounds and scenarios, within bounds', () => {
    const few = parseOptions([], count(6));
    expect(few.rounds).toBe(FULL.rounds);
    expect(few.seconds).toBe(FULL.seconds.max); // 150 s over 120 runs would be 1.25 s: capped
    const many = parseOptions([], count(17));
    expect(many.seconds).toBeCloseTo(FULL.budgetSeconds / (FULL.rounds * 17), 1);
    expect(parseOptions([], count(1000)).seconds).toBe(FULL.seconds.min);
    const quick = parseOptions(['--quick'], count(17));
    expect(quick.rounds).toBe(QUICK.rounds);
    expect(quick.rounds * 17 * quick.seconds).toBeLessThanOrEqual(QUICK.budgetSeconds + 1);
    expect(parseOptions(['--quick', '--seconds', '0.05', '--rounds', '1'], count(17))).toMatchObject({ rounds: 1, seconds: 0.05, warmupSeconds: 0.05 });
    expect(few.real).toBeNull();
  });

  it('runs only the directions asked for, sharing the budget over their scenarios', () => {
    const asked: (readonly string[] | null)[] = [];
    const counting = (_real: boolean, directions: readonly string[] | null) => {
      asked.push(directions);
      return directions === null ? 17 : directions.length * 3;
    };
    expect(parseOptions([], counting).directions).toBeNull();
    const two = parseOptions(['--directions', 'routed, encap,routed'], counting);
    expect(two.directions).toEqual(['routed', 'encap']);
    expect(asked).toEqual([null, ['routed', 'encap']]);
    expect(two.seconds).toBe(FULL.seconds.max);
    expect(() => parseOptions(['--directions', 'encap,sideways'], counting)).toThrow(
      '--directions wants a comma-separated list of encap, decap, routed, snat, rsnat, snat-new, got "encap,sideways"',
    );
    expect(() => parseOptions(['--directions', ''], counting)).toThrow('--directions wants');
  });

  it('runs another build next to this one with --compare-with, its rows counted in the budget', () => {
    const other = mkdtempSync(join(tmpdir(), 'xdpnet-other-build-'));
    try {
      writeFileSync(join(other, 'xdp_port.bpf.o'), '');
      const seen: (string | null)[] = [];
      const counting = (_real: boolean, _directions: readonly string[] | null, compareWith: string | null) => {
        seen.push(compareWith);
        return compareWith === null ? 17 : 28;
      };
      expect(parseOptions([], counting).compareWith).toBeNull();
      const o = parseOptions(['--compare-with', relative(process.cwd(), other)], counting);
      expect(o.compareWith).toBe(other);
      expect(seen).toEqual([null, other]);
      expect(() => parseOptions(['--compare-with', join(other, 'nowhere')], counting)).toThrow(
        "--compare-with wants another build's bpf/build directory (with xdp_port.bpf.o in it)",
      );
      expect(() => parseOptions(['--compare-with', other, '--port-if', 'a', '--uplink-if', 'b'], counting)).toThrow(
        "--compare-with runs on the benchmark's own namespaces only",
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('twins our rows and the floors with the other build, and compares each pair', () => {
    expect(withOtherBuild(null)).toEqual({ scenarios: SCENARIOS, comparisons: TARGETS });
    const { scenarios, comparisons } = withOtherBuild('/elsewhere/bpf/build');
    const routed = scenarios.filter((s) => s.direction === 'routed').map((s) => s.id);
    expect(routed).toEqual(['routed/xdpnet', 'routed/other', 'routed/floor', 'routed/other-floor', 'routed/kernel']);
    // New connections: the setup fills its own program's table, so no twin.
    expect(scenarios.filter((s) => s.direction === 'snat-new').map((s) => s.path)).toEqual(['xdpnet', 'nftables']);
    const twin = scenarios.find((s) => s.id === 'rsnat/other')!;
    const ours = SCENARIOS.find((s) => s.id === 'rsnat/xdpnet')!;
    expect({ ...twin, id: ours.id, path: ours.path, description: ours.description, program: ours.program }).toEqual({ ...ours, setup: undefined, needs: undefined });
    expect(twin.description).toContain('/elsewhere/bpf/build');
    expect(comparisons.filter((c) => c.direction === 'snat').map((c) => `${c.of}/${c.against} ${c.atLeast}`)).toEqual([
      'xdpnet/other null',
      'floor/other-floor null',
      'xdpnet/floor 0.7',
      'xdpnet/nftables 4',
    ]);
    expect(comparisons.filter((c) => c.direction === 'snat-new')).toEqual(TARGETS.filter((c) => c.direction === 'snat-new'));
  });

  it('names the flag and what it wants on a bad value', () => {
    expect(() => parseOptions(['--rounds', '0'], count(1))).toThrow('--rounds wants an integer ≥ 1, got "0"');
    expect(() => parseOptions(['--rounds', '2.5'], count(1))).toThrow('--rounds wants an integer');
    expect(() => parseOptions(['--seconds', ''], count(1))).toThrow('--seconds wants a number ≥ 0.01, got ""');
    expect(() => parseOptions(['--bogus'], count(1))).toThrow(/bogus/);
  });

  it('takes real interfaces as a pair, the far ends defaulting to each other', () => {
    const o = parseOptions(['--port-if', 'enp1s0f0', '--uplink-if', 'enp1s0f1'], count(1));
    expect(o.real).toEqual({
      netns: null,
      portIf: 'enp1s0f0',
      uplinkIf: 'enp1s0f1',
      portSinkIf: 'enp1s0f1',
      uplinkSinkIf: 'enp1s0f0',
      sinkNetns: null,
    });
    const four = parseOptions(
      ['--port-if', 'a', '--uplink-if', 'b', '--port-sink-if', 'c', '--uplink-sink-if', 'd', '--netns', 'dut', '--sink-netns', 'peer'],
      count(1),
    );
    expect(four.real).toEqual({ netns: 'dut', portIf: 'a', uplinkIf: 'b', portSinkIf: 'c', uplinkSinkIf: 'd', sinkNetns: 'peer' });
    expect(parseOptions(['--port-if', 'a', '--uplink-if', 'b', '--netns', 'x'], count(1)).real?.sinkNetns).toBe('x');
  });

  it('refuses real-interface flags that cannot work, saying why', () => {
    const bad = (argv: string[]) => () => parseOptions(argv, count(1));
    expect(bad(['--port-if', 'a'])).toThrow('--port-if needs --uplink-if too');
    expect(bad(['--uplink-if', 'b'])).toThrow('--uplink-if needs --port-if too');
    expect(bad(['--port-if', 'a', '--uplink-if', 'a'])).toThrow('--port-if and --uplink-if are both a');
    expect(bad(['--port-sink-if', 'c'])).toThrow('--port-sink-if only applies to real interfaces');
    expect(bad(['--netns', 'x'])).toThrow('--netns only applies to real interfaces');
    expect(bad(['--port-if', 'a', '--uplink-if', 'b', '--port-sink-if', 'c', '--uplink-sink-if', 'c'])).toThrow(
      '--port-sink-if and --uplink-sink-if are both c',
    );
    expect(bad(['--port-if', 'a'.repeat(16), '--uplink-if', 'b'])).toThrow('--port-if wants an interface name');
    expect(bad(['--port-if', 'a/b', '--uplink-if', 'b'])).toThrow('--port-if wants an interface name');
    expect(bad(['--port-if', 'a', '--uplink-if', 'b', '--netns', '../x'])).toThrow('--netns wants the name of a namespace');
  });

  it('runs both parts by default, one with --only, fewer ports with --quick', () => {
    expect(parseBenchOptions([], count(6))).toMatchObject({ quick: false, ports: 10_000 });
    const quick = parseBenchOptions(['--quick', '--out-dir', '/tmp/x'], count(6));
    expect(quick).toMatchObject({ quick: true, ports: 1_000, outDir: '/tmp/x' });
    expect(quick.dataplane).toMatchObject({ quick: true, rounds: QUICK.rounds, out: '/tmp/x/bench.json' });
    expect(parseBenchOptions(['--ports', '50'], count(6)).ports).toBe(50);
    expect(parseBenchOptions(['--only', 'dataplane'], count(6))).toMatchObject({ ports: null });
    expect(parseBenchOptions(['--only', 'control-plane'], count(6))).toMatchObject({ dataplane: null });
    expect(() => parseBenchOptions(['--only', 'both'], count(6))).toThrow('--only wants dataplane or control-plane, got "both"');
    expect(() => parseBenchOptions(['--ports', '0'], count(6))).toThrow('--ports wants an integer ≥ 1');
    expect(() => parseBenchOptions(['--only', 'dataplane', '--ports', '5'], count(6))).toThrow('--only dataplane leaves it out');
    expect(() => parseBenchOptions(['--only', 'control-plane', '--rounds', '5'], count(6))).toThrow('--rounds is the dataplane');
  });
});

describe('real interfaces: which link is which side', () => {
  it('puts every scenario of the table across the two interfaces, the VM port on the port side', () => {
    const run = realScenarios(SCENARIOS);
    expect(run.length).toBeGreaterThan(0);
    expect(run.every((s) => s.path === 'xdpnet' || s.path === 'floor')).toBe(true);
    const sides = assignLinks(
      run,
      SCENARIOS.filter((s) => !run.includes(s)),
      LINKS,
    );
    expect(sides.get('port')).toBe('port');
    for (const s of run) expect(sides.get(s.ingress), s.id).not.toBe(sides.get(s.egress));
    for (const l of LINKS) expect(sides.has(l), l).toBe(true);
  });

  it('anchors a group of links without the VM port at its first ingress, and refuses a contradiction', () => {
    const sides = assignLinks(
      [
        { id: 'x/a', path: 'xdpnet', ingress: 'in', egress: 'out' },
        { id: 'y/a', path: 'xdpnet', ingress: 'out', egress: 'in' },
      ],
      [],
      ['in', 'out', 'unused'],
    );
    expect(Object.fromEntries(sides)).toEqual({ in: 'port', out: 'uplink', unused: 'port' });
    expect(() =>
      assignLinks(
        [
          { id: 'a', path: 'xdpnet', ingress: 'p', egress: 'q' },
          { id: 'b', path: 'xdpnet', ingress: 'q', egress: 'r' },
          { id: 'c', path: 'xdpnet', ingress: 'p', egress: 'r' },
        ],
        [],
        [],
      ),
    ).toThrow('scenario c goes from p to r, which other scenarios put on the same side');
    expect(() => assignLinks([{ id: 'h', path: 'xdpnet', ingress: 'p', egress: 'p' }], [], [])).toThrow('leaves by the link it arrives on');
    // Baselines' links are placed where they fit, never refused.
    const lenient = assignLinks([], [{ id: 'k', path: 'kernel', ingress: 'p', egress: 'p' }], ['p']);
    expect(lenient.get('p')).toBe('port');
  });
});

// ---------------------------------------------------------------------------
// Reports from made-up measurements

const OPTIONS = { rounds: 3, seconds: 0.5, warmupSeconds: 0.2, repeat: 1000, out: '', quick: true, directions: null, real: null, compareWith: null };

/** Rates per direction: ours, the floor (or null), the baseline (kind, rate). */
const RATES: Record<string, [number, number | null, string, number]> = {
  encap: [1.2, 1.7, 'kernel', 0.18],
  snat: [1.1, 1.6, 'nftables', 0.2],
  'snat-new': [0.9, null, 'nftables', 0.1],
};

function raw(): RawResults {
  const scenarios: RawResults['scenarios'] = [];
  const nsPerPacket: RawResults['nsPerPacket'] = [];
  for (const [direction, [ours, floor, kind, base]] of Object.entries(RATES)) {
    const rows: [string, number | null][] = [
      ['xdpnet', ours],
      ['floor', floor],
      [kind, base],
    ];
    for (const [path, rate] of rows) {
      if (rate === null) continue;
      const samples = [0.9, 1, 1.1].map((f) => ({ offered: 1e6, delivered: Math.round(f * rate * 5e5), other: 0, seconds: 0.5, mpps: f * rate }));
      scenarios.push({
        id: `${direction}/${path}`,
        direction,
        path: path as RawResults['scenarios'][number]['path'],
        description: `${path} in ${direction}`,
        ingress: 'port',
        egress: 'ul',
        offeredFrameBytes: 60,
        deliveredFrameBytes: 60,
        samples,
        generatorErrors: 0,
      });
    }
    nsPerPacket.push(
      { id: `${direction}/bpf_prog_run`, direction, chain: 'bpf_prog_run', ns: [20, 22, 24] },
      { id: `${direction}/generator`, direction, chain: 'generator', ns: [40, 40, 40] },
      { id: `${direction}/xdpnet`, direction, chain: 'xdpnet', ns: [140, 150, 160] },
    );
  }
  return { scenarios, nsPerPacket, reasons: {} } as unknown as RawResults;
}

const COMPARISONS: ComparisonSpec[] = [
  { direction: 'encap', of: 'xdpnet', against: 'floor', atLeast: 0.8 },
  { direction: 'encap', of: 'xdpnet', against: 'kernel', atLeast: 5 },
  { direction: 'snat', of: 'xdpnet', against: 'floor', atLeast: 0.7 },
  { direction: 'snat', of: 'xdpnet', against: 'nftables', atLeast: 4 },
  { direction: 'snat-new', of: 'xdpnet', against: 'nftables', atLeast: null },
];

const CONTROL_PLANE: ControlPlaneReport = {
  ports: 100,
  stateDir: '/tmp',
  rows: [
    { id: 'get-node-status', what: '100 GetNodeStatus calls, one at a time', ms: 50, against: null, ratio: 1 },
    { id: 'create-port', what: '100 CreatePort calls, one at a time', ms: 150, against: 'get-node-status', ratio: 3 },
    { id: 'sync', what: 'one Sync of 100 ports', ms: 7.5, against: 'create-port', ratio: 0.05 },
    { id: 'start-empty', what: 'process start to SERVING, empty store', ms: 400, against: null, ratio: 1 },
    { id: 'start-full', what: 'process start to SERVING, 100 ports in the store', ms: 600, against: 'start-empty', ratio: 1.5 },
  ],
};

describe('dataplane report', () => {
  const report = buildReport(raw(), OPTIONS, { startedAt: new Date('2025-01-01T00:00:00Z'), brNetfilter: false, comparisons: COMPARISONS });

  it('makes each direction\'s comparisons from the rates of the same rounds', () => {
    expect(report.ratios.map((r) => `${r.direction} ${r.of}/${r.against}`)).toEqual([
      'encap xdpnet/floor',
      'encap xdpnet/kernel',
      'snat xdpnet/floor',
      'snat xdpnet/nftables',
      'snat-new xdpnet/nftables',
    ]);
    const encapFloor = report.ratios[0]!;
    expect(encapFloor.perRound).toHaveLength(3);
    expect(encapFloor.median).toBeCloseTo(1.2 / 1.7, 6);
    expect(encapFloor.met).toBe(false);
    expect(report.ratios[1]!.median).toBeCloseTo(1.2 / 0.18, 6);
    expect(report.ratios[1]!.met).toBe(true);
    expect(report.targetsMet).toBe(false);
    expect(report.nsPerPacket.find((n) => n.id === 'encap/xdpnet')?.aboveGeneratorNs).toBe(110);
    expect(report.errors).toEqual([]);
  });

  it('applies a comparison without a direction to every direction that has both rows', () => {
    const r = buildReport(raw(), OPTIONS, {
      startedAt: new Date(),
      brNetfilter: false,
      comparisons: [{ of: 'xdpnet', against: 'floor', atLeast: 0.8 }],
    });
    expect(r.ratios.map((x) => x.direction)).toEqual(['encap', 'snat']);
  });

  it('is one table: a row per scenario with its rate, its ratios and targets, and ns/packet', () => {
    const text = renderTable(report);
    const line = (id: string) => text.split('\n').find((l) => l.trimStart().startsWith(`${id} `)) ?? '';
    expect(line('encap/xdpnet')).toMatch(/1\.200 .* 0\.71 ≥0\.8 NOT met +6\.67× kernel ≥5 met +110\.0$/);
    expect(line('snat/xdpnet')).toMatch(/5\.50× nftables ≥4 met/);
    // Reported without a target: shown as such, and not counted among the targets.
    expect(line('snat-new/xdpnet')).toMatch(/9\.00× nftables \(no target\)/);
    expect(report.ratios.find((r) => r.direction === 'snat-new')).toMatchObject({ target: null, met: true });
    expect(line('encap/kernel')).toMatch(/0\.180/);
    expect(text).toContain('ratios of delivered rates');
    // Directions are separated by a blank line; the header names the columns.
    expect(text).toMatch(/scenario +bytes in→out +Mpps +min–max +delivered +\/ floor \(target\) +\/ baseline \(target\) +ns\/pkt/);
  });

  it('says what went wrong: nothing delivered is an error, frames lost a warning', () => {
    const r0 = raw();
    r0.scenarios[0]!.samples[1]!.delivered = 0;
    r0.scenarios[1]!.samples.forEach((x) => (x.other = 5));
    const r = buildReport(r0, OPTIONS, { startedAt: new Date(), brNetfilter: false, comparisons: COMPARISONS });
    expect(r.errors).toEqual(['encap/xdpnet: a round delivered nothing']);
    expect(r.warnings).toContain('encap/floor: the sink saw 15 frames other than the expected output');
    expect(renderTable(r)).toContain('ERROR: encap/xdpnet: a round delivered nothing');
  });
});

describe('one report for make bench', () => {
  const dataplane = buildReport(raw(), OPTIONS, { startedAt: new Date('2025-01-01T00:00:00Z'), brNetfilter: false, comparisons: COMPARISONS });

  it('prints the dataplane, the control plane and the targets under one heading', () => {
    const r = buildBenchReport({ startedAt: new Date(Date.now() - 61_000), quick: true, controlPlane: CONTROL_PLANE, dataplane, outDir: '/x' });
    // snat-new has no target: neither met nor counted.
    expect(r.targets).toEqual({
      met: 2,
      total: 4,
      notMet: ['encap xdpnet/floor 0.71 (≥0.8)', 'snat xdpnet/floor 0.69 (≥0.7)'],
    });
    expect(r.files).toEqual({ json: '/x/bench.json', plot: '/x/bench.svg' });
    const text = renderBench(r);
    expect(text).toMatch(/^xdpnet benchmarks, quick run: .*, 61 s; kernel /);
    expect(text).toContain('encap/xdpnet');
    expect(text).toMatch(/100 CreatePort calls, one at a time +150\.0 ms +3\.00 +100 GetNodeStatus calls/);
    expect(text).toMatch(/one Sync of 100 ports +7\.5 ms +0\.050 +100 CreatePort calls/);
    expect(text).toContain('targets: 2 of 4 met; not met: encap xdpnet/floor 0.71 (≥0.8), snat xdpnet/floor 0.69 (≥0.7)');
    expect(text).toContain('results: /x/bench.json, plot /x/bench.svg');
  });

  it('leaves a part out cleanly', () => {
    const r = buildBenchReport({ startedAt: new Date(), quick: false, controlPlane: CONTROL_PLANE, dataplane: null, outDir: '/x' });
    expect(r.files.plot).toBeNull();
    expect(r.targets.total).toBe(0);
    expect(renderBench(r)).not.toContain('dataplane:');
  });
});

describe('plot', () => {
  const report = buildReport(raw(), OPTIONS, { startedAt: new Date('2025-01-01T00:00:00Z'), brNetfilter: false, comparisons: COMPARISONS });

  it('has a bar per scenario, grouped by direction, coloured by path', () => {
    expect(plotRows(report).map((r) => `${r.direction}:${r.path}`)).toEqual(report.scenarios.map((s) => `${s.direction}:${s.path}`));
    const spec = JSON.stringify(plotSpec(report));
    expect(spec).toContain('"xOffset"');
    expect(spec).toContain('"domain":["xdpnet","floor","kernel","nftables"]');
  });

  it('draws whiskers over the middle half of the rounds', () => {
    expect(quantile([4, 1, 3, 2], 0.25)).toBeCloseTo(1.75, 9);
    expect(quantile([4, 1, 3, 2], 0.75)).toBeCloseTo(3.25, 9);
    expect(quantile([5], 0.25)).toBe(5);
    expect(quantile([], 0.5)).toBe(0);
    const encap = plotRows(report).find((r) => r.scenario === 'encap/xdpnet')!;
    expect(encap.q1).toBeCloseTo(1.2 * 0.95, 3);
    expect(encap.q3).toBeCloseTo(1.2 * 1.05, 3);
  });

  it('renders to an SVG document that parses, with the bars and the directions on it', async () => {
    const svg = await plotSvg(report);
    // Parsed by a real XML parser: Python's, which the project already needs.
    const parsed = execFileSync(
      'python3',
      [
        '-c',
        [
          'import sys, xml.etree.ElementTree as ET',
          'root = ET.fromstring(sys.stdin.read())',
          'ns = "{http://www.w3.org/2000/svg}"',
          'bars = [g for g in root.iter(ns + "g") if "mark-rect" in (g.get("class") or "")]',
          'print(root.tag, sum(1 for g in bars for _ in g.iter(ns + "path")), "|".join(t.text or "" for t in root.iter(ns + "text")))',
        ].join('\n'),
      ],
      { input: svg, encoding: 'utf8' },
    );
    const [tag, bars, texts] = parsed.trim().split(' ');
    expect(tag).toBe('{http://www.w3.org/2000/svg}svg');
    expect(Number(bars)).toBe(report.scenarios.length);
    for (const d of Object.keys(RATES)) expect(texts!.split('|')).toContain(d);
  });
});

describe('text tables', () => {
  it('aligns columns, pads nothing at the end, and keeps blank separator rows', () => {
    const lines = textTable(
      [
        { header: 'name', align: 'left' },
        { header: 'n', align: 'right' },
      ],
      [['a', '1'], null, ['long name', '100']],
    );
    expect(lines).toEqual(['  name         n', '  a            1', '', '  long name  100']);
  });
});
