// Floating IPs on the gateway node through BPF_PROG_RUN (fip-world.ts):
// xdp_port translates what a VM with a floating IP sends out (fip.h, from
// external_route.h), before and instead of SNAT; xdp_external translates
// what comes in to the floating IP (fip_ingress.h) and answers ARP for it;
// a VM reaching a floating IP (or, answering, a router's gateway IP) of this
// node is turned inward (external_hairpin.h). Exact frames for TCP, UDP (with
// a checksum and without), ICMP echo and ICMP errors both ways, into a local
// VM and encapsulated to a VM on another node; precedence over SNAT; the
// floating IP of a router with SNAT disabled; disassociation (back to SNAT,
// the address no longer held) and a half-made association; every deliberate
// drop; tshark verifying every checksum; the cost per packet next to SNAT's.
import { describe, expect, it } from 'vitest';
import { eth, parseFrame } from '../helpers/frames.js';
import { tsharkAvailable, tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';
import { FIP, floated, toFip, useFipWorld } from './fip-world.js';
import { R2, encapsulated } from './overlay-world.js';
import {
  EXT,
  GREEN,
  type L4,
  MAC,
  REMOTE,
  VM,
  answer,
  expectRun,
  fromOutside,
  fromVm,
  packet,
  snatted,
  sourcePortOf,
  toVm,
  withDest,
  withSource,
} from './snat-world.js';

/** The IPv4 packet of a frame, its first `n` bytes (an ICMP error's quote). */
const ipBytes = (frame: Buffer, n?: number) => frame.subarray(14, n === undefined ? undefined : 14 + n);

type ErrorType = 'dest-unreachable' | 'time-exceeded';

/** An ICMP error from `l2`/`l3`, quoting `quote`. */
const icmpErrorFrame = (l2: { src: string; dst: string }, l3: { src: string; dst: string; ttl: number; id?: number }, type: ErrorType, code: number, quote: Buffer) =>
  eth(l2)
    .ipv4({ id: 0x7777, ...l3 })
    .icmpError({ type, code })
    .payload(quote)
    .build();

/** The ICMP error a router sends back out of the NIC about `about` (from the address it was sent to). */
function errorBack(about: Buffer, type: ErrorType, code: number): Buffer {
  const f = parseFrame(about);
  const ip = f.eth.ipv4!;
  return eth({ src: MAC.ext, dst: f.eth.src })
    .ipv4({ src: ip.dst, dst: ip.src, tos: 0xc0, ttl: 64, id: 0, df: true })
    .icmpError({ type, code })
    .payload(about.subarray(14, 14 + Math.min(ip.totalLength, 28)))
    .build();
}

describePrivileged('floating IPs: xdp_port out, xdp_external in, hairpin', ['bpf', 'netns'], () => {
  const world = useFipWorld();
  const gw = () => world().gw;
  const tcp = (sport: number, dport = 443, flags = 'S'): L4 => ({ kind: 'tcp', sport, dport, flags });
  const outputs: Buffer[] = [];
  /** Entries of the connection table that involve `ip`. */
  const connectionsOf = (ip: string) => gw().connections().filter((h) => h.connection.vmIp === ip || h.connection.remoteIp === ip);

  describe('out: the source becomes the floating IP, ports kept, no connection', () => {
    const cases: [string, L4, string | number][] = [
      ['a TCP SYN', tcp(33000), 'hello'],
      ['a TCP segment mid-stream (no state needed: stateless 1:1)', tcp(33001, 443, 'PA'), 'GET /'],
      ['UDP', { kind: 'udp', sport: 5353, dport: 53 }, 'query'],
      ['UDP without a checksum (stays 0)', { kind: 'udp', sport: 5354, dport: 53, noChecksum: true }, 'none'],
      ['an ICMP echo request (identifier kept)', { kind: 'echo', id: 77, seq: 3 }, 56],
      ['an ICMP echo reply (the VM answering a ping from outside)', { kind: 'echo', op: 'reply', id: 78, seq: 1 }, 56],
    ];
    for (const [name, l4, payload] of cases) {
      it(`p2 (203.0.113.102): ${name}`, () => {
        const r = gw().out(fromVm(VM.p2, MAC.a, REMOTE, l4, {}, payload), 'p2');
        expectRun(r, 'REDIRECT', 'FWD_FIP_OUT', floated(FIP.p2, REMOTE, l4, MAC.gateway, {}, payload));
        outputs.push(r.frame);
        if (l4.kind === 'udp' && l4.noChecksum) expect(r.frame.readUInt16BE(14 + 20 + 6)).toBe(0);
      });
    }

    it('no connection was recorded for any of them', () => {
      expect(connectionsOf(VM.p2.ip)).toEqual([]);
    });

    it('to an on-link host of the external subnet: its own MAC', () => {
      const l4: L4 = { kind: 'udp', sport: 1, dport: 2 };
      expectRun(gw().out(fromVm(VM.p2, MAC.a, EXT.onLink, l4), 'p2'), 'REDIRECT', 'FWD_FIP_OUT', floated(FIP.p2, EXT.onLink, l4, MAC.onLink));
    });

    it('router C has SNAT disabled: its VM with a floating IP still gets out', () => {
      const l4: L4 = { kind: 'udp', sport: 7, dport: 7 };
      expectRun(gw().out(fromVm(VM.p4, MAC.c, REMOTE, l4), 'p4'), 'REDIRECT', 'FWD_FIP_OUT', floated(FIP.p4, REMOTE, l4));
    });

    it('the VM’s ICMP error about a packet it was sent: the quoted packet’s destination translated back to the floating IP', () => {
      const l4: L4 = { kind: 'udp', sport: 4000, dport: 9 };
      const received = toVm(VM.p2, MAC.a, REMOTE, l4, {}, 'probe'); // as p2 got it: to 10.2.0.12, TTL 49
      const error = icmpErrorFrame({ src: VM.p2.mac, dst: MAC.a }, { src: VM.p2.ip, dst: REMOTE, ttl: 64 }, 'dest-unreachable', 3, ipBytes(received, 28));
      const asSent = toFip(REMOTE, FIP.p2, l4, { ttl: 49 }, 'probe'); // what REMOTE sent: to the floating IP
      const want = icmpErrorFrame({ src: MAC.ext, dst: MAC.gateway }, { src: FIP.p2, dst: REMOTE, ttl: 63 }, 'dest-unreachable', 3, ipBytes(asSent, 28));
      const r = gw().out(error, 'p2');
      expectRun(r, 'REDIRECT', 'FWD_FIP_OUT', want);
      outputs.push(r.frame);
    });

    it('takes precedence over SNAT: p1 (no floating IP) is SNATed, p2 is not', () => {
      const l4: L4 = { kind: 'udp', sport: 5555, dport: 53 };
      const a = gw().out(fromVm(VM.p1, MAC.a, REMOTE, l4), 'p1');
      expectRun(a, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, sourcePortOf(a.frame), REMOTE, l4));
      expectRun(gw().out(fromVm(VM.p2, MAC.a, REMOTE, l4), 'p2'), 'REDIRECT', 'FWD_FIP_OUT', floated(FIP.p2, REMOTE, l4));
      expect(connectionsOf(VM.p2.ip)).toEqual([]);
    });
  });

  describe('in: the destination becomes the fixed IP, to the VM wherever it runs', () => {
    const cases: [string, L4, string | number][] = [
      ['a TCP SYN (nothing asked for it: a floating IP takes it)', tcp(50000, 22), ''],
      ['UDP', { kind: 'udp', sport: 53, dport: 5353 }, 'answer'],
      ['UDP without a checksum', { kind: 'udp', sport: 53, dport: 5354, noChecksum: true }, 'none'],
      ['an ICMP echo request: the VM answers it, not xdp_external', { kind: 'echo', id: 300, seq: 1 }, 32],
    ];
    for (const [name, l4, payload] of cases) {
      it(`to 203.0.113.102: ${name}, into p2`, () => {
        const before = gw().portTx('p2');
        const r = gw().in(toFip(REMOTE, FIP.p2, l4, {}, payload));
        expectRun(r, 'REDIRECT', 'FWD_FIP_IN_LOCAL', toVm(VM.p2, MAC.a, REMOTE, l4, {}, payload));
        expect(gw().portTx('p2') - before).toBe(1n);
        outputs.push(r.frame);
      });
    }

    it('to 203.0.113.121: g2 is on another node, encapsulated in green’s VNI to its VTEP', () => {
      const l4 = tcp(50001, 80);
      const r = gw().in(toFip(REMOTE, FIP.g2, l4, {}, 'far'));
      expectRun(r, 'REDIRECT', 'FWD_FIP_IN_ENCAP', encapsulated(toVm(VM.g2, MAC.a, REMOTE, l4, {}, 'far'), GREEN, R2));
    });

    it('an ARP request for a floating IP is answered with the NIC’s MAC', () => {
      const request = eth({ src: MAC.gateway, dst: 'ff:ff:ff:ff:ff:ff' }).arp({ senderIp: EXT.gateway, targetIp: FIP.p2 }).build();
      const reply = eth({ src: MAC.ext, dst: MAC.gateway })
        .arp({ op: 'reply', senderMac: MAC.ext, senderIp: FIP.p2, targetMac: MAC.gateway, targetIp: EXT.gateway })
        .build();
      expectRun(gw().in(request), 'TX', 'FWD_EXTERNAL_ARP_REPLY', reply);
    });

    it('an ICMP error about what p2 sent through its floating IP: translated back, quote and all', () => {
      const l4: L4 = { kind: 'udp', sport: 5360, dport: 53 };
      const sent = gw().out(fromVm(VM.p2, MAC.a, REMOTE, l4, {}, 'query'), 'p2');
      expect(sent.action).toBe('REDIRECT');
      const error = icmpErrorFrame({ src: MAC.gateway, dst: MAC.ext }, { src: REMOTE, dst: FIP.p2, ttl: 50 }, 'dest-unreachable', 3, ipBytes(sent.frame, 28));
      const asRouted = fromVm(VM.p2, MAC.a, REMOTE, l4, { ttl: 63 }, 'query');
      const want = icmpErrorFrame({ src: MAC.a, dst: VM.p2.mac }, { src: REMOTE, dst: VM.p2.ip, ttl: 49 }, 'dest-unreachable', 3, ipBytes(asRouted, 28));
      const r = gw().in(error);
      expectRun(r, 'REDIRECT', 'FWD_FIP_ICMP_ERROR_LOCAL', want);
      outputs.push(r.frame);
    });

    it('time exceeded about a TCP segment quoted whole, for g2: the quoted TCP checksum too, encapsulated', () => {
      const l4 = tcp(41000, 443, 'PA');
      const sent = floated(FIP.g2, REMOTE, l4, MAC.gateway, {}, 'data');
      const midway = '198.51.100.254';
      const error = icmpErrorFrame({ src: MAC.gateway, dst: MAC.ext }, { src: midway, dst: FIP.g2, ttl: 50 }, 'time-exceeded', 0, ipBytes(sent));
      const asRouted = fromVm(VM.g2, MAC.a, REMOTE, l4, { ttl: 63 }, 'data');
      const inner = icmpErrorFrame({ src: MAC.a, dst: VM.g2.mac }, { src: midway, dst: VM.g2.ip, ttl: 49 }, 'time-exceeded', 0, ipBytes(asRouted));
      const r = gw().in(error);
      expectRun(r, 'REDIRECT', 'FWD_FIP_ICMP_ERROR_ENCAP', encapsulated(inner, GREEN, R2));
      expect(parseFrame(r.frame.subarray(50)).eth.ipv4!.icmp!.inner!.tcp!.checksumOk, 'the quoted segment’s checksum').toBe(true);
    });

    it('a reply with TTL 1: time exceeded back out of the NIC, from the floating IP', () => {
      const frame = toFip(REMOTE, FIP.p2, { kind: 'udp', sport: 1, dport: 2 }, { ttl: 1 });
      expectRun(gw().in(frame), 'TX', 'FWD_ICMP_TIME_EXCEEDED', errorBack(frame, 'time-exceeded', 0));
    });
  });

  describe('what a floating IP does not translate', () => {
    it('GRE from a VM with a floating IP: dropped, not SNATed', () => {
      const gre = eth({ src: VM.p2.mac, dst: MAC.a }).ipv4({ src: VM.p2.ip, dst: REMOTE, protocol: 47 }).payload(24).build();
      expectRun(gw().out(gre, 'p2'), 'DROP', 'DROP_FIP_PROTOCOL');
    });

    it('GRE to a floating IP: dropped', () => {
      const gre = eth({ src: MAC.gateway, dst: MAC.ext }).ipv4({ src: REMOTE, dst: FIP.p2, protocol: 47 }).payload(24).build();
      expectRun(gw().in(gre), 'DROP', 'DROP_FIP_PROTOCOL');
    });

    it('a fragment from a VM with a floating IP: dropped (inbound ones go to the kernel)', () => {
      const frag = fromVm(VM.p2, MAC.a, REMOTE, { kind: 'udp', sport: 1, dport: 2 }, { df: false, mf: true }, 64);
      expectRun(gw().out(frag, 'p2'), 'DROP', 'DROP_FIP_FRAGMENT');
      expectRun(gw().in(toFip(REMOTE, FIP.p2, { kind: 'udp', sport: 1, dport: 2 }, { df: false, mf: true }, 64)), 'PASS', 'PASS_IPV4_FRAGMENT');
    });

    it('an ICMP error to a floating IP quoting a packet not from it', () => {
      const quote = ipBytes(floated(EXT.a, REMOTE, { kind: 'udp', sport: 1, dport: 53 }), 28);
      const error = icmpErrorFrame({ src: MAC.gateway, dst: MAC.ext }, { src: REMOTE, dst: FIP.p2, ttl: 50 }, 'dest-unreachable', 3, quote);
      expectRun(gw().in(error), 'DROP', 'DROP_FIP_MALFORMED_ICMP_ERROR');
    });

    it('the VM’s ICMP error quoting a packet not to its fixed IP', () => {
      const quote = ipBytes(toVm(VM.p1, MAC.a, REMOTE, { kind: 'udp', sport: 1, dport: 53 }), 28);
      const error = icmpErrorFrame({ src: VM.p2.mac, dst: MAC.a }, { src: VM.p2.ip, dst: REMOTE, ttl: 64 }, 'dest-unreachable', 3, quote);
      expectRun(gw().out(error, 'p2'), 'DROP', 'DROP_FIP_MALFORMED_ICMP_ERROR');
    });

    it('an on-link destination without a resolved MAC: dropped, the miss recorded', () => {
      expectRun(gw().out(fromVm(VM.p2, MAC.a, EXT.unresolved, { kind: 'udp', sport: 1, dport: 2 }), 'p2'), 'DROP', 'DROP_NO_EXTERNAL_NEIGHBOR');
    });

    it('TTL 1 from the VM: time exceeded from its router, as for any routed packet', () => {
      const frame = fromVm(VM.p2, MAC.a, REMOTE, { kind: 'udp', sport: 1, dport: 2 }, { ttl: 1 });
      expect(gw().out(frame, 'p2').moved).toEqual([expect.stringMatching(/^FWD_ICMP_TIME_EXCEEDED /)]);
    });

    it('a ping from p2 to its router’s own external IP is answered by the router', () => {
      const ping: L4 = { kind: 'echo', id: 9, seq: 1 };
      const pong = eth({ src: MAC.a, dst: VM.p2.mac }).ipv4({ src: EXT.a, dst: VM.p2.ip, id: 0x1234, ttl: 64 }).icmpEcho({ op: 'reply', id: 9, seq: 1 }).payload('through the router').build();
      expectRun(gw().out(fromVm(VM.p2, MAC.a, EXT.a, ping), 'p2'), 'TX', 'FWD_ICMP_ECHO_REPLY', pong);
    });
  });

  describe('hairpin: a VM to an address of this node’s NIC, turned inward, never out of the NIC', () => {
    const web = tcp(33333, 80);
    let port = 0;

    it('p1 (no floating IP) to p2’s floating IP: SNATed from 203.0.113.10, DNATed to 10.2.0.12, into p2, TTL 63 (once)', () => {
      const before = gw().portTx('p2');
      const r = gw().out(fromVm(VM.p1, MAC.a, FIP.p2, web, {}, ''), 'p1');
      port = sourcePortOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_HAIRPIN_LOCAL', packet({ src: MAC.a, dst: VM.p2.mac }, { src: EXT.a, dst: VM.p2.ip, ttl: 63 }, withSource(web, port), ''));
      expect(gw().portTx('p2') - before).toBe(1n);
      outputs.push(r.frame);
      const c = connectionsOf(VM.p1.ip).filter((h) => h.connection.remoteIp === FIP.p2);
      expect(c.map((h) => h.direction).sort(), 'the SNAT connection, to the floating IP').toEqual(['in', 'out']);
    });

    it('p2’s answer to 203.0.113.10: from its floating IP, back through that connection into p1', () => {
      const before = gw().portTx('p1');
      const r = gw().out(fromVm(VM.p2, MAC.a, EXT.a, withDest(answer(web), port), {}, ''), 'p2');
      expectRun(r, 'REDIRECT', 'FWD_HAIRPIN_LOCAL', toVm(VM.p1, MAC.a, FIP.p2, answer(web), { ttl: 63 }, ''));
      expect(gw().portTx('p1') - before).toBe(1n);
      outputs.push(r.frame);
    });

    it('p2 to its own floating IP: back into p2, from and to itself', () => {
      const l4: L4 = { kind: 'udp', sport: 1000, dport: 2000 };
      const r = gw().out(fromVm(VM.p2, MAC.a, FIP.p2, l4), 'p2');
      expectRun(r, 'REDIRECT', 'FWD_HAIRPIN_LOCAL', packet({ src: MAC.a, dst: VM.p2.mac }, { src: FIP.p2, dst: VM.p2.ip, ttl: 63 }, l4));
    });

    it('p2 to g2’s floating IP: g2 runs on another node, encapsulated to it', () => {
      const l4: L4 = { kind: 'echo', id: 5, seq: 1 };
      const r = gw().out(fromVm(VM.p2, MAC.a, FIP.g2, l4), 'p2');
      expectRun(r, 'REDIRECT', 'FWD_HAIRPIN_ENCAP', encapsulated(packet({ src: MAC.a, dst: VM.g2.mac }, { src: FIP.p2, dst: VM.g2.ip, ttl: 63 }, l4), GREEN, R2));
    });

    it('p4 (router C, SNAT disabled) to p2’s floating IP (router A): across routers on the same NIC', () => {
      const l4: L4 = { kind: 'udp', sport: 3, dport: 4 };
      const r = gw().out(fromVm(VM.p4, MAC.c, FIP.p2, l4), 'p4');
      expectRun(r, 'REDIRECT', 'FWD_HAIRPIN_LOCAL', packet({ src: MAC.a, dst: VM.p2.mac }, { src: FIP.p4, dst: VM.p2.ip, ttl: 63 }, l4));
    });

    it('an ICMP error from p2 to p1’s SNAT address about what p1 sent it: both translated back', () => {
      const l4: L4 = { kind: 'udp', sport: 34000, dport: 9 };
      const there = gw().out(fromVm(VM.p1, MAC.a, FIP.p2, l4, {}, 'probe'), 'p1');
      expect(there.moved).toEqual([expect.stringMatching(/^FWD_HAIRPIN_LOCAL /)]);
      const p = sourcePortOf(there.frame);
      const error = icmpErrorFrame({ src: VM.p2.mac, dst: MAC.a }, { src: VM.p2.ip, dst: EXT.a, ttl: 64 }, 'dest-unreachable', 3, ipBytes(there.frame, 28));
      const asSent = fromVm(VM.p1, MAC.a, FIP.p2, l4, { ttl: 63 }, 'probe');
      const r = gw().out(error, 'p2');
      expectRun(r, 'REDIRECT', 'FWD_HAIRPIN_LOCAL', icmpErrorFrame({ src: MAC.a, dst: VM.p1.mac }, { src: FIP.p2, dst: VM.p1.ip, ttl: 63 }, 'dest-unreachable', 3, ipBytes(asSent, 28)));
      expect(p).toBeGreaterThan(0);
      outputs.push(r.frame);
    });

    it('a ping from p1 to router B’s gateway IP is answered from it, straight back', () => {
      const ping: L4 = { kind: 'echo', id: 10, seq: 2 };
      const pong = eth({ src: MAC.a, dst: VM.p1.mac }).ipv4({ src: EXT.b, dst: VM.p1.ip, id: 0x1234, ttl: 64 }).icmpEcho({ op: 'reply', id: 10, seq: 2 }).payload('through the router').build();
      expectRun(gw().out(fromVm(VM.p1, MAC.a, EXT.b, ping), 'p1'), 'TX', 'FWD_ICMP_ECHO_REPLY', pong);
    });

    it('p1 (no floating IP) to router B’s gateway IP: nothing inside answers it', () => {
      expectRun(gw().out(fromVm(VM.p1, MAC.a, EXT.b, { kind: 'udp', sport: 1, dport: 2 }), 'p1'), 'DROP', 'DROP_HAIRPIN_UNSOLICITED');
    });

    it('p2 to router B’s gateway IP, no connection there: the same', () => {
      expectRun(gw().out(fromVm(VM.p2, MAC.a, EXT.b, { kind: 'udp', sport: 1, dport: 2 }), 'p2'), 'DROP', 'DROP_HAIRPIN_UNSOLICITED');
    });

    it('held to the external MTU (1400) as if it had gone out: fragmentation needed from p1’s router', () => {
      const big = fromVm(VM.p1, MAC.a, FIP.p2, { kind: 'udp', sport: 1, dport: 2 }, {}, 1401 - 28);
      expect(gw().out(big, 'p1').moved).toEqual([expect.stringMatching(/^FWD_ICMP_FRAG_NEEDED /)]);
    });
  });

  describe('disassociation and a half-made association', () => {
    const flow: L4 = { kind: 'udp', sport: 6100, dport: 53 };
    let snatPort = 0;

    it('setup: p2’s floating IP disassociated (xdpnet_fip_out, xdpnet_ext_addrs, xdpnet_fip_in removed)', () => world().disassociate('p2'));

    it('p2 leaves through SNAT again', () => {
      const r = gw().out(fromVm(VM.p2, MAC.a, REMOTE, flow), 'p2');
      snatPort = sourcePortOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, snatPort, REMOTE, flow));
    });

    it('203.0.113.102 is no longer held here: packets and ARP for it go to the kernel', () => {
      expectRun(gw().in(toFip(REMOTE, FIP.p2, tcp(50000, 22)), gw().strict), 'PASS', 'PASS_HOST');
      const request = eth({ src: MAC.gateway, dst: 'ff:ff:ff:ff:ff:ff' }).arp({ senderIp: EXT.gateway, targetIp: FIP.p2 }).build();
      expectRun(gw().in(request), 'PASS', 'PASS_HOST');
    });

    it('the other floating IPs and SNAT connections are undisturbed', () => {
      expectRun(gw().in(toFip(REMOTE, FIP.g2, tcp(50002, 80))), 'REDIRECT', 'FWD_FIP_IN_ENCAP');
      expectRun(gw().out(fromVm(VM.p4, MAC.c, REMOTE, flow), 'p4'), 'REDIRECT', 'FWD_FIP_OUT');
      expectRun(gw().in(fromOutside(REMOTE, EXT.a, snatPort, answer(flow))), 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p2, MAC.a, REMOTE, answer(flow)));
    });

    it('half made (the address held, no translation yet): unsolicited, to the kernel or dropped as configured', () => {
      world().associate('p2');
      world().disassociate('p2', { extAddr: true });
      try {
        expectRun(gw().in(toFip(REMOTE, FIP.p2, tcp(50000, 22))), 'PASS', 'PASS_EXTERNAL_UNSOLICITED');
        expectRun(gw().in(toFip(REMOTE, FIP.p2, tcp(50000, 22)), gw().strict), 'DROP', 'DROP_EXTERNAL_UNSOLICITED');
      } finally {
        world().associate('p2');
      }
    });

    it('associated again: out through the floating IP, the flow p2 opened through SNAT included (stateless precedence)', () => {
      expectRun(gw().out(fromVm(VM.p2, MAC.a, REMOTE, flow), 'p2'), 'REDIRECT', 'FWD_FIP_OUT', floated(FIP.p2, REMOTE, flow));
      // Its answers to the SNAT address still come back while the connection lives.
      expectRun(gw().in(fromOutside(REMOTE, EXT.a, snatPort, answer(flow))), 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL');
      expectRun(gw().in(toFip(REMOTE, FIP.p2, answer(flow))), 'REDIRECT', 'FWD_FIP_IN_LOCAL', toVm(VM.p2, MAC.a, REMOTE, answer(flow)));
    });
  });

  describePrivileged('outputs decoded by tshark', ['bpf'], () => {
    it.runIf(tsharkAvailable() || process.env.CI === 'true')('every checksum of the translated packets verifies', async () => {
      // out: TCP SYN, TCP, UDP, UDP (none), echo request, echo reply, port unreachable; in: TCP, UDP,
      // UDP (none), echo request, port unreachable; hairpin: TCP SYN, TCP SYN-ACK, port unreachable.
      expect(outputs).toHaveLength(15);
      const pkts = await tsharkDecode(outputs);
      const field = (i: number, name: string) => tsharkField(pkts[i]!, name);
      const errors = [6, 11, 14];
      for (let i = 0; i < outputs.length; i++) {
        expect(field(i, 'ip.checksum.status'), `frame ${i}: IPv4 (and the quoted IPv4)`).toEqual(errors.includes(i) ? ['1', '1'] : ['1']);
      }
      for (const i of [0, 1, 7, 12, 13]) expect(field(i, 'tcp.checksum.status'), `frame ${i}`).toEqual(['1']);
      for (const i of [2, 8]) expect(field(i, 'udp.checksum.status'), `frame ${i}`).toEqual(['1']);
      for (const i of [3, 9]) expect(field(i, 'udp.checksum.status'), `frame ${i}: none`).toEqual(['3']);
      for (const i of [4, 5, 10]) expect(field(i, 'icmp.checksum.status'), `frame ${i}`).toEqual(['1']);
      // The errors: the ICMP checksum over the translated quote; the quoted UDP cut to 8 bytes (unverifiable: 2).
      for (const i of errors) expect(field(i, 'icmp.checksum.status'), `frame ${i}`).toEqual(['1']);
      expect(field(6, 'ip.src'), 'out: the error from the floating IP, quoting what was sent to it').toEqual([FIP.p2, REMOTE]);
      expect(field(6, 'ip.dst')).toEqual([REMOTE, FIP.p2]);
      expect(field(11, 'ip.dst'), 'in: to the fixed IP, quoting what it sent').toEqual([VM.p2.ip, REMOTE]);
      expect(field(11, 'ip.src')).toEqual([REMOTE, VM.p2.ip]);
      expect(field(0, 'ip.src')).toEqual([FIP.p2]);
      expect(field(7, 'ip.dst')).toEqual([VM.p2.ip]);
    });
  });

});
