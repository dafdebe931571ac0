import { describe, expect, it } from 'vitest';
import {
  checksumUpdate,
  checksumUpdate16,
  eth,
  hexdiff,
  internetChecksum,
  ipv4Bytes,
  macBytes,
  parseFrame,
  transportChecksum,
} from '../helpers/frames.js';
import { pcapBytes } from '../helpers/pcap.js';
import { seededRandom } from '../helpers/random.js';

const A = '02:00:00:00:00:01';
const B = '02:00:00:00:00:02';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');


describe('checksum known answers', () => {
  it('RFC 1071 §3 example: 0001 f203 f4f5 f6f7 sums to ddf2', () => {
    expect(internetChecksum(h('0001 f203 f4f5 f6f7'))).toBe(~0xddf2 & 0xffff);
  });

  it('textbook IPv4 header 4500 0073 0000 4000 4011 …  c0a8 0001 c0a8 00c7 → b861', () => {
    const hdr = h('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(hdr)).toBe(0xb861);
    hdr.writeUInt16BE(0xb861, 10);
    expect(internetChecksum(hdr)).toBe(0); // a correct header sums to -0

    // The builder produces the identical header (0x73 = 20 + 8 + 87).
    const frame = eth({ dst: B, src: A })
      .ipv4({ src: '192.168.0.1', dst: '192.168.0.199' })
      .udp({ sport: 1, dport: 2 })
      .payload(87)
      .build();
    expect(frame.subarray(14, 34).toString('hex')).toBe(hdr.toString('hex'));
  });

  it('ICMP echo checksums worked out by hand', () => {
    // Request id 0x1234 seq 1: 0800 + 1234 + 0001 = 1a35 → ~ = e5ca.
    const req = eth({ dst: B, src: A }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).icmpEcho({ id: 0x1234, seq: 1 }).build();
    expect(req.subarray(34).toString('hex')).toBe('0800e5ca12340001');
    // Reply (type 0): 1234 + 0001 = 1235 → edca.
    const rep = eth({ dst: B, src: A }).ipv4({ src: '10.0.0.2', dst: '10.0.0.1' }).icmpEcho({ op: 'reply', id: 0x1234, seq: 1 }).build();
    expect(rep.readUInt16BE(36)).toBe(0xedca);
    // Odd payload 'abc' pads to 6162 6300: 1a35 + 6162 + 6300 = de97 → 2168.
    const odd = eth({ dst: B, src: A }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).icmpEcho({ id: 0x1234, seq: 1 }).payload('abc').build();
    expect(odd.readUInt16BE(36)).toBe(0x2168);
  });

  it('UDP checksum worked out by hand, and a computed 0 is sent as ffff', () => {
    // pseudo 0a00 0001 0a00 0002 0011 0008 + udp 0001 0002 0008 = 1427 → ebd8
    const f = eth({ dst: B, src: A }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 1, dport: 2 }).build();
    expect(f.readUInt16BE(40)).toBe(0xebd8);
    // With length 10 the sum is 142b + payload word; ebd4 makes it ffff → checksum 0.
    const z = eth({ dst: B, src: A }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 1, dport: 2 }).payload(h('ebd4')).build();
    expect(transportChecksum('10.0.0.1', '10.0.0.2', 17, Buffer.concat([z.subarray(34, 40), Buffer.alloc(2), z.subarray(42)]))).toBe(0);
    expect(z.readUInt16BE(40)).toBe(0xffff);
    expect(parseFrame(z).eth.ipv4?.udp?.checksumOk).toBe(true);
  });
});

describe('addresses', () => {
  it('parses and rejects', () => {
    expect(macBytes('02-00-00-0A-0b-FF').toString('hex')).toBe('0200000a0bff');
    expect(ipv4Bytes('192.0.2.255').toString('hex')).toBe('c00002ff');
    for (const bad of ['02:00:00:00:00', '02:00:00:00:00:0g', '']) expect(() => macBytes(bad)).toThrow(/bad MAC/);
    for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.x']) expect(() => ipv4Bytes(bad)).toThrow(/bad IPv4/);
  });
});

