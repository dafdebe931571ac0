// xdp_guard through BPF_PROG_RUN: every well-formed frame passes with the
// right reason, every malformed one is dropped with the reason that names
// its defect, and no frame is modified.
import { eth } from '../helpers/frames.js';
import { type PacketCase, packetTable } from '../helpers/bpf.js';

const A = { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' };
const IP = { src: '10.0.0.1', dst: '10.0.0.2' };

const icmp = () => eth(A).ipv4(IP).icmpEcho({ id: 7, seq: 1 }).payload(32).build();

/** Sets one byte of a frame: for defects the builder has no option for. */
function poke(frame: Buffer, offset: number, value: number): Buffer {
  const copy = Buffer.from(frame);
  copy[offset] = value;
  return copy;
}

/** An Ethernet header followed by `tags` 802.1Q tags and an IPv4 ICMP packet. */
function vlanStack(tags: number): Buffer {
  const inner = icmp().subarray(14);
  const header = Buffer.from('020000000002020000000001', 'hex');
  const tagBytes = Buffer.concat(Array.from({ length: tags }, (_, i) => Buffer.from([0x81, 0x00, 0x00, 10 + i])));
  return Buffer.concat([header, tagBytes, Buffer.from([0x08, 0x00]), inner]);
}

const wellFormed: PacketCase[] = [
  { name: 'ICMP echo request', frame: icmp(), expect: { action: 'PASS', reason: 'PASS_HOST' } },
  {
    name: 'UDP datagram',
    frame: eth(A).ipv4(IP).udp({ sport: 5353, dport: 53 }).payload('query').build(),
    expect: { action: 'PASS', reason: 'PASS_HOST' },
  },
  {
    name: 'TCP SYN with options',
    frame: eth(A).ipv4(IP).tcp({ sport: 40000, dport: 22, options: Buffer.from([2, 4, 5, 0xb4]) }).build(),
    expect: { action: 'PASS', reason: 'PASS_HOST' },
  },
  {
    name: 'ARP request',
    frame: eth({ ...A, dst: 'ff:ff:ff:ff:ff:ff' }).arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.254' }).build(),
    expect: { action: 'PASS', reason: 'PASS_HOST' },
  },
  {
    name: 'ARP request padded to the Ethernet minimum',
    frame: eth({ ...A, dst: 'ff:ff:ff:ff:ff:ff' }).arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.254' }).build({ pad: true }),
    expect: { action: 'PASS', reason: 'PASS_HOST' },
  },
  {
    name: 'UDP padded to the Ethernet minimum (IPv4 total length shorter than the frame)',
    frame: eth(A).ipv4(IP).udp({ sport: 1, dport: 2 }).build({ pad: true }),
    expect: { action: 'PASS', reason: 'PASS_HOST' },
  },
  {
    name: 'IPv4 with header options and a valid checksum',
    frame: eth(A).ipv4({ ...IP, options: Buffer.from([0x94, 0x04, 0x00, 0x00]) }).icmpEcho().build(),
    expect: { action: 'PASS', reason: 'PASS_HOST' },
  },
  { name: 'one 802.1Q tag', frame: vlanStack(1), expect: { action: 'PASS', reason: 'PASS_HOST' } },
  { name: 'QinQ: two tags', frame: vlanStack(2), expect: { action: 'PASS', reason: 'PASS_HOST' } },
  {
    name: 'GRE is not looked into',
    frame: eth(A).ipv4({ ...IP, protocol: 47 }).payload(24).build(),
    expect: { action: 'PASS', reason: 'PASS_HOST' },
  },
  {
    name: 'IPv6 goes to the kernel untouched',
    frame: eth({ ...A, ethertype: 0x86dd }).payload(40).build(),
    expect: { action: 'PASS', reason: 'PASS_OTHER_ETHERTYPE' },
  },
  {
    name: 'first fragment (MF set)',
    frame: eth(A).ipv4({ ...IP, mf: true, df: false }).udp({ sport: 1, dport: 2 }).payload(64).build(),
    expect: { action: 'PASS', reason: 'PASS_IPV4_FRAGMENT' },
  },
  {
    name: 'later fragment (offset set, no L4 header)',
    frame: eth(A).ipv4({ ...IP, fragOffset: 9, df: false, protocol: 17 }).payload(3).build(),
    expect: { action: 'PASS', reason: 'PASS_IPV4_FRAGMENT' },
  },
];

const malformed: PacketCase[] = [
  // A frame shorter than the 14-byte Ethernet header cannot be injected:
  // BPF_PROG_RUN refuses it (see loader.test.ts). A VLAN tag cut short takes
  // the same truncation path.
  { name: 'VLAN tag cut short', frame: vlanStack(1).subarray(0, 16), expect: { action: 'DROP', reason: 'DROP_TRUNCATED_ETHERNET' } },
  { name: 'three VLAN tags', frame: vlanStack(3), expect: { action: 'DROP', reason: 'DROP_TOO_MANY_VLAN_TAGS' } },
  {
    name: 'multicast source MAC',
    frame: eth({ ...A, src: '01:00:5e:00:00:01' }).ipv4(IP).icmpEcho().build(),
    expect: { action: 'DROP', reason: 'DROP_INVALID_SOURCE_MAC' },
  },
  {
    name: 'broadcast source MAC',
    frame: eth({ ...A, src: 'ff:ff:ff:ff:ff:ff' }).arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.2' }).build(),
    expect: { action: 'DROP', reason: 'DROP_INVALID_SOURCE_MAC' },
  },
  {
    name: 'ARP cut short',
    frame: eth(A).arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.2' }).build({ truncate: 14 + 20 }),
    expect: { action: 'DROP', reason: 'DROP_MALFORMED_ARP' },
  },
  {
    name: 'ARP for a non-IPv4 protocol',
    frame: poke(eth(A).arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.2' }).build(), 14 + 2, 0x86),
    expect: { action: 'DROP', reason: 'DROP_MALFORMED_ARP' },
  },
  { name: 'IPv4 header cut short', frame: icmp().subarray(0, 14 + 12), expect: { action: 'DROP', reason: 'DROP_TRUNCATED_IPV4' } },
  {
    name: 'IHL says 60 bytes, frame has fewer',
    frame: eth(A).ipv4({ ...IP, ihl: 15, protocol: 1 }).payload(8).build(),
    expect: { action: 'DROP', reason: 'DROP_TRUNCATED_IPV4' },
  },
  {
    name: 'version 6 inside an IPv4 ethertype',
    frame: eth(A).ipv4({ ...IP, version: 6 }).icmpEcho().build(),
    expect: { action: 'DROP', reason: 'DROP_MALFORMED_IPV4' },
  },
  {
    name: 'IHL below 5',
    frame: eth(A).ipv4({ ...IP, ihl: 4 }).icmpEcho().build(),
    expect: { action: 'DROP', reason: 'DROP_MALFORMED_IPV4' },
  },
  {
    name: 'total length beyond the frame',
    frame: eth(A).ipv4({ ...IP, totalLength: 1500 }).icmpEcho().build(),
    expect: { action: 'DROP', reason: 'DROP_MALFORMED_IPV4' },
  },
  {
    name: 'total length shorter than the header',
    frame: eth(A).ipv4({ ...IP, totalLength: 12 }).icmpEcho().build(),
    expect: { action: 'DROP', reason: 'DROP_MALFORMED_IPV4' },
  },
  {
    name: 'bad IPv4 header checksum',
    frame: eth(A).ipv4({ ...IP, checksum: 0x1234 }).icmpEcho().build(),
    expect: { action: 'DROP', reason: 'DROP_BAD_IPV4_CHECKSUM' },
  },
  {
    name: 'bad checksum in a header with options',
    frame: poke(eth(A).ipv4({ ...IP, options: Buffer.from([0x94, 0x04, 0x00, 0x00]) }).icmpEcho().build(), 14 + 22, 0x01),
    expect: { action: 'DROP', reason: 'DROP_BAD_IPV4_CHECKSUM' },
  },
  {
    name: 'TCP header cut short',
    frame: eth(A).ipv4({ ...IP, protocol: 6 }).payload(12).build(),
    expect: { action: 'DROP', reason: 'DROP_TRUNCATED_L4' },
  },
  {
    name: 'TCP data offset beyond the packet',
    frame: eth(A).ipv4(IP).tcp({ sport: 1, dport: 2, dataOffset: 15 }).build(),
    expect: { action: 'DROP', reason: 'DROP_TRUNCATED_L4' },
  },
  {
    name: 'UDP header cut short',
    frame: eth(A).ipv4({ ...IP, protocol: 17 }).payload(4).build(),
    expect: { action: 'DROP', reason: 'DROP_TRUNCATED_L4' },
  },
  {
    name: 'ICMP header cut short',
    frame: eth(A).ipv4({ ...IP, protocol: 1 }).payload(4).build(),
    expect: { action: 'DROP', reason: 'DROP_TRUNCATED_L4' },
  },
];

packetTable({ title: 'xdp_guard: well-formed frames', object: 'xdp_guard', program: 'xdp_guard', cases: wellFormed });
packetTable({ title: 'xdp_guard: malformed frames', object: 'xdp_guard', program: 'xdp_guard', cases: malformed });

// The load-time setting really reaches the program: with checksum
// verification off, the same bad-checksum frame is passed.
packetTable({
  title: 'xdp_guard with verify_ipv4_checksum off',
  object: 'xdp_guard',
  program: 'xdp_guard',
  load: { rodata: { verify_ipv4_checksum: false } },
  cases: [
    {
      name: 'bad IPv4 header checksum passes',
      frame: eth(A).ipv4({ ...IP, checksum: 0x1234 }).icmpEcho().build(),
      expect: { action: 'PASS', reason: 'PASS_HOST' },
    },
    {
      name: 'other defects are still dropped',
      frame: eth(A).ipv4({ ...IP, ihl: 4 }).icmpEcho().build(),
      expect: { action: 'DROP', reason: 'DROP_MALFORMED_IPV4' },
    },
  ],
});
