// src/dataplane/overlay-encode.ts: the overlay tables as map bytes and back.
// Round trips (decode(encode(entry)) canonicalJson-equal to the entry) for
// every table, byte-exact encodings written out by hand, and the typed errors.
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DataplaneError } from '../../src/reconciler/dataplane.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import type { TableKey, TableName, TableValue } from '../../src/reconciler/tables.js';
import {
  type DecodeContext,
  FloodListOverflowError,
  InterfaceNotPresentError,
  type MapWrite,
  OverlayCodecError,
  type RawEntry,
  decodeArp,
  decodeFdb,
  decodeFlood,
  decodeLocalPort,
  decodeLocalPorts,
  decodeNetwork,
  encodeArp,
  encodeFdb,
  encodeFlood,
  encodeLocalPort,
  encodeNetwork,
  fdbLocalIfindexOf,
  fdbTargetOf,
  type PortExtras,
  portExtrasOf,
  portNetworkOf,
  portVniOf,
  uuidBytes,
  uuidText,
  withFdbNexthop,
  withFdbRouter,
  snatGatewayKeyOf,
  arpFdbKeyOf,
  withArpFdb,
  withFdbPort,
  withPortExtras,
} from '../../src/dataplane/overlay-encode.js';
import { FLOOD_MAX_LOCAL, FLOOD_MAX_REMOTE, PORT_F_SRC_LPM, ROUTER_F_ADMIN_UP, fdbEntry, floodList, portInfo, snatInfo, vtepNexthop } from '../../src/dataplane/layouts.js';
import { encodeExtNexthop, encodeSnat } from '../../src/dataplane/snat-encode.js';
import { encodeRouter } from '../../src/dataplane/router-encode.js';

const LE = endianness() === 'LE';
/** An xdpnet_nexthops value: next hop 02:00:00:00:0a:ff via our 02:00:00:00:0b:ff, ifindex 5. */
const NEXTHOP = vtepNexthop.encode({ dst_mac: '02:00:00:00:0a:ff', src_mac: '02:00:00:00:0b:ff', ifindex: 5 });
/** A remote MAC's copy of its next hop when there is none: absent, all zero. */
const NO_NEXTHOP_HEX = '00'.repeat(16);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const raw = (w: MapWrite): RawEntry => ({ key: w.key, value: w.value });

// Two networks sharing CIDR (10.0.0.0/24) and MACs, as in the BPF world.
const RED = 100;
const BLUE = 200;
const RED_ID = '0b3c1a52-6f0e-4d7e-9a55-2c1d1e4f9a01';
const BLUE_ID = '0b3c1a52-6f0e-4d7e-9a55-2c1d1e4f9a02';
const ROUTER_ID = '5d2a7c4e-0b8f-4a3c-9e1d-2f3a4b5c6d7e';
const P1_ID = '7f000000-0000-4000-8000-000000000001';
const P2_ID = '7f000000-0000-4000-8000-000000000002';
const P3_ID = '7f000000-0000-4000-8000-000000000003';
const M1 = '02:00:00:00:01:01';
const M2 = '02:00:00:00:01:02';
const PAIR_MAC = '02:00:00:00:0a:0a';
/** What the daemon adds to a port entry: its counter slot, its network's state. */
const EXTRAS: PortExtras = { statsSlot: 3, network: { mtu: 1450, adminStateUp: true } };

const IFINDEX: Record<string, number> = { tap1: 7, tap2: 8, tap3: 9 };
const ifindexOf = (name: string) => IFINDEX[name];
const nameOf = (ifindex: number) => Object.keys(IFINDEX).find((n) => IFINDEX[n] === ifindex);
const ctx: DecodeContext = { interfaceName: nameOf };
/** A UUID's 16 bytes as hex, as the maps hold it. */
const idHex = (id: string) => id.replaceAll('-', '');

type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };
const same = (a: unknown, b: unknown) => expect(canonicalJson(a)).toBe(canonicalJson(b));

const networks: Sample<'networks'>[] = [
  { key: { vni: RED }, value: { networkId: RED_ID, mtu: 1450, adminStateUp: true } },
  { key: { vni: BLUE }, value: { networkId: BLUE_ID, mtu: 1450, adminStateUp: false } },
];

const localPorts: Sample<'localPorts'>[] = [
  {
    key: { interfaceName: 'tap1' },
    value: {
      portId: P1_ID,
      vni: RED,
      macAddress: M1,
      ipAddresses: ['10.0.0.11', '10.0.0.111', '10.0.0.2'],
      portSecurityEnabled: true,
      allowedAddressPairs: [
        // The same as the fixed IP 10.0.0.11 with the port's MAC: one LPM key, both kinds.
        { cidr: '10.0.0.11/32', macAddress: M1 },
        { cidr: '10.0.1.0/24', macAddress: M1 },
        { cidr: '192.168.50.0/28', macAddress: M1 },
        { cidr: '192.168.50.0/28', macAddress: PAIR_MAC },
      ],
      adminStateUp: true,
    },
  },
  {
    key: { interfaceName: 'tap2' },
    value: { portId: P2_ID, vni: RED, macAddress: M2, ipAddresses: ['10.0.0.12'], portSecurityEnabled: true, allowedAddressPairs: [], adminStateUp: false },
  },
  // Blue: same MAC and IP as tap1 on red.
  {
    key: { interfaceName: 'tap3' },
    value: { portId: P3_ID, vni: BLUE, macAddress: M1, ipAddresses: ['10.0.0.11'], portSecurityEnabled: false, allowedAddressPairs: [{ cidr: '0.0.0.0/0', macAddress: M1 }], adminStateUp: true },
  },
];

