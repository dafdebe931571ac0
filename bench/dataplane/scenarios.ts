// The scenarios: one row per (direction, path). Each offers the same frames
// of its direction to a different forwarder and counts what the far end gets.
//
// A direction groups the rows that are compared with each other
// (COMPARISONS below, each with the target for that direction). A
// new direction is new rows with their own frames, plus whatever topology.ts
// must add for its kernel path.
//
//   encap     the VM's frame to a remote port: VXLAN-encapsulated out of the underlay
//   decap     a remote port's frame in VXLAN: decapsulated into the VM's port
//   routed    the green VM to the orange VM through their router (both ports on this node)
//   snat      the green VM to the internet through the router's external gateway on
//             this node, an established connection: source translated, out of the
//             external NIC
//   rsnat     the internet peer's reply to that connection, arriving on the external
//             NIC: translated back and delivered into the VM's port
//   snat-new  as snat, every frame a new connection (new 5-tuple), with the
//             connection table full from the start: connections per second

import type { BpfProgram } from '../../src/dataplane/index.js';
import type { Programs } from './programs.js';
import { type Host, LINK_HOSTS, type LinkName } from './topology.js';
import {
  MAC,
  OFFSET,
  RMAC,
  VXLAN_OVERHEAD,
  greenToInternet,
  greenToInternetSnatted,
  greenToOrange,
  greenToOrangeRouted,
  internetToExternal,
  internetToGreen,
  remoteFrame,
  underlayFrame,
  vmFrame,
} from './world.js';

/**
 * Who forwards: ours, the least any XDP forwarder does, the kernel as
 * Neutron's agents set it up (a Linux bridge and vxlan device, ip_forward),
 * or the kernel's nftables NAT (masquerade). With --compare-with, also ours
 * and the floor as another build compiled them (withOtherBuild below).
 */
export type PathKind = 'xdpnet' | 'floor' | 'kernel' | 'nftables' | 'other' | 'other-floor';

/** What the sink must see for each frame offered. */
export interface Delivered {
  dstMac: string;
  len: number;
  /** Four more bytes the frame must carry at `offset` (a translated address, a decremented TTL). */
  match?: { offset: number; bytes: Buffer };
}

/** Each frame a new flow: the generator rewrites the TCP/UDP ports at `ports` (and keeps the checksum at `checksum` right). */
export interface Vary {
  ports: number;
  checksum: number;
}

/** What a scenario's setup can do (measure.ts provides it). */
export interface SetupContext {
  programs: Programs;
  /** Offers `frames` frames of scenario `id` (live, as measured, but uncounted). */
  offer(id: string, frames: number): Promise<void>;
  /** Runs scenario `id`'s chain `repeat` times without live frames. */
  runAlone(id: string, repeat: number): Promise<void>;
  /** The most connections the kernel tracks in namespace `host` (nf_conntrack_max). */
  kernelConntrackMax(host: Host): Promise<number>;
}

export interface Scenario {
  /** `<direction>/<path>`. */
  id: string;
  direction: string;
  path: PathKind;
  description: string;
  /** Host-side interface the frames arrive on; the namespace it is in (LINK_HOSTS) is where the generator runs. */
  ingress: LinkName;
  /** Host-side interface they must leave by (the sink is on its peer); in the same namespace. */
  egress: LinkName;
  /** The frame offered. */
  frame: () => Buffer;
  /** Each frame a new flow (connection-rate scenarios). */
  vary?: Vary;
  /** The frame the sink must see for each one offered. */
  delivered: Delivered;
  /** The program the generator tail-calls (loaded in the ingress's namespace). */
  program: (programs: Programs) => Promise<BpfProgram>;
  /** Time the chain alone without live frames too (nothing in it needs the stack). */
  timeAlone: boolean;
  /** Untimed, once, after every scenario's program is loaded and before the warm-up: state the scenario needs. */
  setup?: (s: SetupContext) => Promise<void>;
  /** Scenarios `setup` offers frames through, which must then be in the run too. */
  needs?: string[];
}

/** The namespace a scenario's traffic is generated in. */
export const hostOf = (s: Scenario): Host => LINK_HOSTS[s.ingress];

