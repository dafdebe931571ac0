// Canonical form and defaults.
//
// normalizeX(input, path) turns what the API layer hands over into the form
// that is stored and compared: lower-case UUIDs and MACs, canonical IPv4 text,
// null (never "" or undefined) for absent optionals, resolved self-contained
// defaults (mtu 0 → 1450 VXLAN / 1500 otherwise; gateway "" → first host). It
// refuses (INVALID_ARGUMENT) only what cannot be put in canonical form: wrong
// JSON types, malformed UUIDs, MACs, addresses, CIDRs. The rules proper are in
// rules/. Normalising a normalised resource returns an equal one.
//
// Two defaults depend on other resources and are resolved against an index:
// a router interface's IP (the subnet's gateway) and a floating IP's fixed IP
// (the port's first fixed IP): resolveInterfaceIp, resolveFloatingIpDefaults.

import { type Cidr, firstHost, formatCidr, formatIpv4, parseCidr, parseIpv4 } from './ipv4.js';
import { invalid, notFound } from './reject.js';
import type { ResourceIndex } from './resource-index.js';
import { parseUnicastMac, parseUuid } from './syntax.js';
import type {
  AllowedAddressPair,
  ExternalGateway,
  FixedIp,
  FloatingIp,
  HostRoute,
  Network,
  NetworkType,
  Port,
  PortBinding,
  Router,
  RouterInterface,
  StaticRoute,
  Subnet,
} from './types.js';

export const DEFAULT_MTU_VXLAN = 1450;
export const DEFAULT_MTU_OTHER = 1500;

const NETWORK_TYPES: readonly NetworkType[] = ['vxlan', 'flat', 'vlan'];

// ------------------------------------------------------------------ primitives

export function uuidAt(value: unknown, field: string): string {
  const r = parseUuid(value);
  if (!r.ok) throw invalid(field, r.reason);
  return r.value;
}

export function ipAt(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string (an IPv4 address)');
  const r = parseIpv4(value);
  if (!r.ok) throw invalid(field, r.reason);
  return formatIpv4(r.value);
}

export function cidrAt(value: unknown, field: string): string {
  return formatCidr(parsedCidrAt(value, field));
}

export function parsedCidrAt(value: unknown, field: string): Cidr {
  if (typeof value !== 'string') throw invalid(field, 'must be a string (a CIDR)');
  const r = parseCidr(value);
  if (!r.ok) throw invalid(field, r.reason);
  return r.value;
}

function macAt(value: unknown, field: string): string {
  const r = parseUnicastMac(value);
  if (!r.ok) throw invalid(field, r.reason);
  return r.value;
}

function strAt(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  return value;
}

function boolAt(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(field, 'must be true or false');
  return value;
}

function uintAt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalid(field, 'must be a whole number ≥ 0');
  return value;
}

function listAt<T>(value: unknown, field: string): readonly T[] {
  if (!Array.isArray(value)) throw invalid(field, 'must be a list');
  return value as T[];
}

function objAt(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'must be an object');
  return value as Record<string, unknown>;
}

/** "" and null both mean absent. */
function optional(value: unknown): unknown {
  return value === '' || value === undefined ? null : value;
}

// ------------------------------------------------------------------ resources

export function defaultMtu(type: NetworkType): number {
  return type === 'vxlan' ? DEFAULT_MTU_VXLAN : DEFAULT_MTU_OTHER;
}

export function normalizeNetwork(input: Network, p: string): Network {
  const n = objAt(input, p);
  const type = n.type as NetworkType;
  if (!NETWORK_TYPES.includes(type)) throw invalid(`${p}.type`, `must be vxlan, flat or vlan (got ${JSON.stringify(n.type)})`);
  const physicalNetwork = optional(n.physicalNetwork);
  const mtu = uintAt(n.mtu, `${p}.mtu`);
  return {
    id: uuidAt(n.id, `${p}.id`),
    name: strAt(n.name, `${p}.name`),
    type,
    segmentationId: uintAt(n.segmentationId, `${p}.segmentation_id`),
    physicalNetwork: physicalNetwork === null ? null : strAt(physicalNetwork, `${p}.physical_network`),
    mtu: mtu === 0 ? defaultMtu(type) : mtu,
    external: boolAt(n.external, `${p}.external`),
    adminStateUp: boolAt(n.adminStateUp, `${p}.admin_state_up`),
  };
}

