// The worker: runs inside the `node` namespace (started there by
// bench/dataplane.ts with `nsenter --net`), because BPF_PROG_RUN resolves the
// ingress ifindex, and a DEVMAP its ifindexes, in the caller's namespace.
// Loads every program, attaches the sinks, measures, and hands RawResults
// back on RESULT_FD; progress goes to stdout.
//
//   node build/bench/bench/dataplane/worker.js '<WorkerConfig as JSON>'

import { writeFileSync } from 'node:fs';
import { checkLayouts } from './layouts.js';
import { measure } from './measure.js';
import { Programs } from './programs.js';
import { RESULT_FD, type RawResults, type WorkerConfig } from './protocol.js';
import { SCENARIOS } from './scenarios.js';
import { Sink } from './sink.js';
import { LINKS } from './topology.js';

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
  const { net, options } = config;
  checkLayouts();

  const sink = await Sink.load(net.bpffsDir);
  const programs = new Programs(net);
  try {
    for (const link of LINKS) sink.attach(net.sink, link);
    const measured = await measure(SCENARIOS, programs, sink, net, options);
    const results: RawResults = {
      scenarios: measured.runs.map(({ scenario: s, samples, generatorErrors }) => ({
        id: s.id,
        direction: s.direction,
        path: s.path,
        description: s.description,
        ingress: s.ingress,
        egress: s.egress,
        offeredFrameBytes: s.frame().length,
        deliveredFrameBytes: s.delivered.len,
        samples,
        generatorErrors,
      })),
      nsPerPacket: measured.ns,
      reasons: (await programs.overlay()).reasons(),
    };
    writeFileSync(RESULT_FD, JSON.stringify(results));
  } finally {
    programs.close();
    sink.close();
  }
}

await main();
