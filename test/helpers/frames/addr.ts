// Address parsing/formatting shared by the frame builder and parser.
// Strict on purpose: a typo in a test table should throw, not become 0.0.0.0.

export type MacInput = string | Uint8Array;
export type Ipv4Input = string | Uint8Array;

/** 'aa:bb:cc:dd:ee:ff' (or '-' separated) or 6 raw bytes → 6-byte Buffer. */
export function macBytes(mac: MacInput): Buffer {
  if (typeof mac !== 'string') {
    if (mac.length !== 6) throw new Error(`MAC must be 6 bytes, got ${mac.length}`);
    return Buffer.from(mac);
  }
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`bad MAC address: ${JSON.stringify(mac)}`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** 6 bytes → lower-case 'aa:bb:cc:dd:ee:ff'. */
export function macString(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** '10.0.0.1' or 4 raw bytes → 4-byte Buffer. */
export function ipv4Bytes(ip: Ipv4Input): Buffer {
  if (typeof ip !== 'string') {
    if (ip.length !== 4) throw new Error(`IPv4 address must be 4 bytes, got ${ip.length}`);
    return Buffer.from(ip);
  }
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new Error(`bad IPv4 address: ${JSON.stringify(ip)}`);
  }
  return Buffer.from(parts.map(Number));
}

/** 4 bytes → dotted quad. */
export function ipv4String(b: Uint8Array): string {
  return Array.from(b.subarray(0, 4)).join('.');
}
