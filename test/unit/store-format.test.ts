// The on-disk format: keys, values, one synchronous batch per commit, and the
// databases that must be refused (newer format, not ours, damaged records).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DesiredState } from '../../src/store/desired-state.js';
import { FORMAT_VERSION, StateFormatError } from '../../src/store/format.js';
import { DATABASE_DIR } from '../../src/store/leveldb-backend.js';
import { netId, network, port, portId, subnet, subnetId } from '../helpers/world.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xdpnet-format-'));
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

async function withDb<T>(fn: (db: ClassicLevel<string, string>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<string, string>(join(dir, DATABASE_DIR));
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const entries = () =>
  withDb(async (db) => {
    const out: Record<string, string> = {};
    for await (const [k, v] of db.iterator()) out[k] = v;
    return out;
  });

describe('on-disk format', () => {
  it('keeps the format, the revision and one record per resource', async () => {
    const s = await DesiredState.open(dir);
    await s.create('network', network());
    await s.create('subnet', subnet());
    await s.update('network', netId(1), network({ name: 'n2' }), ['name']);
    await s.close();
    const kv = await entries();
    expect(Object.keys(kv).sort()).toEqual(['m/format', 'm/revision', `r/network/${netId(1)}`, `r/subnet/${subnetId(1)}`]);
    expect(kv['m/format']).toBe(String(FORMAT_VERSION));
    expect(kv['m/revision']).toBe('3');
    expect(JSON.parse(kv[`r/network/${netId(1)}`]!)).toEqual({ resource: { ...network({ name: 'n2' }), mtu: 1450 }, revision: 3 });
    expect(JSON.parse(kv[`r/subnet/${subnetId(1)}`]!).revision).toBe(2);
  });

  it('writes each commit as one synchronous batch carrying the resources and the revision', async () => {
    const s = await DesiredState.open(dir);
    await s.create('network', network());
    await s.create('subnet', subnet());
    await s.create('port', port());
    const batch = vi.spyOn(ClassicLevel.prototype, 'batch');
    await s.sync({
      networks: [network()],
      subnets: [subnet()],
      ports: [port({ name: 'renamed' }), port({ id: portId(2), macAddress: 'fa:16:3e:00:00:02', fixedIps: [] })],
      routers: [],
      floatingIps: [],
    });
    await s.delete('port', portId(2));
    expect(batch).toHaveBeenCalledTimes(2);
    const [ops, options] = batch.mock.calls[0] as unknown as [Array<{ type: string; key: string }>, { sync: boolean }];
    expect(options).toMatchObject({ sync: true });
    expect(ops.map((o) => [o.type, o.key])).toEqual([
      ['put', `r/port/${portId(1)}`],
      ['put', `r/port/${portId(2)}`],
      ['put', 'm/revision'],
    ]);
    const [delOps, delOptions] = batch.mock.calls[1] as unknown as [Array<{ type: string; key: string }>, { sync: boolean }];
    expect(delOptions).toMatchObject({ sync: true });
    expect(delOps.map((o) => [o.type, o.key])).toEqual([
      ['del', `r/port/${portId(2)}`],
      ['put', 'm/revision'],
    ]);
    await s.close();
  });

  it('refuses a database written by a newer format, and leaves it as it was', async () => {
    const s = await DesiredState.open(dir);
    await s.create('network', network());
    await s.close();
    await withDb((db) => db.put('m/format', String(FORMAT_VERSION + 1)));
    const before = await entries();
    const error = await DesiredState.open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StateFormatError);
    expect(String(error)).toMatch(new RegExp(`format ${FORMAT_VERSION + 1}, newer than this xdpnetd understands \\(${FORMAT_VERSION}\\)`));
    expect(await entries()).toEqual(before);
    // And the refusal released the database: it can be opened again once fixed.
    await withDb((db) => db.put('m/format', String(FORMAT_VERSION)));
    const again = await DesiredState.open(dir);
    expect(again.count('network')).toBe(1);
    await again.close();
  });

  it('refuses a database that is not an xdpnet desired state', async () => {
    await withDb((db) => db.put('something', 'else'));
    await expect(DesiredState.open(dir)).rejects.toThrow(/not an xdpnet desired-state database/);
  });

  it('refuses damaged records, naming the key', async () => {
    const s = await DesiredState.open(dir);
    await s.create('network', network());
    await s.close();
    await withDb((db) => db.put(`r/network/${netId(1)}`, '{"resource": '));
    await expect(DesiredState.open(dir)).rejects.toThrow(new RegExp(`r/network/${netId(1)} is not JSON`));
    await withDb((db) => db.put(`r/network/${netId(1)}`, JSON.stringify({ resource: network({ id: netId(2) }), revision: 1 })));
    await expect(DesiredState.open(dir)).rejects.toThrow(/holds resource/);
    await withDb((db) => db.put(`r/network/${netId(1)}`, JSON.stringify({ resource: network(), revision: 7 })));
    await expect(DesiredState.open(dir)).rejects.toThrow(/beyond the state's revision/);
    await withDb((db) => db.put(`r/gizmo/${netId(1)}`, '{}'));
    await expect(DesiredState.open(dir)).rejects.toThrow(/unexpected key/);
  });
});
