// DesiredState over LevelDB: CRUD through the service, revisions, change
// announcements, restart, refusals and failed commits that change nothing,
// serialisation, close.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Rejection, type Stored } from '../../src/model/types.js';
import type { Change } from '../../src/store/api.js';
import type { CommitBatch, StateBackend } from '../../src/store/backend.js';
import { DesiredState, DesiredStateClosedError } from '../../src/store/desired-state.js';
import { DATABASE_DIR, LevelBackend } from '../../src/store/leveldb-backend.js';
import {
  GATEWAY,
  emptySnapshot,
  externalNetwork,
  externalSubnet,
  fipId,
  floatingIp,
  mac,
  netId,
  network,
  port,
  portId,
  router,
  routerId,
  subnet,
  subnetId,
  world,
} from '../helpers/world.js';

let dir: string;
const open: DesiredState[] = [];

async function openState(options?: Parameters<typeof DesiredState.open>[1]): Promise<DesiredState> {
  const s = await DesiredState.open(dir, options);
  open.push(s);
  return s;
}

async function closeAll(): Promise<void> {
  for (const s of open.splice(0)) await s.close();
}

/** Every key and value in the database, read directly (the state must be closed). */
async function dump(): Promise<Array<[string, string]>> {
  const db = new ClassicLevel<string, string>(join(dir, DATABASE_DIR));
  await db.open();
  try {
    const out: Array<[string, string]> = [];
    for await (const kv of db.iterator()) out.push(kv);
    return out;
  } finally {
    await db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xdpnet-store-'));
});

afterEach(async () => {
  await closeAll();
  rmSync(dir, { recursive: true, force: true });
});

async function populate(s: DesiredState): Promise<void> {
  const w = world();
  for (const n of w.networks) await s.create('network', n);
  for (const n of w.subnets) await s.create('subnet', n);
  for (const n of w.ports) await s.create('port', n);
  await s.create('router', router());
  await s.addRouterInterface(routerId(1), subnetId(1), null);
  await s.setRouterGateway(routerId(1), GATEWAY);
  await s.create('floatingIp', floatingIp());
}

