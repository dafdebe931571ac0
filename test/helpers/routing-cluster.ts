// Two tenants' routers over the two-hypervisor overlay of overlay-cluster.ts,
// for the routing end-to-end tests (test/e2e/routing-*.test.ts):
//
//   const cluster = useRoutingCluster();            // built in beforeAll, torn down in afterAll
//   it('routes', async () => {
//     const c = cluster();
//     expect(await c.ping('a1', c.vm('a4').ip, 3)).toBe(3);
//   });
//
// What it builds on the overlay cluster's nodes, underlay and VM veths
// (routed underlay: the `rtr` namespace between the nodes sees every
// encapsulated frame):
//
//   tenant alpha, router A          tenant beta, router B (the same addresses)
//     s1 10.1.0.0/24 VNI 101          s1 10.1.0.0/24 VNI 201
//     s2 10.2.0.0/24 VNI 102          s2 10.2.0.0/24 VNI 202
//   hv1: a1 10.1.0.11 (s1)          hv1: b1 10.1.0.11 (s1, a1's MAC)
//        a2 10.2.0.12 (s2)
//   hv2: a3 10.1.0.13 (s1)          hv2: b4 10.2.0.14 (s2, a4's MAC)
//        a4 10.2.0.14 (s2)
//
// - Each router has an interface on both of its tenant's subnets at the
//   subnet's gateway (.1), no external gateway; each VM's default route is
//   its subnet's gateway.
// - The overlay cluster is made with no daemon of its own (its red and blue
//   networks are never created); this helper starts xdpnetd on both nodes
//   through it and programs them over gRPC as orchestration would: the same
//   networks, subnets, routers and ports on both, a port bound `local` on the
//   node hosting its VM and `remote` elsewhere.

import { randomUUID } from 'node:crypto';
import { afterAll } from 'vitest';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { routerMac } from '../../src/reconciler/router-mac.js';
import { HVS, type HvName, OverlayCluster, type VmSpec, sleep } from './overlay-cluster.js';
import { type Topology, useTopology } from './netns.js';

export type RoutingTenant = 'alpha' | 'beta';
export type SubnetNo = 1 | 2;

export const TENANTS: readonly RoutingTenant[] = ['alpha', 'beta'];
export const SUBNETS: readonly SubnetNo[] = [1, 2];
export const ROUTING_VNI: Record<RoutingTenant, Record<SubnetNo, number>> = { alpha: { 1: 101, 2: 102 }, beta: { 1: 201, 2: 202 } };
export const ROUTING_CIDR: Record<SubnetNo, string> = { 1: '10.1.0.0/24', 2: '10.2.0.0/24' };
/** Each subnet's gateway: the router's interface address. */
export const GATEWAY: Record<SubnetNo, string> = { 1: '10.1.0.1', 2: '10.2.0.1' };

export interface RoutingVmSpec {
  name: string;
  hv: HvName;
  tenant: RoutingTenant;
  subnet: SubnetNo;
  ip: string;
  mac: string;
}

export interface RoutingVm extends RoutingVmSpec {
  portId: string;
  tap: string;
}

export const ROUTING_VMS: readonly RoutingVmSpec[] = [
  { name: 'a1', hv: 'hv1', tenant: 'alpha', subnet: 1, ip: '10.1.0.11', mac: 'fa:16:3e:01:00:11' },
  { name: 'a2', hv: 'hv1', tenant: 'alpha', subnet: 2, ip: '10.2.0.12', mac: 'fa:16:3e:02:00:12' },
  { name: 'a3', hv: 'hv2', tenant: 'alpha', subnet: 1, ip: '10.1.0.13', mac: 'fa:16:3e:01:00:13' },
  { name: 'a4', hv: 'hv2', tenant: 'alpha', subnet: 2, ip: '10.2.0.14', mac: 'fa:16:3e:02:00:14' },
  { name: 'b1', hv: 'hv1', tenant: 'beta', subnet: 1, ip: '10.1.0.11', mac: 'fa:16:3e:01:00:11' },
  { name: 'b4', hv: 'hv2', tenant: 'beta', subnet: 2, ip: '10.2.0.14', mac: 'fa:16:3e:02:00:14' },
];

type Status = pb.ResourceStatus__Output | null;

export class RoutingCluster {
  readonly networks: Record<RoutingTenant, Record<SubnetNo, pb.Network>>;
  readonly subnets: Record<RoutingTenant, Record<SubnetNo, pb.Subnet>>;
  readonly routers: Record<RoutingTenant, pb.Router>;
  private readonly vmByName = new Map<string, RoutingVm>();

