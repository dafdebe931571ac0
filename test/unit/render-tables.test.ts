// render(): desired state → logical tables, table by table, on small
// snapshots. Includes the overlapping-tenant cases (same CIDR on two networks
// and two routers) that keying by IP alone would get wrong.
import { describe, expect, it } from 'vitest';
import type { FloatingIp, Network, Port, Router, Snapshot, Subnet } from '../../src/model/types.js';
import { DHCP_UNIMPLEMENTED, render, securityGroupsUnimplemented } from '../../src/reconciler/render.js';
import { routerMac } from '../../src/reconciler/router-mac.js';
import type { TableName, TableValue } from '../../src/reconciler/tables.js';

const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const NET1 = uuid(0x101);
const NET2 = uuid(0x102);
const EXT = uuid(0x1ee);
const FLAT = uuid(0x1f0);
const SUB1 = uuid(0x201);
const SUB2 = uuid(0x202);
const SUBEXT = uuid(0x2ee);
const SUBFLAT = uuid(0x2f0);
const R1 = uuid(0x301);
const R2 = uuid(0x302);
const ME = '192.0.2.1';
const HV2 = '192.0.2.2';
const HV3 = '192.0.2.3';

function network(id: string, vni: number, over: Partial<Network> = {}): Network {
  return { id, name: '', type: 'vxlan', segmentationId: vni, physicalNetwork: null, mtu: 1450, external: false, adminStateUp: true, ...over };
}
function subnet(id: string, networkId: string, cidr: string, gatewayIp: string | null): Subnet {
  return { id, name: '', networkId, cidr, gatewayIp, enableDhcp: false, dnsNameservers: [], hostRoutes: [] };
}
function port(n: number, networkId: string, binding: Port['binding'], ips: [string, string][], over: Partial<Port> = {}): Port {
  return {
    id: uuid(0x400 + n),
    name: '',
    networkId,
    macAddress: `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`,
    fixedIps: ips.map(([subnetId, ipAddress]) => ({ subnetId, ipAddress })),
    binding,
    portSecurityEnabled: true,
    allowedAddressPairs: [],
    securityGroupIds: [],
    deviceOwner: 'compute:nova',
    adminStateUp: true,
    ...over,
  };
}
function router(id: string, interfaces: [string, string][], over: Partial<Router> = {}): Router {
  return {
    id,
    name: '',
    interfaces: interfaces.map(([subnetId, ipAddress]) => ({ subnetId, ipAddress })),
    routes: [],
    externalGateway: null,
    adminStateUp: true,
    ...over,
  };
}
function snapshot(over: Partial<Snapshot>): Snapshot {
  return { networks: [], subnets: [], ports: [], routers: [], floatingIps: [], ...over };
}
const local = (interfaceName: string): Port['binding'] => ({ kind: 'local', interfaceName });
const remote = (vtepIp: string): Port['binding'] => ({ kind: 'remote', vtepIp });

/** A table as {keyString: value}. */
function table<T extends TableName>(s: Snapshot, t: T, vtepIp = ME): Record<string, TableValue<T>> {
  return Object.fromEntries([...render(s, { vtepIp }).tables[t]].map(([k, e]) => [k, e.value]));
}

/**
 * Two tenants with the same 10.0.0.0/24, each with its own router; tenant 1
 * also has a second network and an external gateway; a flat external network.
 */
function overlapping(): Snapshot {
  return snapshot({
    networks: [
      network(NET1, 1001),
      network(NET2, 1002),
      network(EXT, 0, { type: 'flat', physicalNetwork: 'external', external: true, mtu: 1500 }),
    ],
    subnets: [
      subnet(SUB1, NET1, '10.0.0.0/24', '10.0.0.1'),
      subnet(SUB2, NET2, '10.0.0.0/24', '10.0.0.1'),
      subnet(SUBEXT, EXT, '203.0.113.0/24', '203.0.113.1'),
    ],
    ports: [
      port(1, NET1, local('tap1'), [[SUB1, '10.0.0.5']]),
      port(2, NET1, remote(HV2), [[SUB1, '10.0.0.6']]),
      port(3, NET2, remote(HV3), [[SUB2, '10.0.0.5']]),
      port(4, NET2, local('tap4'), [[SUB2, '10.0.0.6']]),
    ],
    routers: [
      router(R1, [[SUB1, '10.0.0.1']], {
        externalGateway: { networkId: EXT, ipAddress: '203.0.113.10', enableSnat: true, gatewayNodeVtepIp: HV3 },
      }),
      router(R2, [[SUB2, '10.0.0.1']]),
    ],
  });
}

