// xdp_port through BPF_PROG_RUN: what a VM port may send (port security),
// the ARP responder, the L2 switch (local redirect, VXLAN encapsulation with
// exact outer headers, hand-off to the flood path), the MTUs and the
// isolation of networks that share addresses. The world is overlay-world.ts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LoadedObject, loadObject } from '../../src/dataplane/index.js';
import { type PacketCase, objectPath, packetTable } from '../helpers/bpf.js';
import { eth, parseFrame } from '../helpers/frames.js';
import { tsharkAvailable, tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';
import {
  BLUE,
  BROADCAST,
  type IfName,
  JUMBO,
  MAC,
  NETWORK_MTU,
  OVERLAY_LOAD,
  R2,
  R3,
  RED,
  UNDERLAY_MAC,
  VTEP_IP,
  encapsulated,
  installWorld,
  useOverlayPorts,
} from './overlay-world.js';

const ETH_P_IPV6 = 0x86dd;

/** A small UDP datagram from (mac, ip) to (mac, ip). */
const udp = (src: string, srcIp: string, dst: string, dstIp: string, payload: number | string = 'hello') =>
  eth({ src, dst }).ipv4({ src: srcIp, dst: dstIp }).udp({ sport: 40000, dport: 5000 }).payload(payload).build();

/** An IPv4 packet of exactly `ipLength` bytes (total length) from p1 to dst. */
const sized = (dst: string, dstIp: string, ipLength: number, from: { mac: string; ip: string } = { mac: MAC.m1, ip: '10.0.0.11' }) =>
  eth({ src: from.mac, dst }).ipv4({ src: from.ip, dst: dstIp }).udp({ sport: 1, dport: 2 }).payload(ipLength - 28).build();

const arpRequest = (from: { mac: string; ip: string }, targetIp: string, opts: { dst?: string; senderMac?: string; pad?: boolean } = {}) =>
  eth({ src: from.mac, dst: opts.dst ?? BROADCAST })
    .arp({ senderIp: from.ip, targetIp, ...(opts.senderMac ? { senderMac: opts.senderMac } : {}) })
    .build({ pad: opts.pad ?? false });

/** The reply the responder must send to `to` for `ip` at `mac`. */
const arpReply = (to: { mac: string; ip: string }, ip: string, mac: string, pad = false) =>
  eth({ src: mac, dst: to.mac }).arp({ op: 'reply', senderMac: mac, senderIp: ip, targetMac: to.mac, targetIp: to.ip }).build({ pad });

const ipv6 = (src: string, dst: string) => eth({ src, dst, ethertype: ETH_P_IPV6 }).payload(40).build();

const P1 = { mac: MAC.m1, ip: '10.0.0.11' };
const P3 = { mac: MAC.m1, ip: '10.0.0.11' };

describePrivileged('xdp_port', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  const on = (name: IfName) => () => ifx(name);

  /** Extra checks on an encapsulated output: what a receiver's parser sees. */
  const outerIs = (vni: number, vtep: string, inner: Buffer) => (out: Buffer) => {
    const f = parseFrame(out);
    expect(f.errors).toEqual([]);
    expect(f.stack.startsWith('eth/ipv4/udp/vxlan/eth')).toBe(true);
    const ip = f.eth.ipv4!;
    expect({ src: ip.src, dst: ip.dst, ttl: ip.ttl, df: ip.df, checksumOk: ip.checksumOk, length: ip.totalLength }).toEqual({
      src: VTEP_IP,
      dst: vtep,
      ttl: 64,
      df: true,
      checksumOk: true,
      length: inner.length + 36,
    });
    const u = ip.udp!;
    expect(u.dport).toBe(4789);
    expect(u.checksum).toBe(0);
    expect(u.sport).toBeGreaterThanOrEqual(49152);
    expect(u.vxlan).toMatchObject({ flags: 0x08, vni });
    expect(out.subarray(50).equals(inner)).toBe(true);
  };

  const encapCase = (name: string, inner: Buffer, vni: number, vtep: string, from: IfName = 'p1'): PacketCase => ({
    name,
    frame: inner,
    ingressIfindex: on(from),
    expect: { action: 'REDIRECT', reason: 'FWD_ENCAP', frame: encapsulated(inner, vni, vtep), check: outerIs(vni, vtep, inner) },
  });

  const portSecurity: PacketCase[] = [
    {
      name: 'fixed IP and own MAC, to a local port of the network: redirected unchanged',
      frame: udp(MAC.m1, '10.0.0.11', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
    },
    {
      name: 'source MAC spoofed',
      frame: udp(MAC.stranger, '10.0.0.11', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_MAC' },
    },
    {
      name: 'source IPv4 spoofed',
      frame: udp(MAC.m1, '10.0.0.99', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_IP' },
    },
    {
      name: 'another port’s address, with own MAC',
      frame: udp(MAC.m1, '10.0.0.12', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_IP' },
    },
    {
      name: 'inside an allowed address pair (10.0.1.0/24, the port’s MAC)',
      frame: udp(MAC.m1, '10.0.1.77', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
    },
    {
      name: 'inside an allowed address pair with its own MAC (192.168.50.0/28)',
      frame: udp(MAC.pair, '192.168.50.14', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
    },
    {
      name: 'just outside that pair (192.168.50.16)',
      frame: udp(MAC.pair, '192.168.50.16', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_MAC' },
    },
    {
      name: 'the pair’s MAC with the port’s fixed IP',
      frame: udp(MAC.pair, '10.0.0.11', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_MAC' },
    },
    {
      name: 'the port’s MAC inside the pair that names another MAC',
      frame: udp(MAC.m1, '192.168.50.5', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_IP' },
    },
    {
      name: 'the same frame from the port that owns the address is fine (p2 → p1)',
      frame: udp(MAC.m2, '10.0.0.12', MAC.m1, '10.0.0.11'),
      ingressIfindex: on('p2'),
      expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
    },
    {
      name: 'ARP sender MAC is not the Ethernet source',
      frame: arpRequest(P1, '10.0.0.12', { senderMac: MAC.stranger }),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_ARP' },
    },
    {
      name: 'ARP sender IPv4 is not the port’s',
      frame: arpRequest({ mac: MAC.m1, ip: '10.0.0.12' }, '10.0.0.1'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_ARP' },
    },
    {
      name: 'ARP from a foreign MAC altogether',
      frame: arpRequest({ mac: MAC.stranger, ip: '10.0.0.11' }, '10.0.0.1'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_ARP' },
    },
    {
      name: 'ARP from an allowed pair (its MAC, an address in its CIDR) is answered',
      frame: arpRequest({ mac: MAC.pair, ip: '192.168.50.3' }, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply({ mac: MAC.pair, ip: '192.168.50.3' }, '10.0.0.12', MAC.m2) },
    },
    {
      name: 'ARP probe (sender 0.0.0.0, RFC 5227) for an unknown address: allowed, flooded',
      frame: arpRequest({ mac: MAC.m1, ip: '0.0.0.0' }, '10.0.0.99'),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'DHCP discover from 0.0.0.0:68 to 255.255.255.255:67: allowed, flooded',
      frame: eth({ src: MAC.m1, dst: BROADCAST }).ipv4({ src: '0.0.0.0', dst: '255.255.255.255' }).udp({ sport: 68, dport: 67 }).payload(240).build(),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'other traffic from 0.0.0.0',
      frame: eth({ src: MAC.m1, dst: BROADCAST }).ipv4({ src: '0.0.0.0', dst: '255.255.255.255' }).udp({ sport: 68, dport: 53 }).build(),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_IP' },
    },
    {
      name: 'DHCP discover from a foreign MAC',
      frame: eth({ src: MAC.stranger, dst: BROADCAST }).ipv4({ src: '0.0.0.0', dst: '255.255.255.255' }).udp({ sport: 68, dport: 67 }).build(),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_SPOOFED_MAC' },
    },
    {
      name: 'IPv6 cannot be checked: dropped',
      frame: ipv6(MAC.m1, '33:33:00:00:00:01'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_PORT_SECURITY_ETHERTYPE' },
    },
    {
      name: 'port security off (p3): any source MAC and IPv4 goes',
      frame: udp(MAC.stranger, '172.16.9.9', MAC.b3, '10.0.0.13'),
      ingressIfindex: on('p3'),
      expect: {
        action: 'REDIRECT',
        reason: 'FWD_ENCAP',
        frame: encapsulated(udp(MAC.stranger, '172.16.9.9', MAC.b3, '10.0.0.13'), BLUE, R3),
      },
    },
    {
      name: 'port security off (p3): IPv6 multicast is flooded',
      frame: ipv6(MAC.m1, '33:33:00:00:00:01'),
      ingressIfindex: on('p3'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
  ];

  const portAndHeaders: PacketCase[] = [
    {
      name: 'an admin-down port (p4) sends nothing',
      frame: udp(MAC.m4, '10.0.0.14', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p4'),
      expect: { action: 'DROP', reason: 'DROP_PORT_DOWN' },
    },
    {
      name: 'an interface that is no port (the underlay)',
      frame: udp(MAC.m1, '10.0.0.11', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('ul'),
      expect: { action: 'DROP', reason: 'DROP_UNKNOWN_PORT' },
    },
    {
      name: 'a port on an admin-down network (p6)',
      frame: udp(MAC.m6, '10.0.0.16', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p6'),
      expect: { action: 'DROP', reason: 'DROP_NETWORK_DOWN' },
    },
    {
      name: 'multicast source MAC',
      frame: udp('01:00:5e:00:00:01', '10.0.0.11', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p3'),
      expect: { action: 'DROP', reason: 'DROP_INVALID_SOURCE_MAC' },
    },
    {
      name: 'IPv4 header cut short',
      frame: udp(MAC.m1, '10.0.0.11', MAC.m2, '10.0.0.12').subarray(0, 14 + 12),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_TRUNCATED_IPV4' },
    },
    {
      name: 'UDP header cut short',
      frame: eth({ src: MAC.m1, dst: MAC.m2 }).ipv4({ src: '10.0.0.11', dst: '10.0.0.12', protocol: 17 }).payload(4).build(),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_TRUNCATED_L4' },
    },
  ];

  const arpResponder: PacketCase[] = [
    {
      name: 'request for a local port’s address: answered with the exact reply, back to the VM',
      frame: arpRequest(P1, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply(P1, '10.0.0.12', MAC.m2) },
    },
    {
      name: 'request for the router interface (the gateway)',
      frame: arpRequest(P1, '10.0.0.1'),
      ingressIfindex: on('p1'),
      expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply(P1, '10.0.0.1', MAC.router) },
    },
    {
      name: 'request for a remote port’s address',
      frame: arpRequest(P1, '10.0.0.21'),
      ingressIfindex: on('p1'),
      expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply(P1, '10.0.0.21', MAC.r1) },
    },
    {
      name: 'padded to the Ethernet minimum: the reply keeps the length',
      frame: arpRequest(P1, '10.0.0.12', { pad: true }),
      ingressIfindex: on('p1'),
      expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply(P1, '10.0.0.12', MAC.m2, true) },
    },
    {
      name: 'unicast request (a cache refresh) is answered too',
      frame: arpRequest(P1, '10.0.0.12', { dst: MAC.m2 }),
      ingressIfindex: on('p1'),
      expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply(P1, '10.0.0.12', MAC.m2) },
    },
    {
      name: 'request for an unknown address: flooded',
      frame: arpRequest(P1, '10.0.0.99'),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'gratuitous ARP (sender IP = target IP): flooded, not answered',
      frame: arpRequest(P1, '10.0.0.11'),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'duplicate address probe for its own address: not answered (no false conflict)',
      frame: arpRequest({ mac: MAC.m1, ip: '0.0.0.0' }, '10.0.0.11'),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'an ARP reply from the VM is switched like any frame',
      frame: eth({ src: MAC.m1, dst: MAC.m2 }).arp({ op: 'reply', senderIp: '10.0.0.11', targetIp: '10.0.0.12' }).build(),
      ingressIfindex: on('p1'),
      expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
    },
    {
      name: 'isolation: blue asks for 10.0.0.13, which only blue has',
      frame: arpRequest(P3, '10.0.0.13'),
      ingressIfindex: on('p3'),
      expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply(P3, '10.0.0.13', MAC.b3) },
    },
    {
      name: 'isolation: red asks for 10.0.0.13: red does not know it',
      frame: arpRequest(P1, '10.0.0.13'),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'isolation: blue asks for 10.0.0.21, which only red has',
      frame: arpRequest(P3, '10.0.0.21'),
      ingressIfindex: on('p3'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
  ];

  const tcp = eth({ src: MAC.m1, dst: MAC.r1 })
    .ipv4({ src: '10.0.0.11', dst: '10.0.0.21', id: 77 })
    .tcp({ sport: 33333, dport: 22, flags: 'S', seq: 1000 })
    .build();
  const icmp = eth({ src: MAC.m1, dst: MAC.r1 }).ipv4({ src: '10.0.0.11', dst: '10.0.0.21' }).icmpEcho({ id: 9, seq: 1 }).payload(56).build();
  const fragment = eth({ src: MAC.m1, dst: MAC.r1 })
    .ipv4({ src: '10.0.0.11', dst: '10.0.0.21', mf: true, df: false })
    .udp({ sport: 40000, dport: 5000 })
    .payload(64)
    .build();

  const switching: PacketCase[] = [
    encapCase('to a remote port (UDP): encapsulated to its VTEP, exact outer headers', udp(MAC.m1, '10.0.0.11', MAC.r1, '10.0.0.21'), RED, R2),
    encapCase('to a remote port (TCP SYN)', tcp, RED, R2),
    encapCase('to a remote port (ICMP echo: no ports in the hash)', icmp, RED, R2),
    encapCase('to a remote port (first fragment: no ports in the hash)', fragment, RED, R2),
    encapCase('to a remote port behind another VTEP', udp(MAC.m1, '10.0.0.11', MAC.r3, '10.0.0.23'), RED, R3),
    encapCase('non-IP to a remote port (port security off; MAC hash)', ipv6(MAC.m1, MAC.b3), BLUE, R3, 'p3'),
    {
      name: 'to a remote VTEP with no resolved next hop',
      frame: udp(MAC.m1, '10.0.0.11', MAC.r9, '10.0.0.29'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_NO_UNDERLAY_NEXTHOP' },
    },
    {
      name: 'to its own MAC (hairpin)',
      frame: udp(MAC.m1, '10.0.0.11', MAC.m1, '10.0.0.11'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_HAIRPIN' },
    },
    {
      name: 'to an admin-down port',
      frame: udp(MAC.m1, '10.0.0.11', MAC.m4, '10.0.0.14'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_PORT_DOWN' },
    },
    {
      name: 'to a port whose interface is not in the transmit map',
      frame: udp(MAC.m1, '10.0.0.11', MAC.m0, '10.0.0.10'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_NO_TX_PORT' },
    },
    {
      name: 'to the router’s MAC: routing is not implemented yet',
      frame: udp(MAC.m1, '10.0.0.11', MAC.router, '8.8.8.8'),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_ROUTING_NOT_IMPLEMENTED' },
    },
    {
      name: 'broadcast: handed to the flood path untouched',
      frame: udp(MAC.m1, '10.0.0.11', BROADCAST, '10.0.0.255'),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'multicast: handed to the flood path',
      frame: udp(MAC.m1, '10.0.0.11', '01:00:5e:00:00:fb', '224.0.0.251'),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'unknown unicast: handed to the flood path',
      frame: udp(MAC.m1, '10.0.0.11', MAC.stranger, '10.0.0.99'),
      ingressIfindex: on('p1'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
  ];

  const isolation: PacketCase[] = [
    {
      name: 'red p1 → 02:00:00:00:01:02: the red port p2, locally',
      frame: udp(MAC.m1, '10.0.0.11', MAC.m2, '10.0.0.12'),
      ingressIfindex: on('p1'),
      expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
    },
    encapCase('blue p3 → the same MAC: blue’s port behind 192.0.2.3, VNI 200', udp(MAC.m1, '10.0.0.11', MAC.m2, '10.0.0.12'), BLUE, R3, 'p3'),
    {
      name: 'blue p3 → red’s remote MAC 02:00:00:00:02:01: unknown on blue, flooded (on blue)',
      frame: udp(MAC.m1, '10.0.0.11', MAC.r1, '10.0.0.21'),
      ingressIfindex: on('p3'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
    {
      name: 'blue p3 sends from red p1’s MAC and IP (its own, on blue) to itself: hairpin on blue',
      frame: udp(MAC.m1, '10.0.0.11', MAC.m1, '10.0.0.11'),
      ingressIfindex: on('p3'),
      expect: { action: 'DROP', reason: 'DROP_HAIRPIN' },
    },
  ];

  const mtu: PacketCase[] = [
    encapCase(
      'exactly the network MTU (1450) to a remote port: the outer packet is exactly the underlay MTU (1500)',
      sized(MAC.r1, '10.0.0.21', NETWORK_MTU),
      RED,
      R2,
    ),
    {
      name: 'exactly the network MTU to a local port',
      frame: sized(MAC.m2, '10.0.0.12', NETWORK_MTU),
      ingressIfindex: on('p1'),
      expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
    },
    {
      name: 'one byte over the network MTU: dropped, even to a local port',
      frame: sized(MAC.m2, '10.0.0.12', NETWORK_MTU + 1),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_EXCEEDS_NETWORK_MTU' },
    },
    {
      name: 'one byte over the network MTU, broadcast: not flooded either',
      frame: sized(BROADCAST, '10.0.0.255', NETWORK_MTU + 1),
      ingressIfindex: on('p1'),
      expect: { action: 'DROP', reason: 'DROP_EXCEEDS_NETWORK_MTU' },
    },
    {
      name: 'within a 9000-byte network MTU but over the underlay once encapsulated: never sent oversized',
      frame: sized(MAC.j1, '10.5.0.51', 1451, { mac: MAC.m5, ip: '10.5.0.15' }),
      ingressIfindex: on('p5'),
      expect: { action: 'DROP', reason: 'DROP_EXCEEDS_UNDERLAY_MTU' },
    },
    encapCase(
      'the largest that fits the underlay on that network (1450)',
      sized(MAC.j1, '10.5.0.51', 1450, { mac: MAC.m5, ip: '10.5.0.15' }),
      JUMBO,
      R2,
      'p5',
    ),
  ];

  const table = (title: string, cases: PacketCase[], opts: { copies?: boolean } = {}) =>
    packetTable({
      title: `xdp_port: ${title}${opts.copies === false ? ', from maps without the daemon’s copies' : ''}`,
      object: 'xdp_port',
      program: 'xdp_port',
      load: OVERLAY_LOAD,
      setup: (obj) => installWorld(obj, ifx, opts),
      cases,
    });
  table('port security', portSecurity);
  table('ports and headers', portAndHeaders);
  table('ARP responder', arpResponder);
  table('switching and encapsulation', switching);
  table('isolation of networks sharing addresses and MACs', isolation);
  table('MTU', mtu);
  // The same verdicts where the ports carry no copy of their networks' state, nor the local MACs of their ports' (port_state.h).
  for (const [title, cases] of [['ports and headers', portAndHeaders], ['switching and encapsulation', switching], ['isolation of networks sharing addresses and MACs', isolation], ['MTU', mtu]] as const) {
    table(title, [...cases], { copies: false });
  }

  describePrivileged('xdp_port: encapsulated output decoded by tshark', ['bpf'], () => {
    let obj: LoadedObject;
    beforeAll(async () => {
      obj = await loadObject(objectPath('xdp_port'), OVERLAY_LOAD);
      installWorld(obj, ifx);
    });
    afterAll(() => obj?.close());

    it.runIf(tsharkAvailable() || process.env.CI === 'true')('tshark sees VXLAN VNI 100 to 192.0.2.2, a good outer IPv4 checksum and the inner UDP', async () => {
      const inner = udp(MAC.m1, '10.0.0.11', MAC.r1, '10.0.0.21', 'over the overlay');
      const program = obj.program('xdp_port');
      const result = program.testRun(inner, { ingressIfindex: ifx('p1') });
      program.close();
      expect(result.action).toBe('REDIRECT');

      const [pkt] = await tsharkDecode([result.frame]);
      expect(pkt).toBeDefined();
      const field = (name: string) => tsharkField(pkt!, name);
      expect(field('frame.protocols')).toEqual(['eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:udp:data']);
      expect(field('vxlan.vni')).toEqual(['100']);
      expect(field('vxlan.flag_i')).toEqual(['1']);
      expect(field('eth.src')).toEqual([UNDERLAY_MAC, MAC.m1]);
      expect(field('ip.src')).toEqual([VTEP_IP, '10.0.0.11']);
      expect(field('ip.dst')).toEqual([R2, '10.0.0.21']);
      expect(field('ip.ttl')[0]).toBe('64');
      expect(field('ip.flags.df')[0]).toBe('1');
      expect(field('ip.checksum.status')).toEqual(['1', '1']); // good, outer and inner
      expect(field('udp.dstport')).toEqual(['4789', '5000']);
      expect(field('udp.checksum')[0]).toBe('0x0000');
      expect(field('udp.checksum.status')).toEqual(['3', '1']); // outer: not present (0); inner: good
    });
  });
});
