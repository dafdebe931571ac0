// Composable frame builder: eth(...).ipv4(...).udp(...).build() → Buffer.
//
// A builder is an immutable list of layer specs, so a table can share a prefix
// (`const base = eth(...).ipv4(...)`) and branch. The interfaces below only
// offer layers that may follow the current one; the runtime is one class.
// Lengths and checksums are computed at build() time innermost-first; every
// computed field can be overridden to build deliberately broken frames.
import { ipv4Bytes, macBytes } from './addr.js';
import { internetChecksum, transportChecksum } from './checksum.js';
import {
  ETH_P_8021Q,
  ETH_P_ARP,
  ETH_P_IP,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  tcpFlagBits,
  type ArpOptions,
  type BuildOptions,
  type EthOptions,
  type IcmpEchoOptions,
  type IcmpErrorOptions,
  type Ipv4Options,
  type TcpOptions,
  type UdpOptions,
  type VxlanOptions,
} from './layers.js';

export type PayloadInput = Uint8Array | string | number;

export type Layer =
  | { kind: 'eth'; opts: EthOptions }
  | { kind: 'arp'; opts: ArpOptions }
  | { kind: 'ipv4'; opts: Ipv4Options }
  | { kind: 'udp'; opts: UdpOptions }
  | { kind: 'tcp'; opts: TcpOptions }
  | { kind: 'icmpEcho'; opts: IcmpEchoOptions }
  | { kind: 'icmpError'; opts: IcmpErrorOptions }
  | { kind: 'vxlan'; opts: VxlanOptions }
  | { kind: 'payload'; data: Buffer };

export interface FrameBuilder {
  readonly layers: readonly Layer[];
  build(opts?: BuildOptions): Buffer;
}
interface WithPayload extends FrameBuilder {
  /** Raw bytes; a string is UTF-8; a number N gives N bytes 0,1,2,…,255,0,… */
  payload(data: PayloadInput): FrameBuilder;
}
export interface EthBuilder extends WithPayload {
  arp(opts: ArpOptions): FrameBuilder;
  ipv4(opts: Ipv4Options): Ipv4Builder;
}
export interface Ipv4Builder extends WithPayload {
  udp(opts: UdpOptions): UdpBuilder;
  tcp(opts: TcpOptions): WithPayload;
  icmpEcho(opts?: IcmpEchoOptions): WithPayload;
  /** The layers chained after this are the quoted (inner) packet, starting with ipv4(). */
  icmpError(opts: IcmpErrorOptions): IcmpErrorBuilder;
}
export interface UdpBuilder extends WithPayload { vxlan(opts: VxlanOptions): VxlanBuilder }
/** An inner frame: eth(...), or payload(bytes) for one built elsewhere. */
export interface VxlanBuilder extends WithPayload { eth(opts: EthOptions): EthBuilder }
export interface IcmpErrorBuilder extends WithPayload { ipv4(opts: Ipv4Options): Ipv4Builder }

/** Start a frame with an Ethernet header. */
export function eth(opts: EthOptions): EthBuilder {
  return new Chain([{ kind: 'eth', opts }]);
}

class Chain implements EthBuilder, Ipv4Builder, UdpBuilder, VxlanBuilder, IcmpErrorBuilder {
  constructor(readonly layers: readonly Layer[]) {}
  private with(layer: Layer): Chain {
    return new Chain([...this.layers, layer]);
  }
  eth(opts: EthOptions) { return this.with({ kind: 'eth', opts }); }
  arp(opts: ArpOptions) { return this.with({ kind: 'arp', opts }); }
  ipv4(opts: Ipv4Options) { return this.with({ kind: 'ipv4', opts }); }
  udp(opts: UdpOptions) { return this.with({ kind: 'udp', opts }); }
  tcp(opts: TcpOptions) { return this.with({ kind: 'tcp', opts }); }
  icmpEcho(opts: IcmpEchoOptions = {}) { return this.with({ kind: 'icmpEcho', opts }); }
  icmpError(opts: IcmpErrorOptions) { return this.with({ kind: 'icmpError', opts }); }
  vxlan(opts: VxlanOptions) { return this.with({ kind: 'vxlan', opts }); }
  payload(data: PayloadInput) { return this.with({ kind: 'payload', data: payloadBytes(data) }); }