describe('build → parse round trips', () => {
  it('ARP request: exact bytes and defaults from the Ethernet header', () => {
    const f = eth({ src: A, dst: BCAST }).arp({ op: 'request', senderIp: '10.0.0.1', targetIp: '10.0.0.254' }).build();
    expect(f.toString('hex')).toBe(
      h('ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a0000fe').toString('hex'),
    );
    const p = parseFrame(f);
    expect(p.stack).toBe('eth/arp');
    expect(p.errors).toEqual([]);
    expect(p.eth.arp).toMatchObject({ op: 1, senderMac: A, senderIp: '10.0.0.1', targetMac: '00:00:00:00:00:00', targetIp: '10.0.0.254' });
  });

  it('ARP reply defaults targetMac to the Ethernet destination; explicit MACs win', () => {
    const r = parseFrame(eth({ src: B, dst: A }).arp({ op: 'reply', senderIp: '10.0.0.254', targetIp: '10.0.0.1' }).build());
    expect(r.eth.arp).toMatchObject({ op: 2, senderMac: B, targetMac: A });
    const x = parseFrame(
      eth({ src: B, dst: A }).arp({ op: 2, senderMac: '02:aa:00:00:00:01', senderIp: '1.2.3.4', targetMac: BCAST, targetIp: '5.6.7.8' }).build(),
    );
    expect(x.eth.arp).toMatchObject({ op: 2, senderMac: '02:aa:00:00:00:01', targetMac: BCAST, senderIp: '1.2.3.4', targetIp: '5.6.7.8' });
  });

  it('Ethernet with raw payload and an 802.1Q tag', () => {
    const raw = parseFrame(eth({ src: A, dst: B, ethertype: 0x88b5 }).payload('hi').build());
    expect(raw.eth).toMatchObject({ src: A, dst: B, ethertype: 0x88b5 });
    expect(raw.eth.payload.toString()).toBe('hi');
    expect(raw.stack).toBe('eth');

    const f = eth({ src: A, dst: B, vlan: { vid: 100, pcp: 5, dei: true } }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 1, dport: 2 }).build();
    expect(f.subarray(12, 18).toString('hex')).toBe('8100b0640800');
    const p = parseFrame(f);
    expect(p.stack).toBe('eth/vlan/ipv4/udp');
    expect(p.eth.vlan).toEqual({ tpid: 0x8100, pcp: 5, dei: true, vid: 100 });
    expect(p.eth.ethertype).toBe(0x0800);
    expect(p.eth.ipv4?.offset).toBe(18);
  });

  it('IPv4: every field settable, defaults ttl 64 / DF / id 0 / tos 0', () => {
    const def = parseFrame(eth({ src: A, dst: B }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 253 }).payload(3).build()).eth.ipv4;
    expect(def).toMatchObject({ version: 4, ihl: 5, ttl: 64, df: true, mf: false, id: 0, tos: 0, protocol: 253, totalLength: 23, checksumOk: true });

    const f = eth({ src: A, dst: B })
      .ipv4({ src: '192.0.2.1', dst: '198.51.100.7', ttl: 1, id: 0xbeef, tos: 0xb9, df: false, mf: true, options: h('940400'), protocol: 253 })
      .payload(16)
      .build();
    const ip = parseFrame(f).eth.ipv4;
    expect(ip).toMatchObject({ ihl: 6, ttl: 1, id: 0xbeef, tos: 0xb9, dscp: 46, ecn: 1, df: false, mf: true, fragOffset: 0, totalLength: 40, checksumOk: true });
    expect(ip?.options.toString('hex')).toBe('94040000'); // padded to 4 bytes
    expect(ip?.payload.length).toBe(16);
  });

  it('IPv4 non-first fragment: no L4 header is parsed', () => {
    const p = parseFrame(eth({ src: A, dst: B }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2', fragOffset: 185, df: false }).udp({ sport: 1, dport: 2 }).build());
    expect(p.eth.ipv4?.fragOffset).toBe(185);
    expect(p.stack).toBe('eth/ipv4');
  });

  it('UDP', () => {
    const p = parseFrame(eth({ src: A, dst: B }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 5353, dport: 53 }).payload('query').build());
    expect(p.stack).toBe('eth/ipv4/udp');
    expect(p.eth.ipv4?.protocol).toBe(17);
    expect(p.eth.ipv4?.udp).toMatchObject({ sport: 5353, dport: 53, length: 13, checksumOk: true });
    expect(p.eth.ipv4?.udp?.payload.toString()).toBe('query');
  });

  it('TCP: flags, seq/ack, window, options', () => {
    const f = eth({ src: A, dst: B })
      .ipv4({ src: '10.0.0.1', dst: '10.0.0.2' })
      .tcp({ sport: 80, dport: 40000, flags: 'SA', seq: 0xfffffff0, ack: 12345, window: 1024, options: h('020405b4') })
      .payload('x')
      .build();
    const tcp = parseFrame(f).eth.ipv4?.tcp;
    expect(tcp).toMatchObject({ sport: 80, dport: 40000, flags: 'SA', seq: 0xfffffff0, ack: 12345, window: 1024, dataOffset: 6, checksumOk: true });
    expect(tcp?.options.toString('hex')).toBe('020405b4');
    expect(tcp?.payload.toString()).toBe('x');
    expect(f[34 + 13]).toBe(0x12); // SYN|ACK on the wire
    expect(parseFrame(eth({ src: A, dst: B }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).tcp({ sport: 1, dport: 2, flags: 'FSRPAUEC' }).build()).eth.ipv4?.tcp?.flags).toBe('FSRPAUEC');
  });

  it('ICMP echo request and reply', () => {
    const p = parseFrame(eth({ src: A, dst: B }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).icmpEcho({ id: 7, seq: 3 }).payload('ping').build());
    expect(p.stack).toBe('eth/ipv4/icmp');
    expect(p.eth.ipv4?.icmp).toMatchObject({ type: 8, code: 0, id: 7, seq: 3, checksumOk: true });
    expect(p.eth.ipv4?.icmp?.payload.toString()).toBe('ping');
    const r = parseFrame(eth({ src: B, dst: A }).ipv4({ src: '10.0.0.2', dst: '10.0.0.1' }).icmpEcho({ op: 'reply', id: 7, seq: 3 }).build());
    expect(r.eth.ipv4?.icmp).toMatchObject({ type: 0, id: 7, seq: 3, checksumOk: true });
  });

  it('ICMP frag-needed quoting the inner packet (truncated to IP header + 8)', () => {
    const original = { src: '10.0.0.5', dst: '198.51.100.9', ttl: 63 };
    const f = eth({ src: A, dst: B })
      .ipv4({ src: '10.0.0.1', dst: '10.0.0.5' })
      .icmpError({ type: 'dest-unreachable', code: 4, mtu: 1450, quote: 28 })
      .ipv4(original)
      .udp({ sport: 4000, dport: 4789 })
      .payload(1400)
      .build();
    const p = parseFrame(f);
    expect(p.stack).toBe('eth/ipv4/icmp/ipv4/udp');
    expect(p.errors).toEqual([]); // truncation inside a quote is normal
    const icmp = p.eth.ipv4?.icmp;
    expect(icmp).toMatchObject({ type: 3, code: 4, mtu: 1450, checksumOk: true });
    expect(icmp?.payload.length).toBe(28);
    // The quote carries the original packet's lengths and checksums.
    expect(icmp?.inner).toMatchObject({ ...original, totalLength: 20 + 8 + 1400, checksumOk: true });
    expect(icmp?.inner?.udp).toMatchObject({ sport: 4000, dport: 4789, length: 1408, checksumOk: undefined });
    expect(p.eth.ipv4?.totalLength).toBe(20 + 8 + 28);
  });

  it('ICMP time-exceeded quoting a whole small packet', () => {
    const f = eth({ src: A, dst: B })
      .ipv4({ src: '10.0.0.1', dst: '10.0.0.5' })
      .icmpError({ type: 'time-exceeded' })
      .ipv4({ src: '10.0.0.5', dst: '10.0.9.9', ttl: 1 })
      .icmpEcho({ id: 1, seq: 1 })
      .build();
    const icmp = parseFrame(f).eth.ipv4?.icmp;
    expect(icmp).toMatchObject({ type: 11, code: 0, checksumOk: true });
    expect(icmp?.inner?.icmp).toMatchObject({ type: 8, id: 1, seq: 1, checksumOk: true });
  });

  it('VXLAN: VNI, I flag and the inner frame', () => {
    const inner = eth({ src: '02:00:00:00:01:01', dst: '02:00:00:00:01:02' }).ipv4({ src: '10.1.0.1', dst: '10.1.0.2', ttl: 7 }).icmpEcho({ id: 9, seq: 2 });
    const f = eth({ src: A, dst: B })
      .ipv4({ src: '192.0.2.1', dst: '192.0.2.2' })
      .udp({ sport: 49152, dport: 4789 })
      .vxlan({ vni: 0xabcdef })
      .eth({ src: '02:00:00:00:01:01', dst: '02:00:00:00:01:02' })
      .ipv4({ src: '10.1.0.1', dst: '10.1.0.2', ttl: 7 })
      .icmpEcho({ id: 9, seq: 2 })
      .build();
    expect(f.subarray(42, 50).toString('hex')).toBe('08000000abcdef00');
    const p = parseFrame(f);
    expect(p.stack).toBe('eth/ipv4/udp/vxlan/eth/ipv4/icmp');
    expect(p.errors).toEqual([]);
    const vx = p.eth.ipv4?.udp?.vxlan;
    expect(vx).toMatchObject({ flags: 0x08, vni: 0xabcdef, offset: 42 });
    expect(vx?.eth).toMatchObject({ src: '02:00:00:00:01:01', dst: '02:00:00:00:01:02', offset: 50 });
    expect(vx?.eth?.ipv4).toMatchObject({ ttl: 7, checksumOk: true });
    expect(vx?.eth?.ipv4?.icmp).toMatchObject({ id: 9, seq: 2, checksumOk: true });
    expect(p.eth.ipv4?.udp?.checksumOk).toBe(true);
    expect(f.subarray(50).equals(inner.build())).toBe(true);
  });

  it('VXLAN lengths: outer UDP = 8 + 8 + inner frame, outer IP = 20 + UDP, frame = 14 + IP', () => {
    for (const n of [0, 1, 100, 1400]) {
      const innerFrame = eth({ src: A, dst: B }).ipv4({ src: '10.1.0.1', dst: '10.1.0.2' }).udp({ sport: 1, dport: 2 }).payload(n);
      const innerLen = innerFrame.build().length;
      expect(innerLen).toBe(14 + 20 + 8 + n);
      const f = eth({ src: A, dst: B })
        .ipv4({ src: '192.0.2.1', dst: '192.0.2.2' })
        .udp({ sport: 1, dport: 4789 })
        .vxlan({ vni: 1 })
        .eth({ src: A, dst: B })
        .ipv4({ src: '10.1.0.1', dst: '10.1.0.2' })
        .udp({ sport: 1, dport: 2 })
        .payload(n)
        .build();
      const p = parseFrame(f);
      expect(p.eth.ipv4?.udp?.length).toBe(8 + 8 + innerLen);
      expect(p.eth.ipv4?.totalLength).toBe(20 + 8 + 8 + innerLen);
      expect(f.length).toBe(14 + 20 + 8 + 8 + innerLen);
      expect(p.eth.ipv4?.udp?.vxlan?.eth?.ipv4?.totalLength).toBe(20 + 8 + n);
    }
  });

  it('builders are immutable, so a shared prefix can branch', () => {
    const base = eth({ src: A, dst: B }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' });
    const u = base.udp({ sport: 1, dport: 2 });
    const t = base.tcp({ sport: 1, dport: 2 });
    expect(base.layers.length).toBe(2);
    expect(parseFrame(u.build()).stack).toBe('eth/ipv4/udp');
    expect(parseFrame(t.build()).stack).toBe('eth/ipv4/tcp');
    expect(parseFrame(base.icmpEcho().build()).stack).toBe('eth/ipv4/icmp');
  });
});

