// IPv4 neighbour (ARP) messages, encoded and decoded by hand.
//
// netlink@0.3.0 knows NDA_* attributes only up to NDA_PROTOCOL and silently
// drops the rest when parsing (its getObject() never fills `__unparsed`), so
// NDA_FLAGS_EXT, which carries NTF_EXT_MANAGED, can be neither read nor
// written through its typed API. This file handles the whole message instead:
// `struct ndmsg` followed by attributes (include/uapi/linux/neighbour.h).

import { isIPv4 } from 'node:net';
import { parseAttributes } from 'netlink';

export const AF_INET = 2;

/** NUD_* states (a bitmask, though the kernel only ever sets one). */
export const NUD = {
  incomplete: 0x01,
  reachable: 0x02,
  stale: 0x04,
  delay: 0x08,
  probe: 0x10,
  failed: 0x20,
  noarp: 0x40,
  permanent: 0x80,
} as const;
export type NudState = keyof typeof NUD;

/**
 * States in which the kernel itself transmits to the neighbour's link-layer
 * address without resolving first (NUD_VALID in include/net/neighbour.h).
 */
const NUD_VALID = NUD.permanent | NUD.noarp | NUD.reachable | NUD.probe | NUD.stale | NUD.delay;

/** ndm_flags: NTF_USE makes the kernel treat the entry as used (starts resolution). */
export const NTF_USE = 0x01;
/** NDA_FLAGS_EXT bit: a managed entry, kept resolved by the kernel itself (Linux 5.16+). */
export const NTF_EXT_MANAGED = 0x01;

const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDA_PROTOCOL = 12;
const NDA_FLAGS_EXT = 15;

/** sizeof(struct ndmsg) */
const NDMSG_LEN = 12;

export interface NeighborEntry {
  ifindex: number;
  ip: string;
  /** Lower-case aa:bb:cc:dd:ee:ff; undefined while unresolved. */
  mac: string | undefined;
  /** NUD states, lower-case, as in NeighborInfo: ['reachable'], ['failed'], [] for NUD_NONE. */
  state: NudState[];
  /** The kernel would send to `mac` as it is (NUD_VALID); false while incomplete, failed or none. */
  valid: boolean;
  /** NTF_EXT_MANAGED is set. */
  managed: boolean;
  /** NDA_PROTOCOL: who created the entry (0 = unspecified, e.g. learnt by the kernel). */
  protocol: number;
}

function macString(b: Buffer): string | undefined {
  return b.length > 0 ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined;
}

/** Decodes an RTM_NEWNEIGH/RTM_DELNEIGH payload; undefined for other families or malformed messages. */
export function decodeNeighbor(payload: Buffer): NeighborEntry | undefined {
  if (payload.length < NDMSG_LEN || payload[0] !== AF_INET) return undefined;
  // struct ndmsg { u8 family; u8 pad1; u16 pad2; s32 ifindex; u16 state; u8 flags; u8 type; }, host byte order.
  const ifindex = payload.readInt32LE(4);
  const nud = payload.readUInt16LE(8);
  let ip: string | undefined;
  let mac: string | undefined;
  let protocol = 0;
  let flagsExt = 0;
  try {
    parseAttributes(payload.subarray(NDMSG_LEN), (a) => {
      if (a.type === NDA_DST && a.data.length === 4) ip = [...a.data].join('.');
      else if (a.type === NDA_LLADDR) mac = macString(a.data);
      else if (a.type === NDA_PROTOCOL && a.data.length === 1) protocol = a.data[0] ?? 0;
      else if (a.type === NDA_FLAGS_EXT && a.data.length === 4) flagsExt = a.data.readUInt32LE(0);
    });
  } catch {
    return undefined; // truncated attribute: not a message we can trust
  }
  if (ip === undefined) return undefined;
  const state = (Object.keys(NUD) as NudState[]).filter((s) => (nud & NUD[s]) !== 0);
  return {
    ifindex,
    ip,
    mac,
    state,
    valid: (nud & NUD_VALID) !== 0 && mac !== undefined,
    managed: (flagsExt & NTF_EXT_MANAGED) !== 0,
    protocol,
  };
}

export interface NeighborRequest {
  ifindex: number;
  ip: string;
  /** ndm_state; 0 (NUD_NONE) leaves the state to the kernel. */
  state?: number;
  /** ndm_flags (NTF_*). */
  flags?: number;
  /** NDA_FLAGS_EXT (NTF_EXT_*); omitted when 0. */
  flagsExt?: number;
  /** NDA_PROTOCOL; omitted when undefined. */
  protocol?: number;
}

/** One attribute, padded to 4 bytes; nla_len counts header + payload only. */
function nla(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(Math.ceil((4 + payload.length) / 4) * 4);
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** The payload of an RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH request. Arguments must be valid already. */
export function encodeNeighborRequest(req: NeighborRequest): Buffer {
  if (!isIPv4(req.ip)) throw new RangeError(`${JSON.stringify(req.ip)} is not an IPv4 address`);
  const ndmsg = Buffer.alloc(NDMSG_LEN);
  ndmsg.writeUInt8(AF_INET, 0);
  ndmsg.writeInt32LE(req.ifindex, 4);
  ndmsg.writeUInt16LE(req.state ?? 0, 8);
  ndmsg.writeUInt8(req.flags ?? 0, 10);
  const parts = [ndmsg, nla(NDA_DST, Buffer.from(req.ip.split('.').map(Number)))];
  if (req.protocol !== undefined) parts.push(nla(NDA_PROTOCOL, Buffer.from([req.protocol])));
  if (req.flagsExt) {
    const ext = Buffer.alloc(4);
    ext.writeUInt32LE(req.flagsExt, 0);
    parts.push(nla(NDA_FLAGS_EXT, ext));
  }
  return Buffer.concat(parts);
}
