// Updates through masks: only named fields change, defaults resolve again,
// same values change nothing.

import { describe, expect, it } from 'vitest';
import { planClearRouterGateway, planSetRouterGateway, planSync, planUpdate } from '../../src/model/plan.js';
import { ResourceIndex } from '../../src/model/resource-index.js';
import type { Snapshot } from '../../src/model/types.js';
import { checkMask, updatableFields } from '../../src/model/update.js';
import {
  GATEWAY,
  emptySnapshot,
  externalNetwork,
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

const stateOf = (snap: Partial<Snapshot>) => planSync(new ResourceIndex(), { ...emptySnapshot(), ...snap }).next;

describe('update masks', () => {
  it('list the updatable proto fields of each kind as the service documents them', () => {
    expect(updatableFields('network').sort()).toEqual(['admin_state_up', 'external', 'mtu', 'name']);
    expect(updatableFields('subnet').sort()).toEqual(['dns_nameservers', 'enable_dhcp', 'gateway_ip', 'host_routes', 'name', 'no_gateway']);
    expect(updatableFields('port').sort()).toEqual([
      'admin_state_up',
      'allowed_address_pairs',
      'binding',
      'device_owner',
      'fixed_ips',
      'mac_address',
      'name',
      'port_security_enabled',
      'security_group_ids',
    ]);
    expect(updatableFields('router').sort()).toEqual(['admin_state_up', 'name', 'routes']);
    expect(updatableFields('floatingIp').sort()).toEqual(['fixed_ip_address', 'port_id']);
    expect(() => checkMask('port', ['name', 'name'])).not.toThrow();
  });

  it('take only the named fields from the patch', () => {
    const i = stateOf({ networks: [network()] });
    const patch = network({ name: 'renamed', segmentationId: 4242, mtu: 1400, type: 'flat' });
    const out = planUpdate(i, 'network', netId(1), patch, ['name']);
    expect(out.resource).toEqual({ ...i.get('network', netId(1)), name: 'renamed' });
    expect(out.changes).toEqual([{ type: 'modified', kind: 'network', id: netId(1), resource: out.resource }]);
  });

  it('resolve defaults again: mtu 0, gateway ""', () => {
    const i = stateOf({ networks: [network({ mtu: 1300 })], subnets: [subnet({ gatewayIp: '10.0.0.254' })] });
    expect(planUpdate(i, 'network', netId(1), network({ mtu: 0 }), ['mtu']).resource.mtu).toBe(1450);
    expect(planUpdate(i, 'subnet', subnetId(1), subnet({ gatewayIp: '' }), ['gateway_ip']).resource.gatewayIp).toBe('10.0.0.1');
    expect(planUpdate(i, 'subnet', subnetId(1), subnet({ gatewayIp: null }), ['no_gateway']).resource.gatewayIp).toBeNull();
  });

  it('change nothing when the values are the same (after normalisation)', () => {
    const i = stateOf(world());
    const out = planUpdate(i, 'port', portId(1), port({ macAddress: mac(1).toUpperCase(), name: 'other' }), ['mac_address']);
    expect(out.changes).toEqual([]);
    expect(out.resource).toBe(i.get('port', portId(1)));
  });

  it('move a port between local and remote bindings (live migration)', () => {
    const i = stateOf({ networks: [network()], subnets: [subnet()], ports: [port({ binding: { kind: 'local', interfaceName: 'tap1' } })] });
    const out = planUpdate(i, 'port', portId(1), port({ binding: { kind: 'remote', vtepIp: '192.0.2.20' } }), ['binding']);
    expect(out.resource.binding).toEqual({ kind: 'remote', vtepIp: '192.0.2.20' });
  });

  it("keep the port's own MAC, interface and addresses available to itself", () => {
    const i = stateOf({ networks: [network()], subnets: [subnet()], ports: [port({ binding: { kind: 'local', interfaceName: 'tap1' } })] });
    const out = planUpdate(
      i,
      'port',
      portId(1),
      port({ name: 'same keys', binding: { kind: 'local', interfaceName: 'tap1' }, fixedIps: [...port().fixedIps, { subnetId: subnetId(1), ipAddress: '10.0.0.11' }] }),
      ['name', 'binding', 'fixed_ips', 'mac_address'],
    );
    expect(out.resource.fixedIps).toHaveLength(2);
  });

  it('disassociate and re-associate a floating IP', () => {
    const i = stateOf(world());
    const off = planUpdate(i, 'floatingIp', fipId(1), floatingIp({ portId: null }), ['port_id']);
    expect(off.resource).toMatchObject({ portId: null, fixedIpAddress: null });
    i.apply(off.changes, 2);
    const on = planUpdate(i, 'floatingIp', fipId(1), floatingIp({ portId: portId(1).toUpperCase() }), ['port_id']);
    expect(on.resource).toMatchObject({ portId: portId(1), fixedIpAddress: '10.0.0.10' });
  });

  it('change a router\'s static routes', () => {
    const i = stateOf(world());
    const out = planUpdate(i, 'router', routerId(1), router({ routes: [{ destination: '172.16.0.0/12', nexthop: '10.0.0.200' }] }), ['routes']);
    expect(out.resource.routes).toEqual([{ destination: '172.16.0.0/12', nexthop: '10.0.0.200' }]);
    expect(out.resource.interfaces).toEqual(i.get('router', routerId(1))!.interfaces);
  });

  it('turn a network external when nothing on it forbids that, and back', () => {
    const i = stateOf({ networks: [network()], subnets: [subnet()], ports: [port()] });
    const out = planUpdate(i, 'network', netId(1), network({ external: true }), ['external']);
    i.apply(out.changes, 2);
    expect(planUpdate(i, 'network', netId(1), network({ external: false }), ['external']).resource.external).toBe(false);
  });

  it('set, replace and clear a router gateway', () => {
    const i = stateOf({ networks: [network(), externalNetwork()], subnets: [subnet(), { ...subnet(), id: subnetId(100), networkId: netId(100), cidr: '203.0.113.0/24', gatewayIp: '203.0.113.1' }], routers: [router()] });
    const set = planSetRouterGateway(i, routerId(1), GATEWAY);
    i.apply(set.changes, 2);
    expect(planSetRouterGateway(i, routerId(1), GATEWAY).changes).toEqual([]);
    const moved = planSetRouterGateway(i, routerId(1), { ...GATEWAY, ipAddress: '203.0.113.3' });
    i.apply(moved.changes, 3);
    expect(i.ipOwner(subnetId(100), '203.0.113.2')).toBeUndefined();
    expect(i.ipOwner(subnetId(100), '203.0.113.3')).toEqual({ kind: 'routerGateway', id: routerId(1) });
    const cleared = planClearRouterGateway(i, routerId(1));
    i.apply(cleared.changes, 4);
    expect(i.get('router', routerId(1))?.externalGateway).toBeNull();
    expect(planClearRouterGateway(i, routerId(1)).changes).toEqual([]);
  });
});
