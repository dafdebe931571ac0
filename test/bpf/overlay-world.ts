// The overlay tables' shared world: a node (VTEP 192.0.2.1) with VM ports on
// four networks, remote ports behind three other VTEPs, and the BPF map
// contents that describe it, written through the codecs of
// src/dataplane/layouts.ts exactly as the daemon will.
//
// Two networks, red (VNI 100) and blue (VNI 200), use the same addresses and
// MACs on purpose (10.0.0.11 is 02:00:00:00:01:01 on both, local on red port
// p1 and on blue port p3; 02:00:00:00:01:02 is local port p2 on red but
// behind VTEP 192.0.2.3 on blue) so the tables can show they never mix.
//
// Ports need real interfaces: a DEVMAP refuses an ifindex that does not exist
// and BPF_PROG_RUN refuses an ingress ifindex that does not. useOverlayPorts()
// creates veth pairs whose root-side ends are the "ports" (their peers sit in
// a test namespace, where the flood tests capture what comes out).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import type { LoadedObject } from '../../src/dataplane/index.js';
import { u32 } from '../../src/dataplane/codec.js';
import { codec } from '../../src/dataplane/index.js';
import {
  FDB_LOCAL,
  FDB_REMOTE,
  FDB_ROUTER,
  NETWORK_F_ADMIN_UP,
  PORT_FIXED_IPS,
  PORT_F_ADMIN_UP,
  PORT_F_PORT_SECURITY,
  PORT_F_SRC_LPM,
  PORT_NET_F_ADMIN_UP,
  PORT_NET_F_PRESENT,
  PORT_SRC_ALLOWED_PAIR,
  PORT_SRC_PREFIX_BITS,
  type ArpEntry,
  arpEntry,
  arpKey,
  fdbEntry,
  fdbKey,
  floodList,
  networkInfo,
  portInfo,
  portSrcKey,
  portSrcValue,
  vtepNexthop,
  type FdbEntry,
  type FloodList,
  type NetworkInfo,
  type PortInfo,
  type VtepNexthop,
} from '../../src/dataplane/layouts.js';
import { FDB_NO_COPIES, type IfindexOf, type MapWrite, encodeArp, encodeFdb, encodeLocalPort, encodeNetwork, fdbMapKey, portNetworkOf } from '../../src/dataplane/overlay-encode.js';
import { encodeRouter } from '../../src/dataplane/router-encode.js';
import type { TableKey, TableValue } from '../../src/reconciler/tables.js';
import { eth, flowHash, hexdiff, ipv4Bytes, vxlanSourcePort } from '../helpers/frames.js';
import { deleteMapEntries, setMapEntries } from '../helpers/bpf.js';
import { type SpawnedProcess, useTopology, type Topology } from '../helpers/netns.js';

export const VTEP_IP = '192.0.2.1';
/** Our underlay interface's MAC, as the next hops say. */
export const UNDERLAY_MAC = '02:00:00:00:ff:01';
/** Remote VTEPs; 192.0.2.9 has no resolved next hop. */
export const R2 = '192.0.2.2';
export const R3 = '192.0.2.3';
export const R9 = '192.0.2.9';
export const NEXTHOP_MAC: Record<string, string> = { [R2]: '02:00:00:00:ff:02', [R3]: '02:00:00:00:ff:03' };

export const RED = 100;
export const BLUE = 200;
/** A network whose admin state is down. */
export const DOWN = 300;
/** A network with an MTU the underlay cannot carry (9000 > 1500 - 50). */
export const JUMBO = 500;
export const UNKNOWN_VNI = 999;
export const NETWORK_MTU = 1450;
export const UNDERLAY_MTU = 1500;

