// Frame parser for assertions: parseFrame(buf) → plain object tree
//   eth (vlan?) → arp | ipv4 → udp (→ vxlan → eth …) | tcp | icmp (→ quoted ipv4 …)
// It never throws on malformed content (except a frame shorter than an
// Ethernet header): problems are listed in `errors` and checksums that can't
// be verified (truncated, fragment, quoted in ICMP) are left undefined.
import { ipv4String, macString } from './addr.js';
import { internetChecksum, pseudoHeaderSum } from './checksum.js';
import { ETH_P_ARP, ETH_P_IP, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, VXLAN_PORT, tcpFlagString } from './layers.js';

export type LayerName = 'eth' | 'vlan' | 'arp' | 'ipv4' | 'udp' | 'tcp' | 'icmp' | 'vxlan';

/** `offset` fields are byte offsets from the start of the outermost frame. */
export interface ParsedFrame {
  eth: EthInfo;
  /** e.g. 'eth/ipv4/udp/vxlan/eth/ipv4/icmp' */
  stack: string;
  layers: { name: LayerName; offset: number }[];
  errors: string[];
  length: number;
}
export interface VlanInfo { tpid: number; pcp: number; dei: boolean; vid: number }
export interface EthInfo {
  offset: number;
  dst: string;
  src: string;
  /** after the VLAN tag, if any */
  ethertype: number;
  vlan?: VlanInfo;
  arp?: ArpInfo;
  ipv4?: Ipv4Info;
  /** everything after the Ethernet header */
  payload: Buffer;
  /** bytes after the ARP/IPv4 packet (minimum-size padding) */
  padding: Buffer;
}
export interface ArpInfo {
  offset: number;
  htype: number;
  ptype: number;
  hlen: number;
  plen: number;
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}
export interface Ipv4Info {
  offset: number;
  version: number;
  ihl: number;
  tos: number;
  dscp: number;
  ecn: number;
  totalLength: number;
  id: number;
  df: boolean;
  mf: boolean;
  /** 8-byte units */
  fragOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  checksumOk: boolean | undefined;
  src: string;
  dst: string;
  options: Buffer;
  udp?: UdpInfo;
  tcp?: TcpInfo;
  icmp?: IcmpInfo;
  /** bytes after the header, up to totalLength (or the end of the data) */
  payload: Buffer;
}
export interface UdpInfo {
  offset: number;
  sport: number;
  dport: number;
  length: number;
  checksum: number;
  /** true for checksum 0 ("not computed", valid over IPv4) */
  checksumOk: boolean | undefined;
  vxlan?: VxlanInfo;
  payload: Buffer;
}
export interface TcpInfo {
  offset: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  dataOffset: number;
  /** scapy-style, e.g. 'SA' */
  flags: string;
  window: number;
  checksum: number;
  checksumOk: boolean | undefined;
  urgent: number;
  options: Buffer;
  payload: Buffer;
}
export interface IcmpInfo {
  offset: number;
  type: number;
  code: number;
  checksum: number;
  checksumOk: boolean | undefined;
  /** echo request/reply only */
  id?: number;
  seq?: number;
  /** dest-unreachable code 4 only */
  mtu?: number;
  /** the quoted packet of an error message */
  inner?: Ipv4Info;
  /** everything after the 8-byte ICMP header */
  payload: Buffer;
}
export interface VxlanInfo { offset: number; flags: number; vni: number; eth?: EthInfo }

export interface ParseOptions {
  /** UDP destination ports decoded as VXLAN; default [4789] */
  vxlanPorts?: readonly number[];
}

interface Ctx {
  root: Buffer;
  errors: string[];
  layers: ParsedFrame['layers'];
  vxlanPorts: readonly number[];
}

const EMPTY = Buffer.alloc(0);

export function parseFrame(frame: Uint8Array, opts: ParseOptions = {}): ParsedFrame {
  const root = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  const ctx: Ctx = { root, errors: [], layers: [], vxlanPorts: opts.vxlanPorts ?? [VXLAN_PORT] };
  const eth = parseEth(root, ctx);
  if (!eth) throw new Error(`frame too short for Ethernet: ${root.length} bytes`);
  return { eth, stack: ctx.layers.map((l) => l.name).join('/'), layers: ctx.layers, errors: ctx.errors, length: root.length };
}

