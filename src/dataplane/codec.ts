// Fixed-layout codecs for structs shared with BPF C.
//
// A struct codec lists its fields in C declaration order; offsets follow the C
// rules for natural alignment, so the codec mirrors what clang lays out. The
// C header stays the source of truth: test/bpf/layouts.test.ts checks every
// codec's size, field names, offsets, sizes and byte order against the BTF of
// the compiled objects, so a C change that breaks the layout fails a test.
//
// Byte order is part of the field type: host-order fields (`u16`, `u32`,
// `u64`) are what BPF code writes as plain integers; network-order fields
// (`be16`, `be32`, `ipv4`) are what it copies to or from packet headers.

import { endianness } from 'node:os';
import { isIPv4 } from 'node:net';

const HOST_LE = endianness() === 'LE';

export interface Codec<T> {
  readonly size: number;
  readonly align: number;
  /** BTF type names this field may have in C (typedef names kept), for the layout check. */
  readonly cTypes: readonly string[];
  read(buf: Buffer, offset: number): T;
  write(buf: Buffer, offset: number, value: T): void;
}

function scalar<T>(size: number, cTypes: string[], read: Codec<T>['read'], write: Codec<T>['write']): Codec<T> {
  return { size, align: size, cTypes, read, write };
}

function checkUint(value: number, bits: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${value} is not a ${bits}-bit unsigned integer`);
  }
  return value;
}

export const u8 = scalar<number>(1, ['__u8', 'unsigned char', 'u8'],
  (b, o) => b.readUInt8(o), (b, o, v) => b.writeUInt8(checkUint(v, 8), o));

export const bool = scalar<boolean>(1, ['bool', '_Bool', '__u8'],
  (b, o) => b.readUInt8(o) !== 0, (b, o, v) => b.writeUInt8(v ? 1 : 0, o));

export const u16 = scalar<number>(2, ['__u16', 'unsigned short', 'u16'],
  (b, o) => (HOST_LE ? b.readUInt16LE(o) : b.readUInt16BE(o)),
  (b, o, v) => void (HOST_LE ? b.writeUInt16LE(checkUint(v, 16), o) : b.writeUInt16BE(checkUint(v, 16), o)));

export const u32 = scalar<number>(4, ['__u32', 'unsigned int', 'u32'],
  (b, o) => (HOST_LE ? b.readUInt32LE(o) : b.readUInt32BE(o)),
  (b, o, v) => void (HOST_LE ? b.writeUInt32LE(checkUint(v, 32), o) : b.writeUInt32BE(checkUint(v, 32), o)));

export const u64 = scalar<bigint>(8, ['__u64', 'unsigned long long', 'u64'],
  (b, o) => (HOST_LE ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)),
  (b, o, v) => void (HOST_LE ? b.writeBigUInt64LE(v, o) : b.writeBigUInt64BE(v, o)));

export const be16 = scalar<number>(2, ['__be16'],
  (b, o) => b.readUInt16BE(o), (b, o, v) => void b.writeUInt16BE(checkUint(v, 16), o));

export const be32 = scalar<number>(4, ['__be32'],
  (b, o) => b.readUInt32BE(o), (b, o, v) => void b.writeUInt32BE(checkUint(v, 32), o));

/** An IPv4 address as dotted quad, stored in network byte order (`__be32`). */
export const ipv4 = scalar<string>(4, ['__be32'],
  (b, o) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`,
  (b, o, v) => {
    if (!isIPv4(v)) throw new RangeError(`${JSON.stringify(v)} is not an IPv4 address`);
    v.split('.').forEach((octet, i) => b.writeUInt8(Number(octet), o + i));
  });

