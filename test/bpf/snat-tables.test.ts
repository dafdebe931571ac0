// The snat table (SnatTables) on a real kernel, through BpfTables as the
// reconciler drives it: a router's external side written into the node's
// pinned maps with the external NIC's facts, its external address next to
// it (announced, and given up when it changes), listed back exactly as
// render shapes it; what the fast path does not forward is written all the
// same and reported UNIMPLEMENTED (and listed with a note, so that it never
// reads back equal); a physical network without a usable NIC is UNAVAILABLE
// and leaves nothing behind; an address a floating IP holds is refused; list
// repairs what drifted (a lost address, a changed MTU) and removes stray
// gateway addresses but never a floating IP's. A router whose gateway node is
// another is written without an address (its traffic is tunnelled there).
//
// The node runs in the root namespace on veths of a test topology: `ul` is
// the underlay, `ext` the external NIC (physical network "external").
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { encode, ipv4 } from '../../src/dataplane/codec.js';
import { EXT_ADDR_FLOATING, EXT_ADDR_GATEWAY, extAddr, fdbEntry, snatInfo } from '../../src/dataplane/layouts.js';
import { fdbMapKey, withFdbRouter } from '../../src/dataplane/overlay-encode.js';
import { routerMapKey } from '../../src/dataplane/router-encode.js';
import { NodeDataplane } from '../../src/dataplane/node.js';
import { OverlayTables } from '../../src/dataplane/overlay-tables.js';
import { RouterTables } from '../../src/dataplane/router-tables.js';
import { encodeExtNexthop, snatMapKey } from '../../src/dataplane/snat-encode.js';
import { type RouterExternalSide, SnatTables } from '../../src/dataplane/snat-tables.js';
import { BpfTables } from '../../src/dataplane/tables.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import type { SnatValue } from '../../src/reconciler/tables.js';
import { type Topology, useTopology } from '../helpers/netns.js';
import { describePrivileged } from '../helpers/privileged.js';

