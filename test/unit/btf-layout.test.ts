// The layout check itself: it must catch every kind of drift between a codec
// and the C struct, or the BTF test that relies on it proves nothing.
import { describe, expect, it } from 'vitest';
import { be32, mac, struct, u16, u32, u64, u8 } from '../../src/dataplane/codec.js';
import { layoutMismatches } from '../../src/dataplane/btf-layout.js';
import type { NativeBtfStruct } from '../../src/dataplane/native.js';

const codec = struct('demo', { ifindex: u32, mac, vlan: u16, addr: be32, flags: u8, counter: u64 });

// What clang makes of the same struct in C.
const cStruct = (): NativeBtfStruct => ({
  size: 32,
  members: [
    { name: 'ifindex', bitOffset: 0, bitfieldSize: 0, size: 4, typeName: '__u32' },
    { name: 'mac', bitOffset: 32, bitfieldSize: 0, size: 6, typeName: '__u8[6]' },
    { name: 'vlan', bitOffset: 80, bitfieldSize: 0, size: 2, typeName: '__u16' },
    { name: 'addr', bitOffset: 96, bitfieldSize: 0, size: 4, typeName: '__be32' },
    { name: 'flags', bitOffset: 128, bitfieldSize: 0, size: 1, typeName: '__u8' },
    { name: 'counter', bitOffset: 192, bitfieldSize: 0, size: 8, typeName: '__u64' },
  ],
});

describe('layoutMismatches', () => {
  it('accepts a codec laid out as C lays out the struct (alignment and tail padding)', () => {
    expect(codec.size).toBe(32);
    expect(layoutMismatches(codec, cStruct())).toEqual([]);
  });

  it('reports a size change', () => {
    const c = { ...cStruct(), size: 40 };
    expect(layoutMismatches(codec, c)).toEqual(['struct demo: size 32 in TypeScript, 40 in C']);
  });

  it('reports a moved field', () => {
    const c = cStruct();
    c.members[3] = { ...c.members[3]!, bitOffset: 104 };
    expect(layoutMismatches(codec, c)).toContain('struct demo.addr: offset 12 in TypeScript, 13 in C');
  });

  it('reports renamed, added or reordered fields', () => {
    const c = cStruct();
    c.members.reverse();
    expect(layoutMismatches(codec, c)[0]).toMatch(/fields \[ifindex, mac, vlan, addr, flags, counter\] in TypeScript, \[counter,/);
  });

  it('reports a byte-order mismatch (__be32 in C, host-order codec in TS)', () => {
    const c = cStruct();
    c.members[0] = { ...c.members[0]!, typeName: '__be32' };
    expect(layoutMismatches(codec, c)).toEqual([
      'struct demo.ifindex: C type __be32 does not match the codec (expects __u32 or unsigned int or u32)',
    ]);
  });

  it('reports a field whose size changed', () => {
    const c = cStruct();
    c.members[2] = { ...c.members[2]!, size: 4, typeName: '__u32' };
    const problems = layoutMismatches(codec, c);
    expect(problems).toContain('struct demo.vlan: size 2 in TypeScript, 4 in C');
  });

  it('refuses bitfields', () => {
    const c = cStruct();
    c.members[4] = { ...c.members[4]!, bitfieldSize: 3 };
    expect(layoutMismatches(codec, c)).toContain('struct demo.flags: is a bitfield in C, which codecs do not model');
  });
});