describe('padding', () => {
  it('is off by default and pads to 60 bytes when asked', () => {
    const arp = eth({ src: A, dst: BCAST }).arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.2' });
    expect(arp.build().length).toBe(42);
    const padded = arp.build({ pad: true });
    expect(padded.length).toBe(60);
    expect(padded.subarray(0, 42).equals(arp.build())).toBe(true);
    expect(parseFrame(padded).eth.padding.equals(Buffer.alloc(18))).toBe(true);
  });

  it('IPv4 parsing stops at totalLength, so checksums hold with padding', () => {
    const p = parseFrame(eth({ src: A, dst: B }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 1, dport: 2 }).build({ pad: true }));
    expect(p.length).toBe(60);
    expect(p.eth.padding.length).toBe(60 - 42);
    expect(p.eth.ipv4).toMatchObject({ totalLength: 28, checksumOk: true });
    expect(p.eth.ipv4?.udp?.checksumOk).toBe(true);
  });

  it('leaves frames of 60 bytes or more alone', () => {
    const big = eth({ src: A, dst: B }).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 1, dport: 2 }).payload(40);
    expect(big.build({ pad: true }).equals(big.build())).toBe(true);
  });
});

describe('broken frames', () => {
  const ip = { src: '10.0.0.1', dst: '10.0.0.2' };
  const base = () => eth({ src: A, dst: B });

  it('explicit IPv4 checksum is written as given and detected as bad', () => {
    const good = parseFrame(base().ipv4(ip).udp({ sport: 1, dport: 2 }).build()).eth.ipv4;
    const bad = parseFrame(base().ipv4({ ...ip, checksum: 0x1234 }).udp({ sport: 1, dport: 2 }).build()).eth.ipv4;
    expect(good?.checksumOk).toBe(true);
    expect(bad).toMatchObject({ checksum: 0x1234, checksumOk: false });
  });

  it('wrong ihl: too large is a bad checksum, too small is an error', () => {
    const big = parseFrame(base().ipv4({ ...ip, ihl: 6 }).udp({ sport: 1, dport: 2 }).build());
    expect(big.eth.ipv4).toMatchObject({ ihl: 6, checksumOk: false });
    const small = parseFrame(base().ipv4({ ...ip, ihl: 4 }).udp({ sport: 1, dport: 2 }).build());
    expect(small.eth.ipv4?.ihl).toBe(4);
    expect(small.errors.join()).toMatch(/ipv4: bad ihl 4/);
    expect(small.stack).toBe('eth/ipv4');
  });

  it('wrong version and totalLength overrides', () => {
    const v = parseFrame(base().ipv4({ ...ip, version: 6 }).udp({ sport: 1, dport: 2 }).build());
    expect(v.errors).toContain('ipv4: version 6');
    const long = parseFrame(base().ipv4({ ...ip, totalLength: 1500 }).udp({ sport: 1, dport: 2 }).build());
    expect(long.eth.ipv4?.totalLength).toBe(1500);
    expect(long.errors.join()).toMatch(/total length 1500 > 28 bytes/);
    expect(long.eth.ipv4?.udp?.checksumOk).toBeUndefined();
  });

  it('truncated frames', () => {
    const full = base().ipv4(ip).udp({ sport: 1, dport: 2 }).payload(10);
    const cut = parseFrame(full.build({ truncate: 40 }));
    expect(cut.length).toBe(40);
    expect(cut.errors.join()).toMatch(/total length 38 > 26 bytes/);
    const hdr = parseFrame(full.build({ truncate: 24 }));
    expect(hdr.errors).toEqual(['ipv4: truncated header (10 bytes)']);
    expect(() => parseFrame(full.build({ truncate: 13 }))).toThrow(/too short for Ethernet/);
  });

  it('UDP checksum: 0 means none, explicit values are kept, bad length is reported', () => {
    const none = parseFrame(base().ipv4(ip).udp({ sport: 1, dport: 2, checksum: 0 }).build()).eth.ipv4?.udp;
    expect(none).toMatchObject({ checksum: 0, checksumOk: true });
    const bad = parseFrame(base().ipv4(ip).udp({ sport: 1, dport: 2, checksum: 0xbad }).build()).eth.ipv4?.udp;
    expect(bad).toMatchObject({ checksum: 0xbad, checksumOk: false });
    const len = parseFrame(base().ipv4(ip).udp({ sport: 1, dport: 2, length: 100 }).build());
    expect(len.errors.join()).toMatch(/udp: length 100/);
  });

  it('TCP and ICMP checksum overrides', () => {
    expect(parseFrame(base().ipv4(ip).tcp({ sport: 1, dport: 2, checksum: 1 }).build()).eth.ipv4?.tcp?.checksumOk).toBe(false);
    expect(parseFrame(base().ipv4(ip).icmpEcho({ checksum: 1 }).build()).eth.ipv4?.icmp?.checksumOk).toBe(false);
    const payloadFlip = base().ipv4(ip).icmpEcho({ id: 1 }).payload('abcd').build();
    payloadFlip[payloadFlip.length - 1]! ^= 1;
    expect(parseFrame(payloadFlip).eth.ipv4?.icmp?.checksumOk).toBe(false);
  });

  it('VXLAN without the I flag', () => {
    const f = base().ipv4(ip).udp({ sport: 1, dport: 4789 }).vxlan({ vni: 5, flags: 0 }).eth({ src: A, dst: B }).ipv4(ip).icmpEcho().build();
    expect(parseFrame(f).eth.ipv4?.udp?.vxlan?.flags).toBe(0);
  });

  it('rejects out-of-range and unknown values instead of truncating them', () => {
    expect(() => base().ipv4(ip).udp({ sport: 1, dport: 4789 }).vxlan({ vni: 1 << 24 }).build()).toThrow(/vxlan.vni/);
    expect(() => eth({ src: A, dst: B, vlan: { vid: 4096 } }).ipv4(ip).icmpEcho().build()).toThrow(/vlan.vid/);
    expect(() => base().ipv4({ ...ip, ttl: 256 }).icmpEcho().build()).toThrow(/ipv4.ttl/);
    expect(() => base().ipv4(ip).tcp({ sport: 1, dport: 2, flags: 'SX' }).build()).toThrow(/unknown TCP flag/);
    expect(() => base().ipv4(ip).udp({ sport: 65536, dport: 2 }).build()).toThrow(RangeError);
    expect(() => base().payload('x').build()).toThrow(/ethertype is required/);
    expect(() => base().ipv4(ip).payload('x').build()).toThrow(/protocol is required/);
    expect(() => base().ipv4({ ...ip, options: Buffer.alloc(41) }).icmpEcho().build()).toThrow(/options too long/);
  });
});

