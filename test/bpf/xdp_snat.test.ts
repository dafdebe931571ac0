// SNAT on the gateway node through BPF_PROG_RUN: xdp_port translates what a
// VM sends out through its router's external gateway (external_route.h,
// snat.h) and records the connection; xdp_external, sharing the pinned maps,
// translates the answers back (snat_reverse.h). Exact frames both ways for
// TCP (SYN, established, closed and reopened), UDP (checksum and none) and
// ICMP echo; ports: a second connection gets another, two tenants with the
// same address never mix, a tiny range runs out; every deliberate drop; the
// connection table as the collector will read it; checksums verified by
// tshark; and the cost per packet next to the routed path's.
//
// The external port is the program's random choice: each case reads it from
// the output, checks it against the range, and builds the expected frames
// with it; the connection table must then hold exactly that port.
import { describe, expect, it } from 'vitest';
import { NAT_F_REPLIED, NAT_F_TCP_ESTABLISHED, NAT_F_TCP_FIN, NAT_F_TCP_SYN, extNexthopKey } from '../../src/dataplane/layouts.js';
import type { NatConnection } from '../../src/dataplane/snat-encode.js';
import { eth, parseFrame } from '../helpers/frames.js';
import { tsharkAvailable, tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';
import {
  EXT,
  EXT_MTU,
  GREEN,
  type L4,
  MAC,
  REMOTE,
  ROUTER,
  TINY_PORTS,
  VM,
  answer,
  expectFrame,
  expectRun,
  fromOutside,
  fromVm,
  snatted,
  sourcePortOf,
  toVm,
  useSnatWorld,
} from './snat-world.js';

const DEFAULT_PORTS = { min: 1024, max: 65535 };

/** The external port of a SNAT output, checked against the range. */
function portOf(frame: Buffer, range: { min: number; max: number } = DEFAULT_PORTS): number {
  const port = sourcePortOf(frame);
  expect(port).toBeGreaterThanOrEqual(range.min);
  expect(port).toBeLessThanOrEqual(range.max);
  return port;
}

/** The ICMP error a router at (routerMac, routerIp) sends back about `about` (as xdp_route.test.ts). */
function icmpError(about: Buffer, routerMac: string, routerIp: string, type: 'time-exceeded' | 'dest-unreachable', code: number, mtu?: number): Buffer {
  const f = parseFrame(about);
  const ip = f.eth.ipv4!;
  return eth({ src: routerMac, dst: f.eth.src })
    .ipv4({ src: routerIp, dst: ip.src, tos: 0xc0, ttl: 64, id: 0, df: true })
    .icmpError({ type, code, ...(mtu === undefined ? {} : { mtu }) })
    .payload(about.subarray(14, 14 + Math.min(ip.totalLength, 28)))
    .build();
}

describePrivileged('SNAT through xdp_port and back through xdp_external', ['bpf', 'netns'], () => {
  const world = useSnatWorld();
  const tcp = (sport: number, dport = 443, flags = 'S'): L4 => ({ kind: 'tcp', sport, dport, flags });

  /** The connection `c` of the table, both halves, or a failure naming what is there. */
  const halves = (c: Pick<NatConnection, 'protocol' | 'externalIp' | 'externalPort'>) => {
    const found = world()
      .connections()
      .filter((h) => h.connection.protocol === c.protocol && h.connection.externalIp === c.externalIp && h.connection.externalPort === c.externalPort);
    const out = found.find((h) => h.direction === 'out');
    const back = found.find((h) => h.direction === 'in');
    expect(found.length, 'entries of the connection').toBe(2);
    return { out: out!, in: back! };
  };

  describe('TCP: SYN, answer, established, closed, reopened', () => {
    const syn = fromVm(VM.p1, MAC.a, REMOTE, tcp(33333), {}, '');
    let port = 0;

    it('a SYN opens a connection: source 203.0.113.10 and a port of the range, TTL 63, to the gateway’s MAC out of the NIC', () => {
      const r = world().out(syn, 'p1');
      port = portOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, port, REMOTE, tcp(33333), MAC.gateway, {}, ''));
    });

    it('the connection is recorded in both directions, as the collector reads it', () => {
      const c = halves({ protocol: 'tcp', externalIp: EXT.a, externalPort: port });
      const connection: NatConnection = {
        protocol: 'tcp',
        externalIp: EXT.a,
        externalPort: port,
        vmIp: VM.p1.ip,
        vmPort: 33333,
        remoteIp: REMOTE,
        remotePort: 443,
        vni: GREEN,
        vmMac: VM.p1.mac,
      };
      expect(c.out).toMatchObject({ connection, flags: NAT_F_TCP_SYN });
      expect(c.in).toMatchObject({ connection, flags: 0 });
      // CLOCK_MONOTONIC, as process.hrtime.bigint(): recent, and not in the future.
      const now = process.hrtime.bigint();
      for (const h of [c.out, c.in]) {
        expect(h.lastSeenNs).toBeLessThanOrEqual(now);
        expect(now - h.lastSeenNs).toBeLessThan(60_000_000_000n);
      }
    });

    it('a retransmitted SYN keeps the connection and its port', () => {
      const r = world().out(syn, 'p1');
      expectRun(r, 'REDIRECT', 'FWD_SNAT', snatted(EXT.a, port, REMOTE, tcp(33333), MAC.gateway, {}, ''));
    });

    it('the SYN-ACK comes back to 10.1.0.11:33333 from router A’s MAC, into p1', () => {
      const before = world().portTx('p1');
      const r = world().in(fromOutside(REMOTE, EXT.a, port, answer(tcp(33333)), {}, ''));
      expectRun(r, 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, REMOTE, answer(tcp(33333)), {}, ''));
      expect(world().portTx('p1') - before).toBe(1n);
      expect(halves({ protocol: 'tcp', externalIp: EXT.a, externalPort: port }).in.flags).toBe(NAT_F_REPLIED | NAT_F_TCP_SYN | NAT_F_TCP_ESTABLISHED);
    });

    it('established: data out and in, the same translation', () => {
      const data = tcp(33333, 443, 'PA');
      const out = world().out(fromVm(VM.p1, MAC.a, REMOTE, data, {}, 'GET / HTTP/1.1\r\n\r\n'), 'p1');
      expectRun(out, 'REDIRECT', 'FWD_SNAT', snatted(EXT.a, port, REMOTE, data, MAC.gateway, {}, 'GET / HTTP/1.1\r\n\r\n'));
      const back = world().in(fromOutside(REMOTE, EXT.a, port, answer(data, 'PA'), {}, 'HTTP/1.1 200 OK\r\n'));
      expectRun(back, 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, REMOTE, answer(data, 'PA'), {}, 'HTTP/1.1 200 OK\r\n'));
    });

    it('a FIN is recorded in its direction’s half', () => {
      const fin = tcp(33333, 443, 'FA');
      expectRun(world().out(fromVm(VM.p1, MAC.a, REMOTE, fin, {}, ''), 'p1'), 'REDIRECT', 'FWD_SNAT', snatted(EXT.a, port, REMOTE, fin, MAC.gateway, {}, ''));
      expect(halves({ protocol: 'tcp', externalIp: EXT.a, externalPort: port }).out.flags).toBe(NAT_F_TCP_SYN | NAT_F_TCP_FIN);
    });

    let reopened = 0;
    it('a SYN on the closed tuple opens a new connection; the old one is gone', () => {
      const r = world().out(syn, 'p1');
      const fresh = portOf(r.frame);
      reopened = fresh;
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, fresh, REMOTE, tcp(33333), MAC.gateway, {}, ''));
      const tuple = world()
        .connections()
        .filter((h) => h.connection.protocol === 'tcp' && h.connection.vmPort === 33333 && h.connection.externalIp === EXT.a);
      expect(tuple.map((h) => [h.direction, h.connection.externalPort, h.flags]).sort()).toEqual([
        ['in', fresh, 0],
        ['out', fresh, NAT_F_TCP_SYN],
      ]);
    });

    it('a second connection from the same VM to the same server gets another port', () => {
      const r = world().out(fromVm(VM.p1, MAC.a, REMOTE, tcp(33334), {}, ''), 'p1');
      const second = portOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, second, REMOTE, tcp(33334), MAC.gateway, {}, ''));
      expect(second).not.toBe(reopened);
    });
  });

  describe('UDP and ICMP echo', () => {
    const dns: L4 = { kind: 'udp', sport: 5353, dport: 53 };
    const bare: L4 = { kind: 'udp', sport: 5354, dport: 53, noChecksum: true };
    const echo: L4 = { kind: 'echo', id: 77, seq: 3 };

    it('UDP: out with a port of the range, the answer back into p1', () => {
      const r = world().out(fromVm(VM.p1, MAC.a, REMOTE, dns, {}, 'query'), 'p1');
      const port = portOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, port, REMOTE, dns, MAC.gateway, {}, 'query'));
      const back = world().in(fromOutside(REMOTE, EXT.a, port, answer(dns), {}, 'answer'));
      expectRun(back, 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, REMOTE, answer(dns), {}, 'answer'));
      expect(halves({ protocol: 'udp', externalIp: EXT.a, externalPort: port }).in.flags).toBe(NAT_F_REPLIED);
    });

    it('UDP without a checksum (0): still none after translation, both ways', () => {
      const r = world().out(fromVm(VM.p1, MAC.a, REMOTE, bare, {}, 'no checksum'), 'p1');
      const port = portOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, port, REMOTE, bare, MAC.gateway, {}, 'no checksum'));
      expect(r.frame.readUInt16BE(14 + 20 + 6)).toBe(0);
      const back = world().in(fromOutside(REMOTE, EXT.a, port, answer(bare), {}, 'none here either'));
      expectRun(back, 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, REMOTE, answer(bare), {}, 'none here either'));
      expect(back.frame.readUInt16BE(14 + 20 + 6)).toBe(0);
    });

    it('a UDP checksum that becomes 0 is sent as 0xffff (RFC 768)', () => {
      const flow: L4 = { kind: 'udp', sport: 5355, dport: 53 };
      // The port is the program's choice: open the connection first (2 bytes of payload, zero).
      const r = world().out(fromVm(VM.p1, MAC.a, REMOTE, flow, {}, Buffer.alloc(2)), 'p1');
      const port = portOf(r.frame);
      // Then the payload word that makes the translated datagram sum to 0xffff, its checksum 0: the
      // checksum the datagram has with a zero word (one's complement: adding ~sum completes the sum).
      const checksumWith = (payload: Buffer) => snatted(EXT.a, port, REMOTE, flow, MAC.gateway, {}, payload).readUInt16BE(40);
      const word = Buffer.alloc(2);
      word.writeUInt16BE(checksumWith(Buffer.alloc(2)));
      expect(checksumWith(word), 'computed 0, sent as 0xffff').toBe(0xffff);
      const out = world().out(fromVm(VM.p1, MAC.a, REMOTE, flow, {}, word), 'p1');
      expectRun(out, 'REDIRECT', 'FWD_SNAT', snatted(EXT.a, port, REMOTE, flow, MAC.gateway, {}, word));
    });

    it('ICMP echo: the identifier is translated, and back', () => {
      const r = world().out(fromVm(VM.p1, MAC.a, REMOTE, echo, {}, 56), 'p1');
      const id = portOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, id, REMOTE, echo, MAC.gateway, {}, 56));
      const back = world().in(fromOutside(REMOTE, EXT.a, id, answer(echo), {}, 56));
      expectRun(back, 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, REMOTE, answer(echo), {}, 56));
      const c = halves({ protocol: 'icmp', externalIp: EXT.a, externalPort: id });
      expect(c.out.connection).toMatchObject({ vmPort: 77, remotePort: 0 });
      expect(world().out(fromVm(VM.p1, MAC.a, REMOTE, { ...echo, seq: 4 }, {}, 56), 'p1').moved[0]).toMatch(/^FWD_SNAT /);
    });

    it('to an on-link host of the external subnet: its own MAC, not the gateway’s', () => {
      const r = world().out(fromVm(VM.p1, MAC.a, EXT.onLink, dns, {}, 'neighbour'), 'p1');
      const port = portOf(r.frame);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, port, EXT.onLink, dns, MAC.onLink, {}, 'neighbour'));
    });
  });

  describe('two tenants with the same address and port', () => {
    const flow: L4 = { kind: 'udp', sport: 44444, dport: 80 };
    const server = '198.51.100.8';
    let pa = 0;
    let pb = 0;

    it('each leaves from its own router’s external IP', () => {
      const a = world().out(fromVm(VM.p1, MAC.a, server, flow), 'p1');
      pa = portOf(a.frame);
      expectRun(a, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, pa, server, flow));
      const b = world().out(fromVm(VM.p3, MAC.b, server, flow), 'p3');
      pb = portOf(b.frame);
      expectRun(b, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.b, pb, server, flow));
      expect(halves({ protocol: 'udp', externalIp: EXT.a, externalPort: pa }).out.connection.vni).toBe(GREEN);
      expect(halves({ protocol: 'udp', externalIp: EXT.b, externalPort: pb }).out.connection.vni).toBe(110);
    });

    it('the answers go back to the right tenant: router A’s into p1, router B’s into p3', () => {
      const tx = () => [world().portTx('p1'), world().portTx('p3')];
      const [p1, p3] = tx();
      expectRun(world().in(fromOutside(server, EXT.a, pa, answer(flow))), 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p1, MAC.a, server, answer(flow)));
      expect(tx()).toEqual([p1! + 1n, p3]);
      expectRun(world().in(fromOutside(server, EXT.b, pb, answer(flow))), 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm(VM.p3, MAC.b, server, answer(flow)));
      expect(tx()).toEqual([p1! + 1n, p3! + 1n]);
    });

    it('router B’s port on router A’s address is nobody’s (unless A happens to use it too)', () => {
      if (pb === pa) return; // 1 in 64512: both routers picked the same port, each on its own address
      expectRun(world().in(fromOutside(server, EXT.a, pb, answer(flow))), 'PASS', 'PASS_EXTERNAL_UNSOLICITED');
    });
  });

  describe('ports run out (xdp_port loaded with ports 40000..40001)', () => {
    const server = '198.51.100.9';
    const flow = (sport: number, dport = 53): L4 => ({ kind: 'udp', sport, dport });

    it('two connections to one server take both ports; a third finds none', () => {
      const tiny = world().tiny;
      const ports = [50001, 50002].map((sport) => {
        const r = world().out(fromVm(VM.p1, MAC.a, server, flow(sport)), 'p1', tiny);
        const port = portOf(r.frame, TINY_PORTS);
        expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, port, server, flow(sport)));
        return port;
      });
      expect(ports.sort()).toEqual([40000, 40001]);
      expectRun(world().out(fromVm(VM.p1, MAC.a, server, flow(50003)), 'p1', tiny), 'DROP', 'DROP_SNAT_PORTS_EXHAUSTED');
    });

    it('the ports are per server: another server port still gets one', () => {
      const r = world().out(fromVm(VM.p1, MAC.a, server, flow(50003, 54)), 'p1', world().tiny);
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, portOf(r.frame, TINY_PORTS), server, flow(50003, 54)));
    });

    it('existing connections keep working when the range is full', () => {
      const r = world().out(fromVm(VM.p1, MAC.a, server, flow(50001)), 'p1', world().tiny);
      expectRun(r, 'REDIRECT', 'FWD_SNAT');
    });
  });

  describe('what SNAT does not forward', () => {
    const cases: [string, Buffer, 'p1' | 'p4', string][] = [
      ['a TCP ACK without a connection', fromVm(VM.p1, MAC.a, REMOTE, tcp(41000, 443, 'A')), 'p1', 'DROP_SNAT_NO_STATE'],
      ['a TCP SYN-ACK without a connection (no opening from the VM’s side)', fromVm(VM.p1, MAC.a, REMOTE, tcp(41001, 443, 'SA')), 'p1', 'DROP_SNAT_NO_STATE'],
      ['a TCP RST without a connection', fromVm(VM.p1, MAC.a, REMOTE, tcp(41002, 443, 'R')), 'p1', 'DROP_SNAT_NO_STATE'],
      ['an ICMP echo reply without a connection', fromVm(VM.p1, MAC.a, REMOTE, { kind: 'echo', op: 'reply', id: 5 }), 'p1', 'DROP_SNAT_NO_STATE'],
      ['an IPv4 first fragment (its ports are not every fragment’s)', fromVm(VM.p1, MAC.a, REMOTE, { kind: 'udp', sport: 1, dport: 2 }, { df: false, mf: true }, 64), 'p1', 'DROP_SNAT_FRAGMENT'],
      ['GRE (no ports at all)', eth({ src: VM.p1.mac, dst: MAC.a }).ipv4({ src: VM.p1.ip, dst: REMOTE, protocol: 47 }).payload(24).build(), 'p1', 'DROP_SNAT_PROTOCOL'],
      ['router C has SNAT disabled', fromVm(VM.p4, MAC.c, REMOTE, { kind: 'udp', sport: 1, dport: 2 }), 'p4', 'DROP_SNAT_DISABLED'],
    ];
    for (const [name, frame, from, reason] of cases) {
      it(name, () => expectRun(world().out(frame, from), 'DROP', reason));
    }

    it('router C’s external side missing from xdpnet_snat (the daemon could not set it up here): no external side', () => {
      const entry = world().snatEntry(ROUTER.c);
      world().remove(entry.map, entry.key);
      try {
        expectRun(world().out(fromVm(VM.p4, MAC.c, REMOTE, { kind: 'udp', sport: 1, dport: 2 }), 'p4'), 'DROP', 'DROP_NO_EXTERNAL_SIDE');
      } finally {
        world().write(entry);
      }
    });

    it('router C’s external network a VLAN: not forwarded yet', () => {
      world().write(world().snatEntry(ROUTER.c, { externalNetworkType: 'vlan', segmentationId: 42, enableSnat: true }));
      try {
        expectRun(world().out(fromVm(VM.p4, MAC.c, REMOTE, { kind: 'udp', sport: 1, dport: 2 }), 'p4'), 'DROP', 'DROP_EXTERNAL_NETWORK_TYPE');
      } finally {
        world().write(world().snatEntry(ROUTER.c));
      }
    });

    it('an on-link host without a resolved MAC: dropped, and the miss recorded for the daemon', () => {
      expectRun(world().out(fromVm(VM.p1, MAC.a, EXT.unresolved, { kind: 'udp', sport: 1, dport: 2 }), 'p1'), 'DROP', 'DROP_NO_EXTERNAL_NEIGHBOR');
      const misses = world().keys('xdpnet_ext_nh_miss').map((k) => extNexthopKey.decode(k));
      expect(misses).toContainEqual({ ifindex: world().ifindex('ext'), ip: EXT.unresolved });
      expect(world().connections().some((h) => h.connection.remoteIp === EXT.unresolved), 'no connection for what was not sent').toBe(false);
    });

    it('TTL 1: ICMP time exceeded from the router’s address on the sender’s network', () => {
      const frame = fromVm(VM.p1, MAC.a, REMOTE, { kind: 'udp', sport: 1, dport: 2 }, { ttl: 1 });
      expectRun(world().out(frame, 'p1'), 'TX', 'FWD_ICMP_TIME_EXCEEDED', icmpError(frame, MAC.a, '10.1.0.1', 'time-exceeded', 0));
    });

    it('over the external MTU (1400) with DF: fragmentation needed, next-hop MTU 1400', () => {
      const frame = fromVm(VM.p1, MAC.a, REMOTE, { kind: 'udp', sport: 1, dport: 2 }, {}, EXT_MTU + 1 - 28);
      expectRun(world().out(frame, 'p1'), 'TX', 'FWD_ICMP_FRAG_NEEDED', icmpError(frame, MAC.a, '10.1.0.1', 'dest-unreachable', 4, EXT_MTU));
    });

    it('over the external MTU without DF: dropped (XDP does not fragment)', () => {
      const frame = fromVm(VM.p1, MAC.a, REMOTE, { kind: 'udp', sport: 1, dport: 2 }, { df: false }, EXT_MTU + 1 - 28);
      expectRun(world().out(frame, 'p1'), 'DROP', 'DROP_EXCEEDS_NETWORK_MTU');
    });

    it('exactly the external MTU goes out', () => {
      const l4: L4 = { kind: 'udp', sport: 2, dport: 2 };
      const r = world().out(fromVm(VM.p1, MAC.a, REMOTE, l4, {}, EXT_MTU - 28), 'p1');
      expectRun(r, 'REDIRECT', 'FWD_SNAT_NEW', snatted(EXT.a, portOf(r.frame), REMOTE, l4, MAC.gateway, {}, EXT_MTU - 28));
    });

    it('a ping to the router’s own external IP is answered by the router', () => {
      const ping: L4 = { kind: 'echo', id: 9, seq: 1 };
      const pong = eth({ src: MAC.a, dst: VM.p1.mac }).ipv4({ src: EXT.a, dst: VM.p1.ip, id: 0x1234, ttl: 64 }).icmpEcho({ op: 'reply', id: 9, seq: 1 }).payload('through the router').build();
      expectRun(world().out(fromVm(VM.p1, MAC.a, EXT.a, ping), 'p1'), 'TX', 'FWD_ICMP_ECHO_REPLY', pong);
    });
  });

  describePrivileged('outputs decoded by tshark', ['bpf'], () => {
    it.runIf(tsharkAvailable() || process.env.CI === 'true')('every checksum of the translated packets verifies, both ways', async () => {
      const w = world();
      const l4s: L4[] = [
        { kind: 'tcp', sport: 47000, dport: 8443, flags: 'S' },
        { kind: 'udp', sport: 47001, dport: 123 },
        { kind: 'echo', id: 4242, seq: 9 },
      ];
      const outputs: Buffer[] = [];
      for (const l4 of l4s) {
        const out = w.out(fromVm(VM.p2, MAC.a, '192.0.2.200', l4, {}, 48), 'p2');
        expect(out.action).toBe('REDIRECT');
        const back = w.in(fromOutside('192.0.2.200', EXT.a, sourcePortOf(out.frame), answer(l4), {}, 48));
        expect(back.action).toBe('REDIRECT');
        outputs.push(out.frame, back.frame);
      }
      const pkts = await tsharkDecode(outputs);
      const field = (i: number, name: string) => tsharkField(pkts[i]!, name);
      for (let i = 0; i < outputs.length; i++) expect(field(i, 'ip.checksum.status'), `frame ${i}`).toEqual(['1']);
      expect([0, 1].map((i) => field(i, 'tcp.checksum.status'))).toEqual([['1'], ['1']]);
      expect([2, 3].map((i) => field(i, 'udp.checksum.status'))).toEqual([['1'], ['1']]);
      expect([4, 5].map((i) => field(i, 'icmp.checksum.status'))).toEqual([['1'], ['1']]);
      expect(field(0, 'ip.src')).toEqual([EXT.a]);
      expect(field(1, 'ip.dst')).toEqual([VM.p2.ip]);
      expect(field(5, 'icmp.ident')).toEqual(['4242']);
    });
  });

});

describe('snat-world frames', () => {
  it('a reply is what the sender sent with ports swapped and TTL 49 by default', () => {
    const l4: L4 = { kind: 'udp', sport: 1, dport: 2 };
    const f = parseFrame(toVm(VM.p1, MAC.a, REMOTE, answer(l4)));
    expect(f.eth.ipv4).toMatchObject({ src: REMOTE, dst: VM.p1.ip, ttl: 49 });
    expect(f.eth.ipv4!.udp).toMatchObject({ sport: 2, dport: 1, checksumOk: true });
    expectFrame(snatted(EXT.a, 7, REMOTE, l4), snatted(EXT.a, 7, REMOTE, l4));
  });
});
