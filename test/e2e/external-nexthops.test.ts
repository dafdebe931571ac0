// src/dataplane/external-nexthops.ts on a real kernel: the external next hops
// of the routers whose gateway is this node, resolved through managed
// neighbours on an external NIC that has no IPv4 address of its own, and
// written into xdpnet_ext_nexthops of the compiled xdp_external object.
//
//   (root) ext, no address ──── up: eth0 203.0.113.1 (the external subnet's gateway),
//                                    203.0.113.50, 203.0.113.60 (hosts on it)
//
// The resolver runs in the test process (root namespace, on the topology's
// root-side veth); the test writes misses into xdpnet_ext_nh_miss as the
// programs do, and reads the map and the kernel's neighbour table
// (`ip -j neigh`) independently.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encode, u64 } from '../../src/dataplane/codec.js';
import { ExternalNexthops } from '../../src/dataplane/external-nexthops.js';
import { type BpfMap, type LoadedObject, loadObject } from '../../src/dataplane/index.js';
import { EXT_NEXTHOPS_MAP_NAME, EXT_NH_MISS_MAP_NAME } from '../../src/dataplane/layouts.js';
import { NetlinkEvents } from '../../src/dataplane/netlink-events.js';
import { decodeExtNexthop, extNexthopMapKey } from '../../src/dataplane/snat-encode.js';
import { objectPath } from '../helpers/bpf.js';
import { type Topology, useTopology } from '../helpers/netns.js';
import { pollUntil } from '../helpers/overlay-cluster.js';
import { describePrivileged } from '../helpers/privileged.js';