// Sub-buffers share the root's memory, so their position gives the offset.
function enter(ctx: Ctx, name: LayerName, b: Buffer): number {
  const offset = b.byteOffset - ctx.root.byteOffset;
  ctx.layers.push({ name, offset });
  return offset;
}

function parseEth(b: Buffer, ctx: Ctx): EthInfo | undefined {
  if (b.length < 14) {
    ctx.errors.push(`eth: truncated (${b.length} bytes)`);
    return undefined;
  }
  const offset = enter(ctx, 'eth', b);
  let ethertype = b.readUInt16BE(12);
  let hlen = 14;
  let vlan: VlanInfo | undefined;
  if ((ethertype === 0x8100 || ethertype === 0x88a8) && b.length >= 18) {
    enter(ctx, 'vlan', b.subarray(12));
    const tci = b.readUInt16BE(14);
    vlan = { tpid: ethertype, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0xfff };
    ethertype = b.readUInt16BE(16);
    hlen = 18;
  }
  const payload = b.subarray(hlen);
  const info: EthInfo = { offset, dst: macString(b), src: macString(b.subarray(6)), ethertype, payload, padding: EMPTY };
  if (vlan) info.vlan = vlan;
  let used = payload.length;
  if (ethertype === ETH_P_ARP) {
    const arp = parseArp(payload, ctx);
    if (arp) {
      info.arp = arp;
      used = 28;
    }
  } else if (ethertype === ETH_P_IP) {
    info.ipv4 = parseIpv4(payload, ctx, false);
    if (info.ipv4) used = Math.min(info.ipv4.totalLength, payload.length);
  }
  info.padding = payload.subarray(used);
  return info;
}

function parseArp(b: Buffer, ctx: Ctx): ArpInfo | undefined {
  if (b.length < 28) {
    ctx.errors.push(`arp: truncated (${b.length} bytes)`);
    return undefined;
  }
  return {
    offset: enter(ctx, 'arp', b),
    htype: b.readUInt16BE(0),
    ptype: b.readUInt16BE(2),
    hlen: b[4]!,
    plen: b[5]!,
    op: b.readUInt16BE(6),
    senderMac: macString(b.subarray(8)),
    senderIp: ipv4String(b.subarray(14)),
    targetMac: macString(b.subarray(18)),
    targetIp: ipv4String(b.subarray(24)),
  };
}

/** `quoted`: inside an ICMP error, where truncation is normal, not an error. */
function parseIpv4(b: Buffer, ctx: Ctx, quoted: boolean): Ipv4Info | undefined {
  if (b.length < 20) {
    ctx.errors.push(`ipv4: truncated header (${b.length} bytes)`);
    return undefined;
  }
  const offset = enter(ctx, 'ipv4', b);
  const ihl = b[0]! & 0xf;
  const hlen = ihl * 4;
  const totalLength = b.readUInt16BE(2);
  const frag = b.readUInt16BE(6);
  const info: Ipv4Info = {
    offset,
    version: b[0]! >> 4,
    ihl,
    tos: b[1]!,
    dscp: b[1]! >> 2,
    ecn: b[1]! & 3,
    totalLength,
    id: b.readUInt16BE(4),
    df: (frag & 0x4000) !== 0,
    mf: (frag & 0x2000) !== 0,
    fragOffset: frag & 0x1fff,
    ttl: b[8]!,
    protocol: b[9]!,
    checksum: b.readUInt16BE(10),
    checksumOk: hlen >= 20 && hlen <= b.length ? internetChecksum(b.subarray(0, hlen)) === 0 : undefined,
    src: ipv4String(b.subarray(12)),
    dst: ipv4String(b.subarray(16)),
    options: b.subarray(20, Math.max(20, Math.min(hlen, b.length))),
    payload: EMPTY,
  };
  if (info.version !== 4) ctx.errors.push(`ipv4: version ${info.version}`);
  if (ihl < 5 || hlen > b.length || totalLength < hlen) {
    ctx.errors.push(`ipv4: bad ihl ${ihl} (total length ${totalLength}, ${b.length} bytes present)`);
    return info;
  }
  const complete = totalLength <= b.length;
  if (!complete && !quoted) ctx.errors.push(`ipv4: total length ${totalLength} > ${b.length} bytes present`);
  info.payload = b.subarray(hlen, Math.min(totalLength, b.length));
  if (info.fragOffset !== 0) return info; // no L4 header in a non-first fragment
  const l4: L4Ctx = { ctx, ip: info, quoted, complete: complete && !info.mf };
  if (info.protocol === IPPROTO_UDP) info.udp = parseUdp(info.payload, l4);
  else if (info.protocol === IPPROTO_TCP) info.tcp = parseTcp(info.payload, l4);
  else if (info.protocol === IPPROTO_ICMP) info.icmp = parseIcmp(info.payload, l4);
  return info;
}

