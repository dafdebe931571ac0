// The resource API of a real xdpnetd (bin/xdpnetd on the built dist/, fake
// dataplane, temp socket and state) through the generated client: Create,
// Get, List, Update and Delete of every kind, defaults, revisions, statuses,
// the router actions, floating IP association, paging and filters, and the
// rejections — each with its code, "field: reason" details, the
// xdpnet-field trailer, and nothing changed (the desired revision and every
// list equal before and after). No root needed.

import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import {
  type Api,
  api,
  eventuallyState,
  expectRejected,
  expectRejectedUnchanged,
  externalNetwork,
  floatingIpOn,
  listAll,
  nextMac,
  nextPrefix,
  portOn,
  rejectionOf,
  routerNamed,
  stateView,
  subnetOf,
  topology,
  vxlanNetwork,
  withoutStatus,
} from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;
let a: Api;

beforeAll(async () => {
  daemon = await TestDaemon.start();
  try {
    await daemon.waitServing();
  } catch (err) {
    await daemon.cleanup();
    throw err;
  }
  a = api(daemon.client());
});

afterAll(async () => {
  await daemon?.cleanup();
});

const rev = (r: { revision: string }): bigint => BigInt(r.revision);

/** Creates the full topology() through the per-kind calls and the router actions. */
async function createTopology() {
  const t = topology();
  await a.createNetwork(t.net);
  await a.createSubnet(t.sub);
  await a.createPort(t.port);
  await a.createNetwork(t.ext);
  await a.createSubnet(t.extSub);
  await a.createRouter(routerNamed({ id: t.router.id!, name: t.router.name! }));
  await a.addRouterInterface({ routerId: t.router.id!, subnetId: t.sub.id! });
  await a.setRouterGateway({ routerId: t.router.id!, externalGateway: t.router.externalGateway! });
  const fip = await a.createFloatingIp(t.fip);
  return { ...t, createdFip: fip };
}

