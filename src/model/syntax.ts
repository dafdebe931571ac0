// Identifiers and names that are not addresses: UUIDs, MACs, interface and
// physical-network names. Pure; parsers return canonical text or a reason.

import type { Parsed } from './ipv4.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

/** Longest name, description-like string (Neutron's limit). */
export const MAX_NAME_LENGTH = 255;
/** Kernel IFNAMSIZ (16) minus the terminating NUL. */
export const MAX_INTERFACE_NAME_LENGTH = 15;
/** Neutron's limit for physical network names. */
export const MAX_PHYSICAL_NETWORK_LENGTH = 64;

/** Canonical 8-4-4-4-12 hex UUID; upper-case accepted, returned lower-case. */
export function parseUuid(text: unknown): Parsed<string> {
  if (typeof text !== 'string') return { ok: false, reason: 'must be a string (a UUID)' };
  if (text === '') return { ok: false, reason: 'is required: a UUID chosen by the caller (the daemon never invents one)' };
  if (!UUID.test(text)) {
    return { ok: false, reason: `"${clip(text)}" is not a canonical UUID (8-4-4-4-12 hexadecimal digits)` };
  }
  return { ok: true, value: text.toLowerCase() };
}

export function isCanonicalUuid(text: string): boolean {
  return UUID.test(text) && text === text.toLowerCase();
}

/** "aa:bb:cc:dd:ee:ff", any case in, lower-case out; unicast and not all zeros. */
export function parseUnicastMac(text: unknown): Parsed<string> {
  if (typeof text !== 'string') return { ok: false, reason: 'must be a string (a MAC address)' };
  if (text === '') return { ok: false, reason: 'is required (a MAC address such as fa:16:3e:00:00:01)' };
  if (!MAC.test(text)) {
    return { ok: false, reason: `"${clip(text)}" is not a MAC address (six hexadecimal octets separated by colons)` };
  }
  const mac = text.toLowerCase();
  const first = parseInt(mac.slice(0, 2), 16);
  if (first & 1) {
    return { ok: false, reason: `${mac} is a multicast/broadcast address (the I/G bit of the first octet is set); a port needs a unicast MAC` };
  }
  if (mac === '00:00:00:00:00:00') return { ok: false, reason: '00:00:00:00:00:00 is not a usable MAC address' };
  return { ok: true, value: mac };
}

/**
 * A host interface name as the kernel accepts it (dev_valid_name): 1..15
 * bytes, not "." or "..", no "/", ":" or whitespace. We also refuse non-ASCII
 * and control characters, which the kernel tolerates but tools mangle.
 */
export function whyBadInterfaceName(name: unknown): string | null {
  if (typeof name !== 'string') return 'must be a string';
  if (name === '') return 'is required (the host-side tap/veth name)';
  if (name.length > MAX_INTERFACE_NAME_LENGTH) {
    return `"${clip(name)}" is ${name.length} characters; the kernel allows at most ${MAX_INTERFACE_NAME_LENGTH}`;
  }
  if (name === '.' || name === '..') return `"${name}" is not a valid interface name`;
  if (!/^[\x21-\x7e]+$/.test(name)) return `"${name}" contains whitespace, control or non-ASCII characters`;
  if (/[/:]/.test(name)) return `"${name}" contains "/" or ":", which the kernel does not allow in interface names`;
  return null;
}

/** A physical network name (mapped to an interface by each node's config). */
export function whyBadPhysicalNetwork(name: string): string | null {
  if (name.length > MAX_PHYSICAL_NETWORK_LENGTH) return `is longer than ${MAX_PHYSICAL_NETWORK_LENGTH} characters`;
  if (!/^[\x21-\x7e]+$/.test(name)) return `"${clip(name)}" contains whitespace, control or non-ASCII characters`;
  return null;
}

export function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