export const MAC = {
  /** Port on lo (ifindex 1): red, 10.0.0.10, port security on; not in the transmit map. */
  m0: '02:00:00:00:01:00',
  /** p1 on red and p3 on blue. */
  m1: '02:00:00:00:01:01',
  /** p2 on red; behind R3 on blue. */
  m2: '02:00:00:00:01:02',
  /** p4 (admin down) on red. */
  m4: '02:00:00:00:01:04',
  /** p5 on jumbo. */
  m5: '02:00:00:00:01:05',
  /** p6 on the down network. */
  m6: '02:00:00:00:01:06',
  /** An allowed address pair of p1 with its own MAC (192.168.50.0/28). */
  pair: '02:00:00:00:0a:0a',
  /** Red, behind R2 (10.0.0.21). */
  r1: '02:00:00:00:02:01',
  /** Red, behind R3 (10.0.0.23). */
  r3: '02:00:00:00:02:03',
  /** Red, behind R9 (no next hop) (10.0.0.29). */
  r9: '02:00:00:00:02:09',
  /** Blue, behind R3 (10.0.0.13). */
  b3: '02:00:00:00:03:03',
  /** Jumbo, behind R2 (10.5.0.51). */
  j1: '02:00:00:00:05:01',
  /** The red router's interface (10.0.0.1). */
  router: 'fa:16:3e:00:00:01',
  /** Nobody's. */
  stranger: '02:00:00:00:99:99',
} as const;

export const ROUTER_ID = Buffer.from('5d2a7c4e0b8f4a3c9e1d2f3a4b5c6d7e', 'hex');
export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

/** Short names of the port interfaces (root side) and the underlay. */
export const PORT_NAMES = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'] as const;
export type PortName = (typeof PORT_NAMES)[number];
export type IfName = PortName | 'ul';
export const LO_IFINDEX = 1;

export interface OverlayPorts {
  topo: Topology;
  /** ifindex of a root-side interface. */
  ifindex(name: IfName): number;
}

/**
 * Creates, for the enclosing describe block, a namespace `vm` with one veth
 * pair per port and one for the underlay: `<prefix>-p1` … `<prefix>-p6`,
 * `<prefix>-ul` in the root namespace (what the programs see), `p1` … `ul`
 * inside `vm` (IPv6 off, no addresses: they send nothing of their own).
 */
export function useOverlayPorts(): () => OverlayPorts {
  const topo = useTopology({
    setup: async (t) => {
      await t.addNamespace('vm', { disableIpv6: true });
      for (const name of [...PORT_NAMES, 'ul'] as const) await t.addVeth({ a: { name }, b: { ns: 'vm', name } });
    },
  });
  return () => {
    const t = topo();
    return {
      topo: t,
      ifindex: (name) => Number(readFileSync(`/sys/class/net/${t.rootLinkName(name)}/ifindex`, 'utf8')),
    };
  };
}

// ---------------------------------------------------------------------------
// What comes out of each interface: tcpdump on the peers, inside `vm`.

export type Capture = Record<IfName, Buffer[]>;

export interface Captures {
  /** How many frames each interface has sent so far. */
  mark(): Record<IfName, number>;
  /**
   * Frames sent out of each interface since `mark`, once `expected` of them
   * (in all) have arrived, plus a short grace period to catch any extra.
   */
  since(mark: Record<IfName, number>, expected: number): Promise<Capture>;
}

/** Frames of a classic pcap file (what tcpdump -w writes), in order; a record still being written is left out. */
export function pcapFrames(file: string): Buffer[] {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return [];
  }
  if (buf.length < 24) return [];
  const le = buf.readUInt32LE(0) === 0xa1b2c3d4 || buf.readUInt32LE(0) === 0xa1b23c4d;
  const frames: Buffer[] = [];
  for (let at = 24; at + 16 <= buf.length; ) {
    const len = le ? buf.readUInt32LE(at + 8) : buf.readUInt32BE(at + 8);
    if (at + 16 + len > buf.length) break;
    frames.push(Buffer.from(buf.subarray(at + 16, at + 16 + len)));
    at += 16 + len;
  }
  return frames;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Captures, for the enclosing describe block (after useOverlayPorts), every
 * frame that leaves the root-side interfaces, as their peers in `vm` receive
 * them. GRO is turned on on the peers: XDP_REDIRECT into a veth is dropped
 * unless its peer has NAPI (GRO or an XDP program).
 */
