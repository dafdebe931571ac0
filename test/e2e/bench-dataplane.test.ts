// The dataplane benchmark's harness works: run in its quickest form (one
// round of a few hundredths of a second per scenario), every scenario
// delivers frames at the far end, and only the frames it must (the sink
// checks the translated address or the decremented TTL where there is one),
// the generator never fails, our programs counted the frames under the
// reasons of the path the scenario names, and the JSON report has the shape
// bench/dataplane/report.ts documents. No timing is asserted: rates on a
// shared machine say nothing about correctness.
//
// The benchmark runs a worker inside its namespace as a separate node
// process, so it needs JavaScript: bench/ is compiled here into a private
// directory under build/ (not build/bench, which `make bench` may be using).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Report } from '../../bench/dataplane/report.js';
import { REPORT_SCHEMA } from '../../bench/dataplane/report.js';
import { SCENARIOS, comparisonsOf } from '../../bench/dataplane/scenarios.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { describePrivileged } from '../helpers/privileged.js';

const run = promisify(execFile);

describePrivileged('dataplane benchmark harness (make bench)', ['bpf', 'netns'], () => {
  let outDir = '';
  let resultDir = '';
  let report: Report;
  let stdout = '';

  beforeAll(async () => {
    outDir = mkdtempSync(join(REPO_ROOT, 'build', 'bench-test-'));
    resultDir = mkdtempSync(join(tmpdir(), 'xdpnet-bench-dataplane-'));
    await run(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-p', join(REPO_ROOT, 'bench/tsconfig.json'), '--outDir', outDir], {
      cwd: REPO_ROOT,
    });
    const json = join(resultDir, 'overlay.json');
    const args = ['--quick', '--rounds', '1', '--seconds', '0.05', '--repeat', '10000', '--out', json];
    ({ stdout } = await run(process.execPath, [join(outDir, 'bench/dataplane.js'), ...args], { cwd: REPO_ROOT, timeout: 90_000 }));
    report = JSON.parse(readFileSync(json, 'utf8')) as Report;
  }, 180_000);

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
    if (resultDir) rmSync(resultDir, { recursive: true, force: true });
  });

  it('reports every scenario of the table, each delivering frames and only the expected ones', () => {
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.scenarios.map((s) => s.id)).toEqual(SCENARIOS.map((s) => s.id));
    for (const s of report.scenarios) {
      expect(s.samples, s.id).toHaveLength(1);
      const [sample] = s.samples;
      expect(sample!.offered, s.id).toBeGreaterThan(0);
      expect(sample!.delivered, s.id).toBeGreaterThan(0);
      expect(sample!.delivered, s.id).toBeLessThanOrEqual(sample!.offered);
      expect(sample!.other, s.id).toBe(0);
      expect(s.generatorErrors, s.id).toBe(0);
      expect(s.medianMpps, s.id).toBeGreaterThan(0);
    }
    expect(report.errors).toEqual([]);
  });

  it('compares the paths of each direction and times the XDP-only chains alone', () => {
    const directions = [...new Set(SCENARIOS.map((s) => s.direction))];
    expect(report.ratios.map((r) => `${r.direction} ${r.of}/${r.against}`)).toEqual(
      directions.flatMap((d) => comparisonsOf(d).map((c) => `${d} ${c.of}/${c.against}`)),
    );
    for (const r of report.ratios) {
      expect(r.perRound).toHaveLength(1);
      expect(r.median).toBeGreaterThan(0);
      expect(typeof r.met).toBe('boolean');
    }
    const timed = SCENARIOS.filter((s) => s.timeAlone).map((s) => s.id);
    const baselines = directions.flatMap((d) => [`${d}/bpf_prog_run`, `${d}/generator`]);
    expect(report.nsPerPacket.map((n) => n.id).sort()).toEqual([...timed, ...baselines].sort());
    for (const n of report.nsPerPacket) {
      expect(n.samples).toHaveLength(1);
      expect(n.medianNs).toBeGreaterThan(0);
    }
    // Our programs' counters say the frames went where the scenarios say, and nowhere else.
    expect(report.reasons.xdp_port?.REASON_FWD_ENCAP).toBeGreaterThan(0);
    expect(report.reasons.xdp_underlay?.REASON_FWD_DECAP).toBeGreaterThan(0);
    const only = (program: string, reason: string) => {
      expect(Object.keys(report.reasons[program] ?? {}), program).toEqual([reason]);
      expect(report.reasons[program]![reason], program).toBeGreaterThan(0);
    };
    only('routed/xdp_port', 'REASON_FWD_ROUTED_LOCAL');
    only('snat/xdp_port', 'REASON_FWD_SNAT'); // the established connection only: never a new one
    only('snat/xdp_external', 'REASON_FWD_SNAT_REPLY_LOCAL');
    only('snat-new/xdp_port', 'REASON_FWD_SNAT_NEW'); // every frame a new connection, none refused
  });

  it('runs the new-connection scenarios into full connection tables', () => {
    // Ours: full from the setup on (two entries a connection), LRU evicting.
    const ours = report.conntrack.xdpnet;
    expect(ours).not.toBeNull();
    expect(ours!.entries).toBeGreaterThan(0.99 * ours!.maxEntries);
    // The kernel's: full, making room by early drop (of unreplied connections).
    const kernel = report.conntrack.kernel.masqnew;
    expect(kernel!.count).toBeGreaterThan(0.99 * kernel!.max);
    expect(kernel!.stats.early_drop).toBeGreaterThan(0);
    // The established gateway tracks the one connection.
    expect(report.conntrack.kernel.masq!.count).toBe(1);
  });

  it('prints the table', () => {
    for (const s of SCENARIOS) expect(stdout).toContain(s.id);
    expect(stdout).toContain('ratios of delivered rates');
  });
});