describe('networks', () => {
  it('creates a VXLAN network with defaults resolved, gets, lists, updates and deletes it', async () => {
    const input = vxlanNetwork();
    const created = await a.createNetwork(input);
    expect(created).toMatchObject({
      id: input.id,
      name: input.name,
      type: 'NETWORK_TYPE_VXLAN',
      segmentationId: input.segmentationId,
      physicalNetwork: '',
      mtu: 1450, // 1500 - 50 bytes of VXLAN encapsulation
      external: false,
      adminStateUp: true,
    });
    expect(rev(created)).toBeGreaterThan(0n);
    expect(['RESOURCE_STATE_PENDING', 'RESOURCE_STATE_ACTIVE']).toContain(created.status?.state);

    const active = await eventuallyState(() => a.getNetwork(input.id!), 'RESOURCE_STATE_ACTIVE');
    expect(withoutStatus(active)).toEqual(withoutStatus(created));
    expect(active.status).toMatchObject({ code: '', message: '', revision: created.revision });

    // Upper-case ids name the same resource.
    expect(withoutStatus(await a.getNetwork(input.id!.toUpperCase()))).toEqual(withoutStatus(created));

    const listed = await listAll<pb.Network__Output>(a.listNetworks, 'networks');
    expect(listed.filter((n) => n.id === input.id).map(withoutStatus)).toEqual([withoutStatus(created)]);

    const renamed = await a.updateNetwork({ id: input.id!, name: 'renamed' }, ['name']);
    expect(renamed.name).toBe('renamed');
    expect(renamed.mtu).toBe(1450);
    expect(renamed.segmentationId).toBe(input.segmentationId);
    expect(rev(renamed)).toBeGreaterThan(rev(created));
    expect((await a.getNetwork(input.id!)).name).toBe('renamed');

    const mtu = await a.updateNetwork({ id: input.id!, mtu: 1400 }, ['mtu']);
    expect(mtu).toMatchObject({ mtu: 1400, name: 'renamed' });
    expect(rev(mtu)).toBeGreaterThan(rev(renamed));

    // An update to the same values commits nothing: the revision stays.
    const same = await a.updateNetwork({ id: input.id!, name: 'renamed' }, ['name']);
    expect(same.revision).toBe(mtu.revision);

    const down = await a.updateNetwork({ id: input.id!, adminStateUp: false }, ['admin_state_up']);
    expect(down.adminStateUp).toBe(false);
    expect(rev(down)).toBeGreaterThan(rev(mtu));
    const settledDown = await eventuallyState(() => a.getNetwork(input.id!), 'RESOURCE_STATE_DOWN');
    expect(settledDown.status?.revision).toBe(down.revision);

    const up = await a.updateNetwork({ id: input.id!, adminStateUp: true }, ['admin_state_up']);
    await eventuallyState(() => a.getNetwork(input.id!), 'RESOURCE_STATE_ACTIVE');
    expect(rev(up)).toBeGreaterThan(rev(down));

    expect(await a.deleteNetwork(input.id!)).toEqual({});
    await expectRejected(a.getNetwork(input.id!), grpc.status.NOT_FOUND, 'id');
    const after = await listAll<pb.Network__Output>(a.listNetworks, 'networks');
    expect(after.some((n) => n.id === input.id)).toBe(false);
  });

  it('defaults a flat network to MTU 1500 and keeps an explicit MTU and admin_state_up false', async () => {
    const flat = await a.createNetwork(externalNetwork({ external: false }));
    expect(flat).toMatchObject({ type: 'NETWORK_TYPE_FLAT', mtu: 1500, segmentationId: 0, adminStateUp: true });
    const explicit = await a.createNetwork(vxlanNetwork({ mtu: 9000, adminStateUp: false }));
    expect(explicit).toMatchObject({ mtu: 9000, adminStateUp: false });
    await eventuallyState(() => a.getNetwork(explicit.id), 'RESOURCE_STATE_DOWN');
    // An unspecified type is the tenant default, VXLAN.
    const untyped = await a.createNetwork({ id: randomUUID(), name: 'untyped', segmentationId: vxlanNetwork().segmentationId! });
    expect(untyped).toMatchObject({ type: 'NETWORK_TYPE_VXLAN', mtu: 1450 });
  });

  it('refuses a duplicate id, a duplicate VNI, a bad MTU and a missing body, changing nothing', async () => {
    const existing = await a.createNetwork(vxlanNetwork());
    await expectRejectedUnchanged(a, () => a.createNetwork(vxlanNetwork({ id: existing.id })), grpc.status.ALREADY_EXISTS, 'network.id');
    await expectRejectedUnchanged(
      a,
      () => a.createNetwork(vxlanNetwork({ segmentationId: existing.segmentationId })),
      grpc.status.ALREADY_EXISTS,
      'network.segmentation_id',
    );
    await expectRejectedUnchanged(a, () => a.createNetwork(vxlanNetwork({ mtu: 40 })), grpc.status.INVALID_ARGUMENT, 'network.mtu');
    await expectRejectedUnchanged(
      a,
      () => a.createNetwork(vxlanNetwork({ segmentationId: 16_777_216 })),
      grpc.status.INVALID_ARGUMENT,
      'network.segmentation_id',
    );
    await expectRejectedUnchanged(a, () => a.createNetwork(vxlanNetwork({ id: 'not-a-uuid' })), grpc.status.INVALID_ARGUMENT, 'network.id');
    const client = daemon.client();
    await expectRejectedUnchanged(
      a,
      () => new Promise((resolve, reject) => client.createNetwork({}, (err, res) => (err ? reject(err) : resolve(res)))),
      grpc.status.INVALID_ARGUMENT,
      'network',
    );
  });
});

