// The worker: runs inside the `node` namespace (started there by
// bench/dataplane.ts with `nsenter --net`), because BPF_PROG_RUN resolves the
// ingress ifindex, and a DEVMAP its ifindexes, in the caller's namespace.
// Loads every program, attaches the sinks, measures, and hands RawResults
// back on RESULT_FD; progress goes to stdout.
//
//   node build/bench/bench/dataplane/worker.js '<WorkerConfig as JSON>'

import { writeFileSync } from 'node:fs';
import { GeneratorHost } from './hosts.js';
import { checkLayouts } from './layouts.js';
import { measure } from './measure.js';
import { Programs } from './programs.js';
import { RESULT_FD, type RawResults, type WorkerConfig } from './protocol.js';
import { hostOf, withOtherBuild } from './scenarios.js';
import { Sink } from './sink.js';
import { type Host, LINKS } from './topology.js';

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
  const { net, options } = config;
  checkLayouts();
  const all = withOtherBuild(options.compareWith).scenarios;
  const unknown = (config.scenarios ?? []).filter((id) => !all.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`no such scenarios: ${unknown.join(', ')}`);
  const scenarios = config.scenarios ? all.filter((s) => config.scenarios!.includes(s.id)) : all;

  const sink = await Sink.load(net.bpffsDir);
  const programs = new Programs(net);
  // A generator host in each other namespace that has scenarios (hosts.ts).
  const hosts = new Map<Host, GeneratorHost>();
  try {
    for (const { netns, ifname } of config.sinks ?? LINKS.map((ifname) => ({ netns: net.sink, ifname }))) sink.attach(netns, ifname);
    for (const host of new Set(scenarios.map(hostOf))) if (host !== 'node') hosts.set(host, GeneratorHost.start(host, net));
    const measured = await measure(scenarios, programs, sink, net, options, hosts);
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
      reasons: programs.reasons(),
      conntrack: { xdpnet: programs.conntrackNew() ?? null, kernel: measured.kernelConntrack },
    };
    writeFileSync(RESULT_FD, JSON.stringify(results));
  } finally {
    for (const h of hosts.values()) await h.stop();
    programs.close();
    sink.close();
  }
}

await main();