export function useCaptures(world: () => OverlayPorts, names: readonly IfName[] = [...PORT_NAMES, 'ul']): () => Captures {
  let dir = '';
  const dumps: SpawnedProcess[] = [];
  const file = (name: IfName) => join(dir, `${name}.pcap`);
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xdpnet-capture-'));
    for (const name of names) {
      await world().topo.exec('vm', ['ethtool', '-K', name, 'gro', 'on']);
      // -U, --immediate-mode: each packet written at once; -Z root: keep the right to write the file;
      // IPv6 is the root-side kernel's own chatter.
      const dump = world().topo.spawn('vm', ['tcpdump', '-n', '-U', '--immediate-mode', '-Z', 'root', '-i', name, '-w', file(name), 'not', 'ip6']);
      dumps.push(dump);
      await dump.waitFor(/listening on/);
    }
  });
  afterAll(async () => {
    await Promise.all(dumps.map((d) => d.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const count = () => Object.fromEntries(names.map((n) => [n, pcapFrames(file(n)).length])) as Record<IfName, number>;
  const captures: Captures = {
    mark: count,
    async since(mark, expected) {
      const fresh = () => Object.fromEntries(names.map((n) => [n, pcapFrames(file(n)).slice(mark[n])])) as Capture;
      const total = () => Object.values(fresh()).reduce((n, f) => n + f.length, 0);
      for (let waited = 0; waited < 3000 && total() < expected; waited += 50) await sleep(50);
      await sleep(150);
      return fresh();
    },
  };
  return () => captures;
}

/** Asserts that exactly `want` came out of each captured interface (nothing where none is listed). */
export function expectCapture(got: Capture, want: Partial<Capture>): void {
  for (const name of Object.keys(got) as IfName[]) {
    const frames = want[name] ?? [];
    expect(got[name].length, `frames out of ${name}`).toBe(frames.length);
    frames.forEach((w, i) => {
      if (!got[name][i]!.equals(w)) expect.fail(`frame ${i} out of ${name} differs:\n${hexdiff(w, got[name][i]!)}`);
    });
  }
}

/** Number of frames in a capture expectation. */
export const frameCount = (want: Partial<Capture>): number => Object.values(want).reduce((n, f) => n + (f?.length ?? 0), 0);

/** A __be32 load-time setting (vtep_ip) as the 4 bytes the loader writes. */
export const be32Setting = (ip: string): Buffer => ipv4Bytes(ip);

/** Load-time settings of xdp_port and tc_flood. */
export const OVERLAY_LOAD = {
  rodata: { vtep_ip: be32Setting(VTEP_IP), underlay_mtu: UNDERLAY_MTU },
};
/** Load-time settings of xdp_underlay. */
export const UNDERLAY_LOAD = { rodata: { vtep_ip: be32Setting(VTEP_IP) } };

/** A local MAC's entry, with its copy of `port` (as the daemon writes it: overlay_maps.h). */
export function localFdb(ifindex: number, port: PortInfo | undefined, vni: number): FdbEntry {
  const copy =
    port && port.vni === vni
      ? { port_stats_slot: port.stats_slot, port_present: 1, port_flags: port.flags, port_net_flags: port.net_flags, port_net_mtu: port.net_mtu }
      : {};
  return { kind: FDB_LOCAL, ifindex, vtep_ip: '0.0.0.0', router_id: Buffer.alloc(16), ...FDB_NO_COPIES, ...copy };
}
/** A remote MAC's entry, with its copy of `nexthop` (its VTEP's xdpnet_nexthops entry, as the daemon writes it: overlay_maps.h). */
export function remoteFdb(vtep: string, nexthop: VtepNexthop | undefined): FdbEntry {
  const copy = nexthop ? { nexthop_present: 1, nexthop } : {};
  return { kind: FDB_REMOTE, ifindex: 0, vtep_ip: vtep, router_id: Buffer.alloc(16), ...FDB_NO_COPIES, ...copy };
}
const pad2 = Buffer.alloc(2);
/** An ARP entry without a copy of its MAC's fdb entry (the programs look it up: route.h). */
const noArpCopy = (mac: string): ArpEntry => ({ mac, fdb_present: 0, pad: 0, fdb: fdbEntry.decode(Buffer.alloc(fdbEntry.size)) });

/** The red flood list: every red port of this node (lo's included), both red VTEPs with a next hop. */
export function redFloodList(ifx: (n: IfName) => number): FloodList {
  const local_ifindex = [LO_IFINDEX, ifx('p1'), ifx('p2'), ifx('p4')];
  const remote_vtep = [R2, R3];
  return { local_count: local_ifindex.length, remote_count: remote_vtep.length, local_ifindex, remote_vtep };
}

/** A distinct UUID per number, for the ids the maps carry for the daemon (the programs ignore them). */
export const testId = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** The world's networks, as xdpnet_networks holds them. */
export const WORLD_NETWORKS: ReadonlyMap<number, NetworkInfo> = new Map([
  [RED, { mtu: NETWORK_MTU, flags: NETWORK_F_ADMIN_UP, network_id: testId(RED) }],
  [BLUE, { mtu: NETWORK_MTU, flags: NETWORK_F_ADMIN_UP, network_id: testId(BLUE) }],
  [DOWN, { mtu: NETWORK_MTU, flags: 0, network_id: testId(DOWN) }],
  [JUMBO, { mtu: 9000, flags: NETWORK_F_ADMIN_UP, network_id: testId(JUMBO) }],
]);

/** The port interfaces in the order their UUIDs (testId(100 + n)) and counter slots (1 + n) are numbered. */
export const WORLD_PORT_ORDER = ['lo', ...PORT_NAMES] as const;
export type WorldPort = (typeof WORLD_PORT_ORDER)[number];

/** A port's slot in xdpnet_port_stats, as the daemon would have given it. */
export const statsSlot = (port: WorldPort): number => 1 + WORLD_PORT_ORDER.indexOf(port);

const UP = PORT_F_ADMIN_UP;
const SECURED = PORT_F_ADMIN_UP | PORT_F_PORT_SECURITY;

/** Each port: network, MAC, flags, fixed IPs (lo: a red port on lo, ifindex 1). */
const WORLD_PORTS: Record<WorldPort, { vni: number; mac: string; flags: number; ips: string[] }> = {
  lo: { vni: RED, mac: MAC.m0, flags: SECURED, ips: ['10.0.0.10'] },
  p1: { vni: RED, mac: MAC.m1, flags: SECURED | PORT_F_SRC_LPM, ips: ['10.0.0.11'] },
  p2: { vni: RED, mac: MAC.m2, flags: SECURED, ips: ['10.0.0.12'] },
  p3: { vni: BLUE, mac: MAC.m1, flags: UP, ips: [] },
  p4: { vni: RED, mac: MAC.m4, flags: PORT_F_PORT_SECURITY, ips: ['10.0.0.14'] },
  p5: { vni: JUMBO, mac: MAC.m5, flags: UP, ips: [] },
  p6: { vni: DOWN, mac: MAC.m6, flags: UP, ips: [] },
};

/** port_info.net_* for a network as xdpnet_networks has it (undefined: not there). */
export function portNetFields(network: NetworkInfo | undefined): Pick<PortInfo, 'net_mtu' | 'net_flags'> {
  if (!network) return { net_mtu: 0, net_flags: 0 };
  return { net_mtu: network.mtu, net_flags: PORT_NET_F_PRESENT | (network.flags & NETWORK_F_ADMIN_UP ? PORT_NET_F_ADMIN_UP : 0) };
}

/**
 * A world port's xdpnet_ports entry as the daemon writes it (its network's
 * state copied in, its own counter slot), with `change` applied.
 */
export function worldPortInfo(port: WorldPort, change: Partial<PortInfo> = {}): PortInfo {
  const p = WORLD_PORTS[port];
  if (p.ips.length > PORT_FIXED_IPS) throw new Error(`${port}: more fixed IPs than port_info holds`);
  return {
    vni: p.vni,
    mac: p.mac,
    flags: p.flags,
    fixed_ip_count: p.ips.length,
    stats_slot: statsSlot(port),
    ...portNetFields(WORLD_NETWORKS.get(p.vni)),
    pad: 0,
    fixed_ip: p.ips,
    port_id: testId(100 + WORLD_PORT_ORDER.indexOf(port)),
    ...change,
  };
}

/** ifindex of a world port (lo is ifindex 1). */
export const worldPortIfindex = (ifx: (n: IfName) => number, port: WorldPort): number => (port === 'lo' ? LO_IFINDEX : ifx(port));

/** The world's fdb entry of a world port's own MAC on its network (a local MAC). */
const ownFdb = (port: WorldPort) => ({ vni: WORLD_PORTS[port].vni, mac: WORLD_PORTS[port].mac, pad: pad2 });

/**
 * Writes a world port's entry, `info` (worldPortInfo with changes), and then,
 * as the daemon does, its copy into the fdb entry of its MAC.
 */
export function setWorldPort(obj: LoadedObject, ifx: (n: IfName) => number, port: WorldPort, info: PortInfo): void {
  const ifindex = worldPortIfindex(ifx, port);
  setMapEntries(obj, 'xdpnet_ports', u32, portInfo, [[ifindex, info]]);
  setMapEntries(obj, 'xdpnet_fdb', fdbKey, fdbEntry, [[ownFdb(port), localFdb(ifindex, info, WORLD_PORTS[port].vni)]]);
}

/**
 * Writes network `vni` as given (undefined: deletes it) and then, as the
 * daemon does, its state into each world port of it (and their MACs' copies).
 */
export function setWorldNetwork(obj: LoadedObject, ifx: (n: IfName) => number, vni: number, network: NetworkInfo | undefined): void {
  if (network) setMapEntries(obj, 'xdpnet_networks', u32, networkInfo, [[vni, network]]);
  else deleteMapEntries(obj, 'xdpnet_networks', u32, [vni]);
  for (const p of WORLD_PORT_ORDER.filter((q) => WORLD_PORTS[q].vni === vni)) setWorldPort(obj, ifx, p, worldPortInfo(p, portNetFields(network)));
}

/** The resolved underlay next hops: R2 and R3 (R9 has none). */
export function worldNexthops(ifx: (n: IfName) => number): Map<string, VtepNexthop> {
  return new Map([
    [R2, { dst_mac: NEXTHOP_MAC[R2]!, src_mac: UNDERLAY_MAC, ifindex: ifx('ul') }],
    [R3, { dst_mac: NEXTHOP_MAC[R3]!, src_mac: UNDERLAY_MAC, ifindex: ifx('ul') }],
  ]);
}

/**
 * Writes the whole world into the object's maps, as the daemon does, or,
 * with `copies: false`, as a writer that does not keep the copies
 * (port_state.h): the ports without their networks' state, the local MACs
 * without their ports', the remote MACs without their VTEPs' next hops.
 */
export function installWorld(obj: LoadedObject, ifx: (n: IfName) => number, opts: { copies?: boolean } = {}): void {
  const copies = opts.copies ?? true;
  const portEntry = (p: WorldPort) => worldPortInfo(p, copies ? {} : portNetFields(undefined));
  setMapEntries(obj, 'xdpnet_networks', u32, networkInfo, [...WORLD_NETWORKS]);
  setMapEntries(obj, 'xdpnet_ports', u32, portInfo, WORLD_PORT_ORDER.map((p) => [worldPortIfindex(ifx, p), portEntry(p)] as const));
  const src = (ifindex: number, mac: string, cidr: string, kind: number) => {
    const [ip, len] = cidr.split('/') as [string, string];
    return [{ prefixlen: PORT_SRC_PREFIX_BITS + Number(len), ifindex, mac, pad: pad2, ip }, { kind }] as const;
  };
  // The fixed IPs are in the port entries; only p1 has more sources (PORT_F_SRC_LPM).
  setMapEntries(obj, 'xdpnet_port_src', portSrcKey, portSrcValue, [
    src(ifx('p1'), MAC.m1, '10.0.1.0/24', PORT_SRC_ALLOWED_PAIR),
    src(ifx('p1'), MAC.pair, '192.168.50.0/28', PORT_SRC_ALLOWED_PAIR),
  ]);
  const local = (port: WorldPort, vni: number) => localFdb(worldPortIfindex(ifx, port), copies ? portEntry(port) : undefined, vni);
  const nexthops = worldNexthops(ifx);
  const remote = (vtep: string) => remoteFdb(vtep, copies ? nexthops.get(vtep) : undefined);
  setMapEntries(obj, 'xdpnet_fdb', fdbKey, fdbEntry, [
    [{ vni: RED, mac: MAC.m0, pad: pad2 }, local('lo', RED)],
    [{ vni: RED, mac: MAC.m1, pad: pad2 }, local('p1', RED)],
    [{ vni: RED, mac: MAC.m2, pad: pad2 }, local('p2', RED)],
    [{ vni: RED, mac: MAC.m4, pad: pad2 }, local('p4', RED)],
    [{ vni: RED, mac: MAC.r1, pad: pad2 }, remote(R2)],
    [{ vni: RED, mac: MAC.r3, pad: pad2 }, remote(R3)],
    [{ vni: RED, mac: MAC.r9, pad: pad2 }, remote(R9)],
    [{ vni: RED, mac: MAC.router, pad: pad2 }, { kind: FDB_ROUTER, ifindex: 0, vtep_ip: '0.0.0.0', router_id: ROUTER_ID, ...FDB_NO_COPIES }],
    [{ vni: BLUE, mac: MAC.m1, pad: pad2 }, local('p3', BLUE)],
    [{ vni: BLUE, mac: MAC.m2, pad: pad2 }, remote(R3)],
    [{ vni: BLUE, mac: MAC.b3, pad: pad2 }, remote(R3)],
    [{ vni: JUMBO, mac: MAC.m5, pad: pad2 }, local('p5', JUMBO)],
    [{ vni: JUMBO, mac: MAC.j1, pad: pad2 }, remote(R2)],
    [{ vni: DOWN, mac: MAC.m6, pad: pad2 }, local('p6', DOWN)],
  ]);
  setMapEntries(obj, 'xdpnet_arp', arpKey, arpEntry, [
    [{ vni: RED, ip: '10.0.0.1' }, noArpCopy(MAC.router)],
    [{ vni: RED, ip: '10.0.0.10' }, noArpCopy(MAC.m0)],
    [{ vni: RED, ip: '10.0.0.11' }, noArpCopy(MAC.m1)],
    [{ vni: RED, ip: '10.0.0.12' }, noArpCopy(MAC.m2)],
    [{ vni: RED, ip: '10.0.0.14' }, noArpCopy(MAC.m4)],
    [{ vni: RED, ip: '10.0.0.21' }, noArpCopy(MAC.r1)],
    [{ vni: RED, ip: '10.0.0.23' }, noArpCopy(MAC.r3)],
    [{ vni: RED, ip: '10.0.0.29' }, noArpCopy(MAC.r9)],
    [{ vni: BLUE, ip: '10.0.0.11' }, noArpCopy(MAC.m1)],
    [{ vni: BLUE, ip: '10.0.0.12' }, noArpCopy(MAC.m2)],
    [{ vni: BLUE, ip: '10.0.0.13' }, noArpCopy(MAC.b3)],
    [{ vni: JUMBO, ip: '10.5.0.15' }, noArpCopy(MAC.m5)],
    [{ vni: JUMBO, ip: '10.5.0.51' }, noArpCopy(MAC.j1)],
  ]);
  setMapEntries(obj, 'xdpnet_flood', u32, floodList, [
    [RED, redFloodList(ifx)],
    [BLUE, { local_count: 1, remote_count: 1, local_ifindex: [ifx('p3')], remote_vtep: [R3] }],
    [JUMBO, { local_count: 1, remote_count: 1, local_ifindex: [ifx('p5')], remote_vtep: [R2] }],
  ]);
  setMapEntries(obj, 'xdpnet_nexthops', codec.ipv4, vtepNexthop, [...nexthops]);
  // Every port interface and the underlay; lo deliberately not.
  const tx = [...PORT_NAMES, 'ul'].map((n) => ifx(n as IfName));
  setMapEntries(obj, 'xdpnet_tx_ports', u32, u32, tx.map((i) => [i, i] as const));
}

/**
 * The frame xdp_port (or tc_port_flood) must send to `vtep` for `inner`,
 * built independently: outer headers as vxlan.h documents them, the UDP
 * source port from the documented flow hash.
 */
export function encapsulated(inner: Buffer, vni: number, vtep: string): Buffer {
  const nexthop = NEXTHOP_MAC[vtep];
  if (!nexthop) throw new Error(`no next hop for ${vtep} in the world`);
  return eth({ src: UNDERLAY_MAC, dst: nexthop })
    .ipv4({ src: VTEP_IP, dst: vtep, ttl: 64, id: 0, df: true })
    .udp({ sport: vxlanSourcePort(flowHash(inner)), dport: 4789, checksum: 0 })
    .vxlan({ vni })
    .payload(inner)
    .build();
}

/** A VXLAN packet from remote VTEP `from` to us carrying `inner`, as a peer (Linux vxlan) would send it. */
export function fromVtep(inner: Buffer, vni: number, from: string, opts: { flags?: number; sport?: number } = {}): Buffer {
  return eth({ src: NEXTHOP_MAC[from] ?? '02:00:00:00:ff:99', dst: UNDERLAY_MAC })
    .ipv4({ src: from, dst: VTEP_IP })
    .udp({ sport: opts.sport ?? 54321, dport: 4789, checksum: 0 })
    .vxlan({ vni, ...(opts.flags === undefined ? {} : { flags: opts.flags }) })
    .payload(inner)
    .build();
}

type Entry<T extends 'networks' | 'fdb' | 'localPorts' | 'routers' | 'arp'> = { key: TableKey<T>; value: TableValue<T> };

/**
 * The xdpnet_networks, xdpnet_ports (with tx slots and sources) and xdpnet_fdb
 * writes for these tables through the encoders, with what the daemon adds
 * (overlay-tables.ts): each port its own counter slot (1, 2, … in order) and
 * its network's state, each local MAC a copy of the port on its interface.
 */
export function daemonOverlayWrites(
  tables: {
    networks: readonly Entry<'networks'>[];
    fdb: readonly Entry<'fdb'>[];
    localPorts: readonly Entry<'localPorts'>[];
    /** The routers, whose MACs' entries carry a copy of them (as fdb-copies.ts writes them); none given: no copy. */
    routers?: readonly Entry<'routers'>[];
    /** The ARP entries, written with their copy of their MAC's fdb entry (none given: none written). */
    arp?: readonly Entry<'arp'>[];
  },
  resolve: IfindexOf,
  /**
   * `snat`: a router's xdpnet_snat value, copied into its MACs' entries too
   * (none: no copy); `gateway`: the xdpnet_ext_nexthops value of that
   * entry's gateway (snatGatewayKeyOf), likewise.
   */
  opts: { copies?: boolean; snat?: (routerId: string) => Buffer | undefined; gateway?: (snat: Buffer) => Buffer | undefined } = {},
): MapWrite[] {
  const copies = opts.copies !== false;
  const networks = tables.networks.map((e) => encodeNetwork(e.key, e.value));
  const networkOf = (vni: number) => (copies ? portNetworkOf(networks.find((w) => w.key.equals(codec.encode(u32, vni)))?.value) : undefined);
  const ports = tables.localPorts.map((e, i) => encodeLocalPort(e.key, e.value, resolve, { statsSlot: i + 1, network: networkOf(e.value.vni) }));
  const portOn = (interfaceName: string) => ports.find((p) => codec.decode(u32, p.port.key) === resolve(interfaceName))?.port.value;
  const routerOf = (routerId: string) => {
    const r = tables.routers?.find((e) => e.key.routerId === routerId);
    return r && encodeRouter(r.key, r.value).value;
  };
  const routerCopies = (routerId: string) => {
    const snat = opts.snat?.(routerId);
    return { router: routerOf(routerId), snat, gateway: snat && opts.gateway?.(snat) };
  };
  const fdb = tables.fdb.map((e) => {
    const loc = e.value.location;
    const copy = !copies ? {} : loc.kind === 'local' ? { port: portOn(loc.interfaceName) } : loc.kind === 'router' ? routerCopies(loc.routerId) : {};
    return encodeFdb(e.key, e.value, resolve, copy);
  });
  // The ARP entries (if given) with their copy of their MAC's fdb entry (arp-copies.ts).
  const arp = (tables.arp ?? []).map((e) => {
    const key = fdbMapKey({ vni: e.key.vni, macAddress: e.value.macAddress });
    return encodeArp(e.key, e.value, copies ? { fdb: fdb.find((w) => w.key.equals(key))?.value } : {});
  });
  return [...networks, ...fdb, ...arp, ...ports.flatMap((p) => [...p.portSrc, p.txPort, p.port])];
}
