// Independent check of frames.ts: tshark decodes what we build, with checksum
// validation on, and must agree on protocols, fields and checksum validity.
import { beforeAll, describe, expect, it } from 'vitest';
import { eth, parseFrame } from '../helpers/frames.js';
import { tsharkAvailable, tsharkDecode, tsharkField, type TsharkPacket } from '../helpers/pcap.js';

const haveTshark = tsharkAvailable();
const inCi = process.env.CI === 'true';
if (!haveTshark && !inCi) console.warn('frames-tshark.test.ts: skipped: tshark not found on PATH (`make deps` installs it)');

// Registered only when it must fail, so a normal run shows no skipped test.
if (!haveTshark && inCi) {
  describe('tshark in CI', () => {
    it('is installed', () => {
      throw new Error('tshark not found on PATH; it is required in CI: `make deps` installs it');
    });
  });
}

// tshark's *.checksum.status values (-T json shows the enum, the text view "[Good]" etc.)
const GOOD = '1';
const BAD = '0';
const UNVERIFIED = '2';
const NOT_PRESENT = '3';

const A = '02:00:00:00:00:01';
const B = '02:00:00:00:00:02';
const ip = { src: '10.0.0.1', dst: '10.0.0.2' };
const hex16 = (n: number | undefined) => `0x${(n ?? -1).toString(16).padStart(4, '0')}`;

interface Case {
  frame: Buffer;
  protocols: string;
  /** tshark field → all its values in the packet, outer first */
  fields: Record<string, string[]>;
}

const cases: Record<string, Case> = {
  'ARP request (padded)': {
    frame: eth({ src: A, dst: 'ff:ff:ff:ff:ff:ff' }).arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.254' }).build({ pad: true }),
    protocols: 'eth:ethertype:arp',
    fields: {
      'arp.opcode': ['1'],
      'arp.src.hw_mac': [A],
      'arp.src.proto_ipv4': ['10.0.0.1'],
      'arp.dst.hw_mac': ['00:00:00:00:00:00'],
      'arp.dst.proto_ipv4': ['10.0.0.254'],
      'eth.padding': [Array(18).fill('00').join(':')],
    },
  },
  'ARP reply': {
    frame: eth({ src: B, dst: A }).arp({ op: 'reply', senderIp: '10.0.0.254', targetIp: '10.0.0.1' }).build(),
    protocols: 'eth:ethertype:arp',
    fields: { 'arp.opcode': ['2'], 'arp.src.hw_mac': [B], 'arp.dst.hw_mac': [A] },
  },
  'ICMP echo request': {
    frame: eth({ src: A, dst: B }).ipv4({ ...ip, ttl: 17, id: 0x4242 }).icmpEcho({ id: 7, seq: 3 }).payload('abc').build(),
    protocols: 'eth:ethertype:ip:icmp:data',
    fields: {
      'ip.ttl': ['17'],
      'ip.id': ['0x4242'],
      'ip.checksum.status': [GOOD],
      'icmp.type': ['8'],
      'icmp.ident': ['7'],
      'icmp.seq': ['3'],
      'icmp.checksum.status': [GOOD],
      'data.data': ['61:62:63'],
    },
  },
  'UDP with payload, DF off, TOS set': {
    frame: eth({ src: A, dst: B }).ipv4({ ...ip, df: false, tos: 0xb8 }).udp({ sport: 12345, dport: 5000 }).payload(33).build(),
    protocols: 'eth:ethertype:ip:udp:data',
    fields: {
      'ip.flags.df': ['0'],
      'ip.dsfield.dscp': ['46'],
      'ip.len': ['61'],
      'udp.srcport': ['12345'],
      'udp.dstport': ['5000'],
      'udp.length': ['41'],
      'ip.checksum.status': [GOOD],
      'udp.checksum.status': [GOOD],
    },
  },
  'UDP without checksum': {
    frame: eth({ src: A, dst: B }).ipv4(ip).udp({ sport: 1, dport: 5000, checksum: 0 }).payload('x').build(),
    protocols: 'eth:ethertype:ip:udp:data',
    fields: { 'udp.checksum.status': [NOT_PRESENT] },
  },
  'TCP SYN-ACK with MSS, 802.1Q tagged': {
    frame: eth({ src: A, dst: B, vlan: { vid: 100, pcp: 5 } })
      .ipv4(ip)
      .tcp({ sport: 80, dport: 40000, flags: 'SA', seq: 1000, ack: 2001, window: 29200, options: Buffer.from('020405b4', 'hex') })
      .build(),
    protocols: 'eth:ethertype:vlan:ethertype:ip:tcp',
    fields: {
      'vlan.id': ['100'],
      'vlan.priority': ['5'],
      'tcp.flags': ['0x0012'],
      'tcp.seq_raw': ['1000'],
      'tcp.ack_raw': ['2001'],
      'tcp.window_size_value': ['29200'],
      'tcp.options.mss_val': ['1460'],
      'tcp.hdr_len': ['24'],
      'ip.checksum.status': [GOOD],
      'tcp.checksum.status': [GOOD],
    },
  },
  'VXLAN in UDP with inner ICMP': {
    frame: eth({ src: A, dst: B })
      .ipv4({ src: '192.0.2.1', dst: '192.0.2.2' })
      .udp({ sport: 49152, dport: 4789 })
      .vxlan({ vni: 100 })
      .eth({ src: '02:00:00:00:01:01', dst: '02:00:00:00:01:02' })
      .ipv4({ src: '10.1.0.1', dst: '10.1.0.2', ttl: 9 })
      .icmpEcho({ id: 7, seq: 1 })
      .payload('hello')
      .build(),
    protocols: 'eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data',
    fields: {
      'eth.dst': [B, '02:00:00:00:01:02'],
      'ip.src': ['192.0.2.1', '10.1.0.1'],
      'ip.ttl': ['64', '9'],
      'udp.length': [String(8 + 8 + 14 + 20 + 8 + 5)],
      'vxlan.vni': ['100'],
      'vxlan.flag_i': ['1'],
      'icmp.ident': ['7'],
      'ip.checksum.status': [GOOD, GOOD],
      'udp.checksum.status': [GOOD],
      'icmp.checksum.status': [GOOD],
    },
  },
  'ICMP frag-needed quoting IP header + 8': {
    frame: eth({ src: A, dst: B })
      .ipv4({ src: '10.0.0.254', dst: '10.0.0.1' })
      .icmpError({ type: 'dest-unreachable', code: 4, mtu: 1450, quote: 28 })
      .ipv4({ src: '10.0.0.1', dst: '198.51.100.9' })
      .udp({ sport: 4000, dport: 53 })
      .payload(1400)
      .build(),
    protocols: 'eth:ethertype:ip:icmp:ip:udp',
    fields: {
      'icmp.type': ['3'],
      'icmp.code': ['4'],
      'icmp.mtu': ['1450'],
      'icmp.checksum.status': [GOOD],
      'ip.len': ['56', '1428'],
      'ip.checksum.status': [GOOD, GOOD],
      'udp.checksum.status': [UNVERIFIED], // only 8 bytes of it are quoted
    },
  },
};

