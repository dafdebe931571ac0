// The overlay's flow hash and outer UDP source port, computed independently
// of the BPF code from their documented definitions (bpf/lib/hash.h,
// port_frame.h, vxlan.h), so a table can state the exact encapsulated frame.
import { parseFrame } from './parse.js';

const u32 = (n: number): number => n >>> 0;
const rol32 = (w: number, s: number): number => u32((w << s) | (w >>> (32 - s)));

/** The kernel's jhash_3words() (include/linux/jhash.h). */
export function jhash3words(a: number, b: number, c: number, initval: number): number {
  const init = u32(initval + 0xdeadbeef + (3 << 2));
  a = u32(a + init);
  b = u32(b + init);
  c = u32(c + init);
  c = u32((c ^ b) - rol32(b, 14));
  a = u32((a ^ c) - rol32(c, 11));
  b = u32((b ^ a) - rol32(a, 25));
  c = u32((c ^ b) - rol32(b, 16));
  a = u32((a ^ c) - rol32(c, 4));
  b = u32((b ^ a) - rol32(a, 14));
  c = u32((c ^ b) - rol32(b, 24));
  return c;
}

/**
 * The flow hash of a frame as a VM port sent it:
 *   IPv4:  jhash_3words(saddr, daddr, sport << 16 | dport, protocol), ports 0
 *          for fragments and protocols other than TCP/UDP;
 *   other: jhash_3words(dst[0..3], dst[4..5] << 16 | src[0..1], src[2..5], ethertype).
 */
export function flowHash(frame: Uint8Array): number {
  const { eth } = parseFrame(frame);
  const ip = eth.ipv4;
  const be32 = (b: Uint8Array, o: number) => u32((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
  if (ip) {
    const l4 = ip.udp ?? ip.tcp;
    const fragment = ip.mf || ip.fragOffset !== 0;
    const ports = l4 && !fragment ? u32((l4.sport << 16) | l4.dport) : 0;
    const addr = (s: string) => be32(Uint8Array.from(s.split('.').map(Number)), 0);
    return jhash3words(addr(ip.src), addr(ip.dst), ports, ip.protocol);
  }
  const d = Buffer.from(frame.subarray(0, 6));
  const s = Buffer.from(frame.subarray(6, 12));
  return jhash3words(be32(d, 0), u32((d[4]! << 24) | (d[5]! << 16) | (s[0]! << 8) | s[1]!), be32(s, 2), eth.ethertype);
}

/** Linux's udp_flow_src_port() over 49152..65535: the outer UDP source port for a flow hash. */
export function vxlanSourcePort(hash: number): number {
  return 49152 + (u32(hash ^ (hash << 16)) >>> 18);
}
