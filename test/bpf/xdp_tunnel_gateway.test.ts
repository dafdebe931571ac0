// The tunnel from a compute node to a router's gateway node, through
// BPF_PROG_RUN on two nodes' objects (fip-world.ts): the compute node's
// xdp_port sends what its VM sends off-subnet, unrouted, VXLAN-encapsulated
// to the gateway node (external_route.h); the gateway node's xdp_underlay
// decapsulates it and routes it out through SNAT or the floating IP
// (tunnel_gateway.h); the answer comes back encapsulated (xdp_external) and
// the compute node's xdp_underlay hands it to the VM. Exact frames at every
// hop, each fed to the next; the TTL decremented once end to end; what the
// gateway's router sends back instead of forwarding (ICMP errors, a ping's
// answer) encapsulated back; what a gateway node refuses to route from the
// tunnel; checksums of the tunnelled frames verified by tshark.
import { describe, expect, it } from 'vitest';
import { encodeFdb } from '../../src/dataplane/overlay-encode.js';
import { encodeRoute, routeMapKey } from '../../src/dataplane/router-encode.js';
import { vtepNexthop } from '../../src/dataplane/layouts.js';
import { codec } from '../../src/dataplane/index.js';
import { eth, parseFrame } from '../helpers/frames.js';
import { tsharkAvailable, tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';
import { COMPUTE_UNDERLAY_MAC, COMPUTE_VTEP, FIP, floated, fromCompute, toFip, useFipWorld } from './fip-world.js';
import { R2, UNDERLAY_MAC, VTEP_IP, encapsulated } from './overlay-world.js';
import { EXT, GREEN, type L4, MAC, REMOTE, ROUTER, VM, answer, expectFrame, expectRun, fromOutside, fromVm, snatted, sourcePortOf, toVm } from './snat-world.js';

/** The ICMP error a router at (routerMac, routerIp) builds about `about` (as xdp_route.test.ts). */
function icmpError(about: Buffer, routerMac: string, routerIp: string, type: 'time-exceeded' | 'dest-unreachable', code: number, mtu?: number): Buffer {
  const f = parseFrame(about);
  const ip = f.eth.ipv4!;
  return eth({ src: routerMac, dst: f.eth.src })
    .ipv4({ src: routerIp, dst: ip.src, tos: 0xc0, ttl: 64, id: 0, df: true })
    .icmpError({ type, code, ...(mtu === undefined ? {} : { mtu }) })
    .payload(about.subarray(14, 14 + Math.min(ip.totalLength, 28)))
    .build();
}

/** The inner frame of a VXLAN frame (50 bytes of outer headers). */
const innerOf = (frame: Buffer) => frame.subarray(50);

describePrivileged('the tunnel from a compute node to the router’s gateway node', ['bpf', 'netns'], () => {
  const world = useFipWorld();
  const dns: L4 = { kind: 'udp', sport: 5353, dport: 53 };
  const outputs: Buffer[] = [];

  describe('SNAT through the tunnel (g2’s floating IP disassociated)', () => {
    it('setup: g2 leaves through SNAT', () => world().disassociate('g2'));

    const sent = fromVm(VM.g2, MAC.a, REMOTE, dns, {}, 'query via the gateway');
    let tunnelled: Buffer;
    let port = 0;

    it('the compute node encapsulates the frame unrouted, as the VM sent it (TTL 64), to the gateway node in green’s VNI', () => {
      const r = world().computeOut(sent);
      expectRun(r, 'REDIRECT', 'FWD_EXTERNAL_TUNNEL', fromCompute(sent));
      expect(parseFrame(innerOf(r.frame)).eth).toMatchObject({ dst: MAC.a, src: VM.g2.mac, ipv4: { ttl: 64 } });
      tunnelled = r.frame;
      outputs.push(r.frame);
    });

    it('the gateway node decapsulates, routes (TTL 63) and SNATs it out of the external NIC', () => {
      const r = world().gwTunnelIn(tunnelled);
      port = sourcePortOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, port, REMOTE, dns, MAC.gateway, {}, 'query via the gateway'));
      outputs.push(r.frame);
    });

    it('the connection records the VM on the compute node: green, its MAC', () => {
      const c = world()
        .gw.connections()
        .filter((h) => h.connection.externalPort === port && h.connection.protocol === 'udp' && h.connection.externalIp === EXT.a);
      expect(c.map((h) => h.direction).sort()).toEqual(['in', 'out']);
      expect(c[0]!.connection).toMatchObject({ vmIp: VM.g2.ip, vmPort: 5353, vni: GREEN, vmMac: VM.g2.mac });
    });

    let back: Buffer;
    it('the answer is translated and encapsulated back to the compute node (TTL 49)', () => {
      const r = world().gw.in(fromOutside(REMOTE, EXT.a, port, answer(dns), {}, 'answer'));
      expectRun(r, 'REDIRECT', 'FWD_SNAT_REPLY_ENCAP', encapsulated(toVm(VM.g2, MAC.a, REMOTE, answer(dns), {}, 'answer'), GREEN, R2));
      back = r.frame;
      outputs.push(r.frame);
    });

    it('the compute node decapsulates it into g2’s port', () => {
      const before = world().computeTx();
      const r = world().computeIn(back);
      expectRun(r, 'REDIRECT', 'FWD_DECAP', toVm(VM.g2, MAC.a, REMOTE, answer(dns), {}, 'answer'));
      expect(world().computeTx() - before).toBe(1n);
    });

    it('a TCP SYN, the same way: one connection, its SYN-ACK back', () => {
      const syn: L4 = { kind: 'tcp', sport: 40100, dport: 443, flags: 'S' };
      const out = world().gwTunnelIn(world().computeOut(fromVm(VM.g2, MAC.a, REMOTE, syn, {}, '')).frame);
      const p = sourcePortOf(out.frame);
      expectRun(out, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, p, REMOTE, syn, MAC.gateway, {}, ''));
      const r = world().computeIn(world().gw.in(fromOutside(REMOTE, EXT.a, p, answer(syn), {}, '')).frame);
      expectRun(r, 'REDIRECT', 'FWD_DECAP', toVm(VM.g2, MAC.a, REMOTE, answer(syn), {}, ''));
    });

    it('TTL exactly once end to end: 64 -> 64 in the tunnel -> 63 out; 2 -> 1 out; and 50 -> 49 back in', () => {
      const flow: L4 = { kind: 'udp', sport: 5400, dport: 53 };
      for (const ttl of [64, 2]) {
        const tunnel = world().computeOut(fromVm(VM.g2, MAC.a, REMOTE, flow, { ttl }));
        expect(parseFrame(innerOf(tunnel.frame)).eth.ipv4!.ttl, 'in the tunnel').toBe(ttl);
        const out = world().gwTunnelIn(tunnel.frame);
        expect(out.action).toBe('REDIRECT');
        expect(parseFrame(out.frame).eth.ipv4!.ttl, 'out of the NIC').toBe(ttl - 1);
      }
      const out = world().gwTunnelIn(world().computeOut(fromVm(VM.g2, MAC.a, REMOTE, flow)).frame);
      const back = world().computeIn(world().gw.in(fromOutside(REMOTE, EXT.a, sourcePortOf(out.frame), answer(flow))).frame);
      expect(back.action).toBe('REDIRECT');
      expect(parseFrame(back.frame).eth.ipv4!.ttl, 'into the VM').toBe(49);
    });

    it('teardown: g2’s floating IP back', () => world().associate('g2'));
  });

  describe('a floating IP through the tunnel', () => {
    const web: L4 = { kind: 'tcp', sport: 41000, dport: 443, flags: 'S' };

    it('out: tunnelled, then translated 1:1 to 203.0.113.121 on the gateway node', () => {
      const sent = fromVm(VM.g2, MAC.a, REMOTE, web, {}, 'via the floating IP');
      const tunnel = world().computeOut(sent);
      expectRun(tunnel, 'REDIRECT', 'FWD_EXTERNAL_TUNNEL', fromCompute(sent));
      const r = world().gwTunnelIn(tunnel.frame);
      expectRun(r, 'REDIRECT', 'FWD_FIP_OUT', floated(FIP.g2, REMOTE, web, MAC.gateway, {}, 'via the floating IP'));
      outputs.push(r.frame);
    });

    it('in: to 203.0.113.121, translated and encapsulated to the compute node, decapsulated into g2', () => {
      const inner = toVm(VM.g2, MAC.a, REMOTE, answer(web), {}, 'hello');
      const r = world().gw.in(toFip(REMOTE, FIP.g2, answer(web), {}, 'hello'));
      expectRun(r, 'REDIRECT', 'FWD_FIP_IN_ENCAP', encapsulated(inner, GREEN, R2));
      outputs.push(r.frame);
      expectRun(world().computeIn(r.frame), 'REDIRECT', 'FWD_DECAP', inner);
    });

    it('hairpin: g2 to p2’s floating IP, through the tunnel, into p2 (from g2’s floating IP, TTL 63)', () => {
      const flow: L4 = { kind: 'udp', sport: 6000, dport: 7000 };
      const tunnel = world().computeOut(fromVm(VM.g2, MAC.a, FIP.p2, flow));
      expect(tunnel.moved[0]).toMatch(/^FWD_EXTERNAL_TUNNEL /);
      const before = world().gw.portTx('p2');
      const r = world().gwTunnelIn(tunnel.frame);
      expectRun(r, 'REDIRECT', 'FWD_HAIRPIN_LOCAL', toVm(VM.p2, MAC.a, FIP.g2, flow, { ttl: 63 }));
      expect(world().gw.portTx('p2') - before).toBe(1n);
    });
  });

  describe('what the gateway’s router sends back goes back through the tunnel', () => {
    it('TTL 1: the compute node tunnels it as it is; the gateway node’s time exceeded is encapsulated back to it', () => {
      const sent = fromVm(VM.g2, MAC.a, REMOTE, dns, { ttl: 1 });
      const tunnel = world().computeOut(sent);
      expectRun(tunnel, 'REDIRECT', 'FWD_EXTERNAL_TUNNEL', fromCompute(sent));
      const error = icmpError(sent, MAC.a, '10.1.0.1', 'time-exceeded', 0);
      const r = world().gwTunnelIn(tunnel.frame);
      expectRun(r, 'REDIRECT', 'FWD_ICMP_TIME_EXCEEDED', encapsulated(error, GREEN, R2));
      outputs.push(r.frame);
      expectRun(world().computeIn(r.frame), 'REDIRECT', 'FWD_DECAP', error);
    });

    it('a ping to router A’s external IP is answered by the gateway node, back through the tunnel', () => {
      const ping: L4 = { kind: 'echo', id: 9, seq: 1 };
      const pong = eth({ src: MAC.a, dst: VM.g2.mac }).ipv4({ src: EXT.a, dst: VM.g2.ip, id: 0x1234, ttl: 64 }).icmpEcho({ op: 'reply', id: 9, seq: 1 }).payload('through the router').build();
      const r = world().gwTunnelIn(world().computeOut(fromVm(VM.g2, MAC.a, EXT.a, ping)).frame);
      expectRun(r, 'REDIRECT', 'FWD_ICMP_ECHO_REPLY', encapsulated(pong, GREEN, R2));
    });

    it('over the external MTU with DF: fragmentation needed (1400), encapsulated back', () => {
      const sent = fromVm(VM.g2, MAC.a, REMOTE, dns, {}, 1401 - 28);
      const r = world().gwTunnelIn(fromCompute(sent));
      expectRun(r, 'REDIRECT', 'FWD_ICMP_FRAG_NEEDED', encapsulated(icmpError(sent, MAC.a, '10.1.0.1', 'dest-unreachable', 4, 1400), GREEN, R2));
    });
  });

  describe('what the gateway node does not route from the tunnel', () => {
    it('a destination on a router’s tenant network: the sender routes that itself, never the gateway node', () => {
      const r = world().gwTunnelIn(fromCompute(fromVm(VM.g2, MAC.a, VM.p2.ip, dns)));
      expectRun(r, 'DROP', 'DROP_TUNNEL_NOT_GATEWAY');
    });

    it('an external route whose gateway is another node: never tunnelled on', () => {
      const route = encodeRoute({ routerId: ROUTER.a, prefix: '198.18.0.0/15' }, { kind: 'external', nexthop: EXT.gateway, gatewayVtepIp: '192.0.2.77', gatewayIsLocal: false });
      world().gw.write(route);
      try {
        expectRun(world().gwTunnelIn(fromCompute(fromVm(VM.g2, MAC.a, '198.18.0.1', dns))), 'DROP', 'DROP_TUNNEL_NOT_GATEWAY');
      } finally {
        world().gw.remove(route.map, routeMapKey({ routerId: ROUTER.a, prefix: '198.18.0.0/15' }));
      }
    });

    it('a router without a table here: dropped as it came, still encapsulated', () => {
      const routerD = 'fa:16:3f:0d:0d:0d';
      const fdb = encodeFdb({ vni: GREEN, macAddress: routerD }, { location: { kind: 'router', routerId: '0000000a-0000-4000-8000-00000000000d' } }, () => undefined);
      world().gw.write(fdb);
      try {
        const frame = fromCompute(fromVm(VM.g2, routerD, REMOTE, dns));
        expectRun(world().gwTunnelIn(frame), 'DROP', 'DROP_ROUTING_NOT_IMPLEMENTED', frame);
      } finally {
        world().gw.remove(fdb.map, fdb.key);
      }
    });

    it('a bad inner IPv4 header checksum: dropped, as a router drops it', () => {
      const bad = fromVm(VM.g2, MAC.a, REMOTE, dns, {});
      bad.writeUInt16BE(0xbad, 14 + 10);
      expectRun(world().gwTunnelIn(fromCompute(bad)), 'DROP', 'DROP_BAD_IPV4_CHECKSUM');
    });
  });

  describe('the compute node', () => {
    it('without an underlay next hop to the gateway node: dropped, never sent bare', () => {
      const port = world().compute.port;
      const map = port.map('xdpnet_nexthops');
      const key = codec.encode(codec.ipv4, VTEP_IP);
      try {
        map.delete(key);
        expectRun(world().computeOut(fromVm(VM.g2, MAC.a, REMOTE, dns)), 'DROP', 'DROP_NO_UNDERLAY_NEXTHOP');
      } finally {
        map.update(key, vtepNexthop.encode({ dst_mac: UNDERLAY_MAC, src_mac: COMPUTE_UNDERLAY_MAC, ifindex: world().computeIfindex('cul') }));
        map.close();
      }
    });

    it('routes east-west itself: to p2 on orange, encapsulated in orange’s VNI, TTL 63', () => {
      const r = world().computeOut(fromVm(VM.g2, MAC.a, VM.p2.ip, dns));
      expect(r.moved).toEqual([expect.stringMatching(/^FWD_ROUTED_ENCAP /)]);
      expect(parseFrame(r.frame).eth.ipv4).toMatchObject({ src: COMPUTE_VTEP, dst: VTEP_IP });
      expect(parseFrame(innerOf(r.frame)).eth.ipv4!.ttl).toBe(63);
    });
  });

  describePrivileged('outputs decoded by tshark', ['bpf'], () => {
    it.runIf(tsharkAvailable() || process.env.CI === 'true')('every checksum of the tunnelled and translated frames verifies, outer and inner', async () => {
      expect(outputs).toHaveLength(6);
      const pkts = await tsharkDecode(outputs);
      const field = (i: number, name: string) => tsharkField(pkts[i]!, name);
      // 0: compute -> gateway (VXLAN, inner UDP); 1: SNAT out; 2: SNAT reply encapsulated; 3: FIP out (TCP);
      // 4: FIP in encapsulated (TCP); 5: time exceeded encapsulated (ICMP quoting UDP).
      for (const i of [0, 2, 4, 5]) expect(field(i, 'ip.checksum.status'), `frame ${i}: outer and inner IPv4`).toEqual(i === 5 ? ['1', '1', '1'] : ['1', '1']);
      for (const i of [1, 3]) expect(field(i, 'ip.checksum.status'), `frame ${i}`).toEqual(['1']);
      expect(field(0, 'udp.checksum.status'), 'outer 0 (none), inner good').toEqual(['3', '1']);
      expect(field(0, 'vxlan.vni')).toEqual([String(GREEN)]);
      expect(field(1, 'udp.checksum.status')).toEqual(['1']);
      expect(field(2, 'udp.checksum.status')).toEqual(['3', '1']);
      expect(field(3, 'tcp.checksum.status')).toEqual(['1']);
      expect(field(4, 'tcp.checksum.status')).toEqual(['1']);
      expect(field(5, 'icmp.checksum.status')).toEqual(['1']);
      expect(field(5, 'ip.src'), 'outer, the error, the quote').toEqual([VTEP_IP, '10.1.0.1', VM.g2.ip]);
    });
  });
});
