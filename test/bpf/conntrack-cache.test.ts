// The programs' per-CPU copies of SNAT connections (bpf/lib/conntrack_cache.h),
// both ways (xdp_port out, xdp_external back), on one CPU so that a copy one
// packet leaves is the one the next finds:
//   - a copy is really used: a connection deleted past our handles is still
//     translated, until the cache generation moves;
//   - the collector's deletion through our handle reaches the very next packet;
//   - every write a program makes of the table moves xdpnet_ct_gen;
//   - a packet that carries something new (a FIN) goes to the table, which
//     records it.
// The world is snat-world.ts; xdp_snat.test.ts has every SNAT outcome.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CACHE_GEN_MAP, advanceGeneration } from '../../src/dataplane/cache-generation.js';
import { BpfMap } from '../../src/dataplane/index.js';
import { NAT_F_TCP_FIN, SNAT_CT_MAP_NAME } from '../../src/dataplane/layouts.js';
import { type NatConnection, natKeys } from '../../src/dataplane/snat-encode.js';
import { pinToOneCpu } from '../helpers/one-cpu.js';
import { describePrivileged } from '../helpers/privileged.js';
import * as gw from './snat-world.js';

const CT_GEN_MAP = 'xdpnet_ct_gen';

describePrivileged('SNAT connections from per-CPU copies', ['bpf', 'netns'], () => {
  const world = gw.useSnatWorld();
  /** Handles on the pins: writes through them are another tool's, with no new generation. */
  let foreign: { ct: BpfMap; generation: BpfMap; ctGeneration: BpfMap };
  let unpin: () => void;

  beforeAll(() => {
    unpin = pinToOneCpu();
    const pin = (m: string) => BpfMap.openPinned(join(world().topo.bpffsDir, m));
    foreign = { ct: pin(SNAT_CT_MAP_NAME), generation: pin(CACHE_GEN_MAP), ctGeneration: pin(CT_GEN_MAP) };
  });
  afterAll(() => {
    foreign?.ct.close();
    foreign?.generation.close();
    foreign?.ctGeneration.close();
    unpin?.();
  });

  const udp = (sport: number): gw.L4 => ({ kind: 'udp', sport, dport: 53 });
  const out = (l4: gw.L4) => world().out(gw.fromVm(gw.VM.p1, gw.MAC.a, gw.REMOTE, l4), 'p1');
  const reply = (l4: gw.L4, port: number) => world().in(gw.fromOutside(gw.REMOTE, gw.EXT.a, port, gw.answer(l4)));
  const connectionOf = (vmPort: number): NatConnection => {
    const half = world()
      .connections()
      .find((h) => h.direction === 'out' && h.connection.vmPort === vmPort);
    if (!half) throw new Error(`no connection from port ${vmPort}`);
    return half.connection;
  };
  const ctGeneration = () => foreign.ctGeneration.lookup(Buffer.alloc(4))!.readBigUInt64LE(0);
  /** A new UDP connection from `sport`, then two more packets (the second from this CPU's copy); its external port. */
  const established = (l4: gw.L4): number => {
    const first = out(l4);
    gw.expectRun(first, 'REDIRECT', 'FWD_SNAT_NEW');
    const port = gw.sourcePortOf(first.frame);
    for (let i = 0; i < 2; i++) gw.expectRun(out(l4), 'REDIRECT', 'FWD_SNAT', gw.snatted(gw.EXT.a, port, gw.REMOTE, l4));
    return port;
  };

  it('leaving: a connection deleted by another tool is still translated from the copy, until the generation moves', () => {
    const l4 = udp(6001);
    const port = established(l4);
    expect(foreign.ct.delete(natKeys(connectionOf(6001)).out)).toBe(true);
    gw.expectRun(out(l4), 'REDIRECT', 'FWD_SNAT', gw.snatted(gw.EXT.a, port, gw.REMOTE, l4));
    advanceGeneration(foreign.generation);
    // No OUT half now: a new connection (its old port is still the old IN half's, so another).
    const again = out(l4);
    gw.expectRun(again, 'REDIRECT', 'FWD_SNAT_NEW');
    expect(gw.sourcePortOf(again.frame)).not.toBe(port);
  });

  it('coming back: a reply finds the copy of a connection deleted by another tool, until the generation moves', () => {
    const l4 = udp(6002);
    const port = established(l4);
    const toVm = gw.toVm(gw.VM.p1, gw.MAC.a, gw.REMOTE, gw.answer(l4));
    for (let i = 0; i < 3; i++) gw.expectRun(reply(l4, port), 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm);
    expect(foreign.ct.delete(natKeys(connectionOf(6002)).in)).toBe(true);
    gw.expectRun(reply(l4, port), 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL', toVm);
    advanceGeneration(foreign.generation);
    gw.expectRun(reply(l4, port), 'PASS', 'PASS_EXTERNAL_UNSOLICITED');
  });

  it('the collector’s deletion through our handle: the very next packet finds no connection', () => {
    const l4 = udp(6003);
    const port = established(l4);
    const keys = natKeys(connectionOf(6003));
    world().remove(SNAT_CT_MAP_NAME, keys.out);
    world().remove(SNAT_CT_MAP_NAME, keys.in);
    gw.expectRun(reply(l4, port), 'PASS', 'PASS_EXTERNAL_UNSOLICITED');
    gw.expectRun(out(l4), 'REDIRECT', 'FWD_SNAT_NEW');
  });

  it('a program’s write of the table moves xdpnet_ct_gen: a new connection, and a reopened one', () => {
    const before = ctGeneration();
    established(udp(6004));
    const afterNew = ctGeneration();
    expect(afterNew).toBeGreaterThan(before);
    // A TCP connection closed, then opened again with the same ports: the old one is deleted.
    const syn: gw.L4 = { kind: 'tcp', sport: 6005, dport: 443, flags: 'S' };
    gw.expectRun(out(syn), 'REDIRECT', 'FWD_SNAT_NEW');
    gw.expectRun(out({ ...syn, flags: 'FA' }), 'REDIRECT', 'FWD_SNAT');
    const beforeReopen = ctGeneration();
    gw.expectRun(out(syn), 'REDIRECT', 'FWD_SNAT_NEW');
    expect(ctGeneration()).toBeGreaterThan(beforeReopen);
  });

  it('a packet that carries something new goes to the table: a FIN after established packets from the copy is recorded', () => {
    const syn: gw.L4 = { kind: 'tcp', sport: 6006, dport: 443, flags: 'S' };
    const first = out(syn);
    gw.expectRun(first, 'REDIRECT', 'FWD_SNAT_NEW');
    const port = gw.sourcePortOf(first.frame);
    gw.expectRun(reply(syn, port), 'REDIRECT', 'FWD_SNAT_REPLY_LOCAL');
    const ack: gw.L4 = { ...syn, flags: 'A' };
    for (let i = 0; i < 3; i++) gw.expectRun(out(ack), 'REDIRECT', 'FWD_SNAT');
    const outHalf = () =>
      world()
        .connections()
        .find((h) => h.direction === 'out' && h.connection.vmPort === 6006)!;
    expect(outHalf().flags & NAT_F_TCP_FIN).toBe(0);
    gw.expectRun(out({ ...syn, flags: 'FA' }), 'REDIRECT', 'FWD_SNAT');
    expect(outHalf().flags & NAT_F_TCP_FIN).toBe(NAT_F_TCP_FIN);
  });
});
