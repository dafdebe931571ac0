// Per-port counters (bpf/lib/port_stats.h) through BPF_PROG_RUN: every
// branch that counts, with the exact change it makes to xdpnet_port_stats,
// and the branches that must not count. Then the reading side
// (src/dataplane/port-counters.ts) on maps pinned as the daemon pins them.
// The world is overlay-world.ts.
//
// Each case states the verdict and the one reason counter that moves (so the
// branch is the one the case is named after) and every port counter that
// moves, as "<port> rx +packets/+bytes", "tx …", "dropped +n": anything
// else that moves, in any slot of the counter array, fails it. The world's
// ports count in the slots overlay-world.ts gives them (statsSlot).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { u32 } from '../../src/dataplane/codec.js';
import {
  type LoadedObject,
  PerCpuMap,
  REASON_MAP_NAME,
  XdpAction,
  loadObject,
  readReasonCounters,
} from '../../src/dataplane/index.js';
import { type FloodList, PORT_STATS_MAP_NAME, PORT_STATS_SLOTS, type PortStats, floodList, portInfo, portStats } from '../../src/dataplane/layouts.js';
import { PortMapsNotPinnedError, ZERO_PORT_COUNTERS, readPortCounters } from '../../src/dataplane/port-counters.js';
import { deleteMapEntries, objectPath, setMapEntries } from '../helpers/bpf.js';
import { eth } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';
import {
  BROADCAST,
  type IfName,
  JUMBO,
  LO_IFINDEX,
  MAC,
  OVERLAY_LOAD,
  R2,
  R9,
  RED,
  UNDERLAY_LOAD,
  WORLD_PORT_ORDER,
  fromVtep,
  installWorld,
  redFloodList,
  setWorldPort,
  statsSlot,
  testId,
  useOverlayPorts,
  worldPortInfo,
} from './overlay-world.js';

const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;

/** An ifindex no interface has: a port entry may name it, a copy to it cannot be sent. */
const NO_SUCH_IFINDEX = 999_999;
/** The counter slot of a port entry on NO_SUCH_IFINDEX (no world port has it). */
const NO_SUCH_SLOT = 99;

const udp = (src: string, srcIp: string, dst: string, dstIp: string, payload = 'counted') =>
  eth({ src, dst }).ipv4({ src: srcIp, dst: dstIp }).udp({ sport: 40000, dport: 5000 }).payload(payload).build();

// Frames of different lengths, so a byte count shows which frame it counted.
const p1ToP2 = udp(MAC.m1, '10.0.0.11', MAC.m2, '10.0.0.12');
const p1ToRemote = udp(MAC.m1, '10.0.0.11', MAC.r1, '10.0.0.21', 'to another node, encapsulated');
const p1Arp = eth({ src: MAC.m1, dst: BROADCAST }).arp({ senderIp: '10.0.0.11', targetIp: '10.0.0.12' }).build();
const p1Broadcast = udp(MAC.m1, '10.0.0.11', BROADCAST, '10.0.0.255', 'to everyone');
const p1Spoofed = udp(MAC.m1, '10.0.0.99', MAC.m2, '10.0.0.12', 'spoofed');
const p1ToP4 = udp(MAC.m1, '10.0.0.11', MAC.m4, '10.0.0.14', 'to a port that is down');
const p1ToLo = udp(MAC.m1, '10.0.0.11', MAC.m0, '10.0.0.10', 'to a port with no transmit slot');
const p4Sends = udp(MAC.m4, '10.0.0.14', MAC.m1, '10.0.0.11', 'from a port that is down');
const remoteToP2 = udp(MAC.r1, '10.0.0.21', MAC.m2, '10.0.0.12', 'from afar');
const remoteToStranger = udp(MAC.r1, '10.0.0.21', MAC.stranger, '10.0.0.99');
const remoteToP4 = udp(MAC.r1, '10.0.0.21', MAC.m4, '10.0.0.14');
const remoteArp = eth({ src: MAC.r1, dst: BROADCAST }).arp({ senderIp: '10.0.0.21', targetIp: '10.0.0.11' }).build();
/** From the red port on lo: tc programs run on lo in a test run. */
const loArp = eth({ src: MAC.m0, dst: BROADCAST }).arp({ senderIp: '10.0.0.10', targetIp: '10.0.0.99' }).build();
const loSpoofedArp = eth({ src: MAC.stranger, dst: BROADCAST }).arp({ senderIp: '10.0.0.10', targetIp: '10.0.0.99' }).build();