describe('render: networks', () => {
  it('has one entry per VXLAN network, keyed by VNI; FLAT/VLAN networks have none', () => {
    const s = snapshot({
      networks: [
        network(NET1, 1001, { mtu: 1400 }),
        network(NET2, 1002, { adminStateUp: false }),
        network(FLAT, 0, { type: 'flat', physicalNetwork: 'physnet1' }),
        network(EXT, 42, { type: 'vlan', physicalNetwork: 'physnet1' }),
      ],
    });
    expect(table(s, 'networks')).toEqual({
      '1001': { networkId: NET1, mtu: 1400, adminStateUp: true },
      '1002': { networkId: NET2, mtu: 1450, adminStateUp: false },
    });
  });

  it('each entry is owned by its network', () => {
    const e = render(snapshot({ networks: [network(NET1, 7)] }), { vtepIp: ME }).tables.networks.get('7');
    expect(e?.owners).toEqual([{ kind: 'network', id: NET1 }]);
  });
});

describe('render: localPorts', () => {
  it('holds only ports bound on this node, keyed by interface name', () => {
    const t = table(overlapping(), 'localPorts');
    expect(Object.keys(t)).toEqual(['tap1', 'tap4']);
    expect(t.tap1).toEqual({
      portId: uuid(0x401),
      vni: 1001,
      macAddress: 'fa:16:3e:00:00:01',
      ipAddresses: ['10.0.0.5'],
      portSecurityEnabled: true,
      allowedAddressPairs: [],
      adminStateUp: true,
    });
    expect(t.tap4?.vni).toBe(1002);
  });

  it('resolves allowed address pairs: canonical CIDR, the port MAC when none is given, sorted and unique', () => {
    const p = port(1, NET1, local('tap1'), [[SUB1, '10.0.0.5']], {
      portSecurityEnabled: false,
      adminStateUp: false,
      allowedAddressPairs: [
        { ipAddress: '10.0.0.200', macAddress: null },
        { ipAddress: '10.0.0.128/25', macAddress: 'fa:16:3e:aa:aa:aa' },
        { ipAddress: '10.0.0.200/32', macAddress: null },
      ],
    });
    const t = table(snapshot({ networks: [network(NET1, 1001)], ports: [p] }), 'localPorts');
    expect(t.tap1).toMatchObject({
      portSecurityEnabled: false,
      adminStateUp: false,
      allowedAddressPairs: [
        { cidr: '10.0.0.128/25', macAddress: 'fa:16:3e:aa:aa:aa' },
        { cidr: '10.0.0.200/32', macAddress: 'fa:16:3e:00:00:01' },
      ],
    });
  });

  it('depends on the binding alone, not on the VTEP: "local" is how each node is told about its own ports', () => {
    expect(Object.keys(table(overlapping(), 'localPorts', HV2))).toEqual(['tap1', 'tap4']);
  });
});

