// A generator host: offers the traffic of the scenarios whose ingress is in
// another namespace than the worker's (the kernel gateways, topology.ts).
// BPF_PROG_RUN resolves the ingress ifindex in the caller's namespace and
// hands XDP_PASSed frames to that namespace's stack, so the generator must
// run there; the worker (in `node`) starts one of these per such namespace
// with `nsenter --net` and drives it, one request at a time, so that its
// scenarios take their turn in the same interleaved rounds as the others.
//
//   node build/bench/bench/dataplane/gen-host.js '<BenchNet as JSON>'
//
// Requests on stdin, one JSON object a line; for each, one line on stdout:
// {"ok":true,"result":...} or {"ok":false,"error":"..."}. Exits when stdin
// closes. See hosts.ts for the requests.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Generator } from './generator.js';
import type { HostRequest, KernelConntrack } from './hosts.js';
import { Programs } from './programs.js';
import { SCENARIOS } from './scenarios.js';
import type { BenchNet } from './topology.js';

const net = JSON.parse(process.argv[2] ?? '') as BenchNet;
const programs = new Programs(net);
const generators = new Map<string, { gen: Generator; ingress: number }>();

function generator(id: string): { gen: Generator; ingress: number } {
  const g = generators.get(id);
  if (!g) throw new Error(`scenario ${id} is not loaded here`);
  return g;
}

/** This namespace's connection tracking: its table's limit and fill, and the per-CPU statistics summed. */
function conntrack(): KernelConntrack {
  const sysctl = (name: string) => Number(readFileSync(`/proc/sys/net/netfilter/${name}`, 'utf8').trim());
  const [header, ...rows] = readFileSync('/proc/net/stat/nf_conntrack', 'utf8').trim().split('\n');
  const fields = (header ?? '').trim().split(/\s+/);
  const stats: Record<string, number> = {};
  for (const row of rows) {
    row.trim().split(/\s+/).forEach((hex, i) => {
      const name = fields[i];
      // `entries` is the table's, repeated on every CPU's line.
      if (name && name !== 'entries') stats[name] = (stats[name] ?? 0) + Number.parseInt(hex, 16);
    });
  }
  return { max: sysctl('nf_conntrack_max'), count: sysctl('nf_conntrack_count'), stats };
}

async function handle(req: HostRequest): Promise<unknown> {
  switch (req.op) {
    case 'load': {
      const scenario = SCENARIOS.find((s) => s.id === req.id);
      if (!scenario) throw new Error(`no scenario ${req.id}`);
      const gen = await Generator.load(await scenario.program(programs), scenario.frame(), scenario.vary);
      generators.set(req.id, { gen, ingress: net.ifindex.host[scenario.ingress] });
      return null;
    }
    case 'live': {
      const g = generator(req.id);
      return g.gen.live(g.ingress, req.seconds);
    }
    case 'offer': {
      const g = generator(req.id);
      g.gen.offer(g.ingress, req.frames);
      return null;
    }
    case 'errors':
      return generator(req.id).gen.errors();
    case 'conntrack':
      return conntrack();
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let reply: string;
  try {
    reply = JSON.stringify({ ok: true, result: await handle(JSON.parse(line) as HostRequest) });
  } catch (err) {
    reply = JSON.stringify({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  process.stdout.write(`${reply}\n`);
}
for (const { gen } of generators.values()) gen.close();
programs.close();
