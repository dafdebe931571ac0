// Canonical form and defaults.

import { describe, expect, it } from 'vitest';
import { normalizeNetwork, normalizePort, normalizeRouter, normalizeSubnet } from '../../src/model/normalize.js';
import { planAddRouterInterface, planCreate, planSync } from '../../src/model/plan.js';
import { ResourceIndex } from '../../src/model/resource-index.js';
import type { Snapshot } from '../../src/model/types.js';
import {
  emptySnapshot,
  floatingIp,
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

describe('canonical form', () => {
  it('lower-cases UUIDs and MACs wherever they appear', () => {
    const p = normalizePort(
      port({
        id: portId(1).toUpperCase(),
        networkId: netId(1).toUpperCase(),
        macAddress: 'FA:16:3E:AB:CD:EF',
        fixedIps: [{ subnetId: subnetId(1).toUpperCase(), ipAddress: '10.0.0.10' }],
        allowedAddressPairs: [{ ipAddress: '10.0.0.0/28', macAddress: 'FA:16:3E:00:00:AA' }],
        securityGroupIds: ['AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE'],
      }),
      'port',
    );
    expect(p.id).toBe(portId(1));
    expect(p.networkId).toBe(netId(1));
    expect(p.macAddress).toBe('fa:16:3e:ab:cd:ef');
    expect(p.fixedIps[0]?.subnetId).toBe(subnetId(1));
    expect(p.allowedAddressPairs[0]?.macAddress).toBe('fa:16:3e:00:00:aa');
    expect(p.securityGroupIds).toEqual(['aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee']);
  });

  it('absent optionals are null, never ""', () => {
    expect(normalizeNetwork(network({ physicalNetwork: '' as never }), 'network').physicalNetwork).toBeNull();
    const p = normalizePort(port({ allowedAddressPairs: [{ ipAddress: '10.0.0.9', macAddress: '' as never }] }), 'port');
    expect(p.allowedAddressPairs[0]?.macAddress).toBeNull();
    expect(normalizePort({ ...port(), binding: undefined as never }, 'port').binding).toEqual({ kind: 'none' });
  });

  it('normalising twice changes nothing', () => {
    const w = world();
    const i = stateOf(w);
    const again = planSync(i, i.snapshot());
    expect(again.changes).toEqual([]);
    expect(again.unchanged).toBe(7);
    expect(normalizeRouter(i.get('router', routerId(1))!, 'router')).toEqual(i.get('router', routerId(1)));
  });

  it('does not change the caller\'s object', () => {
    const input = port({ macAddress: 'FA:16:3E:00:00:01' });
    const copy = structuredClone(input);
    normalizePort(input, 'port');
    expect(input).toEqual(copy);
  });
});

describe('defaults', () => {
  it('MTU 0 is 1450 for VXLAN and 1500 for flat and VLAN; explicit MTUs stay', () => {
    expect(normalizeNetwork(network(), 'network').mtu).toBe(1450);
    expect(normalizeNetwork(network({ type: 'flat', segmentationId: 0, physicalNetwork: 'p' }), 'network').mtu).toBe(1500);
    expect(normalizeNetwork(network({ type: 'vlan', segmentationId: 5, physicalNetwork: 'p' }), 'network').mtu).toBe(1500);
    expect(normalizeNetwork(network({ mtu: 8950 }), 'network').mtu).toBe(8950);
  });

  it('an empty gateway is the first host; null is no gateway', () => {
    expect(normalizeSubnet(subnet({ cidr: '192.168.8.0/22', gatewayIp: '' }), 'subnet').gatewayIp).toBe('192.168.8.1');
    expect(normalizeSubnet(subnet({ gatewayIp: null }), 'subnet').gatewayIp).toBeNull();
    expect(normalizeSubnet(subnet({ gatewayIp: '10.0.0.254' }), 'subnet').gatewayIp).toBe('10.0.0.254');
  });

  it("a router interface without IP takes the subnet's gateway (create and AddRouterInterface)", () => {
    const i = stateOf({ networks: [network()], subnets: [subnet({ gatewayIp: '10.0.0.254' })] });
    expect(planCreate(i, 'router', router({ interfaces: [{ subnetId: subnetId(1), ipAddress: '' }] })).resource.interfaces).toEqual([
      { subnetId: subnetId(1), ipAddress: '10.0.0.254' },
    ]);
    const j = stateOf({ networks: [network()], subnets: [subnet()], routers: [router()] });
    expect(planAddRouterInterface(j, routerId(1), subnetId(1).toUpperCase(), null).resource.interfaces).toEqual([
      { subnetId: subnetId(1), ipAddress: '10.0.0.1' },
    ]);
    expect(planAddRouterInterface(j, routerId(1), subnetId(1), '10.0.0.3').resource.interfaces[0]?.ipAddress).toBe('10.0.0.3');
  });

  it("a floating IP with a port and no fixed IP maps to the port's first fixed IP", () => {
    const w = world();
    const twoIps = port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.20' }, { subnetId: subnetId(1), ipAddress: '10.0.0.10' }] });
    const i = stateOf({ ...w, ports: [twoIps], floatingIps: [] });
    expect(planCreate(i, 'floatingIp', floatingIp()).resource.fixedIpAddress).toBe('10.0.0.20');
    expect(planCreate(i, 'floatingIp', floatingIp({ fixedIpAddress: '10.0.0.10' })).resource.fixedIpAddress).toBe('10.0.0.10');
    const unassociated = planCreate(i, 'floatingIp', floatingIp({ portId: '' as never })).resource;
    expect(unassociated.portId).toBeNull();
    expect(unassociated.fixedIpAddress).toBeNull();
  });
});