// Deliberately broken frames: tshark must call them bad, and its idea of the
// correct checksum must be what the builder computes when not overridden.
const good = eth({ src: A, dst: B }).ipv4(ip);
const brokenCases: Record<string, { frame: Buffer; status: string; calculated: string; expected: string }> = {
  'IPv4 header checksum': {
    frame: eth({ src: A, dst: B }).ipv4({ ...ip, checksum: 1 }).icmpEcho().build(),
    status: 'ip.checksum.status',
    calculated: 'ip.checksum_calculated',
    expected: hex16(parseFrame(good.icmpEcho().build()).eth.ipv4?.checksum),
  },
  'UDP checksum': {
    frame: good.udp({ sport: 1, dport: 5000, checksum: 1 }).build(),
    status: 'udp.checksum.status',
    calculated: 'udp.checksum_calculated',
    expected: hex16(parseFrame(good.udp({ sport: 1, dport: 5000 }).build()).eth.ipv4?.udp?.checksum),
  },
  'TCP checksum': {
    frame: good.tcp({ sport: 1, dport: 80, checksum: 1 }).build(),
    status: 'tcp.checksum.status',
    calculated: 'tcp.checksum_calculated',
    expected: hex16(parseFrame(good.tcp({ sport: 1, dport: 80 }).build()).eth.ipv4?.tcp?.checksum),
  },
  'ICMP checksum': {
    frame: good.icmpEcho({ id: 1, checksum: 1 }).build(),
    status: 'icmp.checksum.status',
    calculated: '', // tshark 4.0 reports ICMP's only in the expert message
    expected: hex16(parseFrame(good.icmpEcho({ id: 1 }).build()).eth.ipv4?.icmp?.checksum),
  },
};

/** tshark's frame.protocols → parseFrame's stack ('ip' → 'ipv4', without ethertype/data). */
const toStack = (protocols: string) =>
  protocols
    .split(':')
    .filter((p) => p !== 'ethertype' && p !== 'data')
    .map((p) => (p === 'ip' ? 'ipv4' : p))
    .join('/');

describe.skipIf(!haveTshark)('tshark decodes frames.ts output', () => {
  const names = [...Object.keys(cases), ...Object.keys(brokenCases)];
  const frames = [...Object.values(cases).map((c) => c.frame), ...Object.values(brokenCases).map((c) => c.frame)];
  const decoded = new Map<string, TsharkPacket>();

  beforeAll(async () => {
    const pkts = await tsharkDecode(frames);
    expect(pkts.length).toBe(frames.length);
    pkts.forEach((p, i) => decoded.set(names[i]!, p));
  }, 60_000);

  const pkt = (name: string) => decoded.get(name) ?? expect.unreachable(`no tshark output for ${name}`);

  it.each(Object.entries(cases))('%s: protocols, fields and checksum status', (name, c) => {
    const p = pkt(name);
    expect(tsharkField(p, 'frame.protocols')).toEqual([c.protocols]);
    expect(tsharkField(p, '_ws.malformed')).toEqual([]);
    for (const [field, values] of Object.entries(c.fields)) expect(tsharkField(p, field), field).toEqual(values);
  });

  it.each(Object.entries(brokenCases))('%s: overridden value is reported bad, calculated value is ours', (name, c) => {
    const p = pkt(name);
    expect(tsharkField(p, c.status)).toEqual([BAD]);
    if (c.calculated) expect(tsharkField(p, c.calculated)).toEqual([c.expected]);
    expect(tsharkField(p, '_ws.expert.message').join()).toContain(`Bad checksum [should be ${c.expected}]`);
  });

  it('agrees with parseFrame on the layer stack of every frame', () => {
    names.forEach((name, i) => {
      expect(parseFrame(frames[i]!).stack, name).toBe(toStack(tsharkField(pkt(name), 'frame.protocols')[0] ?? ''));
    });
  });
});