describe('render: fdb', () => {
  it('places every bound port and each router MAC, per network; the same MAC on two networks is two entries', () => {
    const s = overlapping();
    s.ports.push(port(5, NET2, remote(HV2), [], { macAddress: 'fa:16:3e:00:00:01' })); // port 1's MAC, other tenant
    const t = table(s, 'fdb');
    expect(t).toEqual({
      [`1001/${routerMac(R1)}`]: { location: { kind: 'router', routerId: R1 } },
      [`1002/${routerMac(R2)}`]: { location: { kind: 'router', routerId: R2 } },
      '1001/fa:16:3e:00:00:01': { location: { kind: 'local', interfaceName: 'tap1' } },
      '1001/fa:16:3e:00:00:02': { location: { kind: 'remote', vtepIp: HV2 } },
      '1002/fa:16:3e:00:00:03': { location: { kind: 'remote', vtepIp: HV3 } },
      '1002/fa:16:3e:00:00:04': { location: { kind: 'local', interfaceName: 'tap4' } },
      '1002/fa:16:3e:00:00:01': { location: { kind: 'remote', vtepIp: HV2 } },
    });
  });

  it('leaves out unbound ports', () => {
    const s = snapshot({ networks: [network(NET1, 1001)], ports: [port(1, NET1, { kind: 'none' }, [[SUB1, '10.0.0.5']])] });
    const r = render(s, { vtepIp: ME });
    expect(r.tables.fdb.size + r.tables.arp.size + r.tables.floodList.size).toBe(0);
    expect(r.problems).toEqual([]);
  });
});

describe('render: arp', () => {
  it('answers port IPs and router interface IPs per network; overlapping tenants do not collide', () => {
    expect(table(overlapping(), 'arp')).toEqual({
      '1001/10.0.0.1': { macAddress: routerMac(R1) },
      '1002/10.0.0.1': { macAddress: routerMac(R2) },
      '1001/10.0.0.5': { macAddress: 'fa:16:3e:00:00:01' },
      '1001/10.0.0.6': { macAddress: 'fa:16:3e:00:00:02' },
      '1002/10.0.0.5': { macAddress: 'fa:16:3e:00:00:03' },
      '1002/10.0.0.6': { macAddress: 'fa:16:3e:00:00:04' },
    });
  });

  it('a router interface wins the gateway IP over a port that also carries it', () => {
    const s = overlapping();
    s.ports.push(port(9, NET1, remote(HV2), [[SUB1, '10.0.0.1']]));
    const r = render(s, { vtepIp: ME });
    expect(r.tables.arp.get('1001/10.0.0.1')?.value).toEqual({ macAddress: routerMac(R1) });
    expect(r.problems).toEqual([
      { ref: { kind: 'port', id: uuid(0x409) }, code: 'ALREADY_EXISTS', message: expect.stringContaining(`router/${R1}`) },
    ]);
  });
});

describe('render: floodList', () => {
  it('lists remote VTEPs (never our own, each once) and local interfaces per network', () => {
    const s = overlapping();
    s.ports.push(port(6, NET1, remote(HV2), []), port(7, NET1, remote(ME), []), port(8, NET1, local('tap8'), []));
    expect(table(s, 'floodList')).toEqual({
      '1001': { remoteVteps: [HV2], localInterfaces: ['tap1', 'tap8'] },
      '1002': { remoteVteps: [HV3], localInterfaces: ['tap4'] },
    });
  });

  it('is owned by the network and the ports it lists', () => {
    const e = render(overlapping(), { vtepIp: ME }).tables.floodList.get('1001');
    expect(e?.owners).toEqual([
      { kind: 'network', id: NET1 },
      { kind: 'port', id: uuid(0x401) },
      { kind: 'port', id: uuid(0x402) },
    ]);
  });

  it('has no entry for a network whose only members are on this node\'s VTEP as remote', () => {
    const s = snapshot({ networks: [network(NET1, 1001)], ports: [port(1, NET1, remote(ME), [])] });
    expect(table(s, 'floodList')).toEqual({});
  });

  it('depends on the node: seen from HV2, HV2 is left out', () => {
    expect(table(overlapping(), 'floodList', HV2)['1001']).toEqual({ remoteVteps: [], localInterfaces: ['tap1'] });
  });
});

describe('render: routers and routerInterfaces', () => {
  it('gives each router its derived MAC and admin state, and one interface entry per (router, subnet)', () => {
    const s = overlapping();
    s.routers[1] = { ...s.routers[1]!, adminStateUp: false };
    expect(table(s, 'routers')).toEqual({
      [R1]: { macAddress: routerMac(R1), adminStateUp: true },
      [R2]: { macAddress: routerMac(R2), adminStateUp: false },
    });
    expect(table(s, 'routerInterfaces')).toEqual({
      [`${R1}/${SUB1}`]: { vni: 1001, ipAddress: '10.0.0.1', prefixLength: 24, macAddress: routerMac(R1) },
      [`${R2}/${SUB2}`]: { vni: 1002, ipAddress: '10.0.0.1', prefixLength: 24, macAddress: routerMac(R2) },
    });
  });
});

