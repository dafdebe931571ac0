// BpfTables' floating IP tables (FipTables) on a real kernel, through the
// Dataplane interface the reconciler drives, with SnatTables writing the
// routers' external sides as the daemon has it: what render produces for a
// world of routers with gateways and floating IPs is upserted into the
// node's pinned maps and listed back exactly; each local floating IP gets
// its address on its router's NIC; deletes, a move to another router, the
// order of the writes, refusals (a gateway's IP, another router's floating
// IP), list's pruning of stray floating addresses (and never of a gateway's),
// and the re-encoding that follows a change of the router's NIC.
//
// The node runs in the root namespace: a veth for the underlay and one for
// the external network (physical network "external"), with its pins under
// the topology's bpffs directory. Map contents are checked with the maps'
// own bytes.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { codec } from '../../src/dataplane/index.js';
import { FloatingIpGatewayUnknownError, extAddrKeyOfFloatingIp, floatingIpMapKey, fixedToFloatingMapKey } from '../../src/dataplane/fip-encode.js';
import { FipTables } from '../../src/dataplane/fip-tables.js';
import { EXT_ADDR_FLOATING, EXT_ADDR_GATEWAY, extAddr } from '../../src/dataplane/layouts.js';
import { NodeDataplane } from '../../src/dataplane/node.js';
import { OverlayTables } from '../../src/dataplane/overlay-tables.js';
import type { MapHandle, PinnedMaps } from '../../src/dataplane/pinned-maps.js';
import { RouterTables } from '../../src/dataplane/router-tables.js';
import { SnatTables } from '../../src/dataplane/snat-tables.js';
import { BpfTables } from '../../src/dataplane/tables.js';
import type { FloatingIp, Network, Port, Snapshot, Subnet } from '../../src/model/types.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import { DataplaneError } from '../../src/reconciler/dataplane.js';
import { render } from '../../src/reconciler/render.js';
import { type Entry, type TableKey, type TableName, type TableValue, TABLE_NAMES, keyString } from '../../src/reconciler/tables.js';
import { describePrivileged } from '../helpers/privileged.js';
import { useTopology } from '../helpers/netns.js';
import { externalNetwork, externalSubnet, fipId, mac, netId, port, portId, router, routerId, subnetId } from '../helpers/world.js';

const VTEP = '192.0.2.1';
const FIP = ['floatingIps', 'fixedToFloating'] as const;
type Fip = (typeof FIP)[number];
const silent = { info: () => undefined, warn: () => undefined };

// Routers 1 and 2 have their gateway on this node, router 3 on 192.0.2.7;
// each has one subnet (10.n.0.0/24, VNI 100 + n) with a VM port (10.n.0.10)
// whose floating IP is 203.0.113.5n.
function vxlan(n: number): Network {
  return { id: netId(n), name: `n${n}`, type: 'vxlan', segmentationId: 100 + n, physicalNetwork: null, mtu: 1450, external: false, adminStateUp: true };
}
function subnetOn(n: number): Subnet {
  return { id: subnetId(n), name: `s${n}`, networkId: netId(n), cidr: `10.${n}.0.0/24`, gatewayIp: `10.${n}.0.1`, enableDhcp: false, dnsNameservers: [], hostRoutes: [] };
}
function vm(n: number): Port {
  return port({ id: portId(n), networkId: netId(n), macAddress: mac(n), fixedIps: [{ subnetId: subnetId(n), ipAddress: `10.${n}.0.10` }] });
}
const fipAddress = (n: number) => `203.0.113.${50 + n}`;
function fip(n: number): FloatingIp {
  return { id: fipId(n), floatingNetworkId: netId(100), floatingIpAddress: fipAddress(n), portId: portId(n), fixedIpAddress: `10.${n}.0.10` };
}
const gatewayIp = (n: number) => `203.0.113.${1 + n}`;