describe('subnets', () => {
  it('resolves the gateway to the first host, supports no_gateway, and updates the updatable fields', async () => {
    const net = await a.createNetwork(vxlanNetwork());
    const prefix = nextPrefix();
    const input = subnetOf(net.id, prefix, { dnsNameservers: ['192.0.2.53'], enableDhcp: true });
    const created = await a.createSubnet(input);
    expect(created).toMatchObject({
      id: input.id,
      networkId: net.id,
      cidr: `${prefix}.0/24`,
      gatewayIp: `${prefix}.1`,
      noGateway: false,
      enableDhcp: true,
      dnsNameservers: ['192.0.2.53'],
      hostRoutes: [],
    });
    // DHCP is accepted and stored, but nothing serves it: the subnet says so.
    const noDhcp = await eventuallyState(() => a.getSubnet(input.id!), 'RESOURCE_STATE_ERROR');
    expect(noDhcp.status).toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringMatching(/^DHCP is not implemented yet: .*enable_dhcp false/) });
    const dhcpOff = await a.updateSubnet({ id: input.id!, enableDhcp: false }, ['enable_dhcp']);
    expect(dhcpOff.enableDhcp).toBe(false);
    await eventuallyState(() => a.getSubnet(input.id!), 'RESOURCE_STATE_ACTIVE');

    const bare = await a.createSubnet(subnetOf(net.id, nextPrefix(), { noGateway: true }));
    expect(bare).toMatchObject({ gatewayIp: '', noGateway: true });

    const updated = await a.updateSubnet(
      { id: input.id!, name: 'renamed', gatewayIp: `${prefix}.254`, hostRoutes: [{ destination: '172.16.0.0/12', nexthop: `${prefix}.3` }] },
      ['name', 'gateway_ip', 'host_routes'],
    );
    expect(updated).toMatchObject({
      name: 'renamed',
      gatewayIp: `${prefix}.254`,
      hostRoutes: [{ destination: '172.16.0.0/12', nexthop: `${prefix}.3` }],
      dnsNameservers: ['192.0.2.53'],
      cidr: `${prefix}.0/24`,
    });
    expect(rev(updated)).toBeGreaterThan(rev(created));

    await expectRejectedUnchanged(
      a,
      () => a.updateSubnet({ id: input.id!, cidr: `${nextPrefix()}.0/24` }, ['cidr']),
      grpc.status.INVALID_ARGUMENT,
      'update_mask',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createSubnet(subnetOf(net.id, prefix)),
      grpc.status.ALREADY_EXISTS,
      'subnet.cidr',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createSubnet(subnetOf(randomUUID(), nextPrefix())),
      grpc.status.NOT_FOUND,
      'subnet.network_id',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createSubnet(subnetOf(net.id, nextPrefix(), { noGateway: true, gatewayIp: '10.255.255.1' })),
      grpc.status.INVALID_ARGUMENT,
      'subnet.gateway_ip',
    );

    await a.deleteSubnet(bare.id);
    await expectRejected(a.getSubnet(bare.id), grpc.status.NOT_FOUND, 'id');
  });
});