describe('render: routes', () => {
  it('connected subnets per router: the same prefix on two routers is two entries', () => {
    const t = table(overlapping(), 'routes');
    expect(t[`${R1}/10.0.0.0/24`]).toEqual({ kind: 'connected', vni: 1001, subnetId: SUB1 });
    expect(t[`${R2}/10.0.0.0/24`]).toEqual({ kind: 'connected', vni: 1002, subnetId: SUB2 });
  });

  it('external gateway: the external subnet on-link and a default route via its gateway, tunnelled to the gateway node', () => {
    const t = table(overlapping(), 'routes');
    const ext = { kind: 'external', gatewayVtepIp: HV3, gatewayIsLocal: false };
    expect(t[`${R1}/203.0.113.0/24`]).toEqual({ ...ext, nexthop: null });
    expect(t[`${R1}/0.0.0.0/0`]).toEqual({ ...ext, nexthop: '203.0.113.1' });
    expect(t[`${R2}/0.0.0.0/0`]).toBeUndefined();
    expect(table(overlapping(), 'routes', HV3)[`${R1}/0.0.0.0/0`]).toMatchObject({ gatewayIsLocal: true });
  });

  it('static routes resolve their next hop to a tenant subnet or the external one; a static default wins', () => {
    const s = overlapping();
    s.routers[0]!.routes = [
      { destination: '172.16.0.0/16', nexthop: '10.0.0.254' },
      { destination: '0.0.0.0/0', nexthop: '203.0.113.2' },
    ];
    const t = table(s, 'routes');
    expect(t[`${R1}/172.16.0.0/16`]).toEqual({ kind: 'nexthop', vni: 1001, nexthop: '10.0.0.254' });
    expect(t[`${R1}/0.0.0.0/0`]).toEqual({ kind: 'external', nexthop: '203.0.113.2', gatewayVtepIp: HV3, gatewayIsLocal: false });
    expect(render(s, { vtepIp: ME }).problems).toEqual([]);
  });

  it('a static route whose next hop is on no subnet of the router is a problem, not an entry', () => {
    const s = overlapping();
    s.routers[1]!.routes = [{ destination: '172.16.0.0/16', nexthop: '192.168.9.9' }];
    const r = render(s, { vtepIp: ME });
    expect(r.tables.routes.has(`${R2}/172.16.0.0/16`)).toBe(false);
    expect(r.problems).toEqual([{ ref: { kind: 'router', id: R2 }, code: 'FAILED_PRECONDITION', message: expect.stringContaining('192.168.9.9') }]);
  });
});

describe('render: snat', () => {
  it('describes the external side of routers that have a gateway', () => {
    const t = table(overlapping(), 'snat');
    expect(t).toEqual({
      [R1]: {
        externalNetworkId: EXT,
        externalNetworkType: 'flat',
        physicalNetwork: 'external',
        segmentationId: 0,
        externalIp: '203.0.113.10',
        externalPrefixLength: 24,
        externalNexthop: '203.0.113.1',
        gatewayVtepIp: HV3,
        gatewayIsLocal: false,
        enableSnat: true,
      },
    });
  });

  it('is rendered with SNAT disabled too (floating IPs still need the external side)', () => {
    const s = overlapping();
    s.routers[0]!.externalGateway!.enableSnat = false;
    expect(table(s, 'snat', HV3)[R1]).toMatchObject({ enableSnat: false, gatewayIsLocal: true });
  });
});

