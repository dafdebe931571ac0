// RFC 1071 Internet checksum and RFC 1624 incremental update.
import { ipv4Bytes, type Ipv4Input } from './addr.js';

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Ones'-complement sum of big-endian 16-bit words, folded to 16 bits, added to
 * `initial` (a previous onesSum, e.g. of a pseudo-header). An odd trailing byte
 * is padded with zero, so only the last chunk of a multi-part sum may be odd.
 */
export function onesSum(buf: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length % 2 === 1) sum += buf[buf.length - 1]! << 8;
  return fold(sum);
}

/**
 * Internet checksum (RFC 1071): complement of the ones'-complement sum.
 * Over a region that already contains a correct checksum field this is 0,
 * which is how the parser validates.
 */
export function internetChecksum(buf: Uint8Array, initial = 0): number {
  return ~onesSum(buf, initial) & 0xffff;
}

/** Sum of the IPv4 pseudo-header used by UDP and TCP checksums (RFC 768/793). */
export function pseudoHeaderSum(src: Ipv4Input, dst: Ipv4Input, protocol: number, length: number): number {
  const ph = Buffer.alloc(12);
  ipv4Bytes(src).copy(ph, 0);
  ipv4Bytes(dst).copy(ph, 4);
  ph[9] = protocol;
  ph.writeUInt16BE(length, 10);
  return onesSum(ph);
}

/**
 * UDP/TCP checksum of `segment` (header with its checksum field zeroed, plus
 * payload). Note UDP transmits a computed 0 as 0xffff because 0 means "no
 * checksum" (RFC 768); this function returns the raw value, callers map it.
 */
export function transportChecksum(src: Ipv4Input, dst: Ipv4Input, protocol: number, segment: Uint8Array): number {
  return internetChecksum(segment, pseudoHeaderSum(src, dst, protocol, segment.length));
}

/**
 * RFC 1624 eqn. 3 for one 16-bit word: HC' = ~(~HC + ~m + m'). Unlike
 * RFC 1141's HC + m + ~m', it never yields ffff where a full recompute gives 0000.
 */
export function checksumUpdate16(check: number, oldWord: number, newWord: number): number {
  return ~fold((~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/**
 * RFC 1624 update for a changed byte span (e.g. an IPv4 address: 4 bytes,
 * also covered by the UDP/TCP pseudo-header). The span must start at an even
 * offset within the checksummed data; old and new must have the same length.
 * For UDP, keep a 0 checksum as 0 (absent) and map a 0 result to 0xffff, as
 * Linux does with CSUM_MANGLED_0.
 */
export function checksumUpdate(check: number, oldBytes: Uint8Array, newBytes: Uint8Array): number {
  if (oldBytes.length !== newBytes.length) throw new Error('checksumUpdate: old/new length differ');
  const oldSum = onesSum(oldBytes);
  return ~fold((~check & 0xffff) + (~oldSum & 0xffff) + onesSum(newBytes)) & 0xffff;
}
