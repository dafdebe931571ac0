// Rules for routers: interfaces, static routes, the external gateway.

import { broadcastAddress, cidrContains, whyNotUnicastHost } from '../ipv4.js';
import { invalid, notFound, precondition, taken } from '../reject.js';
import type { ResourceIndex } from '../resource-index.js';
import type { ExternalGateway, Router, RouterInterface } from '../types.js';
import { checkHostInSubnet, checkLength, describeOwner, ipNum } from './common.js';

/** Field paths of one interface: inside a router ("router.interfaces[0].…") or of a request ("subnet_id"). */
export interface InterfaceFields {
  subnet: string;
  ip: string;
}

/** p: "router" or "routers[2]". Interfaces must have their IPs resolved already. */
export function checkRouter(index: ResourceIndex, r: Router, p: string): void {
  checkLength(r.name, `${p}.name`);
  r.interfaces.forEach((iface, i) => {
    const q = `${p}.interfaces[${i}]`;
    checkInterface(index, r.id, iface, r.interfaces.slice(0, i), { subnet: `${q}.subnet_id`, ip: `${q}.ip_address` });
  });
  checkRoutes(index, r, p);
  if (r.externalGateway) checkExternalGateway(index, r.id, r.externalGateway, `${p}.external_gateway`);
}

/**
 * One interface of router `routerId`, next to `others` (the router's other
 * interfaces): the subnet exists, is internal, is attached to no other router,
 * is this router's only interface on its network; the IP is a free host
 * address of the subnet (its gateway IP included).
 */
export function checkInterface(
  index: ResourceIndex,
  routerId: string,
  iface: RouterInterface,
  others: readonly RouterInterface[],
  f: InterfaceFields,
): void {
  const subnet = index.get('subnet', iface.subnetId);
  if (!subnet) throw notFound(f.subnet, `subnet ${iface.subnetId} does not exist`);
  const network = index.get('network', subnet.networkId);
  if (network?.external) {
    throw precondition(
      f.subnet,
      `subnet ${subnet.id} is on external network ${network.id}; a router reaches an external network through its external gateway (SetRouterGateway), not an interface`,
    );
  }
  const attached = index.routerOnSubnet(subnet.id);
  if (attached !== undefined && attached !== routerId) {
    throw taken(f.subnet, `subnet ${subnet.id} is already attached to router ${attached}; a subnet has at most one router`);
  }
  for (const other of others) {
    if (other.subnetId === subnet.id) throw taken(f.subnet, `router ${routerId} already has an interface on subnet ${subnet.id}`);
    const otherSubnet = index.get('subnet', other.subnetId);
    if (otherSubnet?.networkId === subnet.networkId) {
      throw taken(
        f.subnet,
        `router ${routerId} already has an interface on network ${subnet.networkId} (subnet ${other.subnetId}); one interface per network per router`,
      );
    }
  }
  checkHostInSubnet(subnet, index.cidrOf(subnet.id)!, iface.ipAddress, f.ip);
  const owner = index.ipOwner(subnet.id, iface.ipAddress);
  if (owner && !(owner.kind === 'routerInterface' && owner.id === routerId)) {
    throw taken(f.ip, `${iface.ipAddress} is already used by ${describeOwner(owner)} in subnet ${subnet.id}`);
  }
}

/** Static routes: one next hop per destination, each next hop a neighbour on an attached subnet. */
export function checkRoutes(index: ResourceIndex, r: Router, p: string): void {
  const seen = new Set<string>();
  r.routes.forEach((route, i) => {
    const q = `${p}.routes[${i}]`;
    if (seen.has(route.destination)) {
      throw invalid(`${q}.destination`, `${route.destination} has more than one route; a router has one next hop per destination`);
    }
    seen.add(route.destination);
    const hop = ipNum(route.nexthop);
    const via = r.interfaces.find((iface) => {
      const cidr = index.cidrOf(iface.subnetId);
      return cidr !== undefined && cidrContains(cidr, hop);
    });
    if (!via) {
      const attached = r.interfaces.map((iface) => index.get('subnet', iface.subnetId)?.cidr ?? iface.subnetId);
      throw invalid(
        `${q}.nexthop`,
        `${route.nexthop} is not inside any subnet attached to router ${r.id} (attached: ${attached.length ? attached.join(', ') : 'none'})`,
      );
    }
    const cidr = index.cidrOf(via.subnetId)!;
    if (hop === cidr.base || hop === broadcastAddress(cidr)) {
      throw invalid(`${q}.nexthop`, `${route.nexthop} is the network or broadcast address of subnet ${via.subnetId}`);
    }
    if (route.nexthop === via.ipAddress) throw invalid(`${q}.nexthop`, `${route.nexthop} is router ${r.id}'s own interface address`);
  });
}

/** p: the gateway's own path, "router.external_gateway" or "external_gateway". */
export function checkExternalGateway(index: ResourceIndex, routerId: string, gw: ExternalGateway, p: string): void {
  const network = index.get('network', gw.networkId);
  if (!network) throw notFound(`${p}.network_id`, `network ${gw.networkId} does not exist`);
  if (!network.external) throw precondition(`${p}.network_id`, `network ${gw.networkId} is not an external network (router:external)`);
  const subnet = index.subnetContaining(gw.networkId, gw.ipAddress);
  if (!subnet) throw invalid(`${p}.ip_address`, `${gw.ipAddress} is not inside any subnet of external network ${gw.networkId}`);
  checkHostInSubnet(subnet, index.cidrOf(subnet.id)!, gw.ipAddress, `${p}.ip_address`);
  if (gw.ipAddress === subnet.gatewayIp) {
    throw invalid(`${p}.ip_address`, `${gw.ipAddress} is the gateway IP of external subnet ${subnet.id} (the upstream router)`);
  }
  const owner = index.ipOwner(subnet.id, gw.ipAddress);
  if (owner && !(owner.kind === 'routerGateway' && owner.id === routerId)) {
    throw taken(`${p}.ip_address`, `${gw.ipAddress} is already used by ${describeOwner(owner)} in subnet ${subnet.id}`);
  }
  const why = whyNotUnicastHost(ipNum(gw.gatewayNodeVtepIp));
  if (why) throw invalid(`${p}.gateway_node_vtep_ip`, `${why}; the gateway node's VTEP must be a unicast host address`);
}
