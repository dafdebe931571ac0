// Dataplane benchmark (not a test): the same generated traffic offered to
// our XDP paths (overlay encap and decap, routing, SNAT both ways, new
// connections), to the kernel path Neutron's agents would use for each, and
// to a minimal MAC-rewrite-and-redirect XDP program (the floor), in network
// namespaces of its own on the real kernel, or on real interfaces
// (--port-if/--uplink-if, real-interfaces.ts); rates are delivered frames at
// the far end.
//
//   make bench    (bench/main.ts: this and the control plane, one report)
//   node build/bench/bench/dataplane.js [flags of dataplane/options.ts] [--out FILE]   (this part alone)
//
// How (bench/dataplane/): this process builds the namespaces (topology.ts)
// and starts the worker inside the `node` namespace (worker.ts), which loads
// the programs, attaches the sinks (sink.ts) and runs the generator
// (generator.ts) through the scenarios (scenarios.ts) in interleaved rounds
// (measure.ts). This process turns what it measured into the report
// (report.ts), and removes the namespaces, even on failure or SIGINT.
//
// Exit status (alone): 0 with a report, whether or not the targets are met
// (the report says); 1 when a scenario delivered nothing or the generator
// failed, since the numbers then mean nothing.

import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NETNS_DIR } from '../test/helpers/netns.js';
import { type Options, parseOptions } from './dataplane/options.js';
import { RESULT_FD, type RawResults, type WorkerConfig } from './dataplane/protocol.js';
import { RealInterfaces, realScenarios } from './dataplane/real-interfaces.js';
import { type Report, buildReport, renderTable, writeReport } from './dataplane/report.js';
import { type Scenario, withOtherBuild } from './dataplane/scenarios.js';
import { BenchTopology } from './dataplane/topology.js';

const WORKER = fileURLToPath(new URL('./dataplane/worker.js', import.meta.url));

/**
 * The scenarios of these directions (null: all), in SCENARIOS order, and the
 * scenarios of other directions they need (rsnat's kernel row replies to
 * snat's connection: that direction is measured too).
 */
function inDirections(directions: readonly string[] | null, compareWith: string | null): Scenario[] {
  const { scenarios } = withOtherBuild(compareWith);
  const chosen = new Set(scenarios.filter((s) => directions === null || directions.includes(s.direction)).map((s) => s.direction));
  for (const s of scenarios) {
    if (!chosen.has(s.direction)) continue;
    for (const id of s.needs ?? []) chosen.add(scenarios.find((n) => n.id === id)!.direction);
  }
  return scenarios.filter((s) => chosen.has(s.direction));
}

/** How many scenarios a run of these options offers (the traffic budget is shared out over them). */
export function scenarioCount(real: boolean, directions: readonly string[] | null, compareWith: string | null): number {
  const chosen = inDirections(directions, compareWith);
  return real ? realScenarios(chosen).length : chosen.length;
}

const children = new Set<ChildProcess>();
let hooked = false;

/** The worker must not outlive this process (it would keep offering traffic to interfaces being restored). */
function killChildrenOnExit(): void {
  if (hooked) return;
  hooked = true;
  const kill = () => {
    for (const c of children) if (c.pid !== undefined && c.exitCode === null) c.kill('SIGKILL');
  };
  process.on('exit', kill);
  // Once, first, then out of the way: the topology's own hook re-raises the signal for its default action.
  const onSignal = () => {
    kill();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.prependListener('SIGINT', onSignal);
  process.prependListener('SIGTERM', onSignal);
}

/**
 * Runs the worker in namespace `ns` (a name in /run/netns), or in this
 * process's namespace if null; resolves with what it hands back on RESULT_FD.
 */
function runWorker(ns: string | null, config: WorkerConfig): Promise<RawResults> {
  const argv = [process.execPath, WORKER, JSON.stringify(config)];
  const full = ns === null ? argv : ['nsenter', `--net=${NETNS_DIR}/${ns}`, '--', ...argv];
  killChildrenOnExit();
  const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  children.add(child);
  const chunks: Buffer[] = [];
  (child.stdio[RESULT_FD] as Readable).on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      if (code !== 0) {
        reject(new Error(`the benchmark worker ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RawResults);
      } catch (err) {
        reject(new Error(`the benchmark worker handed back no results: ${(err as Error).message}`));
      }
    });
  });
}

/** Runs the dataplane benchmark; progress lines go to stdout, the report is returned. */
export async function runDataplane(options: Options): Promise<Report> {
  if (process.getuid?.() !== 0) throw new Error('the dataplane benchmark needs root (namespaces, BPF)');
  const startedAt = new Date();
  if (options.real) return runOnRealInterfaces(options, startedAt);
  console.log('dataplane: building namespaces');
  const topology = await BenchTopology.create();
  try {
    const scenarios = options.directions === null ? undefined : inDirections(options.directions, options.compareWith).map((s) => s.id);
    const raw = await runWorker(topology.net.node, { options, net: topology.net, scenarios });
    const { comparisons } = withOtherBuild(options.compareWith);
    return buildReport(raw, options, { startedAt, brNetfilter: topology.net.brNetfilter, comparisons });
  } finally {
    await topology.destroy();
  }
}

async function runOnRealInterfaces(options: Options, startedAt: Date): Promise<Report> {
  const opts = options.real!;
  const chosen = inDirections(options.directions, null);
  const run = realScenarios(chosen);
  const skipped = chosen.filter((s) => !run.includes(s));
  console.log(`dataplane: real interfaces ${opts.portIf} (port side) and ${opts.uplinkIf} (uplink side)${opts.netns ? ` in ${opts.netns}` : ''}`);
  const real = await RealInterfaces.prepare(opts, run, skipped);
  try {
    let raw: RawResults;
    try {
      raw = await runWorker(opts.netns, { options, net: real.net, sinks: real.sinks, scenarios: run.map((s) => s.id) });
    } catch (err) {
      throw new Error(
        `${(err as Error).message}. On real interfaces, "nothing delivered" means the frames leaving ${opts.portIf} did not reach ` +
          `${opts.portSinkIf}, or those leaving ${opts.uplinkIf} did not reach ${opts.uplinkSinkIf}: check the cabling and the links ` +
          '(docs/BENCHMARKS.md)',
      );
    }
    const counters = real.counters();
    return buildReport(raw, options, {
      startedAt,
      brNetfilter: false,
      comparisons: withOtherBuild(null).comparisons,
      mode: {
        kind: 'real',
        interfaces: RealInterfaces.describe(real),
        links: Object.fromEntries([...real.sides].map(([link, side]) => [link, side === 'port' ? opts.portIf : opts.uplinkIf])),
        counters,
        skipped: skipped.map((s) => s.id),
        setUp: [...real.actions, ...real.sinks.map((s) => `xdp_sink on ${s.ifname}`)],
      },
    });
  } finally {
    await real.destroy();
  }
}

// Run alone: the dataplane's table and JSON only.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = parseOptions(process.argv.slice(2), scenarioCount);
  const report = await runDataplane(options);
  console.log(`\n${renderTable(report)}`);
  writeReport(options.out, report);
  console.log(`\n  JSON: ${options.out}`);
  process.exitCode = report.errors.length > 0 ? 1 : 0;
}
