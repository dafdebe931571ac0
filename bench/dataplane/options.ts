// Command-line flags of the dataplane benchmark (bench/dataplane.ts alone,
// and bench/main.ts, which takes the same flags for its dataplane part).
//
//   --quick          about 25 s of traffic in all (5 rounds); default about 150 s (20 rounds)
//   --rounds N       rounds; each runs every scenario once, in a rotated order
//   --seconds S      seconds of traffic per scenario per round (default: the
//                    run's budget of traffic shared out over rounds × scenarios,
//                    within 0.25–0.75 s, 0.1–0.4 s with --quick)
//   --repeat N       runs per ns/packet measurement (BPF_PROG_RUN without live frames)
//   --directions D,… only these directions (encap, decap, routed, snat, rsnat,
//                    snat-new), each with all its paths; default every one
//   --out FILE       where bench/dataplane.ts writes its JSON (default bench/results/overlay.json)
//   --compare-with DIR  another build's bpf/build: its programs run next to ours,
//                    row by row in the same rounds (scenarios.ts, withOtherBuild)
//
// Real interfaces instead of the benchmark's veth namespaces
// (bench/dataplane/real-interfaces.ts, docs/BENCHMARKS.md):
//   --port-if IF       the VM side: frames from the VM arrive here, frames to the VM leave here
//   --uplink-if IF     the network side (underlay, external network): the other way round
//   --port-sink-if IF  where frames leaving --port-if are counted (default: --uplink-if,
//                      i.e. the two are cabled to each other, or are a veth pair)
//   --uplink-sink-if IF  the same for frames leaving --uplink-if (default: --port-if)
//   --netns NAME       the namespace (/run/netns/NAME) --port-if and --uplink-if are in
//                      (default: this process's)
//   --sink-netns NAME  the namespace the sink interfaces are in (default: --netns)

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { DIRECTIONS } from './scenarios.js';

/** Real interfaces to run on (null: the benchmark's own veth namespaces). */
export interface RealInterfaceOptions {
  /** Namespace name of --port-if/--uplink-if under /run/netns, or null for this process's namespace. */
  netns: string | null;
  portIf: string;
  uplinkIf: string;
  /** Where frames leaving portIf arrive (on this machine). */
  portSinkIf: string;
  /** Where frames leaving uplinkIf arrive. */
  uplinkSinkIf: string;
  sinkNetns: string | null;
}

export interface Options {
  rounds: number;
  seconds: number;
  /** Untimed traffic per scenario before round 1 (caches, page pools, neighbour state). */
  warmupSeconds: number;
  repeat: number;
  out: string;
  quick: boolean;
  /** The directions to run (scenarios.ts), in the order given; null: every one. */
  directions: string[] | null;
  real: RealInterfaceOptions | null;
  /** Another build's bpf/build, whose programs run next to ours (--compare-with); null: none. */
  compareWith: string | null;
}

// Many short rounds rather than a few long ones: a burst of other work on a
// shared machine then spoils a few pairs of a round, which the medians
// ignore, instead of one long run of one scenario. The traffic time is a
// budget for the whole run, so that adding scenarios shortens each run
// instead of lengthening the benchmark (down to a floor per run).
export const FULL = { rounds: 20, budgetSeconds: 150, seconds: { min: 0.25, max: 0.75 }, warmupSeconds: 0.5, repeat: 200_000 };
export const QUICK = { rounds: 5, budgetSeconds: 25, seconds: { min: 0.1, max: 0.4 }, warmupSeconds: 0.2, repeat: 100_000 };

export const DEFAULT_OUT = join(REPO_ROOT, 'bench/results/overlay.json');

