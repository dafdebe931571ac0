// Control-plane benchmark (not a test): a real xdpnetd (fake dataplane, so
// only the control plane is measured) on a temporary unix socket.
//
//   make bench            (or: node build/bench/bench/control-plane.js [ports])
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
import { unary } from '../src/api/client.js';
import type * as pb from '../src/gen/proto/xdpnet/v1/index.js';
import type { XdpNetClient } from '../src/gen/proto/xdpnet/v1/XdpNet.js';
import { TestDaemon } from '../test/helpers/daemon.js';

const N = Number(process.argv[2] ?? 10_000);
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

async function startToServing(dir: string): Promise<number> {
  const start = performance.now();
  const daemon = await TestDaemon.start({ dir });
  await daemon.waitServing(120_000);
  const elapsed = performance.now() - start;
  await daemon.stop();
  return elapsed;
}

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function main(): Promise<void> {
  const numbers = portNumbers(N);
  const root = mkdtempSync(join(tmpdir(), 'xdpnet-bench-'));
  const rows: [string, string, string][] = [];
  try {
    // One at a time, against a no-op call baseline.
    const dirA = join(root, 'one-at-a-time');
    const a = await TestDaemon.start({ dir: dirA });
    await a.waitServing();
    const ca = a.client();
    await seed(ca);
    const noop = await time(async () => {
      for (let i = 0; i < N; i++) await unary((cb) => ca.getNodeStatus({}, cb));
    });
    const creates = await time(async () => {
      for (const n of numbers) await unary((cb) => ca.createPort({ port: port(n) }, cb));
    });
    rows.push([`${N} GetNodeStatus calls, one at a time (baseline)`, fmt(noop), '1.00']);
    rows.push([`${N} CreatePort calls, one at a time`, fmt(creates), (creates / noop).toFixed(2)]);
    await a.stop();

    // One Sync carrying the same ports, into a fresh store.
    const dirB = join(root, 'sync');
    const b = await TestDaemon.start({ dir: dirB });
    await b.waitServing();
    const cb_ = b.client();
    const sync = await time(() =>
      unary((cb) =>
        cb_.sync(
          {
            networks: [{ id: NET, segmentationId: 100 }],
            subnets: [{ id: SUBNET, networkId: NET, cidr: '10.0.0.0/8', gatewayIp: '10.0.0.1' }],
            ports: numbers.map(port),
          },
          cb,
        ),
      ),
    );
    rows.push([`one Sync of ${N} ports`, fmt(sync), `${(sync / creates).toFixed(3)} of one-at-a-time`]);
    await b.stop();

    // Start to SERVING: empty store (baseline) and the store holding N ports.
    const empty = await startToServing(join(root, 'empty'));
    const full = await startToServing(dirB);
    rows.push(['process start to SERVING, empty store (baseline)', fmt(empty), '1.00']);
    rows.push([`process start to SERVING, ${N} ports in the store`, fmt(full), (full / empty).toFixed(2)]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`control plane, ${N} ports (xdpnetd, fake dataplane, unix socket, state on ${tmpdir()})`);
  for (const [what, t, ratio] of rows) console.log(`  ${what.padEnd(width)}  ${t.padStart(9)}  ratio ${ratio}`);
}

await main();