const fdb: Sample<'fdb'>[] = [
  { key: { vni: RED, macAddress: M1 }, value: { location: { kind: 'local', interfaceName: 'tap1' } } },
  { key: { vni: RED, macAddress: M2 }, value: { location: { kind: 'local', interfaceName: 'tap2' } } },
  { key: { vni: RED, macAddress: '02:00:00:00:02:01' }, value: { location: { kind: 'remote', vtepIp: '192.0.2.2' } } },
  { key: { vni: RED, macAddress: 'fa:16:3e:00:00:01' }, value: { location: { kind: 'router', routerId: ROUTER_ID } } },
  { key: { vni: BLUE, macAddress: M1 }, value: { location: { kind: 'local', interfaceName: 'tap3' } } },
  { key: { vni: BLUE, macAddress: M2 }, value: { location: { kind: 'remote', vtepIp: '192.0.2.3' } } },
];

const arp: Sample<'arp'>[] = [
  { key: { vni: RED, ipAddress: '10.0.0.1' }, value: { macAddress: 'fa:16:3e:00:00:01' } },
  { key: { vni: RED, ipAddress: '10.0.0.11' }, value: { macAddress: M1 } },
  { key: { vni: BLUE, ipAddress: '10.0.0.11' }, value: { macAddress: M1 } },
  { key: { vni: BLUE, ipAddress: '10.0.0.12' }, value: { macAddress: M2 } },
];

const flood: Sample<'floodList'>[] = [
  { key: { vni: RED }, value: { remoteVteps: ['192.0.2.10', '192.0.2.2', '192.0.2.3'], localInterfaces: ['tap1', 'tap2'] } },
  { key: { vni: BLUE }, value: { remoteVteps: [], localInterfaces: ['tap3'] } },
  { key: { vni: 16777215 }, value: { remoteVteps: ['198.51.100.7'], localInterfaces: [] } },
];

