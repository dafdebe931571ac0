// What may not go away while something still relies on it. Each check names
// one thing that still refers (enough to act on) and how many there are.

import { cidrContains } from '../ipv4.js';
import { precondition } from '../reject.js';
import type { ResourceIndex } from '../resource-index.js';
import type { Router } from '../types.js';
import { describeOwner, ipNum } from './common.js';

function first<T>(set: Iterable<T>): T | undefined {
  for (const x of set) return x;
  return undefined;
}

function andMore(size: number): string {
  return size > 1 ? ` (and ${size - 1} more)` : '';
}

export function checkNetworkDeletable(index: ResourceIndex, id: string, field: string): void {
  const routers = index.routersWithGatewayOn(id);
  const router = first(routers);
  if (router !== undefined) {
    throw precondition(field, `network ${id} is the external gateway network of router ${router}${andMore(routers.size)}; clear the gateway first`);
  }
  const fips = index.floatingIpsOnNetwork(id);
  const fip = first(fips);
  if (fip !== undefined) throw precondition(field, `network ${id} holds floating IP ${fip}${andMore(fips.size)}; delete it first`);
  const subnets = index.subnetsOf(id);
  const subnet = first(subnets);
  if (subnet !== undefined) throw precondition(field, `network ${id} still has subnet ${subnet}${andMore(subnets.size)}; delete it first`);
  const ports = index.portsOf(id);
  const port = first(ports);
  if (port !== undefined) throw precondition(field, `network ${id} still has port ${port}${andMore(ports.size)}; delete it first`);
}

export function checkSubnetDeletable(index: ResourceIndex, id: string, field: string): void {
  const router = index.routerOnSubnet(id);
  if (router !== undefined) throw precondition(field, `subnet ${id} is attached to router ${router}; remove the router interface first`);
  const owners = index.ipOwnersIn(id);
  const holder = first(owners);
  if (holder !== undefined) {
    const [ip, owner] = holder;
    throw precondition(field, `subnet ${id} still has address ${ip} in use by ${describeOwner(owner)}${andMore(owners.size)}`);
  }
}

export function checkPortDeletable(index: ResourceIndex, id: string, field: string): void {
  const fips = index.floatingIpsOfPort(id);
  const fip = first(fips);
  if (fip !== undefined) throw precondition(field, `port ${id} is associated with floating IP ${fip}${andMore(fips.size)}; disassociate it first`);
}

export function checkRouterDeletable(index: ResourceIndex, router: Router, field: string): void {
  const iface = router.interfaces[0];
  if (iface) {
    throw precondition(
      field,
      `router ${router.id} still has an interface on subnet ${iface.subnetId}${andMore(router.interfaces.length)}; remove its interfaces first`,
    );
  }
  if (router.externalGateway) checkGatewayNotRelied(index, router, field);
}

/** Removing the interface on `subnetId`: no static route may need it as next hop, no floating IP may ride on it. */
export function checkInterfaceRemovable(index: ResourceIndex, router: Router, subnetId: string, field: string): void {
  const cidr = index.cidrOf(subnetId);
  const route = cidr ? router.routes.find((r) => cidrContains(cidr, ipNum(r.nexthop))) : undefined;
  if (route) {
    throw precondition(
      field,
      `static route ${route.destination} via ${route.nexthop} of router ${router.id} needs the interface on subnet ${subnetId}; remove the route first`,
    );
  }
  const gw = router.externalGateway;
  if (!gw) return;
  for (const fipId of index.floatingIpsViaSubnet(subnetId)) {
    const fip = index.get('floatingIp', fipId);
    if (fip?.floatingNetworkId === gw.networkId) {
      throw precondition(
        field,
        `floating IP ${fip.id} (${fip.floatingIpAddress}) maps to a port on subnet ${subnetId} through router ${router.id}; disassociate it first`,
      );
    }
  }
}

/** Clearing (or moving) the external gateway: no floating IP may rely on this router. */
export function checkGatewayNotRelied(index: ResourceIndex, router: Router, field: string): void {
  const gw = router.externalGateway;
  if (!gw) return;
  for (const iface of router.interfaces) {
    for (const fipId of index.floatingIpsViaSubnet(iface.subnetId)) {
      const fip = index.get('floatingIp', fipId);
      if (fip?.floatingNetworkId === gw.networkId) {
        throw precondition(
          field,
          `floating IP ${fip.id} (${fip.floatingIpAddress}) on network ${gw.networkId} relies on router ${router.id}'s gateway; disassociate it first`,
        );
      }
    }
  }
}
