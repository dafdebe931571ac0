// Distributed routing in xdp_port (bpf/lib/route.h) through BPF_PROG_RUN: the
// routed frame delivered locally or encapsulated in the destination network's
// VNI, exact ICMP the router sends (echo reply, time exceeded, net
// unreachable, fragmentation needed), every deliberate drop, and two routers
// with the same addresses never mixing. The world is route-world.ts, written
// through the daemon's encoders; every expected frame is built here
// independently (checksums recomputed in full, not incrementally).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LoadedObject, loadObject } from '../../src/dataplane/index.js';
import { type PacketCase, objectPath, packetTable } from '../helpers/bpf.js';
import { eth, internetChecksum, macBytes, parseFrame } from '../helpers/frames.js';
import { tsharkAvailable, tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type IfName, OVERLAY_LOAD, R2, R3, encapsulated, useOverlayPorts } from './overlay-world.js';
import { GREEN, MAC, ORANGE, PURPLE, SMALL_MTU, installRouteWorld } from './route-world.js';

interface Host {
  mac: string;
  ip: string;
}
const G1: Host = { mac: MAC.g1, ip: '10.1.0.11' }; // p1 behind router A; p3 behind router B
const O1: Host = { mac: MAC.o1, ip: '10.2.0.12' }; // p2 behind router A
const ETH_P_IPV6 = 0x86dd;

interface IpOpts {
  id?: number;
  ttl?: number;
  df?: boolean;
  mf?: boolean;
  fragOffset?: number;
  options?: Uint8Array;
  checksum?: number;
}

/** A UDP datagram from `from` to `dstIp`, addressed to router MAC `via`. */
const udp = (from: Host, via: string, dstIp: string, payload: number | string = 'routed', ip: IpOpts = {}) =>
  eth({ src: from.mac, dst: via })
    .ipv4({ src: from.ip, dst: dstIp, id: 0x1234, ...ip })
    .udp({ sport: 40000, dport: 5000 })
    .payload(payload)
    .build();

/** An IPv4 packet of exactly `ipLength` bytes (total length). */
const sized = (from: Host, via: string, dstIp: string, ipLength: number, ip: IpOpts = {}) => udp(from, via, dstIp, ipLength - 28, ip);

const ping = (from: Host, via: string, dstIp: string, ip: IpOpts = {}) =>
  eth({ src: from.mac, dst: via }).ipv4({ src: from.ip, dst: dstIp, id: 0x4242, ...ip }).icmpEcho({ id: 77, seq: 3 }).payload(56).build();

/** The exact reply to `ping(from, via, dstIp)`: from `dstIp` and `via`, TTL 64, the rest as asked. */
const pong = (from: Host, via: string, dstIp: string, ip: IpOpts = {}) =>
  eth({ src: via, dst: from.mac })
    .ipv4({ src: dstIp, dst: from.ip, id: 0x4242, ...ip, ttl: 64 })
    .icmpEcho({ op: 'reply', id: 77, seq: 3 })
    .payload(56)
    .build();

/**
 * What a router makes of `frame` when it forwards it: source MAC := the
 * router's, destination MAC := the neighbour's, TTL - 1, the IPv4 header
 * checksum recomputed from scratch. Nothing else changes.
 */
function routed(frame: Buffer, routerMac: string, neighbourMac: string): Buffer {
  const out = Buffer.from(frame);
  macBytes(neighbourMac).copy(out, 0);
  macBytes(routerMac).copy(out, 6);
  out[14 + 8] = out[14 + 8]! - 1;
  out.writeUInt16BE(0, 14 + 10);
  out.writeUInt16BE(internetChecksum(out.subarray(14, 34)), 14 + 10);
  return out;
}

/**
 * The ICMP error a router at (routerMac, routerIp) sends about `about`: to its
 * sender, TOS 0xc0, ID 0, DF, TTL 64, quoting the IPv4 header and up to 8
 * bytes of payload as received.
 */