describe('overlay-encode: round trips', () => {
  it('networks', () => {
    for (const e of networks) same(decodeNetwork(raw(encodeNetwork(e.key, e.value))), e);
  });

  it('localPorts, one at a time and listed from whole maps', () => {
    const writes = localPorts.map((e) => encodeLocalPort(e.key, e.value, ifindexOf, EXTRAS));
    localPorts.forEach((e, i) => same(decodeLocalPort(raw(writes[i]!.port), writes[i]!.portSrc.map(raw), ctx), e));
    // All port-source entries of every port together, in scrambled order, as a map dump would give them.
    const allSrc = writes.flatMap((w) => w.portSrc.map(raw)).reverse();
    same(decodeLocalPorts(writes.map((w) => raw(w.port)).reverse(), allSrc, ctx), localPorts);
  });

  it('localPorts: the fixed IPs in the port entry, one LPM entry per allowed pair (and the port entry says so)', () => {
    const w = encodeLocalPort(localPorts[0]!.key, localPorts[0]!.value, ifindexOf, EXTRAS);
    const info = portInfo.decode(w.port.value);
    // String order, as decoding lists them.
    expect(info.fixed_ip.slice(0, info.fixed_ip_count)).toEqual(['10.0.0.11', '10.0.0.111', '10.0.0.2']);
    expect(info.flags & PORT_F_SRC_LPM).toBe(PORT_F_SRC_LPM);
    // 4 pairs, the one equal to a fixed IP too: the fixed IP is not in the trie.
    expect(w.portSrc).toHaveLength(4);
    expect(new Set(w.portSrc.map((s) => s.key.toString('hex'))).size).toBe(4);
    expect(w.portSrc.every((s) => s.map === 'xdpnet_port_src')).toBe(true);
    expect(w.port.map).toBe('xdpnet_ports');
    expect(w.txPort).toEqual({ map: 'xdpnet_tx_ports', key: w.port.key, value: w.port.key });
  });

  it('localPorts: fixed IPs beyond the port entry’s four go to the trie, where a pair equal to one shares its key', () => {
    const ips = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'];
    const e = { key: { interfaceName: 'tap2' }, value: { ...localPorts[1]!.value, ipAddresses: ips, allowedAddressPairs: [{ cidr: '10.0.0.6/32', macAddress: M2 }] } };
    const w = encodeLocalPort(e.key, e.value, ifindexOf, EXTRAS);
    const info = portInfo.decode(w.port.value);
    expect([info.fixed_ip_count, info.fixed_ip]).toEqual([4, ips.slice(0, 4)]);
    expect(info.flags & PORT_F_SRC_LPM).toBe(PORT_F_SRC_LPM);
    // 10.0.0.5 (FIXED_IP), 10.0.0.6 (FIXED_IP | ALLOWED_PAIR)
    expect(w.portSrc.map((s) => s.value.toString('hex')).sort()).toEqual(['01000000', '03000000']);
    same(decodeLocalPort(raw(w.port), w.portSrc.map(raw), ctx), e);
  });

  it('localPorts: a port with no pairs and at most four fixed IPs has nothing in the trie', () => {
    const w = encodeLocalPort(localPorts[1]!.key, localPorts[1]!.value, ifindexOf, EXTRAS);
    expect(w.portSrc).toEqual([]);
    expect(portInfo.decode(w.port.value).flags & PORT_F_SRC_LPM).toBe(0);
  });

  it('localPorts: trie entries of a port whose entry does not say PORT_F_SRC_LPM are not the port’s (the program never looks)', () => {
    const w = encodeLocalPort(localPorts[0]!.key, localPorts[0]!.value, ifindexOf, EXTRAS);
    const info = portInfo.decode(w.port.value);
    const without = portInfo.encode({ ...info, flags: info.flags & ~PORT_F_SRC_LPM });
    const decoded = decodeLocalPort({ key: w.port.key, value: without }, w.portSrc.map(raw), ctx);
    same(decoded.value, { ...localPorts[0]!.value, allowedAddressPairs: [] });
  });

  it('localPorts: what the port entry carries beyond the value (slot, network) is read and replaced alone', () => {
    const w = encodeLocalPort(localPorts[0]!.key, localPorts[0]!.value, ifindexOf, EXTRAS);
    expect(portExtrasOf(w.port.value)).toEqual(EXTRAS);
    expect(portVniOf(w.port.value)).toBe(RED);
    for (const extras of [
      { statsSlot: 0, network: undefined },
      { statsSlot: 4096, network: { mtu: 9000, adminStateUp: false } },
    ]) {
      const other = withPortExtras(w.port.value, extras);
      expect(portExtrasOf(other)).toEqual(extras);
      // The same port otherwise: decoded as before, and the entry with the same extras again is the same bytes.
      same(decodeLocalPort({ key: w.port.key, value: other }, w.portSrc.map(raw), ctx), localPorts[0]);
      expect(encodeLocalPort(localPorts[0]!.key, localPorts[0]!.value, ifindexOf, extras).port.value.equals(other)).toBe(true);
    }
    // A network's entry as its ports carry it.
    expect(portNetworkOf(encodeNetwork(networks[1]!.key, networks[1]!.value).value)).toEqual({ mtu: 1450, adminStateUp: false });
    expect(portNetworkOf(undefined)).toBeUndefined();
  });

  it('localPorts on networks sharing MAC and IP: same LPM bytes but for the ifindex', () => {
    const pairs = [{ cidr: '10.0.9.0/24', macAddress: M1 }];
    const red = encodeLocalPort({ interfaceName: 'tap1' }, { ...localPorts[2]!.value, vni: RED, allowedAddressPairs: pairs }, ifindexOf, EXTRAS);
    const blue = encodeLocalPort({ interfaceName: 'tap3' }, { ...localPorts[2]!.value, allowedAddressPairs: pairs }, ifindexOf, EXTRAS);
    expect(red.portSrc[0]!.key.subarray(4, 8).equals(blue.portSrc[0]!.key.subarray(4, 8))).toBe(false);
    expect(red.portSrc[0]!.key.subarray(8).equals(blue.portSrc[0]!.key.subarray(8))).toBe(true);
  });

  it('fdb: local, remote and router locations; the same MAC on two networks has different keys', () => {
    const writes = fdb.map((e) => encodeFdb(e.key, e.value, ifindexOf));
    fdb.forEach((e, i) => same(decodeFdb(raw(writes[i]!), nameOf), e));
    expect(new Set(writes.map((w) => w.key.toString('hex'))).size).toBe(fdb.length);
  });

  it('fdb: a local MAC carries a copy of the port entry on its interface, if that port is on the MAC’s network', () => {
    const port = encodeLocalPort(localPorts[0]!.key, localPorts[0]!.value, ifindexOf, EXTRAS).port.value;
    const info = portInfo.decode(port);
    const w = encodeFdb(fdb[0]!.key, fdb[0]!.value, ifindexOf, { port });
    expect(fdbEntry.decode(w.value)).toMatchObject({ port_present: 1, port_stats_slot: 3, port_flags: info.flags, port_net_flags: info.net_flags });
    // The copy is for the programs: the table's value decodes the same.
    same(decodeFdb(raw(w), nameOf), fdb[0]);
    expect(fdbLocalIfindexOf(w.value)).toBe(7);
    // No port, or one on another network (tap3 is blue): no copy. withFdbPort rewrites the copy alone.
    const absent = encodeFdb(fdb[0]!.key, fdb[0]!.value, ifindexOf);
    expect(fdbEntry.decode(absent.value)).toMatchObject({ port_present: 0, port_stats_slot: 0, port_flags: 0, port_net_flags: 0 });
    const blue = encodeLocalPort(localPorts[2]!.key, localPorts[2]!.value, ifindexOf, EXTRAS).port.value;
    expect(encodeFdb(fdb[0]!.key, fdb[0]!.value, ifindexOf, { port: blue }).value.equals(absent.value)).toBe(true);
    expect(withFdbPort(w.key, absent.value, port).equals(w.value)).toBe(true);
    expect(withFdbPort(w.key, w.value, undefined).equals(absent.value)).toBe(true);
    // Other locations carry none, and are left as they are.
    const remote = encodeFdb(fdb[2]!.key, fdb[2]!.value, ifindexOf, { port });
    expect(fdbEntry.decode(remote.value)).toMatchObject({ port_present: 0, port_stats_slot: 0 });
    expect(fdbLocalIfindexOf(remote.value)).toBeUndefined();
    expect(withFdbPort(remote.key, remote.value, port).equals(remote.value)).toBe(true);
    // A local MAC carries no next hop, whatever is given.
    expect(encodeFdb(fdb[0]!.key, fdb[0]!.value, ifindexOf, { port, nexthop: NEXTHOP }).value.equals(w.value)).toBe(true);
    expect(withFdbNexthop(w.value, NEXTHOP).equals(w.value)).toBe(true);
  });

  it('fdb: a remote MAC carries a copy of its VTEP’s next hop; without one, none', () => {
    const w = encodeFdb(fdb[2]!.key, fdb[2]!.value, ifindexOf, { nexthop: NEXTHOP });
    expect(fdbEntry.decode(w.value)).toMatchObject({ nexthop_present: 1, nexthop: vtepNexthop.decode(NEXTHOP), port_present: 0 });
    // The copy is for the programs: the table's value decodes the same, and the target is the VTEP.
    same(decodeFdb(raw(w), nameOf), fdb[2]);
    expect(fdbTargetOf(w.value)).toEqual({ kind: 'remote', vtep: '192.0.2.2' });
    const absent = encodeFdb(fdb[2]!.key, fdb[2]!.value, ifindexOf);
    expect(fdbEntry.decode(absent.value)).toMatchObject({ nexthop_present: 0, nexthop: { dst_mac: '00:00:00:00:00:00', src_mac: '00:00:00:00:00:00', ifindex: 0 } });
    expect(withFdbNexthop(absent.value, NEXTHOP).equals(w.value)).toBe(true);
    expect(withFdbNexthop(w.value, undefined).equals(absent.value)).toBe(true);
    // A router's entry carries neither; its target is its router.
    const router = encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf, { nexthop: NEXTHOP });
    expect(fdbEntry.decode(router.value)).toMatchObject({ nexthop_present: 0 });
    expect(fdbTargetOf(router.value)).toEqual({ kind: 'router', routerId: '5d2a7c4e-0b8f-4a3c-9e1d-2f3a4b5c6d7e' });
    expect(withFdbNexthop(router.value, NEXTHOP).equals(router.value)).toBe(true);
    expect(() => withFdbNexthop(absent.value, Buffer.alloc(3))).toThrow(/xdpnet_nexthops: a value is 16 bytes, got 3/);
  });

  it('fdb: a router MAC carries a copy of its router (MAC, admin state); without one, none', () => {
    const routerId = '5d2a7c4e-0b8f-4a3c-9e1d-2f3a4b5c6d7e';
    const up = encodeRouter({ routerId }, { macAddress: '02:00:00:00:0c:01', adminStateUp: true }).value;
    const down = encodeRouter({ routerId }, { macAddress: '02:00:00:00:0c:02', adminStateUp: false }).value;
    const w = encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf, { router: up });
    expect(fdbEntry.decode(w.value)).toMatchObject({ router_present: 1, router_flags: ROUTER_F_ADMIN_UP, router_mac: '02:00:00:00:0c:01', port_present: 0, nexthop_present: 0 });
    // The copy is for the programs: the table's value decodes the same.
    same(decodeFdb(raw(w), nameOf), fdb[3]);
    const absent = encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf);
    expect(fdbEntry.decode(absent.value)).toMatchObject({ router_present: 0, router_flags: 0, router_mac: '00:00:00:00:00:00' });
    expect(withFdbRouter(absent.value, up, undefined).equals(w.value)).toBe(true);
    expect(withFdbRouter(w.value, undefined, undefined).equals(absent.value)).toBe(true);
    expect(fdbEntry.decode(withFdbRouter(w.value, down, undefined))).toMatchObject({ router_present: 1, router_flags: 0, router_mac: '02:00:00:00:0c:02' });
    // Other locations carry none, whatever is given, and are left as they are.
    for (const other of [fdb[0]!, fdb[2]!]) {
      const o = encodeFdb(other.key, other.value, ifindexOf, { router: up });
      expect(fdbEntry.decode(o.value)).toMatchObject({ router_present: 0 });
      expect(withFdbRouter(o.value, up, undefined).equals(o.value)).toBe(true);
    }
    expect(() => withFdbRouter(absent.value, Buffer.alloc(3), undefined)).toThrow(/xdpnet_routers: a value is 8 bytes, got 3/);
  });

  it('fdb: a router MAC carries a copy of what the programs read of its external side (xdpnet_snat); without one, none', () => {
    const routerId = '5d2a7c4e-0b8f-4a3c-9e1d-2f3a4b5c6d7e';
    const link = { ifindex: 12, mtu: 1400, mac: '02:00:00:00:0e:01' };
    const side = encodeSnat(
      { routerId },
      {
        externalNetworkId: '00000000-0000-4000-8000-000000001000',
        externalNetworkType: 'flat',
        physicalNetwork: 'external',
        segmentationId: 0,
        externalIp: '203.0.113.10',
        externalPrefixLength: 24,
        externalNexthop: '203.0.113.1',
        gatewayVtepIp: '192.0.2.1',
        gatewayIsLocal: true,
        enableSnat: true,
      },
      () => link,
    ).snat.value;
    const info = snatInfo.decode(side);
    const w = encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf, { snat: side });
    expect(fdbEntry.decode(w.value)).toMatchObject({
      router_present: 0,
      snat_present: 1,
      snat_nexthop: '203.0.113.1',
      ext_nh_present: 0,
      snat_flags: info.flags,
      snat_network_type: info.network_type,
      snat_external_ip: '203.0.113.10',
      snat_ifindex: 12,
      snat_mtu: 1400,
      pad: Buffer.alloc(3),
    });
    same(decodeFdb(raw(w), nameOf), fdb[3]);
    const absent = encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf);
    expect(withFdbRouter(absent.value, undefined, side).equals(w.value)).toBe(true);
    expect(withFdbRouter(w.value, undefined, undefined).equals(absent.value)).toBe(true);
    // Other locations carry none.
    expect(fdbEntry.decode(encodeFdb(fdb[0]!.key, fdb[0]!.value, ifindexOf, { snat: side }).value)).toMatchObject({ snat_present: 0, snat_mtu: 0 });
    expect(() => withFdbRouter(absent.value, undefined, Buffer.alloc(3))).toThrow(/xdpnet_snat: a value is \d+ bytes, got 3/);
    // With its gateway's next hop (203.0.113.1 on ifindex 12): its MACs too; without the external side, none.
    expect(snatGatewayKeyOf(side)).toEqual({ ifindex: 12, ip: '203.0.113.1' });
    const gateway = encodeExtNexthop({ ifindex: 12, ip: '203.0.113.1' }, { dstMac: '02:00:00:00:0e:99', srcMac: '02:00:00:00:0e:01' }).value;
    const withGateway = encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf, { snat: side, gateway });
    expect(fdbEntry.decode(withGateway.value)).toMatchObject({ snat_present: 1, ext_nh_present: 1, ext_nh_dst_mac: '02:00:00:00:0e:99', ext_nh_src_mac: '02:00:00:00:0e:01', pad2: Buffer.alloc(3) });
    expect(fdbTargetOf(withGateway.value)).toEqual({ kind: 'router', routerId, gateway: '12/203.0.113.1' });
    expect(withFdbRouter(w.value, undefined, side, gateway).equals(withGateway.value)).toBe(true);
    expect(withFdbRouter(withGateway.value, undefined, side, undefined).equals(w.value)).toBe(true);
    expect(fdbEntry.decode(encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf, { gateway }).value)).toMatchObject({ snat_present: 0, ext_nh_present: 0 });
    expect(fdbTargetOf(w.value)).toEqual({ kind: 'router', routerId, gateway: '12/203.0.113.1' });
    expect(fdbTargetOf(absent.value)).toEqual({ kind: 'router', routerId });
  });

  it('arp: the same IP on two networks has different keys', () => {
    const writes = arp.map((e) => encodeArp(e.key, e.value));
    arp.forEach((e, i) => same(decodeArp(raw(writes[i]!)), e));
    expect(new Set(writes.map((w) => w.key.toString('hex'))).size).toBe(arp.length);
  });

  it('floodList, including empty sides and the largest VNI', () => {
    for (const e of flood) same(decodeFlood(raw(encodeFlood(e.key, e.value, ifindexOf)), nameOf), e);
  });

  it('floodList at exactly the caps', () => {
    const names = Array.from({ length: FLOOD_MAX_LOCAL }, (_, i) => `if${String(i).padStart(3, '0')}`);
    const vteps = Array.from({ length: FLOOD_MAX_REMOTE }, (_, i) => `10.${i >> 8}.${i & 255}.1`).sort();
    const idx = (n: string) => 1000 + Number(n.slice(2));
    const e = { key: { vni: 5 }, value: { remoteVteps: vteps, localInterfaces: names } };
    same(decodeFlood(raw(encodeFlood(e.key, e.value, idx)), (i) => `if${String(i - 1000).padStart(3, '0')}`), e);
  });

  it('UUIDs: text <-> 16 bytes in text order', () => {
    expect(uuidBytes(ROUTER_ID).toString('hex')).toBe('5d2a7c4e0b8f4a3c9e1d2f3a4b5c6d7e');
    expect(uuidText(uuidBytes(ROUTER_ID))).toBe(ROUTER_ID);
  });
});

