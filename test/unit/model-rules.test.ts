// One test per validation rule: the exact code, the exact field path, a
// reason that says what is wrong, and the index unchanged afterwards.

import { describe, expect, it } from 'vitest';
import {
  planAddRouterInterface,
  planClearRouterGateway,
  planCreate,
  planDelete,
  planRemoveRouterInterface,
  planSetRouterGateway,
  planSync,
  planUpdate,
} from '../../src/model/plan.js';
import { ResourceIndex } from '../../src/model/resource-index.js';
import { Rejection, type RejectionCode, type Snapshot } from '../../src/model/types.js';
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

function stateOf(snap: Partial<Snapshot>): ResourceIndex {
  return planSync(new ResourceIndex(), { ...emptySnapshot(), ...snap }).next;
}

/** Internal network 1 with subnet 1 (10.0.0.0/24, gateway 10.0.0.1) only. */
const bare = () => stateOf({ networks: [network()], subnets: [subnet()] });
/** The full world of test/helpers/world.ts. */
const full = () => stateOf(world());

interface Case {
  name: string;
  state: () => ResourceIndex;
  act: (index: ResourceIndex) => unknown;
  code: RejectionCode;
  field: string;
  reason: RegExp;
}

function expectRefused(c: Case): void {
  const index = c.state();
  const before = JSON.stringify(index.snapshot());
  let error: unknown;
  try {
    c.act(index);
  } catch (e) {
    error = e;
  }
  expect(error, 'should have been refused').toBeInstanceOf(Rejection);
  const r = error as Rejection;
  expect({ code: r.code, field: r.field }).toEqual({ code: c.code, field: c.field });
  expect(r.reason).toMatch(c.reason);
  expect(r.reason.length).toBeGreaterThan(12);
  expect(r.message).toBe(`${c.field}: ${r.reason}`);
  expect(JSON.stringify(index.snapshot())).toBe(before);
}

function table(title: string, cases: Case[]): void {
  describe(title, () => {
    for (const c of cases) it(c.name, () => expectRefused(c));
  });
}

const long = (n: number) => 'x'.repeat(n);

table('identifiers', [
  { name: 'an id is required', state: bare, act: (i) => planCreate(i, 'network', network({ id: '', segmentationId: 7 })), code: 'INVALID_ARGUMENT', field: 'network.id', reason: /required.*never invents/ },
  { name: 'an id must be a canonical UUID', state: bare, act: (i) => planCreate(i, 'port', port({ id: '123e4567e89b12d3a456426614174000' })), code: 'INVALID_ARGUMENT', field: 'port.id', reason: /not a canonical UUID/ },
  { name: 'references must be canonical UUIDs', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), networkId: 'net-1' })), code: 'INVALID_ARGUMENT', field: 'subnet.network_id', reason: /not a canonical UUID/ },
  { name: 'creating an existing id is ALREADY_EXISTS', state: bare, act: (i) => planCreate(i, 'network', network({ segmentationId: 9 })), code: 'ALREADY_EXISTS', field: 'network.id', reason: /already exists/ },
  { name: 'the same id in upper case is the same resource', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(1).toUpperCase(), cidr: '10.9.0.0/24' })), code: 'ALREADY_EXISTS', field: 'subnet.id', reason: /already exists/ },
  { name: 'updating a missing resource is NOT_FOUND', state: bare, act: (i) => planUpdate(i, 'port', portId(9), port({ id: portId(9) }), ['name']), code: 'NOT_FOUND', field: 'port.id', reason: /port .* does not exist/ },
  { name: 'deleting a missing resource is NOT_FOUND', state: bare, act: (i) => planDelete(i, 'floatingIp', fipId(9)), code: 'NOT_FOUND', field: 'id', reason: /floating IP .* does not exist/ },
  { name: 'deleting with a malformed id is INVALID_ARGUMENT', state: bare, act: (i) => planDelete(i, 'network', 'nope'), code: 'INVALID_ARGUMENT', field: 'id', reason: /not a canonical UUID/ },
  { name: 'a router action on a missing router is NOT_FOUND', state: bare, act: (i) => planAddRouterInterface(i, routerId(9), subnetId(1), null), code: 'NOT_FOUND', field: 'router_id', reason: /router .* does not exist/ },
]);