const ENCAP_IN = vmFrame().length;
const DECAP_OUT = remoteFrame().length;
const ROUTED = greenToOrangeRouted();
const SNATTED = greenToInternetSnatted();
const TO_GREEN = internetToGreen();
const at = (frame: Buffer, offset: number) => ({ offset, bytes: Buffer.from(frame.subarray(offset, offset + 4)) });
const NEW_FLOWS: Vary = { ports: OFFSET.udpSrcPort, checksum: OFFSET.udpChecksum };

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'encap/xdpnet',
    direction: 'encap',
    path: 'xdpnet',
    description: 'xdp_port on the VM port: FDB → VXLAN encap → redirect out of the underlay',
    ingress: 'port',
    egress: 'ul',
    frame: vmFrame,
    delivered: { dstMac: MAC.nexthop, len: ENCAP_IN + VXLAN_OVERHEAD },
    program: async (p) => (await p.overlay()).port,
    timeAlone: true,
  },
  {
    id: 'encap/floor',
    direction: 'encap',
    path: 'floor',
    description: 'xdp_floor on the VM port: rewrite MACs → redirect out of the underlay',
    ingress: 'port',
    egress: 'ul',
    frame: vmFrame,
    delivered: { dstMac: MAC.nexthop, len: ENCAP_IN },
    program: (p) => p.floor('ul', { dst: MAC.nexthop, src: MAC.underlay }),
    timeAlone: true,
  },
  {
    id: 'encap/kernel',
    direction: 'encap',
    path: 'kernel',
    description: 'XDP_PASS on the bridge port: Linux bridge → vxlan device → underlay',
    ingress: 'kport',
    egress: 'kul',
    frame: vmFrame,
    delivered: { dstMac: MAC.nexthop, len: ENCAP_IN + VXLAN_OVERHEAD },
    program: (p) => p.pass(),
    timeAlone: false,
  },
  {
    id: 'decap/xdpnet',
    direction: 'decap',
    path: 'xdpnet',
    description: 'xdp_underlay on the underlay: VXLAN decap → FDB → redirect into the VM port',
    ingress: 'ul',
    egress: 'port',
    frame: underlayFrame,
    delivered: { dstMac: MAC.vm, len: DECAP_OUT },
    program: async (p) => (await p.overlay()).underlay,
    timeAlone: true,
  },
  {
    id: 'decap/floor',
    direction: 'decap',
    path: 'floor',
    description: 'xdp_floor on the underlay: rewrite MACs → redirect into the VM port',
    ingress: 'ul',
    egress: 'port',
    frame: underlayFrame,
    delivered: { dstMac: MAC.vm, len: DECAP_OUT + VXLAN_OVERHEAD },
    program: (p) => p.floor('port', { dst: MAC.vm, src: MAC.remote }),
    timeAlone: true,
  },
  {
    id: 'decap/kernel',
    direction: 'decap',
    path: 'kernel',
    description: 'XDP_PASS on the underlay: UDP 4789 → vxlan device → Linux bridge → VM port',
    ingress: 'kul',
    egress: 'kport',
    frame: underlayFrame,
    delivered: { dstMac: MAC.vm, len: DECAP_OUT },
    program: (p) => p.pass(),
    timeAlone: false,
  },
  {
    id: 'routed/xdpnet',
    direction: 'routed',
    path: 'xdpnet',
    description: 'xdp_port on the green VM port: FDB → router → LPM route → ARP → TTL−1 → redirect into the orange VM port',
    ingress: 'port',
    egress: 'port2',
    frame: greenToOrange,
    delivered: { dstMac: RMAC.orange, len: ROUTED.length, match: at(ROUTED, OFFSET.ttl) },
    program: async (p) => (await p.routed()).port,
    timeAlone: true,
  },
  {
    id: 'routed/floor',
    direction: 'routed',
    path: 'floor',
    description: 'xdp_floor on the green VM port: rewrite MACs → redirect into the orange VM port',
    ingress: 'port',
    egress: 'port2',
    frame: greenToOrange,
    delivered: { dstMac: RMAC.orange, len: ROUTED.length },
    program: (p) => p.floor('port2', { dst: RMAC.orange, src: RMAC.router }),
    timeAlone: true,
  },
  {
    id: 'routed/kernel',
    direction: 'routed',
    path: 'kernel',
    description: 'XDP_PASS on kr1: ip_forward (no netfilter) → neighbour → kr2',
    ingress: 'kr1',
    egress: 'kr2',
    frame: greenToOrange,
    delivered: { dstMac: RMAC.orange, len: ROUTED.length, match: at(ROUTED, OFFSET.ttl) },
    program: (p) => p.pass(),
    timeAlone: false,
  },
  {
    id: 'snat/xdpnet',
    direction: 'snat',
    path: 'xdpnet',
    description: 'xdp_port on the VM port: router → external route → known connection → SNAT → redirect out of the external NIC',
    ingress: 'port',
    egress: 'ext',
    frame: greenToInternet,
    delivered: { dstMac: RMAC.gateway, len: SNATTED.length, match: at(SNATTED, OFFSET.ipSrc) },
    program: async (p) => (await p.gateway()).port,
    timeAlone: true,
  },
  {
    id: 'snat/floor',
    direction: 'snat',
    path: 'floor',
    description: 'xdp_floor on the VM port: rewrite MACs → redirect out of the external NIC',
    ingress: 'port',
    egress: 'ext',
    frame: greenToInternet,
    delivered: { dstMac: RMAC.gateway, len: SNATTED.length },
    program: (p) => p.floor('ext', { dst: RMAC.gateway, src: RMAC.ext }),
    timeAlone: true,
  },
  {
    id: 'snat/nftables',
    direction: 'snat',
    path: 'nftables',
    description: 'XDP_PASS on mvm: conntrack (established) → ip_forward → masquerade → mext',
    ingress: 'mvm',
    egress: 'mext',
    frame: greenToInternet,
    delivered: { dstMac: RMAC.gateway, len: SNATTED.length, match: at(SNATTED, OFFSET.ipSrc) },
    program: (p) => p.pass(),
    timeAlone: false,
  },
  {
    id: 'rsnat/xdpnet',
    direction: 'rsnat',
    path: 'xdpnet',
    description: 'xdp_external on the external NIC: external IP → connection → translated back → router → redirect into the VM port',
    ingress: 'ext',
    egress: 'port',
    frame: internetToExternal,
    delivered: { dstMac: RMAC.green, len: TO_GREEN.length, match: at(TO_GREEN, OFFSET.ipDst) },
    program: async (p) => {
      const external = (await p.gateway()).external;
      if (!external) throw new Error('the established gateway has no xdp_external');
      return external;
    },
    timeAlone: true,
  },
  {
    id: 'rsnat/floor',
    direction: 'rsnat',
    path: 'floor',
    description: 'xdp_floor on the external NIC: rewrite MACs → redirect into the VM port',
    ingress: 'ext',
    egress: 'port',
    frame: internetToExternal,
    delivered: { dstMac: RMAC.green, len: TO_GREEN.length },
    program: (p) => p.floor('port', { dst: RMAC.green, src: RMAC.router }),
    timeAlone: true,
  },
  {
    id: 'rsnat/nftables',
    direction: 'rsnat',
    path: 'nftables',
    description: "XDP_PASS on mext: conntrack (the reply of snat/nftables's connection) → de-masquerade → ip_forward → mvm",
    ingress: 'mext',
    egress: 'mvm',
    frame: internetToExternal,
    delivered: { dstMac: RMAC.green, len: TO_GREEN.length, match: at(TO_GREEN, OFFSET.ipDst) },
    program: (p) => p.pass(),
    timeAlone: false,
    // The connection: the VM's first packet makes it (UDP timeouts in `masq` are an hour).
    setup: (s) => s.offer('snat/nftables', 1),
    needs: ['snat/nftables'],
  },
  {
    id: 'snat-new/xdpnet',
    direction: 'snat-new',
    path: 'xdpnet',
    description: 'as snat/xdpnet, every frame a new connection (port claimed, both halves inserted) into a full connection table (LRU); Mpps = million connections/s',
    ingress: 'port',
    egress: 'ext',
    frame: greenToInternet,
    vary: NEW_FLOWS,
    delivered: { dstMac: RMAC.gateway, len: SNATTED.length, match: at(SNATTED, OFFSET.ipSrc) },
    program: async (p) => (await p.gatewayNew()).port,
    timeAlone: true,
    // Full from the start, as a busy gateway's: each new connection then evicts the least recently used entries.
    setup: async (s) => s.runAlone('snat-new/xdpnet', (await s.programs.gatewayNew()).conntrackCapacity()),
  },
  {
    id: 'snat-new/nftables',
    direction: 'snat-new',
    path: 'nftables',
    description: 'XDP_PASS on nvm: conntrack (new) → ip_forward → masquerade → next, into a full conntrack table (early drop); Mpps = million connections/s',
    ingress: 'nvm',
    egress: 'next',
    frame: greenToInternet,
    vary: NEW_FLOWS,
    delivered: { dstMac: RMAC.gateway, len: SNATTED.length, match: at(SNATTED, OFFSET.ipSrc) },
    program: (p) => p.pass(),
    timeAlone: false,
    setup: async (s) => s.offer('snat-new/nftables', Math.ceil((await s.kernelConntrackMax('masqnew')) * 1.05)),
  },
];