describe.runIf(LE)('overlay-encode: exact bytes (little-endian host)', () => {
  it('xdpnet_networks: VNI and MTU host order, MTU is the network MTU as is', () => {
    const w = encodeNetwork({ vni: RED }, { networkId: RED_ID, mtu: 1450, adminStateUp: true });
    expect(w.map).toBe('xdpnet_networks');
    expect(w.key.toString('hex')).toBe('64000000');
    expect(w.value.toString('hex')).toBe('aa050000' + '01000000' + idHex(RED_ID));
    const down = encodeNetwork({ vni: 0x123456 }, { networkId: RED_ID, mtu: 9000, adminStateUp: false });
    expect(down.key.toString('hex')).toBe('56341200');
    expect(down.value.toString('hex')).toBe('28230000' + '00000000' + idHex(RED_ID));
  });

  it('xdpnet_ports and xdpnet_port_src: host-order ifindex/prefixlen/slot/MTU, network-order IP', () => {
    const w = encodeLocalPort({ interfaceName: 'tap1' }, { ...localPorts[0]!.value, allowedAddressPairs: [{ cidr: '192.168.50.0/28', macAddress: PAIR_MAC }], ipAddresses: ['10.0.0.11'] }, ifindexOf, EXTRAS);
    expect(w.port.key.equals(hex('07000000'))).toBe(true);
    // VNI, MAC, flags (up, port security, sources in the trie), 1 fixed IP, slot 3, network MTU 1450, present and up, pad, the fixed IPs, the port id
    expect(w.port.value.toString('hex')).toBe(
      hex('64000000 020000000101 07 01 03000000 aa05 03 00 0a00000b 00000000 00000000 00000000').toString('hex') + idHex(localPorts[0]!.value.portId),
    );
    expect(w.txPort.value.equals(hex('07000000'))).toBe(true);
    expect(w.portSrc.map((s) => [s.key.toString('hex'), s.value.toString('hex')])).toEqual([
      // prefixlen 96+28, ifindex 7, pair MAC, pad, 192.168.50.0; kind ALLOWED_PAIR
      [hex('7c000000 07000000 020000000a0a 0000 c0a83200').toString('hex'), '02000000'],
    ]);
  });

  it('a pair equal to a fixed IP in the port entry: the pair alone in the trie, kind ALLOWED_PAIR; no slot, no network', () => {
    const w = encodeLocalPort({ interfaceName: 'tap2' }, { ...localPorts[1]!.value, allowedAddressPairs: [{ cidr: '10.0.0.12/32', macAddress: M2 }] }, ifindexOf, {
      statsSlot: 0,
      network: undefined,
    });
    expect(w.portSrc.map((s) => s.value.toString('hex'))).toEqual(['02000000']);
    // admin down, port security on, sources in the trie, 1 fixed IP, no slot, no network; then the port id
    expect(w.port.value.toString('hex')).toBe(
      hex('64000000 020000000102 06 01 00000000 0000 00 00 0a00000c 00000000 00000000 00000000').toString('hex') + idHex(localPorts[1]!.value.portId),
    );
  });

  it('xdpnet_fdb: remote VTEP in network order, router id as UUID bytes', () => {
    const remote = encodeFdb(fdb[2]!.key, fdb[2]!.value, ifindexOf);
    expect(remote.key.equals(hex('64000000 020000000201 0000'))).toBe(true);
    // Then: the port's network MTU copy, the router copy (present, flags, MAC), pad: all zero here.
    const NO_TAIL = '0000 00 00 000000000000' + ' 00 00 00 000000 00000000 00000000 00000000 00000000 00 000000000000 000000000000 000000';
    expect(remote.value.equals(hex('02000000 00000000 c0000202' + '00'.repeat(16) + '00000000 00 00 00 00' + NO_NEXTHOP_HEX + NO_TAIL))).toBe(true);
    // With its VTEP's next hop: present, destination and source MACs, the underlay's ifindex (host order).
    const copiedRemote = encodeFdb(fdb[2]!.key, fdb[2]!.value, ifindexOf, { nexthop: NEXTHOP });
    expect(copiedRemote.value.equals(hex('02000000 00000000 c0000202' + '00'.repeat(16) + '00000000 00 00 00 01 020000000aff 020000000bff' + (LE ? '05000000' : '00000005') + NO_TAIL))).toBe(true);
    const router = encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf);
    expect(router.value.equals(hex('03000000 00000000 00000000 5d2a7c4e0b8f4a3c9e1d2f3a4b5c6d7e 00000000 00 00 00 00' + NO_NEXTHOP_HEX + NO_TAIL))).toBe(true);
    // With its router's copy: present, flags (up), the router's MAC.
    const routerInfo = encodeRouter({ routerId: fdb[3]!.value.location.kind === 'router' ? fdb[3]!.value.location.routerId : '' }, { macAddress: '02:00:00:00:0c:01', adminStateUp: true }).value;
    const copiedRouter = encodeFdb(fdb[3]!.key, fdb[3]!.value, ifindexOf, { router: routerInfo });
    expect(
      copiedRouter.value.equals(hex('03000000 00000000 00000000 5d2a7c4e0b8f4a3c9e1d2f3a4b5c6d7e 00000000 00 00 00 00' + NO_NEXTHOP_HEX + '0000 01 01 020000000c01' + ' 00 00 00 000000 00000000 00000000 00000000 00000000 00 000000000000 000000000000 000000')),
    ).toBe(true);
    const local = encodeFdb(fdb[4]!.key, fdb[4]!.value, ifindexOf);
    expect(local.key.equals(hex('c8000000 020000000101 0000'))).toBe(true);
    expect(local.value.equals(hex('01000000 09000000 00000000' + '00'.repeat(16) + '00000000 00 00 00 00' + NO_NEXTHOP_HEX + NO_TAIL))).toBe(true);
    // With its port's copy: slot 3, present, flags (up, no port security, sources in the trie), network present and up; its MTU 1450.
    const port = encodeLocalPort(localPorts[2]!.key, localPorts[2]!.value, ifindexOf, EXTRAS).port.value;
    const copied = encodeFdb(fdb[4]!.key, fdb[4]!.value, ifindexOf, { port });
    expect(
      copied.value.equals(hex('01000000 09000000 00000000' + '00'.repeat(16) + '03000000 01 05 03 00' + NO_NEXTHOP_HEX + (LE ? 'aa05' : '05aa') + '00 00 000000000000' + ' 00 00 00 000000 00000000 00000000 00000000 00000000 00 000000000000 000000000000 000000')),
    ).toBe(true);
  });

  it('xdpnet_arp', () => {
    const w = encodeArp({ vni: BLUE, ipAddress: '10.0.0.12' }, { macAddress: M2 });
    expect(w.key.equals(hex('c8000000 0a00000c'))).toBe(true);
    // MAC, no copy of its fdb entry (present 0, pad, then the fdb entry's bytes all zero).
    expect(w.value.equals(Buffer.concat([hex('020000000102 00 00'), Buffer.alloc(fdbEntry.size)]))).toBe(true);
  });

  it('xdpnet_arp: an entry carries a copy of its MAC’s fdb entry on its network; without one, none', () => {
    const local = encodeFdb(fdb[4]!.key, fdb[4]!.value, ifindexOf);
    const key = { vni: fdb[4]!.key.vni, ipAddress: '10.0.0.44' };
    const value = { macAddress: fdb[4]!.key.macAddress };
    const w = encodeArp(key, value, { fdb: local.value });
    expect(w.value.subarray(0, 8).equals(Buffer.concat([hex(fdb[4]!.key.macAddress.replaceAll(':', '')), hex('01 00')]))).toBe(true);
    expect(w.value.subarray(8).equals(local.value)).toBe(true);
    // What it copies: its MAC on its network.
    expect(arpFdbKeyOf(w.key, w.value).equals(local.key)).toBe(true);
    // The copy is for the programs: the table's value decodes the same.
    expect(decodeArp(raw(w))).toEqual({ key, value });
    const absent = encodeArp(key, value);
    expect(withArpFdb(absent.value, local.value).equals(w.value)).toBe(true);
    expect(withArpFdb(w.value, undefined).equals(absent.value)).toBe(true);
    expect(() => withArpFdb(absent.value, Buffer.alloc(3))).toThrow(/xdpnet_fdb: a value is \d+ bytes, got 3/);
  });

  it('xdpnet_flood: counts, ifindexes in host order, VTEPs in network order, the rest zero', () => {
    const w = encodeFlood(flood[0]!.key, flood[0]!.value, ifindexOf);
    expect(w.key.equals(hex('64000000'))).toBe(true);
    expect(w.value).toHaveLength(floodList.size);
    const want = Buffer.alloc(floodList.size);
    hex('02000000 03000000 07000000 08000000').copy(want, 0);
    hex('c000020a c0000202 c0000203').copy(want, 8 + 4 * FLOOD_MAX_LOCAL);
    expect(w.value.equals(want)).toBe(true);
  });
});

