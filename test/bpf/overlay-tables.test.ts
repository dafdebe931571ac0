// BpfTables' overlay tables on a real kernel, through the Dataplane interface
// the reconciler drives: what upsert writes, list reads back exactly (as
// render shapes it); a port's programs come and go with its entry; an
// interface recreated under the same name is noticed by list and set up again
// by upsert; a restarted daemon lists the same tables over the same links;
// capacity and absent interfaces fail with the codes the reconciler acts on.
//
// Ports are root-side veth ends of a test topology (the dataplane works in
// its own namespace); pins live under the topology's bpffs directory. Map
// contents are checked with the maps' own bytes, programs with `ip link` and
// the pinned links' kernel info.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfLink } from '../../src/dataplane/index.js';
import { u32, decode, encode } from '../../src/dataplane/codec.js';
import { PerCpuMap } from '../../src/dataplane/maps.js';
import {
  PORT_F_ADMIN_UP,
  PORT_F_PORT_SECURITY,
  PORT_NET_F_PRESENT,
  PORT_STATS_MAP_NAME,
  PORT_STATS_SLOTS,
  type PortInfo,
  arpEntry,
  fdbEntry,
  portInfo,
  portSrcKey,
  portStats,
  vtepNexthop,
} from '../../src/dataplane/layouts.js';
import { NodeDataplane } from '../../src/dataplane/node.js';
import { NexthopMap } from '../../src/dataplane/nexthop-map.js';
import { arpMapKey, encodeLocalPort, fdbMapKey, portExtrasOf, withArpFdb, withFdbNexthop, withFdbPort, withPortExtras } from '../../src/dataplane/overlay-encode.js';
import { type NexthopSink, OverlayTables, goneName } from '../../src/dataplane/overlay-tables.js';
import { RouterTables } from '../../src/dataplane/router-tables.js';
import { BpfTables } from '../../src/dataplane/tables.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import { DataplaneError, type DataplaneEntry } from '../../src/reconciler/dataplane.js';
import { type TableKey, type TableName, type TableValue, keyString } from '../../src/reconciler/tables.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type Topology, useTopology } from '../helpers/netns.js';

const VTEP = '192.0.2.1';
const R2 = '192.0.2.2';
const R3 = '192.0.2.3';
const RED = 100;
const NETWORK_ID = '0b3c1a52-6f0e-4d7e-9a55-2c1d1e4f9a01';
const ROUTER_ID = '5d2a7c4e-0b8f-4a3c-9e1d-2f3a4b5c6d7e';
const portId = (n: number) => `7f000000-0000-4000-8000-00000000000${n}`;
const PAIR = [{ cidr: '192.168.60.0/28', macAddress: '02:00:00:00:0a:0b' }];
const mac = (n: number) => `02:00:00:00:01:0${n}`;
type Short = 'p1' | 'p2' | 'p3' | 'p4';

const silent = { info: () => undefined, warn: () => undefined };
const ifindexOf = (ifname: string): number => Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'));
function xdpProgName(ifname: string): string | undefined {
  const [link] = JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show', 'dev', ifname], { encoding: 'utf8' })) as { xdp?: { prog?: { name: string } } }[];
  return link?.xdp?.prog?.name;
}

/** A local port as render shapes it (sorted addresses and pairs). */
function portValue(n: number, ips: string[], pairs: { cidr: string; macAddress: string }[] = []): TableValue<'localPorts'> {
  return { portId: portId(n), vni: RED, macAddress: mac(n), ipAddresses: [...ips].sort(), portSecurityEnabled: true, allowedAddressPairs: pairs, adminStateUp: true };
}

type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };
type Overlay = {
  networks: Sample<'networks'>[];
  arp: Sample<'arp'>[];
  fdb: Sample<'fdb'>[];
  floodList: Sample<'floodList'>[];
  localPorts: Sample<'localPorts'>[];
};
const TABLES = ['networks', 'arp', 'fdb', 'floodList', 'localPorts'] as const;

/** Entries in key order, as canonical JSON: what the reconciler compares. */
const canonical = <T extends TableName>(table: T, entries: readonly Sample<T>[] | DataplaneEntry<T>[]): string[] =>
  [...entries].sort((a, b) => (keyString(table, a.key) < keyString(table, b.key) ? -1 : 1)).map((e) => canonicalJson({ key: e.key, value: e.value }));