table('network', [
  { name: 'VXLAN VNI below 1', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), segmentationId: 0 })), code: 'INVALID_ARGUMENT', field: 'network.segmentation_id', reason: /VNI in 1\.\.16777215/ },
  { name: 'VXLAN VNI above 16777215', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), segmentationId: 16_777_216 })), code: 'INVALID_ARGUMENT', field: 'network.segmentation_id', reason: /VNI in 1\.\.16777215/ },
  { name: 'VXLAN VNI unique among VXLAN networks', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2) })), code: 'ALREADY_EXISTS', field: 'network.segmentation_id', reason: /VNI 1001 is already used by network/ },
  { name: 'VXLAN takes no physical network', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), segmentationId: 5, physicalNetwork: 'physnet1' })), code: 'INVALID_ARGUMENT', field: 'network.physical_network', reason: /must be empty for a VXLAN/ },
  { name: 'VLAN ID below 1', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), type: 'vlan', segmentationId: 0, physicalNetwork: 'p' })), code: 'INVALID_ARGUMENT', field: 'network.segmentation_id', reason: /VLAN ID in 1\.\.4094/ },
  { name: 'VLAN ID above 4094', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), type: 'vlan', segmentationId: 4095, physicalNetwork: 'p' })), code: 'INVALID_ARGUMENT', field: 'network.segmentation_id', reason: /VLAN ID in 1\.\.4094/ },
  { name: 'VLAN needs a physical network', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), type: 'vlan', segmentationId: 10 })), code: 'INVALID_ARGUMENT', field: 'network.physical_network', reason: /required for a vlan network/ },
  {
    name: '(physical network, VLAN) unique',
    state: () => stateOf({ networks: [network({ type: 'vlan', segmentationId: 10, physicalNetwork: 'p' })] }),
    act: (i) => planCreate(i, 'network', network({ id: netId(2), type: 'vlan', segmentationId: 10, physicalNetwork: 'p' })),
    code: 'ALREADY_EXISTS', field: 'network.segmentation_id', reason: /VLAN 10 on physical network "p" is already used/,
  },
  { name: 'flat takes segmentation 0', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), type: 'flat', segmentationId: 3, physicalNetwork: 'p' })), code: 'INVALID_ARGUMENT', field: 'network.segmentation_id', reason: /must be 0 for a flat/ },
  { name: 'flat needs a physical network', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), type: 'flat', segmentationId: 0 })), code: 'INVALID_ARGUMENT', field: 'network.physical_network', reason: /required for a flat/ },
  {
    name: 'one flat network per physical network',
    state: () => stateOf({ networks: [externalNetwork()] }),
    act: (i) => planCreate(i, 'network', externalNetwork({ id: netId(2) })),
    code: 'ALREADY_EXISTS', field: 'network.physical_network', reason: /already carries flat network/,
  },
  { name: 'physical network names have no whitespace', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), type: 'flat', segmentationId: 0, physicalNetwork: 'my net' })), code: 'INVALID_ARGUMENT', field: 'network.physical_network', reason: /whitespace/ },
  { name: 'MTU below 68', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), segmentationId: 2, mtu: 67 })), code: 'INVALID_ARGUMENT', field: 'network.mtu', reason: /68\.\.9000/ },
  { name: 'MTU above 9000', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), segmentationId: 2, mtu: 9001 })), code: 'INVALID_ARGUMENT', field: 'network.mtu', reason: /68\.\.9000/ },
  { name: 'name at most 255 characters', state: bare, act: (i) => planCreate(i, 'network', network({ id: netId(2), segmentationId: 2, name: long(256) })), code: 'INVALID_ARGUMENT', field: 'network.name', reason: /256 characters.*at most 255/ },
  { name: 'type is vxlan, flat or vlan', state: bare, act: (i) => planCreate(i, 'network', { ...network({ id: netId(2) }), type: 'gre' as never }), code: 'INVALID_ARGUMENT', field: 'network.type', reason: /vxlan, flat or vlan/ },
]);

