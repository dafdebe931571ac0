// The whole desired state in memory, with the secondary indexes validation
// needs so that checking one resource costs O(size of that resource), not
// O(state):
//
//   VNI → VXLAN network; (physnet, VLAN) → VLAN network; physnet → flat network
//   network → subnets, network → ports
//   (network, MAC) → port; local interface name → port
//   (subnet, IP) → owner of that address: a port's fixed IP, a router interface,
//                  a router's external gateway, a floating IP
//   subnet → router with an interface on it
//   external network → routers whose gateway is on it
//   port → floating IPs; floating network → floating IPs;
//   subnet of the mapped fixed IP → floating IPs; (port, fixed IP) → floating IP
//
// The index trusts what it is given: only validated resources go in (plan.ts
// and sync.ts validate; the store loads what it committed). Stored resources
// are deeply frozen: callers get them by reference and must copy to change.
//
// Each put records the secondary keys the resource registered (its footprint)
// and removal unregisters exactly those, so the index stays exact even when
// removal happens after the things a key was derived from have changed.

import { type Cidr, cidrContains, parseCidr, parseIpv4 } from './ipv4.js';
import {
  type FloatingIp,
  type Network,
  type Port,
  RESOURCE_KINDS,
  type ResourceByKind,
  type ResourceKind,
  type Router,
  type Snapshot,
  type Stored,
  type Subnet,
  type Uuid,
} from './types.js';

export type IpOwnerKind = 'port' | 'routerInterface' | 'routerGateway' | 'floatingIp';

/** Who holds an address in a subnet. `id` is the port, router or floating IP. */
export interface IpOwner {
  readonly kind: IpOwnerKind;
  readonly id: Uuid;
}

/** A committed or planned change of one resource. */
export type PlannedChange = {
  [K in ResourceKind]: {
    type: 'added' | 'modified' | 'deleted';
    kind: K;
    id: Uuid;
    /** After the change; before it, for 'deleted'. */
    resource: ResourceByKind[K];
  };
}[ResourceKind];

interface Footprint {
  /** [subnetId, ip] pairs registered in the address-owner index. */
  ips: Array<readonly [Uuid, string]>;
  /** Floating IP: the subnet of the mapped fixed IP, if associated. */
  fixedSubnet?: Uuid;
}

const EMPTY_SET: ReadonlySet<Uuid> = Object.freeze(new Set<Uuid>());
const EMPTY_MAP: ReadonlyMap<string, IpOwner> = Object.freeze(new Map<string, IpOwner>());

type Entries = { [K in ResourceKind]: Map<Uuid, Stored<K>> };

export class ResourceIndex {
  private readonly entries: Entries = {
    network: new Map(),
    subnet: new Map(),
    port: new Map(),
    router: new Map(),
    floatingIp: new Map(),
  };
  /** Sorted ids per kind, built lazily and then kept sorted on insert/remove. */
  private readonly sorted = new Map<ResourceKind, string[]>();
  private readonly footprints = new Map<string, Footprint>();

  private readonly vni = new Map<number, Uuid>();
  private readonly vlan = new Map<string, Uuid>();
  private readonly flat = new Map<string, Uuid>();
  private readonly subnetsByNetwork = new Map<Uuid, Set<Uuid>>();
  private readonly portsByNetwork = new Map<Uuid, Set<Uuid>>();
  private readonly portByMac = new Map<string, Uuid>();
  private readonly portByInterface = new Map<string, Uuid>();
  private readonly cidrs = new Map<Uuid, Cidr>();
  private readonly owners = new Map<Uuid, Map<string, IpOwner>>();
  private readonly routerBySubnet = new Map<Uuid, Uuid>();
  private readonly gatewayRouters = new Map<Uuid, Set<Uuid>>();
  private readonly fipsByPort = new Map<Uuid, Set<Uuid>>();
  private readonly fipsByNetwork = new Map<Uuid, Set<Uuid>>();
  private readonly fipsByFixedSubnet = new Map<Uuid, Set<Uuid>>();
  private readonly fipByFixed = new Map<string, Uuid>();

  /** Builds an index from resources that are already valid (e.g. loaded from disk). */
  static fromStored(stored: Iterable<Stored>): ResourceIndex {
    const byKind = new Map<ResourceKind, Stored[]>();
    for (const s of stored) {
      const list = byKind.get(s.kind) ?? [];
      list.push(s);
      byKind.set(s.kind, list);
    }
    const index = new ResourceIndex();
    // Dependency order: addresses of gateways and floating IPs are located in subnets.
    for (const kind of RESOURCE_KINDS) {
      for (const s of byKind.get(kind) ?? []) index.put(kind, s.resource as never, s.revision);
    }
    return index;
  }