/** complete: the whole L4 segment is present, so its checksum can be verified. */
interface L4Ctx { ctx: Ctx; ip: Ipv4Info; quoted: boolean; complete: boolean }

function l4Short(name: LayerName, b: Buffer, min: number, { ctx, quoted }: L4Ctx): boolean {
  if (b.length >= min) return false;
  if (!quoted) ctx.errors.push(`${name}: truncated (${b.length} bytes)`);
  return true;
}

function l4ChecksumOk(b: Buffer, proto: number, { ip, complete }: L4Ctx): boolean | undefined {
  return complete ? internetChecksum(b, pseudoHeaderSum(ip.src, ip.dst, proto, b.length)) === 0 : undefined;
}

function parseUdp(b: Buffer, l4: L4Ctx): UdpInfo | undefined {
  if (l4Short('udp', b, 8, l4)) return undefined;
  const length = b.readUInt16BE(4);
  const badLength = length < 8 || length > b.length;
  if (badLength && !l4.quoted) l4.ctx.errors.push(`udp: length ${length} but ${b.length} bytes present`);
  const checksum = b.readUInt16BE(6);
  const info: UdpInfo = {
    offset: enter(l4.ctx, 'udp', b),
    sport: b.readUInt16BE(0),
    dport: b.readUInt16BE(2),
    length,
    checksum,
    checksumOk: checksum === 0 ? true : badLength ? undefined : l4ChecksumOk(b.subarray(0, length), IPPROTO_UDP, l4),
    payload: b.subarray(8, badLength ? b.length : length),
  };
  if (l4.ctx.vxlanPorts.includes(info.dport) && info.payload.length >= 8) {
    const v = info.payload;
    info.vxlan = { offset: enter(l4.ctx, 'vxlan', v), flags: v[0]!, vni: v.readUIntBE(4, 3) };
    const inner = parseEth(v.subarray(8), l4.ctx);
    if (inner) info.vxlan.eth = inner;
  }
  return info;
}

function parseTcp(b: Buffer, l4: L4Ctx): TcpInfo | undefined {
  if (l4Short('tcp', b, 20, l4)) return undefined;
  const dataOffset = b[12]! >> 4;
  const hlen = Math.min(Math.max(dataOffset * 4, 20), b.length);
  if ((dataOffset < 5 || dataOffset * 4 > b.length) && !l4.quoted) l4.ctx.errors.push(`tcp: bad data offset ${dataOffset}`);
  return {
    offset: enter(l4.ctx, 'tcp', b),
    sport: b.readUInt16BE(0),
    dport: b.readUInt16BE(2),
    seq: b.readUInt32BE(4),
    ack: b.readUInt32BE(8),
    dataOffset,
    flags: tcpFlagString(b[13]!),
    window: b.readUInt16BE(14),
    checksum: b.readUInt16BE(16),
    checksumOk: l4ChecksumOk(b, IPPROTO_TCP, l4),
    urgent: b.readUInt16BE(18),
    options: b.subarray(20, hlen),
    payload: b.subarray(hlen),
  };
}

const ICMP_ERRORS = new Set([3, 4, 5, 11, 12]); // these quote the offending packet

function parseIcmp(b: Buffer, l4: L4Ctx): IcmpInfo | undefined {
  if (l4Short('icmp', b, 8, l4)) return undefined;
  const info: IcmpInfo = {
    offset: enter(l4.ctx, 'icmp', b),
    type: b[0]!,
    code: b[1]!,
    checksum: b.readUInt16BE(2),
    checksumOk: l4.complete ? internetChecksum(b) === 0 : undefined,
    payload: b.subarray(8),
  };
  if (info.type === 0 || info.type === 8) {
    info.id = b.readUInt16BE(4);
    info.seq = b.readUInt16BE(6);
  } else if (ICMP_ERRORS.has(info.type)) {
    if (info.type === 3 && info.code === 4) info.mtu = b.readUInt16BE(6);
    const inner = parseIpv4(info.payload, l4.ctx, true);
    if (inner) info.inner = inner;
  }
  return info;
}