/** Every direction, in SCENARIOS order. */
export const DIRECTIONS: readonly string[] = [...new Set(SCENARIOS.map((s) => s.direction))];

export interface Comparison {
  direction: string;
  of: PathKind;
  against: PathKind;
  /** The target for of/against (rates); null: the issue asks for the number only. */
  atLeast: number | null;
}

/** The targets, per direction: encap/decap ≥ 0.8 of the floor and ≥ 5× the kernel, routing 0.8 and 2.5×, SNAT 0.7 and 4×. */
export const COMPARISONS: readonly Comparison[] = [
  { direction: 'encap', of: 'xdpnet', against: 'floor', atLeast: 0.8 },
  { direction: 'encap', of: 'xdpnet', against: 'kernel', atLeast: 5 },
  { direction: 'decap', of: 'xdpnet', against: 'floor', atLeast: 0.8 },
  { direction: 'decap', of: 'xdpnet', against: 'kernel', atLeast: 5 },
  { direction: 'routed', of: 'xdpnet', against: 'floor', atLeast: 0.8 },
  { direction: 'routed', of: 'xdpnet', against: 'kernel', atLeast: 2.5 },
  { direction: 'snat', of: 'xdpnet', against: 'floor', atLeast: 0.7 },
  { direction: 'snat', of: 'xdpnet', against: 'nftables', atLeast: 4 },
  { direction: 'rsnat', of: 'xdpnet', against: 'floor', atLeast: 0.7 },
  { direction: 'rsnat', of: 'xdpnet', against: 'nftables', atLeast: 4 },
  // New connections: the issue asks for the rate, with no target. No floor row of their
  // own (snat/floor's frames differ only in their ports, which it never reads).
  { direction: 'snat-new', of: 'xdpnet', against: 'nftables', atLeast: null },
];