  // ---------------------------------------------------------------- primary

  get<K extends ResourceKind>(kind: K, id: Uuid): ResourceByKind[K] | undefined {
    return (this.entries[kind] as Map<Uuid, Stored<K>>).get(id)?.resource;
  }

  stored<K extends ResourceKind>(kind: K, id: Uuid): Stored<K> | undefined {
    return (this.entries[kind] as Map<Uuid, Stored<K>>).get(id);
  }

  has(kind: ResourceKind, id: Uuid): boolean {
    return this.entries[kind].has(id);
  }

  count(kind: ResourceKind): number {
    return this.entries[kind].size;
  }

  values<K extends ResourceKind>(kind: K): IterableIterator<Stored<K>> {
    return (this.entries[kind] as Map<Uuid, Stored<K>>).values();
  }

  /** All ids of a kind in ascending order. Do not modify the result. */
  sortedIds(kind: ResourceKind): readonly string[] {
    let ids = this.sorted.get(kind);
    if (!ids) {
      ids = [...this.entries[kind].keys()].sort();
      this.sorted.set(kind, ids);
    }
    return ids;
  }

  /** The whole state, each kind sorted by id. */
  snapshot(): Snapshot {
    const of = <K extends ResourceKind>(kind: K): ResourceByKind[K][] =>
      this.sortedIds(kind).map((id) => (this.entries[kind] as Map<Uuid, Stored<K>>).get(id)!.resource);
    return {
      networks: of('network'),
      subnets: of('subnet'),
      ports: of('port'),
      routers: of('router'),
      floatingIps: of('floatingIp'),
    };
  }

  // ---------------------------------------------------------------- secondary lookups

  networkByVni(vni: number): Uuid | undefined {
    return this.vni.get(vni);
  }

  networkByVlan(physnet: string, vlanId: number): Uuid | undefined {
    return this.vlan.get(vlanKey(physnet, vlanId));
  }

  flatNetworkOn(physnet: string): Uuid | undefined {
    return this.flat.get(physnet);
  }

  subnetsOf(networkId: Uuid): ReadonlySet<Uuid> {
    return this.subnetsByNetwork.get(networkId) ?? EMPTY_SET;
  }

  portsOf(networkId: Uuid): ReadonlySet<Uuid> {
    return this.portsByNetwork.get(networkId) ?? EMPTY_SET;
  }

  portWithMac(networkId: Uuid, mac: string): Uuid | undefined {
    return this.portByMac.get(`${networkId}|${mac}`);
  }

  portOnInterface(interfaceName: string): Uuid | undefined {
    return this.portByInterface.get(interfaceName);
  }

  /** The parsed CIDR of a subnet in the index. */
  cidrOf(subnetId: Uuid): Cidr | undefined {
    return this.cidrs.get(subnetId);
  }

  /** The subnet of `networkId` whose CIDR holds `ip` (subnets of a network never overlap). */
  subnetContaining(networkId: Uuid, ip: string): Subnet | undefined {
    const parsed = parseIpv4(ip);
    if (!parsed.ok) return undefined;
    for (const subnetId of this.subnetsOf(networkId)) {
      const cidr = this.cidrs.get(subnetId);
      if (cidr && cidrContains(cidr, parsed.value)) return this.get('subnet', subnetId);
    }
    return undefined;
  }

  ipOwner(subnetId: Uuid, ip: string): IpOwner | undefined {
    return this.owners.get(subnetId)?.get(ip);
  }

  ipOwnersIn(subnetId: Uuid): ReadonlyMap<string, IpOwner> {
    return this.owners.get(subnetId) ?? EMPTY_MAP;
  }

  routerOnSubnet(subnetId: Uuid): Uuid | undefined {
    return this.routerBySubnet.get(subnetId);
  }

  routersWithGatewayOn(networkId: Uuid): ReadonlySet<Uuid> {
    return this.gatewayRouters.get(networkId) ?? EMPTY_SET;
  }

  floatingIpsOfPort(portId: Uuid): ReadonlySet<Uuid> {
    return this.fipsByPort.get(portId) ?? EMPTY_SET;
  }

  floatingIpsOnNetwork(networkId: Uuid): ReadonlySet<Uuid> {
    return this.fipsByNetwork.get(networkId) ?? EMPTY_SET;
  }

  /** Floating IPs mapped to fixed IPs in this subnet. */
  floatingIpsViaSubnet(subnetId: Uuid): ReadonlySet<Uuid> {
    return this.fipsByFixedSubnet.get(subnetId) ?? EMPTY_SET;
  }

