// Desired state → logical dataplane tables. Pure and deterministic: the same
// snapshot and node give equal output (resources are visited sorted by id,
// whatever order the snapshot lists them in).
//
// What a node gets: everything. Every VXLAN network, every bound port's FDB
// and ARP entries, every router, route, SNAT and floating IP — a compute node
// needs other nodes' ports to send to them, and a gateway node needs all of
// them to route replies back. Restricting each node to the networks present on
// it is an optimisation for a later issue. Node-specific are only: localPorts
// (ports bound `local`), the flood list (our own VTEP left out) and the
// gatewayIsLocal flags.
//
// Unbound ports (binding none) have no location, so they get no FDB or ARP
// entries: answering ARP for an address nobody can deliver to would only hide
// the problem (Neutron's l2pop does the same).
//
// When two resources claim one key with different values, the first claim
// wins and the later claimant gets an ALREADY_EXISTS problem; claims are made
// in a fixed order (networks, routers, ports, floating IPs, each by id), so
// router interface IPs win ARP over ports that happen to carry the same
// address. A resource overriding its own claim (a static default route over
// the gateway's default) is deliberate and silent. Input the model should
// have refused (a dangling id, a next hop on no subnet) does not crash render:
// it becomes a FAILED_PRECONDITION problem on the resource.
//
// Features the model accepts but the dataplane does not implement are problems
// too (UNIMPLEMENTED), never silence: a subnet with enable_dhcp (nothing
// answers DHCP) and a port with security groups (their rules are not
// enforced). Those two are *partial* problems: the resource is rendered in full
// all the same (a subnet renders nothing of its own; the port's entries are
// claimed and owned as usual), because what does work keeps working, and the
// status says what does not. A partial problem is the resource's status only
// when nothing else is wrong with it (reconciler.ts): an entry that could not
// be applied, such as a port's interface not being there yet or a full map,
// says more about why it does not forward.
//
// Shape: one renderer per resource kind (renderNetwork, renderSubnet,
// renderRouter, renderPort, renderFloatingIp) writes its claims and problems to a RenderSink
// and reads the rest of the state through a RenderLookup; flood lists are the
// one aggregate (per VNI, over ports). render() runs them all over a snapshot
// and resolves claims as they come (the Builder). The reconciler keeps the
// same tables incrementally (incremental.ts) with the same renderers, one
// resource at a time; render() is what it must always equal.

import type { FloatingIp, Network, Port, Router, Snapshot, Subnet } from '../model/types.js';
import { sameJson } from './canonical.js';
import { type Cidr, canonicalCidr, cidrContains, formatCidr, parseCidr } from './ipv4.js';
import { routerMac } from './router-mac.js';
import type { Failure } from './status.js';
import {
  type Entry,
  type Location,
  type ResourceRef,
  type TableKey,
  type TableName,
  type TableValue,
  type Tables,
  emptyTables,
  keyString,
  refKey,
} from './tables.js';

export interface RenderNode {
  /** This node's VTEP: left out of flood lists, compared with gateway nodes. */
  vtepIp: string;
}

export interface RenderProblem extends Failure {
  ref: ResourceRef;
  /**
   * Present (true) on a problem that did not stop the resource from being
   * rendered: its entries are claimed and applied as usual, and what they do
   * works; a feature the resource asks for does not. Its status shows the
   * problem unless an entry of it failed (see the header).
   */
  partial?: true;
}

export interface ProblemOptions {
  /** See RenderProblem.partial. */
  partial?: boolean;
}

export interface Rendered {
  tables: Tables;
  /** Resources that could not be rendered (fully), in the order found. */
  problems: RenderProblem[];
}

const byId = <T extends { id: string }>(list: readonly T[]): T[] => [...list].sort((a, b) => cmp(a.id, b.id));
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const uniqueSorted = (items: Iterable<string>): string[] => [...new Set(items)].sort(cmp);

function sortRefs(refs: Iterable<ResourceRef>): ResourceRef[] {
  const unique = new Map([...refs].map((r) => [refKey(r), r]));
  return [...unique.entries()].sort(([a], [b]) => cmp(a, b)).map(([, r]) => r);
}

