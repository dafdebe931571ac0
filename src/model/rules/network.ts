// Rules for networks: segmentation, physical network, MTU, name, and what a
// change of the external flag would break.

import { invalid, precondition, taken } from '../reject.js';
import type { ResourceIndex } from '../resource-index.js';
import { whyBadPhysicalNetwork } from '../syntax.js';
import type { Network } from '../types.js';
import { checkLength } from './common.js';

export const MAX_VNI = 16_777_215;
export const MAX_VLAN_ID = 4094;
export const MIN_MTU = 68;
export const MAX_MTU = 9000;

/** p: "network" or "networks[3]". `previous`: the stored version, on update. */
export function checkNetwork(index: ResourceIndex, n: Network, p: string, previous?: Network): void {
  checkLength(n.name, `${p}.name`);
  switch (n.type) {
    case 'vxlan': {
      if (n.segmentationId < 1 || n.segmentationId > MAX_VNI) {
        throw invalid(`${p}.segmentation_id`, `VXLAN network needs a VNI in 1..${MAX_VNI} (got ${n.segmentationId})`);
      }
      if (n.physicalNetwork !== null) {
        throw invalid(`${p}.physical_network`, 'must be empty for a VXLAN network (it is carried over the underlay, not a physical network)');
      }
      const holder = index.networkByVni(n.segmentationId);
      if (holder !== undefined && holder !== n.id) {
        throw taken(`${p}.segmentation_id`, `VNI ${n.segmentationId} is already used by network ${holder}`);
      }
      break;
    }
    case 'vlan': {
      if (n.segmentationId < 1 || n.segmentationId > MAX_VLAN_ID) {
        throw invalid(`${p}.segmentation_id`, `VLAN network needs a VLAN ID in 1..${MAX_VLAN_ID} (got ${n.segmentationId})`);
      }
      const physnet = requirePhysnet(n, p);
      const holder = index.networkByVlan(physnet, n.segmentationId);
      if (holder !== undefined && holder !== n.id) {
        throw taken(`${p}.segmentation_id`, `VLAN ${n.segmentationId} on physical network "${physnet}" is already used by network ${holder}`);
      }
      break;
    }
    case 'flat': {
      if (n.segmentationId !== 0) {
        throw invalid(`${p}.segmentation_id`, `must be 0 for a flat network (untagged); got ${n.segmentationId}`);
      }
      const physnet = requirePhysnet(n, p);
      const holder = index.flatNetworkOn(physnet);
      if (holder !== undefined && holder !== n.id) {
        throw taken(`${p}.physical_network`, `physical network "${physnet}" already carries flat network ${holder}; only one untagged network fits on it`);
      }
      break;
    }
  }
  if (n.mtu < MIN_MTU || n.mtu > MAX_MTU) {
    throw invalid(`${p}.mtu`, `must be in ${MIN_MTU}..${MAX_MTU} (got ${n.mtu}); 0 means the default`);
  }
  if (previous && previous.external !== n.external) checkExternalChange(index, n, p);
}

function requirePhysnet(n: Network, p: string): string {
  if (n.physicalNetwork === null) {
    throw invalid(`${p}.physical_network`, `is required for a ${n.type} network (the name each node maps to an interface)`);
  }
  const why = whyBadPhysicalNetwork(n.physicalNetwork);
  if (why) throw invalid(`${p}.physical_network`, why);
  return n.physicalNetwork;
}

/** Turning external off while it serves gateways/floating IPs, or on while it is routed or holds mapped ports. */
function checkExternalChange(index: ResourceIndex, n: Network, p: string): void {
  if (!n.external) {
    const [router] = index.routersWithGatewayOn(n.id);
    if (router !== undefined) {
      throw precondition(`${p}.external`, `network ${n.id} is the external gateway network of router ${router}; clear that gateway first`);
    }
    const [fip] = index.floatingIpsOnNetwork(n.id);
    if (fip !== undefined) throw precondition(`${p}.external`, `network ${n.id} holds floating IP ${fip}; delete it first`);
    return;
  }
  for (const subnetId of index.subnetsOf(n.id)) {
    const router = index.routerOnSubnet(subnetId);
    if (router !== undefined) {
      throw precondition(`${p}.external`, `router ${router} has an interface on subnet ${subnetId} of this network; an external network is reached through router gateways, not interfaces`);
    }
    const [fip] = index.floatingIpsViaSubnet(subnetId);
    if (fip !== undefined) {
      throw precondition(`${p}.external`, `floating IP ${fip} maps to a port on this network; floating IPs map to ports on internal networks only`);
    }
  }
}
