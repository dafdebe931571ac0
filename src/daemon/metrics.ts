// Prometheus metrics on a configurable address (GET /metrics).
//
// Values are read when scraped (collect callbacks), so nothing is computed
// for a metric nobody asks for and nothing goes stale between scrapes.

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

type PerProtocol = Record<'tcp' | 'udp' | 'icmp', number>;

/** The SNAT connection table as its collector last saw it (conntrack-gc.ts). */
export interface ConntrackMetrics {
  connections: PerProtocol;
  entries: number;
  expired: PerProtocol;
  orphans: number;
  purged: number;
  walks: number;
  lastWalkMs: number;
}

export interface MetricsSource {
  reasonCounters(): Promise<{ name: string; category: string; packets: bigint; bytes: bigint }[]>;
  resourceCounts(): Record<string, number>;
  desiredRevision(): number;
  ready(): boolean;
  mapFill(): Promise<{ name: string; entries: number; maxEntries: number }[]>;
  lastReconcile(): { durationMs: number; errors: number } | undefined;
  /** Undefined without a BPF dataplane (nothing is tracked). */
  conntrack?(): ConntrackMetrics | undefined;
}

/** The reason counted when a new SNAT connection finds no free external port. */
const PORTS_EXHAUSTED = 'REASON_DROP_SNAT_PORTS_EXHAUSTED';

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

  // SNAT (dataplane bpf): the connection table as the collector's last walk found it.
  const protocols = ['tcp', 'udp', 'icmp'] as const;
  new Gauge({
    name: 'xdpnet_snat_connections',
    help: 'SNAT connections in the conntrack table at the collector\'s last walk, by protocol',
    labelNames: ['protocol'] as const,
    registers: [registry],
    collect() {
      const c = source.conntrack?.();
      if (c) for (const p of protocols) this.set({ protocol: p }, c.connections[p]);
    },
  });
  new Counter({
    name: 'xdpnet_snat_connections_expired_total',
    help: 'SNAT connections the collector deleted because they were idle past their timeout, by protocol',
    labelNames: ['protocol'] as const,
    registers: [registry],
    collect() {
      const c = source.conntrack?.();
      if (!c) return;
      this.reset();
      for (const p of protocols) this.inc({ protocol: p }, c.expired[p]);
    },
  });
  new Counter({
    name: 'xdpnet_snat_connections_dropped_total',
    help: 'SNAT conntrack entries the collector deleted for another reason: half of a connection whose other half was gone (orphan), or a connection of an external IP no router holds here any more (released)',
    labelNames: ['why'] as const,
    registers: [registry],
    collect() {
      const c = source.conntrack?.();
      if (!c) return;
      this.reset();
      this.inc({ why: 'orphan' }, c.orphans);
      this.inc({ why: 'released' }, c.purged);
    },
  });
  new Counter({
    name: 'xdpnet_snat_gc_walks_total',
    help: 'Complete walks of the SNAT conntrack table by the collector',
    registers: [registry],
    collect() {
      const c = source.conntrack?.();
      if (!c) return;
      this.reset();
      this.inc(c.walks);
    },
  });
  new Gauge({
    name: 'xdpnet_snat_gc_last_walk_seconds',
    help: 'Duration of the collector\'s last walk of the SNAT conntrack table (wall clock, pauses for other work included)',
    registers: [registry],
    collect() {
      const c = source.conntrack?.();
      if (c) this.set(c.lastWalkMs / 1000);
    },
  });
  new Counter({
    name: 'xdpnet_snat_port_exhaustion_drops_total',
    help: `Packets that would have opened a SNAT connection but found no free external port (${PORTS_EXHAUSTED}; snat.port_range)`,
    registers: [registry],
    async collect() {
      this.reset();
      const r = (await source.reasonCounters()).find((x) => x.name === PORTS_EXHAUSTED);
      if (r) this.inc(Number(r.packets));
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