describe('ports', () => {
  it('creates a port with port_security and admin_state_up defaulted to true, and updates binding, IPs and security', async () => {
    const net = await a.createNetwork(vxlanNetwork());
    const prefix = nextPrefix();
    const sub = await a.createSubnet(subnetOf(net.id, prefix));
    const input = portOn(net.id, sub.id, `${prefix}.10`, { local: { interfaceName: `tap${randomUUID().slice(0, 8)}` } });
    const created = await a.createPort(input);
    expect(created).toMatchObject({
      id: input.id,
      networkId: net.id,
      macAddress: input.macAddress,
      fixedIps: [{ subnetId: sub.id, ipAddress: `${prefix}.10` }],
      binding: 'local',
      local: { interfaceName: input.local!.interfaceName },
      portSecurityEnabled: true,
      adminStateUp: true,
      allowedAddressPairs: [],
      securityGroupIds: [],
      deviceOwner: 'compute:nova',
    });
    await eventuallyState(() => a.getPort(input.id!), 'RESOURCE_STATE_ACTIVE');

    const moved = await a.updatePort(
      { id: input.id!, remote: { vtepIp: '192.0.2.77' }, fixedIps: [{ subnetId: sub.id, ipAddress: `${prefix}.11` }] },
      ['binding', 'fixed_ips'],
    );
    expect(moved).toMatchObject({ binding: 'remote', remote: { vtepIp: '192.0.2.77' }, fixedIps: [{ ipAddress: `${prefix}.11` }] });
    expect(moved.local ?? null).toBeNull();
    expect(rev(moved)).toBeGreaterThan(rev(created));

    const open = await a.updatePort(
      { id: input.id!, portSecurityEnabled: false, allowedAddressPairs: [{ ipAddress: `${prefix}.128/25` }] },
      ['port_security_enabled', 'allowed_address_pairs'],
    );
    expect(open).toMatchObject({ portSecurityEnabled: false, allowedAddressPairs: [{ ipAddress: `${prefix}.128/25`, macAddress: '' }] });

    // Security groups are accepted and stored, but their rules are not enforced: the port says so
    // (and that port security is); without groups it is ACTIVE again.
    const group = randomUUID();
    const grouped = await a.updatePort({ id: input.id!, portSecurityEnabled: true, securityGroupIds: [group] }, ['port_security_enabled', 'security_group_ids']);
    expect(grouped.securityGroupIds).toEqual([group]);
    const unenforced = await eventuallyState(() => a.getPort(input.id!), 'RESOURCE_STATE_ERROR');
    expect(unenforced.status).toMatchObject({
      code: 'UNIMPLEMENTED',
      message: expect.stringMatching(/^security groups are not implemented yet: .*not enforced.*port security \(MAC\/IP anti-spoofing\) is enforced$/),
    });
    await a.updatePort({ id: input.id!, portSecurityEnabled: false, securityGroupIds: [] }, ['port_security_enabled', 'security_group_ids']);
    await eventuallyState(() => a.getPort(input.id!), 'RESOURCE_STATE_ACTIVE');

    const down = await a.updatePort({ id: input.id!, adminStateUp: false }, ['admin_state_up']);
    expect(down.adminStateUp).toBe(false);
    await eventuallyState(() => a.getPort(input.id!), 'RESOURCE_STATE_DOWN');

    // The binding is changed through "binding", not through the oneof members.
    const err = await expectRejectedUnchanged(
      a,
      () => a.updatePort({ id: input.id!, local: { interfaceName: 'tapx' } }, ['local']),
      grpc.status.INVALID_ARGUMENT,
      'update_mask',
    );
    expect(err.details).toContain('local');

    // Same MAC on the same network; an IP outside the subnet; the gateway IP; an unknown network.
    await expectRejectedUnchanged(
      a,
      () => a.createPort(portOn(net.id, sub.id, `${prefix}.20`, { macAddress: input.macAddress! })),
      grpc.status.ALREADY_EXISTS,
      'port.mac_address',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createPort(portOn(net.id, sub.id, '192.0.2.20')),
      grpc.status.INVALID_ARGUMENT,
      'port.fixed_ips[0].ip_address',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createPort(portOn(net.id, sub.id, `${prefix}.11`)),
      grpc.status.ALREADY_EXISTS,
      'port.fixed_ips[0].ip_address',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createPort(portOn(net.id, sub.id, `${prefix}.1`)),
      grpc.status.INVALID_ARGUMENT,
      'port.fixed_ips[0].ip_address',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createPort(portOn(randomUUID(), sub.id, `${prefix}.30`)),
      grpc.status.NOT_FOUND,
      'port.network_id',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createPort(portOn(net.id, sub.id, `${prefix}.31`, { macAddress: '01:00:5e:00:00:01' })),
      grpc.status.INVALID_ARGUMENT,
      'port.mac_address',
    );

    // A subnet with a port's address in it, and the network, may not be deleted.
    await expectRejectedUnchanged(a, () => a.deleteSubnet(sub.id), grpc.status.FAILED_PRECONDITION, 'id');
    await expectRejectedUnchanged(a, () => a.deleteNetwork(net.id), grpc.status.FAILED_PRECONDITION, 'id');

    await a.deletePort(input.id!);
    await expectRejected(a.getPort(input.id!), grpc.status.NOT_FOUND, 'id');
    await a.deleteSubnet(sub.id);
    await a.deleteNetwork(net.id);
  });
});

