// Shared helpers of the API end-to-end tests (test/e2e/api-*.test.ts):
// builders of request messages with unique ids and addresses, promise
// wrappers for every call the tests make, reading the whole desired state
// back, rejection checks and polling.
//
// Builders hand out ids from crypto.randomUUID and VNIs, CIDRs, MACs and
// physical network names from one counter per process, so that resources of
// different tests of a file (which share a daemon) never collide.

import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { expect } from 'vitest';
import { unary } from '../../src/api/client.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import type { XdpNetClient } from '../../src/gen/proto/xdpnet/v1/XdpNet.js';

export const FIELD_TRAILER = 'xdpnet-field';

// ---------------------------------------------------------------- unique values

let counter = 0;
/** A number unique in this process (1, 2, 3, …). */
export function nextNumber(): number {
  return ++counter;
}

/** A VNI unique in this process, away from the small numbers people type by hand. */
export function nextVni(): number {
  return 100_000 + nextNumber();
}

/** A /24 unique in this process: 10.a.b.0/24. Returns the prefix "10.a.b" (use `${p}.0/24`, `${p}.1`, …). */
export function nextPrefix(): string {
  const n = nextNumber();
  return `10.${(n >>> 8) & 255}.${n & 255}`;
}

/** A /24 of TEST-NET-like public space for external networks: 198.a.b (a in 18..19 → 198.18.0.0/15, benchmarking space). */
export function nextExternalPrefix(): string {
  const n = nextNumber();
  return `198.${18 + ((n >>> 8) & 1)}.${n & 255}`;
}

