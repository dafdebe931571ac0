// `make bench`'s one report (bench/main.ts) works end to end: in its quickest
// form it runs the control plane and every dataplane scenario, prints one
// report, writes the combined JSON and a plot that is a real SVG document;
// and the real-interfaces mode works on any pair of interfaces, here veth
// pairs standing for two cabled NICs, leaving them as it found them, on
// success, on refusal and on SIGINT. No timing is asserted: rates on a
// shared machine say nothing about correctness.
//
// The benchmark runs workers as separate node processes, so it needs
// JavaScript: bench/ is compiled here into a private directory under build/.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../bench/report.js';
import { BENCH_SCHEMA } from '../../bench/report.js';
import { realScenarios } from '../../bench/dataplane/real-interfaces.js';
import { COMPARISONS, SCENARIOS } from '../../bench/dataplane/scenarios.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { Topology } from '../helpers/netns.js';
import { describePrivileged } from '../helpers/privileged.js';

const run = promisify(execFile);
/** The quickest run that still goes through every step. */
const TINY = ['--quick', '--rounds', '1', '--seconds', '0.05', '--repeat', '10000'];

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled bench/main.js to its end, whatever its exit status. */
function bench(main: string, args: string[], timeoutMs = 150_000): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { cwd: REPO_ROOT, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/** SVG checked by a real XML parser (Python's, which the project needs anyway): root tag, bars, texts. */
function parseSvg(file: string): { tag: string; bars: number; texts: string[] } {
  const out = execFileSync(
    'python3',
    [
      '-c',
      [
        'import json, sys, xml.etree.ElementTree as ET',
        'root = ET.parse(sys.argv[1]).getroot()',
        'ns = "{http://www.w3.org/2000/svg}"',
        'bars = [g for g in root.iter(ns + "g") if "mark-rect" in (g.get("class") or "")]',
        'print(json.dumps({"tag": root.tag, "bars": sum(1 for g in bars for _ in g.iter(ns + "path")), "texts": [t.text or "" for t in root.iter(ns + "text")]}))',
      ].join('\n'),
      file,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as { tag: string; bars: number; texts: string[] };
}

interface LinkState {
  flags: string[];
  xdp?: unknown;
}

function linkState(ns: string, ifname: string): LinkState {
  return (JSON.parse(execFileSync('ip', ['-n', ns, '-j', '-d', 'link', 'show', 'dev', ifname], { encoding: 'utf8' })) as LinkState[])[0]!;
}

describePrivileged('make bench: one report (bench/main.ts)', ['bpf', 'netns'], () => {
  let outDir = '';
  let resultDir = '';
  let main = '';

  beforeAll(async () => {
    outDir = mkdtempSync(join(REPO_ROOT, 'build', 'bench-report-test-'));
    resultDir = mkdtempSync(join(tmpdir(), 'xdpnet-bench-report-'));
    await run(join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-p', join(REPO_ROOT, 'bench/tsconfig.json'), '--outDir', outDir], { cwd: REPO_ROOT });
    main = join(outDir, 'bench/main.js');
  }, 180_000);

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
    if (resultDir) rmSync(resultDir, { recursive: true, force: true });
  });

  describe('the whole benchmark, --quick', () => {
    let outcome: Outcome;
    let report: BenchReport;
    const dir = () => join(resultDir, 'all');

    beforeAll(async () => {
      outcome = await bench(main, [...TINY, '--ports', '50', '--out-dir', dir()], 240_000);
      expect(outcome.stderr).not.toMatch(/^bench: /m);
      expect(outcome.code).toBe(0);
      report = JSON.parse(readFileSync(join(dir(), 'bench.json'), 'utf8')) as BenchReport;
    }, 300_000);

    it('writes one JSON with every dataplane scenario, each delivering frames, and the control plane', () => {
      expect(report.schema).toBe(BENCH_SCHEMA);
      expect(report.quick).toBe(true);
      const dp = report.dataplane!;
      expect(dp.mode).toEqual({ kind: 'veth' });
      expect(dp.scenarios.map((s) => s.id)).toEqual(SCENARIOS.map((s) => s.id));
      for (const s of dp.scenarios) {
        expect(s.samples, s.id).toHaveLength(1);
        expect(s.samples[0]!.delivered, s.id).toBeGreaterThan(0);
        expect(s.medianMpps, s.id).toBeGreaterThan(0);
        expect(s.generatorErrors, s.id).toBe(0);
      }
      expect(dp.errors).toEqual([]);
      // Every comparison scenarios.ts asks for, with its target and verdict.
      const asked = COMPARISONS.filter((c) => dp.scenarios.some((s) => s.direction === c.direction)).map((c) => `${c.direction} ${c.of}/${c.against}`);
      expect(dp.ratios.map((r) => `${r.direction} ${r.of}/${r.against}`)).toEqual(asked);
      for (const r of dp.ratios) {
        expect(r.median).toBeGreaterThan(0);
        expect(r.met).toBe(r.target === null || r.median >= r.target);
      }
      expect(report.targets.total).toBe(dp.ratios.filter((r) => r.target !== null).length);
      expect(report.targets.met + report.targets.notMet.length).toBe(report.targets.total);
      // Every XDP chain timed alone.
      for (const s of SCENARIOS.filter((x) => x.timeAlone)) expect(dp.nsPerPacket.some((n) => n.id === s.id), s.id).toBe(true);

      const cp = report.controlPlane!;
      expect(cp.ports).toBe(50);
      expect(cp.rows.map((r) => r.id)).toEqual(['get-node-status', 'create-port', 'sync', 'start-empty', 'start-full']);
      for (const r of cp.rows) expect(r.ms, r.id).toBeGreaterThan(0);
    });

    it('prints one report: the dataplane table, the control plane, the targets', () => {
      const text = outcome.stdout.slice(outcome.stdout.indexOf('xdpnet benchmarks, quick run'));
      expect(text).toMatch(/^xdpnet benchmarks, quick run/);
      expect(text).toMatch(/scenario +bytes in→out +Mpps +min–max +delivered +\/ floor \(target\) +\/ baseline \(target\) +ns\/pkt/);
      for (const s of SCENARIOS) expect(text, s.id).toMatch(new RegExp(`^  ${s.id.replace('/', '\\/')} +\\d+→\\d+ +\\d+\\.\\d{3} `, 'm'));
      expect(text).toMatch(/≥0\.8 (met|NOT met)/);
      expect(text).toMatch(/× kernel ≥5 (met|NOT met)/);
      expect(text).toContain('control plane: xdpnetd (fake dataplane)');
      expect(text).toMatch(/50 CreatePort calls, one at a time +\d/);
      expect(text).toMatch(/^targets: \d+ of \d+ met/m);
      expect(text).toContain(`results: ${join(dir(), 'bench.json')}, plot ${join(dir(), 'bench.svg')}`);
    });

    it('plots Mpps per scenario as a valid SVG document, a bar each, grouped by direction', () => {
      const svg = parseSvg(join(dir(), 'bench.svg'));
      expect(svg.tag).toBe('{http://www.w3.org/2000/svg}svg');
      expect(svg.bars).toBe(SCENARIOS.length);
      for (const d of new Set(SCENARIOS.map((s) => s.direction))) expect(svg.texts, d).toContain(d);
      for (const p of new Set(SCENARIOS.map((s) => s.path))) expect(svg.texts, p).toContain(p);
    });
  });

  describe('another build next to this one (--compare-with), as docs/BENCHMARKS.md builds it: a git worktree', () => {
    let outcome: Outcome;
    let report: BenchReport;
    let tree = '';
    const dir = () => join(resultDir, 'compare');

    beforeAll(async () => {
      // This very commit: the worktree recipe and the twin rows are what is tested, not a difference.
      tree = mkdtempSync(join(tmpdir(), 'xdpnet-other-build-'));
      await run('git', ['worktree', 'add', '--detach', tree, 'HEAD'], { cwd: REPO_ROOT });
      await run('make', ['-C', tree, 'bpf'], { cwd: REPO_ROOT, maxBuffer: 32 << 20 });
      const args = ['--only', 'dataplane', '--compare-with', join(tree, 'bpf/build'), '--directions', 'routed,rsnat'];
      outcome = await bench(main, [...args, '--rounds', '1', '--seconds', '0.05', '--repeat', '10000', '--out-dir', dir()], 240_000);
      expect(outcome.stderr).not.toMatch(/^bench: /m);
      expect(outcome.code).toBe(0);
      report = JSON.parse(readFileSync(join(dir(), 'bench.json'), 'utf8')) as BenchReport;
    }, 420_000);
    afterAll(async () => {
      if (tree) await run('git', ['worktree', 'remove', '--force', tree], { cwd: REPO_ROOT }).catch(() => rmSync(tree, { recursive: true, force: true }));
    });

    it('runs the other build’s program and floor as twins of ours, each delivering, and compares each pair', () => {
      const dp = report.dataplane!;
      const ids = dp.scenarios.map((s) => s.id);
      // rsnat brings snat (its kernel row replies to snat's connection).
      for (const d of ['routed', 'snat', 'rsnat']) {
        expect(ids, d).toEqual(expect.arrayContaining([`${d}/xdpnet`, `${d}/other`, `${d}/floor`, `${d}/other-floor`]));
        expect(dp.ratios.filter((r) => r.direction === d && r.target === null).map((r) => `${r.of}/${r.against}`)).toEqual(['xdpnet/other', 'floor/other-floor']);
      }
      for (const s of dp.scenarios) expect(s.samples[0]!.delivered, s.id).toBeGreaterThan(0);
      expect(dp.errors).toEqual([]);
      expect(outcome.stdout).toMatch(/^  routed\/other +60→60 /m);
      expect(outcome.stdout).toMatch(/\d\.\d\d× other \(no target\)/);
      expect(outcome.stdout).toMatch(/\d\.\d\d× other-floor \(no target\)/);
    });
  });

  describe('real interfaces (veth pairs standing for NICs)', () => {
    let topo: Topology;
    const ns = (short: string) => topo.nsName(short);

    beforeAll(async () => {
      topo = await Topology.create();
      // Two NICs cabled to each other.
      await topo.addNamespace('dut', { disableIpv6: true });
      await topo.addVeth({ a: { ns: 'dut', name: 'nic0' }, b: { ns: 'dut', name: 'nic1' } });
      // Two NICs each cabled to a port of another machine (here: namespace).
      await topo.addNamespace('dut4', { disableIpv6: true });
      await topo.addNamespace('peer', { disableIpv6: true });
      await topo.addVeth({ a: { ns: 'dut4', name: 'p0' }, b: { ns: 'peer', name: 'p1' } });
      await topo.addVeth({ a: { ns: 'dut4', name: 'u0' }, b: { ns: 'peer', name: 'u1' } });
      // Interfaces the benchmark must refuse.
      await topo.addNamespace('bad', { disableIpv6: true });
      await topo.addVeth({ a: { ns: 'bad', name: 'x0' }, b: { ns: 'bad', name: 'x1', ip: '198.51.100.1/24' } });
      await topo.addVeth({ a: { ns: 'bad', name: 'y0' }, b: { ns: 'bad', name: 'y1' } });
      await topo.addVeth({ a: { ns: 'bad', name: 'z0', up: false }, b: { ns: 'bad', name: 'z1' } });
    }, 60_000);

    afterAll(async () => {
      await topo?.destroy();
    });

    const untouched = (netns: string, ifnames: string[]) => {
      for (const i of ifnames) {
        const s = linkState(netns, i);
        expect(s.xdp, `${i}: XDP program left attached`).toBeUndefined();
        expect(s.flags, `${i}: left promiscuous`).not.toContain('PROMISC');
      }
    };

    it('runs every XDP scenario across a pair cabled to each other, counting at the other end', async () => {
      const dir = join(resultDir, 'pair');
      const o = await bench(main, [...TINY, '--only', 'dataplane', '--netns', ns('dut'), '--port-if', 'nic0', '--uplink-if', 'nic1', '--out-dir', dir]);
      expect(o.stderr).not.toMatch(/^bench: /m);
      expect(o.code).toBe(0);
      const report = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as BenchReport;
      expect(report.controlPlane).toBeNull();
      const dp = report.dataplane!;
      const run = realScenarios(SCENARIOS);
      expect(dp.scenarios.map((s) => s.id)).toEqual(run.map((s) => s.id));
      for (const s of dp.scenarios) expect(s.samples[0]!.delivered, s.id).toBeGreaterThan(0);
      expect(dp.errors).toEqual([]);
      if (dp.mode.kind !== 'real') throw new Error('not the real-interfaces mode');
      expect(dp.mode.skipped).toEqual(SCENARIOS.filter((s) => !run.includes(s)).map((s) => s.id));
      expect(dp.mode.links.port).toBe('nic0');
      expect(dp.mode.interfaces.map((i) => `${i.ifname}: ${i.role}`)).toEqual(['nic0: --port-if, --uplink-sink-if', 'nic1: --uplink-if, --port-sink-if']);
      expect(dp.mode.setUp).toEqual(['nic1 promiscuous', 'nic0 promiscuous', 'xdp_sink on nic0', 'xdp_sink on nic1']);
      // The interfaces' own counters saw the frames: each sent at least what its far end counted.
      const mode = dp.mode;
      for (const nic of ['nic0', 'nic1']) {
        const delivered = dp.scenarios.filter((s) => mode.links[s.egress] === nic).reduce((n, s) => n + s.samples[0]!.delivered, 0);
        expect(delivered, nic).toBeGreaterThan(0);
        expect(mode.counters.find((c) => c.ifname === nic)?.statistics.tx_packets, nic).toBeGreaterThanOrEqual(delivered);
      }
      expect(o.stdout).toContain('not run on real interfaces');
      expect(parseSvg(join(dir, 'bench.svg')).bars).toBe(run.length);
      untouched(ns('dut'), ['nic0', 'nic1']);
    }, 180_000);

    it('counts on other interfaces, in another namespace, when told to', async () => {
      const dir = join(resultDir, 'four');
      const args = ['--netns', ns('dut4'), '--port-if', 'p0', '--uplink-if', 'u0', '--sink-netns', ns('peer'), '--port-sink-if', 'p1', '--uplink-sink-if', 'u1'];
      const o = await bench(main, [...TINY, '--only', 'dataplane', ...args, '--out-dir', dir]);
      expect(o.stderr).not.toMatch(/^bench: /m);
      expect(o.code).toBe(0);
      const dp = (JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as BenchReport).dataplane!;
      for (const s of dp.scenarios) expect(s.samples[0]!.delivered, s.id).toBeGreaterThan(0);
      if (dp.mode.kind !== 'real') throw new Error('not the real-interfaces mode');
      // The sending interfaces run no sink, so they get an XDP program of their own for the run.
      expect(dp.mode.setUp).toEqual(['p1 promiscuous', 'u1 promiscuous', 'xdp_pass on p0', 'xdp_pass on u0', 'xdp_sink on p1', 'xdp_sink on u1']);
      untouched(ns('dut4'), ['p0', 'u0']);
      untouched(ns('peer'), ['p1', 'u1']);
    }, 180_000);

    it('refuses flags and interfaces it cannot use, naming the flag and the reason', async () => {
      const refuse = async (args: string[], code: number, message: string) => {
        const o = await bench(main, ['--only', 'dataplane', '--quick', ...args, '--out-dir', join(resultDir, 'refused')], 60_000);
        expect(o.stderr.trim(), args.join(' ')).toBe(`bench: ${message}`);
        expect(o.code, args.join(' ')).toBe(code);
      };
      const bad = ns('bad');
      await refuse(['--port-if', 'x0'], 2, '--port-if needs --uplink-if too: real interfaces are a pair, the VM side (--port-if) and the network side (--uplink-if)');
      await refuse(['--netns', 'no-such-ns', '--port-if', 'x0', '--uplink-if', 'x1'], 1, '--netns no-such-ns: no namespace /run/netns/no-such-ns');
      await refuse(['--netns', bad, '--port-if', 'eth9', '--uplink-if', 'x1'], 1, `--port-if eth9: no such interface in namespace ${bad}`);
      await refuse(['--netns', bad, '--port-if', 'z0', '--uplink-if', 'z1'], 1, `--port-if z0 is down: ip -n ${bad} link set dev z0 up`);
      await refuse(['--netns', bad, '--port-if', 'x0', '--uplink-if', 'x1'], 1,
        '--port-sink-if x1 has addresses (198.51.100.1/24): the sink drops every frame arriving on it during the run, so it must not carry ' +
          `other traffic; use dedicated ports, or remove them (ip -n ${bad} addr flush dev x1 scope global)`);
      await refuse(['--netns', bad, '--port-if', 'y0', '--uplink-if', 'y1', '--port-sink-if', 'y0', '--uplink-sink-if', 'y1'], 1,
        '--port-if y0 cannot count its own frames: --port-sink-if must be the interface they arrive on (the other end of its cable)');
      // An interface already running XDP is not taken over.
      execFileSync('ip', ['-n', bad, 'link', 'set', 'dev', 'y1', 'xdpgeneric', 'obj', join(REPO_ROOT, 'bpf/build/bench/xdp_pass.bpf.o'), 'sec', 'xdp']);
      try {
        const o = await bench(main, ['--only', 'dataplane', '--quick', '--netns', bad, '--port-if', 'y0', '--uplink-if', 'y1'], 60_000);
        expect(o.code).toBe(1);
        expect(o.stderr).toMatch(/^bench: --port-sink-if y1 already runs an XDP program \(id \d+, xdp_pass\); the sink replaces nothing: detach it first/);
      } finally {
        execFileSync('ip', ['-n', bad, 'link', 'set', 'dev', 'y1', 'xdpgeneric', 'off']);
      }
      // Nothing refused was changed.
      untouched(bad, ['x0', 'x1', 'y0']);
    }, 120_000);

    it('leaves the interfaces as it found them when interrupted', async () => {
      const args = ['--only', 'dataplane', '--quick', '--rounds', '200', '--seconds', '0.05', '--repeat', '1000'];
      const child = spawn(process.execPath, [main, ...args, '--netns', ns('dut'), '--port-if', 'nic0', '--uplink-if', 'nic1', '--out-dir', join(resultDir, 'int')], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no round started within 90 s:\n${out}`)), 90_000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (/round 2\//.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // Mid-run: the sinks are on, the sink interfaces promiscuous.
      expect(linkState(ns('dut'), 'nic1').flags).toContain('PROMISC');
      child.kill('SIGINT');
      const { signal } = await exited;
      expect(signal).toBe('SIGINT');
      untouched(ns('dut'), ['nic0', 'nic1']);
      // No worker left running in the namespace (SIGKILLed on the way out: give it a moment to be reaped).
      const pids = () => execFileSync('ip', ['netns', 'pids', ns('dut')], { encoding: 'utf8' }).trim();
      for (let i = 0; i < 40 && pids() !== ''; i++) await new Promise((r) => setTimeout(r, 50));
      expect(pids()).toBe('');
      expect(existsSync(join(resultDir, 'int', 'bench.json'))).toBe(false);
    }, 150_000);
  });
});
