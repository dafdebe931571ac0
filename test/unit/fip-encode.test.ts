// src/dataplane/fip-encode.ts: the floatingIps and fixedToFloating tables as
// map bytes and back, with the floating IP's xdpnet_ext_addrs entry. Round
// trips of what render() really produces, byte-exact encodings written out by
// hand, the map key found among entries for a delete, and the typed errors.
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DataplaneError } from '../../src/reconciler/dataplane.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import { render } from '../../src/reconciler/render.js';
import type { FloatingIpValue, SnatValue, TableKey, TableValue } from '../../src/reconciler/tables.js';
import {
  FipCodecError,
  FloatingIpGatewayUnknownError,
  decodeExtAddr,
  decodeFixedToFloating,
  decodeFloatingIp,
  encodeFixedToFloating,
  encodeFloatingIp,
  extAddrKeyOfFloatingIp,
  fixedToFloatingMapKey,
  floatingIpMapKey,
  floatingIpMapKeyIn,
} from '../../src/dataplane/fip-encode.js';
import { EXT_ADDR_FLOATING, extAddr, fipIn, fipKey, fipOut } from '../../src/dataplane/layouts.js';
import { type ExternalLink, ExternalLinkNotPresentError, encodeSnat } from '../../src/dataplane/snat-encode.js';
import { GATEWAY, externalNetwork, externalSubnet, fipId, floatingIp, netId, network, port, portId, router, routerId, subnet, subnetId } from '../helpers/world.js';

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
const notAsked = () => {
  throw new Error('not asked');
};

type Sample<T extends 'floatingIps' | 'fixedToFloating' | 'snat'> = { key: TableKey<T>; value: TableValue<T> };

/**
 * What render() makes on node 192.0.2.10 for: router 1 (gateway here) with
 * floating IPs 203.0.113.50 (port 1, 10.0.0.10) and .51 (port 2, 10.0.0.11,
 * its second fixed IP named); router 2 (gateway on 192.0.2.20, the same
 * tenant addressing on its own network) with 198.51.100.50 (port 3,
 * 10.0.0.10); and an unassociated floating IP, which renders nothing.
 */
function rendered() {
  const r1 = router({ id: routerId(1), interfaces: [{ subnetId: subnetId(1), ipAddress: '10.0.0.1' }], externalGateway: { ...GATEWAY } });
  const r2 = router({
    id: routerId(2),
    interfaces: [{ subnetId: subnetId(2), ipAddress: '10.0.0.1' }],
    externalGateway: { networkId: netId(101), ipAddress: '198.51.100.9', enableSnat: false, gatewayNodeVtepIp: '192.0.2.20' },
  });
  const out = render(
    {
      networks: [network({ id: netId(1) }), network({ id: netId(2), segmentationId: 2002 }), externalNetwork(), externalNetwork({ id: netId(101), physicalNetwork: 'other' })],
      subnets: [
        subnet({ id: subnetId(1), networkId: netId(1) }),
        subnet({ id: subnetId(2), networkId: netId(2) }),
        externalSubnet(),
        externalSubnet({ id: subnetId(101), networkId: netId(101), cidr: '198.51.100.0/24', gatewayIp: '198.51.100.1' }),
      ],
      ports: [
        port({ id: portId(1), networkId: netId(1), binding: { kind: 'local', interfaceName: 'tap1' } }),
        port({
          id: portId(2),
          networkId: netId(1),
          macAddress: 'fa:16:3e:00:00:02',
          fixedIps: [
            { subnetId: subnetId(1), ipAddress: '10.0.0.20' },
            { subnetId: subnetId(1), ipAddress: '10.0.0.11' },
          ],
          binding: { kind: 'remote', vtepIp: '192.0.2.30' },
        }),
        port({ id: portId(3), networkId: netId(2), fixedIps: [{ subnetId: subnetId(2), ipAddress: '10.0.0.10' }], binding: { kind: 'remote', vtepIp: '192.0.2.30' } }),
      ],
      routers: [r1, r2],
      floatingIps: [
        floatingIp({ id: fipId(1), floatingIpAddress: '203.0.113.50', portId: portId(1), fixedIpAddress: '10.0.0.10' }),
        floatingIp({ id: fipId(2), floatingIpAddress: '203.0.113.51', portId: portId(2), fixedIpAddress: '10.0.0.11' }),
        floatingIp({ id: fipId(3), floatingNetworkId: netId(101), floatingIpAddress: '198.51.100.50', portId: portId(3), fixedIpAddress: '10.0.0.10' }),
        floatingIp({ id: fipId(4), floatingIpAddress: '203.0.113.52', portId: null, fixedIpAddress: null }),
      ],
    },
    { vtepIp: '192.0.2.10' },
  );
  expect(out.problems).toEqual([]);
  const pick = <T extends 'floatingIps' | 'fixedToFloating' | 'snat'>(t: T) =>
    [...out.tables[t].values()].map((e) => ({ key: e.key, value: e.value })) as Sample<T>[];
  return { fips: pick('floatingIps'), fixed: pick('fixedToFloating'), snat: pick('snat') };
}