/**
 * Where the per-resource renderers below write: render()'s Builder, which
 * resolves claims as it goes, or the incremental renderer (incremental.ts),
 * which records them per resource and resolves them per key.
 */
export interface RenderSink {
  /** A claim on a key. Every renderer here passes exactly one owner: the resource it renders. */
  put<T extends TableName>(table: T, key: TableKey<T>, value: TableValue<T>, owners: ResourceRef[]): void;
  problem(ref: ResourceRef, code: Failure['code'], message: string, options?: ProblemOptions): void;
}

/** The lookups over the desired state that rendering one resource needs. */
export interface RenderLookup {
  network(id: string): Network | undefined;
  subnet(id: string): Subnet | undefined;
  port(id: string): Port | undefined;
  /** The subnet of `networkId` that contains `ip` (first by id). */
  subnetContaining(networkId: string, ip: string): Subnet | undefined;
  /** The routers whose external gateway is on `networkId`, sorted by id. */
  routersWithGatewayOn(networkId: string): readonly Router[];
}

/** A bound port on a VXLAN network, as its network's flood list sees it. */
export interface FloodMember {
  vni: number;
  /** The port's network (the flood list's network owner is that of its first port by id). */
  networkId: string;
  /** The port's interface, if bound on this node. */
  local: string | null;
  /** The port's VTEP, if bound on another node (never this node's VTEP). */
  remote: string | null;
}

/**
 * Resources are rendered in this order (then by id): the first claim on a key
 * wins, and problems are listed in it. Subnets make no claims, only problems.
 */
export const CLAIM_RANK = { network: 0, subnet: 1, router: 2, port: 3, floatingIp: 4 } as const;

/** A problem as a resource's renderer reported it (RenderProblem without the ref). */
export function reportedProblem(code: Failure['code'], message: string, options?: ProblemOptions): Failure & { partial?: true } {
  return options?.partial ? { code, message, partial: true } : { code, message };
}

/** Collects entries and problems; resolves claims on a key. */
class Builder implements RenderSink {
  readonly tables = emptyTables();
  readonly problems: RenderProblem[] = [];

  put<T extends TableName>(table: T, key: TableKey<T>, value: TableValue<T>, owners: ResourceRef[]): void {
    const ks = keyString(table, key);
    const map = this.tables[table] as Map<string, Entry<T>>;
    const existing = map.get(ks);
    if (!existing) {
      map.set(ks, { key, value, owners: sortRefs(owners) });
      return;
    }
    if (sameJson(existing.value, value)) {
      existing.owners = sortRefs([...existing.owners, ...owners]);
      return;
    }
    const held = new Set(existing.owners.map(refKey));
    if (owners.some((o) => held.has(refKey(o)))) return; // a resource overriding itself
    this.problemForEach(owners, 'ALREADY_EXISTS', alreadyTaken(table, ks, existing.owners));
  }

  problem(ref: ResourceRef, code: Failure['code'], message: string, options?: ProblemOptions): void {
    this.problems.push({ ref, ...reportedProblem(code, message, options) });
  }

  private problemForEach(refs: ResourceRef[], code: Failure['code'], message: string): void {
    for (const ref of refs) this.problem(ref, code, message);
  }
}

/** The ALREADY_EXISTS message for a claim that lost to `holders` (sorted). */
export function alreadyTaken(table: TableName, ks: string, holders: readonly ResourceRef[]): string {
  return `${table} entry ${ks} is already taken by ${holders.map(refKey).join(', ')}`;
}

/** Lookups over a snapshot. */
class Index implements RenderLookup {
  private readonly networks: Map<string, Network>;
  private readonly subnets: Map<string, Subnet>;
  private readonly ports: Map<string, Port>;
  /** Subnets by network, each list sorted by id. */
  private readonly subnetsOf = new Map<string, Subnet[]>();
  /** Routers by the network of their external gateway, each list sorted by id. */
  private readonly gatewayRouters = new Map<string, Router[]>();

