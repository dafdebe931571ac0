// ResourceIndex: secondary indexes stay exact across put, replace and remove;
// sorted ids; derived routers of floating IPs.

import { describe, expect, it } from 'vitest';
import { routerForFloatingIp } from '../../src/model/derive.js';
import { planClearRouterGateway, planCreate, planDelete, planSync, planUpdate } from '../../src/model/plan.js';
import { ResourceIndex } from '../../src/model/resource-index.js';
import type { Snapshot, Stored } from '../../src/model/types.js';
import {
  GATEWAY,
  emptySnapshot,
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
  uid,
  world,
} from '../helpers/world.js';

const stateOf = (snap: Partial<Snapshot>) => planSync(new ResourceIndex(), { ...emptySnapshot(), ...snap }).next;

describe('secondary indexes', () => {
  it('index everything validation looks up', () => {
    const i = stateOf(world());
    expect(i.networkByVni(1001)).toBe(netId(1));
    expect(i.flatNetworkOn('external')).toBe(netId(100));
    expect([...i.subnetsOf(netId(1))]).toEqual([subnetId(1)]);
    expect([...i.portsOf(netId(1))]).toEqual([portId(1)]);
    expect(i.portWithMac(netId(1), mac(1))).toBe(portId(1));
    expect(i.ipOwner(subnetId(1), '10.0.0.10')).toEqual({ kind: 'port', id: portId(1) });
    expect(i.ipOwner(subnetId(1), '10.0.0.1')).toEqual({ kind: 'routerInterface', id: routerId(1) });
    expect(i.ipOwner(subnetId(100), '203.0.113.2')).toEqual({ kind: 'routerGateway', id: routerId(1) });
    expect(i.ipOwner(subnetId(100), '203.0.113.50')).toEqual({ kind: 'floatingIp', id: fipId(1) });
    expect(i.routerOnSubnet(subnetId(1))).toBe(routerId(1));
    expect([...i.routersWithGatewayOn(netId(100))]).toEqual([routerId(1)]);
    expect([...i.floatingIpsOfPort(portId(1))]).toEqual([fipId(1)]);
    expect([...i.floatingIpsOnNetwork(netId(100))]).toEqual([fipId(1)]);
    expect([...i.floatingIpsViaSubnet(subnetId(1))]).toEqual([fipId(1)]);
    expect(i.floatingIpFor(portId(1), '10.0.0.10')).toBe(fipId(1));
    expect(i.subnetContaining(netId(100), '203.0.113.77')?.id).toBe(subnetId(100));
    expect(i.subnetContaining(netId(1), '203.0.113.77')).toBeUndefined();
  });

  it('a replaced resource releases its old keys and claims the new ones', () => {
    const i = stateOf({ networks: [network()], subnets: [subnet()], ports: [port({ binding: { kind: 'local', interfaceName: 'tap1' } })] });
    const out = planUpdate(
      i,
      'port',
      portId(1),
      port({ macAddress: mac(9), fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.99' }], binding: { kind: 'remote', vtepIp: '192.0.2.7' } }),
      ['mac_address', 'fixed_ips', 'binding'],
    );
    i.apply(out.changes, 2);
    expect(i.portWithMac(netId(1), mac(1))).toBeUndefined();
    expect(i.portWithMac(netId(1), mac(9))).toBe(portId(1));
    expect(i.ipOwner(subnetId(1), '10.0.0.10')).toBeUndefined();
    expect(i.ipOwner(subnetId(1), '10.0.0.99')).toEqual({ kind: 'port', id: portId(1) });
    expect(i.portOnInterface('tap1')).toBeUndefined();
    expect(i.stored('port', portId(1))?.revision).toBe(2);
  });

  it('removal in dependency order leaves every index empty', () => {
    const i = stateOf(world());
    let rev = 1;
    for (const step of [
      () => planDelete(i, 'floatingIp', fipId(1)),
      () => planDelete(i, 'port', portId(1)),
      () => planClearRouterGateway(i, routerId(1)),
    ]) i.apply(step().changes, ++rev);
    expect(i.ipOwnersIn(subnetId(100)).size).toBe(0);
    expect(i.ipOwnersIn(subnetId(1)).size).toBe(1); // the router interface
    expect(i.floatingIpsViaSubnet(subnetId(1)).size).toBe(0);
    expect(i.floatingIpFor(portId(1), '10.0.0.10')).toBeUndefined();
    expect(i.routersWithGatewayOn(netId(100)).size).toBe(0);
    expect(i.portWithMac(netId(1), mac(1))).toBeUndefined();
  });

  it('a key moved between two resources in one batch ends with its new holder', () => {
    // Ports 1 and 2 swap MACs and addresses in one sync: whatever the order of unregistering, the result is exact.
    const base = { networks: [network()], subnets: [subnet()] };
    const a = port();
    const b = port({ id: portId(2), macAddress: mac(2), fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.11' }] });
    const i = stateOf({ ...base, ports: [a, b] });
    const swapped = planSync(i, {
      ...emptySnapshot(),
      ...base,
      ports: [{ ...a, macAddress: mac(2), fixedIps: b.fixedIps }, { ...b, macAddress: mac(1), fixedIps: a.fixedIps }],
    });
    expect(swapped.updated).toBe(2);
    i.apply(swapped.changes, 2);
    expect(i.portWithMac(netId(1), mac(1))).toBe(portId(2));
    expect(i.portWithMac(netId(1), mac(2))).toBe(portId(1));
    expect(i.ipOwner(subnetId(1), '10.0.0.10')).toEqual({ kind: 'port', id: portId(2) });
    expect(i.ipOwner(subnetId(1), '10.0.0.11')).toEqual({ kind: 'port', id: portId(1) });
  });

  it('keeps sorted ids sorted across inserts and removals', () => {
    const i = new ResourceIndex();
    const ids = [5, 1, 9, 3].map((n) => uid(1, n));
    i.put('network', network({ id: ids[0]! }), 1);
    expect(i.sortedIds('network')).toEqual([ids[0]]);
    for (const [k, id] of ids.slice(1).entries()) i.put('network', network({ id, segmentationId: 10 + k }), 1);
    expect(i.sortedIds('network')).toEqual([...ids].sort());
    i.remove('network', ids[2]!);
    i.remove('network', uid(1, 77)); // absent: nothing happens
    expect(i.sortedIds('network')).toEqual([ids[1], ids[3], ids[0]]);
  });

  it('builds the same index from stored records in any order', () => {
    const a = stateOf(world());
    const records: Stored[] = [];
    for (const kind of ['floatingIp', 'router', 'port', 'subnet', 'network'] as const) records.push(...a.values(kind));
    const b = ResourceIndex.fromStored(records);
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(b.ipOwner(subnetId(100), '203.0.113.50')).toEqual({ kind: 'floatingIp', id: fipId(1) });
    expect(b.floatingIpsViaSubnet(subnetId(1)).size).toBe(1);
  });

  it('freezes what it stores', () => {
    const i = stateOf(world());
    const p = i.get('port', portId(1))!;
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.fixedIps[0])).toBe(true);
    expect(() => {
      (p as { name: string }).name = 'x';
    }).toThrow(TypeError);
  });
});

describe('routerForFloatingIp', () => {
  it('is the router with an interface on the fixed IP\'s subnet and its gateway on the floating network', () => {
    const i = stateOf(world());
    expect(routerForFloatingIp(i, i.get('floatingIp', fipId(1))!)?.id).toBe(routerId(1));
  });

  it('is null for an unassociated floating IP', () => {
    const i = stateOf({ ...world(), floatingIps: [floatingIp({ portId: null })] });
    expect(routerForFloatingIp(i, i.get('floatingIp', fipId(1))!)).toBeNull();
  });

  it('is null when the subnet\'s router has no gateway on that network', () => {
    const i = stateOf({ ...world(), routers: [router({ interfaces: [{ subnetId: subnetId(1), ipAddress: '' }] })], floatingIps: [] });
    const fip = { ...floatingIp(), fixedIpAddress: '10.0.0.10' };
    expect(routerForFloatingIp(i, fip)).toBeNull();
    const withGw = stateOf({ ...world(), routers: [router({ interfaces: [{ subnetId: subnetId(1), ipAddress: '' }], externalGateway: GATEWAY })], floatingIps: [] });
    expect(routerForFloatingIp(withGw, fip)?.id).toBe(routerId(1));
  });

  it('follows the port when a floating IP is re-associated', () => {
    const w = world();
    const i = stateOf({ ...w, ports: [...w.ports, port({ id: portId(2), macAddress: mac(2), fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.12' }] })] });
    const out = planUpdate(i, 'floatingIp', fipId(1), floatingIp({ portId: portId(2) }), ['port_id']);
    expect(out.resource.fixedIpAddress).toBe('10.0.0.12');
    i.apply(out.changes, 2);
    expect(i.floatingIpFor(portId(1), '10.0.0.10')).toBeUndefined();
    expect(i.floatingIpFor(portId(2), '10.0.0.12')).toBe(fipId(1));
    expect(routerForFloatingIp(i, i.get('floatingIp', fipId(1))!)?.id).toBe(routerId(1));
    // And the port it left may now be deleted.
    expect(planDelete(i, 'port', portId(1)).changes).toHaveLength(1);
    expect(() => planCreate(i, 'floatingIp', floatingIp({ id: fipId(2), floatingIpAddress: '203.0.113.60', portId: portId(2) }))).toThrow(/already mapped/);
  });
});
