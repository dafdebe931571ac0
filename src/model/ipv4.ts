// IPv4 addresses and CIDRs: parsing to numbers, formatting back to canonical
// text, and the arithmetic validation needs. Pure; no exceptions: parsers
// return a result that carries a reason a person can act on.
//
// An address is a uint32 held in a JS number (always >>> 0, never negative).

export type Ipv4 = number;

export interface Cidr {
  /** The network address (host bits clear). */
  readonly base: Ipv4;
  /** 0..32 */
  readonly prefix: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Strict dotted quad: four decimal octets 0..255, no leading zeros, nothing else. */
export function parseIpv4(text: string): Parsed<Ipv4> {
  if (typeof text !== 'string') return fail('must be a string');
  if (text === '') return fail('is required (an IPv4 address such as 10.0.0.1)');
  const m = DOTTED.exec(text);
  if (!m) return fail(`"${clip(text)}" is not an IPv4 address (expected four decimal octets such as 10.0.0.1)`);
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = m[i] as string;
    if (octet.length > 1 && octet.startsWith('0')) {
      return fail(`"${text}" has a leading zero in an octet, which some parsers read as octal; write ${octet} as ${Number(octet)}`);
    }
    const n = Number(octet);
    if (n > 255) return fail(`"${text}" has an octet above 255`);
    value = value * 256 + n;
  }
  return ok(value);
}

export function formatIpv4(ip: Ipv4): string {
  return `${(ip >>> 24) & 255}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** The netmask of a prefix length, as a uint32. */
export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * "a.b.c.d/n" with the host bits clear. A CIDR with host bits set
 * ("10.0.0.5/24") is refused rather than silently truncated: the caller almost
 * certainly meant something else.
 */
export function parseCidr(text: string): Parsed<Cidr> {
  if (typeof text !== 'string') return fail('must be a string');
  if (text === '') return fail('is required (a CIDR such as 10.0.0.0/24)');
  const slash = text.indexOf('/');
  if (slash < 0) return fail(`"${clip(text)}" is not a CIDR: the prefix length is missing (e.g. 10.0.0.0/24)`);
  const address = parseIpv4(text.slice(0, slash));
  if (!address.ok) return fail(`"${clip(text)}" is not a CIDR: ${address.reason}`);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,2}$/.test(prefixText) || (prefixText.length > 1 && prefixText.startsWith('0')) || Number(prefixText) > 32) {
    return fail(`"${clip(text)}" is not a CIDR: the prefix length must be a whole number 0..32`);
  }
  const prefix = Number(prefixText);
  const base = (address.value & maskOf(prefix)) >>> 0;
  if (base !== address.value) {
    return fail(
      `"${text}" has host bits set: the network of ${formatIpv4(address.value)}/${prefix} is ${formatIpv4(base)}/${prefix}; give the network address`,
    );
  }
  return ok({ base, prefix });
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

/** An address ("10.0.0.1") or a CIDR ("10.0.0.0/24"): the shape of an allowed address pair. */
export function parseAddressOrCidr(text: string): Parsed<{ text: string }> {
  if (typeof text === 'string' && text.includes('/')) {
    const c = parseCidr(text);
    return c.ok ? ok({ text: formatCidr(c.value) }) : c;
  }
  const a = parseIpv4(text);
  return a.ok ? ok({ text: formatIpv4(a.value) }) : a;
}

export function cidrContains(c: Cidr, ip: Ipv4): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const shorter = Math.min(a.prefix, b.prefix);
  const m = maskOf(shorter);
  return ((a.base & m) >>> 0) === ((b.base & m) >>> 0);
}

export function networkAddress(c: Cidr): Ipv4 {
  return c.base;
}

export function broadcastAddress(c: Cidr): Ipv4 {
  return (c.base | ~maskOf(c.prefix)) >>> 0;
}

/** The first address after the network address (meaningful for prefixes up to /30). */
export function firstHost(c: Cidr): Ipv4 {
  return (c.base + 1) >>> 0;
}

/** The last address before the broadcast address (meaningful for prefixes up to /30). */
export function lastHost(c: Cidr): Ipv4 {
  return (broadcastAddress(c) - 1) >>> 0;
}

/**
 * Why an address cannot be a unicast host on the underlay (a VTEP), or null if
 * it can: not 0.0.0.0/8 ("this network"), loopback, multicast, or class E
 * (which includes the limited broadcast address).
 */
export function whyNotUnicastHost(ip: Ipv4): string | null {
  const first = ip >>> 24;
  if (first === 0) return `${formatIpv4(ip)} is in 0.0.0.0/8 ("this network"), not a host address`;
  if (first === 127) return `${formatIpv4(ip)} is a loopback address`;
  if (first >= 224 && first <= 239) return `${formatIpv4(ip)} is a multicast address`;
  if (first >= 240) return `${formatIpv4(ip)} is reserved (class E or broadcast), not a host address`;
  return null;
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
