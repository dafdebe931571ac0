// Running the scenarios: a warm-up, then rounds in which every scenario runs
// once, in an order rotated by one each round, so slow drifts and bursts of
// load on a shared machine land on all of them alike and rates taken in the
// same round can be compared pairwise. The ns/packet timings are taken in
// the same rounds.
//
// A scenario whose ingress is in another namespace than the worker's is run
// by that namespace's generator host (hosts.ts) in its turn, like the
// others. Before the warm-up, each scenario's setup runs (the state it
// needs: a connection, a full connection table).

import { setTimeout as sleep } from 'node:timers/promises';
import type { BpfProgram, TestRunResult } from '../../src/dataplane/index.js';
import { Generator, type LiveRun } from './generator.js';
import type { GeneratorHost, KernelConntrack } from './hosts.js';
import type { Options } from './options.js';
import type { Programs } from './programs.js';
import { type PathKind, type Scenario, type SetupContext, type Vary, hostOf } from './scenarios.js';
import type { Sink } from './sink.js';
import type { BenchNet, Host } from './topology.js';

/** One scenario's traffic for one round. */
export interface LiveSample {
  offered: number;
  delivered: number;
  /** Frames the sink saw that were not the expected output. */
  other: number;
  seconds: number;
  /** Delivered frames per second, in millions. */
  mpps: number;
}

export interface ScenarioRun {
  scenario: Scenario;
  /** One per round, in round order. */
  samples: LiveSample[];
  /** Frames the generator could not restore or had nothing to hand to (must be 0). */
  generatorErrors: number;
}

/** A chain timed without live frames: mean ns per frame, one value per round. */
export interface NsRun {
  id: string;
  direction: string;
  /**
   * 'bpf_prog_run': xdp_pass run directly, what BPF_PROG_RUN's loop costs by
   * itself; 'generator': xdp_gen tail-calling xdp_pass, what every chain
   * below it includes.
   */
  chain: PathKind | 'generator' | 'bpf_prog_run';
  ns: number[];
}

export interface Measured {
  runs: ScenarioRun[];
  ns: NsRun[];
  /** The kernel gateways' connection tracking after the last round, by namespace. */
  kernelConntrack: Partial<Record<Host, KernelConntrack>>;
}

/** Where a scenario's traffic comes from: a generator in this process, or in its namespace's host. */
interface Source {
  live(seconds: number): Promise<LiveRun>;
  offer(frames: number): Promise<void>;
  errors(): Promise<{ restore: number; noTarget: number }>;
  /** Local generators only: the chain without live frames. */
  runAlone?: (repeat: number) => TestRunResult;
}

const localSource = (gen: Generator, ingress: number): Source => ({
  live: async (seconds) => gen.live(ingress, seconds),
  offer: async (frames) => gen.offer(ingress, frames),
  errors: async () => gen.errors(),
  runAlone: (repeat) => gen.runAlone(ingress, repeat),
});

const remoteSource = (host: GeneratorHost, id: string): Source => ({
  live: (seconds) => host.live(id, seconds),
  offer: (frames) => host.request({ op: 'offer', id, frames }),
  errors: () => host.request({ op: 'errors', id }),
});

/** Frames still in a veth ring when the generator returns are counted before the sink is read. */
const SETTLE_MS = 20;

interface Prepared {
  scenario: Scenario;
  source: Source;
  ingress: number;
  sinkIfindex: number;
  samples: LiveSample[];
}

interface Timed {
  run: NsRun;
  /** Mean ns per run of the chain over `repeat` runs. */
  time: (repeat: number) => number;
}

