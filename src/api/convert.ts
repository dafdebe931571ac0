// Conversion between the gRPC messages (src/gen/proto) and the domain model
// (src/model/types.ts). Only shapes change here: no defaults are resolved and
// nothing is validated beyond what the shape itself cannot express (the model
// does both). Unresolved defaults travel as the model documents: mtu 0,
// gateway_ip "" (first host), interface ip "" (subnet gateway), fixed ip null.

import type * as pb from '../gen/proto/xdpnet/v1/index.js';
import {
  type ExternalGateway,
  type FloatingIp,
  type Network,
  type NetworkType,
  type Port,
  type PortBinding,
  type ResourceKind,
  type Router,
  type Snapshot,
  type Subnet,
  Rejection,
} from '../model/types.js';

/** What the API shows of a resource's place in the dataplane. */
export interface StatusView {
  state: 'PENDING' | 'ACTIVE' | 'DOWN' | 'ERROR';
  code: string;
  message: string;
  revision: number;
}

const NETWORK_TYPES: Record<string, NetworkType> = {
  NETWORK_TYPE_UNSPECIFIED: 'vxlan', // the tenant network type, as Neutron's default
  NETWORK_TYPE_VXLAN: 'vxlan',
  NETWORK_TYPE_FLAT: 'flat',
  NETWORK_TYPE_VLAN: 'vlan',
};

const orNull = (s: string): string | null => (s === '' ? null : s);

// `path` names the message in rejections: "network" in CreateNetwork,
// "networks[3]" in a Sync.
export function networkFromPb(m: pb.Network__Output, path = 'network'): Network {
  const type = NETWORK_TYPES[m.type];
  if (!type) throw new Rejection('INVALID_ARGUMENT', `${path}.type`, `unknown network type ${m.type}`);
  return {
    id: m.id,
    name: m.name,
    type,
    segmentationId: m.segmentationId,
    physicalNetwork: orNull(m.physicalNetwork),
    mtu: m.mtu,
    external: m.external,
    adminStateUp: m.adminStateUp ?? true,
  };
}

export function subnetFromPb(m: pb.Subnet__Output, path = 'subnet'): Subnet {
  if (m.noGateway && m.gatewayIp !== '') {
    throw new Rejection('INVALID_ARGUMENT', `${path}.gateway_ip`, 'must be empty when no_gateway is set');
  }
  return {
    id: m.id,
    name: m.name,
    networkId: m.networkId,
    cidr: m.cidr,
    gatewayIp: m.noGateway ? null : m.gatewayIp,
    enableDhcp: m.enableDhcp,
    dnsNameservers: [...m.dnsNameservers],
    hostRoutes: m.hostRoutes.map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
  };
}

function bindingFromPb(m: pb.Port__Output): PortBinding {
  if (m.binding === 'local' && m.local) return { kind: 'local', interfaceName: m.local.interfaceName };
  if (m.binding === 'remote' && m.remote) return { kind: 'remote', vtepIp: m.remote.vtepIp };
  return { kind: 'none' };
}

export function portFromPb(m: pb.Port__Output): Port {
  return {
    id: m.id,
    name: m.name,
    networkId: m.networkId,
    macAddress: m.macAddress,
    fixedIps: m.fixedIps.map((f) => ({ subnetId: f.subnetId, ipAddress: f.ipAddress })),
    binding: bindingFromPb(m),
    portSecurityEnabled: m.portSecurityEnabled ?? true,
    allowedAddressPairs: m.allowedAddressPairs.map((p) => ({ ipAddress: p.ipAddress, macAddress: orNull(p.macAddress) })),
    securityGroupIds: [...m.securityGroupIds],
    deviceOwner: m.deviceOwner,
    adminStateUp: m.adminStateUp ?? true,
  };
}

export function gatewayFromPb(m: pb.ExternalGateway__Output): ExternalGateway {
  return { networkId: m.networkId, ipAddress: m.ipAddress, enableSnat: m.enableSnat ?? true, gatewayNodeVtepIp: m.gatewayNodeVtepIp };
}

export function routerFromPb(m: pb.Router__Output): Router {
  return {
    id: m.id,
    name: m.name,
    interfaces: m.interfaces.map((i) => ({ subnetId: i.subnetId, ipAddress: i.ipAddress })),
    routes: m.routes.map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
    externalGateway: m.externalGateway ? gatewayFromPb(m.externalGateway) : null,
    adminStateUp: m.adminStateUp ?? true,
  };
}