export function normalizeSubnet(input: Subnet, p: string): Subnet {
  const s = objAt(input, p);
  const cidr = parsedCidrAt(s.cidr, `${p}.cidr`);
  let gatewayIp: string | null;
  if (s.gatewayIp === null) gatewayIp = null;
  else if (s.gatewayIp === '' || s.gatewayIp === undefined) gatewayIp = formatIpv4(firstHost(cidr));
  else gatewayIp = ipAt(s.gatewayIp, `${p}.gateway_ip`);
  return {
    id: uuidAt(s.id, `${p}.id`),
    name: strAt(s.name, `${p}.name`),
    networkId: uuidAt(s.networkId, `${p}.network_id`),
    cidr: formatCidr(cidr),
    gatewayIp,
    enableDhcp: boolAt(s.enableDhcp, `${p}.enable_dhcp`),
    dnsNameservers: listAt<string>(s.dnsNameservers, `${p}.dns_nameservers`).map((d, i) => ipAt(d, `${p}.dns_nameservers[${i}]`)),
    hostRoutes: listAt<HostRoute>(s.hostRoutes, `${p}.host_routes`).map((r, i) => {
      const q = `${p}.host_routes[${i}]`;
      const o = objAt(r, q);
      return { destination: cidrAt(o.destination, `${q}.destination`), nexthop: ipAt(o.nexthop, `${q}.nexthop`) };
    }),
  };
}

export function normalizeBinding(value: unknown, p: string): PortBinding {
  if (value === null || value === undefined) return { kind: 'none' };
  const b = objAt(value, `${p}.binding`);
  switch (b.kind) {
    case 'none':
      return { kind: 'none' };
    case 'local':
      return { kind: 'local', interfaceName: strAt(b.interfaceName, `${p}.local.interface_name`) };
    case 'remote':
      return { kind: 'remote', vtepIp: ipAt(b.vtepIp, `${p}.remote.vtep_ip`) };
    default:
      throw invalid(`${p}.binding`, `must be none, local or remote (got ${JSON.stringify(b.kind)})`);
  }
}

export function normalizePort(input: Port, p: string): Port {
  const o = objAt(input, p);
  return {
    id: uuidAt(o.id, `${p}.id`),
    name: strAt(o.name, `${p}.name`),
    networkId: uuidAt(o.networkId, `${p}.network_id`),
    macAddress: macAt(o.macAddress, `${p}.mac_address`),
    fixedIps: listAt<FixedIp>(o.fixedIps, `${p}.fixed_ips`).map((f, i) => {
      const q = `${p}.fixed_ips[${i}]`;
      const fo = objAt(f, q);
      if (fo.ipAddress === '' || fo.ipAddress === null || fo.ipAddress === undefined) {
        throw invalid(`${q}.ip_address`, 'is required: the daemon does not allocate addresses, orchestration chooses them');
      }
      return { subnetId: uuidAt(fo.subnetId, `${q}.subnet_id`), ipAddress: ipAt(fo.ipAddress, `${q}.ip_address`) };
    }),
    binding: normalizeBinding(o.binding, p),
    portSecurityEnabled: boolAt(o.portSecurityEnabled, `${p}.port_security_enabled`),
    allowedAddressPairs: listAt<AllowedAddressPair>(o.allowedAddressPairs, `${p}.allowed_address_pairs`).map((a, i) => {
      const q = `${p}.allowed_address_pairs[${i}]`;
      const ao = objAt(a, q);
      const ip = ao.ipAddress;
      const ipAddress = typeof ip === 'string' && ip.includes('/') ? cidrAt(ip, `${q}.ip_address`) : ipAt(ip, `${q}.ip_address`);
      const mac = optional(ao.macAddress);
      return { ipAddress, macAddress: mac === null ? null : macAt(mac, `${q}.mac_address`) };
    }),
    securityGroupIds: listAt<string>(o.securityGroupIds, `${p}.security_group_ids`).map((g, i) =>
      uuidAt(g, `${p}.security_group_ids[${i}]`),
    ),
    deviceOwner: strAt(o.deviceOwner, `${p}.device_owner`),
    adminStateUp: boolAt(o.adminStateUp, `${p}.admin_state_up`),
  };
}

/** An interface whose ipAddress is "" still needs resolveInterfaceIp. */
export function normalizeInterface(value: unknown, subnetField: string, ipField: string, p: string): RouterInterface {
  const o = objAt(value, p);
  const ip = optional(o.ipAddress);
  return { subnetId: uuidAt(o.subnetId, subnetField), ipAddress: ip === null ? '' : ipAt(ip, ipField) };
}

export function normalizeStaticRoute(value: unknown, p: string): StaticRoute {
  const o = objAt(value, p);
  return { destination: cidrAt(o.destination, `${p}.destination`), nexthop: ipAt(o.nexthop, `${p}.nexthop`) };
}