/** The dataplane's flags, for parseArgs (bench/main.ts adds its own to them). */
export const DATAPLANE_FLAGS = {
  quick: { type: 'boolean' },
  rounds: { type: 'string' },
  seconds: { type: 'string' },
  repeat: { type: 'string' },
  directions: { type: 'string' },
  'compare-with': { type: 'string' },
  'port-if': { type: 'string' },
  'uplink-if': { type: 'string' },
  'port-sink-if': { type: 'string' },
  'uplink-sink-if': { type: 'string' },
  netns: { type: 'string' },
  'sink-netns': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type FlagValues = { [K in keyof typeof DATAPLANE_FLAGS]?: (typeof DATAPLANE_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/**
 * How many scenarios one round runs, on real interfaces or not, in these
 * directions (null: all): the traffic budget is shared out over them when
 * --seconds is not given.
 */
export type ScenarioCount = (real: boolean, directions: readonly string[] | null, compareWith: string | null) => number;

/** bench/dataplane.ts's command line. */
export function parseOptions(argv: readonly string[], scenarios: ScenarioCount): Options {
  const { values } = parseArgs({ args: [...argv], options: { ...DATAPLANE_FLAGS, out: { type: 'string' } }, strict: true, allowPositionals: false });
  return dataplaneOptions(values, scenarios, values.out ?? DEFAULT_OUT);
}

/** Options from parsed DATAPLANE_FLAGS values. Throws a RangeError naming the flag on a bad value. */
export function dataplaneOptions(values: FlagValues, scenarios: ScenarioCount, out: string): Options {
  const base = values.quick ? QUICK : FULL;
  const real = realInterfaces(values);
  const directions = directionList(values.directions);
  const compareWith = otherBuild(values['compare-with'], real !== null);
  const rounds = number('--rounds', values.rounds, base.rounds, { min: 1, integer: true });
  const shared = base.budgetSeconds / (rounds * Math.max(1, scenarios(real !== null, directions, compareWith)));
  const fallback = round2(Math.min(base.seconds.max, Math.max(base.seconds.min, shared)));
  const seconds = number('--seconds', values.seconds, fallback, { min: 0.01 });
  return {
    rounds,
    seconds,
    warmupSeconds: Math.min(base.warmupSeconds, seconds),
    repeat: number('--repeat', values.repeat, base.repeat, { min: 1, integer: true }),
    out,
    quick: values.quick ?? false,
    directions,
    real,
    compareWith,
  };
}

/** The object every other build has: what tells a bpf/build directory from any other. */
const OTHER_BUILD_MARK = 'xdp_port.bpf.o';

function otherBuild(given: string | undefined, real: boolean): string | null {
  if (given === undefined) return null;
  if (real) throw new RangeError('--compare-with runs on the benchmark\'s own namespaces only, not with --port-if/--uplink-if');
  const dir = resolve(given);
  if (!existsSync(join(dir, OTHER_BUILD_MARK))) {
    throw new RangeError(`--compare-with wants another build's bpf/build directory (with ${OTHER_BUILD_MARK} in it), got ${JSON.stringify(given)}`);
  }
  return dir;
}

function directionList(given: string | undefined): string[] | null {
  if (given === undefined) return null;
  const names = given.split(',').map((d) => d.trim());
  const unknown = names.filter((d) => !DIRECTIONS.includes(d));
  if (names.length === 0 || unknown.length > 0) {
    throw new RangeError(`--directions wants a comma-separated list of ${DIRECTIONS.join(', ')}, got ${JSON.stringify(given)}`);
  }
  return [...new Set(names)];
}

// IFNAMSIZ less the NUL; the characters the kernel refuses in a name.
const IFNAME = /^[^\s/:]{1,15}$/;
const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function realInterfaces(values: FlagValues): RealInterfaceOptions | null {
  const port = values['port-if'];
  const uplink = values['uplink-if'];
  if (port === undefined && uplink === undefined) {
    for (const flag of ['port-sink-if', 'uplink-sink-if', 'netns', 'sink-netns'] as const) {
      if (values[flag] !== undefined) throw new RangeError(`--${flag} only applies to real interfaces: give --port-if and --uplink-if too`);
    }
    return null;
  }
  if (port === undefined || uplink === undefined) {
    throw new RangeError(
      `${port === undefined ? '--uplink-if' : '--port-if'} needs ${port === undefined ? '--port-if' : '--uplink-if'} too: ` +
        'real interfaces are a pair, the VM side (--port-if) and the network side (--uplink-if)',
    );
  }
  const real: RealInterfaceOptions = {
    netns: netns('--netns', values.netns),
    portIf: ifname('--port-if', port),
    uplinkIf: ifname('--uplink-if', uplink),
    portSinkIf: ifname('--port-sink-if', values['port-sink-if'] ?? uplink),
    uplinkSinkIf: ifname('--uplink-sink-if', values['uplink-sink-if'] ?? port),
    sinkNetns: null,
  };
  real.sinkNetns = values['sink-netns'] === undefined ? real.netns : netns('--sink-netns', values['sink-netns']);
  if (real.portIf === real.uplinkIf) {
    throw new RangeError(`--port-if and --uplink-if are both ${real.portIf}: frames must leave by another interface than the one they arrive on`);
  }
  if (real.portSinkIf === real.uplinkSinkIf) {
    throw new RangeError(`--port-sink-if and --uplink-sink-if are both ${real.portSinkIf}: each direction needs its own receiving interface`);
  }
  return real;
}

function ifname(flag: string, given: string): string {
  if (!IFNAME.test(given)) throw new RangeError(`${flag} wants an interface name (1–15 characters, no space, '/' or ':'), got ${JSON.stringify(given)}`);
  return given;
}

function netns(flag: string, given: string | undefined): string | null {
  if (given === undefined) return null;
  if (!NETNS_NAME.test(given)) throw new RangeError(`${flag} wants the name of a namespace in /run/netns (as \`ip netns list\` shows), got ${JSON.stringify(given)}`);
  return given;
}

function number(flag: string, given: string | undefined, fallback: number, rule: { min: number; integer?: boolean }): number {
  if (given === undefined) return fallback;
  const n = Number(given);
  if (given.trim() === '' || !Number.isFinite(n) || n < rule.min || (rule.integer && !Number.isInteger(n))) {
    throw new RangeError(`${flag} wants ${rule.integer ? 'an integer' : 'a number'} ≥ ${rule.min}, got ${JSON.stringify(given)}`);
  }
  return n;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
