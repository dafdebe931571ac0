// src/dataplane/snat-encode.ts: the snat table as map bytes and back, the
// external next hops, and the connection table's entries. Round trips of what
// render() really produces, byte-exact encodings written out by hand, and
// the typed errors.
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DataplaneError } from '../../src/reconciler/dataplane.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import { render } from '../../src/reconciler/render.js';
import type { SnatValue } from '../../src/reconciler/tables.js';
import {
  type ExternalLink,
  ExternalLinkNotPresentError,
  type NatConnection,
  type NatHalf,
  SnatCodecError,
  decodeExtNexthop,
  decodeExtNexthopMiss,
  decodeNatHalf,
  decodeSnat,
  encodeExtNexthop,
  encodeNatHalf,
  encodeSnat,
  extAddrKeyOfSnat,
  natKeys,
  natPartnerKey,
  natPhase,
  natState,
} from '../../src/dataplane/snat-encode.js';
import { NAT_F_REPLIED, NAT_F_TCP_ESTABLISHED, NAT_F_TCP_FIN, NAT_F_TCP_SYN, extAddr, natConn, natKey, snatInfo } from '../../src/dataplane/layouts.js';
import { GATEWAY, externalNetwork, externalSubnet, netId, network, router, routerId, subnet, subnetId } from '../helpers/world.js';

const LE = endianness() === 'LE';
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const same = (a: unknown, b: unknown) => expect(canonicalJson(a)).toBe(canonicalJson(b));
const idHex = (id: string) => id.replaceAll('-', '');
/** A host-order u32 as the bytes the map holds. */
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  if (LE) b.writeUInt32LE(n);
  else b.writeUInt32BE(n);
  return b.toString('hex');
};

const LINK: ExternalLink = { ifindex: 7, mtu: 1500, mac: '02:00:00:00:ee:ff' };
const links = (name: string) => (name === 'external' ? LINK : undefined);

/** The snat entries render() makes for router 1 (gateway here) and router 2 (gateway elsewhere, SNAT off, no subnet gateway). */
function rendered() {
  const r1 = router({ id: routerId(1), interfaces: [{ subnetId: subnetId(1), ipAddress: '10.0.0.1' }], externalGateway: { ...GATEWAY, gatewayNodeVtepIp: '192.0.2.1' } });
  const r2 = router({
    id: routerId(2),
    interfaces: [{ subnetId: subnetId(2), ipAddress: '10.0.0.1' }],
    externalGateway: { networkId: netId(101), ipAddress: '198.51.100.9', enableSnat: false, gatewayNodeVtepIp: '192.0.2.10' },
  });
  const out = render(
    {
      networks: [network({ id: netId(1) }), network({ id: netId(2), segmentationId: 200 }), externalNetwork(), externalNetwork({ id: netId(101), physicalNetwork: 'physnet-ü' })],
      subnets: [
        subnet({ id: subnetId(1), networkId: netId(1) }),
        subnet({ id: subnetId(2), networkId: netId(2) }),
        externalSubnet(),
        externalSubnet({ id: subnetId(101), networkId: netId(101), cidr: '198.51.100.0/25', gatewayIp: null }),
      ],
      ports: [],
      routers: [r1, r2],
      floatingIps: [],
    },
    { vtepIp: '192.0.2.1' },
  );
  expect(out.problems).toEqual([]);
  return [...out.tables.snat.values()].map((e) => ({ key: e.key, value: e.value }));
}