  floatingIpFor(portId: Uuid, fixedIp: string): Uuid | undefined {
    return this.fipByFixed.get(`${portId}|${fixedIp}`);
  }

  // ---------------------------------------------------------------- changes

  /** Inserts or replaces a resource (already validated). */
  put<K extends ResourceKind>(kind: K, resource: ResourceByKind[K], revision: number): Stored<K> {
    const map = this.entries[kind] as Map<Uuid, Stored<K>>;
    const id = resource.id;
    const previous = map.get(id);
    if (previous) this.unregister(kind, previous.resource);
    const stored = Object.freeze({ kind, resource: deepFreeze(resource), revision }) as Stored<K>;
    map.set(id, stored);
    this.register(kind, stored.resource);
    if (!previous) {
      const ids = this.sorted.get(kind);
      if (ids) ids.splice(upperBound(ids, id), 0, id);
    }
    return stored;
  }

  /** Changes only the revision of a resource already in the index. */
  setRevision(kind: ResourceKind, id: Uuid, revision: number): void {
    const map = this.entries[kind] as Map<Uuid, Stored>;
    const s = map.get(id);
    if (s && s.revision !== revision) map.set(id, Object.freeze({ kind, resource: s.resource, revision }));
  }

  remove(kind: ResourceKind, id: Uuid): void {
    const map = this.entries[kind] as Map<Uuid, Stored>;
    const previous = map.get(id);
    if (!previous) return;
    this.unregister(kind, previous.resource);
    map.delete(id);
    const ids = this.sorted.get(kind);
    if (ids) {
      const at = upperBound(ids, id) - 1;
      if (ids[at] === id) ids.splice(at, 1);
    }
  }

  /** Applies planned changes (deletions first, then additions in kind order) at a revision. */
  apply(changes: readonly PlannedChange[], revision: number): void {
    for (const c of changes) if (c.type === 'deleted') this.remove(c.kind, c.id);
    for (const kind of RESOURCE_KINDS) {
      for (const c of changes) if (c.type !== 'deleted' && c.kind === kind) this.put(c.kind, c.resource as never, revision);
    }
  }

  // ---------------------------------------------------------------- footprint bookkeeping

  private register(kind: ResourceKind, r: ResourceByKind[ResourceKind]): void {
    switch (kind) {
      case 'network':
        return this.registerNetwork(r as Network);
      case 'subnet':
        return this.registerSubnet(r as Subnet);
      case 'port':
        return this.registerPort(r as Port);
      case 'router':
        return this.registerRouter(r as Router);
      case 'floatingIp':
        return this.registerFloatingIp(r as FloatingIp);
    }
  }

  private unregister(kind: ResourceKind, r: ResourceByKind[ResourceKind]): void {
    const key = `${kind}/${r.id}`;
    const fp = this.footprints.get(key);
    this.footprints.delete(key);
    for (const [subnetId, ip] of fp?.ips ?? []) {
      const m = this.owners.get(subnetId);
      const o = m?.get(ip);
      if (m && o && o.id === r.id && ownerKindOf(kind, o.kind)) {
        m.delete(ip);
        if (m.size === 0) this.owners.delete(subnetId);
      }
    }
    switch (kind) {
      case 'network': {
        const n = r as Network;
        if (n.type === 'vxlan') dropIf(this.vni, n.segmentationId, n.id);
        else if (n.type === 'vlan' && n.physicalNetwork !== null) dropIf(this.vlan, vlanKey(n.physicalNetwork, n.segmentationId), n.id);
        else if (n.type === 'flat' && n.physicalNetwork !== null) dropIf(this.flat, n.physicalNetwork, n.id);
        return;
      }
      case 'subnet': {
        const s = r as Subnet;
        removeFromSet(this.subnetsByNetwork, s.networkId, s.id);
        this.cidrs.delete(s.id);
        return;
      }
      case 'port': {
        const p = r as Port;
        removeFromSet(this.portsByNetwork, p.networkId, p.id);
        dropIf(this.portByMac, `${p.networkId}|${p.macAddress}`, p.id);
        if (p.binding.kind === 'local') dropIf(this.portByInterface, p.binding.interfaceName, p.id);
        return;
      }
      case 'router': {
        const rt = r as Router;
        for (const i of rt.interfaces) dropIf(this.routerBySubnet, i.subnetId, rt.id);
        if (rt.externalGateway) removeFromSet(this.gatewayRouters, rt.externalGateway.networkId, rt.id);
        return;
      }
      case 'floatingIp': {
        const f = r as FloatingIp;
        removeFromSet(this.fipsByNetwork, f.floatingNetworkId, f.id);
        if (f.portId !== null) {
          removeFromSet(this.fipsByPort, f.portId, f.id);
          if (f.fixedIpAddress !== null) dropIf(this.fipByFixed, `${f.portId}|${f.fixedIpAddress}`, f.id);
        }
        if (fp?.fixedSubnet) removeFromSet(this.fipsByFixedSubnet, fp.fixedSubnet, f.id);
        return;
      }
    }
  }

