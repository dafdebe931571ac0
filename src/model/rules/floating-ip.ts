// Rules for floating IPs: the external address, the associated port and fixed
// IP, and the router that must connect them.

import { invalid, notFound, precondition, taken } from '../reject.js';
import type { ResourceIndex } from '../resource-index.js';
import type { FloatingIp } from '../types.js';
import { checkHostInSubnet, describeOwner, sameOwner } from './common.js';

/** p: "floating_ip" or "floating_ips[4]". The fixed IP default must be resolved already. */
export function checkFloatingIp(index: ResourceIndex, f: FloatingIp, p: string): void {
  const network = index.get('network', f.floatingNetworkId);
  if (!network) throw notFound(`${p}.floating_network_id`, `network ${f.floatingNetworkId} does not exist`);
  if (!network.external) {
    throw precondition(`${p}.floating_network_id`, `network ${f.floatingNetworkId} is not an external network (router:external)`);
  }
  const field = `${p}.floating_ip_address`;
  const subnet = index.subnetContaining(f.floatingNetworkId, f.floatingIpAddress);
  if (!subnet) throw invalid(field, `${f.floatingIpAddress} is not inside any subnet of external network ${f.floatingNetworkId}`);
  checkHostInSubnet(subnet, index.cidrOf(subnet.id)!, f.floatingIpAddress, field);
  if (f.floatingIpAddress === subnet.gatewayIp) {
    throw invalid(field, `${f.floatingIpAddress} is the gateway IP of external subnet ${subnet.id} (the upstream router)`);
  }
  const owner = index.ipOwner(subnet.id, f.floatingIpAddress);
  if (owner && !sameOwner(owner, { kind: 'floatingIp', id: f.id })) {
    throw taken(field, `${f.floatingIpAddress} is already used by ${describeOwner(owner)} in subnet ${subnet.id}`);
  }

  if (f.portId === null) return;
  const port = index.get('port', f.portId);
  if (!port) throw notFound(`${p}.port_id`, `port ${f.portId} does not exist`);
  const portNetwork = index.get('network', port.networkId);
  if (portNetwork?.external) {
    throw precondition(`${p}.port_id`, `port ${port.id} is on external network ${port.networkId}; a floating IP maps to a port on an internal network`);
  }
  const fixed = port.fixedIps.find((x) => x.ipAddress === f.fixedIpAddress);
  if (!fixed) {
    const has = port.fixedIps.map((x) => x.ipAddress).join(', ') || 'none';
    throw invalid(`${p}.fixed_ip_address`, `port ${port.id} has no fixed IP ${f.fixedIpAddress} (it has: ${has})`);
  }
  const holder = index.floatingIpFor(port.id, fixed.ipAddress);
  if (holder !== undefined && holder !== f.id) {
    throw taken(`${p}.fixed_ip_address`, `fixed IP ${fixed.ipAddress} of port ${port.id} is already mapped by floating IP ${holder}`);
  }
  const routerId = index.routerOnSubnet(fixed.subnetId);
  const router = routerId === undefined ? undefined : index.get('router', routerId);
  if (!router || router.externalGateway?.networkId !== f.floatingNetworkId) {
    const detail = router
      ? `router ${router.id} serves subnet ${fixed.subnetId} but its external gateway is ${router.externalGateway ? `on network ${router.externalGateway.networkId}` : 'not set'}`
      : `no router has an interface on subnet ${fixed.subnetId}`;
    throw precondition(`${p}.port_id`, `External network ${f.floatingNetworkId} is not reachable from subnet ${fixed.subnetId}: ${detail}`);
  }
}