describe('DesiredState', () => {
  it('starts empty at revision 0', async () => {
    const s = await openState();
    expect(s.revision).toBe(0);
    expect(s.snapshot()).toEqual(emptySnapshot());
    expect(s.count('port')).toBe(0);
    expect(s.list('network')).toEqual({ items: [], nextPageToken: '' });
  });

  it('creates, reads, updates and deletes through the service, one revision per change', async () => {
    const s = await openState();
    const n = await s.create('network', network({ id: netId(1).toUpperCase() }));
    expect(n).toEqual({ kind: 'network', revision: 1, resource: { ...network(), mtu: 1450 } });
    expect(s.revision).toBe(1);
    expect(s.get('network', netId(1))).toEqual(n);
    expect(s.get('network', netId(1).toUpperCase())).toEqual(n);
    expect(s.get('network', netId(2))).toBeUndefined();
    expect(s.get('network', 'garbage')).toBeUndefined();

    await s.create('subnet', subnet());
    const p = await s.create('port', port({ macAddress: 'FA:16:3E:00:00:01' }));
    expect(p.revision).toBe(3);
    expect(p.resource.macAddress).toBe('fa:16:3e:00:00:01');

    const renamed = await s.update('port', portId(1), port({ name: 'web-1' }), ['name']);
    expect(renamed.revision).toBe(4);
    expect(renamed.resource.name).toBe('web-1');
    expect(s.get('subnet', subnetId(1))?.revision).toBe(2); // untouched resources keep theirs

    const same = await s.update('port', portId(1), port({ name: 'web-1' }), ['name']);
    expect(same).toBe(renamed);
    expect(s.revision).toBe(4); // nothing changed, nothing committed

    const gone = await s.delete('port', portId(1));
    expect(gone).toEqual(renamed);
    expect(s.get('port', portId(1))).toBeUndefined();
    expect(s.revision).toBe(5);
    expect(s.count('port')).toBe(0);
  });

  it('runs the router actions and floating IPs end to end', async () => {
    const s = await openState();
    await populate(s);
    const r = s.get('router', routerId(1))!;
    expect(r.resource.interfaces).toEqual([{ subnetId: subnetId(1), ipAddress: '10.0.0.1' }]);
    expect(r.resource.externalGateway).toEqual(GATEWAY);
    const fip = s.get('floatingIp', fipId(1))!;
    expect(fip.resource.fixedIpAddress).toBe('10.0.0.10');
    expect(s.routerForFloatingIp(fip.resource)).toBe(routerId(1));
    await expect(s.removeRouterInterface(routerId(1), subnetId(1))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'subnet_id' });
    await s.update('floatingIp', fipId(1), floatingIp({ portId: null }), ['port_id']);
    expect(s.routerForFloatingIp(s.get('floatingIp', fipId(1))!.resource)).toBeNull();
    await s.clearRouterGateway(routerId(1));
    const after = await s.removeRouterInterface(routerId(1), subnetId(1));
    expect(after.resource).toMatchObject({ interfaces: [], externalGateway: null });
    expect(s.revision).toBe(12);
  });

  it('announces every commit, synchronously, with the right types and revisions', async () => {
    const s = await openState();
    const seen: Array<{ revision: number; changes: readonly Change[] }> = [];
    const unsubscribe = s.onChange((changes, revision) => seen.push({ revision, changes }));
    await s.create('network', network());
    expect(seen).toHaveLength(1); // before the promise resolved
    await s.update('network', netId(1), network({ name: 'n2' }), ['name']);
    await s.update('network', netId(1), network({ name: 'n2' }), ['name']); // no-op: no announcement
    await s.delete('network', netId(1));
    expect(seen.map((e) => [e.revision, e.changes.map((c) => [c.type, c.kind, c.id, c.revision])])).toEqual([
      [1, [['added', 'network', netId(1), 1]]],
      [2, [['modified', 'network', netId(1), 2]]],
      [3, [['deleted', 'network', netId(1), 3]]],
    ]);
    expect(seen[1]?.changes[0]?.resource).toMatchObject({ name: 'n2' });
    expect(seen[2]?.changes[0]?.resource).toMatchObject({ name: 'n2' }); // as it was
    unsubscribe();
    await s.create('network', network());
    expect(seen).toHaveLength(3);
  });

  it('announces a sync as one commit: deletions, then additions and modifications', async () => {
    const s = await openState();
    await s.sync(world());
    const seen: Change[][] = [];
    s.onChange((changes) => seen.push([...changes]));
    const w = world();
    const result = await s.sync({ ...w, floatingIps: [], ports: [port({ name: 'renamed' }), port({ id: portId(2), macAddress: mac(2), fixedIps: [] })] });
    expect(result).toEqual({ created: 1, updated: 1, deleted: 1, unchanged: 5, revision: 2 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.map((c) => [c.type, c.kind, c.revision])).toEqual([
      ['deleted', 'floatingIp', 2],
      ['modified', 'port', 2],
      ['added', 'port', 2],
    ]);
    expect(s.get('network', netId(1))?.revision).toBe(1);
    expect(s.get('port', portId(1))?.revision).toBe(2);
    const again = await s.sync(s.snapshot());
    expect(again).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 7, revision: 2 });
    expect(seen).toHaveLength(1);
  });

  it('a listener that throws breaks neither the commit nor the other listeners', async () => {
    const errors: unknown[] = [];
    const s = await openState({ onListenerError: (e) => errors.push(e) });
    const after: number[] = [];
    s.onChange(() => {
      throw new Error('listener bug');
    });
    s.onChange((_c, revision) => after.push(revision));
    const n = await s.create('network', network());
    expect(n.revision).toBe(1);
    expect(s.revision).toBe(1);
    expect(after).toEqual([1]);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/listener bug/);
    await s.create('subnet', subnet());
    expect(after).toEqual([1, 2]);
  });

  it('the default listener-error handler writes one line to stderr', async () => {
    const s = await openState();
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      s.onChange(() => {
        throw new Error('boom');
      });
      await s.create('network', network());
      expect(write).toHaveBeenCalledTimes(1);
      expect(String(write.mock.calls[0]?.[0])).toMatch(/change listener threw.*boom/);
    } finally {
      write.mockRestore();
    }
  });

  it('restarts with identical state and revisions', async () => {
    const s = await openState();
    await populate(s);
    await s.update('port', portId(1), port({ name: 'x' }), ['name']);
    const snapshot = s.snapshot();
    const revision = s.revision;
    const stored = (['network', 'subnet', 'port', 'router', 'floatingIp'] as const).flatMap((k) => s.list(k).items as Stored[]);
    await closeAll();

    const t = await openState();
    expect(t.revision).toBe(revision);
    expect(t.snapshot()).toEqual(snapshot);
    expect((['network', 'subnet', 'port', 'router', 'floatingIp'] as const).flatMap((k) => t.list(k).items as Stored[])).toEqual(stored);
    // The indexes are rebuilt too: rules still see what is there.
    await expect(t.create('port', port({ id: portId(2) }))).rejects.toMatchObject({ code: 'ALREADY_EXISTS', field: 'port.mac_address' });
    await expect(t.delete('port', portId(1))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(t.routerForFloatingIp(t.get('floatingIp', fipId(1))!.resource)).toBe(routerId(1));
  });

  it('refused mutations change nothing in memory or on disk', async () => {
    const s = await openState();
    await populate(s);
    const seen: unknown[] = [];
    s.onChange((c) => seen.push(c));
    const snapshot = JSON.stringify(s.snapshot());
    const refusals: Array<Promise<unknown>> = [
      s.create('network', network({ id: netId(5) })), // VNI taken
      s.create('port', port({ id: portId(2), macAddress: mac(2), fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.1' }] })),
      s.update('subnet', subnetId(1), subnet({ gatewayIp: '10.0.0.10' }), ['gateway_ip']),
      s.update('network', netId(1), network(), ['segmentation_id']),
      s.delete('network', netId(100)),
      s.delete('port', portId(1)),
      s.addRouterInterface(routerId(1), subnetId(100), null),
      s.clearRouterGateway(routerId(1)),
      s.sync({ ...world(), ports: [port(), port({ id: portId(2) })] }),
    ];
    const results = await Promise.allSettled(refusals);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(Rejection);
    }
    expect(JSON.stringify(s.snapshot())).toBe(snapshot);
    expect(s.revision).toBe(9);
    expect(seen).toEqual([]);
    const before = await (async () => {
      await closeAll();
      return dump();
    })();
    const t = await openState();
    expect(JSON.stringify(t.snapshot())).toBe(snapshot);
    await expect(t.create('network', network({ id: netId(5) }))).rejects.toBeInstanceOf(Rejection);
    await closeAll();
    expect(await dump()).toEqual(before);
    expect(before.find(([k]) => k === 'm/revision')?.[1]).toBe('9');
  });

  it('a commit that fails leaves memory untouched and rejects; the next one works', async () => {
    const real = await LevelBackend.open(dir);
    let fail = false;
    const backend: StateBackend = {
      load: () => real.load(),
      commit: (batch: CommitBatch) => (fail ? Promise.reject(new Error('disk full')) : real.commit(batch)),
      close: () => real.close(),
    };
    const s = await DesiredState.openBackend(backend);
    open.push(s);
    const seen: unknown[] = [];
    s.onChange((c) => seen.push(c));
    await s.create('network', network());
    fail = true;
    await expect(s.create('subnet', subnet())).rejects.toThrow('disk full');
    await expect(s.sync(world())).rejects.toThrow('disk full');
    expect(s.revision).toBe(1);
    expect(s.get('subnet', subnetId(1))).toBeUndefined();
    expect(s.count('network')).toBe(1);
    expect(seen).toHaveLength(1);
    fail = false;
    expect((await s.create('subnet', subnet())).revision).toBe(2);
  });

  it('serialises mutations: each sees the one before it', async () => {
    const s = await openState();
    const order: number[] = [];
    s.onChange((_c, rev) => order.push(rev));
    // Issued together without waiting: the subnet needs the network, the port the subnet.
    const all = await Promise.allSettled([
      s.create('network', network()),
      s.create('subnet', subnet()),
      s.create('port', port()),
      s.create('port', port({ id: portId(2) })), // same MAC as the first: refused
      s.create('port', port({ id: portId(3), macAddress: mac(3), fixedIps: [] })),
    ]);
    expect(all.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(all.map((r) => (r.status === 'fulfilled' ? r.value.revision : 0))).toEqual([1, 2, 3, 0, 4]);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('close waits for queued mutations; later ones reject', async () => {
    const s = await openState();
    const pending = s.create('network', network());
    const closing = s.close();
    await expect(s.create('network', externalNetwork())).rejects.toBeInstanceOf(DesiredStateClosedError);
    expect((await pending).revision).toBe(1);
    await closing;
    await s.close(); // twice is fine
    open.splice(open.indexOf(s), 1);
    const t = await openState();
    expect(t.count('network')).toBe(1);
  });

  it('refuses a second opening of the same state while it is open', async () => {
    await openState();
    await expect(DesiredState.open(dir)).rejects.toThrow(/in use by another process/);
  });

  it('accepts the external world in any order a sync gives', async () => {
    const s = await openState();
    const w = world();
    const r = await s.sync({ ...w, networks: [...w.networks].reverse(), subnets: [externalSubnet(), subnet()] });
    expect(r.created).toBe(7);
  });
});