describe('fip-encode: floatingIps', () => {
  const { fips, snat } = rendered();
  const snatOf = (id: string) => snat.find((s) => s.key.routerId === id)?.value;

  it('render makes three associated floating IPs, two with their gateway here', () => {
    expect(fips.map((e) => [e.key.floatingIpAddress, e.value.fixedIpAddress, e.value.vni, e.value.gatewayIsLocal])).toEqual([
      ['203.0.113.50', '10.0.0.10', 1001, true],
      ['203.0.113.51', '10.0.0.11', 1001, true],
      ['198.51.100.50', '10.0.0.10', 2002, false],
    ]);
  });

  it('round-trips every rendered entry from the map bytes alone', () => {
    for (const e of fips) {
      const w = encodeFloatingIp(e.key, e.value, snatOf(e.value.routerId), links);
      same(decodeFloatingIp({ key: w.fipIn.key, value: w.fipIn.value }), e);
    }
  });

  it('writes the exact bytes of a floating IP whose gateway is here, and its external address', () => {
    const e = fips[0]!;
    const w = encodeFloatingIp(e.key, e.value, snatOf(routerId(1)), links);
    expect(w.fipIn.map).toBe('xdpnet_fip_in');
    expect(w.fipIn.key.toString('hex')).toBe(idHex(routerId(1)) + 'cb007132'); // router, 203.0.113.50
    expect(w.fipIn.key.length).toBe(fipKey.size);
    expect(w.fipIn.value.toString('hex')).toBe(
      '0a00000a' + // fixed IP 10.0.0.10
        u32(1001) +
        'c000020a' + // gateway VTEP 192.0.2.10
        '01' + // FIP_F_GATEWAY_LOCAL
        '000000' +
        idHex(portId(1)) +
        idHex(netId(100)),
    );
    expect(w.fipIn.value.length).toBe(fipIn.size);
    expect(w.extAddr).toEqual({
      map: 'xdpnet_ext_addrs',
      key: hex('cb007132'),
      value: hex(idHex(routerId(1)) + u32(7) + '02000000eeff' + '02' + '00'), // EXT_ADDR_FLOATING
    });
    expect(w.extAddr!.value.length).toBe(extAddr.size);
    expect(extAddrKeyOfFloatingIp(w.fipIn.key)).toEqual(w.extAddr!.key);
  });

  it('the external address is the same NIC and MAC as the router’s gateway IP, only the kind differs', () => {
    const s = snat.find((x) => x.key.routerId === routerId(1))!;
    const gw = encodeSnat(s.key, s.value, links).extAddr!;
    const e = fips[0]!;
    const fip = encodeFloatingIp(e.key, e.value, s.value, links).extAddr!;
    expect(decodeExtAddr(gw)).toEqual({ ip: '203.0.113.2', kind: 'gateway', routerId: routerId(1), ifindex: 7, mac: LINK.mac });
    expect(decodeExtAddr(fip)).toEqual({ ip: '203.0.113.50', kind: 'floating', routerId: routerId(1), ifindex: 7, mac: LINK.mac });
  });

  it('a gateway elsewhere asks for nothing and writes no external address', () => {
    const e = fips[2]!;
    const w = encodeFloatingIp(e.key, e.value, undefined, notAsked);
    expect(w.extAddr).toBeNull();
    expect(fipIn.decode(w.fipIn.value)).toMatchObject({ flags: 0, gateway_vtep: '192.0.2.20', vni: 2002 });
  });

  it('a gateway here on a VLAN external network: the translation is written, no external address (not forwarded yet)', () => {
    const e = fips[0]!;
    const vlan: SnatValue = { ...snatOf(routerId(1))!, externalNetworkType: 'vlan', segmentationId: 42 };
    const w = encodeFloatingIp(e.key, e.value, vlan, notAsked);
    expect(w.extAddr).toBeNull();
    same(decodeFloatingIp(w.fipIn), e);
  });

  it('a gateway here without the router’s snat entry, or without the NIC: UNAVAILABLE, retried later', () => {
    const e = fips[0]!;
    expect(() => encodeFloatingIp(e.key, e.value, undefined, links)).toThrow(FloatingIpGatewayUnknownError);
    expect(() => encodeFloatingIp(e.key, e.value, undefined, links)).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
    expect(() => encodeFloatingIp(e.key, e.value, snatOf(routerId(1)), () => undefined)).toThrow(ExternalLinkNotPresentError);
  });

  it('refuses values that would not read back, or a router on another external network', () => {
    const e = fips[0]!;
    const s = snatOf(routerId(1))!;
    const bad: [string, FloatingIpValue, SnatValue?][] = [
      ['fixed IP 0.0.0.0', { ...e.value, fixedIpAddress: '0.0.0.0' }],
      ['a non-canonical fixed IP', { ...e.value, fixedIpAddress: '10.0.0.010' }],
      ['VNI 0', { ...e.value, vni: 0 }],
      ['a VNI of 25 bits', { ...e.value, vni: 0x1000000 }],
      ['gateway VTEP 0.0.0.0', { ...e.value, gatewayVtepIp: '0.0.0.0' }],
      ['a router id that is no UUID', { ...e.value, routerId: 'router-1' }],
      ['the router’s external network is another', e.value, { ...s, externalNetworkId: netId(101) }],
    ];
    for (const [what, value, sv] of bad) expect(() => encodeFloatingIp(e.key, value, sv ?? s, links), what).toThrow(FipCodecError);
    expect(() => encodeFloatingIp({ ...e.key, floatingIpAddress: '0.0.0.0' }, e.value, s, links)).toThrow(FipCodecError);
  });

  it('refuses map bytes that are no floatingIps entry', () => {
    const e = fips[0]!;
    const w = encodeFloatingIp(e.key, e.value, snatOf(routerId(1)), links).fipIn;
    const poke = (offset: number, byte: number) => {
      const v = Buffer.from(w.value);
      v[offset] = byte;
      return { key: w.key, value: v };
    };
    expect(() => decodeFloatingIp(poke(12, 0x80))).toThrow(/unknown flags/);
    expect(() => decodeFloatingIp(poke(13, 1))).toThrow(/padding/);
    expect(() => decodeFloatingIp({ key: w.key, value: Buffer.alloc(fipIn.size) })).toThrow(/out of range/);
    expect(() => decodeFloatingIp({ key: w.key, value: w.value.subarray(1) })).toThrow(DataplaneError);
  });

  it('the map key of a table key is found among the map’s entries (bad entries skipped), for a delete or a move', () => {
    const writes = fips.map((e) => encodeFloatingIp(e.key, e.value, snatOf(e.value.routerId), links).fipIn);
    const entries = [{ key: Buffer.alloc(3), value: Buffer.alloc(1) }, ...writes];
    for (const [i, e] of fips.entries()) expect(floatingIpMapKeyIn(entries, e.key), e.key.floatingIpAddress).toEqual(writes[i]!.key);
    expect(floatingIpMapKeyIn(entries, { floatingNetworkId: netId(101), floatingIpAddress: '203.0.113.50' }), 'the same address on another network').toBeUndefined();
    expect(floatingIpMapKey(routerId(1), '203.0.113.50')).toEqual(writes[0]!.key);
  });

  it('every floating IP is its own keys: association writes touch no other', () => {
    const keys = fips.flatMap((e) => {
      const w = encodeFloatingIp(e.key, e.value, snatOf(e.value.routerId), links);
      return [w.fipIn, w.extAddr].filter((x) => x !== null).map((x) => `${x.map}/${x.key.toString('hex')}`);
    });
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('fip-encode: fixedToFloating', () => {
  const { fixed } = rendered();

  it('render makes one entry per associated floating IP, keyed by router and fixed IP', () => {
    expect(fixed.map((e) => [e.key.routerId, e.key.fixedIpAddress, e.value.floatingIpAddress])).toEqual([
      [routerId(1), '10.0.0.10', '203.0.113.50'],
      [routerId(1), '10.0.0.11', '203.0.113.51'],
      [routerId(2), '10.0.0.10', '198.51.100.50'],
    ]);
  });

  it('round-trips, byte-exact', () => {
    for (const e of fixed) same(decodeFixedToFloating(encodeFixedToFloating(e.key, e.value)), e);
    const w = encodeFixedToFloating(fixed[0]!.key, fixed[0]!.value);
    expect(w).toEqual({
      map: 'xdpnet_fip_out',
      key: hex(idHex(routerId(1)) + '0a00000a'),
      value: hex('cb007132' + idHex(netId(100))),
    });
    expect(w.value.length).toBe(fipOut.size);
    expect(fixedToFloatingMapKey(fixed[0]!.key)).toEqual(w.key);
  });

  it('two routers with the same fixed IP are two keys', () => {
    const a = encodeFixedToFloating(fixed[0]!.key, fixed[0]!.value);
    const b = encodeFixedToFloating(fixed[2]!.key, fixed[2]!.value);
    expect(a.key.subarray(16)).toEqual(b.key.subarray(16));
    expect(a.key).not.toEqual(b.key);
  });

  it('refuses what would not read back', () => {
    const e = fixed[0]!;
    expect(() => encodeFixedToFloating({ ...e.key, fixedIpAddress: '0.0.0.0' }, e.value)).toThrow(FipCodecError);
    expect(() => encodeFixedToFloating(e.key, { ...e.value, floatingIpAddress: '203.0.113' })).toThrow(FipCodecError);
    expect(() => encodeFixedToFloating(e.key, { ...e.value, floatingNetworkId: 'net' })).toThrow(FipCodecError);
    expect(() => decodeFixedToFloating({ key: Buffer.alloc(fipKey.size), value: Buffer.alloc(fipOut.size) })).toThrow(FipCodecError);
    expect(() => decodeFixedToFloating({ key: Buffer.alloc(4), value: Buffer.alloc(fipOut.size) })).toThrow(/20 bytes/);
  });
});

describe('fip-encode: xdpnet_ext_addrs read back', () => {
  it('refuses an unknown kind', () => {
    const value = extAddr.encode({ router_id: routerId(1), ifindex: 7, mac: LINK.mac, kind: 9, pad: 0 });
    expect(() => decodeExtAddr({ key: hex('cb007132'), value })).toThrow(/unknown kind 9/);
    expect(EXT_ADDR_FLOATING).toBe(2);
  });
});
