// Rules for subnets: the CIDR, the gateway, overlap within the network, DNS
// servers and host routes.

import { type Cidr, broadcastAddress, cidrContains, cidrsOverlap, formatCidr, whyNotUnicastHost } from '../ipv4.js';
import { parsedCidrAt } from '../normalize.js';
import { invalid, notFound, taken } from '../reject.js';
import type { ResourceIndex } from '../resource-index.js';
import type { Subnet } from '../types.js';
import { checkHostInSubnet, checkLength, describeOwner, ipNum } from './common.js';

/** /31 and /32 leave no room for network + broadcast + gateway + a host. */
export const MAX_SUBNET_PREFIX = 30;

/** p: "subnet" or "subnets[3]". */
export function checkSubnet(index: ResourceIndex, s: Subnet, p: string): void {
  checkLength(s.name, `${p}.name`);
  const network = index.get('network', s.networkId);
  if (!network) throw notFound(`${p}.network_id`, `network ${s.networkId} does not exist`);
  const cidr = parsedCidrAt(s.cidr, `${p}.cidr`);
  if (cidr.prefix > MAX_SUBNET_PREFIX) {
    throw invalid(
      `${p}.cidr`,
      `/${cidr.prefix} is too small: a subnet needs a network address, a broadcast address, a gateway and at least one host, so the prefix must be /${MAX_SUBNET_PREFIX} or shorter`,
    );
  }
  for (const otherId of index.subnetsOf(s.networkId)) {
    if (otherId === s.id) continue;
    const other = index.cidrOf(otherId);
    if (other && cidrsOverlap(cidr, other)) {
      throw taken(
        `${p}.cidr`,
        `${s.cidr} overlaps subnet ${otherId} (${formatCidr(other)}) of the same network ${s.networkId}; subnets of one network may not overlap (other networks may reuse it)`,
      );
    }
  }
  if (s.gatewayIp !== null) checkGateway(index, s, cidr, `${p}.gateway_ip`);

  const seenDns = new Set<string>();
  s.dnsNameservers.forEach((dns, i) => {
    const field = `${p}.dns_nameservers[${i}]`;
    const why = whyNotUnicastHost(ipNum(dns));
    if (why) throw invalid(field, `${why}; a DNS server must be a unicast host address`);
    if (seenDns.has(dns)) throw invalid(field, `${dns} is listed twice`);
    seenDns.add(dns);
  });

  const seenRoutes = new Set<string>();
  s.hostRoutes.forEach((r, i) => {
    const q = `${p}.host_routes[${i}]`;
    if (seenRoutes.has(r.destination)) throw invalid(`${q}.destination`, `${r.destination} has more than one host route`);
    seenRoutes.add(r.destination);
    const hop = ipNum(r.nexthop);
    if (!cidrContains(cidr, hop)) {
      throw invalid(`${q}.nexthop`, `${r.nexthop} is not inside the subnet ${s.cidr}: a host route's next hop must be directly reachable`);
    }
    if (hop === cidr.base || hop === broadcastAddress(cidr)) {
      throw invalid(`${q}.nexthop`, `${r.nexthop} is the network or broadcast address of ${s.cidr}`);
    }
  });
}

/**
 * The gateway must be a host address of the subnet that nobody else holds.
 * The router interface attached to this subnet may hold it: that is what a
 * gateway is.
 */
function checkGateway(index: ResourceIndex, s: Subnet, cidr: Cidr, field: string): void {
  const gw = s.gatewayIp as string;
  checkHostInSubnet(s, cidr, gw, field);
  const owner = index.ipOwner(s.id, gw);
  if (owner && !(owner.kind === 'routerInterface' && index.routerOnSubnet(s.id) === owner.id)) {
    throw taken(field, `${gw} is already used by ${describeOwner(owner)} in subnet ${s.id}`);
  }
}
