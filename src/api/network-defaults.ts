// The one network default that depends on the node: a VXLAN network's MTU.
//
// A VXLAN frame carries 50 bytes of outer headers (Ethernet 14, IPv4 20, UDP
// 8, VXLAN 8), so the largest inner IPv4 packet that fits the underlay is its
// MTU minus 50. Like Neutron (global_physnet_mtu), the default is resolved
// when the network is created and stored, so a later change of the underlay
// does not silently change existing networks. The model's own default (1450,
// for a 1500-byte underlay) applies only where no node is involved.

import type { Network } from '../model/types.js';

/** Outer Ethernet + IPv4 + UDP + VXLAN. */
export const VXLAN_OVERHEAD = 50;

export interface NetworkDefaults {
  /** MTU given to a VXLAN network created with mtu 0. */
  vxlanMtu: number;
}

export const networkDefaultsFor = (underlayMtu: number): NetworkDefaults => ({ vxlanMtu: underlayMtu - VXLAN_OVERHEAD });

/** The network with mtu 0 ("the default") resolved for a VXLAN network; others as they are. */
export function withNetworkDefaults(network: Network, defaults: NetworkDefaults): Network {
  return network.type === 'vxlan' && network.mtu === 0 ? { ...network, mtu: defaults.vxlanMtu } : network;
}
