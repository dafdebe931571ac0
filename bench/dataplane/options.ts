// Command-line flags of the dataplane benchmark.
//
//   --quick        a few seconds in all per scenario (5 rounds of 0.4 s; default 20 of 0.75 s)
//   --rounds N     rounds; each runs every scenario once, in a rotated order
//   --seconds S    seconds of traffic per scenario per round
//   --repeat N     runs per ns/packet measurement (BPF_PROG_RUN without live frames)
//   --out FILE     where the JSON goes (default bench/results/overlay.json)

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../../src/dataplane/native.js';

export interface Options {
  rounds: number;
  seconds: number;
  /** Untimed traffic per scenario before round 1 (caches, page pools, neighbour state). */
  warmupSeconds: number;
  repeat: number;
  out: string;
  quick: boolean;
}

// Many short rounds rather than a few long ones: a burst of other work on a
// shared machine then spoils a few pairs of a round, which the medians
// ignore, instead of one long run of one scenario.
const FULL = { rounds: 20, seconds: 0.75, warmupSeconds: 0.5, repeat: 1_000_000 };
const QUICK = { rounds: 5, seconds: 0.4, warmupSeconds: 0.2, repeat: 500_000 };

export const DEFAULT_OUT = join(REPO_ROOT, 'bench/results/overlay.json');

export function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      repeat: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const base = values.quick ? QUICK : FULL;
  const seconds = number('--seconds', values.seconds, base.seconds, { min: 0.01 });
  return {
    rounds: number('--rounds', values.rounds, base.rounds, { min: 1, integer: true }),
    seconds,
    warmupSeconds: Math.min(base.warmupSeconds, seconds),
    repeat: number('--repeat', values.repeat, base.repeat, { min: 1, integer: true }),
    out: values.out ?? DEFAULT_OUT,
    quick: values.quick ?? false,
  };
}

function number(flag: string, given: string | undefined, fallback: number, rule: { min: number; integer?: boolean }): number {
  if (given === undefined) return fallback;
  const n = Number(given);
  if (!Number.isFinite(n) || n < rule.min || (rule.integer && !Number.isInteger(n))) {
    throw new RangeError(`${flag} wants ${rule.integer ? 'an integer' : 'a number'} ≥ ${rule.min}, got ${JSON.stringify(given)}`);
  }
  return n;
}
