// Sync as a unit: the difference against the current state, revisions of
// unchanged resources, ordering, and the cost at 10,000 ports.

import { describe, expect, it } from 'vitest';
import { planCreate, planSync } from '../../src/model/plan.js';
import { ResourceIndex } from '../../src/model/resource-index.js';
import type { Port, Snapshot } from '../../src/model/types.js';
import { emptySnapshot, hostIn16, mac, network, port, portId, subnet, subnetId, world } from '../helpers/world.js';

function committed(snap: Snapshot, revision = 1): ResourceIndex {
  const plan = planSync(new ResourceIndex(), snap);
  for (const c of plan.changes) plan.next.setRevision(c.kind, c.id, revision);
  return plan.next;
}

function manyPorts(n: number, name = 'vm'): Port[] {
  const ports: Port[] = [];
  for (let k = 0; k < n; k++) {
    ports.push(port({ id: portId(k + 1), name, macAddress: mac(k + 1), fixedIps: [{ subnetId: subnetId(1), ipAddress: hostIn16('10.0', k) }] }));
  }
  return ports;
}

const big = (ports: Port[]): Snapshot => ({ ...emptySnapshot(), networks: [network()], subnets: [subnet({ cidr: '10.0.0.0/16' })], ports });

describe('sync', () => {
  it('into an empty state creates everything, users after what they use', () => {
    const plan = planSync(new ResourceIndex(), world());
    expect({ c: plan.created, u: plan.updated, d: plan.deleted, n: plan.unchanged }).toEqual({ c: 7, u: 0, d: 0, n: 0 });
    expect(plan.changes.map((c) => c.kind)).toEqual(['network', 'network', 'subnet', 'subnet', 'port', 'router', 'floatingIp']);
  });

  it('reports created, updated, deleted and unchanged; unchanged keep their revision', () => {
    const current = committed(world(), 5);
    const w = world();
    const next: Snapshot = {
      ...w,
      ports: [{ ...w.ports[0]!, macAddress: mac(1).toUpperCase() }, port({ id: portId(2), macAddress: mac(2), fixedIps: [] })],
      networks: [{ ...w.networks[0]!, name: 'renamed' }, w.networks[1]!],
      floatingIps: [],
    };
    const plan = planSync(current, next);
    expect({ c: plan.created, u: plan.updated, d: plan.deleted, n: plan.unchanged }).toEqual({ c: 1, u: 1, d: 1, n: 5 });
    expect(plan.changes.map((c) => [c.type, c.kind])).toEqual([
      ['deleted', 'floatingIp'],
      ['modified', 'network'],
      ['added', 'port'],
    ]);
    expect(plan.next.stored('port', portId(1))?.revision).toBe(5);
    expect(plan.next.stored('port', portId(1))?.resource).toBe(current.get('port', portId(1)));
    expect(plan.next.stored('port', portId(2))?.revision).toBe(0);
  });

  it('deletes users before what they use', () => {
    const plan = planSync(committed(world()), emptySnapshot());
    expect(plan.changes.map((c) => c.kind)).toEqual(['floatingIp', 'router', 'port', 'subnet', 'subnet', 'network', 'network']);
    expect(plan.changes.every((c) => c.type === 'deleted')).toBe(true);
  });

  it('a refused sync leaves the current index as it was', () => {
    const current = committed(world());
    const before = JSON.stringify(current.snapshot());
    expect(() => planSync(current, { ...world(), ports: [port({ macAddress: 'zz' })] })).toThrow(/mac_address/);
    expect(JSON.stringify(current.snapshot())).toBe(before);
  });
});

describe('cost', () => {
  it('syncs 10,000 ports well under a second, and again with nothing changed', () => {
    const ports = manyPorts(10_000);
    let t = performance.now();
    const first = planSync(new ResourceIndex(), big(ports));
    const fresh = performance.now() - t;
    expect(first.created).toBe(10_002);
    for (const c of first.changes) first.next.setRevision(c.kind, c.id, 1);

    t = performance.now();
    const again = planSync(first.next, big(manyPorts(10_000)));
    const same = performance.now() - t;
    expect(again.unchanged).toBe(10_002);
    expect(again.changes).toHaveLength(0);

    t = performance.now();
    const renamed = planSync(first.next, big(manyPorts(10_000, 'renamed')));
    const changed = performance.now() - t;
    expect(renamed.updated).toBe(10_000);

    console.log(`sync of 10,000 ports (model only): fresh ${fresh.toFixed(0)} ms, unchanged ${same.toFixed(0)} ms, all modified ${changed.toFixed(0)} ms`);
    expect(fresh).toBeLessThan(1000);
    expect(same).toBeLessThan(1000);
    expect(changed).toBeLessThan(1000);
  });

  it('creates 10,000 ports one at a time in time linear in their number', () => {
    const index = committed(big([]));
    const ports = manyPorts(10_000);
    const t = performance.now();
    let rev = 1;
    for (const p of ports) index.apply(planCreate(index, 'port', p).changes, ++rev);
    const ms = performance.now() - t;
    console.log(`10,000 single-port creates (model only): ${ms.toFixed(0)} ms`);
    expect(index.count('port')).toBe(10_000);
    expect(ms).toBeLessThan(2000);
  });
});