function icmpError(about: Buffer, routerMac: string, routerIp: string, type: 'time-exceeded' | 'dest-unreachable', code: number, mtu?: number): Buffer {
  const f = parseFrame(about);
  const ip = f.eth.ipv4!;
  const quote = about.subarray(14, 14 + Math.min(ip.totalLength, 28));
  return eth({ src: routerMac, dst: f.eth.src })
    .ipv4({ src: routerIp, dst: ip.src, tos: 0xc0, ttl: 64, id: 0, df: true })
    .icmpError({ type, code, ...(mtu === undefined ? {} : { mtu }) })
    .payload(quote)
    .build();
}

/** A datagram to p2 whose IPv4 checksum, once routed, is 0x0000: the IP ID is chosen for it. */
function checksumBecomesZero(): Buffer {
  for (let id = 0; id < 0x10000; id++) {
    const frame = udp(G1, MAC.a, O1.ip, 'routed', { id });
    if (routed(frame, MAC.a, MAC.o1).readUInt16BE(24) === 0) return frame;
  }
  throw new Error('no IP ID gives a 0x0000 checksum');
}

describePrivileged('xdp_port routing', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  const on = (name: IfName) => () => ifx(name);

  const fwdLocal = (name: string, frame: Buffer, neighbour: string, from: IfName = 'p1', via: string = MAC.a): PacketCase => ({
    name,
    frame,
    ingressIfindex: on(from),
    expect: { action: 'REDIRECT', reason: 'FWD_ROUTED_LOCAL', frame: routed(frame, via, neighbour) },
  });
  const fwdEncap = (name: string, frame: Buffer, neighbour: string, vni: number, vtep: string, from: IfName = 'p1', via: string = MAC.a): PacketCase => {
    const inner = routed(frame, via, neighbour);
    return {
      name,
      frame,
      ingressIfindex: on(from),
      expect: {
        action: 'REDIRECT',
        reason: 'FWD_ROUTED_ENCAP',
        frame: encapsulated(inner, vni, vtep),
        check: (out) => {
          const p = parseFrame(out);
          expect(p.errors).toEqual([]);
          expect(p.eth.ipv4!.udp!.vxlan).toMatchObject({ vni });
          expect(p.eth.ipv4!.udp!.vxlan!.eth!.ipv4!.checksumOk).toBe(true);
        },
      },
    };
  };
  const dropped = (name: string, frame: Buffer, reason: PacketCase['expect']['reason'], from: IfName = 'p1'): PacketCase => ({
    name,
    frame,
    ingressIfindex: on(from),
    expect: { action: 'DROP', reason },
  });
  const sentBack = (name: string, frame: Buffer, reason: PacketCase['expect']['reason'], reply: Buffer, from: IfName = 'p1'): PacketCase => ({
    name,
    frame,
    ingressIfindex: on(from),
    expect: {
      action: 'TX',
      reason,
      frame: reply,
      check: (out) => {
        const p = parseFrame(out);
        expect(p.errors).toEqual([]);
        expect(p.eth.ipv4!.checksumOk).toBe(true);
        expect(p.eth.ipv4!.icmp!.checksumOk).toBe(true);
      },
    },
  });

  const forwarding: PacketCase[] = [
    fwdLocal('green p1 → 10.2.0.12 (p2 on orange): routed into p2, TTL 63, MACs rewritten', udp(G1, MAC.a, O1.ip), MAC.o1),
    fwdEncap('green p1 → 10.2.0.22 (orange, behind 192.0.2.2): routed, then encapsulated with VNI 20', udp(G1, MAC.a, '10.2.0.22'), MAC.o2, ORANGE, R2),
    fwdEncap('green p1 → 10.1.0.21 (its own subnet, through the router): encapsulated with VNI 10', udp(G1, MAC.a, '10.1.0.21'), MAC.g2, GREEN, R2),
    fwdLocal('orange p2 → 10.1.0.11 (green p1): routed back the other way', udp(O1, MAC.a, G1.ip), MAC.g1, 'p2'),
    fwdLocal('orange p2 → its own address through the router: a router may send it back into the sending port', udp(O1, MAC.a, O1.ip), MAC.o1, 'p2'),
    fwdLocal('static route 172.16.0.0/12 via 10.2.0.12: to p2’s MAC, the IPv4 destination unchanged', udp(G1, MAC.a, '172.20.1.2'), MAC.o1),
    fwdLocal('TTL 2: forwarded with TTL 1', udp(G1, MAC.a, O1.ip, 'routed', { ttl: 2 }), MAC.o1),
    fwdLocal('TCP SYN', eth({ src: G1.mac, dst: MAC.a }).ipv4({ src: G1.ip, dst: O1.ip, id: 9 }).tcp({ sport: 33333, dport: 22, seq: 1 }).build(), MAC.o1),
    fwdLocal('a first fragment (no ports to look at): routed like any packet', udp(G1, MAC.a, O1.ip, 64, { mf: true, df: false }), MAC.o1),
    fwdLocal('exactly the destination network’s MTU (1000)', sized(G1, MAC.a, '10.3.0.15', SMALL_MTU), MAC.s1),
    fwdLocal('a header whose checksum becomes 0x0000 (RFC 1624: never 0xffff, -0, instead)', checksumBecomesZero(), MAC.o1),
  ];

  const isolation: PacketCase[] = [
    fwdLocal('router A: 10.1.0.11 (p1) → 10.2.0.12 is p2, locally', udp(G1, MAC.a, O1.ip), MAC.o1),
    fwdEncap('router B: the same addresses from p3 → 10.2.0.12 is behind 192.0.2.3 on purple (VNI 120)', udp(G1, MAC.b, O1.ip), MAC.o1, PURPLE, R3, 'p3', MAC.b),
    sentBack('router B answers a ping to its own 10.1.0.1, from its own MAC', ping(G1, MAC.b, '10.1.0.1'), 'FWD_ICMP_ECHO_REPLY', pong(G1, MAC.b, '10.1.0.1'), 'p3'),
    sentBack(
      'router B has no default route: 8.8.8.8 is unreachable (router A would take its external route)',
      udp(G1, MAC.b, '8.8.8.8'),
      'FWD_ICMP_NET_UNREACHABLE',
      icmpError(udp(G1, MAC.b, '8.8.8.8'), MAC.b, '10.1.0.1', 'dest-unreachable', 0),
      'p3',
    ),
    {
      name: 'router A’s MAC means nothing on blue: unknown unicast, handed to the flood path, never routed by A',
      frame: udp(G1, MAC.a, O1.ip),
      ingressIfindex: on('p3'),
      expect: { action: 'PASS', reason: 'PASS_TO_FLOOD' },
    },
  ];

  const toRouter: PacketCase[] = [
    sentBack('ping to the gateway 10.1.0.1: the exact echo reply', ping(G1, MAC.a, '10.1.0.1'), 'FWD_ICMP_ECHO_REPLY', pong(G1, MAC.a, '10.1.0.1')),
    sentBack('ping to the router’s address on another network (10.2.0.1): answered from that address', ping(G1, MAC.a, '10.2.0.1'), 'FWD_ICMP_ECHO_REPLY', pong(G1, MAC.a, '10.2.0.1')),
    sentBack(
      'ping to the gateway with TTL 1: delivered to the router, not expired',
      ping(G1, MAC.a, '10.1.0.1', { ttl: 1 }),
      'FWD_ICMP_ECHO_REPLY',
      pong(G1, MAC.a, '10.1.0.1'),
    ),
    sentBack('ping without DF: the reply keeps the flags', ping(G1, MAC.a, '10.1.0.1', { df: false }), 'FWD_ICMP_ECHO_REPLY', pong(G1, MAC.a, '10.1.0.1', { df: false })),
    dropped('UDP to the gateway: no slow path yet', udp(G1, MAC.a, '10.1.0.1'), 'DROP_TO_ROUTER'),
    dropped('an echo reply to the gateway', eth({ src: G1.mac, dst: MAC.a }).ipv4({ src: G1.ip, dst: '10.1.0.1' }).icmpEcho({ op: 'reply' }).build(), 'DROP_TO_ROUTER'),
    dropped('a fragmented ping to the gateway', ping(G1, MAC.a, '10.1.0.1', { mf: true, df: false }), 'DROP_TO_ROUTER'),
  ];

  const timeExceeded = (frame: Buffer) => icmpError(frame, MAC.a, '10.1.0.1', 'time-exceeded', 0);
  const ttl1 = udp(G1, MAC.a, O1.ip, 'routed', { ttl: 1 });
  const ttl0 = udp(G1, MAC.a, '10.2.0.22', 'routed', { ttl: 0 });
  const short = eth({ src: G1.mac, dst: MAC.a }).ipv4({ src: G1.ip, dst: O1.ip, ttl: 1, protocol: 253 }).payload(3).build();
  const padded = eth({ src: G1.mac, dst: MAC.a }).ipv4({ src: G1.ip, dst: O1.ip, ttl: 1 }).udp({ sport: 1, dport: 2 }).build({ pad: true });
  const noRoute = udp(G1, MAC.b, '10.200.0.1');
  const big = sized(G1, MAC.a, '10.3.0.15', SMALL_MTU + 1);

  const icmpErrors: PacketCase[] = [
    sentBack('TTL 1: ICMP time exceeded from the gateway 10.1.0.1, quoting the header and 8 bytes', ttl1, 'FWD_ICMP_TIME_EXCEEDED', timeExceeded(ttl1)),
    sentBack('TTL 0 (to a remote destination): time exceeded too', ttl0, 'FWD_ICMP_TIME_EXCEEDED', timeExceeded(ttl0)),
    sentBack('a 23-byte packet is quoted whole (odd length: the checksum pads it)', short, 'FWD_ICMP_TIME_EXCEEDED', timeExceeded(short)),
    sentBack('Ethernet padding is not quoted: the error is cut to its length', padded, 'FWD_ICMP_TIME_EXCEEDED', timeExceeded(padded)),
    sentBack(
      'no route (router B, 10.200.0.1): ICMP net unreachable from its address on blue',
      noRoute,
      'FWD_ICMP_NET_UNREACHABLE',
      icmpError(noRoute, MAC.b, '10.1.0.1', 'dest-unreachable', 0),
      'p3',
    ),
    sentBack(
      'one byte over the destination network’s MTU with DF: fragmentation needed, next-hop MTU 1000',
      big,
      'FWD_ICMP_FRAG_NEEDED',
      icmpError(big, MAC.a, '10.1.0.1', 'dest-unreachable', 4, SMALL_MTU),
    ),
    dropped('one byte over without DF: dropped (XDP does not fragment)', sized(G1, MAC.a, '10.3.0.15', SMALL_MTU + 1, { df: false }), 'DROP_EXCEEDS_NETWORK_MTU'),
    dropped(
      'TTL 1 on an ICMP error: no error about an error',
      eth({ src: G1.mac, dst: MAC.a })
        .ipv4({ src: G1.ip, dst: O1.ip, ttl: 1 })
        .icmpError({ type: 'dest-unreachable', code: 3 })
        .ipv4({ src: O1.ip, dst: G1.ip })
        .udp({ sport: 5000, dport: 40000 })
        .build(),
      'DROP_TTL_EXCEEDED',
    ),
    dropped('TTL 1 on a fragment other than the first: no error', udp(G1, MAC.a, O1.ip, 64, { ttl: 1, df: false, fragOffset: 8 }), 'DROP_TTL_EXCEEDED'),
    dropped('TTL 1 from a broadcast source (port security off on p3): no error', udp({ mac: MAC.g1, ip: '255.255.255.255' }, MAC.b, O1.ip, 'x', { ttl: 1 }), 'DROP_TTL_EXCEEDED', 'p3'),
    dropped('no route to a multicast destination: no error', udp(G1, MAC.b, '239.1.2.3'), 'DROP_NO_ROUTE', 'p3'),
  ];

  const drops: PacketCase[] = [
    dropped('router A’s default route is external, via gateway node 192.0.2.10, which has no underlay next hop here', udp(G1, MAC.a, '8.8.8.8'), 'DROP_NO_UNDERLAY_NEXTHOP'),
    dropped('IPv4 options (IHL 6)', eth({ src: G1.mac, dst: MAC.a }).ipv4({ src: G1.ip, dst: O1.ip, options: Uint8Array.of(1, 1, 1, 1) }).udp({ sport: 1, dport: 2 }).build(), 'DROP_IPV4_OPTIONS'),
    dropped('a bad IPv4 header checksum (a router verifies it)', udp(G1, MAC.a, O1.ip, 'routed', { checksum: 0xbad }), 'DROP_BAD_IPV4_CHECKSUM'),
    dropped('a destination with no ARP entry (10.2.0.99): never flooded', udp(G1, MAC.a, '10.2.0.99'), 'DROP_NO_NEIGHBOR'),
    dropped('a destination whose MAC has no FDB entry (10.2.0.29)', udp(G1, MAC.a, '10.2.0.29'), 'DROP_NO_NEIGHBOR'),
    dropped('a static route whose next hop has no ARP entry (192.168.0.0/16 via 10.2.0.77)', udp(G1, MAC.a, '192.168.1.1'), 'DROP_NO_NEIGHBOR'),
    dropped('to another router’s address on orange (10.2.0.5, router E)', udp(G1, MAC.a, '10.2.0.5'), 'DROP_NEXTHOP_IS_ROUTER'),
    dropped('a static route via another router (10.99.0.0/16 via 10.2.0.5)', udp(G1, MAC.a, '10.99.1.1'), 'DROP_NEXTHOP_IS_ROUTER'),
    dropped('to a network that is down (10.6.0.16)', udp(G1, MAC.a, '10.6.0.16'), 'DROP_NETWORK_DOWN'),
    dropped('router C is down', udp({ mac: MAC.c1, ip: '10.4.0.14' }, MAC.c, '10.1.0.11'), 'DROP_ROUTER_DOWN', 'p4'),
    dropped('router D has an FDB entry but no table on this node', udp(G1, MAC.d, O1.ip), 'DROP_ROUTING_NOT_IMPLEMENTED'),
    dropped('IPv6 to the router’s MAC (port security off on p2)', eth({ src: O1.mac, dst: MAC.a, ethertype: ETH_P_IPV6 }).payload(40).build(), 'DROP_ROUTED_NOT_IPV4', 'p2'),
    dropped(
      'VLAN-tagged IPv4 to the router’s MAC',
      eth({ src: O1.mac, dst: MAC.a, vlan: { vid: 5 } }).ipv4({ src: O1.ip, dst: G1.ip }).udp({ sport: 1, dport: 2 }).build(),
      'DROP_ROUTED_NOT_IPV4',
      'p2',
    ),
    dropped('spoofed source (port security on p1) never reaches the router', udp({ mac: G1.mac, ip: '10.1.0.99' }, MAC.a, O1.ip), 'DROP_SPOOFED_IP'),
    {
      name: 'a unicast ARP request to the router’s MAC (a cache refresh) is still answered',
      frame: eth({ src: G1.mac, dst: MAC.a }).arp({ senderIp: G1.ip, targetIp: '10.1.0.1' }).build(),
      ingressIfindex: on('p1'),
      expect: {
        action: 'TX',
        reason: 'FWD_ARP_REPLY',
        frame: eth({ src: MAC.a, dst: G1.mac }).arp({ op: 'reply', senderMac: MAC.a, senderIp: '10.1.0.1', targetMac: G1.mac, targetIp: G1.ip }).build(),
      },
    },
  ];

  // Each table twice: with the copies the daemon keeps (the router in its
  // MACs' fdb entries, the port and its network in a local MAC's), and from
  // maps without them (every original looked up): the same frames out.
  const table = (title: string, cases: PacketCase[], opts: { copies?: boolean } = {}) =>
    packetTable({
      title: `xdp_port routing: ${title}${opts.copies === false ? ', from maps without the daemon’s copies' : ''}`,
      object: 'xdp_port',
      program: 'xdp_port',
      load: OVERLAY_LOAD,
      setup: (obj) => installRouteWorld(obj, world(), opts),
      cases,
    });
  for (const copies of [true, false]) {
    table('forwarding', forwarding, { copies });
    table('two routers with the same addresses', isolation, { copies });
    table('to the router itself', toRouter, { copies });
    table('ICMP errors', icmpErrors, { copies });
    table('deliberate drops', drops, { copies });
  }

  describePrivileged('xdp_port routing: outputs decoded by tshark', ['bpf'], () => {
    let obj: LoadedObject;
    beforeAll(async () => {
      obj = await loadObject(objectPath('xdp_port'), OVERLAY_LOAD);
      installRouteWorld(obj, world());
    });
    afterAll(() => obj?.close());

    const run = (frame: Buffer, from: IfName) => {
      const program = obj.program('xdp_port');
      try {
        return program.testRun(frame, { ingressIfindex: ifx(from) });
      } finally {
        program.close();
      }
    };

    it.runIf(tsharkAvailable() || process.env.CI === 'true')('checksums of routed, encapsulated and ICMP outputs verify in tshark', async () => {
      const outputs = [
        run(udp(G1, MAC.a, O1.ip, 'over the router'), 'p1'),
        run(udp(G1, MAC.a, '10.2.0.22', 'over the router and the overlay'), 'p1'),
        run(ping(G1, MAC.a, '10.1.0.1'), 'p1'),
        run(ttl1, 'p1'),
        run(udp(G1, MAC.b, '10.200.0.1'), 'p3'),
        run(big, 'p1'),
      ];
      expect(outputs.map((o) => o.action)).toEqual(['REDIRECT', 'REDIRECT', 'TX', 'TX', 'TX', 'TX']);
      const pkts = await tsharkDecode(outputs.map((o) => o.frame));
      const field = (i: number, name: string) => tsharkField(pkts[i]!, name);

      // Routed locally: one IPv4 header (good), UDP (good), TTL 63, the router's MAC.
      expect(field(0, 'frame.protocols')).toEqual(['eth:ethertype:ip:udp:data']);
      expect(field(0, 'ip.checksum.status')).toEqual(['1']);
      expect(field(0, 'udp.checksum.status')).toEqual(['1']);
      expect(field(0, 'ip.ttl')).toEqual(['63']);
      expect(field(0, 'eth.src')).toEqual([MAC.a]);
      // Routed and encapsulated: outer and inner IPv4 good, inner UDP good, VNI 20.
      expect(field(1, 'vxlan.vni')).toEqual([String(ORANGE)]);
      expect(field(1, 'ip.checksum.status')).toEqual(['1', '1']);
      expect(field(1, 'udp.checksum.status')).toEqual(['3', '1']);
      expect(field(1, 'ip.ttl')).toEqual(['64', '63']);
      // Echo reply.
      expect(field(2, 'icmp.type')).toEqual(['0']);
      expect(field(2, 'icmp.checksum.status')).toEqual(['1']);
      expect(field(2, 'ip.checksum.status')).toEqual(['1']);
      expect(field(2, 'ip.src')).toEqual(['10.1.0.1']);
      // Errors: time exceeded, net unreachable, fragmentation needed (MTU 1000); the quoted header is good too.
      for (const [i, type, code] of [
        [3, '11', '0'],
        [4, '3', '0'],
        [5, '3', '4'],
      ] as const) {
        expect(field(i, 'icmp.type')).toEqual([type]);
        expect(field(i, 'icmp.code')).toEqual([code]);
        expect(field(i, 'icmp.checksum.status')).toEqual(['1']);
        expect(field(i, 'ip.checksum.status')).toEqual(['1', '1']);
        expect(field(i, 'ip.dsfield')[0]).toBe('0xc0');
      }
      expect(field(5, 'icmp.mtu')).toEqual(['1000']);
    });
  });

});