function snapshot(): Snapshot {
  const gw = (n: number, vtep: string) => ({ networkId: netId(100), ipAddress: gatewayIp(n), enableSnat: true, gatewayNodeVtepIp: vtep });
  return {
    networks: [vxlan(1), vxlan(2), vxlan(3), externalNetwork()],
    subnets: [subnetOn(1), subnetOn(2), subnetOn(3), externalSubnet()],
    ports: [vm(1), vm(2), vm(3)],
    routers: [1, 2, 3].map((n) =>
      router({ id: routerId(n), interfaces: [{ subnetId: subnetId(n), ipAddress: `10.${n}.0.1` }], externalGateway: gw(n, n === 3 ? '192.0.2.7' : VTEP) }),
    ),
    floatingIps: [fip(1), fip(2), fip(3)],
  };
}

type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };
const canonical = <T extends TableName>(table: T, entries: readonly Sample<T>[]): string[] =>
  [...entries].sort((a, b) => (keyString(table, a.key) < keyString(table, b.key) ? -1 : 1)).map((e) => canonicalJson({ key: e.key, value: e.value }));

/** Map writes in the order they were made, through handles wrapped around the node's. */
type MapOp = [op: 'update' | 'delete', map: string, key: string];
function recordingMaps(maps: PinnedMaps, log: MapOp[]): PinnedMaps {
  const wrap = (name: string, h: MapHandle): MapHandle =>
    new Proxy(h, {
      get(target, prop, receiver) {
        if (prop === 'update' || prop === 'delete') {
          return (key: Buffer, ...rest: unknown[]) => {
            log.push([prop, name, key.toString('hex')]);
            return (target[prop] as (...a: unknown[]) => unknown).call(target, key, ...rest);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return { require: (name: string) => wrap(name, maps.require(name)) } as unknown as PinnedMaps;
}

describePrivileged('BpfTables: the floating IP tables on a real kernel', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('peer', { disableIpv6: true });
      await t.addVeth({ a: { name: 'ul' }, b: { ns: 'peer', name: 'ul' } });
      await t.addVeth({ a: { name: 'ph' }, b: { ns: 'peer', name: 'ph' } });
    },
  });
  let node: NodeDataplane;
  let tables: BpfTables;
  let fips: FipTables;
  const announced: [number, string, string][] = [];
  let fullPasses = 0;
  const ops: MapOp[] = [];
  const rendered = render(snapshot(), { vtepIp: VTEP });
  const desired = <T extends Fip | 'snat'>(table: T): Sample<T>[] =>
    [...(rendered.tables[table] as Map<string, Entry<T>>).values()].map(({ key, value }) => ({ key, value }));
  const fipOf = (n: number) => desired('floatingIps').find((e) => e.key.floatingIpAddress === fipAddress(n))!;
  const ph = () => topology().rootLinkName('ph');
  const sysfs = (what: string) => readFileSync(`/sys/class/net/${ph()}/${what}`, 'utf8').trim();

  beforeAll(async () => {
    node = await NodeDataplane.start({
      bpffsRoot: join(topology().bpffsDir, 'xdpnet'),
      vtepIp: VTEP,
      underlayInterface: topology().rootLinkName('ul'),
      physicalNetworks: { external: ph() },
      snat: { conntrackMax: 1024 },
      logger: silent,
    });
    fips = new FipTables(
      { maps: recordingMaps(node.maps, ops), logger: silent },
      { announcer: { announce: (ifindex, ip, nicMac) => void announced.push([ifindex, ip, nicMac]) }, requestFullPass: () => void fullPasses++ },
    );
    const snat = new SnatTables(node, { nexthops: fips.followSides() });
    tables = new BpfTables(new OverlayTables(node), new RouterTables(node), snat, fips);
  });
  afterAll(() => node?.teardown());

  const hexKeys = (map: string): string[] => [...node.maps.require(map).keys()].map((k) => Buffer.from(k).toString('hex')).sort();
  const listed = async <T extends Fip>(table: T): Promise<string[]> => canonical(table, (await tables.list(table)) as Sample<T>[]);
  const extAddrOf = (ip: string) => {
    const v = node.maps.require('xdpnet_ext_addrs').lookup(codec.encode(codec.ipv4, ip));
    return v && extAddr.decode(v);
  };
  const fipInKeys = () => hexKeys('xdpnet_fip_in');
  const upsertSnat = async () => {
    for (const e of desired('snat')) {
      // Router 3's gateway is elsewhere: written, then UNIMPLEMENTED (the tunnel is not built).
      await tables.upsert('snat', e.key, e.value).catch((err: unknown) => expect(err).toMatchObject({ code: 'UNIMPLEMENTED' }));
    }
  };
  const upsertAll = async () => {
    for (const table of TABLE_NAMES.filter((t): t is Fip => (FIP as readonly string[]).includes(t))) {
      for (const e of desired(table)) await tables.upsert(table, e.key, e.value as never);
    }
  };
  const expectAsRendered = async () => {
    for (const table of FIP) expect(await listed(table), table).toEqual(canonical(table, desired(table)));
  };

  it('the render is what it should be: three floating IPs, two of them local', () => {
    expect(rendered.problems).toEqual([]);
    expect(desired('floatingIps').map((e) => [e.key.floatingIpAddress, e.value.gatewayIsLocal])).toEqual([
      [fipAddress(1), true],
      [fipAddress(2), true],
      [fipAddress(3), false],
    ]);
    expect(desired('fixedToFloating')).toHaveLength(3);
  });

  it('supports both tables; lists back exactly what render produced; each local floating IP holds its address on its router’s NIC, announced', async () => {
    for (const table of FIP) expect(tables.supports(table), table).toBe(true);
    for (const table of FIP) expect(await tables.list(table), table).toEqual([]);
    await upsertSnat();
    await upsertAll();
    await expectAsRendered();
    const nic = { ifindex: Number(sysfs('ifindex')), mac: sysfs('address') };
    expect(extAddrOf(fipAddress(1))).toEqual({ router_id: routerId(1), ...nic, kind: EXT_ADDR_FLOATING, pad: 0 });
    expect(extAddrOf(fipAddress(2))).toEqual({ router_id: routerId(2), ...nic, kind: EXT_ADDR_FLOATING, pad: 0 });
    expect(extAddrOf(fipAddress(3))).toBeUndefined(); // router 3's gateway node is another
    expect(extAddrOf(gatewayIp(1))).toMatchObject({ router_id: routerId(1), kind: EXT_ADDR_GATEWAY });
    expect(fipInKeys()).toEqual([1, 2, 3].map((n) => floatingIpMapKey(routerId(n), fipAddress(n)).toString('hex')).sort());
    expect(announced).toEqual([
      [nic.ifindex, fipAddress(1), nic.mac],
      [nic.ifindex, fipAddress(2), nic.mac],
    ]);
  });

  it('an upsert of what is there writes nothing and announces nothing', async () => {
    const [before, announcedBefore] = [ops.length, announced.length];
    await upsertAll();
    expect(ops.slice(before).filter(([, map]) => map !== 'xdpnet_fip_out')).toEqual([]);
    expect(announced).toHaveLength(announcedBefore);
    await expectAsRendered();
  });

  it('disassociation removes the address, then xdpnet_fip_in, then xdpnet_fip_out; association writes them back the other way; deleting again succeeds', async () => {
    const f = fipOf(1);
    const out = desired('fixedToFloating').find((e) => e.value.floatingIpAddress === fipAddress(1))!;
    const fipInKey = floatingIpMapKey(routerId(1), fipAddress(1)).toString('hex');
    const addrKey = extAddrKeyOfFloatingIp(Buffer.from(fipInKey, 'hex')).toString('hex');
    const outKey = fixedToFloatingMapKey(out.key).toString('hex');

    ops.length = 0;
    // The reconciler's order: deletes in reverse table order.
    await tables.delete('fixedToFloating', out.key);
    await tables.delete('floatingIps', f.key);
    expect(ops).toEqual([
      ['delete', 'xdpnet_fip_out', outKey],
      ['delete', 'xdpnet_ext_addrs', addrKey],
      ['delete', 'xdpnet_fip_in', fipInKey],
    ]);
    expect(extAddrOf(fipAddress(1))).toBeUndefined();
    expect(extAddrOf(gatewayIp(1))).toMatchObject({ kind: EXT_ADDR_GATEWAY });
    expect(await listed('floatingIps')).toEqual(canonical('floatingIps', desired('floatingIps').filter((e) => e.key.floatingIpAddress !== fipAddress(1))));
    await tables.delete('floatingIps', f.key);
    await tables.delete('fixedToFloating', out.key);

    ops.length = 0;
    await tables.upsert('floatingIps', f.key, f.value);
    await tables.upsert('fixedToFloating', out.key, out.value);
    expect(ops).toEqual([
      ['update', 'xdpnet_fip_in', fipInKey],
      ['update', 'xdpnet_ext_addrs', addrKey],
      ['update', 'xdpnet_fip_out', outKey],
    ]);
    await expectAsRendered();
  });

  it('a floating IP moved to another router: the new key and address first, the old key last; its address is never left with the old router', async () => {
    const f = fipOf(1);
    const moved = { ...f.value, routerId: routerId(2) };
    const oldKey = floatingIpMapKey(routerId(1), fipAddress(1)).toString('hex');
    const newKey = floatingIpMapKey(routerId(2), fipAddress(1)).toString('hex');
    ops.length = 0;
    await tables.upsert('floatingIps', f.key, moved);
    expect(ops.map(([op, map, key]) => [op, map, key === oldKey ? 'old' : key === newKey ? 'new' : 'addr'])).toEqual([
      ['update', 'xdpnet_fip_in', 'new'],
      ['update', 'xdpnet_ext_addrs', 'addr'],
      ['delete', 'xdpnet_fip_in', 'old'],
    ]);
    expect(extAddrOf(fipAddress(1))).toMatchObject({ router_id: routerId(2), kind: EXT_ADDR_FLOATING });
    const all = await tables.list('floatingIps');
    expect(all.filter((e) => e.key.floatingIpAddress === fipAddress(1))).toEqual([{ key: f.key, value: moved }]);
    // A delete finds it under its new router.
    await tables.delete('floatingIps', f.key);
    expect(fipInKeys()).not.toContain(newKey);
    expect(extAddrOf(fipAddress(1))).toBeUndefined();
    // Back, to a router whose gateway is elsewhere: no address here.
    await tables.upsert('floatingIps', f.key, { ...f.value, routerId: routerId(3), gatewayVtepIp: '192.0.2.7', gatewayIsLocal: false });
    expect(extAddrOf(fipAddress(1))).toBeUndefined();
    await tables.upsert('floatingIps', f.key, f.value);
    expect(fipInKeys()).not.toContain(floatingIpMapKey(routerId(3), fipAddress(1)).toString('hex'));
    await expectAsRendered();
  });

  it('refuses an address that is a router’s gateway IP, or another router’s floating IP, and changes nothing', async () => {
    const before = [hexKeys('xdpnet_fip_in'), hexKeys('xdpnet_ext_addrs')];
    const f = fipOf(1);
    // Router 2's gateway IP as router 1's floating IP.
    const onGateway = await tables.upsert('floatingIps', { ...f.key, floatingIpAddress: gatewayIp(2) }, f.value).catch((e: unknown) => e);
    expect(onGateway).toBeInstanceOf(DataplaneError);
    expect(onGateway).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`router ${routerId(2)}'s gateway IP`) });
    expect([hexKeys('xdpnet_fip_in'), hexKeys('xdpnet_ext_addrs')]).toEqual(before);
    expect(extAddrOf(gatewayIp(2))).toMatchObject({ router_id: routerId(2), kind: EXT_ADDR_GATEWAY });

    // A floating address router 3 left behind (no entry of its own holds it): refused until list prunes it.
    const stray = '203.0.113.60';
    const strayAddr = { router_id: routerId(3), ifindex: Number(sysfs('ifindex')), mac: sysfs('address'), kind: EXT_ADDR_FLOATING, pad: 0 };
    node.maps.require('xdpnet_ext_addrs').update(codec.encode(codec.ipv4, stray), extAddr.encode(strayAddr));
    const key = { ...f.key, floatingIpAddress: stray };
    await expect(tables.upsert('floatingIps', key, f.value)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`floating IP of router ${routerId(3)}`) });
    expect(fipInKeys()).toEqual(before[0]);
    await tables.list('floatingIps');
    expect(extAddrOf(stray)).toBeUndefined();
    await tables.upsert('floatingIps', key, f.value);
    expect(extAddrOf(stray)).toMatchObject({ router_id: routerId(1), kind: EXT_ADDR_FLOATING });
    await tables.delete('floatingIps', key);
    expect(extAddrOf(stray)).toBeUndefined();
    await expectAsRendered();
  });

  it('list prunes floating addresses no entry holds and puts back missing ones; neither side prunes the other’s kind', async () => {
    const ext = node.maps.require('xdpnet_ext_addrs');
    const nic = { ifindex: Number(sysfs('ifindex')), mac: sysfs('address') };
    const put = (ip: string, routerN: number, kind: number) =>
      ext.update(codec.encode(codec.ipv4, ip), extAddr.encode({ router_id: routerId(routerN), ...nic, kind, pad: 0 }));
    put('203.0.113.70', 1, EXT_ADDR_FLOATING); // nobody's floating address
    put(fipAddress(3), 3, EXT_ADDR_FLOATING); // router 3's floating IP is not local
    put('203.0.113.71', 1, EXT_ADDR_GATEWAY); // nobody's gateway address: SnatTables' to remove
    ext.delete(codec.encode(codec.ipv4, fipAddress(2))); // lost
    await expectAsRendered();
    expect(extAddrOf('203.0.113.70')).toBeUndefined();
    expect(extAddrOf(fipAddress(3))).toBeUndefined();
    expect(extAddrOf(fipAddress(2))).toMatchObject({ router_id: routerId(2), kind: EXT_ADDR_FLOATING });
    expect(extAddrOf('203.0.113.71')).toMatchObject({ kind: EXT_ADDR_GATEWAY });
    for (const n of [1, 2]) expect(extAddrOf(gatewayIp(n)), `gateway ${n}`).toMatchObject({ kind: EXT_ADDR_GATEWAY });

    // The snat side's list removes the stray gateway address and leaves the floating ones.
    await tables.list('snat');
    expect(extAddrOf('203.0.113.71')).toBeUndefined();
    for (const n of [1, 2]) expect(extAddrOf(fipAddress(n)), `floating ${n}`).toMatchObject({ kind: EXT_ADDR_FLOATING });
  });

  it('list removes an undecodable entry and a floating IP found under two routers (upserted afresh after)', async () => {
    const f = fipOf(2);
    const fipIn = node.maps.require('xdpnet_fip_in');
    const twice = floatingIpMapKey(routerId(1), fipAddress(2));
    fipIn.update(twice, fipIn.lookup(floatingIpMapKey(routerId(2), fipAddress(2)))!);
    const broken = floatingIpMapKey(routerId(1), '203.0.113.80');
    fipIn.update(broken, Buffer.alloc(fipIn.info.valueSize, 0xff));
    const out = node.maps.require('xdpnet_fip_out');
    const brokenOut = fixedToFloatingMapKey({ routerId: routerId(1), fixedIpAddress: '10.9.9.9' });
    out.update(brokenOut, Buffer.alloc(out.info.valueSize));
    const all = await tables.list('floatingIps');
    expect(all.map((e) => e.key.floatingIpAddress).sort()).toEqual([fipAddress(1), fipAddress(3)]);
    expect(fipInKeys()).not.toContain(broken.toString('hex'));
    expect(extAddrOf(fipAddress(2))).toBeUndefined();
    expect(await listed('fixedToFloating')).toEqual(canonical('fixedToFloating', desired('fixedToFloating')));
    await tables.upsert('floatingIps', f.key, f.value);
    await expectAsRendered();
  });

  it('a change of the router’s NIC re-encodes its floating addresses at once (and announces them); a router without an external side leaves its floating IPs unforwarded, ERROR until it is back', async () => {
    const oldMac = sysfs('address');
    const newMac = '02:00:5e:00:53:01';
    execFileSync('ip', ['link', 'set', 'dev', ph(), 'address', newMac]);
    try {
      announced.length = 0;
      await tables.list('snat'); // what a link event's full pass does first
      for (const n of [1, 2]) expect(extAddrOf(fipAddress(n)), `floating ${n}`).toMatchObject({ mac: newMac, kind: EXT_ADDR_FLOATING });
      expect(announced.map(([, ip, m]) => [ip, m])).toEqual(expect.arrayContaining([[fipAddress(1), newMac], [fipAddress(2), newMac]]));
      await expectAsRendered();
    } finally {
      execFileSync('ip', ['link', 'set', 'dev', ph(), 'address', oldMac]);
    }
    await tables.list('snat');
    expect(extAddrOf(fipAddress(1))).toMatchObject({ mac: oldMac });

    // Router 1's external side goes (its snat entry deleted): its floating address goes with it, and a full pass is asked for.
    const s1 = desired('snat').find((e) => e.key.routerId === routerId(1))!;
    const passes = fullPasses;
    await tables.delete('snat', s1.key);
    expect(extAddrOf(fipAddress(1))).toBeUndefined();
    expect(fullPasses).toBe(passes + 1);
    const f = fipOf(1);
    const seen = (await tables.list('floatingIps')).find((e) => e.key.floatingIpAddress === fipAddress(1))!;
    expect(canonicalJson(seen.value)).not.toEqual(canonicalJson(f.value)); // so the full pass upserts it
    expect(seen.value).toMatchObject({ ...f.value, notForwarded: expect.stringContaining('no external side') });
    await expect(tables.upsert('floatingIps', f.key, f.value)).rejects.toBeInstanceOf(FloatingIpGatewayUnknownError);
    await tables.upsert('snat', s1.key, s1.value);
    expect(extAddrOf(fipAddress(1))).toMatchObject({ router_id: routerId(1), kind: EXT_ADDR_FLOATING });
    await tables.upsert('floatingIps', f.key, f.value);
    await expectAsRendered();
  });

  it('a restarted node lists the same tables from the pinned maps', async () => {
    const before = await Promise.all(FIP.map((t) => listed(t)));
    node.close();
    node = await NodeDataplane.start({
      bpffsRoot: join(topology().bpffsDir, 'xdpnet'),
      vtepIp: VTEP,
      underlayInterface: topology().rootLinkName('ul'),
      physicalNetworks: { external: ph() },
      snat: { conntrackMax: 1024 },
      logger: silent,
    });
    const fresh = new FipTables(node);
    tables = new BpfTables(new OverlayTables(node), new RouterTables(node), new SnatTables(node, { nexthops: fresh.followSides() }), fresh);
    expect(await Promise.all(FIP.map((t) => listed(t)))).toEqual(before);
    // A fresh adapter (no list yet) deletes by what the map holds.
    await tables.delete('floatingIps', fipOf(2).key);
    expect(extAddrOf(fipAddress(2))).toBeUndefined();
    expect(fipInKeys()).not.toContain(floatingIpMapKey(routerId(2), fipAddress(2)).toString('hex'));
  });
});