/** p: the path of the gateway itself, e.g. "router.external_gateway" or "external_gateway". */
export function normalizeExternalGateway(value: unknown, p: string): ExternalGateway {
  const o = objAt(value, p);
  const ip = optional(o.ipAddress);
  if (ip === null) throw invalid(`${p}.ip_address`, 'is required: the daemon does not allocate addresses, orchestration chooses them');
  const vtep = optional(o.gatewayNodeVtepIp);
  if (vtep === null) throw invalid(`${p}.gateway_node_vtep_ip`, 'is required: the VTEP IP of the network node that owns the external interface');
  return {
    networkId: uuidAt(o.networkId, `${p}.network_id`),
    ipAddress: ipAt(ip, `${p}.ip_address`),
    enableSnat: boolAt(o.enableSnat, `${p}.enable_snat`),
    gatewayNodeVtepIp: ipAt(vtep, `${p}.gateway_node_vtep_ip`),
  };
}

export function normalizeRouter(input: Router, p: string): Router {
  const o = objAt(input, p);
  const gw = o.externalGateway;
  return {
    id: uuidAt(o.id, `${p}.id`),
    name: strAt(o.name, `${p}.name`),
    interfaces: listAt<RouterInterface>(o.interfaces, `${p}.interfaces`).map((f, i) => {
      const q = `${p}.interfaces[${i}]`;
      return normalizeInterface(f, `${q}.subnet_id`, `${q}.ip_address`, q);
    }),
    routes: listAt<StaticRoute>(o.routes, `${p}.routes`).map((r, i) => normalizeStaticRoute(r, `${p}.routes[${i}]`)),
    externalGateway: gw === null || gw === undefined ? null : normalizeExternalGateway(gw, `${p}.external_gateway`),
    adminStateUp: boolAt(o.adminStateUp, `${p}.admin_state_up`),
  };
}

/** fixedIpAddress stays null with a port: resolveFloatingIpDefaults fills it in. */
export function normalizeFloatingIp(input: FloatingIp, p: string): FloatingIp {
  const o = objAt(input, p);
  const portRaw = optional(o.portId);
  const fixedRaw = optional(o.fixedIpAddress);
  const portId = portRaw === null ? null : uuidAt(portRaw, `${p}.port_id`);
  if (portId === null && fixedRaw !== null) {
    throw invalid(`${p}.fixed_ip_address`, 'is only meaningful with a port_id (a floating IP without a port is not associated)');
  }
  if (optional(o.floatingIpAddress) === null) {
    throw invalid(`${p}.floating_ip_address`, 'is required: the daemon does not allocate addresses, orchestration chooses them');
  }
  return {
    id: uuidAt(o.id, `${p}.id`),
    floatingNetworkId: uuidAt(o.floatingNetworkId, `${p}.floating_network_id`),
    floatingIpAddress: ipAt(o.floatingIpAddress, `${p}.floating_ip_address`),
    portId,
    fixedIpAddress: fixedRaw === null ? null : ipAt(fixedRaw, `${p}.fixed_ip_address`),
  };
}

// ------------------------------------------------------------------ defaults that need other resources

/**
 * An interface IP of "" becomes the subnet's gateway. The subnet must exist
 * (NOT_FOUND otherwise) and, for the default, have a gateway.
 */
export function resolveInterfaceIp(index: ResourceIndex, iface: RouterInterface, subnetField: string, ipField: string): RouterInterface {
  const subnet = index.get('subnet', iface.subnetId);
  if (!subnet) throw notFound(subnetField, `subnet ${iface.subnetId} does not exist`);
  if (iface.ipAddress !== '') return iface;
  if (subnet.gatewayIp === null) {
    throw invalid(ipField, `subnet ${subnet.id} has no gateway IP to default to; give the interface's address explicitly`);
  }
  return { subnetId: iface.subnetId, ipAddress: subnet.gatewayIp };
}

/** A floating IP with a port and no fixed IP maps to the port's first fixed IP. */
export function resolveFloatingIpDefaults(index: ResourceIndex, fip: FloatingIp, p: string): FloatingIp {
  if (fip.portId === null || fip.fixedIpAddress !== null) return fip;
  const port = index.get('port', fip.portId);
  if (!port) throw notFound(`${p}.port_id`, `port ${fip.portId} does not exist`);
  const first = port.fixedIps[0];
  if (!first) throw invalid(`${p}.fixed_ip_address`, `port ${port.id} has no fixed IP to map the floating IP to`);
  return { ...fip, fixedIpAddress: first.ipAddress };
}
