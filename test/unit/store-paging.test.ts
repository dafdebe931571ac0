// Listing: pages sorted by id, opaque tokens that survive concurrent changes,
// page sizes, filters, refused tokens.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Rejection, type Port } from '../../src/model/types.js';
import { DesiredState } from '../../src/store/desired-state.js';
import { encodePageToken } from '../../src/store/paging.js';
import { TAG, emptySnapshot, hostIn16, mac, netId, network, port, subnet, subnetId, uid } from '../helpers/world.js';
import { seededRandom } from '../helpers/random.js';

let dir: string;
let state: DesiredState;


let serial = 0;
function scatteredPort(random: () => number, networkNo = 1): Port {
  serial++;
  const id = uid(TAG.port, Math.floor(random() * 2 ** 40) * 16 + (serial % 16));
  return port({
    id,
    networkId: netId(networkNo),
    macAddress: mac(serial),
    fixedIps: [{ subnetId: subnetId(networkNo), ipAddress: hostIn16(networkNo === 1 ? '10.0' : '10.1', serial) }],
  });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xdpnet-paging-'));
  state = await DesiredState.open(dir);
  serial = 0;
});

afterEach(async () => {
  await state.close();
  rmSync(dir, { recursive: true, force: true });
});

async function seed(n: number, random: () => number): Promise<Port[]> {
  const ports = Array.from({ length: n }, () => scatteredPort(random));
  await state.sync({
    ...emptySnapshot(),
    networks: [network(), network({ id: netId(2), segmentationId: 2002 })],
    subnets: [subnet({ cidr: '10.0.0.0/16' }), subnet({ id: subnetId(2), networkId: netId(2), cidr: '10.1.0.0/16' })],
    ports,
  });
  return ports;
}

describe('list', () => {
  it('pages 1,050 ports in id order while ports are added and removed between pages', async () => {
    const random = seededRandom(42);
    const initial = await seed(1050, random);
    const deleted = new Set<string>();
    const added: string[] = [];
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = state.list('port', { pageSize: 100, pageToken: token });
      expect(page.items.length).toBeLessThanOrEqual(100);
      seen.push(...page.items.map((s) => s.resource.id));
      token = page.nextPageToken;
      pages++;
      // Concurrent writers: three new ports (anywhere in id order) and one deletion, issued together.
      const adds = [scatteredPort(random), scatteredPort(random), scatteredPort(random)];
      const victim = initial[(pages * 97) % initial.length]!.id;
      const writes: Array<Promise<unknown>> = adds.map((p) => state.create('port', p));
      if (!deleted.has(victim)) {
        deleted.add(victim);
        writes.push(state.delete('port', victim));
      }
      await Promise.all(writes);
      added.push(...adds.map((p) => p.id));
    } while (token !== '');

    expect(pages).toBeGreaterThanOrEqual(11);
    // Strictly ascending: nothing repeated, nothing out of order.
    for (let k = 1; k < seen.length; k++) expect(seen[k - 1]! < seen[k]!).toBe(true);
    const seenSet = new Set(seen);
    // Every port present throughout the listing was returned exactly once.
    for (const p of initial) if (!deleted.has(p.id)) expect(seenSet.has(p.id)).toBe(true);
    // Whatever else was returned existed at some point during the listing.
    const everExisted = new Set([...initial.map((p) => p.id), ...added]);
    for (const id of seen) expect(everExisted.has(id)).toBe(true);
  });

  it('uses 100 by default and up to 1000', async () => {
    await seed(1050, seededRandom(7));
    expect(state.list('port').items).toHaveLength(100);
    expect(state.list('port', { pageSize: 0 }).items).toHaveLength(100);
    const big = state.list('port', { pageSize: 1000 });
    expect(big.items).toHaveLength(1000);
    const rest = state.list('port', { pageSize: 1000, pageToken: big.nextPageToken });
    expect(rest.items).toHaveLength(50);
    expect(rest.nextPageToken).toBe('');
    const exact = state.list('port', { pageSize: 50, pageToken: big.nextPageToken });
    expect(exact.items).toHaveLength(50);
    expect(exact.nextPageToken).toBe(''); // the last page says so even when full
  });

  it('filters subnets, ports and floating IPs by network', async () => {
    const random = seededRandom(3);
    await seed(30, random);
    for (let k = 0; k < 25; k++) await state.create('port', scatteredPort(random, 2));
    const ids: string[] = [];
    let token = '';
    do {
      const page = state.list('port', { pageSize: 7, pageToken: token, networkId: netId(2).toUpperCase() });
      for (const item of page.items) expect(item.resource.networkId).toBe(netId(2));
      ids.push(...page.items.map((s) => s.resource.id));
      token = page.nextPageToken;
    } while (token);
    expect(ids).toHaveLength(25);
    expect([...ids].sort()).toEqual(ids);
    expect(state.list('subnet', { networkId: netId(2) }).items.map((s) => s.resource.id)).toEqual([subnetId(2)]);
    expect(state.list('floatingIp', { networkId: netId(2) }).items).toEqual([]);
    expect(state.list('port', { networkId: netId(9) })).toEqual({ items: [], nextPageToken: '' });
  });

  const refused = (fn: () => unknown, field: string, reason: RegExp) => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(Rejection);
      expect((e as Rejection).code).toBe('INVALID_ARGUMENT');
      expect((e as Rejection).field).toBe(field);
      expect((e as Rejection).reason).toMatch(reason);
      return;
    }
    throw new Error('not refused');
  };

  it('refuses bad page sizes', () => {
    refused(() => state.list('network', { pageSize: 1001 }), 'page_size', /1\.\.1000/);
    refused(() => state.list('network', { pageSize: -1 }), 'page_size', /1\.\.1000/);
    refused(() => state.list('network', { pageSize: 2.5 }), 'page_size', /1\.\.1000/);
  });

  it('refuses tokens it did not issue for this list', async () => {
    await seed(5, seededRandom(1));
    const token = state.list('port', { pageSize: 2 }).nextPageToken;
    expect(token).not.toBe('');
    refused(() => state.list('port', { pageToken: 'not a token!' }), 'page_token', /not a page token/);
    refused(() => state.list('port', { pageToken: Buffer.from('hello').toString('base64url') }), 'page_token', /not a page token/);
    refused(() => state.list('port', { pageToken: Buffer.from('{"k":"port","a":"x"}').toString('base64url') }), 'page_token', /not a page token/);
    refused(() => state.list('subnet', { pageToken: token }), 'page_token', /another kind/);
    refused(() => state.list('port', { pageToken: token, networkId: netId(1) }), 'page_token', /different network_id/);
    refused(() => state.list('network', { networkId: netId(1) }), 'network_id', /not a filter of networks/);
    refused(() => state.list('port', { networkId: 'net-1' }), 'network_id', /not a canonical UUID/);
  });

  it('a token for an id that has since been deleted still works', async () => {
    await seed(10, seededRandom(9));
    const all = state.list('port', { pageSize: 1000 }).items.map((s) => s.resource.id);
    const first = state.list('port', { pageSize: 4 });
    await state.delete('port', all[3]!); // the last id of the first page
    const second = state.list('port', { pageSize: 4, pageToken: first.nextPageToken });
    expect(second.items.map((s) => s.resource.id)).toEqual(all.slice(4, 8));
    expect(encodePageToken('port', all[3]!, null)).toBe(first.nextPageToken);
  });
});