  build(opts: BuildOptions = {}): Buffer {
    let out: Buffer = Buffer.alloc(0);
    for (let i = this.layers.length - 1; i >= 0; i--) out = encode(this.layers, i, out);
    if (opts.pad && out.length < 60) out = Buffer.concat([out, Buffer.alloc(60 - out.length)]);
    if (opts.truncate !== undefined) out = Buffer.from(out.subarray(0, opts.truncate));
    return out;
  }
}

function payloadBytes(data: PayloadInput): Buffer {
  if (typeof data === 'number') return Buffer.from(Array.from({ length: data }, (_, i) => i & 0xff));
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
}

/** Nearest layer of `kind` enclosing index i (searching outward). */
function enclosing<K extends Layer['kind']>(layers: readonly Layer[], i: number, kind: K) {
  for (let j = i - 1; j >= 0; j--) {
    const l = layers[j]!;
    if (l.kind === kind) return l as Extract<Layer, { kind: K }>;
  }
  throw new Error(`${layers[i]!.kind} needs an enclosing ${kind} layer`);
}

function check(name: string, value: number, bits: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${name} must be a ${bits}-bit unsigned integer, got ${value}`);
  }
  return value;
}

function pad4(b: Uint8Array | undefined): Buffer {
  const src = Buffer.from(b ?? []);
  return Buffer.concat([src, Buffer.alloc((4 - (src.length % 4)) % 4)]);
}

function ipProtocolOf(next: Layer | undefined): number | undefined {
  switch (next?.kind) {
    case 'udp': return IPPROTO_UDP;
    case 'tcp': return IPPROTO_TCP;
    case 'icmpEcho':
    case 'icmpError': return IPPROTO_ICMP;
    default: return undefined;
  }
}

/** Encode layers[i] around `inner` (the already-encoded layers after it). */
function encode(layers: readonly Layer[], i: number, inner: Buffer): Buffer {
  const layer = layers[i]!;
  const next = layers[i + 1];
  switch (layer.kind) {
    case 'payload':
      return Buffer.concat([layer.data, inner]);

    case 'eth': {
      const o = layer.opts;
      const type = o.ethertype ?? (next?.kind === 'arp' ? ETH_P_ARP : next?.kind === 'ipv4' ? ETH_P_IP : undefined);
      if (type === undefined) throw new Error('eth: ethertype is required before a raw payload');
      const h = Buffer.alloc(o.vlan ? 18 : 14);
      macBytes(o.dst).copy(h, 0);
      macBytes(o.src).copy(h, 6);
      if (o.vlan) {
        const v = o.vlan;
        h.writeUInt16BE(v.tpid ?? ETH_P_8021Q, 12);
        h.writeUInt16BE((check('vlan.pcp', v.pcp ?? 0, 3) << 13) | (v.dei ? 0x1000 : 0) | check('vlan.vid', v.vid, 12), 14);
      }
      h.writeUInt16BE(type, h.length - 2);
      return Buffer.concat([h, inner]);
    }

    case 'arp': {
      const o = layer.opts;
      const e = enclosing(layers, i, 'eth').opts;
      const op = o.op === undefined || o.op === 'request' ? 1 : o.op === 'reply' ? 2 : o.op;
      const h = Buffer.alloc(28);
      h.writeUInt16BE(1, 0); // htype Ethernet
      h.writeUInt16BE(ETH_P_IP, 2);
      h[4] = 6;
      h[5] = 4;
      h.writeUInt16BE(op, 6);
      macBytes(o.senderMac ?? e.src).copy(h, 8);
      ipv4Bytes(o.senderIp).copy(h, 14);
      macBytes(o.targetMac ?? (op === 2 ? e.dst : '00:00:00:00:00:00')).copy(h, 18);
      ipv4Bytes(o.targetIp).copy(h, 24);
      return Buffer.concat([h, inner]);
    }

    case 'ipv4': {
      const o = layer.opts;
      const opts = pad4(o.options);
      const hlen = 20 + opts.length;
      if (o.ihl === undefined && hlen > 60) throw new Error(`ipv4: options too long (${opts.length} > 40 bytes)`);
      const proto = o.protocol ?? ipProtocolOf(next);
      if (proto === undefined) throw new Error('ipv4: protocol is required before a raw payload');
      const h = Buffer.alloc(hlen);
      h[0] = (check('ipv4.version', o.version ?? 4, 4) << 4) | check('ipv4.ihl', o.ihl ?? hlen / 4, 4);
      h[1] = check('ipv4.tos', o.tos ?? 0, 8);
      h.writeUInt16BE(o.totalLength ?? hlen + inner.length, 2);
      h.writeUInt16BE(o.id ?? 0, 4);
      h.writeUInt16BE(((o.df ?? true) ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | check('ipv4.fragOffset', o.fragOffset ?? 0, 13), 6);
      h[8] = check('ipv4.ttl', o.ttl ?? 64, 8);
      h[9] = check('ipv4.protocol', proto, 8);
      ipv4Bytes(o.src).copy(h, 12);
      ipv4Bytes(o.dst).copy(h, 16);
      opts.copy(h, 20);
      h.writeUInt16BE(o.checksum ?? internetChecksum(h), 10);
      return Buffer.concat([h, inner]);
    }

    case 'udp': {
      const o = layer.opts;
      const ip = enclosing(layers, i, 'ipv4').opts;
      const seg = Buffer.concat([Buffer.alloc(8), inner]);
      seg.writeUInt16BE(o.sport, 0);
      seg.writeUInt16BE(o.dport, 2);
      seg.writeUInt16BE(o.length ?? seg.length, 4);
      // 0 means "no checksum", so a computed 0 is sent as 0xffff (RFC 768).
      seg.writeUInt16BE(o.checksum ?? (transportChecksum(ip.src, ip.dst, IPPROTO_UDP, seg) || 0xffff), 6);
      return seg;
    }

    case 'tcp': {
      const o = layer.opts;
      const ip = enclosing(layers, i, 'ipv4').opts;
      const opts = pad4(o.options);
      const seg = Buffer.concat([Buffer.alloc(20), opts, inner]);
      seg.writeUInt16BE(o.sport, 0);
      seg.writeUInt16BE(o.dport, 2);
      seg.writeUInt32BE(o.seq ?? 0, 4);
      seg.writeUInt32BE(o.ack ?? 0, 8);
      seg[12] = check('tcp.dataOffset', o.dataOffset ?? (20 + opts.length) / 4, 4) << 4;
      seg[13] = tcpFlagBits(o.flags ?? 'S');
      seg.writeUInt16BE(o.window ?? 65535, 14);
      seg.writeUInt16BE(o.urgent ?? 0, 18);
      seg.writeUInt16BE(o.checksum ?? transportChecksum(ip.src, ip.dst, IPPROTO_TCP, seg), 16);
      return seg;
    }

    case 'icmpEcho': {
      const o = layer.opts;
      const msg = Buffer.concat([Buffer.alloc(8), inner]);
      msg[0] = o.op === 'reply' ? 0 : 8;
      msg.writeUInt16BE(o.id ?? 0, 4);
      msg.writeUInt16BE(o.seq ?? 0, 6);
      msg.writeUInt16BE(o.checksum ?? internetChecksum(msg), 2);
      return msg;
    }

    case 'icmpError': {
      const o = layer.opts;
      const quoted = o.quote === undefined ? inner : inner.subarray(0, o.quote);
      const msg = Buffer.concat([Buffer.alloc(8), quoted]);
      msg[0] = o.type === 'dest-unreachable' ? 3 : o.type === 'time-exceeded' ? 11 : check('icmp.type', o.type, 8);
      msg[1] = check('icmp.code', o.code ?? 0, 8);
      msg.writeUInt16BE(o.mtu ?? 0, 6);
      msg.writeUInt16BE(o.checksum ?? internetChecksum(msg), 2);
      return msg;
    }

    case 'vxlan': {
      const h = Buffer.alloc(8);
      h[0] = check('vxlan.flags', layer.opts.flags ?? 0x08, 8);
      h.writeUIntBE(check('vxlan.vni', layer.opts.vni, 24), 4, 3);
      return Buffer.concat([h, inner]);
    }
  }
}