/** The comparisons made within `direction`, in COMPARISONS order. */
export const comparisonsOf = (direction: string): Comparison[] => COMPARISONS.filter((c) => c.direction === direction);

/** A run's rows and the comparisons made between them. */
export interface ScenarioSet {
  scenarios: readonly Scenario[];
  comparisons: readonly Comparison[];
}

/**
 * The rows of a run, and with `otherBuild` (--compare-with: another build's
 * bpf/build directory) the same rows with that build's programs, interleaved
 * with ours in the same rounds: a change measured against its parent under
 * the same noise. After each of our rows comes `<direction>/other` (ours as
 * the other build compiled it), after each floor `<direction>/other-floor`.
 * The floor is the same program in both builds, so floor/other-floor is how
 * far apart one program's two rows come out in this run: an xdpnet/other
 * within that distance of 1 is noise. snat-new has no other row: its setup
 * fills its own program's connection table.
 */
export function withOtherBuild(otherBuild: string | null): ScenarioSet {
  if (otherBuild === null) return { scenarios: SCENARIOS, comparisons: COMPARISONS };
  const twin = (s: Scenario, path: 'other' | 'other-floor'): Scenario => ({
    ...s,
    id: `${s.direction}/${path}`,
    path,
    description: `${s.description} (the build in ${otherBuild})`,
    program: (p) => p.other(otherBuild, (o) => s.program(o)),
    setup: undefined,
    needs: undefined,
  });
  const scenarios = SCENARIOS.flatMap((s) => {
    if (s.path === 'xdpnet' && s.direction !== 'snat-new') return [s, twin(s, 'other')];
    if (s.path === 'floor') return [s, twin(s, 'other-floor')];
    return [s];
  });
  const directions = new Set(scenarios.filter((s) => s.path === 'other').map((s) => s.direction));
  const comparisons = COMPARISONS.flatMap((c): Comparison[] =>
    c.against === 'floor' && directions.has(c.direction)
      ? [
          { direction: c.direction, of: 'xdpnet', against: 'other', atLeast: null },
          { direction: c.direction, of: 'floor', against: 'other-floor', atLeast: null },
          c,
        ]
      : [c],
  );
  return { scenarios, comparisons };
}