export function floatingIpFromPb(m: pb.FloatingIp__Output): FloatingIp {
  const portId = orNull(m.portId);
  return {
    id: m.id,
    floatingNetworkId: m.floatingNetworkId,
    floatingIpAddress: m.floatingIpAddress,
    portId,
    fixedIpAddress: orNull(m.fixedIpAddress),
  };
}

export function snapshotFromPb(m: pb.SyncRequest__Output): Snapshot {
  return {
    networks: m.networks.map((n, i) => networkFromPb(n, `networks[${i}]`)),
    subnets: m.subnets.map((s, i) => subnetFromPb(s, `subnets[${i}]`)),
    ports: m.ports.map((p) => portFromPb(p)),
    routers: m.routers.map((r) => routerFromPb(r)),
    floatingIps: m.floatingIps.map((f) => floatingIpFromPb(f)),
  };
}

function statusToPb(s: StatusView): pb.ResourceStatus {
  return { state: `RESOURCE_STATE_${s.state}`, code: s.code, message: s.message, revision: String(s.revision) };
}

const NETWORK_TYPE_NAMES: Record<NetworkType, pb.NetworkType> = {
  vxlan: 'NETWORK_TYPE_VXLAN',
  flat: 'NETWORK_TYPE_FLAT',
  vlan: 'NETWORK_TYPE_VLAN',
};

export function networkToPb(n: Network, revision: number, status: StatusView): pb.Network {
  return {
    id: n.id,
    name: n.name,
    type: NETWORK_TYPE_NAMES[n.type],
    segmentationId: n.segmentationId,
    physicalNetwork: n.physicalNetwork ?? '',
    mtu: n.mtu,
    external: n.external,
    adminStateUp: n.adminStateUp,
    revision: String(revision),
    status: statusToPb(status),
  };
}

export function subnetToPb(s: Subnet, revision: number, status: StatusView): pb.Subnet {
  return {
    id: s.id,
    name: s.name,
    networkId: s.networkId,
    cidr: s.cidr,
    gatewayIp: s.gatewayIp ?? '',
    noGateway: s.gatewayIp === null,
    enableDhcp: s.enableDhcp,
    dnsNameservers: s.dnsNameservers,
    hostRoutes: s.hostRoutes,
    revision: String(revision),
    status: statusToPb(status),
  };
}

export function portToPb(p: Port, revision: number, status: StatusView): pb.Port {
  const binding =
    p.binding.kind === 'local'
      ? { local: { interfaceName: p.binding.interfaceName } }
      : p.binding.kind === 'remote'
        ? { remote: { vtepIp: p.binding.vtepIp } }
        : {};
  return {
    id: p.id,
    name: p.name,
    networkId: p.networkId,
    macAddress: p.macAddress,
    fixedIps: p.fixedIps,
    ...binding,
    portSecurityEnabled: p.portSecurityEnabled,
    allowedAddressPairs: p.allowedAddressPairs.map((a) => ({ ipAddress: a.ipAddress, macAddress: a.macAddress ?? '' })),
    securityGroupIds: p.securityGroupIds,
    deviceOwner: p.deviceOwner,
    adminStateUp: p.adminStateUp,
    revision: String(revision),
    status: statusToPb(status),
  };
}

export function routerToPb(r: Router, revision: number, status: StatusView): pb.Router {
  return {
    id: r.id,
    name: r.name,
    interfaces: r.interfaces,
    routes: r.routes,
    externalGateway: r.externalGateway,
    adminStateUp: r.adminStateUp,
    revision: String(revision),
    status: statusToPb(status),
  };
}

export function floatingIpToPb(f: FloatingIp, routerId: string | null, revision: number, status: StatusView): pb.FloatingIp {
  return {
    id: f.id,
    floatingNetworkId: f.floatingNetworkId,
    floatingIpAddress: f.floatingIpAddress,
    portId: f.portId ?? '',
    fixedIpAddress: f.fixedIpAddress ?? '',
    routerId: routerId ?? '',
    revision: String(revision),
    status: statusToPb(status),
  };
}

export const KIND_TO_PB: Record<ResourceKind, pb.ResourceKind> = {
  network: 'RESOURCE_KIND_NETWORK',
  subnet: 'RESOURCE_KIND_SUBNET',
  port: 'RESOURCE_KIND_PORT',
  router: 'RESOURCE_KIND_ROUTER',
  floatingIp: 'RESOURCE_KIND_FLOATING_IP',
};

export const KIND_FROM_PB: Record<string, ResourceKind> = Object.fromEntries(
  Object.entries(KIND_TO_PB).map(([k, v]) => [v, k as ResourceKind]),
);
