// The one overlay world every scenario works in: this node (VTEP 192.0.2.1)
// has a VM port on network VNI 100; the VM talks to a port behind the remote
// VTEP 192.0.2.2. Addresses are from documentation ranges and only ever
// exist inside the benchmark's namespaces.
//
// Frames are minimum-size (60 bytes, 64 on a wire with the FCS): per-packet
// cost is what an overlay switch is judged by, and small frames show it.

import { eth } from '../../test/helpers/frames.js';

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
