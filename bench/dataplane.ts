// Overlay dataplane benchmark (not a test): the same generated traffic
// offered to our XDP paths (xdp_port encapsulating, xdp_underlay
// decapsulating), to the kernel path Neutron's linuxbridge agent would use
// (Linux bridge + vxlan device), and to a minimal MAC-rewrite-and-redirect
// XDP program (the floor), in network namespaces of its own on the real
// kernel; rates are delivered frames at the far end.
//
//   make bench    (or: node build/bench/bench/dataplane.js [--quick] [--rounds N] [--seconds S] [--repeat N] [--out FILE])
//
// How (bench/dataplane/): this process builds the namespaces (topology.ts)
// and starts the worker inside the `node` namespace (worker.ts), which loads
// the programs, attaches the sinks (sink.ts) and runs the generator
// (generator.ts) through the scenarios (scenarios.ts) in interleaved rounds
// (measure.ts). This process turns what it measured into the table on stdout
// and the JSON report (report.ts), and removes the namespaces, even on
// failure or SIGINT.
//
// Exit status: 0 with a report, whether or not the targets are met (the
// report says); 1 when a scenario delivered nothing or the generator failed,
// since the numbers then mean nothing.

import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { NETNS_DIR } from '../test/helpers/netns.js';
import { type Options, parseOptions } from './dataplane/options.js';
import { RESULT_FD, type RawResults, type WorkerConfig } from './dataplane/protocol.js';
import { buildReport, renderTable, writeReport } from './dataplane/report.js';
import { BenchTopology } from './dataplane/topology.js';

const WORKER = fileURLToPath(new URL('./dataplane/worker.js', import.meta.url));

/** Runs the worker inside namespace `ns`; resolves with what it hands back on RESULT_FD. */
function runWorker(ns: string, config: WorkerConfig): Promise<RawResults> {
  const child = spawn('nsenter', [`--net=${NETNS_DIR}/${ns}`, '--', process.execPath, WORKER, JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
  });
  const chunks: Buffer[] = [];
  (child.stdio[RESULT_FD] as Readable).on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
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

async function main(options: Options): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('the dataplane benchmark needs root (namespaces, BPF)');
  const startedAt = new Date();
  console.log('overlay dataplane: building namespaces');
  const topology = await BenchTopology.create();
  try {
    const raw = await runWorker(topology.net.node, { options, net: topology.net });
    const report = buildReport(raw, options, { startedAt, brNetfilter: topology.net.brNetfilter });
    console.log(`\n${renderTable(report)}`);
    writeReport(options.out, report);
    console.log(`\n  JSON: ${options.out}`);
    return report.errors.length > 0 ? 1 : 0;
  } finally {
    await topology.destroy();
  }
}

process.exitCode = await main(parseOptions(process.argv.slice(2)));
