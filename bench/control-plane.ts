// Control-plane benchmark (not a test): a real xdpnetd (fake dataplane, so
// only the control plane is measured) on a temporary unix socket.
//
//   make bench            (bench/main.ts runs it first, then the dataplane)
//   node build/bench/bench/control-plane.js [ports]      (this part alone)
//
// Measures, each next to a baseline taken in the same run on the same
// machine, because absolute times on shared machines mean little:
//   - creating N ports one CreatePort call at a time, against N no-op unary
//     calls (GetNodeStatus is cheap) over the same connection: the ratio is
//     what validation + an fsync'd commit + reconcile bookkeeping cost per call;
//   - creating the same N ports through one Sync call, against the one-at-a-time time;
//   - process start to SERVING with N ports in the store, against start to
//     SERVING with an empty store.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { unary } from '../src/api/client.js';
import type * as pb from '../src/gen/proto/xdpnet/v1/index.js';
import type { XdpNetClient } from '../src/gen/proto/xdpnet/v1/XdpNet.js';
import { TestDaemon } from '../test/helpers/daemon.js';
import { type Column, textTable } from './text-table.js';

export const DEFAULT_PORTS = 10_000;
export const QUICK_PORTS = 1_000;

export interface ControlPlaneRow {
  id: 'get-node-status' | 'create-port' | 'sync' | 'start-empty' | 'start-full';
  what: string;
  ms: number;
  /** The row this one is compared with (null: a baseline). */
  against: ControlPlaneRow['id'] | null;
  /** ms / the other row's ms (1 for a baseline). */
  ratio: number;
}

export interface ControlPlaneReport {
  ports: number;
  /** Where the daemons kept their state (fsync cost depends on it). */
  stateDir: string;
  rows: ControlPlaneRow[];
}

const NET = '00000001-0000-4000-8000-000000000001';
const SUBNET = '00000002-0000-4000-8000-000000000001';

const port = (n: number): pb.Port => ({
  id: `00000003-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
  networkId: NET,
  macAddress: `fa:16:3e:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`,
  fixedIps: [{ subnetId: SUBNET, ipAddress: `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}` }],
  local: { interfaceName: `tap${n}` },
});

/** Port numbers whose address is a usable host in 10.0.0.0/8 (not .0, not .255, not the gateway). */
function portNumbers(count: number): number[] {
  const out: number[] = [];
  for (let n = 2; out.length < count; n++) if ((n & 0xff) !== 0 && (n & 0xff) !== 255) out.push(n);
  return out;
}

async function seed(client: XdpNetClient): Promise<void> {
  await unary((cb) => client.createNetwork({ network: { id: NET, segmentationId: 100 } }, cb));
  await unary((cb) => client.createSubnet({ subnet: { id: SUBNET, networkId: NET, cidr: '10.0.0.0/8', gatewayIp: '10.0.0.1' } }, cb));
}

async function time(what: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await what();
  return performance.now() - start;
}

/** A daemon on `dir`, SERVING, handed to `use`, stopped afterwards whatever happens. */
async function withDaemon<T>(dir: string, use: (d: TestDaemon) => Promise<T>): Promise<T> {
  const daemon = await TestDaemon.start({ dir });
  try {
    await daemon.waitServing(120_000);
    return await use(daemon);
  } finally {
    await daemon.stop();
  }
}

async function startToServing(dir: string): Promise<number> {
  const start = performance.now();
  return withDaemon(dir, async () => performance.now() - start);
}

/** Runs the control-plane benchmark with `ports` ports; `log` gets a line per phase. */
export async function runControlPlane(ports: number, log: (line: string) => void = () => undefined): Promise<ControlPlaneReport> {
  if (!Number.isInteger(ports) || ports < 1) throw new RangeError(`the control plane wants a whole number of ports ≥ 1, got ${ports}`);
  const numbers = portNumbers(ports);
  const root = mkdtempSync(join(tmpdir(), 'xdpnet-bench-'));
  const rows: ControlPlaneRow[] = [];
  try {
    // One at a time, against a no-op call baseline.
    log(`${ports} GetNodeStatus calls, then ${ports} CreatePort calls`);
    const { noop, creates } = await withDaemon(join(root, 'one-at-a-time'), async (a) => {
      const ca = a.client();
      await seed(ca);
      const noop = await time(async () => {
        for (let i = 0; i < ports; i++) await unary((cb) => ca.getNodeStatus({}, cb));
      });
      const creates = await time(async () => {
        for (const n of numbers) await unary((cb) => ca.createPort({ port: port(n) }, cb));
      });
      return { noop, creates };
    });
    rows.push({ id: 'get-node-status', what: `${ports} GetNodeStatus calls, one at a time`, ms: noop, against: null, ratio: 1 });
    rows.push({ id: 'create-port', what: `${ports} CreatePort calls, one at a time`, ms: creates, against: 'get-node-status', ratio: creates / noop });

    // One Sync carrying the same ports, into a fresh store.
    log(`one Sync of ${ports} ports`);
    const dirB = join(root, 'sync');
    const sync = await withDaemon(dirB, (b) => {
      const client = b.client();
      return time(() =>
        unary((cb) =>
          client.sync(
            {
              networks: [{ id: NET, segmentationId: 100 }],
              subnets: [{ id: SUBNET, networkId: NET, cidr: '10.0.0.0/8', gatewayIp: '10.0.0.1' }],
              ports: numbers.map(port),
            },
            cb,
          ),
        ),
      );
    });
    rows.push({ id: 'sync', what: `one Sync of ${ports} ports`, ms: sync, against: 'create-port', ratio: sync / creates });

    // Start to SERVING: empty store (baseline) and the store holding N ports.
    log('process start to SERVING, empty store and full');
    const empty = await startToServing(join(root, 'empty'));
    const full = await startToServing(dirB);
    rows.push({ id: 'start-empty', what: 'process start to SERVING, empty store', ms: empty, against: null, ratio: 1 });
    rows.push({ id: 'start-full', what: `process start to SERVING, ${ports} ports in the store`, ms: full, against: 'start-empty', ratio: full / empty });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { ports, stateDir: tmpdir(), rows };
}

export const formatMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

const COLUMNS: readonly Column[] = [
  { header: 'measured', align: 'left' },
  { header: 'time', align: 'right' },
  { header: 'ratio', align: 'right' },
  { header: 'against', align: 'left' },
];

export function renderControlPlane(r: ControlPlaneReport): string {
  const name = (id: ControlPlaneRow['id']) => r.rows.find((x) => x.id === id)?.what.replace(/, one at a time$/, '') ?? id;
  const rows = r.rows.map((x) => [
    x.what,
    formatMs(x.ms),
    x.ratio < 0.1 ? x.ratio.toFixed(3) : x.ratio.toFixed(2),
    x.against === null ? '(baseline)' : name(x.against),
  ]);
  return [
    `control plane: xdpnetd (fake dataplane), unix socket, state on ${r.stateDir}, ${r.ports} ports; times against a baseline of the same run`,
    ...textTable(COLUMNS, rows),
  ].join('\n');
}

// Run alone: node build/bench/bench/control-plane.js [ports]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ports = Number(process.argv[2] ?? DEFAULT_PORTS);
  console.log(renderControlPlane(await runControlPlane(ports, (line) => console.log(`  ${line}`))));
}
