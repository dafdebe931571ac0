// `make bench`: every benchmark, one report. The control plane first (a real
// xdpnetd, fake dataplane: control-plane.ts), then the dataplane (every
// scenario next to its kernel baseline and the XDP floor, in the same
// rounds: dataplane.ts), then one table on stdout, one JSON document and a
// plot of the dataplane's rates in the results directory (report.ts).
//
//   node build/bench/bench/main.js [flags]
//
//   --quick, --ports N, --only PART, --out-dir DIR (options.ts), and every
//   flag of the dataplane (dataplane/options.ts): --rounds, --seconds,
//   --repeat, and --port-if/--uplink-if (real interfaces, docs/BENCHMARKS.md).
//
// Exit status: 0 with a report, whether or not the targets are met (the
// report says); 1 when the numbers mean nothing (a scenario delivered
// nothing, the generator failed) or a part failed; 2 for bad flags.

import { runControlPlane } from './control-plane.js';
import { runDataplane, scenarioCount } from './dataplane.js';
import { type BenchOptions, parseBenchOptions } from './options.js';
import { buildBenchReport, renderBench, writeBench } from './report.js';

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(argv, scenarioCount);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }
  if (options.dataplane && process.getuid?.() !== 0) {
    console.error('bench: the dataplane benchmark needs root (namespaces, BPF); --only control-plane runs without');
    return 2;
  }
  const startedAt = new Date();
  try {
    const controlPlane =
      options.ports === null ? null : await runControlPlane(options.ports, (line) => console.log(`control plane: ${line}`));
    const dataplane = options.dataplane ? await runDataplane(options.dataplane) : null;
    const report = buildBenchReport({ startedAt, quick: options.quick, controlPlane, dataplane, outDir: options.outDir });
    await writeBench(report);
    console.log(`\n${renderBench(report)}`);
    return dataplane && dataplane.errors.length > 0 ? 1 : 0;
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
