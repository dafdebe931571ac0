// xdp_underlay through BPF_PROG_RUN: VXLAN to our VTEP is decapsulated into
// the local port owning the inner destination (exact inner frame out), or
// dropped with the reason that names what is wrong with it; inner broadcast
// goes to the flood path still encapsulated; everything else reaches the
// kernel untouched. The world is overlay-world.ts.
import { type PacketCase, packetTable } from '../helpers/bpf.js';
import { eth } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';
import {
  BLUE,
  BROADCAST,
  DOWN,
  type IfName,
  MAC,
  NEXTHOP_MAC,
  R2,
  R3,
  RED,
  UNDERLAY_MAC,
  UNDERLAY_LOAD,
  UNKNOWN_VNI,
  VTEP_IP,
  fromVtep,
  installWorld,
  useOverlayPorts,
} from './overlay-world.js';

/** An inner frame from a remote port to (mac, ip). */
const inner = (dst: string, dstIp: string, src: string = MAC.r1, srcIp = '10.0.0.21') =>
  eth({ src, dst }).ipv4({ src: srcIp, dst: dstIp }).udp({ sport: 5000, dport: 40000 }).payload('from afar').build();

/** Sets one byte of a frame: for defects the builder has no option for. */
function poke(frame: Buffer, offset: number, value: number): Buffer {
  const copy = Buffer.from(frame);
  copy[offset] = value;
  return copy;
}

const toP2 = inner(MAC.m2, '10.0.0.12');
const outerUdp = (dport: number, dst = VTEP_IP) =>
  eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC }).ipv4({ src: R2, dst }).udp({ sport: 54321, dport, checksum: 0 });

