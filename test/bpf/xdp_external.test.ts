// xdp_external (the external NIC of a gateway node) through BPF_PROG_RUN:
// ARP and ping for the routers' external IPs, unsolicited packets to the
// kernel or dropped as configured, everything else to the kernel untouched,
// ICMP errors from outside translated back with the packet they quote (exact
// frames, and tshark verifying every checksum), replies to a VM behind
// another VTEP encapsulated, the router's own ICMP errors back out, and a
// connection half lost to eviction rebuilt. The world and its frames are
// snat-world.ts; connections are made by xdp_port sharing the pinned maps,
// or seeded through the encoder.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arpEntry, fdbEntry, portInfo } from '../../src/dataplane/layouts.js';
import { withArpFdb } from '../../src/dataplane/overlay-encode.js';
import type { NatConnection } from '../../src/dataplane/snat-encode.js';
import { natKeys } from '../../src/dataplane/snat-encode.js';
import { eth, parseFrame } from '../helpers/frames.js';
import { tsharkAvailable, tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';
import { encapsulated, R2 } from './overlay-world.js';
import {
  EXT,
  GREEN,
  type L4,
  MAC,
  NETWORK_MTU,
  REMOTE,
  VM,
  answer,
  expectRun,
  fromOutside,
  fromVm,
  sourcePortOf,
  toVm,
  useSnatWorld,
  withSource,
  packet,
} from './snat-world.js';

/** A router between the gateway node and REMOTE: where a time exceeded comes from. */
const MIDWAY = '198.51.100.254';

/** An ICMP error from `from` to the external IP `to`, quoting `quote` (bytes of an IPv4 packet). */
const errorFromOutside = (from: string, to: string, type: 'dest-unreachable' | 'time-exceeded', code: number, quote: Buffer, mtu?: number, ttl = 50) =>
  eth({ src: MAC.gateway, dst: MAC.ext })
    .ipv4({ src: from, dst: to, ttl, id: 0x7777 })
    .icmpError({ type, code, ...(mtu === undefined ? {} : { mtu }) })
    .payload(quote)
    .build();

/** The same error as the VM gets it: to its address, TTL one lower, from its router's MAC, quoting `quote`. */
const errorToVm = (vm: { mac: string; ip: string }, router: string, from: string, type: 'dest-unreachable' | 'time-exceeded', code: number, quote: Buffer, mtu?: number, ttl = 49) =>
  eth({ src: router, dst: vm.mac })
    .ipv4({ src: from, dst: vm.ip, ttl, id: 0x7777 })
    .icmpError({ type, code, ...(mtu === undefined ? {} : { mtu }) })
    .payload(quote)
    .build();

/** The IPv4 packet of a frame, its first `n` bytes (an ICMP error's quote). */
const ipBytes = (frame: Buffer, n?: number) => frame.subarray(14, n === undefined ? undefined : 14 + n);

/** The ICMP error the router sends back out of the NIC about `about` (from the external IP it was sent to). */
function errorBack(about: Buffer, type: 'time-exceeded' | 'dest-unreachable', code: number, mtu?: number): Buffer {
  const f = parseFrame(about);
  const ip = f.eth.ipv4!;
  return eth({ src: MAC.ext, dst: f.eth.src })
    .ipv4({ src: ip.dst, dst: ip.src, tos: 0xc0, ttl: 64, id: 0, df: true })
    .icmpError({ type, code, ...(mtu === undefined ? {} : { mtu }) })
    .payload(about.subarray(14, 14 + Math.min(ip.totalLength, 28)))
    .build();
}

describePrivileged('xdp_external', ['bpf', 'netns'], () => {
  const world = useSnatWorld();

  /** Opens a connection from p1 through xdp_port; returns its external port and what left. */
  const open = (l4: L4, dst = REMOTE, payload: string | number = 'opening') => {
    const r = world().out(fromVm(VM.p1, MAC.a, dst, l4, {}, payload), 'p1');
    expect(r.moved).toEqual([expect.stringMatching(/^FWD_SNAT_NEW /)]);
    return { port: sourcePortOf(r.frame), sent: r.frame };
  };

  describe('ARP and ping for the external IPs', () => {
    const request = (target: string, sender: string = EXT.gateway) => eth({ src: MAC.gateway, dst: 'ff:ff:ff:ff:ff:ff' }).arp({ senderIp: sender, targetIp: target }).build();

    it('an ARP request for router A’s external IP is answered with the NIC’s MAC', () => {
      const reply = eth({ src: MAC.ext, dst: MAC.gateway })
        .arp({ op: 'reply', senderMac: MAC.ext, senderIp: EXT.a, targetMac: MAC.gateway, targetIp: EXT.gateway })
        .build();
      expectRun(world().in(request(EXT.a)), 'TX', 'FWD_EXTERNAL_ARP_REPLY', reply);
    });

    it('ARP for an address not held here goes to the kernel', () => {
      expectRun(world().in(request(EXT.stranger)), 'PASS', 'PASS_HOST', request(EXT.stranger));
    });

    it('a gratuitous ARP (sender = target) goes to the kernel unanswered', () => {
      expectRun(world().in(request(EXT.a, EXT.a)), 'PASS', 'PASS_HOST');
    });

    it('ARP for router A’s external IP on another interface is not answered', () => {
      expectRun(world().run(world().external, 'xdp_external', request(EXT.a), 'ul'), 'PASS', 'PASS_HOST');
    });

    it('a ping to router A’s external IP is answered from it', () => {
      const ping: L4 = { kind: 'echo', id: 300, seq: 2 };
      const pong = packet({ src: MAC.ext, dst: MAC.gateway }, { src: EXT.a, dst: REMOTE, ttl: 64 }, { ...ping, op: 'reply' }, 32);
      expectRun(world().in(fromOutside(REMOTE, EXT.a, 300, ping, {}, 32)), 'TX', 'FWD_ICMP_ECHO_REPLY', pong);
    });
  });

  describe('what is not a reply', () => {
    const syn: L4 = { kind: 'tcp', sport: 51000, dport: 22, flags: 'S' };

    it('unsolicited TCP to an external IP: to the kernel by default', () => {
      expectRun(world().in(fromOutside(REMOTE, EXT.a, 22, syn)), 'PASS', 'PASS_EXTERNAL_UNSOLICITED');
    });

    it('… dropped with drop_unsolicited', () => {
      expectRun(world().in(fromOutside(REMOTE, EXT.a, 22, syn), world().strict), 'DROP', 'DROP_EXTERNAL_UNSOLICITED');
    });

    it('unsolicited UDP and an echo reply nobody asked for: the same', () => {
      expectRun(world().in(fromOutside(REMOTE, EXT.b, 9999, { kind: 'udp', sport: 53, dport: 1 })), 'PASS', 'PASS_EXTERNAL_UNSOLICITED');
      expectRun(world().in(fromOutside(REMOTE, EXT.b, 4321, { kind: 'echo', op: 'reply', id: 1 }), world().strict), 'DROP', 'DROP_EXTERNAL_UNSOLICITED');
    });

    it('to an address not held here (the node’s own traffic, other hosts): to the kernel, even with drop_unsolicited', () => {
      expectRun(world().in(fromOutside(REMOTE, EXT.stranger, 22, syn), world().strict), 'PASS', 'PASS_HOST');
      expectRun(world().in(fromOutside(REMOTE, '192.0.2.1', 22, syn), world().strict), 'PASS', 'PASS_HOST');
    });

    it('to router A’s external IP on another interface: not ours, to the kernel', () => {
      expectRun(world().run(world().strict, 'xdp_external', fromOutside(REMOTE, EXT.a, 22, syn), 'ul'), 'PASS', 'PASS_HOST');
    });

    it('a fragment goes to the kernel (no reassembly here)', () => {
      expectRun(world().in(fromOutside(REMOTE, EXT.a, 22, { kind: 'udp', sport: 1, dport: 2 }, { mf: true, df: false }, 64)), 'PASS', 'PASS_IPV4_FRAGMENT');
    });

    it('IPv4 options to an external IP: dropped, as the router drops them', () => {
      const frame = eth({ src: MAC.gateway, dst: MAC.ext }).ipv4({ src: REMOTE, dst: EXT.a, options: Uint8Array.of(1, 1, 1, 1) }).udp({ sport: 1, dport: 2 }).build();
      expectRun(world().in(frame), 'DROP', 'DROP_IPV4_OPTIONS');
    });

    it('a malformed frame is dropped as the guard drops it', () => {
      const frame = fromOutside(REMOTE, EXT.a, 22, syn).subarray(0, 14 + 10);
      expectRun(world().in(frame), 'DROP', 'DROP_TRUNCATED_IPV4');
    });
  });

  describe('ICMP errors from outside', () => {
    const dns: L4 = { kind: 'udp', sport: 5353, dport: 53 };
    const web: L4 = { kind: 'tcp', sport: 36000, dport: 443, flags: 'S' };
    const ping: L4 = { kind: 'echo', id: 77, seq: 3 };
    const outputs: Buffer[] = [];

    /** What the VM sent, as it left its router (TTL 63): what a translated quote must be, bytes and checksums. */
    const asRouted = (l4: L4, payload: string | number) => fromVm(VM.p1, MAC.a, REMOTE, l4, { ttl: 63 }, payload);

    it('port unreachable about a UDP datagram (8 bytes quoted): outer destination and quoted source translated back', () => {
      const { sent } = open(dns, REMOTE, 'query');
      const frame = errorFromOutside(REMOTE, EXT.a, 'dest-unreachable', 3, ipBytes(sent, 28));
      const r = world().in(frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_ICMP_ERROR_LOCAL', errorToVm(VM.p1, MAC.a, REMOTE, 'dest-unreachable', 3, ipBytes(asRouted(dns, 'query'), 28)));
      outputs.push(r.frame);
    });

    it('time exceeded about a TCP SYN quoted whole (RFC 1812): the quoted TCP checksum too', () => {
      const { sent } = open(web, REMOTE, 'hello');
      const frame = errorFromOutside(MIDWAY, EXT.a, 'time-exceeded', 0, ipBytes(sent));
      const r = world().in(frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_ICMP_ERROR_LOCAL', errorToVm(VM.p1, MAC.a, MIDWAY, 'time-exceeded', 0, ipBytes(asRouted(web, 'hello'))));
      expect(parseFrame(r.frame).eth.ipv4!.icmp!.inner!.tcp!.checksumOk, 'the quoted segment’s checksum').toBe(true);
      outputs.push(r.frame);
    });

    it('fragmentation needed about a TCP segment with 8 bytes quoted (no TCP checksum in it): the MTU kept', () => {
      const data: L4 = { ...web, flags: 'PA' };
      const r0 = world().out(fromVm(VM.p1, MAC.a, REMOTE, data, {}, 'big'), 'p1');
      expect(r0.action).toBe('REDIRECT');
      const frame = errorFromOutside(MIDWAY, EXT.a, 'dest-unreachable', 4, ipBytes(r0.frame, 28), 1280);
      const r = world().in(frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_ICMP_ERROR_LOCAL', errorToVm(VM.p1, MAC.a, MIDWAY, 'dest-unreachable', 4, ipBytes(asRouted(data, 'big'), 28), 1280));
      outputs.push(r.frame);
    });

    it('time exceeded about an echo request: the quoted identifier and its checksum translated back', () => {
      const { sent } = open(ping, REMOTE, 56);
      const frame = errorFromOutside(MIDWAY, EXT.a, 'time-exceeded', 0, ipBytes(sent, 28));
      const r = world().in(frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_ICMP_ERROR_LOCAL', errorToVm(VM.p1, MAC.a, MIDWAY, 'time-exceeded', 0, ipBytes(asRouted(ping, 56), 28)));
      outputs.push(r.frame);
    });

    it('tshark verifies every checksum of the translated errors, the quoted IPv4 header’s included', async () => {
      if (!tsharkAvailable() && process.env.CI !== 'true') return;
      expect(outputs).toHaveLength(4);
      const pkts = await tsharkDecode(outputs);
      for (let i = 0; i < pkts.length; i++) {
        expect(tsharkField(pkts[i]!, 'icmp.checksum.status')[0], `frame ${i}`).toBe('1');
        expect(tsharkField(pkts[i]!, 'ip.checksum.status'), `frame ${i}: outer and quoted IPv4`).toEqual(['1', '1']);
        expect(tsharkField(pkts[i]!, 'ip.dst')[0]).toBe(VM.p1.ip);
        expect(tsharkField(pkts[i]!, 'ip.src')[1], `frame ${i}: the quoted source`).toBe(VM.p1.ip);
      }
      expect(tsharkField(pkts[0]!, 'udp.srcport')).toEqual(['5353']);
      expect(tsharkField(pkts[1]!, 'tcp.checksum.status')).toEqual(['1']);
      expect(tsharkField(pkts[2]!, 'icmp.mtu')).toEqual(['1280']);
      // The quoted echo request is cut to 8 bytes: its checksum cannot be verified (2), only its identifier read.
      expect(tsharkField(pkts[3]!, 'icmp.checksum.status')).toEqual(['1', '2']);
      expect(tsharkField(pkts[3]!, 'icmp.ident')).toEqual(['77']);
    });

    it('an error about no connection is unsolicited', () => {
      const quote = ipBytes(packet({ src: MAC.ext, dst: MAC.gateway }, { src: EXT.a, dst: REMOTE, ttl: 63 }, { kind: 'udp', sport: 1, dport: 53 }), 28);
      expectRun(world().in(errorFromOutside(REMOTE, EXT.a, 'dest-unreachable', 3, quote)), 'PASS', 'PASS_EXTERNAL_UNSOLICITED');
    });

    it('an error quoting a packet not from that external IP is not one SNAT sent', () => {
      const { sent } = open({ kind: 'udp', sport: 5360, dport: 53 });
      const quote = Buffer.from(ipBytes(sent, 28));
      quote.write('cb007114', 12, 'hex'); // source 203.0.113.20
      expectRun(world().in(errorFromOutside(REMOTE, EXT.a, 'dest-unreachable', 3, quote)), 'DROP', 'DROP_MALFORMED_ICMP_ERROR');
    });

    it('an error quoting less than 8 bytes of the L4 header', () => {
      const { sent } = open({ kind: 'udp', sport: 5361, dport: 53 });
      expectRun(world().in(errorFromOutside(REMOTE, EXT.a, 'dest-unreachable', 3, ipBytes(sent, 24))), 'DROP', 'DROP_MALFORMED_ICMP_ERROR');
    });
  });

  describe('to a VM behind another VTEP (a connection made there)', () => {
    // The tunnel from a compute node to the gateway node comes later: the connection is seeded as xdp_port would make it.
    const connection: NatConnection = {
      protocol: 'udp',
      externalIp: EXT.a,
      externalPort: 61000,
      vmIp: VM.g2.ip,
      vmPort: 7000,
      remoteIp: REMOTE,
      remotePort: 4500,
      vni: GREEN,
      vmMac: VM.g2.mac,
    };
    const flow: L4 = { kind: 'udp', sport: 7000, dport: 4500 };

    it('a reply is translated, then encapsulated with the VM network’s VNI to its VTEP', () => {
      world().seed({ direction: 'out', connection, lastSeenNs: 0n, flags: 0 }, { direction: 'in', connection, lastSeenNs: 0n, flags: 0 });
      const inner = toVm(VM.g2, MAC.a, REMOTE, answer(flow), {}, 'to the far VM');
      const r = world().in(fromOutside(REMOTE, EXT.a, 61000, answer(flow), {}, 'to the far VM'));
      expectRun(r, 'REDIRECT', 'FWD_SNAT_REPLY_ENCAP', encapsulated(inner, GREEN, R2));
    });

    it('an ICMP error about it: the same, counted as an error', () => {
      const quote = ipBytes(packet({ src: MAC.ext, dst: MAC.gateway }, { src: EXT.a, dst: REMOTE, ttl: 63 }, withSource(flow, 61000)), 28);
      const inner = errorToVm(VM.g2, MAC.a, REMOTE, 'dest-unreachable', 3, ipBytes(packet({ src: VM.g2.mac, dst: MAC.a }, { src: VM.g2.ip, dst: REMOTE, ttl: 63 }, flow), 28));
      const r = world().in(errorFromOutside(REMOTE, EXT.a, 'dest-unreachable', 3, quote));
      expectRun(r, 'REDIRECT', 'FWD_SNAT_ICMP_ERROR_ENCAP', encapsulated(inner, GREEN, R2));
    });
  });

  describe('the router’s own ICMP errors, back out of the NIC', () => {
    const flow: L4 = { kind: 'udp', sport: 8000, dport: 8001 };

    it('a reply with TTL 1: time exceeded from the external IP, to the sender’s MAC', () => {
      const { port } = open(flow);
      const frame = fromOutside(REMOTE, EXT.a, port, answer(flow), { ttl: 1 });
      expectRun(world().in(frame), 'TX', 'FWD_ICMP_TIME_EXCEEDED', errorBack(frame, 'time-exceeded', 0));
    });

    it('a reply larger than the VM network’s MTU (1450) with DF: fragmentation needed, MTU 1450', () => {
      const { port } = open({ ...flow, sport: 8002 });
      const frame = fromOutside(REMOTE, EXT.a, port, answer({ ...flow, sport: 8002 }), {}, NETWORK_MTU + 1 - 28);
      expectRun(world().in(frame), 'TX', 'FWD_ICMP_FRAG_NEEDED', errorBack(frame, 'dest-unreachable', 4, NETWORK_MTU));
    });

    it('… without DF: dropped', () => {
      const { port } = open({ ...flow, sport: 8003 });
      const frame = fromOutside(REMOTE, EXT.a, port, answer({ ...flow, sport: 8003 }), { df: false }, NETWORK_MTU + 1 - 28);
      expectRun(world().in(frame), 'DROP', 'DROP_EXCEEDS_NETWORK_MTU');
    });

    it('an ICMP error with TTL 1: no error about an error', () => {
      const { sent } = open({ ...flow, sport: 8004 });
      expectRun(world().in(errorFromOutside(REMOTE, EXT.a, 'dest-unreachable', 3, ipBytes(sent, 28), undefined, 1)), 'DROP', 'DROP_TTL_EXCEEDED');
    });
  });

  describe('a connection half lost to eviction', () => {
    const connection: NatConnection = {
      protocol: 'tcp',
      externalIp: EXT.a,
      externalPort: 62000,
      vmIp: VM.p1.ip,
      vmPort: 39000,
      remoteIp: REMOTE,
      remotePort: 443,
      vni: GREEN,
      vmMac: VM.p1.mac,
    };
    const data: L4 = { kind: 'tcp', sport: 39000, dport: 443, flags: 'A' };
    const inKey = () => natKeys(connection).in.toString('hex');

    it('only the OUT half left: the next packet out (its time stale) rebuilds the IN half', () => {
      world().seed({ direction: 'out', connection, lastSeenNs: 0n, flags: 0 });
      expect(world().keys('xdpnet_snat_ct').map((k) => k.toString('hex'))).not.toContain(inKey());
      expectRun(world().out(fromVm(VM.p1, MAC.a, REMOTE, data), 'p1'), 'REDIRECT', 'FWD_SNAT');
      expect(world().keys('xdpnet_snat_ct').map((k) => k.toString('hex'))).toContain(inKey());
    });

    it('so the reply finds its way back', () => {
      const r = world().in(fromOutside(REMOTE, EXT.a, 62000, answer(data, 'A')));
      expectRun(r, 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, REMOTE, answer(data, 'A')));
    });

    it('an IN half whose port another connection now holds is dropped, and its packets are unsolicited', () => {
      // The IN half of 62001 claims the VM's 39001; the OUT half of that tuple maps to 62002 (a newer connection).
      const stale: NatConnection = { ...connection, externalPort: 62001, vmPort: 39001 };
      const current: NatConnection = { ...connection, externalPort: 62002, vmPort: 39001 };
      world().seed({ direction: 'in', connection: stale, lastSeenNs: 0n, flags: 0 }, { direction: 'out', connection: current, lastSeenNs: 0n, flags: 0 });
      expectRun(world().in(fromOutside(REMOTE, EXT.a, 62001, { kind: 'tcp', sport: 443, dport: 39001, flags: 'A' })), 'PASS', 'PASS_EXTERNAL_UNSOLICITED');
      expect(world().keys('xdpnet_snat_ct').map((k) => k.toString('hex'))).not.toContain(natKeys(stale).in.toString('hex'));
    });
  });

  // The daemon's copies (an fdb entry in its MAC's ARP entries, a router,
  // its external side and its gateway's MACs in its MACs' fdb entries, a port and its network's state in its MAC's, a network's in its
  // ports') save the
  // programs lookups; without them (another writer's maps) the programs look
  // each original up and do exactly the same.
  describe('from maps without the daemon’s copies', () => {
    const saved: { map: string; key: Buffer; value: Buffer }[] = [];
    const entries = (name: string): [Buffer, Buffer][] => {
      const map = world().port.map(name);
      try {
        return [...map.entries()].map(([k, v]) => [Buffer.from(k), Buffer.from(v)]);
      } finally {
        map.close();
      }
    };
    beforeAll(() => {
      // The world as the daemon writes it has them (router A's MACs, p1's).
      const before = entries('xdpnet_fdb').map(([, v]) => fdbEntry.decode(v));
      expect(before.some((v) => v.router_present === 1 && v.snat_present === 1 && v.ext_nh_present === 1)).toBe(true);
      expect(before.some((v) => v.port_present === 1 && v.port_net_mtu === NETWORK_MTU)).toBe(true);
      expect(entries('xdpnet_arp').some(([, v]) => arpEntry.decode(v).fdb_present === 1)).toBe(true);
      for (const [key, value] of entries('xdpnet_fdb')) {
        saved.push({ map: 'xdpnet_fdb', key, value });
        const v = fdbEntry.decode(value);
        world().write({
          map: 'xdpnet_fdb',
          key,
          value: fdbEntry.encode({
            ...v,
            ...{ port_stats_slot: 0, port_present: 0, port_flags: 0, port_net_flags: 0, port_net_mtu: 0 },
            ...{ router_present: 0, router_flags: 0, router_mac: '00:00:00:00:00:00' },
            ...{ snat_present: 0, snat_flags: 0, snat_network_type: 0, snat_external_ip: '0.0.0.0', snat_ifindex: 0, snat_mtu: 0, snat_nexthop: '0.0.0.0' },
            ...{ ext_nh_present: 0, ext_nh_dst_mac: '00:00:00:00:00:00', ext_nh_src_mac: '00:00:00:00:00:00' },
          }),
        });
      }
      for (const [key, value] of entries('xdpnet_arp')) {
        saved.push({ map: 'xdpnet_arp', key, value });
        world().write({ map: 'xdpnet_arp', key, value: withArpFdb(value, undefined) });
      }
      for (const [key, value] of entries('xdpnet_ports')) {
        saved.push({ map: 'xdpnet_ports', key, value });
        world().write({ map: 'xdpnet_ports', key, value: portInfo.encode({ ...portInfo.decode(value), net_mtu: 0, net_flags: 0 }) });
      }
      const copies = entries('xdpnet_fdb').map(([, v]) => fdbEntry.decode(v));
      expect(copies.every((v) => v.port_present === 0 && v.router_present === 0 && v.snat_present === 0 && v.ext_nh_present === 0)).toBe(true);
    });
    afterAll(() => {
      for (const w of saved.splice(0)) world().write(w);
    });

    const flow: L4 = { kind: 'udp', sport: 8100, dport: 8101 };

    it('out through router A (it, its external side and its gateway’s MACs looked up), the reply back into p1 (its port and network looked up)', () => {
      const { port } = open(flow);
      const r = world().in(fromOutside(REMOTE, EXT.a, port, answer(flow), {}, 'answer'));
      expectRun(r, 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, REMOTE, answer(flow), {}, 'answer'));
    });

    it('a reply larger than the VM network’s MTU (1450, looked up) with DF: fragmentation needed, MTU 1450', () => {
      const { port } = open({ ...flow, sport: 8102 });
      const frame = fromOutside(REMOTE, EXT.a, port, answer({ ...flow, sport: 8102 }), {}, NETWORK_MTU + 1 - 28);
      expectRun(world().in(frame), 'TX', 'FWD_ICMP_FRAG_NEEDED', errorBack(frame, 'dest-unreachable', 4, NETWORK_MTU));
    });

    it('exactly the VM network’s MTU goes in', () => {
      const { port } = open({ ...flow, sport: 8103 });
      const frame = fromOutside(REMOTE, EXT.a, port, answer({ ...flow, sport: 8103 }), {}, NETWORK_MTU - 28);
      expectRun(world().in(frame), 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, REMOTE, answer({ ...flow, sport: 8103 }), {}, NETWORK_MTU - 28));
    });
  });
});