describe('render: floatingIps and fixedToFloating', () => {
  const fip = (n: number, portId: string | null, fixed: string | null, address: string): FloatingIp => ({
    id: uuid(0x500 + n),
    floatingNetworkId: EXT,
    floatingIpAddress: address,
    portId,
    fixedIpAddress: fixed,
  });

  it('maps a floating IP to its port through the router that connects the port to the floating network', () => {
    const s = overlapping();
    s.floatingIps = [fip(1, uuid(0x401), '10.0.0.5', '203.0.113.50'), fip(2, null, null, '203.0.113.51')];
    expect(table(s, 'floatingIps')).toEqual({
      [`${EXT}/203.0.113.50`]: {
        routerId: R1,
        portId: uuid(0x401),
        fixedIpAddress: '10.0.0.5',
        vni: 1001,
        gatewayVtepIp: HV3,
        gatewayIsLocal: false,
      },
    });
    expect(table(s, 'fixedToFloating')).toEqual({
      [`${R1}/10.0.0.5`]: { floatingNetworkId: EXT, floatingIpAddress: '203.0.113.50' },
    });
  });

  it('keys the outbound side by router: the same fixed IP behind two routers is two entries', () => {
    const s = overlapping();
    s.routers[1]!.externalGateway = { networkId: EXT, ipAddress: '203.0.113.20', enableSnat: true, gatewayNodeVtepIp: HV3 };
    s.floatingIps = [fip(1, uuid(0x401), '10.0.0.5', '203.0.113.50'), fip(2, uuid(0x403), '10.0.0.5', '203.0.113.60')];
    expect(Object.keys(table(s, 'fixedToFloating'))).toEqual([`${R1}/10.0.0.5`, `${R2}/10.0.0.5`]);
    expect(table(s, 'floatingIps')[`${EXT}/203.0.113.60`]).toMatchObject({ routerId: R2, vni: 1002 });
  });

  it('a floating IP no router can carry is a problem', () => {
    const s = overlapping();
    s.floatingIps = [fip(1, uuid(0x403), '10.0.0.5', '203.0.113.50')]; // R2 has no gateway
    const r = render(s, { vtepIp: ME });
    expect(r.tables.floatingIps.size).toBe(0);
    expect(r.problems).toEqual([{ ref: { kind: 'floatingIp', id: uuid(0x501) }, code: 'FAILED_PRECONDITION', message: expect.any(String) }]);
  });
});

describe('render: providerPorts', () => {
  it('takes bound ports and router interfaces on FLAT/VLAN networks, and nothing else of them', () => {
    const s = snapshot({
      networks: [network(FLAT, 0, { type: 'flat', physicalNetwork: 'physnet1' }), network(NET2, 42, { type: 'vlan', physicalNetwork: 'physnet2' })],
      subnets: [subnet(SUBFLAT, FLAT, '198.51.100.0/24', '198.51.100.1')],
      ports: [
        port(1, FLAT, local('tap1'), [[SUBFLAT, '198.51.100.5']]),
        port(2, NET2, remote(HV2), []),
        port(3, FLAT, { kind: 'none' }, []),
      ],
      routers: [router(R1, [[SUBFLAT, '198.51.100.1']])],
    });
    const r = render(s, { vtepIp: ME });
    expect(table(s, 'providerPorts')).toEqual({
      [`${FLAT}/${routerMac(R1)}`]: { networkType: 'flat', physicalNetwork: 'physnet1', segmentationId: 0, location: { kind: 'router', routerId: R1 } },
      [`${FLAT}/fa:16:3e:00:00:01`]: { networkType: 'flat', physicalNetwork: 'physnet1', segmentationId: 0, location: { kind: 'local', interfaceName: 'tap1' } },
      [`${NET2}/fa:16:3e:00:00:02`]: { networkType: 'vlan', physicalNetwork: 'physnet2', segmentationId: 42, location: { kind: 'remote', vtepIp: HV2 } },
    });
    for (const t of ['localPorts', 'fdb', 'arp', 'floodList', 'routerInterfaces', 'routes'] as const) expect(r.tables[t].size, t).toBe(0);
    expect(r.tables.providerPorts.get(`${FLAT}/fa:16:3e:00:00:01`)?.owners).toEqual([{ kind: 'port', id: uuid(0x401) }]);
  });
});

