// `make bench`'s command line (bench/main.ts): its own flags and every flag
// of the dataplane (dataplane/options.ts).
//
//   --quick            the whole benchmark in about a minute: the control plane
//                      with 1,000 ports, the dataplane's quick run
//   --ports N          ports for the control plane (default 10,000; 1,000 with --quick)
//   --only PART        `dataplane` or `control-plane`: that part alone
//   --out-dir DIR      where bench.json and bench.svg go (default bench/results)

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../src/dataplane/native.js';
import { DEFAULT_PORTS, QUICK_PORTS } from './control-plane.js';
import { DATAPLANE_FLAGS, type Options, type ScenarioCount, dataplaneOptions } from './dataplane/options.js';

export const DEFAULT_OUT_DIR = join(REPO_ROOT, 'bench/results');

export interface BenchOptions {
  quick: boolean;
  /** null: the control plane is left out. */
  ports: number | null;
  /** null: the dataplane is left out. */
  dataplane: Options | null;
  outDir: string;
}

const PARTS = ['dataplane', 'control-plane'] as const;

/** Throws a RangeError naming the flag on anything wrong. */
export function parseBenchOptions(argv: readonly string[], scenarioCount: ScenarioCount): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: { ...DATAPLANE_FLAGS, ports: { type: 'string' }, only: { type: 'string' }, 'out-dir': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const only = values.only;
  if (only !== undefined && !(PARTS as readonly string[]).includes(only)) {
    throw new RangeError(`--only wants ${PARTS.join(' or ')}, got ${JSON.stringify(only)}`);
  }
  const quick = values.quick ?? false;
  let ports: number | null = quick ? QUICK_PORTS : DEFAULT_PORTS;
  if (values.ports !== undefined) {
    const n = Number(values.ports);
    if (values.ports.trim() === '' || !Number.isInteger(n) || n < 1) throw new RangeError(`--ports wants an integer ≥ 1, got ${JSON.stringify(values.ports)}`);
    ports = n;
  }
  if (only === 'dataplane') {
    if (values.ports !== undefined) throw new RangeError('--ports is the control plane\'s, and --only dataplane leaves it out');
    ports = null;
  }
  const outDir = values['out-dir'] ?? DEFAULT_OUT_DIR;
  const dataplane = only === 'control-plane' ? null : dataplaneOptions(values, scenarioCount, join(outDir, 'bench.json'));
  if (only === 'control-plane') {
    const given = Object.keys(DATAPLANE_FLAGS).filter((f) => f !== 'quick' && (values as Record<string, unknown>)[f] !== undefined);
    if (given.length > 0) throw new RangeError(`--${given[0]} is the dataplane's, and --only control-plane leaves it out`);
  }
  return { quick, ports, dataplane, outDir };
}