describePrivileged('BpfTables: the overlay tables on a real kernel', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('vm', { disableIpv6: true });
      for (const name of ['ul', 'p1', 'p2', 'p3', 'p4']) await t.addVeth({ a: { name }, b: { ns: 'vm', name } });
    },
  });
  let node: NodeDataplane;
  let tables: BpfTables;
  let overlay: OverlayTables;
  const sink = { wanted: [] as string[][], retained: [] as string[][] };
  const recorder: NexthopSink = {
    want: (vteps) => void sink.wanted.push([...vteps]),
    retainOnly: (vteps) => void sink.retained.push([...vteps].sort()),
  };
  const root = () => join(topology().bpffsDir, 'xdpnet');
  const name = (s: Short | 'ul') => topology().rootLinkName(s);
  const startNode = () => NodeDataplane.start({ bpffsRoot: root(), vtepIp: VTEP, underlayInterface: name('ul'), physicalInterfaces: [], logger: silent });

  beforeAll(async () => {
    node = await startNode();
    overlay = new OverlayTables(node, recorder);
    tables = new BpfTables(overlay, new RouterTables(node));
  });
  afterAll(() => node?.teardown());

  /** The world: two ports on red, one remote MAC, the router's MAC, flooding to both. */
  function world(): Overlay {
    const [p1, p2] = [name('p1'), name('p2')];
    return {
      networks: [{ key: { vni: RED }, value: { networkId: NETWORK_ID, mtu: 1450, adminStateUp: true } }],
      arp: [
        { key: { vni: RED, ipAddress: '10.0.0.11' }, value: { macAddress: mac(1) } },
        { key: { vni: RED, ipAddress: '10.0.0.12' }, value: { macAddress: mac(2) } },
      ],
      fdb: [
        { key: { vni: RED, macAddress: mac(1) }, value: { location: { kind: 'local', interfaceName: p1 } } },
        { key: { vni: RED, macAddress: mac(2) }, value: { location: { kind: 'local', interfaceName: p2 } } },
        { key: { vni: RED, macAddress: '02:00:00:00:02:01' }, value: { location: { kind: 'remote', vtepIp: R2 } } },
        { key: { vni: RED, macAddress: 'fa:16:3f:00:00:01' }, value: { location: { kind: 'router', routerId: ROUTER_ID } } },
      ],
      floodList: [{ key: { vni: RED }, value: { remoteVteps: [R2, R3], localInterfaces: [p1, p2].sort() } }],
      localPorts: [
        { key: { interfaceName: p1 }, value: portValue(1, ['10.0.0.11'], [{ cidr: '192.168.50.0/28', macAddress: '02:00:00:00:0a:0a' }]) },
        { key: { interfaceName: p2 }, value: portValue(2, ['10.0.0.12'], PAIR) },
      ],
    };
  }

  async function upsertAll<T extends TableName>(table: T, entries: readonly Sample<T>[]): Promise<void> {
    for (const e of entries) await tables.upsert(table, e.key, e.value);
  }

  /** Raw keys of a map, through the node's handle. */
  const mapKeys = (map: string): Buffer[] => [...node.maps.require(map).keys()].map((k) => Buffer.from(k));
  const hasU32Key = (map: string, ifindex: number): boolean => mapKeys(map).some((k) => decode(u32, k) === ifindex);
  const srcKeysOf = (ifindex: number): Buffer[] => mapKeys('xdpnet_port_src').filter((k) => portSrcKey.decode(k).ifindex === ifindex);
  /** A local MAC's copy of its port (overlay_maps.h fdb_entry.port_*). */
  const fdbCopy = (vni: number, macAddress: string) => {
    const e = fdbEntry.decode(node.maps.require('xdpnet_fdb').lookup(fdbMapKey({ vni, macAddress }))!);
    return { present: e.port_present, slot: e.port_stats_slot, flags: e.port_flags, netFlags: e.port_net_flags, netMtu: e.port_net_mtu };
  };
  /** What a local MAC on `ifindex` must carry of the port there. */
  const copyOf = (ifindex: number) => {
    const p = portEntry(ifindex);
    return { present: 1, slot: p.stats_slot, flags: p.flags, netFlags: p.net_flags, netMtu: p.net_mtu };
  };
  const portEntry = (ifindex: number): PortInfo => portInfo.decode(node.maps.require('xdpnet_ports').lookup(encode(u32, ifindex))!);
  const portExtras = (ifindex: number) => portExtrasOf(node.maps.require('xdpnet_ports').lookup(encode(u32, ifindex))!);
  const stats = () => new PerCpuMap(node.maps.require(PORT_STATS_MAP_NAME), u32, portStats);
  const setCounters = (slot: number, n: bigint) =>
    stats().setAll(slot, { rx_packets: n, rx_bytes: n, tx_packets: n, tx_bytes: n, dropped_packets: n });
  /** Every counter of a slot, all CPUs, added up. */
  const countersOf = (slot: number): bigint =>
    (stats().get(slot) ?? []).reduce((t, c) => t + c.rx_packets + c.rx_bytes + c.tx_packets + c.tx_bytes + c.dropped_packets, 0n);
  const linkOf = (file: string) => {
    const link = BpfLink.openPinned(join(root(), 'links', file));
    try {
      return link.info();
    } finally {
      link.close();
    }
  };

  it('lists back exactly what was upserted, as render shapes it', async () => {
    const w = world();
    for (const table of TABLES) await upsertAll(table, w[table] as Sample<typeof table>[]);
    for (const table of TABLES) {
      expect(canonical(table, await tables.list(table)), table).toEqual(canonical(table, w[table] as Sample<typeof table>[]));
    }
    // Each local MAC carries its port's state.
    expect(fdbCopy(RED, mac(1))).toEqual(copyOf(ifindexOf(name('p1'))));
    expect(fdbCopy(RED, mac(2))).toEqual(copyOf(ifindexOf(name('p2'))));
    expect(fdbCopy(RED, mac(1)).slot).not.toBe(fdbCopy(RED, mac(2)).slot);
    // Next hops are wanted for every VTEP a flood list names; a full list keeps only those.
    expect(sink.wanted).toContainEqual([R2, R3]);
    expect(sink.retained.at(-1)).toEqual([R2, R3]);
    // Tables no program consumes yet say so, and refuse writes the same way.
    expect(tables.supports('floatingIps')).toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringMatching(/not implemented yet/) });
    await expect(
      tables.upsert(
        'fixedToFloating',
        { routerId: ROUTER_ID, fixedIpAddress: '10.0.0.5' },
        { floatingNetworkId: ROUTER_ID, floatingIpAddress: '203.0.113.5' },
      ),
    ).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
  });

  it('a port upsert attaches both programs; again, it changes nothing; an update drops stale source entries and counts from zero', async () => {
    const p1 = name('p1');
    const ifx = ifindexOf(p1);
    expect(xdpProgName(p1)).toBe('xdp_port');
    const tc = linkOf(`tc_${p1}`);
    const xdp = linkOf(`xdp_${p1}`);
    expect(tc).toMatchObject({ type: 11, ifindex: ifx, attachType: 46 });
    expect(xdp).toMatchObject({ type: 6, ifindex: ifx });
    expect(node.attached().filter((a) => a.interfaceName === p1).map((a) => a.programName).sort()).toEqual(['tc_port_flood', 'xdp_port']);

    const value = world().localPorts[0]!.value;
    await tables.upsert('localPorts', { interfaceName: p1 }, value);
    expect(linkOf(`tc_${p1}`)).toEqual(tc);
    expect(linkOf(`xdp_${p1}`)).toEqual(xdp);

    // The port counts in a slot of its own; what it has counted so far (7 on every CPU here) goes on every upsert.
    const before = portExtras(ifx);
    expect(before.statsSlot).toBeGreaterThan(0);
    setCounters(before.statsSlot, 7n);
    expect(countersOf(before.statsSlot)).not.toBe(0n);
    // The fixed IP is in the port entry, the pair in the trie; after the update the new fixed IP is too, and the trie holds nothing of it.
    expect(portEntry(ifx).fixed_ip.slice(0, portEntry(ifx).fixed_ip_count)).toEqual(['10.0.0.11']);
    expect(srcKeysOf(ifx).map((k) => portSrcKey.decode(k).ip)).toEqual(['192.168.50.0']);
    const changed = portValue(1, ['10.0.0.99']);
    await tables.upsert('localPorts', { interfaceName: p1 }, changed);
    expect(srcKeysOf(ifx)).toHaveLength(0);
    expect(portEntry(ifx)).toMatchObject({ fixed_ip_count: 1, fixed_ip: ['10.0.0.99', '0.0.0.0', '0.0.0.0', '0.0.0.0'], flags: PORT_F_ADMIN_UP | PORT_F_PORT_SECURITY });
    const after = portExtras(ifx);
    expect(after.statsSlot).not.toBe(before.statsSlot);
    expect(countersOf(after.statsSlot)).toBe(0n);
    expect(after.network).toEqual({ mtu: 1450, adminStateUp: true });
    // The port's MAC delivers into it with its state as it is now: the new slot.
    expect(fdbCopy(RED, mac(1))).toEqual(copyOf(ifx));
    const listed = (await tables.list('localPorts')).find((e) => e.key.interfaceName === p1);
    expect(canonicalJson(listed?.value)).toBe(canonicalJson(changed));
    await tables.upsert('localPorts', { interfaceName: p1 }, value);
    expect(linkOf(`xdp_${p1}`)).toEqual(xdp);
  });

  it('a port delete detaches its programs and removes every entry of it (and again, succeeds)', async () => {
    const p2 = name('p2');
    const ifx = ifindexOf(p2);
    expect(xdpProgName(p2)).toBe('xdp_port');
    expect(srcKeysOf(ifx)).toHaveLength(1);
    const links = [`tc_${p2}`, `xdp_${p2}`].map((f) => BpfLink.openPinned(join(root(), 'links', f)));
    try {
      await tables.delete('localPorts', { interfaceName: p2 });
      // Detached, not only unpinned: the links we still hold are defunct.
      for (const l of links) expect(l.info().ifindex).toBe(0);
    } finally {
      for (const l of links) l.close();
    }
    expect(xdpProgName(p2)).toBeUndefined();
    expect(existsSync(join(root(), 'links', `xdp_${p2}`))).toBe(false);
    expect(existsSync(join(root(), 'links', `tc_${p2}`))).toBe(false);
    expect(hasU32Key('xdpnet_ports', ifx)).toBe(false);
    expect(hasU32Key('xdpnet_tx_ports', ifx)).toBe(false);
    expect(srcKeysOf(ifx)).toHaveLength(0);
    // Its MAC's entry stays (the fdb table's), without a port to deliver into.
    expect(fdbCopy(RED, mac(2))).toEqual({ present: 0, slot: 0, flags: 0, netFlags: 0, netMtu: 0 });
    expect((await tables.list('localPorts')).map((e) => e.key.interfaceName)).toEqual([name('p1')]);
    await tables.delete('localPorts', { interfaceName: p2 });
    // The underlay's transmit slot is the node's: untouched.
    expect(hasU32Key('xdpnet_tx_ports', ifindexOf(name('ul')))).toBe(true);
  });

  it('an interface recreated under the same name: list drops the port and its entries, upsert sets it up on the new one', async () => {
    const t: Topology = topology();
    const p3 = name('p3');
    const port: Sample<'localPorts'> = { key: { interfaceName: p3 }, value: portValue(3, ['10.0.0.13']) };
    const fdb: Sample<'fdb'> = { key: { vni: RED, macAddress: mac(3) }, value: { location: { kind: 'local', interfaceName: p3 } } };
    const flood: Sample<'floodList'> = { key: { vni: RED }, value: { remoteVteps: [R2], localInterfaces: [name('p1'), p3].sort() } };
    await tables.upsert('localPorts', port.key, port.value);
    await tables.upsert('fdb', fdb.key, fdb.value);
    await tables.upsert('floodList', flood.key, flood.value);
    const oldIfindex = ifindexOf(p3);
    const oldLinks = { tc: linkOf(`tc_${p3}`), xdp: linkOf(`xdp_${p3}`) };

    await t.exec(null, ['ip', 'link', 'del', p3]);
    await t.addVeth({ a: { name: 'p3' }, b: { ns: 'vm', name: 'p3' } });
    const newIfindex = ifindexOf(p3);
    expect(newIfindex).not.toBe(oldIfindex);

    // Unequal to what is wanted, so a full pass rewrites them.
    const fdbListed = (await tables.list('fdb')).find((e) => e.key.macAddress === mac(3))!;
    expect(fdbListed.value).toEqual({ location: { kind: 'local', interfaceName: goneName(oldIfindex) } });
    const floodListed = (await tables.list('floodList')).find((e) => e.key.vni === RED)!;
    expect(canonicalJson(floodListed.value)).not.toBe(canonicalJson(flood.value));
    // Not listed, and nothing of it left.
    expect((await tables.list('localPorts')).map((e) => e.key.interfaceName)).not.toContain(p3);
    expect(hasU32Key('xdpnet_ports', oldIfindex)).toBe(false);
    expect(srcKeysOf(oldIfindex)).toHaveLength(0);
    expect(existsSync(join(root(), 'links', `xdp_${p3}`))).toBe(false);

    // What the reconciler then does: upsert what it wants.
    await tables.upsert('fdb', fdb.key, fdb.value);
    await tables.upsert('floodList', flood.key, flood.value);
    await tables.upsert('localPorts', port.key, port.value);
    expect(xdpProgName(p3)).toBe('xdp_port');
    expect(linkOf(`xdp_${p3}`)).toMatchObject({ ifindex: newIfindex });
    expect(linkOf(`tc_${p3}`)).toMatchObject({ ifindex: newIfindex });
    expect(linkOf(`xdp_${p3}`).id).not.toBe(oldLinks.xdp.id);
    const listed = await tables.list('localPorts');
    expect(canonicalJson(listed.find((e) => e.key.interfaceName === p3))).toBe(canonicalJson(port));
    expect((await tables.list('fdb')).find((e) => e.key.macAddress === mac(3))?.value).toEqual(fdb.value);
    expect(canonicalJson((await tables.list('floodList')).find((e) => e.key.vni === RED)?.value)).toBe(canonicalJson(flood.value));
  });

  it('entries of a port whose programs are not attached are removed by list', async () => {
    const p4 = name('p4');
    const ifx = ifindexOf(p4);
    // As a crash half-way through an upsert could leave it: entries, no programs.
    const w = encodeLocalPort({ interfaceName: p4 }, portValue(4, ['10.0.0.14'], PAIR), () => ifx, { statsSlot: 4000, network: undefined });
    for (const write of [...w.portSrc, w.txPort, w.port]) node.maps.require(write.map).update(write.key, write.value);
    expect(hasU32Key('xdpnet_ports', ifx)).toBe(true);
    expect((await tables.list('localPorts')).map((e) => e.key.interfaceName)).not.toContain(p4);
    expect(hasU32Key('xdpnet_ports', ifx)).toBe(false);
    expect(hasU32Key('xdpnet_tx_ports', ifx)).toBe(false);
    expect(srcKeysOf(ifx)).toHaveLength(0);
  });

  it('a network written or deleted is copied into the entry of each of its ports, and nothing else changes', async () => {
    // p1 and p3 are the red ports by now.
    const [p1, p2] = [name('p1'), name('p3')].map(ifindexOf) as [number, number];
    const ports = canonical('localPorts', await tables.list('localPorts'));
    const slots = [portExtras(p1).statsSlot, portExtras(p2).statsSlot];
    const red = world().networks[0]!;
    await tables.upsert('networks', red.key, { ...red.value, mtu: 1400, adminStateUp: false });
    expect([portExtras(p1), portExtras(p2)].map((e) => e.network)).toEqual([
      { mtu: 1400, adminStateUp: false },
      { mtu: 1400, adminStateUp: false },
    ]);
    expect(fdbCopy(RED, mac(1))).toEqual(copyOf(p1));
    expect(fdbCopy(RED, mac(1)).netFlags).toBe(PORT_NET_F_PRESENT);
    expect(fdbCopy(RED, mac(1)).netMtu).toBe(1400);
    await tables.delete('networks', red.key);
    expect([portExtras(p1), portExtras(p2)].map((e) => e.network)).toEqual([undefined, undefined]);
    await tables.upsert('networks', red.key, red.value);
    expect([portExtras(p1), portExtras(p2)].map((e) => e.network)).toEqual([
      { mtu: 1450, adminStateUp: true },
      { mtu: 1450, adminStateUp: true },
    ]);
    // The counters went on in the same slots; the ports read back as they were.
    expect([portExtras(p1).statsSlot, portExtras(p2).statsSlot]).toEqual(slots);
    expect(fdbCopy(RED, mac(1))).toEqual(copyOf(p1));
    expect(canonical('localPorts', await tables.list('localPorts'))).toEqual(ports);
  });

  it('list puts right a port entry with a stale network state, or another port’s counter slot', async () => {
    const [p1, p2] = [name('p1'), name('p3')].map(ifindexOf) as [number, number];
    const ports = canonical('localPorts', await tables.list('localPorts'));
    const map = node.maps.require('xdpnet_ports');
    const good = map.lookup(encode(u32, p2))!;
    // As a daemon stopped half-way could leave it: p3 with the network down and p1's slot.
    map.update(encode(u32, p2), withPortExtras(good, { statsSlot: portExtras(p1).statsSlot, network: { mtu: 1450, adminStateUp: false } }));
    expect(canonical('localPorts', await tables.list('localPorts'))).toEqual(ports);
    expect(portExtras(p2).network).toEqual({ mtu: 1450, adminStateUp: true });
    expect(portExtras(p2).statsSlot).not.toBe(portExtras(p1).statsSlot);
    expect(portExtras(p2).statsSlot).toBeGreaterThan(0);
  });

  it('list puts right a local MAC’s stale copy of its port', async () => {
    const p1 = ifindexOf(name('p1'));
    const fdbMap = node.maps.require('xdpnet_fdb');
    const key = fdbMapKey({ vni: RED, macAddress: mac(1) });
    const good = Buffer.from(fdbMap.lookup(key)!);
    fdbMap.update(key, withFdbPort(key, good, undefined));
    expect(fdbCopy(RED, mac(1)).present).toBe(0);
    const listed = (await tables.list('fdb')).find((e) => e.key.vni === RED && e.key.macAddress === mac(1));
    expect(listed?.value).toEqual({ location: { kind: 'local', interfaceName: name('p1') } });
    expect(fdbCopy(RED, mac(1))).toEqual(copyOf(p1));
  });

  it('an ARP entry carries a copy of its MAC’s fdb entry: with the entry, after each write or delete of it (its own copies’ rewrites too), and put right by list', async () => {
    const arpMap = node.maps.require('xdpnet_arp');
    const fdbMap = node.maps.require('xdpnet_fdb');
    const arpKey = (ipAddress: string) => arpMapKey({ vni: RED, ipAddress });
    /** The ARP entry's copy (undefined: none), and the fdb entry it must equal (undefined: none). */
    const arpCopy = (ipAddress: string) => {
      const e = arpEntry.decode(arpMap.lookup(arpKey(ipAddress))!);
      return e.fdb_present ? fdbEntry.encode(e.fdb) : undefined;
    };
    const fdbNow = (macAddress: string) => fdbMap.lookup(fdbMapKey({ vni: RED, macAddress })) ?? undefined;
    const red = world().networks[0]!;
    const local = world().fdb[0]!;
    try {
      // The world's entries, and one written now: each with its MAC's entry (a local port's, with the port's copy).
      expect(arpCopy('10.0.0.11')).toEqual(fdbNow(mac(1)));
      expect(fdbNow(mac(1))).toBeDefined();
      await tables.upsert('arp', { vni: RED, ipAddress: '10.0.0.99' }, { macAddress: mac(1) });
      expect(arpCopy('10.0.0.99')).toEqual(fdbNow(mac(1)));
      // The fdb entry's own copy of its port rewritten (its network's MTU changed): both ARP entries follow.
      await tables.upsert('networks', red.key, { ...red.value, mtu: 1400 });
      expect(fdbEntry.decode(fdbNow(mac(1))!).port_net_mtu).toBe(1400);
      expect([arpCopy('10.0.0.11'), arpCopy('10.0.0.99')]).toEqual([fdbNow(mac(1)), fdbNow(mac(1))]);
      await tables.upsert('networks', red.key, red.value);
      expect(arpCopy('10.0.0.99')).toEqual(fdbNow(mac(1)));
      // The MAC moves behind a VTEP: the copy says so; the MAC's entry deleted: no copy; written again: the copy again.
      await tables.upsert('fdb', local.key, { location: { kind: 'remote', vtepIp: R2 } });
      expect(fdbEntry.decode(arpCopy('10.0.0.99')!)).toMatchObject({ kind: 2, vtep_ip: R2 });
      await tables.delete('fdb', local.key);
      expect([arpCopy('10.0.0.11'), arpCopy('10.0.0.99')]).toEqual([undefined, undefined]);
      await tables.upsert('fdb', local.key, local.value);
      expect(arpCopy('10.0.0.99')).toEqual(fdbNow(mac(1)));
      // Another MAC's entry changes nothing here; an ARP entry that names another MAC follows that one.
      await tables.upsert('arp', { vni: RED, ipAddress: '10.0.0.99' }, { macAddress: mac(2) });
      expect(arpCopy('10.0.0.99')).toEqual(fdbNow(mac(2)));
      await tables.delete('fdb', local.key);
      expect(arpCopy('10.0.0.99')).toEqual(fdbNow(mac(2)));
      await tables.upsert('fdb', local.key, local.value);
      // A copy gone stale behind the tables' back is put right by list('arp').
      arpMap.update(arpKey('10.0.0.11'), withArpFdb(arpMap.lookup(arpKey('10.0.0.11'))!, fdbNow(mac(2))));
      expect(arpCopy('10.0.0.11')).toEqual(fdbNow(mac(2)));
      const listed = (await tables.list('arp')).find((e) => e.key.ipAddress === '10.0.0.11');
      expect(listed?.value).toEqual({ macAddress: mac(1) });
      expect(arpCopy('10.0.0.11')).toEqual(fdbNow(mac(1)));
    } finally {
      await tables.upsert('networks', red.key, red.value);
      await tables.upsert('fdb', local.key, local.value);
      await tables.delete('arp', { vni: RED, ipAddress: '10.0.0.99' });
    }
  });

  it('a remote MAC carries a copy of its VTEP’s next hop: with the entry, after each write or delete of the next hop, and put right by list', async () => {
    const nexthops = new NexthopMap(node.maps.require('xdpnet_nexthops'));
    const unsubscribe = nexthops.onChange((vtep) => overlay.nexthopChanged(vtep));
    const remoteMac = (n: number) => `02:00:00:00:02:0${n}`;
    const remoteCopy = (macAddress: string) => {
      const e = fdbEntry.decode(node.maps.require('xdpnet_fdb').lookup(fdbMapKey({ vni: RED, macAddress }))!);
      return e.nexthop_present ? e.nexthop : undefined;
    };
    const nhR2 = { dst_mac: '02:00:00:00:ff:02', src_mac: '02:00:00:00:ff:01', ifindex: ifindexOf(name('ul')) };
    const nhR3 = { dst_mac: '02:00:00:00:ff:03', src_mac: '02:00:00:00:ff:01', ifindex: ifindexOf(name('ul')) };
    try {
      // Written without a next hop: no copy (the programs look it up and find none).
      nexthops.delete(R2);
      await tables.upsert('fdb', { vni: RED, macAddress: remoteMac(1) }, { location: { kind: 'remote', vtepIp: R2 } });
      expect(remoteCopy(remoteMac(1))).toBeUndefined();
      // The next hop resolved: every remote MAC behind the VTEP, and only those, gets it.
      await tables.upsert('fdb', { vni: RED, macAddress: remoteMac(3) }, { location: { kind: 'remote', vtepIp: R3 } });
      nexthops.set(R2, nhR2);
      expect(remoteCopy(remoteMac(1))).toEqual(nhR2);
      expect(remoteCopy(remoteMac(3))).toBeUndefined();
      // Written while the next hop is there: with its copy.
      await tables.upsert('fdb', { vni: RED, macAddress: remoteMac(2) }, { location: { kind: 'remote', vtepIp: R2 } });
      expect(remoteCopy(remoteMac(2))).toEqual(nhR2);
      // The next hop changes (a new gateway MAC): both follow.
      const moved = { ...nhR2, dst_mac: '02:00:00:00:ff:22' };
      nexthops.set(R2, moved);
      expect([remoteCopy(remoteMac(1)), remoteCopy(remoteMac(2))]).toEqual([moved, moved]);
      // A MAC that moves to another VTEP takes that VTEP's copy, and no longer follows R2.
      nexthops.set(R3, nhR3);
      await tables.upsert('fdb', { vni: RED, macAddress: remoteMac(2) }, { location: { kind: 'remote', vtepIp: R3 } });
      expect(remoteCopy(remoteMac(2))).toEqual(nhR3);
      nexthops.set(R2, nhR2);
      expect(remoteCopy(remoteMac(2))).toEqual(nhR3);
      expect(remoteCopy(remoteMac(1))).toEqual(nhR2);
      // The next hop lost (a failed neighbour, a VTEP no one wants): the copies go with it.
      nexthops.delete(R2);
      expect(remoteCopy(remoteMac(1))).toBeUndefined();
      nexthops.retainOnly(new Set());
      expect(remoteCopy(remoteMac(2))).toBeUndefined();
      expect(remoteCopy(remoteMac(3))).toBeUndefined();
      // A copy gone stale behind the tables' back (a daemon stopped between two writes) is put right by list.
      nexthops.set(R2, nhR2);
      const fdbMap = node.maps.require('xdpnet_fdb');
      const key = fdbMapKey({ vni: RED, macAddress: remoteMac(1) });
      fdbMap.update(key, withFdbNexthop(fdbMap.lookup(key)!, vtepNexthop.encode(moved)));
      expect(remoteCopy(remoteMac(1))).toEqual(moved);
      const listed = (await tables.list('fdb')).find((e) => e.key.macAddress === remoteMac(1));
      expect(listed?.value).toEqual({ location: { kind: 'remote', vtepIp: R2 } });
      expect(remoteCopy(remoteMac(1))).toEqual(nhR2);
    } finally {
      unsubscribe();
      nexthops.retainOnly(new Set());
      for (const n of [1, 2, 3]) await tables.delete('fdb', { vni: RED, macAddress: remoteMac(n) });
    }
  });

  it('a port that moves to another network on its interface: its old network’s MACs stop being delivered into it', async () => {
    const p3 = name('p3');
    const ifx = ifindexOf(p3);
    const BLUE = 200;
    // A blue MAC that once lived on p3 (the fdb table says so until the reconciler catches up).
    await tables.upsert('networks', { vni: BLUE }, { networkId: NETWORK_ID.replace(/1$/, '2'), mtu: 1450, adminStateUp: true });
    await tables.upsert('fdb', { vni: BLUE, macAddress: mac(3) }, { location: { kind: 'local', interfaceName: p3 } });
    expect(fdbCopy(BLUE, mac(3)).present).toBe(0); // p3 is red
    expect(fdbCopy(RED, mac(3))).toEqual(copyOf(ifx));
    await tables.upsert('localPorts', { interfaceName: p3 }, { ...portValue(3, ['10.0.0.13']), vni: BLUE });
    expect(fdbCopy(RED, mac(3)).present).toBe(0);
    expect(fdbCopy(BLUE, mac(3))).toEqual(copyOf(ifx));
    // And back, as the world had it.
    await tables.upsert('localPorts', { interfaceName: p3 }, portValue(3, ['10.0.0.13']));
    await tables.delete('fdb', { vni: BLUE, macAddress: mac(3) });
    await tables.delete('networks', { vni: BLUE });
    expect(fdbCopy(RED, mac(3))).toEqual(copyOf(ifx));
  });

  it('every port has a counter slot of its own, inside the counter map', async () => {
    const slots = [...node.maps.require('xdpnet_ports').entries()].map(([, v]) => portExtrasOf(Buffer.from(v)).statsSlot);
    expect(slots.length).toBeGreaterThan(1);
    expect(new Set(slots).size).toBe(slots.length);
    expect(slots.every((s) => s > 0 && s < PORT_STATS_SLOTS)).toBe(true);
    expect(node.maps.require(PORT_STATS_MAP_NAME).info.maxEntries).toBe(PORT_STATS_SLOTS);
  });

  it('a restarted dataplane lists the same tables over the same links', async () => {
    const before = await Promise.all(TABLES.map((t) => tables.list(t)));
    const links = node.attached().filter((a) => a.interfaceName !== name('ul'));
    expect(links.length).toBe(4); // p1 and p3, TC and XDP each
    node.close();
    node = await startNode();
    // A fresh next-hop sink, as a restarted daemon has: nothing will be upserted, yet the listed VTEPs need next hops.
    const fresh = { wanted: new Set<string>(), retained: [] as string[][] };
    tables = new BpfTables(
      new OverlayTables(node, {
        want: (vteps) => vteps.forEach((v) => fresh.wanted.add(v)),
        retainOnly: (vteps) => void fresh.retained.push([...vteps].sort()),
      }),
      new RouterTables(node),
    );
    const after = await Promise.all(TABLES.map((t) => tables.list(t)));
    const listedVteps = [...new Set((after[TABLES.indexOf('floodList')] as DataplaneEntry<'floodList'>[]).flatMap((e) => e.value.remoteVteps))].sort();
    expect(listedVteps.length).toBeGreaterThan(0);
    expect([...fresh.wanted].sort()).toEqual(listedVteps);
    expect(fresh.retained).toEqual([listedVteps]);
    TABLES.forEach((t, i) => expect(canonical(t, after[i] as DataplaneEntry<typeof t>[]), t).toEqual(canonical(t, before[i] as DataplaneEntry<typeof t>[])));
    const adopted = node.attached().filter((a) => a.interfaceName !== name('ul'));
    for (const a of links) {
      expect(adopted.find((b) => b.pinPath === a.pinPath)?.linkId, a.pinPath).toBe(a.linkId);
    }
  });

  it('a flood list longer than the map holds is RESOURCE_EXHAUSTED and leaves the map as it was', async () => {
    const before = canonicalJson(await tables.list('floodList'));
    const vteps = Array.from({ length: 257 }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 0xff}`).sort();
    const err = await tables.upsert('floodList', { vni: RED }, { remoteVteps: vteps, localInterfaces: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataplaneError);
    expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(canonicalJson(await tables.list('floodList'))).toBe(before);
  });

  it('a flood list naming an interface that does not exist yet floods to the others, and reads back unequal until it does', async () => {
    const missing = `${topology().prefix}-zy`;
    const flood: Sample<'floodList'> = { key: { vni: 4242 }, value: { remoteVteps: [R3], localInterfaces: [name('p1'), missing].sort() } };
    await tables.upsert('floodList', flood.key, flood.value);
    const listed = (await tables.list('floodList')).find((e) => e.key.vni === 4242);
    expect(listed?.value).toEqual({ remoteVteps: [R3], localInterfaces: [name('p1')] });
    await tables.delete('floodList', flood.key);
    expect((await tables.list('floodList')).map((e) => e.key.vni)).not.toContain(4242);
  });

  it('an interface that does not exist is UNAVAILABLE, and writes nothing', async () => {
    const missing = `${topology().prefix}-zz`;
    const portsBefore = mapKeys('xdpnet_ports').length;
    await expect(tables.upsert('localPorts', { interfaceName: missing }, portValue(5, ['10.0.0.15']))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(
      tables.upsert('fdb', { vni: RED, macAddress: mac(5) }, { location: { kind: 'local', interfaceName: missing } }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(mapKeys('xdpnet_ports')).toHaveLength(portsBefore);
    expect((await tables.list('fdb')).map((e) => e.key.macAddress)).not.toContain(mac(5));
  });

  it('the underlay cannot be made a VM port', async () => {
    const ul = name('ul');
    await expect(tables.upsert('localPorts', { interfaceName: ul }, portValue(6, ['10.0.0.16']))).rejects.toMatchObject({ code: 'INTERNAL' });
    await tables.delete('localPorts', { interfaceName: ul });
    expect(xdpProgName(ul)).toBe('xdp_underlay');
    expect(hasU32Key('xdpnet_ports', ifindexOf(ul))).toBe(false);
    expect(hasU32Key('xdpnet_tx_ports', ifindexOf(ul))).toBe(true);
  });
});