type Program = 'xdp_port' | 'xdp_underlay' | 'tc_port_flood' | 'tc_underlay_flood';
const OBJECT_OF: Record<Program, 'xdp_port' | 'xdp_underlay' | 'tc_flood'> = {
  xdp_port: 'xdp_port',
  xdp_underlay: 'xdp_underlay',
  tc_port_flood: 'tc_flood',
  tc_underlay_flood: 'tc_flood',
};

interface StatsCase {
  name: string;
  program: Program;
  frame: Buffer;
  /** XDP only: the interface the frame arrives on (default: lo; TC runs always arrive on lo). */
  ingress?: IfName;
  /** Map changes for this case only; `undo` puts the world back. */
  setup?: (obj: LoadedObject) => void;
  undo?: (obj: LoadedObject) => void;
  verdict: number;
  reason: string;
  /** Every port counter that moves. */
  counted: string[];
}

type Totals = typeof ZERO_PORT_COUNTERS;

const sum = (perCpu: readonly PortStats[]): Totals =>
  perCpu.reduce(
    (t, s) => ({
      rxPackets: t.rxPackets + s.rx_packets,
      rxBytes: t.rxBytes + s.rx_bytes,
      txPackets: t.txPackets + s.tx_packets,
      txBytes: t.txBytes + s.tx_bytes,
      droppedPackets: t.droppedPackets + s.dropped_packets,
    }),
    { ...ZERO_PORT_COUNTERS },
  );

