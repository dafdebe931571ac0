import { describe, expect, it } from 'vitest';
import { be16, bytes, decode, encode, ipv4, mac, struct, u16, u32, u64, u8, bool, uuid } from '../../src/dataplane/codec.js';
import { encodeRodata } from '../../src/dataplane/object.js';

describe('struct codecs', () => {
  const key = struct('fdb_key', { vni: u32, mac, pad: bytes(2) });

  it('lays out fields with C alignment and zero padding', () => {
    const buf = key.encode({ vni: 100, mac: '02:00:00:00:00:0a', pad: Buffer.alloc(0) });
    expect(key.size).toBe(12);
    expect(buf.toString('hex')).toBe('64000000' + '02000000000a' + '0000');
  });

  it('round-trips every field type', () => {
    const all = struct('all', { a: u8, b: u16, c: u32, d: u64, e: be16, f: ipv4, g: mac, h: bool, i: uuid });
    const value = { a: 255, b: 65535, c: 4_000_000_000, d: 2n ** 63n, e: 4789, f: '192.0.2.1', g: 'aa:bb:cc:dd:ee:ff', h: true, i: '0b3c1a52-6f0e-4d7e-9a55-2c1d1e4f9a01' };
    expect(all.decode(all.encode(value))).toEqual(value);
  });

  it('writes network-order fields big-endian and host-order fields in host order', () => {
    expect(encode(be16, 4789).toString('hex')).toBe('12b5');
    expect(encode(ipv4, '10.0.0.1').toString('hex')).toBe('0a000001');
    expect(decode(u32, Buffer.from('01000000', 'hex'))).toBe(1); // x86 is little-endian
  });

  it('refuses values that do not fit instead of truncating them', () => {
    expect(() => encode(u8, 256)).toThrow(RangeError);
    expect(() => encode(u16, -1)).toThrow(RangeError);
    expect(() => encode(u32, 1.5)).toThrow(RangeError);
    expect(() => encode(ipv4, '10.0.0.256')).toThrow(/not an IPv4 address/);
    expect(() => encode(mac, '02:00:00:00:00')).toThrow(/not a MAC address/);
    expect(() => encode(uuid, '0B3C1A52-6F0E-4D7E-9A55-2C1D1E4F9A01')).toThrow(/not a canonical \(lower-case\) UUID/);
    expect(() => key.encode({ vni: 1, mac: '02:00:00:00:00:01' } as never)).toThrow(/field pad is missing/);
    expect(() => key.decode(Buffer.alloc(11))).toThrow(/need 12 bytes/);
  });
});

describe('encodeRodata', () => {
  it('encodes numbers and booleans at the variable size in host order', () => {
    expect(encodeRodata('x', 0x01020304, 4).toString('hex')).toBe('04030201');
    expect(encodeRodata('x', true, 1).toString('hex')).toBe('01');
    expect(encodeRodata('x', 2n ** 40n, 8).toString('hex')).toBe('0000000000010000');
  });

  it('refuses values that do not fit the C variable', () => {
    expect(() => encodeRodata('x', 256, 1)).toThrow(/8-bit unsigned value; 256 does not fit/);
    expect(() => encodeRodata('x', -1, 4)).toThrow(/does not fit/);
    expect(() => encodeRodata('x', Buffer.alloc(3), 4)).toThrow(/4 bytes, got a 3-byte buffer/);
    expect(() => encodeRodata('x', 1, 6)).toThrow(/pass a Buffer/);
  });
});