describe('snat-encode: the snat table', () => {
  const entries = rendered();

  it('render makes one local and one remote gateway', () => {
    expect(entries.map((e) => [e.value.gatewayIsLocal, e.value.enableSnat, e.value.externalNexthop])).toEqual([
      [true, true, '203.0.113.1'],
      [false, false, null],
    ]);
  });

  it('round-trips every rendered entry from the map bytes alone', () => {
    for (const e of entries) {
      const w = encodeSnat(e.key, e.value, links);
      same(decodeSnat({ key: w.snat.key, value: w.snat.value }), e);
    }
  });

  it('writes the exact bytes of a local gateway, and its external address', () => {
    const e = entries[0]!;
    const w = encodeSnat(e.key, e.value, links);
    expect(w.snat.map).toBe('xdpnet_snat');
    expect(w.snat.key).toEqual(hex(idHex(routerId(1))));
    expect(w.snat.value.toString('hex')).toBe(
      'cb007102' + // 203.0.113.2
        u32(7) +
        u32(1500) +
        '03' + // SNAT_F_ENABLED | SNAT_F_GATEWAY_LOCAL
        '01' + // flat
        '18' + // /24
        '00' +
        u32(0) +
        'cb007101' + // gateway 203.0.113.1
        'c0000201' + // VTEP 192.0.2.1
        idHex(netId(100)) +
        Buffer.from('external').toString('hex').padEnd(128, '0'),
    );
    expect(w.snat.value.length).toBe(snatInfo.size);
    expect(w.extAddr).toEqual({
      map: 'xdpnet_ext_addrs',
      key: hex('cb007102'),
      value: hex(idHex(routerId(1)) + u32(7) + '02000000eeff' + '01' + '00'),
    });
    expect(w.extAddr!.value.length).toBe(extAddr.size);
    expect(extAddrKeyOfSnat(w.snat.value)).toEqual(hex('cb007102'));
  });

  it('a gateway elsewhere needs no link and writes no external address', () => {
    const e = entries[1]!;
    const w = encodeSnat(e.key, e.value, () => {
      throw new Error('not asked');
    });
    expect(w.extAddr).toBeNull();
    expect(snatInfo.decode(w.snat.value)).toMatchObject({ ifindex: 0, mtu: 0, flags: 0, nexthop: '0.0.0.0' });
    expect(Buffer.from(snatInfo.decode(w.snat.value).physical_network).toString('utf8').replace(/\0+$/, '')).toBe('physnet-ü');
    expect(extAddrKeyOfSnat(w.snat.value)).toBeNull();
  });

  it('a local gateway on a VLAN network is written without an external address (not forwarded yet)', () => {
    const e = entries[0]!;
    const value: SnatValue = { ...e.value, externalNetworkType: 'vlan', segmentationId: 42 };
    const w = encodeSnat(e.key, value, links);
    expect(w.extAddr).toBeNull();
    same(decodeSnat({ key: w.snat.key, value: w.snat.value }), { key: e.key, value });
  });

  it('a local gateway whose physical network has no interface here is UNAVAILABLE', () => {
    const e = entries[0]!;
    expect(() => encodeSnat(e.key, e.value, () => undefined)).toThrow(ExternalLinkNotPresentError);
    expect(() => encodeSnat(e.key, { ...e.value, physicalNetwork: null }, links)).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
  });

  it('refuses values that would not read back', () => {
    const e = entries[0]!;
    const bad: [string, SnatValue, ExternalLink?][] = [
      ['external IP 0.0.0.0', { ...e.value, externalIp: '0.0.0.0' }],
      ['a next hop of 0.0.0.0 (it means none)', { ...e.value, externalNexthop: '0.0.0.0' }],
      ['prefix length 0', { ...e.value, externalPrefixLength: 0 }],
      ['a physical network name of 65 bytes', { ...e.value, physicalNetwork: 'x'.repeat(65) }],
      ['an empty physical network name', { ...e.value, physicalNetwork: '' }],
      ['an upper-case link MAC', e.value, { ...LINK, mac: '02:00:00:00:EE:FF' }],
      ['a link MTU below IPv4’s minimum', e.value, { ...LINK, mtu: 67 }],
    ];
    for (const [what, value, link] of bad) {
      expect(() => encodeSnat(e.key, value, () => link ?? LINK), what).toThrow(SnatCodecError);
    }
  });

  it('refuses map bytes that are no snat entry', () => {
    const e = entries[0]!;
    const w = encodeSnat(e.key, e.value, links);
    const poke = (offset: number, byte: number) => {
      const v = Buffer.from(w.snat.value);
      v[offset] = byte;
      return { key: w.snat.key, value: v };
    };
    expect(() => decodeSnat(poke(12, 0x80))).toThrow(/unknown flags/);
    expect(() => decodeSnat(poke(13, 9))).toThrow(/network type/);
    expect(() => decodeSnat(poke(14, 33))).toThrow(/prefix length/);
    expect(() => decodeSnat(poke(snatInfo.size - 1, 0x41))).toThrow(/after its end/);
    expect(() => decodeSnat({ key: w.snat.key, value: w.snat.value.subarray(1) })).toThrow(DataplaneError);
  });
});

describe('snat-encode: external next hops', () => {
  it('round-trips, byte-exact', () => {
    const w = encodeExtNexthop({ ifindex: 7, ip: '203.0.113.1' }, { dstMac: '02:00:00:00:ee:01', srcMac: '02:00:00:00:ee:ff' });
    expect(w).toEqual({ map: 'xdpnet_ext_nexthops', key: hex(u32(7) + 'cb007101'), value: hex('02000000ee01' + '02000000eeff') });
    expect(decodeExtNexthop(w)).toEqual({ key: { ifindex: 7, ip: '203.0.113.1' }, value: { dstMac: '02:00:00:00:ee:01', srcMac: '02:00:00:00:ee:ff' } });
    expect(() => encodeExtNexthop({ ifindex: 0, ip: '203.0.113.1' }, { dstMac: '02:00:00:00:ee:01', srcMac: '02:00:00:00:ee:ff' })).toThrow(SnatCodecError);
  });

  it('decodes a recorded miss', () => {
    const when = Buffer.alloc(8);
    if (LE) when.writeBigUInt64LE(123456789n);
    else when.writeBigUInt64BE(123456789n);
    expect(decodeExtNexthopMiss({ key: hex(u32(7) + 'cb007163'), value: when })).toEqual({ ifindex: 7, ip: '203.0.113.99', missedAtNs: 123456789n });
  });
});

