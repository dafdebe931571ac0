// The little IPv4 arithmetic render needs: does a subnet contain an address,
// what is a CIDR's prefix length. Input has been validated by the model
// already, so these are lenient: anything unparsable is "no match" (null),
// never an exception — render must not crash on a state it cannot use.
//
// (src/model/ has a strict validating parser; render keeps its own tiny one so
// that it depends only on the model's types, not on its implementation.)

export interface Cidr {
  /** Network address, host bits clear, as a uint32. */
  base: number;
  prefixLength: number;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number | null {
  const m = DOTTED.exec(text);
  if (!m) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(ip: number): string {
  return `${(ip >>> 24) & 255}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

const maskOf = (prefixLength: number): number => (prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0);

/** "a.b.c.d/n" or a bare address (a /32). Host bits are cleared. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const ip = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  const prefixLength = slash < 0 ? 32 : Number(text.slice(slash + 1));
  if (ip === null || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) return null;
  return { base: (ip & maskOf(prefixLength)) >>> 0, prefixLength };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.base)}/${cidr.prefixLength}`;
}

/** Canonical CIDR text ("10.0.0.5" → "10.0.0.5/32", "10.0.0.5/24" → "10.0.0.0/24"), or null. */
export function canonicalCidr(text: string): string | null {
  const cidr = parseCidr(text);
  return cidr ? formatCidr(cidr) : null;
}

export function cidrContains(cidr: Cidr, ipText: string): boolean {
  const ip = parseIpv4(ipText);
  return ip !== null && ((ip & maskOf(cidr.prefixLength)) >>> 0) === cidr.base;
}
