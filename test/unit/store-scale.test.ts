// Scale: 10,000 ports created one at a time through DesiredState (each a
// durable commit), and Sync of 10,000 ports. Times are printed; the checks
// are on CPU time (fsync waits are the disk's, not ours) and on linearity:
// validating one port must not cost more as the state grows.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Port } from '../../src/model/types.js';
import { DesiredState } from '../../src/store/desired-state.js';
import { emptySnapshot, hostIn16, mac, network, port, portId, subnet, subnetId } from '../helpers/world.js';

const N = 10_000;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xdpnet-scale-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function nthPort(k: number, name = 'vm'): Port {
  return port({
    id: portId(k + 1),
    name,
    macAddress: mac(k + 1),
    fixedIps: [{ subnetId: subnetId(1), ipAddress: hostIn16('10.0', k) }],
    binding: { kind: 'remote', vtepIp: '192.0.2.5' },
  });
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

describe('desired state at 10,000 ports', () => {
  it(`creates ${N} ports one at a time, each committed durably, in linear time`, { timeout: 180_000 }, async () => {
    const s = await DesiredState.open(dir);
    try {
      await s.create('network', network());
      await s.create('subnet', subnet({ cidr: '10.0.0.0/16' }));
      const slice = 2000;
      const cpu: number[] = [];
      const wallStart = performance.now();
      for (let from = 0; from < N; from += slice) {
        const c = process.cpuUsage();
        for (let k = from; k < from + slice; k++) await s.create('port', nthPort(k));
        cpu.push(cpuMs(c));
      }
      const wall = performance.now() - wallStart;
      console.log(
        `${N} single creates under ${tmpdir()}: ${wall.toFixed(0)} ms wall (${(wall / N).toFixed(3)} ms each); ` +
          `CPU per ${slice}: ${cpu.map((x) => x.toFixed(0)).join(', ')} ms`,
      );
      expect(s.count('port')).toBe(N);
      expect(s.revision).toBe(N + 2);
      // Linear: the last slice costs about what the first did (allowing for GC and noise).
      expect(cpu[cpu.length - 1]!).toBeLessThan(Math.max(cpu[0]!, 200) * 3);
    } finally {
      await s.close();
    }
  });

  it(`syncs ${N} ports in well under a second of CPU`, { timeout: 120_000 }, async () => {
    const s = await DesiredState.open(dir);
    try {
      const snap = (name: string) => ({
        ...emptySnapshot(),
        networks: [network()],
        subnets: [subnet({ cidr: '10.0.0.0/16' })],
        ports: Array.from({ length: N }, (_, k) => nthPort(k, name)),
      });
      const runs: Record<string, { cpu: number; wall: number }> = {};
      const measure = async (label: string, snapshot: ReturnType<typeof snap>) => {
        const c = process.cpuUsage();
        const t = performance.now();
        const result = await s.sync(snapshot);
        runs[label] = { cpu: cpuMs(c), wall: performance.now() - t };
        return result;
      };
      expect((await measure('create', snap('vm'))).created).toBe(N + 2);
      expect((await measure('modify', snap('renamed'))).updated).toBe(N);
      expect((await measure('unchanged', snap('renamed'))).unchanged).toBe(N + 2);
      expect((await measure('delete', emptySnapshot())).deleted).toBe(N + 2);
      console.log(
        `sync of ${N} ports: ` + Object.entries(runs).map(([k, v]) => `${k} ${v.cpu.toFixed(0)} ms CPU / ${v.wall.toFixed(0)} ms wall`).join('; '),
      );
      for (const v of Object.values(runs)) expect(v.cpu).toBeLessThan(1000);
    } finally {
      await s.close();
    }
  });
});