const VTEP = '192.0.2.1';
const EXT_NET = '00000100-0000-4000-8000-000000000001';
const R = (n: number) => `0000000a-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const silent = { info: () => undefined, warn: () => undefined };

const value = (over: Partial<SnatValue> = {}): SnatValue => ({
  externalNetworkId: EXT_NET,
  externalNetworkType: 'flat',
  physicalNetwork: 'external',
  segmentationId: 0,
  externalIp: '203.0.113.10',
  externalPrefixLength: 24,
  externalNexthop: '203.0.113.1',
  gatewayVtepIp: VTEP,
  gatewayIsLocal: true,
  enableSnat: true,
  ...over,
});

describePrivileged('the snat table on a real kernel', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('peer', { disableIpv6: true });
      await t.addVeth({ a: { name: 'ul' }, b: { ns: 'peer', name: 'ul' } });
      await t.addVeth({ a: { name: 'ext' }, b: { ns: 'peer', name: 'ext' } });
    },
  });
  let node: NodeDataplane;
  let tables: BpfTables;
  const events = {
    announced: [] as string[],
    zonesLost: [] as string[],
    sides: new Map<string, RouterExternalSide | null>(),
    listed: [] as string[][],
  };
  const ext = (t: Topology) => t.rootLinkName('ext');
  const extNexthopListeners: ((ifindex: number, ip: string) => void)[] = [];

  beforeAll(async () => {
    const t = topology();
    node = await NodeDataplane.start({
      bpffsRoot: join(t.bpffsDir, 'xdpnet'),
      vtepIp: VTEP,
      underlayInterface: t.rootLinkName('ul'),
      physicalNetworks: { external: ext(t), elsewhere: t.rootLinkName('ul') },
      snat: { conntrackMax: 2048 },
      logger: silent,
    });
    const snat = new SnatTables(node, {
      announcer: { announce: (ifindex, ip, mac) => void events.announced.push(`${ip} ${ifindex} ${mac}`) },
      nexthops: {
        setRouter: (id, side) => void events.sides.set(id, side),
        setRouters: (sides) => void events.listed.push([...sides.keys()].sort()),
      },
      onZoneLost: (ip) => void events.zonesLost.push(ip),
    });
    // The external next hops' writer as tables.ts sees it (the route observer): what it tells is the test's to say.
    const observer = {
      routeUpserted: () => undefined,
      routeDeleted: () => undefined,
      routesListed: () => undefined,
      onNexthopChanged: (listener: (ifindex: number, ip: string) => void) => void extNexthopListeners.push(listener),
    };
    tables = new BpfTables(new OverlayTables(node), new RouterTables(node), snat, { routeObserver: observer });
  });
  afterAll(() => node?.teardown());
  beforeEach(() => {
    events.announced.length = 0;
    events.zonesLost.length = 0;
    events.sides.clear();
    events.listed.length = 0;
  });

  const addrOf = (ip: string) => {
    const v = node.maps.require('xdpnet_ext_addrs').lookup(encode(ipv4, ip));
    return v && extAddr.decode(v);
  };
  const infoOf = (id: string) => {
    const v = node.maps.require('xdpnet_snat').lookup(snatMapKey({ routerId: id }));
    return v && snatInfo.decode(v);
  };
  const nic = async () => {
    const link = await node.interfaces.lookupLink(ext(topology()));
    return { ifindex: link!.index, mac: link!.mac!, mtu: link!.mtu };
  };

  it('supports the table; a router whose gateway is here on a flat network: its entry with the NIC’s facts, its address, announced, read back exactly', async () => {
    expect(tables.supports('snat')).toBe(true);
    expect(tables.supports('floatingIps')).toMatchObject({ code: 'UNIMPLEMENTED' });
    const { ifindex, mac, mtu } = await nic();
    await tables.upsert('snat', { routerId: R(1) }, value());
    expect(infoOf(R(1))).toMatchObject({ external_ip: '203.0.113.10', ifindex, mtu, flags: 3 });
    expect(addrOf('203.0.113.10')).toMatchObject({ router_id: R(1), ifindex, mac, kind: EXT_ADDR_GATEWAY });
    expect(events.announced).toEqual([`203.0.113.10 ${ifindex} ${mac}`]);
    expect(events.sides.get(R(1))).toEqual({ ifindex, mac, externalIp: '203.0.113.10', prefixLength: 24, gateway: '203.0.113.1' });
    // The same again: nothing rewritten, nothing announced.
    await tables.upsert('snat', { routerId: R(1) }, value());
    expect(events.announced).toHaveLength(1);
    expect(canonicalJson(await tables.list('snat'))).toBe(canonicalJson([{ key: { routerId: R(1) }, value: value() }]));
    expect(events.listed).toEqual([[R(1)]]);
  });

  it('a new external IP: the old address is given up (its connections with it), the new one written and announced', async () => {
    await tables.upsert('snat', { routerId: R(1) }, value({ externalIp: '203.0.113.11' }));
    expect(addrOf('203.0.113.10')).toBeUndefined();
    expect(addrOf('203.0.113.11')).toMatchObject({ router_id: R(1) });
    expect(events.zonesLost).toEqual(['203.0.113.10']);
    expect(events.announced).toHaveLength(1);
  });

  it.each([
    ['SNAT disabled: written (ARP, ping, the drop reason), UNIMPLEMENTED', value({ externalIp: '203.0.113.12', enableSnat: false }), /^SNAT is disabled on the router/, true],
    ['a VLAN external network: written, UNIMPLEMENTED', value({ externalIp: '203.0.113.14', externalNetworkType: 'vlan', segmentationId: 7 }), /is a vlan network: only flat external networks are forwarded/, false],
  ] as const)('%s', async (_name, v, message, addressed) => {
    const id = R(2);
    await expect(tables.upsert('snat', { routerId: id }, v)).rejects.toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringMatching(message) });
    expect(infoOf(id)).toMatchObject({ external_ip: v.externalIp });
    expect(addrOf(v.externalIp) !== undefined).toBe(addressed);
    // Listed with a note, so that it never equals what render wants: the reconciler upserts it again and the status stays ERROR.
    const listed = (await tables.list('snat')).find((e) => e.key.routerId === id)!;
    expect(listed.value).toMatchObject({ ...v, notForwarded: expect.stringMatching(message) });
    expect(canonicalJson(listed.value)).not.toBe(canonicalJson(v));
    await tables.delete('snat', { routerId: id });
    expect(infoOf(id)).toBeUndefined();
    expect(addrOf(v.externalIp)).toBeUndefined();
  });

  it('a router whose gateway node is another: its entry, without an address here (its VMs\' packets are tunnelled there), read back exactly', async () => {
    const v = value({ externalIp: '203.0.113.13', gatewayIsLocal: false, gatewayVtepIp: '192.0.2.9' });
    await tables.upsert('snat', { routerId: R(2) }, v);
    expect(infoOf(R(2))).toMatchObject({ external_ip: '203.0.113.13', ifindex: 0, mtu: 0, flags: 1, gateway_vtep: '192.0.2.9' });
    expect(addrOf('203.0.113.13')).toBeUndefined();
    expect(events.sides.get(R(2))).toBeNull();
    expect((await tables.list('snat')).find((e) => e.key.routerId === R(2))).toEqual({ key: { routerId: R(2) }, value: v });
    await tables.delete('snat', { routerId: R(2) });
    expect(infoOf(R(2))).toBeUndefined();
  });

  it.each([
    ['not mapped here', 'nowhere', /^physical network "nowhere" is not mapped to an interface on this node/],
    ['mapped to the underlay', 'elsewhere', /^physical network "elsewhere" is mapped to the underlay interface .*SNAT needs an external interface of its own/],
  ] as const)('a physical network %s: UNAVAILABLE, and what the router had here is removed', async (_name, physicalNetwork, message) => {
    await tables.upsert('snat', { routerId: R(3) }, value({ externalIp: '203.0.113.15' }));
    expect(addrOf('203.0.113.15')).toBeDefined();
    await expect(tables.upsert('snat', { routerId: R(3) }, value({ externalIp: '203.0.113.15', physicalNetwork }))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(message),
    });
    expect(infoOf(R(3))).toBeUndefined();
    expect(addrOf('203.0.113.15')).toBeUndefined();
    expect(events.zonesLost).toContain('203.0.113.15');
  });

  it('an address a floating IP holds is refused; list leaves the floating IP alone and removes a gateway address of no router', async () => {
    const { ifindex, mac } = await nic();
    const addrs = node.maps.require('xdpnet_ext_addrs');
    addrs.update(encode(ipv4, '203.0.113.40'), extAddr.encode({ router_id: R(9), ifindex, mac, kind: EXT_ADDR_FLOATING, pad: 0 }));
    addrs.update(encode(ipv4, '203.0.113.41'), extAddr.encode({ router_id: R(8), ifindex, mac, kind: EXT_ADDR_GATEWAY, pad: 0 }));
    await expect(tables.upsert('snat', { routerId: R(4) }, value({ externalIp: '203.0.113.40' }))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'external IP 203.0.113.40 is held on this node by a floating IP (router 0000000a-0000-4000-8000-000000000009)',
    });
    await tables.list('snat');
    expect(addrOf('203.0.113.40')).toMatchObject({ kind: EXT_ADDR_FLOATING });
    expect(addrOf('203.0.113.41')).toBeUndefined();
    addrs.delete(encode(ipv4, '203.0.113.40'));
    await tables.delete('snat', { routerId: R(4) });
  });

  it('list repairs what drifted: a lost address is put back (and announced), an entry whose NIC changed its MTU is rewritten', async () => {
    const t = topology();
    node.maps.require('xdpnet_ext_addrs').delete(encode(ipv4, '203.0.113.11'));
    await t.exec(null, ['ip', 'link', 'set', 'dev', ext(t), 'mtu', '1400']);
    try {
      const listed = await tables.list('snat');
      expect(canonicalJson(listed)).toBe(canonicalJson([{ key: { routerId: R(1) }, value: value({ externalIp: '203.0.113.11' }) }]));
      expect(addrOf('203.0.113.11')).toMatchObject({ router_id: R(1) });
      expect(events.announced).toHaveLength(1);
      expect(infoOf(R(1))).toMatchObject({ mtu: 1400 });
    } finally {
      await t.exec(null, ['ip', 'link', 'set', 'dev', ext(t), 'mtu', '1500']);
    }
  });

  it('delete: the entry, then its address; its connections are given up and its next hops forgotten', async () => {
    await tables.delete('snat', { routerId: R(1) });
    expect(infoOf(R(1))).toBeUndefined();
    expect(addrOf('203.0.113.11')).toBeUndefined();
    expect(events.zonesLost).toEqual(['203.0.113.11']);
    expect(events.sides.get(R(1))).toBeNull();
    expect(await tables.list('snat')).toEqual([]);
    // Idempotent.
    await tables.delete('snat', { routerId: R(1) });
  });

  it('a router MAC’s fdb entry carries a copy of its external side: with the entry, after each write or delete of it, and put right by list', async () => {
    const id = R(5);
    const VNI = 4100;
    const macOf = (n: number) => `02:00:00:00:0a:0${n}`;
    const fdbMap = node.maps.require('xdpnet_fdb');
    const copy = (macAddress: string) => {
      const e = fdbEntry.decode(fdbMap.lookup(fdbMapKey({ vni: VNI, macAddress }))!);
      return { present: e.snat_present, externalIp: e.snat_external_ip, ifindex: e.snat_ifindex, mtu: e.snat_mtu, flags: e.snat_flags, type: e.snat_network_type };
    };
    const ABSENT = { present: 0, externalIp: '0.0.0.0', ifindex: 0, mtu: 0, flags: 0, type: 0 };
    const expected = () => {
      const i = infoOf(id)!;
      return { present: 1, externalIp: i.external_ip, ifindex: i.ifindex, mtu: i.mtu, flags: i.flags, type: i.network_type };
    };
    try {
      // Written before the router's external side: no copy.
      await tables.upsert('fdb', { vni: VNI, macAddress: macOf(1) }, { location: { kind: 'router', routerId: id } });
      await tables.upsert('fdb', { vni: VNI, macAddress: macOf(3) }, { location: { kind: 'router', routerId: R(6) } });
      expect(copy(macOf(1))).toEqual(ABSENT);
      // The external side written: its router's MACs, and only those, get the copy (with the NIC's facts).
      await tables.upsert('snat', { routerId: id }, value({ externalIp: '203.0.113.50' }));
      const { ifindex, mtu } = await nic();
      expect(copy(macOf(1))).toEqual({ present: 1, externalIp: '203.0.113.50', ifindex, mtu, flags: 3, type: 1 });
      expect(copy(macOf(3))).toEqual(ABSENT);
      // Written while it is there: with its copy.
      await tables.upsert('fdb', { vni: VNI, macAddress: macOf(2) }, { location: { kind: 'router', routerId: id } });
      expect(copy(macOf(2))).toEqual(expected());
      // Changed (SNAT disabled: written, and UNIMPLEMENTED): both follow.
      await expect(tables.upsert('snat', { routerId: id }, value({ externalIp: '203.0.113.51', enableSnat: false }))).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
      expect([copy(macOf(1)), copy(macOf(2))]).toEqual([expected(), expected()]);
      expect(copy(macOf(1))).toMatchObject({ externalIp: '203.0.113.51', flags: 2 });
      // The router itself written: its MACs keep the copy of its external side beside the router's.
      await tables.upsert('routers', { routerId: id }, { macAddress: '02:00:00:00:0a:aa', adminStateUp: true });
      expect(fdbEntry.decode(fdbMap.lookup(fdbMapKey({ vni: VNI, macAddress: macOf(1) }))!)).toMatchObject({ router_present: 1, snat_present: 1 });
      // A copy gone stale behind the tables' back is put right by list('fdb').
      const key = fdbMapKey({ vni: VNI, macAddress: macOf(1) });
      fdbMap.update(key, withFdbRouter(fdbMap.lookup(key)!, node.maps.require('xdpnet_routers').lookup(routerMapKey({ routerId: id }))!, undefined));
      expect(copy(macOf(1))).toEqual(ABSENT);
      await tables.list('fdb');
      expect(copy(macOf(1))).toEqual(expected());
      // Its gateway's MACs (203.0.113.1 on the NIC): copied when the next hops' writer says it wrote them, followed, dropped.
      const gatewayCopy = (macAddress: string) => {
        const e = fdbEntry.decode(fdbMap.lookup(fdbMapKey({ vni: VNI, macAddress }))!);
        return { present: e.ext_nh_present, nexthop: e.snat_nexthop, dst: e.ext_nh_dst_mac, src: e.ext_nh_src_mac };
      };
      const extMap = node.maps.require('xdpnet_ext_nexthops');
      const setGateway = (dstMac: string | null, ip = '203.0.113.1') => {
        const w = encodeExtNexthop({ ifindex, ip }, { dstMac: dstMac ?? '02:00:00:00:00:00', srcMac: '02:00:00:00:0e:01' });
        if (dstMac === null) extMap.delete(w.key);
        else extMap.update(w.key, w.value);
        for (const listener of extNexthopListeners) listener(ifindex, ip);
      };
      expect(gatewayCopy(macOf(1))).toMatchObject({ present: 0, nexthop: '203.0.113.1' });
      setGateway('02:00:00:00:0e:99');
      expect([gatewayCopy(macOf(1)), gatewayCopy(macOf(2))]).toEqual([
        { present: 1, nexthop: '203.0.113.1', dst: '02:00:00:00:0e:99', src: '02:00:00:00:0e:01' },
        { present: 1, nexthop: '203.0.113.1', dst: '02:00:00:00:0e:99', src: '02:00:00:00:0e:01' },
      ]);
      expect(gatewayCopy(macOf(3)).present).toBe(0);
      // Another next hop on the NIC changes nothing here.
      setGateway('02:00:00:00:0e:77', '203.0.113.2');
      expect(gatewayCopy(macOf(1)).dst).toBe('02:00:00:00:0e:99');
      setGateway('02:00:00:00:0e:98');
      expect(gatewayCopy(macOf(1)).dst).toBe('02:00:00:00:0e:98');
      // Written while it is there: with the copy.
      await tables.upsert('fdb', { vni: VNI, macAddress: macOf(4) }, { location: { kind: 'router', routerId: id } });
      expect(gatewayCopy(macOf(4))).toMatchObject({ present: 1, dst: '02:00:00:00:0e:98' });
      // A stale copy is put right by list('fdb').
      fdbMap.update(key, withFdbRouter(fdbMap.lookup(key)!, node.maps.require('xdpnet_routers').lookup(routerMapKey({ routerId: id }))!, node.maps.require('xdpnet_snat').lookup(snatMapKey({ routerId: id }))!, encodeExtNexthop({ ifindex, ip: '203.0.113.1' }, { dstMac: '02:00:00:00:0e:66', srcMac: '02:00:00:00:0e:01' }).value));
      expect(gatewayCopy(macOf(1)).dst).toBe('02:00:00:00:0e:66');
      await tables.list('fdb');
      expect(gatewayCopy(macOf(1)).dst).toBe('02:00:00:00:0e:98');
      // The router's gateway changes (another next hop): the copy follows the new one (none resolved yet).
      await expect(tables.upsert('snat', { routerId: id }, value({ externalIp: '203.0.113.51', enableSnat: false, externalNexthop: '203.0.113.2' }))).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
      expect(gatewayCopy(macOf(1))).toMatchObject({ present: 1, nexthop: '203.0.113.2', dst: '02:00:00:00:0e:77' });
      setGateway(null, '203.0.113.2');
      expect(gatewayCopy(macOf(1))).toMatchObject({ present: 0, nexthop: '203.0.113.2', dst: '00:00:00:00:00:00' });
      // Unresolved: no copy.
      setGateway(null);
      // Deleted: the copies go with it.
      await tables.delete('snat', { routerId: id });
      expect([copy(macOf(1)), copy(macOf(2))]).toEqual([ABSENT, ABSENT]);
      expect(gatewayCopy(macOf(1)).present).toBe(0);
    } finally {
      for (const n of [1, 2, 3, 4]) await tables.delete('fdb', { vni: VNI, macAddress: macOf(n) });
      await tables.delete('routers', { routerId: id });
      await tables.delete('snat', { routerId: id });
    }
  });
});