describe('render: claims and problems', () => {
  it('two ports on one interface: the first by id keeps it, the other gets ALREADY_EXISTS', () => {
    const s = snapshot({
      networks: [network(NET1, 1001)],
      ports: [port(2, NET1, local('tap1'), []), port(1, NET1, local('tap1'), [])],
    });
    const r = render(s, { vtepIp: ME });
    expect(r.tables.localPorts.get('tap1')?.value.portId).toBe(uuid(0x401));
    expect(r.problems).toEqual([
      { ref: { kind: 'port', id: uuid(0x402) }, code: 'ALREADY_EXISTS', message: `localPorts entry tap1 is already taken by port/${uuid(0x401)}` },
    ]);
  });

  it('references to missing resources become FAILED_PRECONDITION problems', () => {
    const s = snapshot({
      ports: [port(1, NET1, local('tap1'), [])],
      routers: [router(R1, [[SUB1, '10.0.0.1']])],
    });
    expect(render(s, { vtepIp: ME }).problems.map((p) => [p.ref.kind, p.code])).toEqual([
      ['router', 'FAILED_PRECONDITION'],
      ['port', 'FAILED_PRECONDITION'],
    ]);
  });
});

describe('render: accepted but not implemented (DHCP, security groups)', () => {
  const GROUP = uuid(0x601);
  /** The tables as {table: {keyString: {value, owners}}}. */
  const all = (r: ReturnType<typeof render>) =>
    Object.fromEntries(Object.entries(r.tables).map(([t, m]) => [t, Object.fromEntries([...m].map(([k, e]) => [k, { value: e.value, owners: e.owners }]))]));

  it('a subnet with enable_dhcp is a partial UNIMPLEMENTED problem; the tables are those of the same state without DHCP', () => {
    const base = overlapping();
    const dhcp = { ...base, subnets: base.subnets.map((sn) => (sn.id === SUB2 ? { ...sn, enableDhcp: true } : sn)) };
    const r = render(dhcp, { vtepIp: ME });
    expect(r.problems).toEqual([{ ref: { kind: 'subnet', id: SUB2 }, code: 'UNIMPLEMENTED', message: DHCP_UNIMPLEMENTED, partial: true }]);
    expect(r.problems[0]!.message).toMatch(/^DHCP is not implemented yet: nothing answers DHCP on this subnet.*set enable_dhcp false$/);
    expect(all(r)).toEqual(all(render(base, { vtepIp: ME })));
    expect(render(base, { vtepIp: ME }).problems).toEqual([]);
  });

  it('a port with security groups is a partial UNIMPLEMENTED problem, and its entries are rendered and owned as without them', () => {
    const base = overlapping();
    const grouped = { ...base, ports: base.ports.map((p) => (p.id === uuid(0x401) ? { ...p, securityGroupIds: [GROUP] } : p)) };
    const r = render(grouped, { vtepIp: ME });
    expect(r.problems).toEqual([{ ref: { kind: 'port', id: uuid(0x401) }, code: 'UNIMPLEMENTED', message: securityGroupsUnimplemented({ portSecurityEnabled: true }), partial: true }]);
    expect(r.problems[0]!.message).toBe(
      "security groups are not implemented yet: the rules of this port's security groups are not enforced, so traffic they would block is forwarded; port security (MAC/IP anti-spoofing) is enforced",
    );
    // Forwarding goes on: the same entries, values and owners (localPorts, fdb, arp, the flood list).
    expect(all(r)).toEqual(all(render(base, { vtepIp: ME })));
    expect(r.tables.localPorts.get('tap1')?.owners).toEqual([{ kind: 'port', id: uuid(0x401) }]);
    expect(r.tables.localPorts.get('tap1')?.value.portSecurityEnabled).toBe(true);
    expect(r.tables.floodList.get('1001')?.owners).toContainEqual({ kind: 'port', id: uuid(0x401) });
  });

  it('the security-group message says when port security is off too; unbound ports and ports on provider networks get it as well', () => {
    const s = snapshot({
      networks: [network(NET1, 1001), network(FLAT, 0, { type: 'flat', physicalNetwork: 'physnet1' })],
      subnets: [subnet(SUB1, NET1, '10.0.0.0/24', '10.0.0.1')],
      ports: [
        port(1, NET1, local('tap1'), [[SUB1, '10.0.0.5']], { portSecurityEnabled: false, securityGroupIds: [GROUP] }),
        port(2, NET1, { kind: 'none' }, [[SUB1, '10.0.0.6']], { securityGroupIds: [GROUP] }),
        port(3, FLAT, local('tap3'), [], { securityGroupIds: [GROUP] }),
      ],
    });
    const r = render(s, { vtepIp: ME });
    expect(r.problems.map((p) => [p.ref.id, p.code, p.partial])).toEqual([
      [uuid(0x401), 'UNIMPLEMENTED', true],
      [uuid(0x402), 'UNIMPLEMENTED', true],
      [uuid(0x403), 'UNIMPLEMENTED', true],
    ]);
    expect(r.problems[0]!.message).toMatch(/port security \(MAC\/IP anti-spoofing\) is disabled on this port, so its traffic is not filtered$/);
    expect(r.tables.localPorts.get('tap1')?.value.portSecurityEnabled).toBe(false);
    expect(r.tables.providerPorts.get(`${FLAT}/fa:16:3e:00:00:03`)?.owners).toEqual([{ kind: 'port', id: uuid(0x403) }]);
  });

  it('a port that lost a claim lists that ALREADY_EXISTS before its security-group problem; the winner keeps the entry', () => {
    const s = snapshot({
      networks: [network(NET1, 1001)],
      ports: [port(1, NET1, local('tap1'), [], { securityGroupIds: [GROUP] }), port(2, NET1, local('tap1'), [], { securityGroupIds: [GROUP] })],
    });
    const r = render(s, { vtepIp: ME });
    expect(r.tables.localPorts.get('tap1')).toMatchObject({ value: { portId: uuid(0x401) }, owners: [{ kind: 'port', id: uuid(0x401) }] });
    expect(r.problems.map((p) => [p.ref.id, p.code, p.partial ?? false])).toEqual([
      [uuid(0x401), 'UNIMPLEMENTED', true],
      [uuid(0x402), 'ALREADY_EXISTS', false],
      [uuid(0x402), 'UNIMPLEMENTED', true],
    ]);
  });

  it('problems are listed networks, subnets, routers, ports, floating IPs', () => {
    const s = snapshot({
      networks: [network(NET1, 1001)],
      subnets: [{ ...subnet(SUB1, NET1, '10.0.0.0/24', '10.0.0.1'), enableDhcp: true }],
      ports: [port(1, NET1, remote(HV2), [[SUB1, '10.0.0.5']], { securityGroupIds: [GROUP] })],
      routers: [router(R1, [[SUB2, '10.0.1.1']])],
    });
    expect(render(s, { vtepIp: ME }).problems.map((p) => p.ref.kind)).toEqual(['subnet', 'router', 'port']);
  });
});