describe('snat-encode: connections', () => {
  const tcp: NatConnection = {
    protocol: 'tcp',
    externalIp: '203.0.113.2',
    externalPort: 40001,
    vmIp: '10.0.0.10',
    vmPort: 33333,
    remoteIp: '198.51.100.7',
    remotePort: 443,
    vni: 100,
    vmMac: '02:00:00:00:00:0a',
  };
  const ping: NatConnection = { ...tcp, protocol: 'icmp', vmPort: 77, remotePort: 0, externalPort: 1234 };

  it('the two keys, byte-exact (ports in network order)', () => {
    const { out, in: back } = natKeys(tcp);
    expect(out.toString('hex')).toBe('0a00000a' + 'c6336407' + '8235' + '01bb' + '06' + '01' + '0000' + 'cb007102');
    expect(back.toString('hex')).toBe('c6336407' + 'cb007102' + '01bb' + '9c41' + '06' + '02' + '0000' + 'cb007102');
    expect(out.length).toBe(natKey.size);
    const icmp = natKeys(ping);
    expect(icmp.out.subarray(8, 12).toString('hex')).toBe('004d' + '0000');
    expect(icmp.in.subarray(8, 12).toString('hex')).toBe('0000' + '04d2');
  });

  it('each half round-trips, and names the other half’s key', () => {
    for (const connection of [tcp, ping]) {
      for (const direction of ['out', 'in'] as const) {
        const half: NatHalf = { direction, connection, lastSeenNs: 5_000_000_000n, flags: direction === 'out' ? NAT_F_TCP_SYN : NAT_F_REPLIED };
        const w = encodeNatHalf(half);
        expect(w.value.length).toBe(natConn.size);
        expect(decodeNatHalf(w)).toEqual(half);
        const keys = natKeys(connection);
        expect(natPartnerKey(w)).toEqual(direction === 'out' ? keys.in : keys.out);
      }
    }
  });

  it('a value that belongs to another key is refused', () => {
    const out = encodeNatHalf({ direction: 'out', connection: tcp, lastSeenNs: 1n, flags: 0 });
    const other = encodeNatHalf({ direction: 'out', connection: { ...tcp, vmPort: 1 }, lastSeenNs: 1n, flags: 0 });
    expect(() => decodeNatHalf({ key: out.key, value: other.value })).toThrow(/another connection/);
    const back = encodeNatHalf({ direction: 'in', connection: tcp, lastSeenNs: 1n, flags: 0 });
    const moved = encodeNatHalf({ direction: 'in', connection: { ...tcp, externalPort: 2 }, lastSeenNs: 1n, flags: 0 });
    expect(() => decodeNatHalf({ key: back.key, value: moved.value })).toThrow(/another connection/);
  });

  it('the state combines both halves: flags or-ed, the later time', () => {
    const out: NatHalf = { direction: 'out', connection: tcp, lastSeenNs: 10n, flags: NAT_F_TCP_SYN };
    const back: NatHalf = { direction: 'in', connection: tcp, lastSeenNs: 20n, flags: NAT_F_REPLIED | NAT_F_TCP_SYN | NAT_F_TCP_ESTABLISHED };
    expect(natState(out, undefined)).toEqual({ phase: 'tcp-opening', lastSeenNs: 10n, flags: NAT_F_TCP_SYN });
    expect(natState(out, back).phase).toBe('tcp-established');
    expect(natState({ ...out, flags: NAT_F_TCP_SYN | NAT_F_TCP_FIN }, back)).toMatchObject({ phase: 'tcp-closing', lastSeenNs: 20n });
    expect(natPhase('udp', 0)).toBe('udp-unreplied');
    expect(natPhase('udp', NAT_F_REPLIED)).toBe('udp-replied');
    expect(natPhase('icmp', NAT_F_REPLIED)).toBe('icmp');
    expect(() => natState(undefined, undefined)).toThrow(SnatCodecError);
  });

  it('refuses what no program writes', () => {
    expect(() => natKeys({ ...ping, remotePort: 1 })).toThrow(/no remote port/);
    expect(() => encodeNatHalf({ direction: 'out', connection: { ...tcp, vni: 0 }, lastSeenNs: 0n, flags: 0 })).toThrow(SnatCodecError);
    expect(() => encodeNatHalf({ direction: 'out', connection: { ...tcp, vmPort: 70000 }, lastSeenNs: 0n, flags: 0 })).toThrow(SnatCodecError);
    const w = encodeNatHalf({ direction: 'out', connection: tcp, lastSeenNs: 0n, flags: 0 });
    const key = Buffer.from(w.key);
    key[13] = 3; // direction
    expect(() => decodeNatHalf({ key, value: w.value })).toThrow(/unknown direction/);
  });
});