table('subnet', [
  { name: 'the network must exist', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), networkId: netId(9) })), code: 'NOT_FOUND', field: 'subnet.network_id', reason: /network .* does not exist/ },
  { name: 'the CIDR must be IPv4', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: 'fd00::/64' })), code: 'INVALID_ARGUMENT', field: 'subnet.cidr', reason: /not a CIDR/ },
  { name: 'the CIDR may not have host bits set', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.5/24' })), code: 'INVALID_ARGUMENT', field: 'subnet.cidr', reason: /host bits set.*10\.1\.0\.0\/24/ },
  { name: 'the prefix is /30 or shorter', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/31' })), code: 'INVALID_ARGUMENT', field: 'subnet.cidr', reason: /\/31 is too small.*\/30 or shorter/ },
  { name: 'the gateway lies inside the CIDR', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', gatewayIp: '10.2.0.1' })), code: 'INVALID_ARGUMENT', field: 'subnet.gateway_ip', reason: /not inside subnet/ },
  { name: 'the gateway is not the network address', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', gatewayIp: '10.1.0.0' })), code: 'INVALID_ARGUMENT', field: 'subnet.gateway_ip', reason: /network address/ },
  { name: 'the gateway is not the broadcast address', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', gatewayIp: '10.1.0.255' })), code: 'INVALID_ARGUMENT', field: 'subnet.gateway_ip', reason: /broadcast address/ },
  { name: 'subnets of one network do not overlap', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.0.0.128/25' })), code: 'ALREADY_EXISTS', field: 'subnet.cidr', reason: /overlaps subnet .* same network/ },
  { name: 'DNS servers are IPv4 addresses', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', dnsNameservers: ['8.8.8.8', 'dns.example'] })), code: 'INVALID_ARGUMENT', field: 'subnet.dns_nameservers[1]', reason: /not an IPv4 address/ },
  { name: 'DNS servers are unicast hosts', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', dnsNameservers: ['224.0.0.1'] })), code: 'INVALID_ARGUMENT', field: 'subnet.dns_nameservers[0]', reason: /multicast/ },
  { name: 'DNS servers are not repeated', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', dnsNameservers: ['8.8.8.8', '8.8.8.8'] })), code: 'INVALID_ARGUMENT', field: 'subnet.dns_nameservers[1]', reason: /listed twice/ },
  { name: 'host route destinations are CIDRs', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', hostRoutes: [{ destination: '192.168.0.1', nexthop: '10.1.0.5' }] })), code: 'INVALID_ARGUMENT', field: 'subnet.host_routes[0].destination', reason: /prefix length is missing/ },
  { name: 'host route next hops lie inside the subnet', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', hostRoutes: [{ destination: '192.168.0.0/16', nexthop: '10.2.0.5' }] })), code: 'INVALID_ARGUMENT', field: 'subnet.host_routes[0].nexthop', reason: /not inside the subnet 10\.1\.0\.0\/24/ },
  { name: 'host route destinations are not repeated', state: bare, act: (i) => planCreate(i, 'subnet', subnet({ id: subnetId(2), cidr: '10.1.0.0/24', hostRoutes: [{ destination: '192.168.0.0/16', nexthop: '10.1.0.5' }, { destination: '192.168.0.0/16', nexthop: '10.1.0.6' }] })), code: 'INVALID_ARGUMENT', field: 'subnet.host_routes[1].destination', reason: /more than one host route/ },
]);

table('port', [
  { name: 'the network must exist', state: bare, act: (i) => planCreate(i, 'port', port({ networkId: netId(9), fixedIps: [] })), code: 'NOT_FOUND', field: 'port.network_id', reason: /network .* does not exist/ },
  { name: 'the MAC must be a MAC', state: bare, act: (i) => planCreate(i, 'port', port({ macAddress: 'fa:16:3e:00:00' })), code: 'INVALID_ARGUMENT', field: 'port.mac_address', reason: /not a MAC address/ },
  { name: 'the MAC must be unicast', state: bare, act: (i) => planCreate(i, 'port', port({ macAddress: '01:00:5e:00:00:01' })), code: 'INVALID_ARGUMENT', field: 'port.mac_address', reason: /I\/G bit/ },
  { name: 'the MAC is unique within the network', state: full, act: (i) => planCreate(i, 'port', port({ id: portId(2), macAddress: mac(1).toUpperCase(), fixedIps: [] })), code: 'ALREADY_EXISTS', field: 'port.mac_address', reason: /fa:16:3e:00:00:01 is already used by port/ },
  { name: 'a fixed IP names an existing subnet', state: bare, act: (i) => planCreate(i, 'port', port({ fixedIps: [{ subnetId: subnetId(9), ipAddress: '10.0.0.5' }] })), code: 'NOT_FOUND', field: 'port.fixed_ips[0].subnet_id', reason: /subnet .* does not exist/ },
  { name: "a fixed IP's subnet belongs to the port's network", state: full, act: (i) => planCreate(i, 'port', port({ id: portId(2), macAddress: mac(2), fixedIps: [{ subnetId: subnetId(100), ipAddress: '203.0.113.9' }] })), code: 'INVALID_ARGUMENT', field: 'port.fixed_ips[0].subnet_id', reason: /belongs to network .* not to the port's network/ },
  { name: 'a fixed IP lies inside its subnet', state: bare, act: (i) => planCreate(i, 'port', port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.1.5' }] })), code: 'INVALID_ARGUMENT', field: 'port.fixed_ips[0].ip_address', reason: /not inside subnet .*10\.0\.0\.0\/24/ },
  { name: 'a fixed IP is not the network address', state: bare, act: (i) => planCreate(i, 'port', port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.0' }] })), code: 'INVALID_ARGUMENT', field: 'port.fixed_ips[0].ip_address', reason: /network address/ },
  { name: 'a fixed IP is not the broadcast address', state: bare, act: (i) => planCreate(i, 'port', port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.255' }] })), code: 'INVALID_ARGUMENT', field: 'port.fixed_ips[0].ip_address', reason: /broadcast address/ },
  { name: "a fixed IP is not the subnet's gateway", state: bare, act: (i) => planCreate(i, 'port', port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.1' }] })), code: 'INVALID_ARGUMENT', field: 'port.fixed_ips[0].ip_address', reason: /gateway IP of subnet/ },
  { name: 'a fixed IP is free: not held by another port', state: full, act: (i) => planCreate(i, 'port', port({ id: portId(2), macAddress: mac(2) })), code: 'ALREADY_EXISTS', field: 'port.fixed_ips[0].ip_address', reason: /10\.0\.0\.10 is already used by port/ },
  {
    name: 'a fixed IP is free: not held by a router interface',
    state: () => stateOf({ networks: [network()], subnets: [subnet()], routers: [router({ interfaces: [{ subnetId: subnetId(1), ipAddress: '10.0.0.254' }] })] }),
    act: (i) => planCreate(i, 'port', port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.254' }] })),
    code: 'ALREADY_EXISTS', field: 'port.fixed_ips[0].ip_address', reason: /an interface of router/,
  },
  {
    name: 'a fixed IP is free: not held by a floating IP or router gateway',
    state: full,
    act: (i) => planCreate(i, 'port', port({ id: portId(2), networkId: netId(100), macAddress: mac(2), fixedIps: [{ subnetId: subnetId(100), ipAddress: '203.0.113.50' }] })),
    code: 'ALREADY_EXISTS', field: 'port.fixed_ips[0].ip_address', reason: /floating IP/,
  },
  { name: 'a fixed IP is not listed twice', state: bare, act: (i) => planCreate(i, 'port', port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.5' }, { subnetId: subnetId(1), ipAddress: '10.0.0.5' }] })), code: 'INVALID_ARGUMENT', field: 'port.fixed_ips[1].ip_address', reason: /listed twice/ },
  { name: 'a fixed IP has an address (the daemon does not allocate)', state: bare, act: (i) => planCreate(i, 'port', port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '' }] })), code: 'INVALID_ARGUMENT', field: 'port.fixed_ips[0].ip_address', reason: /does not allocate/ },
  { name: 'a local interface name has at most 15 characters', state: bare, act: (i) => planCreate(i, 'port', port({ binding: { kind: 'local', interfaceName: 'tap0123456789abc' } })), code: 'INVALID_ARGUMENT', field: 'port.local.interface_name', reason: /16 characters.*at most 15/ },
  { name: 'a local interface name has no "/" or ":"', state: bare, act: (i) => planCreate(i, 'port', port({ binding: { kind: 'local', interfaceName: 'tap/1' } })), code: 'INVALID_ARGUMENT', field: 'port.local.interface_name', reason: /"\/" or ":"/ },
  { name: 'a local interface name is not empty', state: bare, act: (i) => planCreate(i, 'port', port({ binding: { kind: 'local', interfaceName: '' } })), code: 'INVALID_ARGUMENT', field: 'port.local.interface_name', reason: /required/ },
  {
    name: 'a local interface is bound to one port',
    state: () => stateOf({ networks: [network()], subnets: [subnet()], ports: [port({ binding: { kind: 'local', interfaceName: 'tap1' } })] }),
    act: (i) => planCreate(i, 'port', port({ id: portId(2), macAddress: mac(2), fixedIps: [], binding: { kind: 'local', interfaceName: 'tap1' } })),
    code: 'ALREADY_EXISTS', field: 'port.local.interface_name', reason: /tap1 is already bound to port/,
  },
  { name: 'a remote VTEP is an IPv4 address', state: bare, act: (i) => planCreate(i, 'port', port({ binding: { kind: 'remote', vtepIp: 'node-2' } })), code: 'INVALID_ARGUMENT', field: 'port.remote.vtep_ip', reason: /not an IPv4 address/ },
  { name: 'a remote VTEP is a unicast host', state: bare, act: (i) => planCreate(i, 'port', port({ binding: { kind: 'remote', vtepIp: '239.1.1.1' } })), code: 'INVALID_ARGUMENT', field: 'port.remote.vtep_ip', reason: /multicast/ },
  { name: 'an allowed address pair has an address or CIDR', state: bare, act: (i) => planCreate(i, 'port', port({ allowedAddressPairs: [{ ipAddress: '10.0.0.300', macAddress: null }] })), code: 'INVALID_ARGUMENT', field: 'port.allowed_address_pairs[0].ip_address', reason: /above 255/ },
  { name: "an allowed address pair's CIDR has no host bits", state: bare, act: (i) => planCreate(i, 'port', port({ allowedAddressPairs: [{ ipAddress: '10.0.0.7/24', macAddress: null }] })), code: 'INVALID_ARGUMENT', field: 'port.allowed_address_pairs[0].ip_address', reason: /host bits/ },
  { name: "an allowed address pair's MAC is a unicast MAC", state: bare, act: (i) => planCreate(i, 'port', port({ allowedAddressPairs: [{ ipAddress: '10.0.0.7', macAddress: 'ff:ff:ff:ff:ff:ff' }] })), code: 'INVALID_ARGUMENT', field: 'port.allowed_address_pairs[0].mac_address', reason: /multicast\/broadcast/ },
  { name: 'an allowed address pair is not repeated', state: bare, act: (i) => planCreate(i, 'port', port({ allowedAddressPairs: [{ ipAddress: '10.0.0.7', macAddress: null }, { ipAddress: '10.0.0.7', macAddress: '' as never }] })), code: 'INVALID_ARGUMENT', field: 'port.allowed_address_pairs[1]', reason: /listed twice/ },
  { name: 'security group ids are UUIDs', state: bare, act: (i) => planCreate(i, 'port', port({ securityGroupIds: ['default'] })), code: 'INVALID_ARGUMENT', field: 'port.security_group_ids[0]', reason: /not a canonical UUID/ },
  { name: 'security group ids are not repeated', state: bare, act: (i) => planCreate(i, 'port', port({ securityGroupIds: [netId(50), netId(50).toUpperCase()] })), code: 'INVALID_ARGUMENT', field: 'port.security_group_ids[1]', reason: /listed twice/ },
  { name: 'device_owner at most 255 characters', state: bare, act: (i) => planCreate(i, 'port', port({ deviceOwner: long(300) })), code: 'INVALID_ARGUMENT', field: 'port.device_owner', reason: /at most 255/ },
  { name: 'flags are booleans', state: bare, act: (i) => planCreate(i, 'port', port({ portSecurityEnabled: 'yes' as never })), code: 'INVALID_ARGUMENT', field: 'port.port_security_enabled', reason: /true or false/ },
]);

/** Network 1 with subnets 1 (10.0.0.0/24) and 2 (10.0.1.0/24, network 1), network 2 with subnet 3 (10.0.0.0/24), router 1 bare. */
const routed = () =>
  stateOf({
    networks: [network(), network({ id: netId(2), segmentationId: 1002 }), externalNetwork()],
    subnets: [
      subnet(),
      subnet({ id: subnetId(2), cidr: '10.0.1.0/24' }),
      subnet({ id: subnetId(3), networkId: netId(2), cidr: '10.0.0.0/24' }),
      subnet({ id: subnetId(4), networkId: netId(2), cidr: '10.9.0.0/24', gatewayIp: null }),
      externalSubnet(),
    ],
    ports: [port()],
    routers: [router(), router({ id: routerId(2), interfaces: [{ subnetId: subnetId(3), ipAddress: '' }] })],
  });

table('router', [
  { name: "an interface's subnet must exist", state: routed, act: (i) => planAddRouterInterface(i, routerId(1), subnetId(9), null), code: 'NOT_FOUND', field: 'subnet_id', reason: /subnet .* does not exist/ },
  { name: 'a subnet is attached to at most one router', state: routed, act: (i) => planAddRouterInterface(i, routerId(1), subnetId(3), null), code: 'ALREADY_EXISTS', field: 'subnet_id', reason: /already attached to router .*at most one router/ },
  {
    name: 'a router has one interface per subnet',
    state: () => { const i = routed(); return i; },
    act: (i) => planCreate(i, 'router', router({ id: routerId(3), interfaces: [{ subnetId: subnetId(1), ipAddress: '' }, { subnetId: subnetId(1), ipAddress: '10.0.0.2' }] })),
    code: 'ALREADY_EXISTS', field: 'router.interfaces[1].subnet_id', reason: /already has an interface on subnet/,
  },
  {
    name: 'a router has one interface per network',
    state: routed,
    act: (i) => planCreate(i, 'router', router({ id: routerId(3), interfaces: [{ subnetId: subnetId(1), ipAddress: '' }, { subnetId: subnetId(2), ipAddress: '' }] })),
    code: 'ALREADY_EXISTS', field: 'router.interfaces[1].subnet_id', reason: /one interface per network per router/,
  },
  { name: "an interface IP lies inside the subnet", state: routed, act: (i) => planAddRouterInterface(i, routerId(1), subnetId(1), '10.0.5.1'), code: 'INVALID_ARGUMENT', field: 'ip_address', reason: /not inside subnet/ },
  { name: "an interface IP is not the subnet's broadcast address", state: routed, act: (i) => planAddRouterInterface(i, routerId(1), subnetId(1), '10.0.0.255'), code: 'INVALID_ARGUMENT', field: 'ip_address', reason: /broadcast/ },
  { name: 'an interface IP is free', state: routed, act: (i) => planAddRouterInterface(i, routerId(1), subnetId(1), '10.0.0.10'), code: 'ALREADY_EXISTS', field: 'ip_address', reason: /already used by port/ },
  { name: 'a subnet without gateway needs an explicit interface IP', state: routed, act: (i) => planAddRouterInterface(i, routerId(1), subnetId(4), null), code: 'INVALID_ARGUMENT', field: 'ip_address', reason: /no gateway IP to default to/ },
  { name: 'an interface is not on an external network', state: routed, act: (i) => planAddRouterInterface(i, routerId(1), subnetId(100), '203.0.113.9'), code: 'FAILED_PRECONDITION', field: 'subnet_id', reason: /external network.*SetRouterGateway/ },
  { name: 'a static route destination is a CIDR', state: routed, act: (i) => planUpdate(i, 'router', routerId(2), router({ id: routerId(2), routes: [{ destination: '10.20.0.0/33', nexthop: '10.0.0.7' }] }), ['routes']), code: 'INVALID_ARGUMENT', field: 'router.routes[0].destination', reason: /0\.\.32/ },
  { name: 'a static route next hop lies in an attached subnet', state: routed, act: (i) => planUpdate(i, 'router', routerId(2), router({ id: routerId(2), routes: [{ destination: '10.20.0.0/16', nexthop: '10.0.1.7' }] }), ['routes']), code: 'INVALID_ARGUMENT', field: 'router.routes[0].nexthop', reason: /not inside any subnet attached to router .*attached: 10\.0\.0\.0\/24/ },
  { name: 'a static route next hop is not the router itself', state: routed, act: (i) => planUpdate(i, 'router', routerId(2), router({ id: routerId(2), routes: [{ destination: '10.20.0.0/16', nexthop: '10.0.0.1' }] }), ['routes']), code: 'INVALID_ARGUMENT', field: 'router.routes[0].nexthop', reason: /own interface address/ },
  { name: 'one next hop per static route destination', state: routed, act: (i) => planUpdate(i, 'router', routerId(2), router({ id: routerId(2), routes: [{ destination: '10.20.0.0/16', nexthop: '10.0.0.7' }, { destination: '10.20.0.0/16', nexthop: '10.0.0.8' }] }), ['routes']), code: 'INVALID_ARGUMENT', field: 'router.routes[1].destination', reason: /more than one route/ },
  { name: "the gateway's network exists", state: routed, act: (i) => planSetRouterGateway(i, routerId(1), { ...GATEWAY, networkId: netId(99) }), code: 'NOT_FOUND', field: 'external_gateway.network_id', reason: /does not exist/ },
  { name: "the gateway's network is external", state: routed, act: (i) => planSetRouterGateway(i, routerId(1), { ...GATEWAY, networkId: netId(2), ipAddress: '10.0.0.50' }), code: 'FAILED_PRECONDITION', field: 'external_gateway.network_id', reason: /not an external network/ },
  { name: 'the gateway IP lies in a subnet of the external network', state: routed, act: (i) => planSetRouterGateway(i, routerId(1), { ...GATEWAY, ipAddress: '198.51.100.2' }), code: 'INVALID_ARGUMENT', field: 'external_gateway.ip_address', reason: /not inside any subnet of external network/ },
  { name: "the gateway IP is not the external subnet's gateway", state: routed, act: (i) => planSetRouterGateway(i, routerId(1), { ...GATEWAY, ipAddress: '203.0.113.1' }), code: 'INVALID_ARGUMENT', field: 'external_gateway.ip_address', reason: /gateway IP of external subnet/ },
  { name: 'the gateway IP is required', state: routed, act: (i) => planSetRouterGateway(i, routerId(1), { ...GATEWAY, ipAddress: '' }), code: 'INVALID_ARGUMENT', field: 'external_gateway.ip_address', reason: /required/ },
  {
    name: 'the gateway IP is free',
    state: () => { const i = routed(); i.apply(planSetRouterGateway(i, routerId(2), GATEWAY).changes, 2); return i; },
    act: (i) => planSetRouterGateway(i, routerId(1), GATEWAY),
    code: 'ALREADY_EXISTS', field: 'external_gateway.ip_address', reason: /external gateway of router/,
  },
  { name: "the gateway node's VTEP is a unicast IPv4 address", state: routed, act: (i) => planSetRouterGateway(i, routerId(1), { ...GATEWAY, gatewayNodeVtepIp: '0.0.0.0' }), code: 'INVALID_ARGUMENT', field: 'external_gateway.gateway_node_vtep_ip', reason: /this network/ },
  {
    name: 'removing an interface a static route needs',
    state: () => { const i = routed(); i.apply(planUpdate(i, 'router', routerId(2), router({ id: routerId(2), routes: [{ destination: '10.20.0.0/16', nexthop: '10.0.0.7' }] }), ['routes']).changes, 2); return i; },
    act: (i) => planRemoveRouterInterface(i, routerId(2), subnetId(3)),
    code: 'FAILED_PRECONDITION', field: 'subnet_id', reason: /static route 10\.20\.0\.0\/16 via 10\.0\.0\.7/,
  },
  { name: 'removing an interface the router does not have', state: routed, act: (i) => planRemoveRouterInterface(i, routerId(1), subnetId(1)), code: 'NOT_FOUND', field: 'subnet_id', reason: /has no interface on subnet/ },
  { name: 'removing an interface a floating IP needs', state: full, act: (i) => planRemoveRouterInterface(i, routerId(1), subnetId(1)), code: 'FAILED_PRECONDITION', field: 'subnet_id', reason: /floating IP .* maps to a port on subnet/ },
  { name: 'clearing a gateway floating IPs rely on', state: full, act: (i) => planClearRouterGateway(i, routerId(1)), code: 'FAILED_PRECONDITION', field: 'router_id', reason: /relies on router/ },
  {
    name: 'moving a gateway floating IPs rely on to another network',
    state: () => stateOf({ ...world(), networks: [...world().networks, externalNetwork({ id: netId(101), physicalNetwork: 'ext2' })], subnets: [...world().subnets, externalSubnet({ id: subnetId(101), networkId: netId(101), cidr: '198.51.100.0/24', gatewayIp: '198.51.100.1' })] }),
    act: (i) => planSetRouterGateway(i, routerId(1), { ...GATEWAY, networkId: netId(101), ipAddress: '198.51.100.2' }),
    code: 'FAILED_PRECONDITION', field: 'external_gateway.network_id', reason: /relies on router/,
  },
]);

/** The world without the floating IP. */
const noFip = () => stateOf({ ...world(), floatingIps: [] });

table('floating IP', [
  { name: 'the floating network exists', state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ floatingNetworkId: netId(99) })), code: 'NOT_FOUND', field: 'floating_ip.floating_network_id', reason: /does not exist/ },
  { name: 'the floating network is external', state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ floatingNetworkId: netId(1), floatingIpAddress: '10.0.0.99', portId: null })), code: 'FAILED_PRECONDITION', field: 'floating_ip.floating_network_id', reason: /not an external network/ },
  { name: 'the address lies in a subnet of the floating network', state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ floatingIpAddress: '198.51.100.7' })), code: 'INVALID_ARGUMENT', field: 'floating_ip.floating_ip_address', reason: /not inside any subnet of external network/ },
  { name: 'the address is not the network address', state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ floatingIpAddress: '203.0.113.0' })), code: 'INVALID_ARGUMENT', field: 'floating_ip.floating_ip_address', reason: /network address/ },
  { name: 'the address is not the broadcast address', state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ floatingIpAddress: '203.0.113.255' })), code: 'INVALID_ARGUMENT', field: 'floating_ip.floating_ip_address', reason: /broadcast address/ },
  { name: "the address is not the external subnet's gateway", state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ floatingIpAddress: '203.0.113.1' })), code: 'INVALID_ARGUMENT', field: 'floating_ip.floating_ip_address', reason: /gateway IP of external subnet/ },
  { name: 'the address is not used by another floating IP', state: full, act: (i) => planCreate(i, 'floatingIp', floatingIp({ id: fipId(2), portId: null })), code: 'ALREADY_EXISTS', field: 'floating_ip.floating_ip_address', reason: /already used by floating IP/ },
  { name: 'the address is not used by a router gateway', state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ floatingIpAddress: '203.0.113.2' })), code: 'ALREADY_EXISTS', field: 'floating_ip.floating_ip_address', reason: /external gateway of router/ },
  {
    name: 'the address is not used by a port',
    state: () => stateOf({ ...world(), floatingIps: [], ports: [...world().ports, port({ id: portId(7), networkId: netId(100), macAddress: mac(7), fixedIps: [{ subnetId: subnetId(100), ipAddress: '203.0.113.50' }] })] }),
    act: (i) => planCreate(i, 'floatingIp', floatingIp()),
    code: 'ALREADY_EXISTS', field: 'floating_ip.floating_ip_address', reason: /already used by port/,
  },
  { name: 'the port exists', state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ portId: portId(9) })), code: 'NOT_FOUND', field: 'floating_ip.port_id', reason: /port .* does not exist/ },
  { name: "the fixed IP is one of the port's", state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ fixedIpAddress: '10.0.0.11' })), code: 'INVALID_ARGUMENT', field: 'floating_ip.fixed_ip_address', reason: /has no fixed IP 10\.0\.0\.11 \(it has: 10\.0\.0\.10\)/ },
  {
    name: 'a port without fixed IPs has nothing to map to',
    state: () => stateOf({ ...world(), floatingIps: [], ports: [port({ fixedIps: [] })] }),
    act: (i) => planCreate(i, 'floatingIp', floatingIp()),
    code: 'INVALID_ARGUMENT', field: 'floating_ip.fixed_ip_address', reason: /has no fixed IP to map/,
  },
  { name: 'a fixed IP needs a port', state: noFip, act: (i) => planCreate(i, 'floatingIp', floatingIp({ portId: null, fixedIpAddress: '10.0.0.10' })), code: 'INVALID_ARGUMENT', field: 'floating_ip.fixed_ip_address', reason: /only meaningful with a port_id/ },
  {
    name: "the port's network is not external",
    state: () => stateOf({ ...world(), floatingIps: [], ports: [...world().ports, port({ id: portId(7), networkId: netId(100), macAddress: mac(7), fixedIps: [{ subnetId: subnetId(100), ipAddress: '203.0.113.77' }] })] }),
    act: (i) => planCreate(i, 'floatingIp', floatingIp({ portId: portId(7) })),
    code: 'FAILED_PRECONDITION', field: 'floating_ip.port_id', reason: /is on external network/,
  },
  {
    name: "a router connects the port's subnet to the floating network (no router)",
    state: () => stateOf({ ...world(), floatingIps: [], routers: [router({ externalGateway: { ...GATEWAY } })] }),
    act: (i) => planCreate(i, 'floatingIp', floatingIp()),
    code: 'FAILED_PRECONDITION', field: 'floating_ip.port_id', reason: /External network .* is not reachable from subnet .*: no router has an interface/,
  },
  {
    name: "a router connects the port's subnet to the floating network (router without gateway)",
    state: () => stateOf({ ...world(), floatingIps: [], routers: [router({ interfaces: [{ subnetId: subnetId(1), ipAddress: '' }] })] }),
    act: (i) => planCreate(i, 'floatingIp', floatingIp()),
    code: 'FAILED_PRECONDITION', field: 'floating_ip.port_id', reason: /not reachable from subnet .*external gateway is not set/,
  },
  { name: 'a (port, fixed IP) has at most one floating IP', state: full, act: (i) => planCreate(i, 'floatingIp', floatingIp({ id: fipId(2), floatingIpAddress: '203.0.113.51' })), code: 'ALREADY_EXISTS', field: 'floating_ip.fixed_ip_address', reason: /already mapped by floating IP/ },
]);