  private constructor(readonly overlay: OverlayCluster) {
    for (const spec of ROUTING_VMS) this.vmByName.set(spec.name, { ...spec, portId: randomUUID(), tap: `tap${spec.name}` });
    const per = <T>(make: (tenant: RoutingTenant, s: SubnetNo) => T): Record<RoutingTenant, Record<SubnetNo, T>> => ({
      alpha: { 1: make('alpha', 1), 2: make('alpha', 2) },
      beta: { 1: make('beta', 1), 2: make('beta', 2) },
    });
    this.networks = per((tenant, s) => ({ id: randomUUID(), name: `${tenant}-${s}`, type: 'NETWORK_TYPE_VXLAN', segmentationId: ROUTING_VNI[tenant][s] }));
    this.subnets = per((tenant, s) => ({
      id: randomUUID(),
      name: `${tenant}-${s}-sub`,
      networkId: this.networks[tenant][s].id!,
      cidr: ROUTING_CIDR[s],
      gatewayIp: GATEWAY[s],
      enableDhcp: false,
    }));
    this.routers = { alpha: { id: randomUUID(), name: 'router-alpha' }, beta: { id: randomUUID(), name: 'router-beta' } };
  }

  /** Builds everything, starts both daemons, programs them and waits until every resource is ACTIVE on both. */
  static async create(topo: Topology): Promise<RoutingCluster> {
    // The overlay cluster's VM specs: its tenant field names its own networks, which are never created here.
    const vms: VmSpec[] = ROUTING_VMS.map(({ name, hv, ip, mac }) => ({ name, hv, ip, mac, tenant: 'red' }));
    const overlay = await OverlayCluster.create(topo, { vms, underlay: 'routed', daemons: [] });
    const cluster = new RoutingCluster(overlay);
    try {
      for (const vm of cluster.vms()) await topo.exec(vm.name, ['ip', 'route', 'add', 'default', 'via', GATEWAY[vm.subnet]]);
      await Promise.all(HVS.map((hv) => overlay.startDaemon(hv)));
      await Promise.all(HVS.map((hv) => cluster.program(hv)));
      await Promise.all(HVS.map((hv) => cluster.waitConverged(hv)));
    } catch (err) {
      await overlay.cleanup();
      throw err;
    }
    return cluster;
  }

  get topo(): Topology {
    return this.overlay.topo;
  }

  vms(): RoutingVm[] {
    return [...this.vmByName.values()];
  }

  vm(name: string): RoutingVm {
    const vm = this.vmByName.get(name);
    if (!vm) throw new Error(`no VM ${JSON.stringify(name)} in this cluster`);
    return vm;
  }

  /** The router's MAC: the source of every frame it routes, on every network. */
  routerMac(tenant: RoutingTenant): string {
    return routerMac(this.routers[tenant].id!);
  }

  // ------------------------------------------------------------- programming

  portFor(name: string, hv: HvName): pb.Port {
    const vm = this.vm(name);
    return {
      id: vm.portId,
      name: vm.name,
      networkId: this.networks[vm.tenant][vm.subnet].id!,
      macAddress: vm.mac,
      fixedIps: [{ subnetId: this.subnets[vm.tenant][vm.subnet].id!, ipAddress: vm.ip }],
      deviceOwner: 'compute:nova',
      ...(vm.hv === hv ? { local: { interfaceName: vm.tap } } : { remote: { vtepIp: this.overlay.vtep[vm.hv] } }),
    };
  }

  /** Networks, subnets, routers with their interfaces, then every VM's port, on hv's daemon. */
  async program(hv: HvName): Promise<void> {
    const a = this.overlay.api(hv);
    for (const tenant of TENANTS) {
      for (const s of SUBNETS) {
        await a.createNetwork(this.networks[tenant][s]);
        await a.createSubnet(this.subnets[tenant][s]);
      }
      await a.createRouter(this.routers[tenant]);
      for (const s of SUBNETS) await this.addInterfaceOn(hv, tenant, s);
    }
    for (const vm of this.vms()) await a.createPort(this.portFor(vm.name, hv));
  }

  /** The router's interface on the subnet (at its gateway IP), on hv's daemon. */
  async addInterfaceOn(hv: HvName, tenant: RoutingTenant, s: SubnetNo): Promise<void> {
    await this.overlay.api(hv).addRouterInterface({ routerId: this.routers[tenant].id!, subnetId: this.subnets[tenant][s].id! });
  }

  /** Adds the router interface on both nodes and waits until both have converged. */
  async addInterface(tenant: RoutingTenant, s: SubnetNo): Promise<void> {
    for (const hv of HVS) await this.addInterfaceOn(hv, tenant, s);
    await Promise.all(HVS.map((hv) => this.waitConverged(hv)));
  }

