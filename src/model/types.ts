// The desired-state model: Neutron's resources, trimmed to what the dataplane
// needs (see ARCHITECTURE.md). Plain data, no behaviour. The gRPC layer
// converts to and from these (src/api/convert.ts); validation, storage and
// rendering work on them only.
//
// Conventions: IPv4 addresses and CIDRs are canonical text ("10.0.0.1",
// "10.0.0.0/24"); MACs are lower-case "aa:bb:cc:dd:ee:ff"; IDs are lower-case
// canonical UUIDs chosen by the caller. Absent optional values are null,
// never undefined or "", so that equality and persistence are exact.

export type Uuid = string;

export type ResourceKind = 'network' | 'subnet' | 'port' | 'router' | 'floatingIp';
export const RESOURCE_KINDS: readonly ResourceKind[] = ['network', 'subnet', 'port', 'router', 'floatingIp'];

export type NetworkType = 'vxlan' | 'flat' | 'vlan';

export interface Network {
  id: Uuid;
  name: string;
  type: NetworkType;
  /** VXLAN: VNI 1..16777215. VLAN: VLAN ID 1..4094. FLAT: 0. */
  segmentationId: number;
  /** FLAT/VLAN: physical network name; null for VXLAN. */
  physicalNetwork: string | null;
  /** Effective MTU (defaults resolved: 1450 VXLAN, 1500 otherwise). */
  mtu: number;
  external: boolean;
  adminStateUp: boolean;
}

export interface HostRoute {
  destination: string;
  nexthop: string;
}

export interface Subnet {
  id: Uuid;
  name: string;
  networkId: Uuid;
  cidr: string;
  /** null: no gateway. (An empty gateway on create resolves to the first host address.) */
  gatewayIp: string | null;
  enableDhcp: boolean;
  dnsNameservers: string[];
  hostRoutes: HostRoute[];
}

export interface FixedIp {
  subnetId: Uuid;
  ipAddress: string;
}

export interface AllowedAddressPair {
  /** Address or CIDR (canonical). */
  ipAddress: string;
  /** null: the port's own MAC. */
  macAddress: string | null;
}

export type PortBinding =
  | { kind: 'none' }
  | { kind: 'local'; interfaceName: string }
  | { kind: 'remote'; vtepIp: string };

export interface Port {
  id: Uuid;
  name: string;
  networkId: Uuid;
  macAddress: string;
  fixedIps: FixedIp[];
  binding: PortBinding;
  portSecurityEnabled: boolean;
  allowedAddressPairs: AllowedAddressPair[];
  securityGroupIds: Uuid[];
  deviceOwner: string;
  adminStateUp: boolean;
}

export interface RouterInterface {
  subnetId: Uuid;
  /** Resolved: the subnet's gateway IP when none was given. */
  ipAddress: string;
}

export interface StaticRoute {
  destination: string;
  nexthop: string;
}

export interface ExternalGateway {
  networkId: Uuid;
  ipAddress: string;
  enableSnat: boolean;
  gatewayNodeVtepIp: string;
}

export interface Router {
  id: Uuid;
  name: string;
  interfaces: RouterInterface[];
  routes: StaticRoute[];
  externalGateway: ExternalGateway | null;
  adminStateUp: boolean;
}

export interface FloatingIp {
  id: Uuid;
  floatingNetworkId: Uuid;
  floatingIpAddress: string;
  /** null: not associated. */
  portId: Uuid | null;
  /** Resolved: the port's first fixed IP when associated without one; null when not associated. */
  fixedIpAddress: string | null;
  // The router that carries it is derived, never stored: see routerForFloatingIp in src/model/.
}

export interface ResourceByKind {
  network: Network;
  subnet: Subnet;
  port: Port;
  router: Router;
  floatingIp: FloatingIp;
}

export type AnyResource = ResourceByKind[ResourceKind];

/** A stored resource: the resource and the desired-state revision of its last change. */
export interface Stored<K extends ResourceKind = ResourceKind> {
  kind: K;
  resource: ResourceByKind[K];
  revision: number;
}

/** The whole desired state, as Sync carries it (and as render consumes it). */
export interface Snapshot {
  networks: Network[];
  subnets: Subnet[];
  ports: Port[];
  routers: Router[];
  floatingIps: FloatingIp[];
}

/** gRPC status names a rejected request may carry. */
export type RejectionCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED';

/**
 * Why a request was refused: the field (a path such as "port.fixed_ips[1].ip_address",
 * named as in the proto) and a reason a person can act on.
 */
export class Rejection extends Error {
  override name = 'Rejection';

  constructor(
    readonly code: RejectionCode,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}