/** Every slot of the object's port counters that counted anything, summed over CPUs, by slot. */
function portCounters(obj: LoadedObject): Map<number, Totals> {
  const raw = obj.map(PORT_STATS_MAP_NAME);
  try {
    const zero = JSON.stringify(ZERO_PORT_COUNTERS, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    return new Map(
      [...new PerCpuMap(raw, u32, portStats).entries()]
        .map(([slot, perCpu]) => [slot, sum(perCpu)] as const)
        .filter(([, t]) => JSON.stringify(t, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) !== zero),
    );
  } finally {
    raw.close();
  }
}

function reasonPackets(obj: LoadedObject): Map<string, bigint> {
  const map = obj.map(REASON_MAP_NAME);
  try {
    return new Map(readReasonCounters(map).map((r) => [r.name, r.packets]));
  } finally {
    map.close();
  }
}

/** Zeroes a slot on every CPU, as the daemon does before it gives the slot to a port. */
function zeroSlot(obj: LoadedObject, slot: number): void {
  const raw = obj.map(PORT_STATS_MAP_NAME);
  try {
    new PerCpuMap(raw, u32, portStats).setAll(slot, { rx_packets: 0n, rx_bytes: 0n, tx_packets: 0n, tx_bytes: 0n, dropped_packets: 0n });
  } finally {
    raw.close();
  }
}

describePrivileged('per-port counters', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  const objects: Partial<Record<'xdp_port' | 'xdp_underlay' | 'tc_flood', LoadedObject>> = {};

  beforeAll(async () => {
    objects.xdp_port = await loadObject(objectPath('xdp_port'), OVERLAY_LOAD);
    objects.xdp_underlay = await loadObject(objectPath('xdp_underlay'), UNDERLAY_LOAD);
    objects.tc_flood = await loadObject(objectPath('tc_flood'), OVERLAY_LOAD);
    for (const obj of Object.values(objects)) installWorld(obj, ifx);
  });
  afterAll(() => {
    for (const obj of Object.values(objects)) obj.close();
  });

  /** The world's port counting in a slot, for readable deltas. */
  function nameOf(slot: number): string {
    return WORLD_PORT_ORDER.find((p) => statsSlot(p) === slot) ?? `slot ${slot}`;
  }

  /** What moved between two readings, as "<port> rx +1/+60B", "<port> tx …", "<port> dropped +1". */
  function moved(before: Map<number, Totals>, after: Map<number, Totals>): string[] {
    const out: string[] = [];
    for (const slot of new Set([...before.keys(), ...after.keys()])) {
      const was = before.get(slot) ?? ZERO_PORT_COUNTERS;
      const now = after.get(slot) ?? ZERO_PORT_COUNTERS;
      const name = nameOf(slot);
      if (now.rxPackets !== was.rxPackets || now.rxBytes !== was.rxBytes) out.push(`${name} rx +${now.rxPackets - was.rxPackets}/+${now.rxBytes - was.rxBytes}B`);
      if (now.txPackets !== was.txPackets || now.txBytes !== was.txBytes) out.push(`${name} tx +${now.txPackets - was.txPackets}/+${now.txBytes - was.txBytes}B`);
      if (now.droppedPackets !== was.droppedPackets) out.push(`${name} dropped +${now.droppedPackets - was.droppedPackets}`);
    }
    return out.sort();
  }

  function run(c: StatsCase): void {
    const obj = objects[OBJECT_OF[c.program]]!;
    const countersBefore = portCounters(obj);
    const reasonsBefore = reasonPackets(obj);
    c.setup?.(obj);
    let verdict: number;
    try {
      const program = obj.program(c.program);
      try {
        verdict = program.testRun(c.frame, c.ingress ? { ingressIfindex: ifx(c.ingress) } : {}).verdict;
      } finally {
        program.close();
      }
    } finally {
      c.undo?.(obj);
    }
    expect(verdict, 'verdict').toBe(c.verdict);
    const reasons = [...reasonPackets(obj)].filter(([n, p]) => p !== reasonsBefore.get(n)).map(([n, p]) => `${n} +${p - reasonsBefore.get(n)!}`);
    expect(reasons, 'reason counters that moved').toEqual([`REASON_${c.reason} +1`]);
    expect(moved(countersBefore, portCounters(obj)), 'port counters that moved').toEqual([...c.counted].sort());
  }

  const len = (f: Buffer) => f.length;
  // The red list without lo: a copy into lo would loop into the test host's own stack.
  const redWithoutLo = (): FloodList => ({ ...redFloodList(ifx), local_count: 3, local_ifindex: [ifx('p1'), ifx('p2'), ifx('p4')] });
  const setRed = (list: () => FloodList) => (o: LoadedObject) => setMapEntries(o, 'xdpnet_flood', u32, floodList, [[RED, list()]]);
  const restoreRed = (o: LoadedObject) => setMapEntries(o, 'xdpnet_flood', u32, floodList, [[RED, redFloodList(ifx)]]);

  const cases: StatsCase[] = [
    // xdp_port: the sender's side at the exit, the destination's where it is handed over.
    {
      name: 'xdp_port, local redirect: received on p1, sent to p2, both at the frame’s length',
      program: 'xdp_port',
      ingress: 'p1',
      frame: p1ToP2,
      verdict: XdpAction.REDIRECT,
      reason: 'FWD_LOCAL',
      counted: [`p1 rx +1/+${len(p1ToP2)}B`, `p2 tx +1/+${len(p1ToP2)}B`],
    },
    {
      name: 'xdp_port, encapsulated to another node: received at the length the VM sent (not the encapsulated one)',
      program: 'xdp_port',
      ingress: 'p1',
      frame: p1ToRemote,
      verdict: XdpAction.REDIRECT,
      reason: 'FWD_ENCAP',
      counted: [`p1 rx +1/+${len(p1ToRemote)}B`],
    },
    {
      name: 'xdp_port, ARP answered (XDP_TX): received on p1 and sent back to p1',
      program: 'xdp_port',
      ingress: 'p1',
      frame: p1Arp,
      verdict: XdpAction.TX,
      reason: 'FWD_ARP_REPLY',
      counted: [`p1 rx +1/+${len(p1Arp)}B`, `p1 tx +1/+${len(p1Arp)}B`],
    },
    {
      name: 'xdp_port, broadcast handed to the flood path: received only (the copies are tc_port_flood’s)',
      program: 'xdp_port',
      ingress: 'p1',
      frame: p1Broadcast,
      verdict: XdpAction.PASS,
      reason: 'PASS_TO_FLOOD',
      counted: [`p1 rx +1/+${len(p1Broadcast)}B`],
    },
    {
      name: 'xdp_port, spoofed source: received and dropped',
      program: 'xdp_port',
      ingress: 'p1',
      frame: p1Spoofed,
      verdict: XdpAction.DROP,
      reason: 'DROP_SPOOFED_IP',
      counted: [`p1 rx +1/+${len(p1Spoofed)}B`, 'p1 dropped +1'],
    },
    {
      name: 'xdp_port, to a port that is down: dropped on the sender, nothing sent to p4',
      program: 'xdp_port',
      ingress: 'p1',
      frame: p1ToP4,
      verdict: XdpAction.DROP,
      reason: 'DROP_PORT_DOWN',
      counted: [`p1 rx +1/+${len(p1ToP4)}B`, 'p1 dropped +1'],
    },
    {
      name: 'xdp_port, to a port without a transmit slot: the failed redirect is the sender’s drop, nothing sent to lo',
      program: 'xdp_port',
      ingress: 'p1',
      frame: p1ToLo,
      verdict: XdpAction.DROP,
      reason: 'DROP_NO_TX_PORT',
      counted: [`p1 rx +1/+${len(p1ToLo)}B`, 'p1 dropped +1'],
    },
    {
      name: 'xdp_port, from a port that is down: what its VM sends is received, then dropped',
      program: 'xdp_port',
      ingress: 'p4',
      frame: p4Sends,
      verdict: XdpAction.DROP,
      reason: 'DROP_PORT_DOWN',
      counted: [`p4 rx +1/+${len(p4Sends)}B`, 'p4 dropped +1'],
    },
    {
      name: 'xdp_port, on an interface that is no port: nothing counted',
      program: 'xdp_port',
      ingress: 'ul',
      frame: p1ToP2,
      verdict: XdpAction.DROP,
      reason: 'DROP_UNKNOWN_PORT',
      counted: [],
    },

    // xdp_underlay: only deliveries count; the underlay is no port.
    {
      name: 'xdp_underlay, decapsulated into p2: sent to p2 at the inner frame’s length',
      program: 'xdp_underlay',
      frame: fromVtep(remoteToP2, RED, R2),
      verdict: XdpAction.REDIRECT,
      reason: 'FWD_DECAP',
      counted: [`p2 tx +1/+${len(remoteToP2)}B`],
    },
    {
      name: 'xdp_underlay, to a MAC that is not here: nothing',
      program: 'xdp_underlay',
      frame: fromVtep(remoteToStranger, RED, R2),
      verdict: XdpAction.DROP,
      reason: 'DROP_UNKNOWN_DESTINATION',
      counted: [],
    },
    {
      name: 'xdp_underlay, to a port that is down: nothing',
      program: 'xdp_underlay',
      frame: fromVtep(remoteToP4, RED, R2),
      verdict: XdpAction.DROP,
      reason: 'DROP_PORT_DOWN',
      counted: [],
    },
    {
      name: 'xdp_underlay, broadcast handed to the flood path: nothing yet (the copies are tc_underlay_flood’s)',
      program: 'xdp_underlay',
      frame: fromVtep(remoteArp, RED, R2),
      verdict: XdpAction.PASS,
      reason: 'PASS_TO_FLOOD',
      counted: [],
    },

    // tc_port_flood: one count per copy delivered to a local port; the sender's drops.
    {
      name: 'tc_port_flood: one copy sent to each up red port but the sender; the VXLAN copies and the down port count nowhere',
      program: 'tc_port_flood',
      frame: loArp,
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      counted: [`p1 tx +1/+${len(loArp)}B`, `p2 tx +1/+${len(loArp)}B`],
    },
    {
      name: 'tc_port_flood: a copy that cannot be sent is not counted as sent (and is no drop of the sender’s)',
      program: 'tc_port_flood',
      frame: loArp,
      setup: (o) => {
        setMapEntries(o, 'xdpnet_ports', u32, portInfo, [
          [NO_SUCH_IFINDEX, worldPortInfo('p2', { mac: '02:00:00:00:01:99', fixed_ip_count: 0, fixed_ip: [], stats_slot: NO_SUCH_SLOT, port_id: testId(199) })],
        ]);
        setRed(() => ({ local_count: 3, remote_count: 0, local_ifindex: [LO_IFINDEX, NO_SUCH_IFINDEX, ifx('p1')], remote_vtep: [] }))(o);
      },
      undo: (o) => {
        deleteMapEntries(o, 'xdpnet_ports', u32, [NO_SUCH_IFINDEX]);
        restoreRed(o);
      },
      verdict: TC_ACT_SHOT,
      reason: 'DROP_FLOOD_PARTIAL',
      counted: [`p1 tx +1/+${len(loArp)}B`],
    },
    {
      name: 'tc_port_flood: a VTEP without a next hop: the local copies still count, the sender has dropped nothing',
      program: 'tc_port_flood',
      frame: loArp,
      setup: setRed(() => ({ ...redFloodList(ifx), remote_count: 2, remote_vtep: [R2, R9] })),
      undo: restoreRed,
      verdict: TC_ACT_SHOT,
      reason: 'DROP_FLOOD_PARTIAL',
      counted: [`p1 tx +1/+${len(loArp)}B`, `p2 tx +1/+${len(loArp)}B`],
    },
    {
      name: 'tc_port_flood: the network has no flood list: the sender’s frame is dropped (its rx was xdp_port’s)',
      program: 'tc_port_flood',
      frame: loArp,
      setup: (o) => deleteMapEntries(o, 'xdpnet_flood', u32, [RED]),
      undo: restoreRed,
      verdict: TC_ACT_SHOT,
      reason: 'DROP_NO_FLOOD_LIST',
      counted: ['lo dropped +1'],
    },
    {
      name: 'tc_port_flood: spoofed source, re-checked here: the sender’s drop',
      program: 'tc_port_flood',
      frame: loSpoofedArp,
      verdict: TC_ACT_SHOT,
      reason: 'DROP_SPOOFED_ARP',
      counted: ['lo dropped +1'],
    },
    {
      name: 'tc_port_flood on an interface that is no port: nothing counted',
      program: 'tc_port_flood',
      frame: loArp,
      setup: (o) => deleteMapEntries(o, 'xdpnet_ports', u32, [LO_IFINDEX]),
      undo: (o) => installWorld(o, ifx),
      verdict: TC_ACT_SHOT,
      reason: 'DROP_UNKNOWN_PORT',
      counted: [],
    },

    // tc_underlay_flood: one count per decapsulated copy delivered.
    {
      name: 'tc_underlay_flood: a broadcast from a VTEP, one decapsulated copy sent to each up red port',
      program: 'tc_underlay_flood',
      frame: fromVtep(remoteArp, RED, R2),
      setup: setRed(redWithoutLo),
      undo: restoreRed,
      verdict: TC_ACT_SHOT,
      reason: 'FWD_FLOOD',
      counted: [`p1 tx +1/+${len(remoteArp)}B`, `p2 tx +1/+${len(remoteArp)}B`],
    },
    {
      name: 'tc_underlay_flood: a network without a flood list: nothing (the underlay is no port)',
      program: 'tc_underlay_flood',
      frame: fromVtep(eth({ src: MAC.j1, dst: BROADCAST }).arp({ senderIp: '10.5.0.51', targetIp: '10.5.0.15' }).build(), JUMBO, R2),
      setup: (o) => deleteMapEntries(o, 'xdpnet_flood', u32, [JUMBO]),
      undo: (o) => installWorld(o, ifx),
      verdict: TC_ACT_SHOT,
      reason: 'DROP_NO_FLOOD_LIST',
      counted: [],
    },
    {
      name: 'tc_underlay_flood: unicast VXLAN is not the flood path’s: nothing',
      program: 'tc_underlay_flood',
      frame: fromVtep(remoteToP2, RED, R2),
      verdict: TC_ACT_OK,
      reason: 'PASS_NOT_FLOOD',
      counted: [],
    },
  ];

  for (const c of cases) it(c.name, () => run(c));

  it('counts add up frame after frame, and a slot the daemon zeroed starts again from zero', () => {
    const obj = objects.xdp_port!;
    const program = obj.program('xdp_port');
    try {
      const p1 = statsSlot('p1');
      const before = portCounters(obj).get(p1) ?? ZERO_PORT_COUNTERS;
      for (let i = 0; i < 3; i++) program.testRun(p1ToP2, { ingressIfindex: ifx('p1') });
      program.testRun(p1Spoofed, { ingressIfindex: ifx('p1') });
      expect(portCounters(obj).get(p1)).toEqual({
        ...before,
        rxPackets: before.rxPackets + 4n,
        rxBytes: before.rxBytes + BigInt(3 * p1ToP2.length + p1Spoofed.length),
        droppedPackets: before.droppedPackets + 1n,
      });

      // What the daemon does to a slot before it gives it to a port.
      zeroSlot(obj, p1);
      expect(portCounters(obj).has(p1)).toBe(false);
      program.testRun(p1ToP2, { ingressIfindex: ifx('p1') });
      expect(portCounters(obj).get(p1)).toEqual({ ...ZERO_PORT_COUNTERS, rxPackets: 1n, rxBytes: BigInt(p1ToP2.length) });
    } finally {
      program.close();
    }
  });

  it('only the ports’ own slots count: never slot 0, nor a slot no port has', () => {
    const slots = new Set([...Object.values(objects)].flatMap((o) => [...portCounters(o).keys()]));
    const ports = new Set(WORLD_PORT_ORDER.map(statsSlot));
    expect([...slots].filter((k) => !ports.has(k)).map(nameOf)).toEqual([]);
    expect(slots.size).toBeGreaterThan(0);
  });

  it('a port entry with no slot (0), or one past the array, is not counted, and its frames go on', () => {
    const obj = objects.xdp_port!;
    const program = obj.program('xdp_port');
    try {
      for (const slot of [0, PORT_STATS_SLOTS, 0xffffffff]) {
        setWorldPort(obj, ifx, 'p1', worldPortInfo('p1', { stats_slot: slot }));
        const before = portCounters(obj);
        expect(program.testRun(p1ToP2, { ingressIfindex: ifx('p1') }).verdict, `slot ${slot}`).toBe(XdpAction.REDIRECT);
        expect(moved(before, portCounters(obj)), `slot ${slot}`).toEqual([`p2 tx +1/+${len(p1ToP2)}B`]);
      }
    } finally {
      program.close();
      setWorldPort(obj, ifx, 'p1', worldPortInfo('p1'));
    }
  });
});