describe('RFC 1624 incremental update equals full recomputation', () => {
  const rand = seededRandom(0x1624);
  const int = (n: number) => Math.floor(rand() * n);
  // Bias towards the edge words 0000/ffff, where ones'-complement bugs live.
  const word = () => [0, 0xffff, int(0x10000)][int(3)]!;
  const addr = () => Buffer.from([int(256), int(256), int(256), int(256)]);

  it('IPv4 header: random 16-bit word changes', () => {
    for (let n = 0; n < 2000; n++) {
      const f = eth({ src: A, dst: B })
        .ipv4({ src: addr(), dst: addr(), ttl: int(256), id: int(0x10000), tos: int(256), options: Buffer.alloc(int(3) * 4, int(256)) })
        .icmpEcho()
        .build();
      const hlen = (f[14]! & 0xf) * 4;
      const ip = Buffer.from(f.subarray(14, 14 + hlen));
      let wordIdx = int(hlen / 2);
      if (wordIdx === 5) wordIdx = 4; // not the checksum field itself
      const oldWord = ip.readUInt16BE(wordIdx * 2);
      const newWord = word();
      ip.writeUInt16BE(newWord, wordIdx * 2);
      const incremental = checksumUpdate16(ip.readUInt16BE(10), oldWord, newWord);
      ip.writeUInt16BE(0, 10);
      expect(incremental, `word ${wordIdx}: ${oldWord.toString(16)} → ${newWord.toString(16)}`).toBe(internetChecksum(ip));
    }
  });

  it('the ±0 edge: changing into and out of a header whose checksum is 0000', () => {
    // Random changes hit this 1 in 65535 times; RFC 1141's HC + m + ~m' gets it wrong (ffff).
    for (let n = 0; n < 200; n++) {
      const f = eth({ src: A, dst: B }).ipv4({ src: addr(), dst: addr(), ttl: int(256) }).icmpEcho().build();
      const ip = Buffer.from(f.subarray(14, 34));
      const full = () => internetChecksum(Buffer.concat([ip.subarray(0, 10), Buffer.alloc(2), ip.subarray(12)]));
      ip.writeUInt16BE(0, 4);
      const oldCheck = full();
      const zeroId = oldCheck; // adding ~sum to the sum gives ffff, i.e. checksum 0000
      ip.writeUInt16BE(zeroId, 4);
      expect(full()).toBe(0);
      expect(checksumUpdate16(oldCheck, 0, zeroId)).toBe(0);
      expect(checksumUpdate16(0, zeroId, 0)).toBe(oldCheck);
    }
  });

  it('TTL decrement (the router case)', () => {
    for (let n = 0; n < 500; n++) {
      const ttl = 1 + int(255);
      const mk = (t: number) => eth({ src: A, dst: B }).ipv4({ src: addr(), dst: addr(), ttl: t, id: n }).icmpEcho().build();
      const before = mk(ttl);
      const after = Buffer.from(before);
      after[22] = ttl - 1;
      const check = checksumUpdate16(before.readUInt16BE(24), (ttl << 8) | 1, ((ttl - 1) << 8) | 1);
      after.writeUInt16BE(check, 24);
      expect(parseFrame(after).eth.ipv4?.checksumOk).toBe(true);
    }
  });

  it('SNAT of source address and port: IPv4 and UDP/TCP checksums via the pseudo-header', () => {
    for (let n = 0; n < 1000; n++) {
      const [src, dst, newSrc] = [addr(), addr(), addr()];
      const [sport, dport, newSport] = [int(0x10000), int(0x10000), int(0x10000)];
      const tcp = rand() < 0.5;
      const len = int(64);
      const mk = (s: Buffer, p: number) => {
        const l3 = eth({ src: A, dst: B }).ipv4({ src: s, dst, id: n });
        return (tcp ? l3.tcp({ sport: p, dport, seq: n }) : l3.udp({ sport: p, dport })).payload(len).build();
      };
      const before = mk(src, sport);
      const expected = mk(newSrc, newSport);
      const out = Buffer.from(before);
      newSrc.copy(out, 26);
      out.writeUInt16BE(newSport, 34);
      out.writeUInt16BE(checksumUpdate(before.readUInt16BE(24), src, newSrc), 24);
      const l4 = tcp ? 34 + 16 : 34 + 6;
      let c = checksumUpdate(before.readUInt16BE(l4), src, newSrc);
      c = checksumUpdate16(c, sport, newSport);
      if (!tcp && c === 0) c = 0xffff; // UDP: 0 means "no checksum" (CSUM_MANGLED_0)
      out.writeUInt16BE(c, l4);
      expect(out.equals(expected), hexdiff(expected, out)).toBe(true);
    }
  });
});