describePrivileged('xdp_underlay', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);

  const decap: PacketCase[] = [
    {
      name: 'to a local port of the VNI: decapsulated, exactly the inner frame, redirected',
      frame: fromVtep(toP2, RED, R2),
      expect: { action: 'REDIRECT', reason: 'FWD_DECAP', frame: toP2 },
    },
    {
      name: 'from any source port and VTEP (the outer source is not checked)',
      frame: fromVtep(toP2, RED, '198.51.100.7', { sport: 61000 }),
      expect: { action: 'REDIRECT', reason: 'FWD_DECAP', frame: toP2 },
    },
    {
      name: 'reserved VXLAN flag bits set besides I: ignored (RFC 7348)',
      frame: fromVtep(toP2, RED, R2, { flags: 0x88 }),
      expect: { action: 'REDIRECT', reason: 'FWD_DECAP', frame: toP2 },
    },
    {
      name: 'an inner frame of the largest size the network carries',
      frame: fromVtep(eth({ src: MAC.r1, dst: MAC.m2 }).ipv4({ src: '10.0.0.21', dst: '10.0.0.12' }).udp({ sport: 1, dport: 2 }).payload(1450 - 28).build(), RED, R2),
      expect: {
        action: 'REDIRECT',
        reason: 'FWD_DECAP',
        frame: eth({ src: MAC.r1, dst: MAC.m2 }).ipv4({ src: '10.0.0.21', dst: '10.0.0.12' }).udp({ sport: 1, dport: 2 }).payload(1450 - 28).build(),
      },
    },
    {
      name: 'outer frame with trailing bytes after the IPv4 packet: trimmed off the inner frame',
      frame: Buffer.concat([fromVtep(toP2, RED, R2), Buffer.alloc(6, 0xee)]),
      expect: { action: 'REDIRECT', reason: 'FWD_DECAP', frame: toP2 },
    },
    {
      name: 'outer IPv4 header with options',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC })
        .ipv4({ src: R2, dst: VTEP_IP, options: Buffer.from([0x94, 0x04, 0x00, 0x00]) })
        .udp({ sport: 54321, dport: 4789, checksum: 0 })
        .vxlan({ vni: RED })
        .payload(toP2)
        .build(),
      expect: { action: 'REDIRECT', reason: 'FWD_DECAP', frame: toP2 },
    },
    {
      name: 'outer 802.1Q tag on the underlay',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC, vlan: { vid: 42 } })
        .ipv4({ src: R2, dst: VTEP_IP })
        .udp({ sport: 54321, dport: 4789, checksum: 0 })
        .vxlan({ vni: RED })
        .payload(toP2)
        .build(),
      expect: { action: 'REDIRECT', reason: 'FWD_DECAP', frame: toP2 },
    },
    {
      name: 'an inner ARP reply to a local port',
      frame: fromVtep(eth({ src: MAC.r1, dst: MAC.m1 }).arp({ op: 'reply', senderIp: '10.0.0.21', targetIp: '10.0.0.11' }).build(), RED, R2),
      expect: {
        action: 'REDIRECT',
        reason: 'FWD_DECAP',
        frame: eth({ src: MAC.r1, dst: MAC.m1 }).arp({ op: 'reply', senderIp: '10.0.0.21', targetIp: '10.0.0.11' }).build(),
      },
    },
  ];

  const isolation: PacketCase[] = [
    {
      name: 'VNI 200 to 02:00:00:00:01:01: blue’s local port p3',
      frame: fromVtep(inner(MAC.m1, '10.0.0.11', MAC.b3, '10.0.0.13'), BLUE, R3),
      expect: { action: 'REDIRECT', reason: 'FWD_DECAP', frame: inner(MAC.m1, '10.0.0.11', MAC.b3, '10.0.0.13') },
    },
    {
      name: 'VNI 100 to 02:00:00:00:01:02: red’s local port p2',
      frame: fromVtep(toP2, RED, R2),
      expect: { action: 'REDIRECT', reason: 'FWD_DECAP', frame: toP2 },
    },
    {
      name: 'VNI 200 to the same MAC: on blue it lives behind another VTEP, not here',
      frame: fromVtep(toP2, BLUE, R2),
      expect: { action: 'DROP', reason: 'DROP_UNKNOWN_DESTINATION' },
    },
    {
      name: 'VNI 200 to red’s router MAC: unknown on blue',
      frame: fromVtep(inner(MAC.router, '10.0.0.1'), BLUE, R2),
      expect: { action: 'DROP', reason: 'DROP_UNKNOWN_DESTINATION' },
    },
  ];

  const dropped: PacketCase[] = [
    {
      name: 'unknown VNI',
      frame: fromVtep(toP2, UNKNOWN_VNI, R2),
      expect: { action: 'DROP', reason: 'DROP_UNKNOWN_VNI' },
    },
    {
      name: 'VNI of an admin-down network',
      frame: fromVtep(inner(MAC.m6, '10.0.0.16'), DOWN, R2),
      expect: { action: 'DROP', reason: 'DROP_NETWORK_DOWN' },
    },
    {
      name: 'flags without the I bit',
      frame: fromVtep(toP2, RED, R2, { flags: 0x00 }),
      expect: { action: 'DROP', reason: 'DROP_MALFORMED_VXLAN' },
    },
    {
      name: 'GPE-style flags without the I bit',
      frame: fromVtep(toP2, RED, R2, { flags: 0x04 }),
      expect: { action: 'DROP', reason: 'DROP_MALFORMED_VXLAN' },
    },
    {
      name: 'VXLAN header cut short (4 bytes of it)',
      frame: outerUdp(4789).payload(Buffer.from([0x08, 0, 0, 0])).build(),
      expect: { action: 'DROP', reason: 'DROP_MALFORMED_VXLAN' },
    },
    {
      name: 'VXLAN header and no inner frame',
      frame: outerUdp(4789).vxlan({ vni: RED }).payload(Buffer.alloc(0)).build(),
      expect: { action: 'DROP', reason: 'DROP_MALFORMED_VXLAN' },
    },
    {
      name: 'inner Ethernet header cut short (10 of 14 bytes)',
      frame: outerUdp(4789).vxlan({ vni: RED }).payload(toP2.subarray(0, 10)).build(),
      expect: { action: 'DROP', reason: 'DROP_MALFORMED_VXLAN' },
    },
    {
      name: 'UDP length beyond the IPv4 packet',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC })
        .ipv4({ src: R2, dst: VTEP_IP })
        .udp({ sport: 54321, dport: 4789, checksum: 0, length: 8 + 8 + toP2.length + 1 })
        .vxlan({ vni: RED })
        .payload(toP2)
        .build(),
      expect: { action: 'DROP', reason: 'DROP_MALFORMED_VXLAN' },
    },
    {
      name: 'UDP length ending inside the inner Ethernet header',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC })
        .ipv4({ src: R2, dst: VTEP_IP })
        .udp({ sport: 54321, dport: 4789, checksum: 0, length: 8 + 8 + 13 })
        .vxlan({ vni: RED })
        .payload(toP2)
        .build(),
      expect: { action: 'DROP', reason: 'DROP_MALFORMED_VXLAN' },
    },
    {
      name: 'inner destination not on this node (unknown MAC)',
      frame: fromVtep(inner(MAC.stranger, '10.0.0.99'), RED, R2),
      expect: { action: 'DROP', reason: 'DROP_UNKNOWN_DESTINATION' },
    },
    {
      name: 'inner destination is a remote port (not ours to deliver)',
      frame: fromVtep(inner(MAC.r3, '10.0.0.23'), RED, R2),
      expect: { action: 'DROP', reason: 'DROP_UNKNOWN_DESTINATION' },
    },
    {
      name: 'inner destination is the router: routing is not implemented yet',
      frame: fromVtep(inner(MAC.router, '10.0.0.1'), RED, R2),
      expect: { action: 'DROP', reason: 'DROP_ROUTING_NOT_IMPLEMENTED' },
    },
    {
      name: 'inner destination is an admin-down port',
      frame: fromVtep(inner(MAC.m4, '10.0.0.14'), RED, R2),
      expect: { action: 'DROP', reason: 'DROP_PORT_DOWN' },
    },
    {
      // The redirect is attempted after decapsulation: the dropped frame is the inner one.
      name: 'inner destination’s interface is not in the transmit map',
      frame: fromVtep(inner(MAC.m0, '10.0.0.10'), RED, R2),
      expect: { action: 'DROP', reason: 'DROP_NO_TX_PORT', frame: inner(MAC.m0, '10.0.0.10') },
    },
    {
      name: 'inner multicast source MAC',
      frame: fromVtep(inner(MAC.m2, '10.0.0.12', '01:00:5e:00:00:01'), RED, R2),
      expect: { action: 'DROP', reason: 'DROP_INVALID_SOURCE_MAC' },
    },
    {
      name: 'outer IPv4 checksum bad',
      frame: poke(fromVtep(toP2, RED, R2), 14 + 10, 0x12),
      expect: { action: 'DROP', reason: 'DROP_BAD_IPV4_CHECKSUM' },
    },
    {
      name: 'outer multicast source MAC',
      frame: poke(fromVtep(toP2, RED, R2), 6, 0x01),
      expect: { action: 'DROP', reason: 'DROP_INVALID_SOURCE_MAC' },
    },
  ];

  const flood: PacketCase[] = [
    {
      name: 'inner broadcast (ARP request): to the flood path, still encapsulated',
      frame: fromVtep(eth({ src: MAC.r1, dst: BROADCAST }).arp({ senderIp: '10.0.0.21', targetIp: '10.0.0.11' }).build(), RED, R2),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'inner multicast: to the flood path',
      frame: fromVtep(inner('01:00:5e:00:00:fb', '224.0.0.251'), RED, R2),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'inner broadcast on an unknown VNI: dropped, not flooded',
      frame: fromVtep(inner(BROADCAST, '10.0.0.255'), UNKNOWN_VNI, R2),
      expect: { action: 'DROP', reason: 'DROP_UNKNOWN_VNI' },
    },
  ];

  const passed: PacketCase[] = [
    {
      name: 'SSH to the node',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC }).ipv4({ src: '192.0.2.50', dst: VTEP_IP }).tcp({ sport: 50000, dport: 22 }).build(),
      expect: { action: 'PASS', reason: 'PASS_HOST' },
    },
    {
      name: 'ARP for the VTEP address',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: BROADCAST }).arp({ senderIp: R2, targetIp: VTEP_IP }).build({ pad: true }),
      expect: { action: 'PASS', reason: 'PASS_HOST' },
    },
    {
      name: 'VXLAN to another address of the node',
      frame: outerUdp(4789, '192.0.2.77').vxlan({ vni: RED }).payload(toP2).build(),
      expect: { action: 'PASS', reason: 'PASS_HOST' },
    },
    {
      name: 'UDP to the VTEP on another port (4790)',
      frame: outerUdp(4790).vxlan({ vni: RED }).payload(toP2).build(),
      expect: { action: 'PASS', reason: 'PASS_HOST' },
    },
    {
      name: 'ICMP echo to the VTEP',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC }).ipv4({ src: R2, dst: VTEP_IP }).icmpEcho({ id: 1, seq: 1 }).build(),
      expect: { action: 'PASS', reason: 'PASS_HOST' },
    },
    {
      name: 'a fragment of a VXLAN packet (the kernel reassembles; it has no VXLAN socket)',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC })
        .ipv4({ src: R2, dst: VTEP_IP, mf: true, df: false })
        .udp({ sport: 54321, dport: 4789, checksum: 0 })
        .vxlan({ vni: RED })
        .payload(toP2)
        .build(),
      expect: { action: 'PASS', reason: 'PASS_IPV4_FRAGMENT' },
    },
    {
      name: 'IPv6',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: '33:33:00:00:00:01', ethertype: 0x86dd }).payload(40).build(),
      expect: { action: 'PASS', reason: 'PASS_OTHER_ETHERTYPE' },
    },
  ];

  const table = (title: string, cases: PacketCase[], opts: { copies?: boolean } = {}) =>
    packetTable({
      title: `xdp_underlay: ${title}${opts.copies === false ? ', from maps without the daemon’s copies' : ''}`,
      object: 'xdp_underlay',
      program: 'xdp_underlay',
      load: UNDERLAY_LOAD,
      setup: (obj) => installWorld(obj, ifx, opts),
      cases,
    });
  table('decapsulation', decap);
  table('isolation of networks sharing MACs', isolation);
  table('dropped', dropped);
  table('broadcast and multicast', flood);
  table('not for the overlay: to the kernel untouched', passed);
  // The same verdicts where the local MACs carry no copy of their ports, nor the ports of their networks (port_state.h).
  for (const [title, cases] of [['decapsulation', decap], ['isolation of networks sharing MACs', isolation], ['dropped', dropped]] as const) {
    table(title, [...cases], { copies: false });
  }
});