/** A unicast, locally unique MAC fa:16:3e:xx:xx:xx. */
export function nextMac(): string {
  const n = nextNumber();
  const b = [(n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((x) => x.toString(16).padStart(2, '0'));
  return `fa:16:3e:${b.join(':')}`;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${nextNumber()}-${randomUUID().slice(0, 8)}`;
}

// ---------------------------------------------------------------- builders (request form)

export function vxlanNetwork(over: pb.Network = {}): pb.Network {
  return { id: randomUUID(), name: uniqueName('net'), type: 'NETWORK_TYPE_VXLAN', segmentationId: nextVni(), ...over };
}

/** A flat external network on its own physical network name (one flat network per physnet). */
export function externalNetwork(over: pb.Network = {}): pb.Network {
  return {
    id: randomUUID(),
    name: uniqueName('public'),
    type: 'NETWORK_TYPE_FLAT',
    segmentationId: 0,
    physicalNetwork: `ext${nextNumber()}`,
    external: true,
    ...over,
  };
}

/**
 * A subnet of `networkId` on `${prefix}.0/24`, DHCP off (the API's default:
 * DHCP is not implemented, and a subnet asking for it is ERROR/UNIMPLEMENTED).
 */
export function subnetOf(networkId: string, prefix: string, over: pb.Subnet = {}): pb.Subnet {
  return { id: randomUUID(), name: uniqueName('sub'), networkId, cidr: `${prefix}.0/24`, enableDhcp: false, ...over };
}

export function portOn(networkId: string, subnetId: string, ipAddress: string, over: pb.Port = {}): pb.Port {
  return {
    id: randomUUID(),
    name: uniqueName('vm'),
    networkId,
    macAddress: nextMac(),
    fixedIps: [{ subnetId, ipAddress }],
    deviceOwner: 'compute:nova',
    ...over,
  };
}

export function routerNamed(over: pb.Router = {}): pb.Router {
  return { id: randomUUID(), name: uniqueName('router'), ...over };
}

export function floatingIpOn(floatingNetworkId: string, floatingIpAddress: string, over: pb.FloatingIp = {}): pb.FloatingIp {
  return { id: randomUUID(), floatingNetworkId, floatingIpAddress, ...over };
}

/** A complete small tenant topology (request form). */
export interface Topology {
  net: pb.Network;
  sub: pb.Subnet;
  port: pb.Port;
  ext: pb.Network;
  extSub: pb.Subnet;
  router: pb.Router;
  fip: pb.FloatingIp;
  /** "10.a.b" of the tenant subnet and "198.x.y" of the external one. */
  prefix: string;
  extPrefix: string;
}

/**
 * Internal VXLAN network + subnet + port (.10), external flat network +
 * subnet (gateway .1), a router with an interface on the tenant subnet and its
 * gateway at .2 of the external subnet, a floating IP (.50) on the port.
 */
export function topology(): Topology {
  const prefix = nextPrefix();
  const extPrefix = nextExternalPrefix();
  const net = vxlanNetwork();
  const sub = subnetOf(net.id!, prefix);
  const port = portOn(net.id!, sub.id!, `${prefix}.10`);
  const ext = externalNetwork();
  const extSub = subnetOf(ext.id!, extPrefix);
  const router = routerNamed({
    interfaces: [{ subnetId: sub.id! }],
    externalGateway: { networkId: ext.id!, ipAddress: `${extPrefix}.2`, enableSnat: true, gatewayNodeVtepIp: '192.0.2.10' },
  });
  const fip = floatingIpOn(ext.id!, `${extPrefix}.50`, { portId: port.id! });
  return { net, sub, port, ext, extSub, router, fip, prefix, extPrefix };
}

export function topologyAsSync(t: Topology): pb.SyncRequest {
  return { networks: [t.net, t.ext], subnets: [t.sub, t.extSub], ports: [t.port], routers: [t.router], floatingIps: [t.fip] };
}

// ---------------------------------------------------------------- calls

/** The calls the tests make, as promises. */
export function api(client: XdpNetClient) {
  return {
    createNetwork: (network: pb.Network) => unary<pb.Network__Output>((cb) => client.createNetwork({ network }, cb)),
    getNetwork: (id: string) => unary<pb.Network__Output>((cb) => client.getNetwork({ id }, cb)),
    listNetworks: (req: pb.ListRequest = {}) => unary<pb.ListNetworksResponse__Output>((cb) => client.listNetworks(req, cb)),
    updateNetwork: (network: pb.Network, updateMask: string[]) =>
      unary<pb.Network__Output>((cb) => client.updateNetwork({ network, updateMask }, cb)),
    deleteNetwork: (id: string) => unary<pb.DeleteResponse__Output>((cb) => client.deleteNetwork({ id }, cb)),

    createSubnet: (subnet: pb.Subnet) => unary<pb.Subnet__Output>((cb) => client.createSubnet({ subnet }, cb)),
    getSubnet: (id: string) => unary<pb.Subnet__Output>((cb) => client.getSubnet({ id }, cb)),
    listSubnets: (req: pb.ListRequest = {}) => unary<pb.ListSubnetsResponse__Output>((cb) => client.listSubnets(req, cb)),
    updateSubnet: (subnet: pb.Subnet, updateMask: string[]) =>
      unary<pb.Subnet__Output>((cb) => client.updateSubnet({ subnet, updateMask }, cb)),
    deleteSubnet: (id: string) => unary<pb.DeleteResponse__Output>((cb) => client.deleteSubnet({ id }, cb)),

    createPort: (port: pb.Port) => unary<pb.Port__Output>((cb) => client.createPort({ port }, cb)),
    getPort: (id: string) => unary<pb.Port__Output>((cb) => client.getPort({ id }, cb)),
    listPorts: (req: pb.ListRequest = {}) => unary<pb.ListPortsResponse__Output>((cb) => client.listPorts(req, cb)),
    updatePort: (port: pb.Port, updateMask: string[]) => unary<pb.Port__Output>((cb) => client.updatePort({ port, updateMask }, cb)),
    deletePort: (id: string) => unary<pb.DeleteResponse__Output>((cb) => client.deletePort({ id }, cb)),

    createRouter: (router: pb.Router) => unary<pb.Router__Output>((cb) => client.createRouter({ router }, cb)),
    getRouter: (id: string) => unary<pb.Router__Output>((cb) => client.getRouter({ id }, cb)),
    listRouters: (req: pb.ListRequest = {}) => unary<pb.ListRoutersResponse__Output>((cb) => client.listRouters(req, cb)),
    updateRouter: (router: pb.Router, updateMask: string[]) =>
      unary<pb.Router__Output>((cb) => client.updateRouter({ router, updateMask }, cb)),
    deleteRouter: (id: string) => unary<pb.DeleteResponse__Output>((cb) => client.deleteRouter({ id }, cb)),
    addRouterInterface: (req: pb.AddRouterInterfaceRequest) => unary<pb.Router__Output>((cb) => client.addRouterInterface(req, cb)),
    removeRouterInterface: (req: pb.RemoveRouterInterfaceRequest) =>
      unary<pb.Router__Output>((cb) => client.removeRouterInterface(req, cb)),
    setRouterGateway: (req: pb.SetRouterGatewayRequest) => unary<pb.Router__Output>((cb) => client.setRouterGateway(req, cb)),
    clearRouterGateway: (routerId: string) => unary<pb.Router__Output>((cb) => client.clearRouterGateway({ routerId }, cb)),

    createFloatingIp: (floatingIp: pb.FloatingIp) => unary<pb.FloatingIp__Output>((cb) => client.createFloatingIp({ floatingIp }, cb)),
    getFloatingIp: (id: string) => unary<pb.FloatingIp__Output>((cb) => client.getFloatingIp({ id }, cb)),
    listFloatingIps: (req: pb.ListRequest = {}) => unary<pb.ListFloatingIpsResponse__Output>((cb) => client.listFloatingIps(req, cb)),
    updateFloatingIp: (floatingIp: pb.FloatingIp, updateMask: string[]) =>
      unary<pb.FloatingIp__Output>((cb) => client.updateFloatingIp({ floatingIp, updateMask }, cb)),
    deleteFloatingIp: (id: string) => unary<pb.DeleteResponse__Output>((cb) => client.deleteFloatingIp({ id }, cb)),

    sync: (req: pb.SyncRequest) => unary<pb.SyncResponse__Output>((cb) => client.sync(req, cb)),
    nodeStatus: () => unary<pb.NodeStatus__Output>((cb) => client.getNodeStatus({}, cb)),
    reasonCounters: () => unary<pb.ReasonCounters__Output>((cb) => client.getReasonCounters({}, cb)),
    portCounters: (portIds: string[] = []) => unary<pb.PortCounters__Output>((cb) => client.getPortCounters({ portIds }, cb)),
  };
}

export type Api = ReturnType<typeof api>;

// ---------------------------------------------------------------- the whole state

type WithStatus = { status?: unknown };

/** A resource without its status (which the reconciler may change at any moment). */
export function withoutStatus<T extends WithStatus>(r: T): Omit<T, 'status'> {
  const { status: _status, ...rest } = r;
  return rest;
}

/** Every page of a list, concatenated. */
export async function listAll<T>(
  list: (req: pb.ListRequest) => Promise<{ nextPageToken: string }>,
  field: string,
  req: pb.ListRequest = {},
): Promise<T[]> {
  const all: T[] = [];
  let pageToken = '';
  do {
    const page = await list({ ...req, pageSize: req.pageSize ?? 1000, pageToken });
    all.push(...((page as unknown as Record<string, T[]>)[field] ?? []));
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return all;
}

export interface StateView {
  desiredRevision: string;
  networks: Omit<pb.Network__Output, 'status'>[];
  subnets: Omit<pb.Subnet__Output, 'status'>[];
  ports: Omit<pb.Port__Output, 'status'>[];
  routers: Omit<pb.Router__Output, 'status'>[];
  floatingIps: Omit<pb.FloatingIp__Output, 'status'>[];
}

/**
 * The whole desired state as the API shows it, statuses left out: equal
 * before and after a rejected request, which must change nothing.
 */
export async function stateView(a: Api): Promise<StateView> {
  const [status, networks, subnets, ports, routers, floatingIps] = await Promise.all([
    a.nodeStatus(),
    listAll<pb.Network__Output>(a.listNetworks, 'networks'),
    listAll<pb.Subnet__Output>(a.listSubnets, 'subnets'),
    listAll<pb.Port__Output>(a.listPorts, 'ports'),
    listAll<pb.Router__Output>(a.listRouters, 'routers'),
    listAll<pb.FloatingIp__Output>(a.listFloatingIps, 'floatingIps'),
  ]);
  return {
    desiredRevision: status.desiredRevision,
    networks: networks.map(withoutStatus),
    subnets: subnets.map(withoutStatus),
    ports: ports.map(withoutStatus),
    routers: routers.map(withoutStatus),
    floatingIps: floatingIps.map(withoutStatus),
  };
}

// ---------------------------------------------------------------- rejections

/** The error a call rejected with; fails if it succeeded. */
export async function rejectionOf(call: Promise<unknown>): Promise<grpc.ServiceError> {
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error(`expected the call to be rejected, but it succeeded with ${JSON.stringify(result)}`);
}

const codeName = (code: number): string => grpc.status[code] ?? String(code);

/**
 * The call is rejected with `code`, its details are "field: reason" for
 * `field`, and the trailer xdpnet-field names `field`.
 */
export async function expectRejected(call: Promise<unknown>, code: grpc.status, field: string): Promise<grpc.ServiceError> {
  const err = await rejectionOf(call);
  expect({ code: codeName(err.code), details: err.details }).toMatchObject({ code: codeName(code) });
  expect(err.details.startsWith(`${field}: `), `details "${err.details}" should start with "${field}: "`).toBe(true);
  expect(err.details.length).toBeGreaterThan(field.length + 2);
  expect(err.metadata?.get(FIELD_TRAILER)).toEqual([field]);
  return err;
}

/**
 * A rejected request changes nothing: runs it against `a`, checks the
 * rejection as expectRejected does, and that the desired state (revision and
 * every list) is the same before and after.
 */
export async function expectRejectedUnchanged(
  a: Api,
  call: () => Promise<unknown>,
  code: grpc.status,
  field: string,
): Promise<grpc.ServiceError> {
  const before = await stateView(a);
  const err = await expectRejected(call(), code, field);
  expect(await stateView(a)).toEqual(before);
  return err;
}

// ---------------------------------------------------------------- waiting

/**
 * Calls `read` until `done` accepts its result, and returns that result. A
 * guard against hangs, not a timing assertion: it fails only if the condition
 * never comes true within `timeoutMs`, showing the last value.
 */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (done(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `condition not reached within ${timeoutMs} ms; last value: ${JSON.stringify(last)}${lastError ? `; last error: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type Stateful = { status: pb.ResourceStatus__Output | null; revision: string };

/** Polls `get` until the resource's status is `state` at the resource's current revision. */
export function eventuallyState<T extends Stateful>(get: () => Promise<T>, state: pb.ResourceState__Output): Promise<T> {
  return eventually(get, (r) => r.status?.state === state && r.status.revision === r.revision);
}

// ---------------------------------------------------------------- health (grpc.health.v1)

export type HealthClient = grpc.Client & {
  check(
    req: { service: string },
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): grpc.ClientUnaryCall;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

const HealthClientCtor = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => HealthClient;

/** A health client on a unix socket (close it when done). */
export function healthClient(socket: string): HealthClient {
  return new HealthClientCtor(`unix:${socket}`, grpc.credentials.createInsecure());
}

/** Check(service) on `client`: the status name, or rejects with the ServiceError. */
export function healthCheck(client: HealthClient, service: string, deadlineMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) =>
    client.check({ service }, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res?.status ?? 'UNKNOWN'))),
  );
}