describe('routers and floating IPs', () => {
  it('adds and removes interfaces, sets and clears the gateway, and derives the floating IP router', async () => {
    const t = topology();
    await a.createNetwork(t.net);
    const sub = await a.createSubnet(t.sub);
    const port = await a.createPort(t.port);
    await a.createNetwork(t.ext);
    await a.createSubnet(t.extSub);

    const router = await a.createRouter(routerNamed({ id: t.router.id!, name: t.router.name! }));
    expect(router).toMatchObject({ interfaces: [], routes: [], externalGateway: null, adminStateUp: true });
    await eventuallyState(() => a.getRouter(router.id), 'RESOURCE_STATE_ACTIVE');

    const withIface = await a.addRouterInterface({ routerId: router.id, subnetId: sub.id });
    expect(withIface.interfaces).toEqual([{ subnetId: sub.id, ipAddress: sub.gatewayIp }]);
    expect(rev(withIface)).toBeGreaterThan(rev(router));

    const gw = t.router.externalGateway!;
    const withGw = await a.setRouterGateway({ routerId: router.id, externalGateway: gw });
    expect(withGw.externalGateway).toEqual({
      networkId: gw.networkId,
      ipAddress: gw.ipAddress,
      enableSnat: true,
      gatewayNodeVtepIp: gw.gatewayNodeVtepIp,
      _enableSnat: 'enableSnat', // proto-loader's marker for a proto3 optional that is set
    });
    expect(rev(withGw)).toBeGreaterThan(rev(withIface));

    const routes = await a.updateRouter({ id: router.id, routes: [{ destination: '172.20.0.0/16', nexthop: `${t.prefix}.5` }] }, ['routes']);
    expect(routes.routes).toEqual([{ destination: '172.20.0.0/16', nexthop: `${t.prefix}.5` }]);
    expect(routes.interfaces).toEqual(withIface.interfaces);
    await eventuallyState(() => a.getRouter(router.id), 'RESOURCE_STATE_ACTIVE');

    // Interfaces and gateway are not updatable through UpdateRouter.
    for (const field of ['interfaces', 'external_gateway']) {
      const err = await expectRejectedUnchanged(
        a,
        () => a.updateRouter({ id: router.id }, [field]),
        grpc.status.INVALID_ARGUMENT,
        'update_mask',
      );
      expect(err.details).toContain(field);
    }

    // Floating IP: associated with the port's only fixed IP, router derived.
    const fip = await a.createFloatingIp(t.fip);
    expect(fip).toMatchObject({
      floatingNetworkId: t.ext.id,
      floatingIpAddress: `${t.extPrefix}.50`,
      portId: port.id,
      fixedIpAddress: `${t.prefix}.10`,
      routerId: router.id,
    });
    await eventuallyState(() => a.getFloatingIp(fip.id), 'RESOURCE_STATE_ACTIVE');

    // What the floating IP relies on cannot go away.
    await expectRejectedUnchanged(a, () => a.clearRouterGateway(router.id), grpc.status.FAILED_PRECONDITION, 'router_id');
    await expectRejectedUnchanged(
      a,
      () => a.removeRouterInterface({ routerId: router.id, subnetId: sub.id }),
      grpc.status.FAILED_PRECONDITION,
      'subnet_id',
    );
    await expectRejectedUnchanged(a, () => a.deletePort(port.id), grpc.status.FAILED_PRECONDITION, 'id');
    await expectRejectedUnchanged(a, () => a.deleteRouter(router.id), grpc.status.FAILED_PRECONDITION, 'id');
    await expectRejectedUnchanged(a, () => a.deleteNetwork(t.ext.id!), grpc.status.FAILED_PRECONDITION, 'id');
    await expectRejectedUnchanged(a, () => a.deleteSubnet(sub.id), grpc.status.FAILED_PRECONDITION, 'id');
    // A second floating IP for the same fixed IP; an address already used.
    await expectRejectedUnchanged(
      a,
      () => a.createFloatingIp(floatingIpOn(t.ext.id!, `${t.extPrefix}.51`, { portId: port.id })),
      grpc.status.ALREADY_EXISTS,
      'floating_ip.fixed_ip_address',
    );
    await expectRejectedUnchanged(
      a,
      () => a.createFloatingIp(floatingIpOn(t.ext.id!, `${t.extPrefix}.50`)),
      grpc.status.ALREADY_EXISTS,
      'floating_ip.floating_ip_address',
    );
    // Not updatable: the address; output only: router_id.
    await expectRejectedUnchanged(
      a,
      () => a.updateFloatingIp({ id: fip.id, floatingIpAddress: `${t.extPrefix}.60` }, ['floating_ip_address']),
      grpc.status.INVALID_ARGUMENT,
      'update_mask',
    );
    await expectRejectedUnchanged(
      a,
      () => a.updateFloatingIp({ id: fip.id, routerId: router.id }, ['router_id']),
      grpc.status.INVALID_ARGUMENT,
      'update_mask',
    );

    // Disassociate: no port, no fixed IP, no router.
    const loose = await a.updateFloatingIp({ id: fip.id, portId: '' }, ['port_id']);
    expect(loose).toMatchObject({ portId: '', fixedIpAddress: '', routerId: '' });
    expect(rev(loose)).toBeGreaterThan(rev(fip));
    // Associate again: the router is derived again.
    const again = await a.updateFloatingIp({ id: fip.id, portId: port.id }, ['port_id']);
    expect(again).toMatchObject({ portId: port.id, fixedIpAddress: `${t.prefix}.10`, routerId: router.id });
    await a.updateFloatingIp({ id: fip.id, portId: '' }, ['port_id']);

    // The static route needs the interface: remove it first.
    await expectRejectedUnchanged(
      a,
      () => a.removeRouterInterface({ routerId: router.id, subnetId: sub.id }),
      grpc.status.FAILED_PRECONDITION,
      'subnet_id',
    );
    await a.updateRouter({ id: router.id, routes: [] }, ['routes']);

    const cleared = await a.clearRouterGateway(router.id);
    expect(cleared.externalGateway).toBeNull();
    expect(rev(cleared)).toBeGreaterThan(rev(withGw));
    // Clearing again changes nothing, and keeps the revision.
    expect((await a.clearRouterGateway(router.id)).revision).toBe(cleared.revision);

    // With no gateway, a floating IP for the port is refused: nothing connects them.
    await expectRejectedUnchanged(
      a,
      () => a.updateFloatingIp({ id: fip.id, portId: port.id }, ['port_id']),
      grpc.status.FAILED_PRECONDITION,
      'floating_ip.port_id',
    );

    const noIface = await a.removeRouterInterface({ routerId: router.id, subnetId: sub.id });
    expect(noIface.interfaces).toEqual([]);
    await expectRejectedUnchanged(
      a,
      () => a.removeRouterInterface({ routerId: router.id, subnetId: sub.id }),
      grpc.status.NOT_FOUND,
      'subnet_id',
    );
    await expectRejectedUnchanged(
      a,
      () => a.addRouterInterface({ routerId: randomUUID(), subnetId: sub.id }),
      grpc.status.NOT_FOUND,
      'router_id',
    );
    await expectRejectedUnchanged(
      a,
      () => a.addRouterInterface({ routerId: router.id, subnetId: randomUUID() }),
      grpc.status.NOT_FOUND,
      'subnet_id',
    );
    await expectRejectedUnchanged(
      a,
      () => a.setRouterGateway({ routerId: router.id }),
      grpc.status.INVALID_ARGUMENT,
      'external_gateway',
    );
    await expectRejectedUnchanged(
      a,
      () => a.setRouterGateway({ routerId: router.id, externalGateway: { ...gw, ipAddress: '' } }),
      grpc.status.INVALID_ARGUMENT,
      'external_gateway.ip_address',
    );
    // A gateway on an internal network.
    await expectRejectedUnchanged(
      a,
      () => a.setRouterGateway({ routerId: router.id, externalGateway: { ...gw, networkId: t.net.id!, ipAddress: `${t.prefix}.99` } }),
      grpc.status.FAILED_PRECONDITION,
      'external_gateway.network_id',
    );

    await a.deleteFloatingIp(fip.id);
    await expectRejected(a.getFloatingIp(fip.id), grpc.status.NOT_FOUND, 'id');
    await a.deleteRouter(router.id);
    await expectRejected(a.getRouter(router.id), grpc.status.NOT_FOUND, 'id');
  });

  it('refuses deleting a router with interfaces and a network with subnets', async () => {
    const t = await createTopology();
    await expectRejectedUnchanged(a, () => a.deleteRouter(t.router.id!), grpc.status.FAILED_PRECONDITION, 'id');
    await expectRejectedUnchanged(a, () => a.deleteNetwork(t.net.id!), grpc.status.FAILED_PRECONDITION, 'id');
    await expectRejectedUnchanged(a, () => a.deleteSubnet(t.sub.id!), grpc.status.FAILED_PRECONDITION, 'id');
    await expectRejectedUnchanged(a, () => a.deleteSubnet(t.extSub.id!), grpc.status.FAILED_PRECONDITION, 'id');
    // Every part of it reaches ACTIVE.
    await eventuallyState(() => a.getNetwork(t.net.id!), 'RESOURCE_STATE_ACTIVE');
    await eventuallyState(() => a.getNetwork(t.ext.id!), 'RESOURCE_STATE_ACTIVE');
    await eventuallyState(() => a.getSubnet(t.sub.id!), 'RESOURCE_STATE_ACTIVE');
    await eventuallyState(() => a.getPort(t.port.id!), 'RESOURCE_STATE_ACTIVE');
    await eventuallyState(() => a.getRouter(t.router.id!), 'RESOURCE_STATE_ACTIVE');
    await eventuallyState(() => a.getFloatingIp(t.fip.id!), 'RESOURCE_STATE_ACTIVE');
  });
});