  private claim(fp: Footprint, subnetId: Uuid, ip: string, owner: IpOwner): void {
    let m = this.owners.get(subnetId);
    if (!m) this.owners.set(subnetId, (m = new Map()));
    m.set(ip, owner);
    fp.ips.push([subnetId, ip]);
  }

  private registerNetwork(n: Network): void {
    if (n.type === 'vxlan') this.vni.set(n.segmentationId, n.id);
    else if (n.type === 'vlan' && n.physicalNetwork !== null) this.vlan.set(vlanKey(n.physicalNetwork, n.segmentationId), n.id);
    else if (n.type === 'flat' && n.physicalNetwork !== null) this.flat.set(n.physicalNetwork, n.id);
  }

  private registerSubnet(s: Subnet): void {
    addToSet(this.subnetsByNetwork, s.networkId, s.id);
    const c = parseCidr(s.cidr);
    if (c.ok) this.cidrs.set(s.id, c.value);
  }

  private registerPort(p: Port): void {
    const fp: Footprint = { ips: [] };
    addToSet(this.portsByNetwork, p.networkId, p.id);
    this.portByMac.set(`${p.networkId}|${p.macAddress}`, p.id);
    if (p.binding.kind === 'local') this.portByInterface.set(p.binding.interfaceName, p.id);
    const owner: IpOwner = { kind: 'port', id: p.id };
    for (const f of p.fixedIps) this.claim(fp, f.subnetId, f.ipAddress, owner);
    this.footprints.set(`port/${p.id}`, fp);
  }

  private registerRouter(r: Router): void {
    const fp: Footprint = { ips: [] };
    const iface: IpOwner = { kind: 'routerInterface', id: r.id };
    for (const i of r.interfaces) {
      this.routerBySubnet.set(i.subnetId, r.id);
      this.claim(fp, i.subnetId, i.ipAddress, iface);
    }
    const gw = r.externalGateway;
    if (gw) {
      addToSet(this.gatewayRouters, gw.networkId, r.id);
      const subnet = this.subnetContaining(gw.networkId, gw.ipAddress);
      if (subnet) this.claim(fp, subnet.id, gw.ipAddress, { kind: 'routerGateway', id: r.id });
    }
    this.footprints.set(`router/${r.id}`, fp);
  }

  private registerFloatingIp(f: FloatingIp): void {
    const fp: Footprint = { ips: [] };
    addToSet(this.fipsByNetwork, f.floatingNetworkId, f.id);
    const subnet = this.subnetContaining(f.floatingNetworkId, f.floatingIpAddress);
    if (subnet) this.claim(fp, subnet.id, f.floatingIpAddress, { kind: 'floatingIp', id: f.id });
    if (f.portId !== null) {
      addToSet(this.fipsByPort, f.portId, f.id);
      if (f.fixedIpAddress !== null) {
        this.fipByFixed.set(`${f.portId}|${f.fixedIpAddress}`, f.id);
        const port = this.get('port', f.portId);
        const fixed = port?.fixedIps.find((x) => x.ipAddress === f.fixedIpAddress);
        if (fixed) {
          fp.fixedSubnet = fixed.subnetId;
          addToSet(this.fipsByFixedSubnet, fixed.subnetId, f.id);
        }
      }
    }
    this.footprints.set(`floatingIp/${f.id}`, fp);
  }
}

function ownerKindOf(kind: ResourceKind, owner: IpOwnerKind): boolean {
  switch (kind) {
    case 'port':
      return owner === 'port';
    case 'router':
      return owner === 'routerInterface' || owner === 'routerGateway';
    case 'floatingIp':
      return owner === 'floatingIp';
    default:
      return false;
  }
}

function vlanKey(physnet: string, vlanId: number): string {
  return `${physnet}\u0000${vlanId}`;
}

function dropIf<K>(map: Map<K, Uuid>, key: K, id: Uuid): void {
  if (map.get(key) === id) map.delete(key);
}

function addToSet(map: Map<Uuid, Set<Uuid>>, key: Uuid, id: Uuid): void {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  s.add(id);
}

function removeFromSet(map: Map<Uuid, Set<Uuid>>, key: Uuid, id: Uuid): void {
  const s = map.get(key);
  if (!s) return;
  s.delete(id);
  if (s.size === 0) map.delete(key);
}

/** First position whose element is greater than `id`. */
export function upperBound(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as string) <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
