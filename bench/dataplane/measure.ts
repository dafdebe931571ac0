// Running the scenarios: a warm-up, then rounds in which every scenario runs
// once, in an order rotated by one each round, so slow drifts and bursts of
// load on a shared machine land on all of them alike and rates taken in the
// same round can be compared pairwise. The ns/packet timings are taken in
// the same rounds.

import { setTimeout as sleep } from 'node:timers/promises';
import type { BpfProgram, TestRunResult } from '../../src/dataplane/index.js';
import { Generator } from './generator.js';
import type { Options } from './options.js';
import type { Programs } from './programs.js';
import type { PathKind, Scenario } from './scenarios.js';
import type { Sink } from './sink.js';
import type { BenchNet } from './topology.js';

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
}

/** Frames still in a veth ring when the generator returns are counted before the sink is read. */
const SETTLE_MS = 20;

interface Prepared {
  scenario: Scenario;
  gen: Generator;
  ingress: number;
  sinkIfindex: number;
  samples: LiveSample[];
}

interface Timed {
  run: NsRun;
  /** Mean ns per run of the chain over `repeat` runs. */
  time: (repeat: number) => number;
}

export async function measure(scenarios: readonly Scenario[], programs: Programs, sink: Sink, net: BenchNet, options: Options): Promise<Measured> {
  const gens: Generator[] = [];
  const generator = async (program: BpfProgram, frame: Buffer): Promise<Generator> => {
    const gen = await Generator.load(program, frame);
    gens.push(gen);
    return gen;
  };
  try {
    const prepared: Prepared[] = [];
    for (const scenario of scenarios) {
      prepared.push({
        scenario,
        gen: await generator(await scenario.program(programs), scenario.frame()),
        ingress: net.ifindex.node[scenario.ingress],
        sinkIfindex: net.ifindex.sink[scenario.egress],
        samples: [],
      });
    }
    const timed = await timedChains(prepared, await programs.pass(), generator);

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
          `round ${round + 1}/${options.rounds}  ${p.scenario.id.padEnd(14)} ${s.mpps.toFixed(3).padStart(7)} Mpps` +
            `  delivered ${((100 * s.delivered) / s.offered).toFixed(1)}%${s.other ? `, ${s.other} other` : ''}`,
        );
      }
      for (const t of timed) t.run.ns.push(t.time(options.repeat));
    }

    return {
      runs: prepared.map((p) => {
        const e = p.gen.errors();
        return { scenario: p.scenario, samples: p.samples, generatorErrors: e.restore + e.noTarget };
      }),
      ns: timed.map((t) => t.run),
    };
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
  generator: (program: BpfProgram, frame: Buffer) => Promise<Generator>,
): Promise<Timed[]> {
  const timed: Timed[] = [];
  for (const direction of new Set(prepared.map((p) => p.scenario.direction))) {
    const alone = prepared.filter((p) => p.scenario.direction === direction && p.scenario.timeAlone);
    const first = alone[0];
    if (!first) continue;
    const frame = first.scenario.frame();
    const baseline = await generator(pass, frame);
    const row = (id: string, chain: NsRun['chain'], time: Timed['time']): Timed => ({
      run: { id: `${direction}/${id}`, direction, chain, ns: [] },
      time,
    });
    timed.push(row('bpf_prog_run', 'bpf_prog_run', (repeat) => pass.testRun(frame, { ingressIfindex: first.ingress, repeat }).durationNs));
    timed.push(row('generator', 'generator', (repeat) => baseline.runAlone(first.ingress, repeat).durationNs));
    for (const p of alone) {
      timed.push(row(p.scenario.path, p.scenario.path, (repeat) => checked(p.scenario, p.gen.runAlone(p.ingress, repeat))));
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
  const run = p.gen.live(p.ingress, seconds);
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