/** A MAC address as "aa:bb:cc:dd:ee:ff" (`__u8 x[6]`). */
export const mac: Codec<string> = {
  size: 6,
  align: 1,
  cTypes: ['__u8[6]', 'unsigned char[6]'],
  read: (b, o) => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':'),
  write: (b, o, v) => {
    const octets = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(v) ? v.split(':') : undefined;
    if (!octets) throw new RangeError(`${JSON.stringify(v)} is not a MAC address`);
    octets.forEach((octet, i) => b.writeUInt8(parseInt(octet, 16), o + i));
  },
};

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A UUID as canonical lower-case text, stored as its 16 bytes (`__u8 x[16]`). */
export const uuid: Codec<string> = {
  size: 16,
  align: 1,
  cTypes: ['__u8[16]', 'unsigned char[16]'],
  read: (b, o) => {
    const h = b.toString('hex', o, o + 16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  },
  write: (b, o, v) => {
    if (!UUID_TEXT.test(v)) throw new RangeError(`${JSON.stringify(v)} is not a canonical (lower-case) UUID`);
    Buffer.from(v.replaceAll('-', ''), 'hex').copy(b, o);
  },
};

/** Opaque bytes (`__u8 x[n]`), e.g. explicit padding; written as given, zero-filled if short. */
export function bytes(n: number): Codec<Buffer> {
  return {
    size: n,
    align: 1,
    cTypes: [`__u8[${n}]`, `unsigned char[${n}]`],
    read: (b, o) => Buffer.from(b.subarray(o, o + n)),
    write: (b, o, v) => {
      if (v.length > n) throw new RangeError(`${v.length} bytes do not fit in a ${n}-byte field`);
      b.fill(0, o, o + n);
      v.copy(b, o);
    },
  };
}

export interface FieldLayout {
  readonly name: string;
  readonly offset: number;
  readonly codec: Codec<unknown>;
}

/** What the BTF layout check needs to know of a struct codec. */
export interface StructLayout {
  /** The C struct name (without `struct`), as it appears in BTF. */
  readonly cName: string;
  readonly size: number;
  readonly fields: readonly FieldLayout[];
}

export interface StructCodec<T> extends Codec<T>, StructLayout {
  encode(value: T): Buffer;
  decode(buf: Buffer, offset?: number): T;
}

type FieldCodecs<T> = { [K in keyof T]: Codec<T[K]> };

const alignUp = (n: number, align: number): number => Math.ceil(n / align) * align;

/**
 * A struct codec. Fields are laid out in the order given, each at the next
 * offset aligned to its own alignment; the size is rounded up to the largest
 * alignment, exactly as C does. Padding bytes are written as zero, which
 * matters for hash map keys: the kernel compares keys byte for byte.
 */
export function struct<T extends object>(cName: string, fieldCodecs: FieldCodecs<T>): StructCodec<T> {
  const fields: FieldLayout[] = [];
  let offset = 0;
  let align = 1;
  for (const [name, codec] of Object.entries(fieldCodecs) as [string, Codec<unknown>][]) {
    offset = alignUp(offset, codec.align);
    fields.push({ name, offset, codec });
    offset += codec.size;
    align = Math.max(align, codec.align);
  }
  const size = alignUp(offset, align);

  const read = (buf: Buffer, at: number): T => {
    const out: Record<string, unknown> = {};
    for (const f of fields) out[f.name] = f.codec.read(buf, at + f.offset);
    return out as T;
  };
  const write = (buf: Buffer, at: number, value: T): void => {
    buf.fill(0, at, at + size);
    for (const f of fields) {
      const v = (value as Record<string, unknown>)[f.name];
      if (v === undefined) throw new TypeError(`struct ${cName}: field ${f.name} is missing`);
      f.codec.write(buf, at + f.offset, v);
    }
  };
  return {
    cName,
    size,
    align,
    cTypes: [`struct ${cName}`],
    fields,
    read,
    write,
    encode(value: T): Buffer {
      const buf = Buffer.alloc(size);
      write(buf, 0, value);
      return buf;
    },
    decode(buf: Buffer, at = 0): T {
      if (buf.length - at < size) throw new RangeError(`struct ${cName}: need ${size} bytes, have ${buf.length - at}`);
      return read(buf, at);
    },
  };
}

/** Encodes/decodes a bare scalar as a whole buffer (map keys such as `__u32`). */
export function encode<T>(codec: Codec<T>, value: T): Buffer {
  const buf = Buffer.alloc(codec.size);
  codec.write(buf, 0, value);
  return buf;
}

export function decode<T>(codec: Codec<T>, buf: Buffer, offset = 0): T {
  if (buf.length - offset < codec.size) throw new RangeError(`need ${codec.size} bytes, have ${buf.length - offset}`);
  return codec.read(buf, offset);
}