  constructor(snapshot: Snapshot) {
    this.networks = new Map(snapshot.networks.map((n) => [n.id, n]));
    this.subnets = new Map(snapshot.subnets.map((s) => [s.id, s]));
    this.ports = new Map(snapshot.ports.map((p) => [p.id, p]));
    for (const subnet of byId(snapshot.subnets)) push(this.subnetsOf, subnet.networkId, subnet);
    for (const router of byId(snapshot.routers)) {
      if (router.externalGateway) push(this.gatewayRouters, router.externalGateway.networkId, router);
    }
  }

  network(id: string): Network | undefined {
    return this.networks.get(id);
  }

  subnet(id: string): Subnet | undefined {
    return this.subnets.get(id);
  }

  port(id: string): Port | undefined {
    return this.ports.get(id);
  }

  subnetContaining(networkId: string, ip: string): Subnet | undefined {
    return firstContaining(this.subnetsOf.get(networkId) ?? [], ip);
  }

  routersWithGatewayOn(networkId: string): readonly Router[] {
    return this.gatewayRouters.get(networkId) ?? [];
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The first subnet of a list (sorted by id) whose CIDR holds `ip`. */
export function firstContaining(subnets: readonly Subnet[], ip: string): Subnet | undefined {
  return subnets.find((s) => {
    const cidr = parseCidr(s.cidr);
    return cidr !== null && cidrContains(cidr, ip);
  });
}

export function render(snapshot: Snapshot, node: RenderNode): Rendered {
  const b = new Builder();
  const index = new Index(snapshot);

  for (const network of byId(snapshot.networks)) renderNetwork(b, network);
  for (const subnet of byId(snapshot.subnets)) renderSubnet(b, subnet);
  for (const router of byId(snapshot.routers)) renderRouter(b, index, router, node);
  const flood = new Map<number, { networkId: string; remote: string[]; local: string[]; owners: ResourceRef[] }>();
  for (const port of byId(snapshot.ports)) {
    const member = renderPort(b, index, port, node);
    if (!member) continue;
    let m = flood.get(member.vni);
    if (!m) flood.set(member.vni, (m = { networkId: member.networkId, remote: [], local: [], owners: [] }));
    if (member.local !== null) m.local.push(member.local);
    if (member.remote !== null) m.remote.push(member.remote);
    m.owners.push({ kind: 'port', id: port.id });
  }
  for (const [vni, m] of [...flood].sort(([a], [b]) => a - b)) {
    if (m.remote.length === 0 && m.local.length === 0) continue;
    b.put(
      'floodList',
      { vni },
      { remoteVteps: uniqueSorted(m.remote), localInterfaces: uniqueSorted(m.local) },
      [{ kind: 'network', id: m.networkId }, ...m.owners],
    );
  }
  for (const fip of byId(snapshot.floatingIps)) renderFloatingIp(b, index, fip, node);

  return { tables: b.tables, problems: b.problems };
}

/** A VXLAN network's `networks` entry (FLAT/VLAN networks have none). */
export function renderNetwork(b: RenderSink, network: Network): void {
  // FLAT/VLAN networks have no table of their own: their ports show up in
  // providerPorts, and an external one is reached through snat's physicalNetwork.
  if (network.type !== 'vxlan') return;
  b.put(
    'networks',
    { vni: network.segmentationId },
    { networkId: network.id, mtu: network.mtu, adminStateUp: network.adminStateUp },
    [{ kind: 'network', id: network.id }],
  );
}

/** The message of a subnet with enable_dhcp. */
export const DHCP_UNIMPLEMENTED =
  'DHCP is not implemented yet: nothing answers DHCP on this subnet (forwarding and routing on it work); ' +
  'give the VMs static addresses and set enable_dhcp false';

/**
 * A subnet: no entries of its own (routers and ports carry its addresses);
 * enable_dhcp is a partial UNIMPLEMENTED problem, because no DHCP server runs.
 * It looks nothing up: a network change does not re-render its subnets.
 */
export function renderSubnet(b: RenderSink, subnet: Subnet): void {
  if (subnet.enableDhcp) b.problem({ kind: 'subnet', id: subnet.id }, 'UNIMPLEMENTED', DHCP_UNIMPLEMENTED, { partial: true });
}

/** A router's entries: itself, its interfaces, routes, SNAT, ARP and FDB entries for its MAC. */
export function renderRouter(b: RenderSink, index: RenderLookup, router: Router, node: RenderNode): void {
  const ref: ResourceRef = { kind: 'router', id: router.id };
  const mac = routerMac(router.id);
  const owners = [ref];
  b.put('routers', { routerId: router.id }, { macAddress: mac, adminStateUp: router.adminStateUp }, owners);

  /** The router's tenant subnets on VXLAN networks, for next-hop resolution. */
  const connected: { cidr: Cidr; vni: number }[] = [];
  for (const iface of [...router.interfaces].sort((x, y) => cmp(x.subnetId, y.subnetId))) {
    const subnet = index.subnet(iface.subnetId);
    const network = subnet && index.network(subnet.networkId);
    const cidr = subnet && parseCidr(subnet.cidr);
    if (!subnet || !network || !cidr) {
      b.problem(ref, 'FAILED_PRECONDITION', `interface on subnet ${iface.subnetId}: the subnet or its network does not exist`);
      continue;
    }
    if (network.type !== 'vxlan') {
      b.put(
        'providerPorts',
        { networkId: network.id, macAddress: mac },
        {
          networkType: network.type,
          physicalNetwork: network.physicalNetwork,
          segmentationId: network.segmentationId,
          location: { kind: 'router', routerId: router.id },
        },
        owners,
      );
      continue;
    }
    const vni = network.segmentationId;
    connected.push({ cidr, vni });
    b.put(
      'routerInterfaces',
      { routerId: router.id, subnetId: subnet.id },
      { vni, ipAddress: iface.ipAddress, prefixLength: cidr.prefixLength, macAddress: mac },
      owners,
    );
    b.put('routes', { routerId: router.id, prefix: formatCidr(cidr) }, { kind: 'connected', vni, subnetId: subnet.id }, owners);
    b.put('arp', { vni, ipAddress: iface.ipAddress }, { macAddress: mac }, owners);
    b.put('fdb', { vni, macAddress: mac }, { location: { kind: 'router', routerId: router.id } }, owners);
  }

  const external = renderExternalGateway(b, index, router, node);

  for (const route of router.routes) {
    const prefix = canonicalCidr(route.destination);
    const via = connected.find((c) => cidrContains(c.cidr, route.nexthop));
    if (prefix && via) {
      b.put('routes', { routerId: router.id, prefix }, { kind: 'nexthop', vni: via.vni, nexthop: route.nexthop }, owners);
    } else if (prefix && external && cidrContains(external.cidr, route.nexthop)) {
      b.put('routes', { routerId: router.id, prefix }, { ...external.route, nexthop: route.nexthop }, owners);
    } else {
      b.problem(ref, 'FAILED_PRECONDITION', `route ${route.destination} via ${route.nexthop}: the next hop is on none of the router's subnets`);
    }
  }

  // After the static routes, so that a static default route wins.
  if (external?.nexthop) {
    b.put('routes', { routerId: router.id, prefix: '0.0.0.0/0' }, { ...external.route, nexthop: external.nexthop }, owners);
  }
}

/** snat and the external subnet's on-link route; what static/default routes through it need. */
function renderExternalGateway(b: RenderSink, index: RenderLookup, router: Router, node: RenderNode) {
  const gw = router.externalGateway;
  if (!gw) return null;
  const ref: ResourceRef = { kind: 'router', id: router.id };
  const network = index.network(gw.networkId);
  const subnet = network && index.subnetContaining(network.id, gw.ipAddress);
  const cidr = subnet && parseCidr(subnet.cidr);
  if (!network || !subnet || !cidr) {
    b.problem(ref, 'FAILED_PRECONDITION', `external gateway ${gw.ipAddress}: in no subnet of network ${gw.networkId}`);
    return null;
  }
  const gatewayIsLocal = gw.gatewayNodeVtepIp === node.vtepIp;
  b.put(
    'snat',
    { routerId: router.id },
    {
      externalNetworkId: network.id,
      externalNetworkType: network.type,
      physicalNetwork: network.physicalNetwork,
      segmentationId: network.segmentationId,
      externalIp: gw.ipAddress,
      externalPrefixLength: cidr.prefixLength,
      externalNexthop: subnet.gatewayIp,
      gatewayVtepIp: gw.gatewayNodeVtepIp,
      gatewayIsLocal,
      enableSnat: gw.enableSnat,
    },
    [ref],
  );
  const route = { kind: 'external', nexthop: null, gatewayVtepIp: gw.gatewayNodeVtepIp, gatewayIsLocal } as const;
  b.put('routes', { routerId: router.id, prefix: formatCidr(cidr) }, route, [ref]);
  return { cidr, route, nexthop: subnet.gatewayIp };
}

/** The message of a port with security groups: what is and is not enforced on it. */
export function securityGroupsUnimplemented(port: Pick<Port, 'portSecurityEnabled'>): string {
  return (
    "security groups are not implemented yet: the rules of this port's security groups are not enforced, " +
    'so traffic they would block is forwarded; ' +
    (port.portSecurityEnabled
      ? 'port security (MAC/IP anti-spoofing) is enforced'
      : 'port security (MAC/IP anti-spoofing) is disabled on this port, so its traffic is not filtered')
  );
}

/**
 * A port's own entries (fdb, arp, localPorts, or providerPorts); returns what
 * its network's flood list gets from it, or null if nothing (unbound, not on a
 * VXLAN network, no network). The flood list itself is an aggregate over all
 * of a network's ports: render() and the incremental renderer build it.
 *
 * Security groups are not implemented: a port that has any gets a partial
 * UNIMPLEMENTED problem, after its claims (so a lost claim, which stops it
 * forwarding, comes first), and its entries are rendered all the same.
 * Refusing to forward such a port would be stricter, but would make the
 * dataplane unusable: Neutron puts every port in its project's default group,
 * so every VM would be cut off. Forwarding lets through what the groups would
 * allow (the default group: all egress, ingress from its members) and more
 * (ingress from anywhere else); port security (MAC/IP anti-spoofing), which
 * the entries carry, is still enforced. The ERROR status is what keeps that
 * gap from being silent.
 */
export function renderPort(b: RenderSink, index: RenderLookup, port: Port, node: RenderNode): FloodMember | null {
  const member = renderPortEntries(b, index, port, node);
  if (port.securityGroupIds.length > 0) {
    b.problem({ kind: 'port', id: port.id }, 'UNIMPLEMENTED', securityGroupsUnimplemented(port), { partial: true });
  }
  return member;
}

function renderPortEntries(b: RenderSink, index: RenderLookup, port: Port, node: RenderNode): FloodMember | null {
  const ref: ResourceRef = { kind: 'port', id: port.id };
  const network = index.network(port.networkId);
  if (!network) {
    b.problem(ref, 'FAILED_PRECONDITION', `network ${port.networkId} does not exist`);
    return null;
  }
  const location = portLocation(port);
  if (!location) return null; // unbound: nowhere to deliver, nothing to render

  if (network.type !== 'vxlan') {
    b.put(
      'providerPorts',
      { networkId: network.id, macAddress: port.macAddress },
      { networkType: network.type, physicalNetwork: network.physicalNetwork, segmentationId: network.segmentationId, location },
      [ref],
    );
    return null;
  }

  const vni = network.segmentationId;
  b.put('fdb', { vni, macAddress: port.macAddress }, { location }, [ref]);
  for (const fixed of port.fixedIps) b.put('arp', { vni, ipAddress: fixed.ipAddress }, { macAddress: port.macAddress }, [ref]);

  if (location.kind === 'local') {
    b.put('localPorts', { interfaceName: location.interfaceName }, localPortValue(port, vni), [ref]);
  }

  return {
    vni,
    networkId: network.id,
    local: location.kind === 'local' ? location.interfaceName : null,
    remote: location.kind === 'remote' && location.vtepIp !== node.vtepIp ? location.vtepIp : null,
  };
}

function portLocation(port: Port): Location | null {
  switch (port.binding.kind) {
    case 'local':
      return { kind: 'local', interfaceName: port.binding.interfaceName };
    case 'remote':
      return { kind: 'remote', vtepIp: port.binding.vtepIp };
    case 'none':
      return null;
  }
}

function localPortValue(port: Port, vni: number): TableValue<'localPorts'> {
  const pairs = port.allowedAddressPairs.map((p) => ({
    cidr: canonicalCidr(p.ipAddress) ?? p.ipAddress,
    macAddress: p.macAddress ?? port.macAddress,
  }));
  pairs.sort((x, y) => cmp(x.cidr, y.cidr) || cmp(x.macAddress, y.macAddress));
  return {
    portId: port.id,
    vni,
    macAddress: port.macAddress,
    ipAddresses: uniqueSorted(port.fixedIps.map((f) => f.ipAddress)),
    portSecurityEnabled: port.portSecurityEnabled,
    allowedAddressPairs: pairs.filter((p, i) => i === 0 || !samePair(p, pairs[i - 1])),
    adminStateUp: port.adminStateUp,
  };
}

const samePair = (a: { cidr: string; macAddress: string }, b: { cidr: string; macAddress: string } | undefined): boolean =>
  b !== undefined && a.cidr === b.cidr && a.macAddress === b.macAddress;

/** An associated floating IP's DNAT and SNAT-reverse entries. */
export function renderFloatingIp(b: RenderSink, index: RenderLookup, fip: FloatingIp, node: RenderNode): void {
  if (fip.portId === null || fip.fixedIpAddress === null) return; // not associated: nothing to forward
  const ref: ResourceRef = { kind: 'floatingIp', id: fip.id };
  const port = index.port(fip.portId);
  const network = port && index.network(port.networkId);
  if (!port || !network) {
    b.problem(ref, 'FAILED_PRECONDITION', `port ${fip.portId} or its network does not exist`);
    return;
  }
  if (network.type !== 'vxlan') {
    b.problem(ref, 'UNIMPLEMENTED', `port ${port.id} is on a ${network.type} network; provider networks are not implemented`);
    return;
  }
  const router = routerForFloatingIp(index, fip, port);
  const gw = router?.externalGateway;
  if (!router || !gw) {
    b.problem(
      ref,
      'FAILED_PRECONDITION',
      `no router connects ${fip.fixedIpAddress} (port ${port.id}) to external network ${fip.floatingNetworkId}`,
    );
    return;
  }
  const owners = [ref];
  b.put(
    'floatingIps',
    { floatingNetworkId: fip.floatingNetworkId, floatingIpAddress: fip.floatingIpAddress },
    {
      routerId: router.id,
      portId: port.id,
      fixedIpAddress: fip.fixedIpAddress,
      vni: network.segmentationId,
      gatewayVtepIp: gw.gatewayNodeVtepIp,
      gatewayIsLocal: gw.gatewayNodeVtepIp === node.vtepIp,
    },
    owners,
  );
  b.put(
    'fixedToFloating',
    { routerId: router.id, fixedIpAddress: fip.fixedIpAddress },
    { floatingNetworkId: fip.floatingNetworkId, floatingIpAddress: fip.floatingIpAddress },
    owners,
  );
}

/**
 * The router that carries a floating IP: one with an interface on the subnet
 * of the fixed IP and its external gateway on the floating network (the first
 * by id if, unusually, several qualify). Derived here rather than imported from
 * the model so that render depends on the model's types only.
 */
function routerForFloatingIp(index: RenderLookup, fip: FloatingIp, port: Port): Router | undefined {
  const fixed = fip.fixedIpAddress ?? '';
  const subnetId =
    port.fixedIps.find((f) => f.ipAddress === fixed)?.subnetId ?? index.subnetContaining(port.networkId, fixed)?.id;
  if (!subnetId) return undefined;
  return index
    .routersWithGatewayOn(fip.floatingNetworkId)
    .find((r) => r.interfaces.some((i) => i.subnetId === subnetId));
}
