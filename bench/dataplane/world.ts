// The worlds the scenarios work in. Addresses are from documentation ranges
// (and 10/8) and only ever exist inside the benchmark's namespaces.
//
// Overlay (encap, decap): this node (VTEP 192.0.2.1) has a VM port on
// network VNI 100; the VM talks to a port behind the remote VTEP 192.0.2.2.
//
// Routing and NAT (routed, snat, rsnat, snat-new), below: router R with two
// tenant networks, green (VNI 10, 10.1.0.0/24, the VM 10.1.0.11 on our VM
// port) and orange (VNI 20, 10.2.0.0/24, the VM 10.2.0.12 on a second port of
// this node), and an external gateway whose node is this one: external IP
// 203.0.113.10 on the flat external network 203.0.113.0/24 (gateway
// 203.0.113.1), reached through the external NIC. The internet peer is
// 198.51.100.7.
//
// Frames are minimum-size (60 bytes, 64 on a wire with the FCS): per-packet
// cost is what an overlay switch is judged by, and small frames show it.

import { eth } from '../../test/helpers/frames.js';
import { routerMac } from '../../src/reconciler/router-mac.js';

export const VNI = 100;
export const VTEP_IP = '192.0.2.1';
export const REMOTE_VTEP_IP = '192.0.2.2';
export const UNDERLAY_PREFIX_LEN = 24;
export const NETWORK_MTU = 1450;
export const UNDERLAY_MTU = 1500;
/** Outer Ethernet + IPv4 + UDP + VXLAN. */
export const VXLAN_OVERHEAD = 50;

export const MAC = {
  /** The VM behind our port. */
  vm: '02:00:00:00:01:01',
  /** The port behind the remote VTEP. */
  remote: '02:00:00:00:02:01',
  /** Our underlay interfaces (both paths'). */
  underlay: '02:00:00:00:ff:01',
  /** The remote VTEP's (on-link next hop). */
  nexthop: '02:00:00:00:ff:02',
} as const;

export const IP = { vm: '10.0.0.11', remote: '10.0.0.21' } as const;

/** The VM port's slot in xdpnet_port_stats (any but 0, which counts nothing). */
export const PORT_STATS_SLOT = 1;

/** UDP payload that makes a 60-byte frame: 14 + 20 + 8 + 18. */
const PAYLOAD = 18;

/** What the VM sends to the remote port (encapsulation direction). */
export function vmFrame(): Buffer {
  return eth({ src: MAC.vm, dst: MAC.remote })
    .ipv4({ src: IP.vm, dst: IP.remote })
    .udp({ sport: 40000, dport: 5201 })
    .payload(PAYLOAD)
    .build();
}

/** The remote port's reply as the VM must get it. */
export function remoteFrame(): Buffer {
  return eth({ src: MAC.remote, dst: MAC.vm })
    .ipv4({ src: IP.remote, dst: IP.vm })
    .udp({ sport: 5201, dport: 40000 })
    .payload(PAYLOAD)
    .build();
}

/** remoteFrame() as the remote VTEP sends it to us (decapsulation direction). */
export function underlayFrame(): Buffer {
  return eth({ src: MAC.nexthop, dst: MAC.underlay })
    .ipv4({ src: REMOTE_VTEP_IP, dst: VTEP_IP })
    .udp({ sport: 54321, dport: 4789, checksum: 0 })
    .vxlan({ vni: VNI })
    .payload(remoteFrame())
    .build();
}

// ---------------------------------------------------------------------------
// Routing and NAT

export const ROUTER_ID = '00000000-0000-4000-8000-00000000a001';
export const GREEN = 10;
export const ORANGE = 20;
export const ROUTED_MTU = 1450;
export const EXTERNAL_MTU = 1500;

export const RMAC = {
  /** The router's, on every network it is on (routerMac of its id, as the daemon derives it). */
  router: routerMac(ROUTER_ID),
  /** The VM on green, behind our VM port. */
  green: '02:00:00:00:10:11',
  /** The VM on orange, behind the second port. */
  orange: '02:00:00:00:20:12',
  /** The external NICs (ours and the kernel gateways'). */
  ext: '02:00:00:00:ee:ff',
  /** The external subnet's gateway. */
  gateway: '02:00:00:00:ee:01',
} as const;

export const RIP = {
  green: '10.1.0.11',
  greenRouter: '10.1.0.1',
  orange: '10.2.0.12',
  orangeRouter: '10.2.0.1',
  external: '203.0.113.10',
  gateway: '203.0.113.1',
  remote: '198.51.100.7',
} as const;
export const ROUTED_PREFIX_LEN = 24;
export const EXTERNAL_PREFIX_LEN = 24;

/** The flow SNAT scenarios carry: the VM's port, kept by both NATs as the external port (nothing else holds it). */
export const NAT_FLOW = { vmPort: 40000, remotePort: 5201, externalPort: 40000 } as const;

/** Offsets in a 60-byte untagged IPv4/UDP frame. */
export const OFFSET = { ttl: 22, ipSrc: 26, ipDst: 30, udpSrcPort: 34, udpChecksum: 40 } as const;

const udpFrame = (l2: { src: string; dst: string }, l3: { src: string; dst: string; ttl?: number }, sport: number, dport: number): Buffer =>
  eth(l2).ipv4(l3).udp({ sport, dport }).payload(PAYLOAD).build();

/** The green VM to the orange VM, through the router (routed direction). */
export const greenToOrange = (): Buffer =>
  udpFrame({ src: RMAC.green, dst: RMAC.router }, { src: RIP.green, dst: RIP.orange }, NAT_FLOW.vmPort, NAT_FLOW.remotePort);

/** greenToOrange() as routed: TTL one lower, from the router's MAC to the orange VM's. */
export const greenToOrangeRouted = (): Buffer =>
  udpFrame({ src: RMAC.router, dst: RMAC.orange }, { src: RIP.green, dst: RIP.orange, ttl: 63 }, NAT_FLOW.vmPort, NAT_FLOW.remotePort);

/** The green VM to the internet peer, through the router's external gateway (SNAT direction). */
export const greenToInternet = (): Buffer =>
  udpFrame({ src: RMAC.green, dst: RMAC.router }, { src: RIP.green, dst: RIP.remote }, NAT_FLOW.vmPort, NAT_FLOW.remotePort);

/** greenToInternet() as SNAT sends it out of the external NIC. */
export const greenToInternetSnatted = (): Buffer =>
  udpFrame({ src: RMAC.ext, dst: RMAC.gateway }, { src: RIP.external, dst: RIP.remote, ttl: 63 }, NAT_FLOW.externalPort, NAT_FLOW.remotePort);

/** The peer's reply to the external IP, arriving from the gateway (reverse SNAT direction). */
export const internetToExternal = (): Buffer =>
  udpFrame({ src: RMAC.gateway, dst: RMAC.ext }, { src: RIP.remote, dst: RIP.external }, NAT_FLOW.remotePort, NAT_FLOW.externalPort);

/** internetToExternal() translated back and delivered to the green VM. */
export const internetToGreen = (): Buffer =>
  udpFrame({ src: RMAC.router, dst: RMAC.green }, { src: RIP.remote, dst: RIP.green, ttl: 63 }, NAT_FLOW.remotePort, NAT_FLOW.vmPort);