describe('hexdiff', () => {
  const vx = () =>
    eth({ src: A, dst: B })
      .ipv4({ src: '192.0.2.1', dst: '192.0.2.2' })
      .udp({ sport: 1, dport: 4789 })
      .vxlan({ vni: 1 })
      .eth({ src: A, dst: B })
      .ipv4({ src: '10.0.0.1', dst: '10.0.0.2' })
      .icmpEcho()
      .build();

  it('is empty for equal frames', () => {
    expect(hexdiff(vx(), vx())).toBe('');
  });

  it('names the first differing field, including in inner frames', () => {
    const exp = vx();
    const act = Buffer.from(exp);
    act[22] = 63; // outer TTL
    const d = hexdiff(exp, act);
    expect(d).toContain('first difference at byte 22 (0x16) in ipv4.ttl (ipv4+8)');
    expect(d).toContain('1 byte(s) differ');
    expect(d).toMatch(/expected .*40 11/);
    expect(d).toMatch(/actual .*3f 11/);
    expect(d).toMatch(/\n {17}(?: {3})*\^\^/);

    const inner = Buffer.from(exp);
    inner[50 + 14 + 16]! ^= 0xff; // inner IPv4 destination
    expect(hexdiff(exp, inner)).toContain('in ipv4.dst (ipv4+16)');
    const mac = Buffer.from(exp);
    mac[50 + 6]! ^= 1;
    expect(hexdiff(exp, mac)).toContain('in eth.src (eth+6)');
  });

  it('reports length differences', () => {
    const exp = vx();
    const d = hexdiff(exp, exp.subarray(0, exp.length - 4));
    expect(d).toContain(`expected ${exp.length} bytes, actual ${exp.length - 4}; 4 byte(s) differ`);
    expect(d).toContain(`first difference at byte ${exp.length - 4}`);
  });
});

describe('pcapBytes', () => {
  it('writes a classic little-endian pcap with LINKTYPE_ETHERNET', () => {
    const f1 = eth({ src: A, dst: BCAST }).arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.2' }).build();
    const f2 = Buffer.from('abc');
    const p = pcapBytes([f1, f2]);
    expect(p.subarray(0, 24).toString('hex')).toBe('d4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + '00000400' + '01000000');
    expect(p.readUInt32LE(24 + 8)).toBe(42); // incl_len
    expect(p.readUInt32LE(24 + 12)).toBe(42); // orig_len
    expect(p.subarray(40, 82).equals(f1)).toBe(true);
    expect(p.readUInt32LE(82 + 4)).toBe(1); // second packet 1 µs later
    expect(p.subarray(98).toString()).toBe('abc');
    expect(p.length).toBe(24 + 16 + 42 + 16 + 3);
  });
});