// ---------------------------------------------------------------------------
// Reading: the pinned maps, as the daemon pins them, to totals per port UUID.

describePrivileged('reading per-port counters from the pinned maps', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  let root: string;
  let obj: LoadedObject;

  beforeAll(async () => {
    root = join(world().topo.bpffsDir, 'xdpnet');
    mkdirSync(root, { recursive: true });
    obj = await loadObject(objectPath('xdp_port'), {
      ...OVERLAY_LOAD,
      maps: Object.fromEntries(['xdpnet_ports', PORT_STATS_MAP_NAME].map((m) => [m, { pinPath: join(root, m) }])),
    });
    installWorld(obj, ifx);
  });
  afterAll(() => obj?.close());

  const send = (frame: Buffer, from: IfName) => {
    const program = obj.program('xdp_port');
    try {
      program.testRun(frame, { ingressIfindex: ifx(from) });
    } finally {
      program.close();
    }
  };

  // overlay-world numbers the ports' UUIDs from testId(100): lo, p1, p2, p3, p4, p5, p6.
  const P1_ID = testId(101);
  const P2_ID = testId(102);
  const P4_ID = testId(104);

  it('every port of xdpnet_ports by UUID, its CPUs summed; a port that counted nothing reads zero', () => {
    send(p1ToP2, 'p1');
    send(p1ToP2, 'p1');
    send(p1Arp, 'p1');
    send(p4Sends, 'p4');
    const counted = readPortCounters(root);
    expect([...counted.keys()].sort()).toEqual([100, 101, 102, 103, 104, 105, 106].map(testId));
    expect(counted.get(P1_ID)).toEqual({
      rxPackets: 3n,
      rxBytes: BigInt(2 * p1ToP2.length + p1Arp.length),
      txPackets: 1n,
      txBytes: BigInt(p1Arp.length),
      droppedPackets: 0n,
    });
    expect(counted.get(P2_ID)).toEqual({ ...ZERO_PORT_COUNTERS, txPackets: 2n, txBytes: BigInt(2 * p1ToP2.length) });
    expect(counted.get(P4_ID)).toEqual({ ...ZERO_PORT_COUNTERS, rxPackets: 1n, rxBytes: BigInt(p4Sends.length), droppedPackets: 1n });
    expect(counted.get(testId(105))).toEqual(ZERO_PORT_COUNTERS);
  });

  it('sums every CPU’s slot', () => {
    const raw = obj.map(PORT_STATS_MAP_NAME);
    try {
      const stats = new PerCpuMap(raw, u32, portStats);
      stats.setAll(statsSlot('p5'), { rx_packets: 1n, rx_bytes: 100n, tx_packets: 2n, tx_bytes: 200n, dropped_packets: 3n });
      const n = BigInt(stats.cpus);
      expect(n).toBeGreaterThan(0n);
      expect(readPortCounters(root).get(testId(105))).toEqual({ rxPackets: n, rxBytes: 100n * n, txPackets: 2n * n, txBytes: 200n * n, droppedPackets: 3n * n });
    } finally {
      raw.close();
    }
  });

  it('ignores counters in a slot no port has (left by a removed port); sums two interfaces of one port', () => {
    const raw = obj.map(PORT_STATS_MAP_NAME);
    let seven: bigint; // 7 on every CPU
    try {
      const stats = new PerCpuMap(raw, u32, portStats);
      stats.setAll(NO_SUCH_SLOT, { rx_packets: 7n, rx_bytes: 7n, tx_packets: 7n, tx_bytes: 7n, dropped_packets: 7n });
      seven = 7n * BigInt(stats.cpus);
    } finally {
      raw.close();
    }
    const before = readPortCounters(root);
    expect(before.size).toBe(7);
    expect([...before.values()].some((c) => c.rxPackets === seven)).toBe(false);

    // While a port moves from one interface to another, both carry its UUID (each counting in a slot of its own).
    setMapEntries(obj, 'xdpnet_ports', u32, portInfo, [[NO_SUCH_IFINDEX, worldPortInfo('p2', { stats_slot: NO_SUCH_SLOT })]]);
    try {
      const moving = readPortCounters(root);
      const p2 = before.get(P2_ID)!;
      expect(moving.get(P2_ID)).toEqual({
        rxPackets: p2.rxPackets + seven,
        rxBytes: p2.rxBytes + seven,
        txPackets: p2.txPackets + seven,
        txBytes: p2.txBytes + seven,
        droppedPackets: p2.droppedPackets + seven,
      });
      expect(moving.size).toBe(7);
    } finally {
      deleteMapEntries(obj, 'xdpnet_ports', u32, [NO_SUCH_IFINDEX]);
      zeroSlot(obj, NO_SUCH_SLOT);
    }
  });

  it('a root where the maps are not pinned: PortMapsNotPinnedError naming the path', () => {
    const empty = join(world().topo.bpffsDir, 'nothing-pinned');
    mkdirSync(empty, { recursive: true });
    expect(() => readPortCounters(empty)).toThrow(PortMapsNotPinnedError);
    expect(() => readPortCounters(empty)).toThrow(`${join(empty, 'xdpnet_ports')} is not pinned`);
  });
});