describe('render: determinism', () => {
  it('gives equal output for the same state listed in another order', () => {
    const a = overlapping();
    const b: Snapshot = {
      networks: [...a.networks].reverse(),
      subnets: [...a.subnets].reverse(),
      ports: [...a.ports].reverse(),
      routers: [...a.routers].reverse(),
      floatingIps: [],
    };
    const ra = render(a, { vtepIp: ME });
    const rb = render(b, { vtepIp: ME });
    expect(rb).toEqual(ra);
    for (const t of Object.keys(ra.tables) as TableName[]) expect([...rb.tables[t].keys()], t).toEqual([...ra.tables[t].keys()]);
  });

  it('does not modify its input', () => {
    const s = overlapping();
    const before = structuredClone(s);
    render(s, { vtepIp: ME });
    expect(s).toEqual(before);
  });
});

describe('routerMac', () => {
  it('is fa:16:3f plus three hash bytes: locally administered unicast, stable, distinct per router', () => {
    expect(routerMac(R1)).toMatch(/^fa:16:3f(:[0-9a-f]{2}){3}$/);
    expect(routerMac(R1)).toBe(routerMac(R1));
    expect(routerMac(R1)).not.toBe(routerMac(R2));
    const first = parseInt(routerMac(R1).slice(0, 2), 16);
    expect(first & 0b10).toBe(0b10); // locally administered
    expect(first & 0b01).toBe(0); // unicast
  });
});