describe('overlay-encode: errors', () => {
  it('a flood list over the caps is RESOURCE_EXHAUSTED', () => {
    const many = Array.from({ length: FLOOD_MAX_LOCAL + 1 }, (_, i) => `if${i}`);
    const tooLocal = () => encodeFlood({ vni: 7 }, { remoteVteps: [], localInterfaces: many }, () => 5);
    expect(tooLocal).toThrow(FloodListOverflowError);
    try {
      tooLocal();
    } catch (err) {
      expect(err).toBeInstanceOf(DataplaneError);
      expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED', vni: 7, field: 'localInterfaces', count: 65, limit: 64 });
    }
    const vteps = Array.from({ length: FLOOD_MAX_REMOTE + 1 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
    expect(() => encodeFlood({ vni: 7 }, { remoteVteps: vteps, localInterfaces: [] }, () => 5)).toThrow(
      expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', field: 'remoteVteps', count: 257, limit: 256 }),
    );
  });

  it('an interface not present yet is a typed UNAVAILABLE error, from every table that names one', () => {
    const missing = expect.objectContaining({ name: 'InterfaceNotPresentError', code: 'UNAVAILABLE', what: { interfaceName: 'tap-gone' } });
    expect(() => encodeLocalPort({ interfaceName: 'tap-gone' }, localPorts[1]!.value, ifindexOf, EXTRAS)).toThrow(missing);
    expect(() => encodeFdb({ vni: RED, macAddress: M1 }, { location: { kind: 'local', interfaceName: 'tap-gone' } }, ifindexOf)).toThrow(missing);
    expect(() => encodeFlood({ vni: RED }, { remoteVteps: [], localInterfaces: ['tap1', 'tap-gone'] }, ifindexOf)).toThrow(missing);
    expect(() => encodeFlood({ vni: RED }, { remoteVteps: [], localInterfaces: ['tap-gone'] }, ifindexOf)).toThrow(InterfaceNotPresentError);
  });

  it('an ifindex that names no interface any more, when decoding', () => {
    const w = encodeFdb(fdb[0]!.key, fdb[0]!.value, ifindexOf);
    expect(() => decodeFdb(raw(w), () => undefined)).toThrow(
      expect.objectContaining({ name: 'InterfaceNotPresentError', code: 'UNAVAILABLE', what: { ifindex: 7 } }),
    );
  });

  it('network and port ids come back from the map bytes alone; a malformed id is a codec error', () => {
    const n = encodeNetwork(networks[0]!.key, networks[0]!.value);
    expect(decodeNetwork(raw(n)).value.networkId).toBe(networks[0]!.value.networkId);
    const p = encodeLocalPort(localPorts[1]!.key, localPorts[1]!.value, ifindexOf, EXTRAS);
    expect(decodeLocalPort(raw(p.port), p.portSrc.map(raw), ctx).value.portId).toBe(localPorts[1]!.value.portId);
    expect(() => encodeNetwork(networks[0]!.key, { ...networks[0]!.value, networkId: 'NOT-A-UUID' })).toThrow(OverlayCodecError);
    expect(() => encodeLocalPort(localPorts[1]!.key, { ...localPorts[1]!.value, portId: 'x' }, ifindexOf, EXTRAS)).toThrow(OverlayCodecError);
  });

  it('invalid values are INTERNAL codec errors, not crashes', () => {
    const bad = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ name: 'OverlayCodecError', code: 'INTERNAL' }));
    bad(() => encodeNetwork({ vni: 0 }, networks[0]!.value));
    bad(() => encodeNetwork({ vni: 1 << 24 }, networks[0]!.value));
    bad(() => encodeNetwork({ vni: 1 }, { ...networks[0]!.value, mtu: 0 }));
    bad(() => encodeArp({ vni: 1, ipAddress: 'fe80::1' }, { macAddress: M1 }));
    bad(() => encodeArp({ vni: 1, ipAddress: '10.0.0.1' }, { macAddress: 'nope' }));
    bad(() => encodeFdb({ vni: 1, macAddress: M1 }, { location: { kind: 'router', routerId: 'not-a-uuid' } }, ifindexOf));
    // A non-canonical CIDR would never decode back to the same text.
    bad(() => encodeLocalPort({ interfaceName: 'tap1' }, { ...localPorts[1]!.value, allowedAddressPairs: [{ cidr: '10.0.1.5/24', macAddress: M1 }] }, ifindexOf, EXTRAS));
    bad(() => encodeLocalPort(localPorts[1]!.key, localPorts[1]!.value, ifindexOf, { statsSlot: -1, network: undefined }));
    // A port entry no encoder writes: more fixed IPs than it holds, or a used-looking entry past the count.
    const p = encodeLocalPort(localPorts[1]!.key, localPorts[1]!.value, ifindexOf, EXTRAS);
    const info = portInfo.decode(p.port.value);
    bad(() => decodeLocalPort({ key: p.port.key, value: portInfo.encode({ ...info, fixed_ip_count: 5 }) }, [], ctx));
    bad(() => decodeLocalPort({ key: p.port.key, value: portInfo.encode({ ...info, fixed_ip: ['10.0.0.12', '10.0.0.13'] }) }, [], ctx));
    bad(() => decodeArp({ key: Buffer.alloc(3), value: Buffer.alloc(8) }));
    bad(() => decodeFdb({ key: hex('64000000 020000000101 0000'), value: hex('09000000' + '00'.repeat(24)) }, nameOf));
  });
});