const R1 = '0000000a-0000-4000-8000-000000000001';
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describePrivileged('external next hops on a real kernel', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('up', { disableIpv6: true });
      await t.addVeth({ a: { name: 'ext' }, b: { ns: 'up', name: 'eth0', ip: ['203.0.113.1/24', '203.0.113.50/24', '203.0.113.60/24'] } });
    },
  });
  let obj: LoadedObject;
  let map: BpfMap;
  let miss: BpfMap;
  let events: NetlinkEvents;
  let nh: ExternalNexthops;
  let ifindex: number;
  let nicMac: string;
  let upMac: string;

  const linkOf = async (t: Topology, ns: string | null, dev: string) =>
    (JSON.parse((await t.exec(ns, ['ip', '-j', 'link', 'show', 'dev', dev])).stdout) as { ifindex: number; address: string }[])[0]!;
  const neighbours = async () =>
    JSON.parse((await topology().exec(null, ['ip', '-j', 'neigh', 'show', 'dev', topology().rootLinkName('ext')])).stdout) as {
      dst: string;
      lladdr?: string;
      protocol?: string;
    }[];
  const entries = () =>
    new Map([...map.entries()].map(([key, value]) => decodeExtNexthop({ key: Buffer.from(key), value: Buffer.from(value) })).map((e) => [e.key.ip, e.value]));
  const side = (gateway: string | null) => ({ ifindex, mac: nicMac, externalIp: '203.0.113.10', prefixLength: 24, gateway });

  beforeAll(async () => {
    const t = topology();
    const dir = join(t.bpffsDir, 'ext-nexthops');
    mkdirSync(dir, { recursive: true });
    obj = await loadObject(objectPath('xdp_external'), {
      maps: { [EXT_NEXTHOPS_MAP_NAME]: { pinPath: join(dir, EXT_NEXTHOPS_MAP_NAME) }, [EXT_NH_MISS_MAP_NAME]: { pinPath: join(dir, EXT_NH_MISS_MAP_NAME) } },
    });
    map = obj.map(EXT_NEXTHOPS_MAP_NAME);
    miss = obj.map(EXT_NH_MISS_MAP_NAME);
    const nic = await linkOf(t, null, t.rootLinkName('ext'));
    ifindex = nic.ifindex;
    nicMac = nic.address;
    upMac = (await linkOf(t, 'up', 'eth0')).address;
    events = await NetlinkEvents.open({ groups: ['link', 'neighbor'], logger: silent });
    nh = ExternalNexthops.start({ map, missMap: miss, events, logger: silent, missPollMs: 50, refreshIntervalMs: 0 });
  });
  afterAll(() => {
    nh?.close();
    events?.close();
    map?.close();
    miss?.close();
    obj?.close();
  });

  it('a router’s external gateway is resolved up front on a NIC without an address: a managed neighbour of ours, then the map entry', async () => {
    nh.setRouter(R1, side('203.0.113.1'));
    const got = await pollUntil(async () => entries(), (m) => m.has('203.0.113.1'), 'the gateway in the map');
    expect(got.get('203.0.113.1')).toEqual({ dstMac: upMac, srcMac: nicMac });
    expect((await neighbours()).find((n) => n.dst === '203.0.113.1')).toMatchObject({ lladdr: upMac, protocol: '120' });
    expect(nh.snapshot()).toEqual([expect.objectContaining({ ip: '203.0.113.1', state: 'resolved', why: [`router ${R1}: external gateway`] })]);
  });

  it('a route through the external gateway: its next hop resolved up front, given up (map entry and neighbour) with the route', async () => {
    nh.routeUpserted({ routerId: R1, prefix: '198.51.100.0/24' }, { kind: 'external', nexthop: '203.0.113.60', gatewayVtepIp: '192.0.2.1', gatewayIsLocal: true });
    // Another node's gateway: nothing to resolve here.
    nh.routeUpserted({ routerId: R1, prefix: '198.51.101.0/24' }, { kind: 'external', nexthop: '203.0.113.61', gatewayVtepIp: '192.0.2.9', gatewayIsLocal: false });
    await pollUntil(async () => entries(), (m) => m.has('203.0.113.60'), 'the route’s next hop in the map');
    expect(entries().has('203.0.113.61')).toBe(false);
    nh.routeDeleted({ routerId: R1, prefix: '198.51.100.0/24' });
    await pollUntil(async () => entries(), (m) => !m.has('203.0.113.60'), 'the entry gone');
    await pollUntil(() => neighbours(), (ns) => !ns.some((n) => n.dst === '203.0.113.60'), 'our neighbour deleted');
  });

  it('a miss the programs record for an on-link host is resolved and its key deleted; misses outside the router’s subnet or on another NIC are only deleted', async () => {
    const now = encode(u64, process.hrtime.bigint());
    for (const [ix, ip] of [
      [ifindex, '203.0.113.50'],
      [ifindex, '198.18.0.5'],
      [ifindex + 100_000, '203.0.113.51'],
    ] as const) {
      miss.update(extNexthopMapKey({ ifindex: ix, ip }), now);
    }
    const got = await pollUntil(async () => entries(), (m) => m.has('203.0.113.50'), 'the on-link host in the map');
    expect(got.get('203.0.113.50')).toEqual({ dstMac: upMac, srcMac: nicMac });
    expect([...miss.keys()]).toHaveLength(0);
    expect([...entries().keys()].sort()).toEqual(['203.0.113.1', '203.0.113.50']);
  });

  it('a next hop nobody answers for gets no entry, and says why', async () => {
    nh.setRouter(R1, side('203.0.113.99'));
    await pollUntil(async () => nh.snapshot(), (s) => s.some((x) => x.ip === '203.0.113.99' && x.state === 'unresolved'), 'the silent gateway tracked');
    expect(entries().has('203.0.113.99')).toBe(false);
    expect(entries().has('203.0.113.1')).toBe(false);
  });

  it('the routers listed anew without this one: every next hop of it goes, map entries and our neighbours', async () => {
    nh.setRouters(new Map());
    await nh.refresh();
    expect(entries().size).toBe(0);
    await pollUntil(() => neighbours(), (ns) => !ns.some((n) => n.protocol === '120'), 'our neighbours deleted');
  });
});
