// Rules for ports: network, MAC, fixed IPs, binding, allowed address pairs,
// security groups, and what a change of fixed IPs would break.

import { whyNotUnicastHost } from '../ipv4.js';
import { invalid, notFound, precondition, taken } from '../reject.js';
import type { ResourceIndex } from '../resource-index.js';
import { whyBadInterfaceName } from '../syntax.js';
import type { Port } from '../types.js';
import { checkHostInSubnet, checkLength, describeOwner, ipNum, sameOwner } from './common.js';

/** p: "port" or "ports[12]". `previous`: the stored version, on update. */
export function checkPort(index: ResourceIndex, port: Port, p: string, previous?: Port): void {
  checkLength(port.name, `${p}.name`);
  checkLength(port.deviceOwner, `${p}.device_owner`);
  const network = index.get('network', port.networkId);
  if (!network) throw notFound(`${p}.network_id`, `network ${port.networkId} does not exist`);

  const macHolder = index.portWithMac(port.networkId, port.macAddress);
  if (macHolder !== undefined && macHolder !== port.id) {
    throw taken(`${p}.mac_address`, `${port.macAddress} is already used by port ${macHolder} on network ${port.networkId}`);
  }

  const self = { kind: 'port', id: port.id } as const;
  const seen = new Set<string>();
  port.fixedIps.forEach((f, i) => {
    const q = `${p}.fixed_ips[${i}]`;
    const subnet = index.get('subnet', f.subnetId);
    if (!subnet) throw notFound(`${q}.subnet_id`, `subnet ${f.subnetId} does not exist`);
    if (subnet.networkId !== port.networkId) {
      throw invalid(`${q}.subnet_id`, `subnet ${f.subnetId} belongs to network ${subnet.networkId}, not to the port's network ${port.networkId}`);
    }
    checkHostInSubnet(subnet, index.cidrOf(subnet.id)!, f.ipAddress, `${q}.ip_address`);
    if (f.ipAddress === subnet.gatewayIp) {
      throw invalid(`${q}.ip_address`, `${f.ipAddress} is the gateway IP of subnet ${subnet.id}, reserved for its router`);
    }
    if (seen.has(f.ipAddress)) throw invalid(`${q}.ip_address`, `${f.ipAddress} is listed twice on this port`);
    seen.add(f.ipAddress);
    const owner = index.ipOwner(f.subnetId, f.ipAddress);
    if (owner && !sameOwner(owner, self)) {
      throw taken(`${q}.ip_address`, `${f.ipAddress} is already used by ${describeOwner(owner)} in subnet ${f.subnetId}`);
    }
  });

  const b = port.binding;
  if (b.kind === 'local') {
    const field = `${p}.local.interface_name`;
    const why = whyBadInterfaceName(b.interfaceName);
    if (why) throw invalid(field, why);
    const holder = index.portOnInterface(b.interfaceName);
    if (holder !== undefined && holder !== port.id) {
      throw taken(field, `interface ${b.interfaceName} is already bound to port ${holder}`);
    }
  } else if (b.kind === 'remote') {
    const why = whyNotUnicastHost(ipNum(b.vtepIp));
    if (why) throw invalid(`${p}.remote.vtep_ip`, `${why}; a VTEP must be a unicast host address`);
  }

  const pairs = new Set<string>();
  port.allowedAddressPairs.forEach((a, i) => {
    const key = `${a.ipAddress}|${a.macAddress ?? ''}`;
    if (pairs.has(key)) throw invalid(`${p}.allowed_address_pairs[${i}]`, `the pair ${a.ipAddress} ${a.macAddress ?? '(port MAC)'} is listed twice`);
    pairs.add(key);
  });

  const groups = new Set<string>();
  port.securityGroupIds.forEach((g, i) => {
    if (groups.has(g)) throw invalid(`${p}.security_group_ids[${i}]`, `security group ${g} is listed twice`);
    groups.add(g);
  });

  if (previous) checkMappedFixedIpsKept(index, port, p);
}

/** A floating IP maps to one of the port's fixed IPs: that IP may not go away under it. */
function checkMappedFixedIpsKept(index: ResourceIndex, port: Port, p: string): void {
  for (const fipId of index.floatingIpsOfPort(port.id)) {
    const fip = index.get('floatingIp', fipId);
    if (fip?.fixedIpAddress && !port.fixedIps.some((f) => f.ipAddress === fip.fixedIpAddress)) {
      throw precondition(
        `${p}.fixed_ips`,
        `floating IP ${fip.id} (${fip.floatingIpAddress}) maps to fixed IP ${fip.fixedIpAddress} of this port; disassociate it before removing that address`,
      );
    }
  }
}
