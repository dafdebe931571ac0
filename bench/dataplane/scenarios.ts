// The scenarios: one row per (direction, path). Each offers the same frames
// of its direction to a different forwarder and counts what the far end gets.
//
// A direction groups the rows that are compared with each other (COMPARISONS
// below); a later direction (routed east-west, SNAT to the external network)
// is new rows with its own frames, plus whatever topology.ts must add for
// its kernel path.

import type { BpfProgram } from '../../src/dataplane/index.js';
import type { Programs } from './programs.js';
import type { LinkName } from './topology.js';
import { MAC, VXLAN_OVERHEAD, remoteFrame, underlayFrame, vmFrame } from './world.js';

/** Who forwards: ours, the least any XDP forwarder does, or the kernel as Neutron's linuxbridge agent sets it up. */
export type PathKind = 'xdpnet' | 'floor' | 'kernel';

export interface Scenario {
  /** `<direction>/<path>`. */
  id: string;
  direction: string;
  path: PathKind;
  description: string;
  /** Node-side interface the frames arrive on. */
  ingress: LinkName;
  /** Node-side interface they must leave by (the sink is on its peer). */
  egress: LinkName;
  /** The frame offered. */
  frame: () => Buffer;
  /** The frame the sink must see for each one offered. */
  delivered: { dstMac: string; len: number };
  /** The program the generator tail-calls. */
  program: (programs: Programs) => Promise<BpfProgram>;
  /** Time the chain alone without live frames too (nothing in it needs the stack). */
  timeAlone: boolean;
}

const ENCAP_IN = vmFrame().length;
const DECAP_OUT = remoteFrame().length;

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
];

export interface Comparison {
  of: PathKind;
  against: PathKind;
  /** The target for of/against (rates). */
  atLeast: number;
}

/** Made within every direction that has both paths. */
export const COMPARISONS: readonly Comparison[] = [
  { of: 'xdpnet', against: 'floor', atLeast: 0.8 },
  { of: 'xdpnet', against: 'kernel', atLeast: 5 },
];