describe('update masks', () => {
  it('refuses a non-updatable field, an unknown field and an empty mask, naming update_mask, changing nothing', async () => {
    const net = await a.createNetwork(vxlanNetwork());
    for (const field of ['segmentation_id', 'type', 'physical_network', 'id', 'revision', 'status']) {
      const err = await expectRejectedUnchanged(
        a,
        () => a.updateNetwork({ id: net.id, segmentationId: net.segmentationId + 1, name: 'x' }, ['name', field]),
        grpc.status.INVALID_ARGUMENT,
        'update_mask',
      );
      expect(err.details).toContain(`"${field}"`);
    }
    const unknown = await expectRejectedUnchanged(
      a,
      () => a.updateNetwork({ id: net.id, name: 'x' }, ['colour']),
      grpc.status.INVALID_ARGUMENT,
      'update_mask',
    );
    expect(unknown.details).toContain('"colour"');
    const empty = await expectRejectedUnchanged(
      a,
      () => a.updateNetwork({ id: net.id, name: 'x' }, []),
      grpc.status.INVALID_ARGUMENT,
      'update_mask',
    );
    expect(empty.details).toContain('empty');
    // The mask names proto fields, not the generated camelCase ones.
    await expectRejectedUnchanged(
      a,
      () => a.updateNetwork({ id: net.id, adminStateUp: false }, ['adminStateUp']),
      grpc.status.INVALID_ARGUMENT,
      'update_mask',
    );
    // Updating something that does not exist.
    await expectRejectedUnchanged(
      a,
      () => a.updateNetwork({ id: randomUUID(), name: 'x' }, ['name']),
      grpc.status.NOT_FOUND,
      'network.id',
    );
    expect(withoutStatus(await a.getNetwork(net.id))).toEqual(withoutStatus(net));
  });
});

