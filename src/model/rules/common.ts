// Helpers shared by the rules: names, addresses inside subnets, describing
// who holds an address.

import { type Cidr, broadcastAddress, cidrContains, formatCidr, parseIpv4 } from '../ipv4.js';
import { invalid } from '../reject.js';
import type { IpOwner } from '../resource-index.js';
import { MAX_NAME_LENGTH } from '../syntax.js';
import type { Subnet } from '../types.js';

export function checkLength(value: string, field: string, max = MAX_NAME_LENGTH): void {
  if (value.length > max) throw invalid(field, `is ${value.length} characters long; at most ${max} are allowed`);
}

/** The uint32 of a canonical address (normalize has already checked it). */
export function ipNum(ip: string): number {
  const r = parseIpv4(ip);
  if (!r.ok) throw new Error(`internal: ${ip} is not canonical IPv4 (${r.reason})`);
  return r.value;
}

/**
 * `ip` must be a usable host address of the subnet: inside its CIDR and
 * neither the network nor the broadcast address.
 */
export function checkHostInSubnet(subnet: Subnet, cidr: Cidr, ip: string, field: string): void {
  const n = ipNum(ip);
  if (!cidrContains(cidr, n)) throw invalid(field, `${ip} is not inside subnet ${subnet.id} (${formatCidr(cidr)})`);
  if (n === cidr.base) throw invalid(field, `${ip} is the network address of subnet ${subnet.id} (${formatCidr(cidr)}), not a host address`);
  if (n === broadcastAddress(cidr)) {
    throw invalid(field, `${ip} is the broadcast address of subnet ${subnet.id} (${formatCidr(cidr)}), not a host address`);
  }
}

export function describeOwner(owner: IpOwner): string {
  switch (owner.kind) {
    case 'port':
      return `port ${owner.id}`;
    case 'routerInterface':
      return `an interface of router ${owner.id}`;
    case 'routerGateway':
      return `the external gateway of router ${owner.id}`;
    case 'floatingIp':
      return `floating IP ${owner.id}`;
  }
}

export function sameOwner(a: IpOwner, b: IpOwner): boolean {
  return a.kind === b.kind && a.id === b.id;
}