table('deleting what is referenced', [
  { name: 'a network with subnets', state: bare, act: (i) => planDelete(i, 'network', netId(1)), code: 'FAILED_PRECONDITION', field: 'id', reason: /still has subnet/ },
  { name: 'a network with ports', state: () => stateOf({ networks: [network()], ports: [port({ fixedIps: [] })] }), act: (i) => planDelete(i, 'network', netId(1)), code: 'FAILED_PRECONDITION', field: 'id', reason: /still has port/ },
  { name: 'an external network used by a router gateway', state: full, act: (i) => planDelete(i, 'network', netId(100)), code: 'FAILED_PRECONDITION', field: 'id', reason: /external gateway network of router/ },
  { name: 'an external network holding floating IPs', state: () => stateOf({ ...world(), routers: [], floatingIps: [floatingIp({ portId: null })] }), act: (i) => planDelete(i, 'network', netId(100)), code: 'FAILED_PRECONDITION', field: 'id', reason: /holds floating IP/ },
  { name: 'a subnet with port IPs in it', state: () => stateOf({ networks: [network()], subnets: [subnet()], ports: [port()] }), act: (i) => planDelete(i, 'subnet', subnetId(1)), code: 'FAILED_PRECONDITION', field: 'id', reason: /address 10\.0\.0\.10 in use by port/ },
  { name: 'a subnet with a router interface', state: full, act: (i) => planDelete(i, 'subnet', subnetId(1)), code: 'FAILED_PRECONDITION', field: 'id', reason: /attached to router/ },
  { name: 'an external subnet holding a floating IP', state: () => stateOf({ ...world(), routers: [], floatingIps: [floatingIp({ portId: null })] }), act: (i) => planDelete(i, 'subnet', subnetId(100)), code: 'FAILED_PRECONDITION', field: 'id', reason: /in use by floating IP/ },
  { name: 'a router with interfaces', state: full, act: (i) => planDelete(i, 'router', routerId(1)), code: 'FAILED_PRECONDITION', field: 'id', reason: /still has an interface/ },
  { name: 'a port with a floating IP', state: full, act: (i) => planDelete(i, 'port', portId(1)), code: 'FAILED_PRECONDITION', field: 'id', reason: /associated with floating IP/ },
]);

