// tc_flood through BPF_PROG_RUN (sched_cls, with an skb): bpf_clone_redirect
// really transmits each copy, so every copy is captured (tcpdump) on the peer
// of the interface it was sent to, and compared byte for byte with what it
// must be: the original on local ports, the exact VXLAN encapsulation on the
// underlay, the exact decapsulated inner frame from the underlay.
//
// In a test run the skb arrives on lo (ifindex 1), so the sending port of
// tc_port_flood is the world's port on lo (red, 02:00:00:00:01:00,
// 10.0.0.10, port security on).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LoadedObject, REASON_MAP_NAME, loadObject, readReasonCounters } from '../../src/dataplane/index.js';
import { u32 } from '../../src/dataplane/codec.js';
import { type FloodList, NETWORK_F_ADMIN_UP, PORT_F_PORT_SECURITY, floodList } from '../../src/dataplane/layouts.js';
import { deleteMapEntries, objectPath, setMapEntries } from '../helpers/bpf.js';
import { eth } from '../helpers/frames.js';
import { tsharkAvailable, tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';
import {
  BLUE,
  BROADCAST,
  type Capture,
  type IfName,
  JUMBO,
  LO_IFINDEX,
  MAC,
  NETWORK_MTU,
  NEXTHOP_MAC,
  OVERLAY_LOAD,
  R2,
  R3,
  R9,
  RED,
  UNDERLAY_MAC,
  UNKNOWN_VNI,
  VTEP_IP,
  encapsulated,
  expectCapture,
  frameCount,
  fromVtep,
  installWorld,
  redFloodList,
  useCaptures,
  useOverlayPorts,
  setWorldNetwork,
  setWorldPort,
  testId,
  WORLD_NETWORKS,
  worldPortInfo,
} from './overlay-world.js';

const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;

/** The red port on lo, as the world has it. */
const LO: { mac: string; ip: string } = { mac: MAC.m0, ip: '10.0.0.10' };
const arpBroadcast = (targetIp: string, from = LO) =>
  eth({ src: from.mac, dst: BROADCAST }).arp({ senderIp: from.ip, targetIp }).build();

interface FloodCase {
  name: string;
  program: 'tc_port_flood' | 'tc_underlay_flood';
  frame: Buffer;
  /** Map changes for this case only; `undo` puts the world back. */
  setup?: (obj: LoadedObject) => void;
  undo?: (obj: LoadedObject) => void;
  verdict: number;
  reason: string;
  /** Frames that must come out of each interface, in order (others: none). */
  copies: Partial<Capture>;
}

describePrivileged('tc_flood', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  const captures = useCaptures(world);
  let obj: LoadedObject;

  beforeAll(async () => {
    obj = await loadObject(objectPath('tc_flood'), OVERLAY_LOAD);
    installWorld(obj, ifx);
  });
  afterAll(() => obj?.close());

  function reasonCounts(): Map<string, bigint> {
    const map = obj.map(REASON_MAP_NAME);
    try {
      return new Map(readReasonCounters(map).map((r) => [r.name, r.packets]));
    } finally {
      map.close();
    }
  }

  /** Runs a case, checks it, and returns what came out of each interface. */
  async function run(c: FloodCase): Promise<Capture> {
    const mark = captures().mark();
    const reasonsBefore = reasonCounts();
    c.setup?.(obj);
    let verdict: number;
    try {
      const program = obj.program(c.program);
      verdict = program.testRun(c.frame).verdict;
      program.close();
    } finally {
      c.undo?.(obj);
    }
    const got = await captures().since(mark, frameCount(c.copies));

    expect(verdict, 'TC verdict').toBe(c.verdict);
    const moved = [...reasonCounts()].filter(([n, p]) => p !== (reasonsBefore.get(n) ?? 0n)).map(([n, p]) => `${n} +${p - (reasonsBefore.get(n) ?? 0n)}`);
    expect(moved, 'reason counters that moved').toEqual([`REASON_${c.reason} +1`]);
    expectCapture(got, c.copies);
    return got;
  }

  const arp = arpBroadcast('10.0.0.99');
  const multicast = eth({ src: LO.mac, dst: '01:00:5e:00:00:fb' }).ipv4({ src: LO.ip, dst: '224.0.0.251' }).udp({ sport: 5353, dport: 5353 }).payload(40).build();
  const unknownUnicast = eth({ src: LO.mac, dst: MAC.stranger }).ipv4({ src: LO.ip, dst: '10.0.0.99' }).tcp({ sport: 40000, dport: 80 }).build();
  const remoteArp = eth({ src: MAC.r1, dst: BROADCAST }).arp({ senderIp: '10.0.0.21', targetIp: '10.0.0.11' }).build();
  const blueArp = eth({ src: MAC.b3, dst: BROADCAST }).arp({ senderIp: '10.0.0.13', targetIp: '10.0.0.11' }).build();
  // The red list without lo: a copy into lo would loop into the test host's own stack.
  const redListWithoutLo = () => ({ ...redFloodList(ifx), local_count: 3, local_ifindex: [ifx('p1'), ifx('p2'), ifx('p4')] });
  /** A case's setup: replace red's flood list (built when the case runs, once the interfaces exist). */
  const setRed = (list: () => FloodList) => (o: LoadedObject) => setMapEntries(o, 'xdpnet_flood', u32, floodList, [[RED, list()]]);
  const restoreRed = (o: LoadedObject) => setMapEntries(o, 'xdpnet_flood', u32, floodList, [[RED, redFloodList(ifx)]]);

  const cases: FloodCase[] = [
    {
      name: 'port: ARP broadcast → every other up red port as is, and one VXLAN copy per red VTEP',
      program: 'tc_port_flood',
      frame: arp,
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      copies: { p1: [arp], p2: [arp], ul: [encapsulated(arp, RED, R2), encapsulated(arp, RED, R3)] },
    },
    {
      name: 'port: IPv4 multicast, likewise',
      program: 'tc_port_flood',
      frame: multicast,
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      copies: { p1: [multicast], p2: [multicast], ul: [encapsulated(multicast, RED, R2), encapsulated(multicast, RED, R3)] },
    },
    {
      name: 'port: unknown unicast, likewise',
      program: 'tc_port_flood',
      frame: unknownUnicast,
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      copies: {
        p1: [unknownUnicast],
        p2: [unknownUnicast],
        ul: [encapsulated(unknownUnicast, RED, R2), encapsulated(unknownUnicast, RED, R3)],
      },
    },
    {
      name: 'port: a VTEP without a next hop in the list: the other copies go, counted as partial',
      program: 'tc_port_flood',
      frame: arp,
      setup: setRed(() => ({ ...redFloodList(ifx), remote_count: 3, remote_vtep: [R2, R9, R3] })),
      undo: restoreRed,
      verdict: TC_ACT_SHOT,
      reason: 'DROP_FLOOD_PARTIAL',
      copies: { p1: [arp], p2: [arp], ul: [encapsulated(arp, RED, R2), encapsulated(arp, RED, R3)] },
    },
    {
      name: 'port: a list with only local ports: no encapsulation',
      program: 'tc_port_flood',
      frame: arp,
      setup: setRed(() => ({ local_count: 2, remote_count: 0, local_ifindex: [LO_IFINDEX, ifx('p2')], remote_vtep: [] })),
      undo: restoreRed,
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      copies: { p2: [arp] },
    },
    {
      name: 'port: spoofed source (port security re-checked in TC): no copies',
      program: 'tc_port_flood',
      frame: arpBroadcast('10.0.0.99', { mac: MAC.stranger, ip: '10.0.0.10' }),
      verdict: TC_ACT_SHOT,
      reason: 'DROP_SPOOFED_ARP',
      copies: {},
    },
    {
      name: 'port: spoofed IPv4 source: no copies',
      program: 'tc_port_flood',
      frame: eth({ src: LO.mac, dst: BROADCAST }).ipv4({ src: '10.0.0.11', dst: '10.0.0.255' }).udp({ sport: 1, dport: 2 }).build(),
      verdict: TC_ACT_SHOT,
      reason: 'DROP_SPOOFED_IP',
      copies: {},
    },
    {
      name: 'port: over the network MTU: no copies',
      program: 'tc_port_flood',
      frame: eth({ src: LO.mac, dst: BROADCAST }).ipv4({ src: LO.ip, dst: '10.0.0.255' }).udp({ sport: 1, dport: 2 }).payload(NETWORK_MTU - 28 + 1).build(),
      verdict: TC_ACT_SHOT,
      reason: 'DROP_EXCEEDS_NETWORK_MTU',
      copies: {},
    },
    {
      name: 'port: would exceed the underlay MTU once encapsulated: no copies at all',
      program: 'tc_port_flood',
      frame: eth({ src: LO.mac, dst: BROADCAST }).ipv4({ src: LO.ip, dst: '10.0.0.255' }).udp({ sport: 1, dport: 2 }).payload(1451 - 28).build(),
      setup: (o) => setWorldNetwork(o, ifx, RED, { mtu: 9000, flags: NETWORK_F_ADMIN_UP, network_id: testId(RED) }),
      undo: (o) => setWorldNetwork(o, ifx, RED, WORLD_NETWORKS.get(RED)),
      verdict: TC_ACT_SHOT,
      reason: 'DROP_EXCEEDS_UNDERLAY_MTU',
      copies: {},
    },
    {
      name: 'port: the network has no flood list',
      program: 'tc_port_flood',
      frame: arp,
      setup: (o) => deleteMapEntries(o, 'xdpnet_flood', u32, [RED]),
      undo: restoreRed,
      verdict: TC_ACT_SHOT,
      reason: 'DROP_NO_FLOOD_LIST',
      copies: {},
    },
    {
      name: 'port: the sending port is down',
      program: 'tc_port_flood',
      frame: arp,
      setup: (o) => setWorldPort(o, ifx, 'lo', worldPortInfo('lo', { flags: PORT_F_PORT_SECURITY })),
      undo: (o) => setWorldPort(o, ifx, 'lo', worldPortInfo('lo')),
      verdict: TC_ACT_SHOT,
      reason: 'DROP_PORT_DOWN',
      copies: {},
    },
    {
      name: 'underlay: broadcast from a VTEP → decapsulated, to the up red ports only (split horizon: nothing back out)',
      program: 'tc_underlay_flood',
      frame: fromVtep(remoteArp, RED, R2),
      setup: setRed(redListWithoutLo),
      undo: restoreRed,
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      copies: { p1: [remoteArp], p2: [remoteArp] },
    },
    {
      name: 'underlay: trailing bytes after the datagram are cut off the copies',
      program: 'tc_underlay_flood',
      frame: Buffer.concat([fromVtep(remoteArp, RED, R2), Buffer.alloc(7, 0xee)]),
      setup: setRed(redListWithoutLo),
      undo: restoreRed,
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      copies: { p1: [remoteArp], p2: [remoteArp] },
    },
    {
      name: 'underlay: isolation: the same kind of broadcast on VNI 200 reaches blue’s port only',
      program: 'tc_underlay_flood',
      frame: fromVtep(blueArp, BLUE, R3),
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      copies: { p3: [blueArp] },
    },
    {
      name: 'underlay: a network without a flood list',
      program: 'tc_underlay_flood',
      frame: fromVtep(eth({ src: MAC.j1, dst: BROADCAST }).arp({ senderIp: '10.5.0.51', targetIp: '10.5.0.15' }).build(), JUMBO, R2),
      setup: (o) => deleteMapEntries(o, 'xdpnet_flood', u32, [JUMBO]),
      undo: (o) =>
        setMapEntries(o, 'xdpnet_flood', u32, floodList, [[JUMBO, { local_count: 1, remote_count: 1, local_ifindex: [ifx('p5')], remote_vtep: [R2] }]]),
      verdict: TC_ACT_SHOT,
      reason: 'DROP_NO_FLOOD_LIST',
      copies: {},
    },
    {
      name: 'underlay: unicast VXLAN is not the flood path’s (xdp_underlay decapsulates it)',
      program: 'tc_underlay_flood',
      frame: fromVtep(eth({ src: MAC.r1, dst: MAC.m2 }).ipv4({ src: '10.0.0.21', dst: '10.0.0.12' }).udp({ sport: 1, dport: 2 }).build(), RED, R2),
      verdict: TC_ACT_OK,
      reason: 'PASS_NOT_FLOOD',
      copies: {},
    },
    {
      name: 'underlay: broadcast on an unknown VNI is left alone',
      program: 'tc_underlay_flood',
      frame: fromVtep(remoteArp, UNKNOWN_VNI, R2),
      verdict: TC_ACT_OK,
      reason: 'PASS_NOT_FLOOD',
      copies: {},
    },
    {
      name: 'underlay: management traffic is left alone',
      program: 'tc_underlay_flood',
      frame: eth({ src: NEXTHOP_MAC[R2]!, dst: UNDERLAY_MAC }).ipv4({ src: '192.0.2.50', dst: VTEP_IP }).tcp({ sport: 50000, dport: 22 }).build(),
      verdict: TC_ACT_OK,
      reason: 'PASS_NOT_FLOOD',
      copies: {},
    },
  ];

  for (const c of cases) it(c.name, () => run(c).then(() => undefined));

  it.runIf(tsharkAvailable() || process.env.CI === 'true')('tshark decodes the captured VXLAN copies: VNI 100, good outer IPv4 checksums', async () => {
    const got = await run(cases[0]!);
    const packets = await tsharkDecode(got.ul);
    expect(packets).toHaveLength(2);
    for (const [i, pkt] of packets.entries()) {
      expect(tsharkField(pkt, 'frame.protocols')).toEqual(['eth:ethertype:ip:udp:vxlan:eth:ethertype:arp']);
      expect(tsharkField(pkt, 'vxlan.vni')).toEqual(['100']);
      expect(tsharkField(pkt, 'ip.dst')).toEqual([[R2, R3][i]]);
      expect(tsharkField(pkt, 'ip.checksum.status')).toEqual(['1']);
      expect(tsharkField(pkt, 'arp.src.proto_ipv4')).toEqual([LO.ip]);
    }
  });
});