  /** Removes the router interface on both nodes and waits until both have converged. */
  async removeInterface(tenant: RoutingTenant, s: SubnetNo): Promise<void> {
    for (const hv of HVS) {
      await this.overlay.api(hv).removeRouterInterface({ routerId: this.routers[tenant].id!, subnetId: this.subnets[tenant][s].id! });
    }
    await Promise.all(HVS.map((hv) => this.waitConverged(hv)));
  }

  /** Every resource on hv's daemon with its status (and the revision the status must reach). */
  async resources(hv: HvName): Promise<{ kind: string; r: { id: string; name: string; revision: string; status: Status } }[]> {
    const a = this.overlay.api(hv);
    const page = { pageSize: 1000 };
    const [networks, subnets, ports, routers] = await Promise.all([a.listNetworks(page), a.listSubnets(page), a.listPorts(page), a.listRouters(page)]);
    return [
      ...networks.networks.map((r) => ({ kind: 'network', r })),
      ...subnets.subnets.map((r) => ({ kind: 'subnet', r })),
      ...ports.ports.map((r) => ({ kind: 'port', r })),
      ...routers.routers.map((r) => ({ kind: 'router', r })),
    ];
  }

  /**
   * Waits until every network, subnet, port and router on hv's daemon is
   * ACTIVE at its current revision; fails at once on a current ERROR, except
   * for the resources named in `allowError` (by id), which only need a
   * current status.
   */
  async waitConverged(hv: HvName, opts: { timeoutMs?: number; allowError?: readonly string[] } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    const allowError = new Set(opts.allowError ?? []);
    // A status at or after the resource's own revision describes it as it is now (see OverlayCluster.waitConverged).
    const current = (r: { revision: string; status: Status }) => r.status !== null && BigInt(r.status.revision) >= BigInt(r.revision);
    for (;;) {
      const all = await this.resources(hv);
      const failed = all.find(({ r }) => r.status?.state === 'RESOURCE_STATE_ERROR' && current(r) && !allowError.has(r.id));
      if (failed) {
        const s = failed.r.status!;
        throw new Error(`${hv}: ${failed.kind} ${failed.r.name} (${failed.r.id}) is in ERROR: ${s.code}: ${s.message}\n${this.logs()}`);
      }
      const settled = (r: { id: string; revision: string; status: Status }) =>
        current(r) && (r.status!.state === 'RESOURCE_STATE_ACTIVE' || (allowError.has(r.id) && r.status!.state === 'RESOURCE_STATE_ERROR'));
      const pending = all.filter(({ r }) => !settled(r));
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        const what = pending.map(({ kind, r }) => `${kind} ${r.name} (revision ${r.revision}): ${JSON.stringify(r.status)}`).join(', ');
        throw new Error(`${hv}: not converged: ${what}\n${this.logs()}`);
      }
      await sleep(50);
    }
  }

  /** The daemons' last log lines, for failure messages. */
  logs(lines = 40): string {
    return HVS.map((hv) => {
      let text = '';
      try {
        text = this.overlay.daemon(hv).logs;
      } catch {
        /* not started */
      }
      return `--- ${hv} xdpnetd\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
    }).join('\n');
  }

  // ------------------------------------------------------------- traffic and counters

  /** Pings `target` from VM `from`; the number of replies. */
  ping(from: string, target: string, count = 1): Promise<number> {
    return this.overlay.topo.ping(this.vm(from).name, target, { count, timeoutMs: Math.max(3_000, count * 400 + 2_000) });
  }

  /** How much each reason counter of each node moved while `action` ran. */
  async deltas(action: () => Promise<unknown>): Promise<Record<HvName, Record<string, number>>> {
    let hv2: Record<string, number> = {};
    const hv1 = await this.overlay.reasonDelta('hv1', async () => {
      hv2 = await this.overlay.reasonDelta('hv2', action);
    });
    return { hv1, hv2 };
  }

  async cleanup(): Promise<void> {
    await this.overlay.cleanup();
  }
}

/**
 * A RoutingCluster for the tests of the enclosing describe block: built in
 * beforeAll (its topology destroyed if that fails), daemons killed and
 * namespaces removed in afterAll, pass or fail.
 */
export function useRoutingCluster(): () => RoutingCluster {
  let cluster: RoutingCluster | undefined;
  useTopology({
    timeoutMs: 120_000,
    setup: async (t) => {
      cluster = await RoutingCluster.create(t);
    },
  });
  afterAll(async () => {
    await cluster?.cleanup();
    cluster = undefined;
  }, 60_000);
  return () => {
    if (!cluster) throw new Error('useRoutingCluster(): no cluster (called outside a test, or set-up failed)');
    return cluster;
  };
}