table('updates', [
  { name: 'an empty mask', state: bare, act: (i) => planUpdate(i, 'network', netId(1), network(), []), code: 'INVALID_ARGUMENT', field: 'update_mask', reason: /is empty.*name, admin_state_up, mtu, external/ },
  { name: 'an unknown field', state: bare, act: (i) => planUpdate(i, 'network', netId(1), network(), ['name', 'colour']), code: 'INVALID_ARGUMENT', field: 'update_mask', reason: /"colour" is not a field of network/ },
  { name: 'a field that may not change', state: bare, act: (i) => planUpdate(i, 'subnet', subnetId(1), subnet(), ['cidr']), code: 'INVALID_ARGUMENT', field: 'update_mask', reason: /"cidr" of a subnet cannot be changed/ },
  { name: 'router interfaces through the mask', state: bare, act: (i) => planUpdate(i, 'router', routerId(1), router(), ['interfaces']), code: 'NOT_FOUND', field: 'router.id', reason: /does not exist/ },
  { name: 'router interfaces are changed by their own calls', state: full, act: (i) => planUpdate(i, 'router', routerId(1), router(), ['interfaces']), code: 'INVALID_ARGUMENT', field: 'update_mask', reason: /AddRouterInterface/ },
  { name: 'a domain field name is not a proto field name', state: full, act: (i) => planUpdate(i, 'port', portId(1), port(), ['macAddress']), code: 'INVALID_ARGUMENT', field: 'update_mask', reason: /"macAddress" is not a field of port/ },
  { name: "the patch's id names the resource updated", state: full, act: (i) => planUpdate(i, 'port', portId(1), port({ id: portId(2) }), ['name']), code: 'INVALID_ARGUMENT', field: 'port.id', reason: /does not match/ },
  {
    name: "a port's MAC changed to one used in its network",
    state: () => stateOf({ networks: [network()], subnets: [subnet()], ports: [port(), port({ id: portId(2), macAddress: mac(2), fixedIps: [] })] }),
    act: (i) => planUpdate(i, 'port', portId(2), port({ id: portId(2), macAddress: mac(1) }), ['mac_address']),
    code: 'ALREADY_EXISTS', field: 'port.mac_address', reason: /already used by port/,
  },
  { name: "a subnet's gateway moved onto a port's IP", state: full, act: (i) => planUpdate(i, 'subnet', subnetId(1), subnet({ gatewayIp: '10.0.0.10' }), ['gateway_ip']), code: 'ALREADY_EXISTS', field: 'subnet.gateway_ip', reason: /already used by port/ },
  { name: "a port's fixed IP that a floating IP maps to", state: full, act: (i) => planUpdate(i, 'port', portId(1), port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.11' }] }), ['fixed_ips']), code: 'FAILED_PRECONDITION', field: 'port.fixed_ips', reason: /maps to fixed IP 10\.0\.0\.10/ },
  { name: 'an external network serving gateways made internal', state: full, act: (i) => planUpdate(i, 'network', netId(100), externalNetwork({ external: false }), ['external']), code: 'FAILED_PRECONDITION', field: 'network.external', reason: /external gateway network of router/ },
  { name: 'a routed internal network made external', state: full, act: (i) => planUpdate(i, 'network', netId(1), network({ external: true }), ['external']), code: 'FAILED_PRECONDITION', field: 'network.external', reason: /interface on subnet/ },
  { name: 'a network MTU out of range', state: bare, act: (i) => planUpdate(i, 'network', netId(1), network({ mtu: 10000 }), ['mtu']), code: 'INVALID_ARGUMENT', field: 'network.mtu', reason: /68\.\.9000/ },
  { name: 'a floating IP re-associated to an unreachable port', state: () => stateOf({ ...world(), ports: [...world().ports, port({ id: portId(2), networkId: netId(1), macAddress: mac(2), fixedIps: [] })] }), act: (i) => planUpdate(i, 'floatingIp', fipId(1), floatingIp({ portId: portId(2) }), ['port_id']), code: 'INVALID_ARGUMENT', field: 'floating_ip.fixed_ip_address', reason: /has no fixed IP to map/ },
]);

table('sync', [
  {
    name: 'paths name the request list and position',
    state: () => new ResourceIndex(),
    act: (i) => planSync(i, { ...emptySnapshot(), networks: [network(), network({ id: netId(2) })] }),
    code: 'ALREADY_EXISTS', field: 'networks[1].segmentation_id', reason: /VNI 1001 is already used/,
  },
  {
    name: 'a MAC twice in one network',
    state: () => new ResourceIndex(),
    act: (i) => planSync(i, { ...world(), ports: [port(), port({ id: portId(2), fixedIps: [] })] }),
    code: 'ALREADY_EXISTS', field: 'ports[1].mac_address', reason: /already used by port/,
  },
  {
    name: 'the same id twice',
    state: () => new ResourceIndex(),
    act: (i) => planSync(i, { ...world(), ports: [port(), port({ macAddress: mac(5), fixedIps: [] })] }),
    code: 'ALREADY_EXISTS', field: 'ports[1].id', reason: /appears more than once/,
  },
  {
    name: 'references resolve within the request, not the current state',
    state: full,
    act: (i) => planSync(i, { ...world(), subnets: [externalSubnet()], routers: [], floatingIps: [] }),
    code: 'NOT_FOUND', field: 'ports[0].fixed_ips[0].subnet_id', reason: /does not exist/,
  },
  {
    name: 'a router interface on a port address',
    state: () => new ResourceIndex(),
    act: (i) => planSync(i, { ...world(), routers: [router({ interfaces: [{ subnetId: subnetId(1), ipAddress: '10.0.0.10' }] })], floatingIps: [] }),
    code: 'ALREADY_EXISTS', field: 'routers[0].interfaces[0].ip_address', reason: /already used by port/,
  },
  {
    name: 'a floating IP with nothing to carry it',
    state: () => new ResourceIndex(),
    act: (i) => planSync(i, { ...world(), routers: [] }),
    code: 'FAILED_PRECONDITION', field: 'floating_ips[0].port_id', reason: /not reachable/,
  },
  {
    name: 'every kind must be a list',
    state: () => new ResourceIndex(),
    act: (i) => planSync(i, { ...emptySnapshot(), ports: undefined as never }),
    code: 'INVALID_ARGUMENT', field: 'ports', reason: /must be a list/,
  },
]);

describe('rules that allow', () => {
  it('the same VNI value as a VLAN ID, the same VLAN on another physnet, a CIDR on two networks, a MAC on two networks', () => {
    const i = stateOf({
      networks: [network({ segmentationId: 10 }), network({ id: netId(2), type: 'vlan', segmentationId: 10, physicalNetwork: 'a' }), network({ id: netId(3), type: 'vlan', segmentationId: 10, physicalNetwork: 'b' })],
      subnets: [subnet(), subnet({ id: subnetId(2), networkId: netId(2) })],
      ports: [port(), port({ id: portId(2), networkId: netId(2), fixedIps: [{ subnetId: subnetId(2), ipAddress: '10.0.0.10' }] })],
    });
    expect(i.count('port')).toBe(2);
  });

  it('several fixed IPs of one port in one subnet, and a subnet without gateway', () => {
    const i = stateOf({ networks: [network()], subnets: [subnet({ gatewayIp: null })], ports: [port({ fixedIps: [{ subnetId: subnetId(1), ipAddress: '10.0.0.1' }, { subnetId: subnetId(1), ipAddress: '10.0.0.2' }] })] });
    expect(i.get('port', portId(1))?.fixedIps).toHaveLength(2);
  });

  it("a subnet's gateway moved onto its own router's interface address", () => {
    const i = stateOf({ networks: [network()], subnets: [subnet()], routers: [router({ interfaces: [{ subnetId: subnetId(1), ipAddress: '10.0.0.254' }] })] });
    const out = planUpdate(i, 'subnet', subnetId(1), subnet({ gatewayIp: '10.0.0.254' }), ['gateway_ip']);
    expect(out.resource.gatewayIp).toBe('10.0.0.254');
  });

  it('deleting in dependency order', () => {
    const i = stateOf(world());
    let rev = 1;
    const step = (o: { changes: Parameters<ResourceIndex['apply']>[0] }) => i.apply(o.changes, ++rev);
    step(planDelete(i, 'floatingIp', fipId(1)));
    step(planDelete(i, 'port', portId(1)));
    step(planClearRouterGateway(i, routerId(1)));
    step(planRemoveRouterInterface(i, routerId(1), subnetId(1)));
    step(planDelete(i, 'router', routerId(1)));
    step(planDelete(i, 'subnet', subnetId(1)));
    step(planDelete(i, 'subnet', subnetId(100)));
    step(planDelete(i, 'network', netId(1)));
    step(planDelete(i, 'network', netId(100)));
    expect(i.snapshot()).toEqual(emptySnapshot());
  });
});
