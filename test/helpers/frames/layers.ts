// Layer option types, protocol numbers and TCP flag letters, shared by the
// builder and the parser.
import type { Ipv4Input, MacInput } from './addr.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const VXLAN_PORT = 4789;

export interface VlanOptions { vid: number; pcp?: number; dei?: boolean; /** default 0x8100 */ tpid?: number }
export interface EthOptions {
  dst: MacInput;
  src: MacInput;
  /** Inferred from the next layer (ARP/IPv4); required before raw payload. With a VLAN tag this is the inner type. */
  ethertype?: number;
  vlan?: VlanOptions;
}
export interface ArpOptions {
  /** default 'request' */
  op?: 'request' | 'reply' | number;
  /** default: the Ethernet source */
  senderMac?: MacInput;
  senderIp: Ipv4Input;
  /** default: 00:00:00:00:00:00 for a request, the Ethernet destination for a reply */
  targetMac?: MacInput;
  targetIp: Ipv4Input;
}
export interface Ipv4Options {
  src: Ipv4Input;
  dst: Ipv4Input;
  /** default 64 */ ttl?: number;
  /** default 0 */ id?: number;
  /** default 0 */ tos?: number;
  /** default true (what Linux sets with PMTU discovery) */ df?: boolean;
  /** default false */ mf?: boolean;
  /** in 8-byte units, as on the wire; default 0 */ fragOffset?: number;
  /** inferred from the next layer; required before raw payload */ protocol?: number;
  /** zero-padded (EOL) to a 4-byte boundary */ options?: Uint8Array;
  // Overrides for broken frames: written as given, not fixed up.
  version?: number;
  ihl?: number;
  totalLength?: number;
  checksum?: number;
}
export interface UdpOptions {
  sport: number;
  dport: number;
  /** default 8 + payload length */ length?: number;
  /** default computed (pseudo-header); 0 = "no checksum" */ checksum?: number;
}
export interface TcpOptions {
  sport: number;
  dport: number;
  /** default 0 */ seq?: number;
  /** default 0 */ ack?: number;
  /** scapy-style letters from 'FSRPAUEC', e.g. 'S', 'SA', 'PA'; default 'S' */ flags?: string;
  /** default 65535 */ window?: number;
  /** default 0 */ urgent?: number;
  /** zero-padded to a 4-byte boundary */ options?: Uint8Array;
  /** override, in 32-bit words */ dataOffset?: number;
  checksum?: number;
}
export interface IcmpEchoOptions {
  /** default 'request' (type 8); 'reply' is type 0 */ op?: 'request' | 'reply';
  /** default 0 */ id?: number;
  /** default 0 */ seq?: number;
  checksum?: number;
}
export interface IcmpErrorOptions {
  /** 'dest-unreachable' = 3, 'time-exceeded' = 11 */
  type: 'dest-unreachable' | 'time-exceeded' | number;
  /** default 0 */ code?: number;
  /** next-hop MTU (RFC 1191), for dest-unreachable code 4 "fragmentation needed" */ mtu?: number;
  /**
   * Quote only the first N bytes of the inner packet (RFC 792 requires IP
   * header + 8). Inner lengths/checksums are those of the full original packet.
   * Default: the whole inner packet.
   */
  quote?: number;
  checksum?: number;
}
export interface VxlanOptions { vni: number; /** default 0x08 (I bit: VNI valid) */ flags?: number }
export interface BuildOptions {
  /**
   * Zero-pad the outermost frame to the 60-byte Ethernet minimum (64 with FCS).
   * Off by default: the NIC pads on transmit, so frames that XDP sees via
   * BPF_PROG_RUN or a veth are unpadded, and padding would hide length bugs.
   */
  pad?: boolean;
  /** Cut the finished frame to this many bytes (truncated-frame tests). */
  truncate?: number;
}

const TCP_FLAGS = 'FSRPAUEC'; // bit 0 (FIN) … bit 7 (CWR), scapy's letters

export function tcpFlagBits(flags: string): number {
  let bits = 0;
  for (const c of flags) {
    const bit = TCP_FLAGS.indexOf(c);
    if (bit < 0) throw new Error(`unknown TCP flag ${JSON.stringify(c)} in ${JSON.stringify(flags)} (use ${TCP_FLAGS})`);
    bits |= 1 << bit;
  }
  return bits;
}

export function tcpFlagString(bits: number): string {
  return [...TCP_FLAGS].filter((_, i) => bits & (1 << i)).join('');
}