describe('reads', () => {
  it('answers NOT_FOUND for a missing id of every kind, on Get and Delete, changing nothing', async () => {
    const missing = randomUUID();
    await expectRejected(a.getNetwork(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejected(a.getSubnet(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejected(a.getPort(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejected(a.getRouter(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejected(a.getFloatingIp(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejectedUnchanged(a, () => a.deleteNetwork(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejectedUnchanged(a, () => a.deleteSubnet(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejectedUnchanged(a, () => a.deletePort(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejectedUnchanged(a, () => a.deleteRouter(missing), grpc.status.NOT_FOUND, 'id');
    await expectRejectedUnchanged(a, () => a.deleteFloatingIp(missing), grpc.status.NOT_FOUND, 'id');
  });

  it('pages with page_size 2 over 5 subnets of one network: every item once, in id order, empty token at the end', async () => {
    const net = await a.createNetwork(vxlanNetwork());
    const other = await a.createNetwork(vxlanNetwork());
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await a.createSubnet(subnetOf(net.id, nextPrefix()))).id);
    // Noise on another network, which the filter must leave out.
    const noise = await a.createSubnet(subnetOf(other.id, nextPrefix()));

    const pages: string[][] = [];
    let pageToken = '';
    do {
      const page = await a.listSubnets({ networkId: net.id, pageSize: 2, pageToken });
      pages.push(page.subnets.map((s) => s.id));
      for (const s of page.subnets) expect(s.networkId).toBe(net.id);
      pageToken = page.nextPageToken;
      expect(pages.length).toBeLessThanOrEqual(3);
    } while (pageToken !== '');
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual([...created].sort());
    expect(pages.flat()).not.toContain(noise.id);

    // The network filter, upper-case, selects the same.
    const upper = await a.listSubnets({ networkId: net.id.toUpperCase() });
    expect(upper.subnets.map((s) => s.id)).toEqual([...created].sort());
    expect(upper.nextPageToken).toBe('');

    // Ports by network.
    const sub = created[0]!;
    const subnet = await a.getSubnet(sub);
    const prefix = subnet.cidr.replace(/\.0\/24$/, '');
    const ports = [];
    for (let i = 0; i < 3; i++) ports.push((await a.createPort(portOn(net.id, sub, `${prefix}.${10 + i}`))).id);
    const listedPorts = await listAll<pb.Port__Output>(a.listPorts, 'ports', { networkId: net.id, pageSize: 2 });
    expect(listedPorts.map((p) => p.id)).toEqual([...ports].sort());
    expect((await a.listPorts({ networkId: other.id })).ports).toEqual([]);
  });

  it('pages over all networks with page_size 2: the pages concatenated equal the single-page list', async () => {
    for (let i = 0; i < 5; i++) await a.createNetwork(vxlanNetwork());
    const whole = await a.listNetworks({ pageSize: 1000 });
    expect(whole.nextPageToken).toBe('');
    expect(whole.networks.length).toBeGreaterThanOrEqual(5);
    const paged = await listAll<pb.Network__Output>(a.listNetworks, 'networks', { pageSize: 2 });
    expect(paged.map((n) => n.id)).toEqual(whole.networks.map((n) => n.id));
    expect(new Set(paged.map((n) => n.id)).size).toBe(paged.length);
    const status = await a.nodeStatus();
    expect(status.resourceCounts.network).toBe(whole.networks.length);
    // page_size 0 means 100.
    const deflt = await a.listNetworks({ pageSize: 0 });
    expect(deflt.networks.length).toBe(Math.min(100, whole.networks.length));
  });

  it('refuses a bad page size, a foreign page token and a network filter where there is none', async () => {
    await expectRejected(a.listNetworks({ pageSize: 1001 }), grpc.status.INVALID_ARGUMENT, 'page_size');
    await expectRejected(a.listNetworks({ pageToken: 'not a token!' }), grpc.status.INVALID_ARGUMENT, 'page_token');
    await expectRejected(a.listNetworks({ networkId: randomUUID() }), grpc.status.INVALID_ARGUMENT, 'network_id');
    await expectRejected(a.listRouters({ networkId: randomUUID() }), grpc.status.INVALID_ARGUMENT, 'network_id');
    await expectRejected(a.listSubnets({ networkId: 'nope' }), grpc.status.INVALID_ARGUMENT, 'network_id');
    // A token from the networks list handed to the subnets list.
    for (let i = 0; i < 3; i++) await a.createNetwork(vxlanNetwork());
    const first = await a.listNetworks({ pageSize: 1 });
    expect(first.nextPageToken).not.toBe('');
    await expectRejected(a.listSubnets({ pageToken: first.nextPageToken }), grpc.status.INVALID_ARGUMENT, 'page_token');
  });
});

describe('state after rejections', () => {
  it('keeps the desired revision across a run of rejected requests', async () => {
    const t = await createTopology();
    const before = await stateView(a);
    const attempts: Promise<unknown>[] = [
      a.createNetwork(vxlanNetwork({ segmentationId: t.net.segmentationId! })),
      a.createPort(portOn(t.net.id!, t.sub.id!, `${t.prefix}.10`, { macAddress: nextMac() })),
      a.deleteNetwork(t.net.id!),
      a.deletePort(t.port.id!),
      a.updateNetwork({ id: t.net.id!, segmentationId: 7 }, ['segmentation_id']),
      a.clearRouterGateway(t.router.id!),
      a.createFloatingIp(floatingIpOn(t.ext.id!, `${t.extPrefix}.50`)),
    ];
    for (const attempt of attempts) await rejectionOf(attempt);
    expect(await stateView(a)).toEqual(before);
  });
});
