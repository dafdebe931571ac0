// Parsers for option values: the openstack-style `key=value,key=value` specs
// (--fixed-ip, --host-route, --allowed-address, --route), integers and
// choices. They only check syntax — what the CLI itself defines. Whether an
// address or UUID is valid is the daemon's call (one source of truth, one
// wording); its INVALID_ARGUMENT names the field.
//
// Every failure is commander's InvalidArgumentError, so a malformed value is
// a usage error: commander prints "option '--fixed-ip <spec>' argument ... is
// invalid. <reason>" and the CLI exits 2.

import { InvalidArgumentError } from 'commander';

export interface SpecKey {
  /** The canonical key, as written in help and error messages, e.g. "ip-address". */
  name: string;
  required: boolean;
  /** Other spellings accepted for operators' muscle memory, e.g. "nexthop" for "gateway". */
  aliases?: string[];
}

/** Keys compare without regard to case or to '-' versus '_' (ip-address = ip_address = IP_ADDRESS). */
const normalizeKey = (key: string): string => key.trim().toLowerCase().replaceAll('_', '-');

/**
 * Parses "k1=v1,k2=v2" against the allowed keys; returns canonical key → value.
 * `usage` is the expected shape, quoted in every error so the fix is obvious.
 */
export function parseSpec(text: string, keys: readonly SpecKey[], usage: string): Record<string, string> {
  const byName = new Map<string, SpecKey>();
  for (const k of keys) {
    byName.set(normalizeKey(k.name), k);
    for (const a of k.aliases ?? []) byName.set(normalizeKey(a), k);
  }
  const fail = (reason: string): never => {
    throw new InvalidArgumentError(`${reason} (expected ${usage})`);
  };
  const result: Record<string, string> = {};
  if (text.trim() === '') fail('empty spec');
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) fail(`"${part}" is not key=value`);
    const rawKey = part.slice(0, eq);
    const value = part.slice(eq + 1).trim();
    const key = byName.get(normalizeKey(rawKey));
    if (!key) fail(`unknown key "${rawKey.trim()}"`);
    if (value === '') fail(`${key!.name} has an empty value`);
    if (key!.name in result) fail(`${key!.name} given twice`);
    result[key!.name] = value;
  }
  for (const k of keys) if (k.required && !(k.name in result)) fail(`missing ${k.name}`);
  return result;
}

/** For repeatable options: commander calls this with each value and the list so far. */
export function collect<T>(parse: (text: string) => T): (text: string, previous: T[] | undefined) => T[] {
  return (text, previous) => [...(previous ?? []), parse(text)];
}

export const collectStrings = collect((s: string) => s);

export interface FixedIpSpec {
  subnetId: string;
  ipAddress: string;
}

export const FIXED_IP_USAGE = 'subnet=SUBNET_ID,ip-address=IP';

/** --fixed-ip subnet=ID,ip-address=IP (both required: the daemon never allocates addresses). */
export function parseFixedIp(text: string): FixedIpSpec {
  const s = parseSpec(
    text,
    [
      { name: 'subnet', required: true, aliases: ['subnet-id'] },
      { name: 'ip-address', required: true, aliases: ['ip'] },
    ],
    FIXED_IP_USAGE,
  );
  return { subnetId: s['subnet']!, ipAddress: s['ip-address']! };
}

export interface RouteSpec {
  destination: string;
  nexthop: string;
}

export const ROUTE_USAGE = 'destination=CIDR,gateway=IP';

/** --host-route / --route destination=CIDR,gateway=IP (openstack's words; "nexthop" as in the API also works). */
export function parseRoute(text: string): RouteSpec {
  const s = parseSpec(
    text,
    [
      { name: 'destination', required: true },
      { name: 'gateway', required: true, aliases: ['nexthop'] },
    ],
    ROUTE_USAGE,
  );
  return { destination: s['destination']!, nexthop: s['gateway']! };
}

export interface AllowedAddressSpec {
  ipAddress: string;
  /** "" means the port's own MAC, as in the API. */
  macAddress: string;
}

export const ALLOWED_ADDRESS_USAGE = 'ip-address=IP_OR_CIDR[,mac-address=MAC]';

/** --allowed-address ip-address=IP[,mac-address=MAC]. */
export function parseAllowedAddress(text: string): AllowedAddressSpec {
  const s = parseSpec(
    text,
    [
      { name: 'ip-address', required: true, aliases: ['ip'] },
      { name: 'mac-address', required: false, aliases: ['mac'] },
    ],
    ALLOWED_ADDRESS_USAGE,
  );
  return { ipAddress: s['ip-address']!, macAddress: s['mac-address'] ?? '' };
}

/** A decimal integer in [min, max]; "1e3", "0x10", "12abc" and "" are refused rather than guessed at. */
export function parseInteger(min: number, max: number): (text: string) => number {
  return (text) => {
    const t = text.trim();
    if (!/^\d+$/.test(t)) throw new InvalidArgumentError(`not a whole number (expected ${min}..${max})`);
    const n = Number(t);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`out of range (expected ${min}..${max})`);
    return n;
  };
}

/** One of a fixed set of words (case-insensitive), mapped to its API value. */
export function parseChoice<T>(choices: Readonly<Record<string, T>>): (text: string) => T {
  return (text) => {
    const value = choices[text.trim().toLowerCase()];
    if (value === undefined) throw new InvalidArgumentError(`expected one of: ${Object.keys(choices).join(', ')}`);
    return value;
  };
}

/** A positive number of seconds, fractions allowed ("0.5"), up to `max`. */
export function parseSeconds(max: number): (text: string) => number {
  return (text) => {
    const t = text.trim();
    const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
    if (!(n > 0 && n <= max)) throw new InvalidArgumentError(`expected seconds, more than 0 and at most ${max}`);
    return n;
  };
}