export async function measure(
  scenarios: readonly Scenario[],
  programs: Programs,
  sink: Sink,
  net: BenchNet,
  options: Options,
  hosts: ReadonlyMap<Host, GeneratorHost>,
): Promise<Measured> {
  const gens: Generator[] = [];
  const generator = async (program: BpfProgram, frame: Buffer, vary?: Vary): Promise<Generator> => {
    const gen = await Generator.load(program, frame, vary);
    gens.push(gen);
    return gen;
  };
  const hostFor = (host: Host): GeneratorHost => {
    const h = hosts.get(host);
    if (!h) throw new Error(`no generator host in namespace ${host}`);
    return h;
  };
  try {
    const prepared: Prepared[] = [];
    for (const scenario of scenarios) {
      const host = hostOf(scenario);
      const ingress = net.ifindex.host[scenario.ingress];
      let source: Source;
      if (host === 'node') {
        source = localSource(await generator(await scenario.program(programs), scenario.frame(), scenario.vary), ingress);
      } else {
        await hostFor(host).request({ op: 'load', id: scenario.id });
        source = remoteSource(hostFor(host), scenario.id);
      }
      prepared.push({ scenario, source, ingress, sinkIfindex: net.ifindex.sink[scenario.egress], samples: [] });
    }
    const timed = await timedChains(prepared, await programs.pass(), generator);

    const byId = (id: string): Prepared => {
      const p = prepared.find((x) => x.scenario.id === id);
      if (!p) throw new Error(`no scenario ${id} in this run`);
      return p;
    };
    const setup: SetupContext = {
      programs,
      offer: (id, frames) => byId(id).source.offer(frames),
      runAlone: async (id, repeat) => {
        const p = byId(id);
        if (!p.source.runAlone) throw new Error(`${id} runs in another namespace: it cannot be run without live frames`);
        p.source.runAlone(repeat);
      },
      kernelConntrackMax: async (host) => (await hostFor(host).request<KernelConntrack>({ op: 'conntrack' })).max,
    };
    for (const p of prepared) {
      if (!p.scenario.setup) continue;
      const started = performance.now();
      await p.scenario.setup(setup);
      log(`setup: ${p.scenario.id} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }

    log(`warm-up: ${options.warmupSeconds} s per scenario`);
    for (const p of prepared) {
      const s = await runOnce(p, sink, options.warmupSeconds);
      if (s.delivered === 0) {
        throw new Error(`${p.scenario.id}: nothing delivered in the warm-up (offered ${s.offered}, other ${s.other}); is the path set up?`);
      }
    }

    for (let round = 0; round < options.rounds; round++) {
      const order = prepared.map((_, i) => prepared[(i + round) % prepared.length]!);
      for (const p of order) {
        const s = await runOnce(p, sink, options.seconds);
        p.samples.push(s);
        log(
          `round ${round + 1}/${options.rounds}  ${p.scenario.id.padEnd(17)} ${s.mpps.toFixed(3).padStart(7)} Mpps` +
            `  delivered ${((100 * s.delivered) / s.offered).toFixed(1)}%${s.other ? `, ${s.other} other` : ''}`,
        );
      }
      for (const t of timed) t.run.ns.push(t.time(options.repeat));
    }

    const runs: ScenarioRun[] = [];
    for (const p of prepared) {
      const e = await p.source.errors();
      runs.push({ scenario: p.scenario, samples: p.samples, generatorErrors: e.restore + e.noTarget });
    }
    const kernelConntrack: Measured['kernelConntrack'] = {};
    for (const [host, h] of hosts) kernelConntrack[host] = await h.request<KernelConntrack>({ op: 'conntrack' });
    return { runs, ns: timed.map((t) => t.run), kernelConntrack };
  } finally {
    for (const g of gens) g.close();
  }
}

/**
 * The chains timed without live frames: per direction, BPF_PROG_RUN's own
 * loop (xdp_pass run directly), the generator alone (xdp_gen tail-calling
 * xdp_pass, on the direction's frame), then each scenario that allows it.
 */
async function timedChains(
  prepared: readonly Prepared[],
  pass: BpfProgram,
  generator: (program: BpfProgram, frame: Buffer, vary?: Vary) => Promise<Generator>,
): Promise<Timed[]> {
  const timed: Timed[] = [];
  for (const direction of new Set(prepared.map((p) => p.scenario.direction))) {
    const alone = prepared.filter((p) => p.scenario.direction === direction && p.scenario.timeAlone);
    const first = alone[0];
    if (!first) continue;
    const frame = first.scenario.frame();
    // The generator as the direction's chains run it (varying the frames if they do).
    const baseline = await generator(pass, frame, first.scenario.vary);
    const row = (id: string, chain: NsRun['chain'], time: Timed['time']): Timed => ({
      run: { id: `${direction}/${id}`, direction, chain, ns: [] },
      time,
    });
    timed.push(row('bpf_prog_run', 'bpf_prog_run', (repeat) => pass.testRun(frame, { ingressIfindex: first.ingress, repeat }).durationNs));
    timed.push(row('generator', 'generator', (repeat) => baseline.runAlone(first.ingress, repeat).durationNs));
    for (const p of alone) {
      const runAlone = p.source.runAlone;
      if (!runAlone) throw new Error(`${p.scenario.id}: timed alone, but run in another namespace`);
      timed.push(row(p.scenario.path, p.scenario.path, (repeat) => checked(p.scenario, runAlone(repeat))));
    }
  }
  return timed;
}

/** The timed chain's duration, once its last run is known to have done what the scenario says. */
function checked(scenario: Scenario, result: TestRunResult): number {
  // Every chain timed alone forwards through a DEVMAP.
  if (result.action !== 'REDIRECT' || result.frame.length !== scenario.delivered.len) {
    throw new Error(
      `${scenario.id}: timed without live frames, the last run gave ${result.action} and ${result.frame.length} bytes ` +
        `(want REDIRECT, ${scenario.delivered.len} bytes)`,
    );
  }
  return result.durationNs;
}

async function runOnce(p: Prepared, sink: Sink, seconds: number): Promise<LiveSample> {
  sink.expect(p.sinkIfindex, p.scenario.delivered);
  // Whatever earlier runs left in flight has settled (they end with SETTLE_MS too).
  const before = sink.read(p.sinkIfindex);
  const run = await p.source.live(seconds);
  await sleep(SETTLE_MS);
  const after = sink.read(p.sinkIfindex);
  const delivered = after.delivered - before.delivered;
  return {
    offered: run.offered,
    delivered,
    other: after.other - before.other,
    seconds: run.seconds,
    mpps: delivered / run.seconds / 1e6,
  };
}

function log(line: string): void {
  process.stdout.write(`  ${line}\n`);
}
