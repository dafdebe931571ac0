// Prometheus metrics on a configurable address (GET /metrics).
//
// Values are read when scraped (collect callbacks), so nothing is computed
// for a metric nobody asks for and nothing goes stale between scrapes.

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSource {
  reasonCounters(): Promise<{ name: string; category: string; packets: bigint; bytes: bigint }[]>;
  resourceCounts(): Record<string, number>;
  desiredRevision(): number;
  ready(): boolean;
  mapFill(): Promise<{ name: string; entries: number; maxEntries: number }[]>;
  lastReconcile(): { durationMs: number; errors: number } | undefined;
}

export function createRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'xdpnetd_' });

  // Counters read from the BPF maps: set to the kernel's running totals.
  new Counter({
    name: 'xdpnet_reason_packets_total',
    help: 'Frames handled by the fast path, by reason (see proto/xdpnet/v1/reasons.proto)',
    labelNames: ['reason', 'category'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await source.reasonCounters()) this.inc({ reason: r.name, category: r.category }, Number(r.packets));
    },
  });
  new Counter({
    name: 'xdpnet_reason_bytes_total',
    help: 'Bytes of the frames handled by the fast path, by reason',
    labelNames: ['reason', 'category'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await source.reasonCounters()) this.inc({ reason: r.name, category: r.category }, Number(r.bytes));
    },
  });
  new Gauge({
    name: 'xdpnet_resources',
    help: 'Resources in the desired state, by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      for (const [kind, n] of Object.entries(source.resourceCounts())) this.set({ kind }, n);
    },
  });
  new Gauge({
    name: 'xdpnet_desired_revision',
    help: 'Revision of the last committed desired-state change',
    registers: [registry],
    collect() {
      this.set(source.desiredRevision());
    },
  });
  new Gauge({
    name: 'xdpnet_ready',
    help: '1 once the first reconcile has finished (health SERVING)',
    registers: [registry],
    collect() {
      this.set(source.ready() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'xdpnet_map_entries',
    help: 'Entries in each dataplane map',
    labelNames: ['map'] as const,
    registers: [registry],
    async collect() {
      for (const m of await source.mapFill()) this.set({ map: m.name }, m.entries);
    },
  });
  new Gauge({
    name: 'xdpnet_map_max_entries',
    help: 'Capacity of each dataplane map',
    labelNames: ['map'] as const,
    registers: [registry],
    async collect() {
      for (const m of await source.mapFill()) this.set({ map: m.name }, m.maxEntries);
    },
  });
  new Gauge({
    name: 'xdpnet_last_reconcile_duration_seconds',
    help: 'Duration of the last reconcile pass',
    registers: [registry],
    collect() {
      const last = source.lastReconcile();
      if (last) this.set(last.durationMs / 1000);
    },
  });
  new Gauge({
    name: 'xdpnet_last_reconcile_errors',
    help: 'Operations that failed in the last reconcile pass',
    registers: [registry],
    collect() {
      const last = source.lastReconcile();
      if (last) this.set(last.errors);
    },
  });
  return registry;
}

/** Serves the registry at http://address/metrics. Resolves once listening. */
export async function serveMetrics(registry: Registry, address: string): Promise<Server> {
  const match = /^(.*):(\d+)$/.exec(address);
  if (!match) throw new Error(`metrics address ${address} is not host:port`);
  const [, host, port] = match;
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`metrics collection failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), host?.replace(/^\[|\]$/g, ''), () => resolve());
  });
  return server;
}
