// A two-hypervisor VXLAN overlay in network namespaces, for the overlay
// end-to-end tests (test/e2e/overlay-*.test.ts):
//
//   const cluster = useOverlayCluster();            // built in beforeAll, torn down in afterAll
//   it('pings across nodes', async () => {
//     const c = cluster();
//     expect(await c.ping('r1', c.vm('r2').ip, 3)).toBe(3);
//   });
//
// What it builds (default layout; `vms` and `underlay` change it):
//
//        r1 10.0.0.11  r3 10.0.0.13  b1 10.0.0.11          r2 10.0.0.12  b2 10.0.0.12
//          (red)         (red)        (blue)                 (red)         (blue)
//            |tapr1        |tapr3       |tapb1                 |tapr2        |tapb2
//        +---------------- hv1 ---------------+             +------- hv2 ---------+
//        |  xdpnetd (dataplane bpf)           |   eth0      |  xdpnetd            |
//        |  VTEP 192.0.2.1           eth0 ----+-------------+- eth0 VTEP 192.0.2.2|
//        +------------------------------------+  underlay   +---------------------+
//
// - Two tenant networks, red (VNI 100) and blue (VNI 200), both 10.0.0.0/24.
//   b1 has r1's IP and MAC, b2 has r2's: only the VNI tells them apart, so
//   isolation is meaningful.
// - Every VM is a namespace with one veth `eth0` (MTU 1450, the VXLAN
//   network's default); the host side `tap<name>` is in its hypervisor's
//   namespace and is the port's binding there. The VM side has a
//   pass-everything XDP program and TX checksum offload off, for reasons
//   of veth a real tap does not share (addVmInterface says which).
// - Each hypervisor runs a real xdpnetd (bin/xdpnetd, dataplane bpf, pins
//   under the topology's bpffs directory) inside its namespace, programmed
//   over its gRPC API as orchestration would: both get the same networks,
//   subnets and ports; a port is bound `local` on the node hosting the VM and
//   `remote` (its VTEP) on the other.
// - `underlay: 'routed'` puts a router namespace between the nodes (hv1 in
//   192.0.2.0/24, hv2 in 198.51.100.0/24), so the underlay next hop of a
//   remote VTEP is the router, not the VTEP; the router is also a place to
//   capture every encapsulated frame (on a node's own underlay interface a
//   capture misses what XDP redirects: it bypasses the kernel's taps).
// - `daemons: ['hv1']` leaves hv2 without xdpnetd, for a test to make it
//   something else (the interop test's Linux vxlan node).
//
// Traffic tools for the tests live here too: TCP and UDP echo (small Node
// programs spawned inside the VMs), UDP listeners, raw frames (python3,
// AF_PACKET), continuous ping, and captures (tcpdump to a pcap file, read back
// here and decoded with frames.ts or tshark).

import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { type Api, api } from './api.js';
import { TestDaemon } from './daemon.js';
import { type SpawnedProcess, type Topology, useTopology } from './netns.js';

// ---------------------------------------------------------------------------
// The layout

export type HvName = 'hv1' | 'hv2';
export type Tenant = 'red' | 'blue';

export const HVS: readonly HvName[] = ['hv1', 'hv2'];
export const VNI: Record<Tenant, number> = { red: 100, blue: 200 };
export const TENANT_CIDR = '10.0.0.0/24';
/** The tenant networks' MTU (the VXLAN default: 1500 minus 50 bytes of encapsulation). */
export const TENANT_MTU = 1450;

export interface VmSpec {
  /** Short name: the VM's namespace, and `tap<name>` is its host-side interface. */
  name: string;
  hv: HvName;
  tenant: Tenant;
  ip: string;
  mac: string;
}

export interface Vm extends VmSpec {
  /** The Neutron port id, the same on both nodes. */
  portId: string;
  /** Host-side interface in the hypervisor's namespace (the port's local binding). */
  tap: string;
}

/** r1/r3 on hv1 and r2 on hv2 in red; b1 (r1's IP and MAC) on hv1 and b2 (r2's) on hv2 in blue. */
export const DEFAULT_VMS: readonly VmSpec[] = [
  { name: 'r1', hv: 'hv1', tenant: 'red', ip: '10.0.0.11', mac: 'fa:16:3e:00:00:11' },
  { name: 'r3', hv: 'hv1', tenant: 'red', ip: '10.0.0.13', mac: 'fa:16:3e:00:00:13' },
  { name: 'b1', hv: 'hv1', tenant: 'blue', ip: '10.0.0.11', mac: 'fa:16:3e:00:00:11' },
  { name: 'r2', hv: 'hv2', tenant: 'red', ip: '10.0.0.12', mac: 'fa:16:3e:00:00:12' },
  { name: 'b2', hv: 'hv2', tenant: 'blue', ip: '10.0.0.12', mac: 'fa:16:3e:00:00:12' },
];

interface UnderlayPlan {
  vtep: Record<HvName, string>;
  /** hv's underlay address with prefix, and its default gateway if routed. */
  address: Record<HvName, string>;
  gateway: Record<HvName, string | undefined>;
}

const DIRECT: UnderlayPlan = {
  vtep: { hv1: '192.0.2.1', hv2: '192.0.2.2' },
  address: { hv1: '192.0.2.1/24', hv2: '192.0.2.2/24' },
  gateway: { hv1: undefined, hv2: undefined },
};

const ROUTED: UnderlayPlan = {
  vtep: { hv1: '192.0.2.1', hv2: '198.51.100.2' },
  address: { hv1: '192.0.2.1/24', hv2: '198.51.100.2/24' },
  gateway: { hv1: '192.0.2.254', hv2: '198.51.100.254' },
};

/** The router namespace's interfaces in a routed underlay: `to-hv1` faces hv1, `to-hv2` faces hv2. */
export const ROUTER_NS = 'rtr';

export interface OverlayClusterOptions {
  vms?: readonly VmSpec[];
  /** 'direct' (default): one veth between the nodes. 'routed': a router namespace between them. */
  underlay?: 'direct' | 'routed';
  /** Merged over each daemon's configuration. */
  daemonConfig?: Record<string, unknown>;
  /**
   * The nodes that run xdpnetd (default both). A node left out gets its
   * namespaces, underlay address and VM veths only, for the test to set up
   * otherwise (e.g. the kernel's own vxlan device, in the interop test).
   */
  daemons?: readonly HvName[];
  /** Runs once everything above is up and converged (e.g. the kernel vxlan node's set-up). */
  setup?: (cluster: OverlayCluster) => Promise<void>;
}

/**
 * Temp directories (daemon state, captures) not yet removed by their owner:
 * removed at process exit as a last resort, e.g. when a failing test never
 * stops its capture.
 */
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** The VMs' own XDP program (see addVmInterface): every frame goes on to the VM's stack. */
const VM_XDP_PASS_SOURCE = `#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int vm_xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`;

/** Debian's multiarch directory for asm/types.h, e.g. x86_64-linux-gnu. */
function archTriplet(): string {
  const machine = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  return `${machine}-linux-gnu`;
}

// ---------------------------------------------------------------------------
// The cluster

export class OverlayCluster {
  readonly vtep: Record<HvName, string>;
  private readonly vmByName = new Map<string, Vm>();
  private readonly daemons = new Map<HvName, TestDaemon>();
  private readonly apis = new Map<HvName, Api>();
  readonly networks: Record<Tenant, pb.Network>;
  readonly subnets: Record<Tenant, pb.Subnet>;
  /** The daemons' directories (config, socket, state) and the VMs' XDP object; removed by cleanup(). */
  private readonly stateRoot = makeTempDir('xdpnet-overlay-');

  private constructor(
    readonly topo: Topology,
    private readonly plan: UnderlayPlan,
    readonly routed: boolean,
    vms: readonly VmSpec[],
    private readonly daemonConfig: Record<string, unknown>,
    /** The nodes running xdpnetd. */
    readonly daemonHvs: readonly HvName[],
  ) {
    this.vtep = plan.vtep;
    for (const spec of vms) this.vmByName.set(spec.name, { ...spec, portId: randomUUID(), tap: `tap${spec.name}` });
    const network = (tenant: Tenant): pb.Network => ({
      id: randomUUID(),
      name: tenant,
      type: 'NETWORK_TYPE_VXLAN',
      segmentationId: VNI[tenant],
    });
    this.networks = { red: network('red'), blue: network('blue') };
    const subnet = (tenant: Tenant): pb.Subnet => ({
      id: randomUUID(),
      name: `${tenant}-sub`,
      networkId: this.networks[tenant].id!,
      cidr: TENANT_CIDR,
      enableDhcp: false,
    });
    this.subnets = { red: subnet('red'), blue: subnet('blue') };
  }

  /**
   * Builds the namespaces and links, starts both daemons, programs them and
   * waits until every resource is ACTIVE on both. On failure the daemons are
   * stopped (the caller's topology removes the rest).
   */
  static async create(topo: Topology, opts: OverlayClusterOptions = {}): Promise<OverlayCluster> {
    const routed = opts.underlay === 'routed';
    const daemons = opts.daemons ?? HVS;
    const cluster = new OverlayCluster(topo, routed ? ROUTED : DIRECT, routed, opts.vms ?? DEFAULT_VMS, opts.daemonConfig ?? {}, daemons);
    try {
      await cluster.buildUnderlay();
      for (const vm of cluster.vms()) await cluster.addVmInterface(vm.name);
      await Promise.all(daemons.map((hv) => cluster.startDaemon(hv)));
      await Promise.all(daemons.map((hv) => cluster.program(hv)));
      await Promise.all(daemons.map((hv) => cluster.waitConverged(hv)));
      await opts.setup?.(cluster);
    } catch (err) {
      await cluster.cleanup();
      throw err;
    }
    return cluster;
  }

  vms(): Vm[] {
    return [...this.vmByName.values()];
  }

  vm(name: string): Vm {
    const vm = this.vmByName.get(name);
    if (!vm) throw new Error(`no VM ${JSON.stringify(name)} in this cluster`);
    return vm;
  }

  // ------------------------------------------------------------- topology

  private async buildUnderlay(): Promise<void> {
    const t = this.topo;
    for (const hv of HVS) await t.addNamespace(hv, { disableIpv6: true });
    if (!this.routed) {
      await t.addVeth({
        a: { ns: 'hv1', name: 'eth0', ip: this.plan.address.hv1 },
        b: { ns: 'hv2', name: 'eth0', ip: this.plan.address.hv2 },
      });
      return;
    }
    await t.addNamespace(ROUTER_NS, { disableIpv6: true });
    await t.exec(ROUTER_NS, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await t.addVeth({ a: { ns: 'hv1', name: 'eth0', ip: this.plan.address.hv1 }, b: { ns: ROUTER_NS, name: 'to-hv1', ip: '192.0.2.254/24' } });
    await t.addVeth({ a: { ns: 'hv2', name: 'eth0', ip: this.plan.address.hv2 }, b: { ns: ROUTER_NS, name: 'to-hv2', ip: '198.51.100.254/24' } });
    for (const hv of HVS) await t.exec(hv, ['ip', 'route', 'add', 'default', 'via', this.plan.gateway[hv]!]);
    // The nodes' port programs XDP-redirect encapsulated frames out of their
    // underlay veth; the kernel delivers such a frame to the veth's peer only
    // if the peer runs XDP or has GRO on. A physical router's NIC has no such
    // need; the router namespace's veths get GRO.
    for (const dev of ['to-hv1', 'to-hv2']) await t.exec(ROUTER_NS, ['ethtool', '-K', dev, 'gro', 'on']);
  }

  /**
   * Creates the VM's namespace (once) and its veth: `eth0` in the VM with its
   * IP and MAC, `tap<name>` in the hypervisor. Also used to recreate a
   * deleted interface.
   */
  async addVmInterface(name: string): Promise<void> {
    const vm = this.vm(name);
    const t = this.topo;
    if (!this.hasNamespace(vm.name)) await t.addNamespace(vm.name, { disableIpv6: true });
    await t.addVeth({
      a: { ns: vm.name, name: 'eth0', ip: `${vm.ip}/24`, mac: vm.mac },
      b: { ns: vm.hv, name: vm.tap },
      mtu: TENANT_MTU,
    });
    // The port program sends frames into the tap (XDP_REDIRECT from other
    // ports and from the underlay, XDP_TX for ARP replies); a veth delivers
    // them to its peer, the VM's eth0, only through the peer's NAPI. GRO on
    // the peer enables that NAPI and is enough for redirects (the devmap
    // flush schedules it), not for XDP_TX: the kernel's veth_xdp_flush()
    // schedules the peer's NAPI only if the peer has an XDP program, so an
    // ARP reply would wait in the peer's ring until some later redirect.
    // Hence a pass-everything XDP program on the VM's eth0. A tap on a real
    // hypervisor has no such need.
    await t.exec(vm.name, ['ip', 'link', 'set', 'dev', 'eth0', 'xdpdrv', 'obj', await this.vmXdpPassObject(), 'sec', 'xdp']);
    // The VM computes its TCP/UDP checksums itself. With TX checksum offload
    // a veth hands the tap's XDP program packets whose L4 checksum is only
    // the pseudo-header seed (CHECKSUM_PARTIAL), which XDP cannot see, let
    // alone finish: forwarded as they are, they reach the other VM with a bad
    // checksum and are dropped there. (A virtio guest behind a real tap
    // raises the same question: xdp_port forwards what it is given.)
    await t.exec(vm.name, ['ethtool', '-K', 'eth0', 'tx', 'off']);
  }

  private vmXdpPass: Promise<string> | undefined;

  /** A BPF object whose one XDP program passes every frame, compiled once per cluster. */
  private vmXdpPassObject(): Promise<string> {
    this.vmXdpPass ??= (async () => {
      const src = join(this.stateRoot, 'vm_xdp_pass.bpf.c');
      const obj = join(this.stateRoot, 'vm_xdp_pass.bpf.o');
      writeFileSync(src, VM_XDP_PASS_SOURCE);
      await this.topo.exec(null, ['clang', '-O2', '-g', '-target', 'bpf', `-I/usr/include/${archTriplet()}`, '-c', src, '-o', obj]);
      return obj;
    })();
    return this.vmXdpPass;
  }

  /** Deletes the VM's veth pair (both ends), as when a VM's tap disappears. */
  async deleteVmInterface(name: string): Promise<void> {
    const vm = this.vm(name);
    await this.topo.exec(vm.hv, ['ip', 'link', 'del', vm.tap]);
  }

  private hasNamespace(short: string): boolean {
    try {
      this.topo.nsName(short);
      return true;
    } catch {
      return false;
    }
  }

  // ------------------------------------------------------------- daemons

  private daemonDir(hv: HvName): string {
    return join(this.stateRoot, hv);
  }

  /** Starts hv's daemon (first time: fresh state; later: the same state directory) and waits for SERVING. */
  async startDaemon(hv: HvName): Promise<TestDaemon> {
    const existing = this.daemons.get(hv);
    if (existing) {
      existing.relaunch();
    } else {
      this.daemons.set(
        hv,
        await TestDaemon.start({
          dir: this.daemonDir(hv),
          config: {
            node_name: hv,
            dataplane: 'bpf',
            vtep_ip: this.vtep[hv],
            underlay_interface: 'eth0',
            bpffs_root: join(this.topo.bpffsDir, hv),
            ...this.daemonConfig,
          },
          wrap: (argv) => ['nsenter', `--net=/run/netns/${this.topo.nsName(hv)}`, ...argv],
        }),
      );
    }
    const daemon = this.daemons.get(hv)!;
    await daemon.waitServing();
    this.apis.set(hv, api(daemon.client()));
    return daemon;
  }

  /** Stops hv's daemon: SIGTERM (clean exit) or SIGKILL (a crash). Its programs stay attached. */
  async stopDaemon(hv: HvName, how: 'SIGTERM' | 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const daemon = this.daemon(hv);
    this.apis.delete(hv);
    if (how === 'SIGKILL') await daemon.kill();
    else await daemon.stop();
    return daemon.exited;
  }

  daemon(hv: HvName): TestDaemon {
    const d = this.daemons.get(hv);
    if (!d) throw new Error(`${hv}: no daemon started`);
    return d;
  }

  /** The API of hv's running daemon. */
  api(hv: HvName): Api {
    const a = this.apis.get(hv);
    if (!a) throw new Error(`${hv}: the daemon is not running`);
    return a;
  }

  /** The daemons' last log lines, for failure messages. */
  logs(lines = 40): string {
    return this.daemonHvs.map((hv) => {
      const d = this.daemons.get(hv);
      return `--- ${hv} xdpnetd\n${(d?.logs ?? '').trimEnd().split('\n').slice(-lines).join('\n')}`;
    }).join('\n');
  }

  /** Kills both daemons and removes their state directories. The namespaces belong to the topology. */
  async cleanup(): Promise<void> {
    for (const d of this.daemons.values()) await d.kill().catch(() => undefined);
    this.daemons.clear();
    this.apis.clear();
    removeTempDir(this.stateRoot);
  }

  // ------------------------------------------------------------- programming

  /** The port of `vm` as node `hv` is told about it: local on its own node, remote elsewhere. */
  portFor(name: string, hv: HvName): pb.Port {
    const vm = this.vm(name);
    return {
      id: vm.portId,
      name: vm.name,
      networkId: this.networks[vm.tenant].id!,
      macAddress: vm.mac,
      fixedIps: [{ subnetId: this.subnets[vm.tenant].id!, ipAddress: vm.ip }],
      deviceOwner: 'compute:nova',
      ...(vm.hv === hv ? { local: { interfaceName: vm.tap } } : { remote: { vtepIp: this.vtep[vm.hv] } }),
    };
  }

  /** Creates the networks, subnets and every VM's port on hv's daemon, one call each, as orchestration does. */
  async program(hv: HvName): Promise<void> {
    const a = this.api(hv);
    for (const tenant of ['red', 'blue'] as const) {
      await a.createNetwork(this.networks[tenant]);
      await a.createSubnet(this.subnets[tenant]);
    }
    for (const vm of this.vms()) await a.createPort(this.portFor(vm.name, hv));
  }

  /** Creates the port of `name` on every node running xdpnetd (local on its own, remote elsewhere). */
  async createPort(name: string): Promise<void> {
    for (const hv of this.daemonHvs) await this.api(hv).createPort(this.portFor(name, hv));
  }

  /** Deletes the port of `name` on every node running xdpnetd, as orchestration does when the VM goes. */
  async deletePort(name: string): Promise<void> {
    const vm = this.vm(name);
    for (const hv of this.daemonHvs) await this.api(hv).deletePort(vm.portId);
  }

  /**
   * Waits until every network, subnet and port on hv's daemon is ACTIVE at
   * its current revision. A resource in ERROR fails at once with its status
   * (e.g. UNIMPLEMENTED while the overlay is not in the daemon).
   */
  async waitConverged(hv: HvName, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = this.api(hv);
      const [networks, subnets, ports] = await Promise.all([a.listNetworks({ pageSize: 1000 }), a.listSubnets({ pageSize: 1000 }), a.listPorts({ pageSize: 1000 })]);
      const all: { kind: string; r: { id: string; name: string; revision: string; status: pb.ResourceStatus__Output | null } }[] = [
        ...networks.networks.map((r) => ({ kind: 'network', r })),
        ...subnets.subnets.map((r) => ({ kind: 'subnet', r })),
        ...ports.ports.map((r) => ({ kind: 'port', r })),
      ];
      // A status describes the resource at status.revision. The desired-state
      // revision counts every change, so a status at or after the resource's
      // own revision is current. (After a restart the daemon reports the
      // desired-state revision it settled at, not the resource's own.)
      const current = (r: { revision: string; status: pb.ResourceStatus__Output | null }) =>
        r.status !== null && BigInt(r.status.revision) >= BigInt(r.revision);
      const failed = all.find(({ r }) => r.status?.state === 'RESOURCE_STATE_ERROR' && current(r));
      if (failed) {
        const s = failed.r.status!;
        throw new Error(`${hv}: ${failed.kind} ${failed.r.name} (${failed.r.id}) is in ERROR: ${s.code}: ${s.message}\n${this.logs()}`);
      }
      const pending = all.filter(({ r }) => !(r.status?.state === 'RESOURCE_STATE_ACTIVE' && current(r)));
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        const what = pending.map(({ kind, r }) => `${kind} ${r.name} (revision ${r.revision}): ${JSON.stringify(r.status)}`).join(', ');
        throw new Error(`${hv}: not converged within ${timeoutMs} ms: ${what}\n${this.logs()}`);
      }
      await sleep(50);
    }
  }

  // ------------------------------------------------------------- observing the dataplane

  /** hv's per-reason packet counters, by reason name. */
  async reasons(hv: HvName): Promise<Record<string, number>> {
    const { counters } = await this.api(hv).reasonCounters();
    return Object.fromEntries(counters.map((c) => [c.reason, Number(c.packets)]));
  }

  /** How much each counter of hv moved while `action` ran. */
  async reasonDelta(hv: HvName, action: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await this.reasons(hv);
    await action();
    const after = await this.reasons(hv);
    return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
  }

  /** The id of the XDP program attached to an interface of hv, as iproute2 reports it (an independent view). */
  async xdpProgramOn(hv: HvName, ifname: string): Promise<number | undefined> {
    const { stdout } = await this.topo.exec(hv, ['ip', '-j', '-d', 'link', 'show', 'dev', ifname]);
    const [link] = JSON.parse(stdout) as { xdp?: { prog?: { id: number }; attached?: { prog?: { id: number } }[] } }[];
    return link?.xdp?.prog?.id ?? link?.xdp?.attached?.[0]?.prog?.id;
  }

  /**
   * Deletes the underlay link between the nodes (a direct underlay: one veth
   * pair, so both nodes lose their eth0) and creates it again as it was: new
   * ifindexes, same names and addresses.
   */
  async recreateUnderlay(): Promise<void> {
    if (this.routed) throw new Error('recreateUnderlay() is for the direct underlay');
    await this.topo.exec('hv1', ['ip', 'link', 'del', 'eth0']);
    await this.topo.addVeth({
      a: { ns: 'hv1', name: 'eth0', ip: this.plan.address.hv1 },
      b: { ns: 'hv2', name: 'eth0', ip: this.plan.address.hv2 },
    });
  }

  /** The ifindex of an interface of hv. */
  async ifindex(hv: HvName, ifname: string): Promise<number> {
    const { stdout } = await this.topo.exec(hv, ['ip', '-j', 'link', 'show', 'dev', ifname]);
    return (JSON.parse(stdout) as { ifindex: number }[])[0]!.ifindex;
  }

  // ------------------------------------------------------------- traffic

  /** Pings `target` from VM `from`; the number of replies. */
  ping(from: string, target: string, count = 1): Promise<number> {
    return this.topo.ping(this.vm(from).name, target, { count, timeoutMs: Math.max(3_000, count * 400 + 2_000) });
  }

  /** Forgets the VM's neighbour (ARP) entries, so the next packet ARPs again. */
  async flushNeighbours(name: string): Promise<void> {
    await this.topo.exec(this.vm(name).name, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
  }

  /** A capture on VM `name`'s eth0 (its own view of the network). */
  captureVm(name: string, filter = '', direction: 'in' | 'out' | 'inout' = 'inout'): Promise<Capture> {
    return Capture.start(this.topo, this.vm(name).name, 'eth0', filter, direction);
  }

  /** A permanent neighbour entry in the VM: IP → MAC without ARP. */
  async setNeighbour(name: string, ip: string, mac: string): Promise<void> {
    await this.topo.exec(this.vm(name).name, ['ip', 'neigh', 'replace', ip, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']);
  }
}

/**
 * An OverlayCluster for the tests of the enclosing describe block: built in
 * beforeAll (its topology destroyed if that fails), daemons killed and
 * namespaces removed in afterAll, pass or fail.
 */
export function useOverlayCluster(opts: OverlayClusterOptions = {}): () => OverlayCluster {
  let cluster: OverlayCluster | undefined;
  useTopology({
    timeoutMs: 120_000,
    setup: async (t) => {
      cluster = await OverlayCluster.create(t, opts);
    },
  });
  afterAll(async () => {
    await cluster?.cleanup();
    cluster = undefined;
  }, 60_000);
  return () => {
    if (!cluster) throw new Error('useOverlayCluster(): no cluster (called outside a test, or set-up failed)');
    return cluster;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `read` until `done` accepts its value (a guard against hangs, not a timing assertion). */
export async function pollUntil<T>(read: () => Promise<T>, done: (v: T) => boolean, what: string, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await read();
      if (done(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not reached within ${timeoutMs} ms; last value ${JSON.stringify(last)}${lastErr ? `; last error ${String(lastErr)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------
// Traffic programs run inside VMs (Node, so nothing beyond the test runner is needed)

const TCP_ECHO_SERVER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
net.createServer((s) => { s.on('error', () => {}); s.pipe(s); })
  .listen(Number(port), host, () => console.log('listening'));
`;

const TCP_CLIENT = `
const net = require('node:net');
const crypto = require('node:crypto');
const [host, port, bytes] = process.argv.slice(1);
const data = crypto.randomBytes(Number(bytes));
const chunks = [];
const s = net.connect(Number(port), host, () => s.end(data));
s.setTimeout(10000, () => { console.log(JSON.stringify({ error: 'timeout', received: chunks.reduce((n, c) => n + c.length, 0) })); process.exit(2); });
s.on('data', (c) => chunks.push(c));
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code || e.message })); process.exit(2); });
s.on('end', () => {
  const back = Buffer.concat(chunks);
  const digest = (b) => crypto.createHash('sha256').update(b).digest('hex');
  console.log(JSON.stringify({ sent: data.length, received: back.length, identical: digest(back) === digest(data), local: s.localAddress }));
});
`;

const UDP_ECHO_SERVER = `
const dgram = require('node:dgram');
const [host, port] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(Number(port), host, () => console.log('listening'));
`;

const UDP_CLIENT = `
const dgram = require('node:dgram');
const [host, port, count] = process.argv.slice(1);
const n = Number(count);
const s = dgram.createSocket('udp4');
const seen = new Set();
s.on('message', (m) => { seen.add(m.toString()); if (seen.size === n) done(); });
function done() { console.log(JSON.stringify({ sent: n, echoed: seen.size })); process.exit(0); }
s.bind(0, () => { for (let i = 0; i < n; i++) s.send('datagram ' + i, Number(port), host); });
setTimeout(done, 5000);
`;

/** Prints one JSON line per datagram received on 0.0.0.0:port (broadcasts included). */
const UDP_LISTENER = `
const dgram = require('node:dgram');
const [port] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => console.log(JSON.stringify({ from: r.address, data: m.toString() })));
s.bind(Number(port), '0.0.0.0', () => console.log('listening'));
`;

const UDP_SEND = `
const dgram = require('node:dgram');
const [host, port, text] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.bind(0, () => { s.setBroadcast(true); s.send(text, Number(port), host, (e) => { if (e) { console.error(e.message); process.exit(1); } s.close(); }); });
`;

/** Sends raw Ethernet frames (hex, one per argument) out of an interface. */
const RAW_SEND = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
`;

function node(script: string, ...args: (string | number)[]): string[] {
  // With -e, process.argv is [node, ...args] (`--` ends node's own options).
  return [process.execPath, '-e', script, '--', ...args.map(String)];
}

export interface TcpResult {
  sent: number;
  received: number;
  identical: boolean;
  local?: string;
  error?: string;
}

/** A TCP echo server on ip:port inside namespace `ns`; stopped with the topology or by the caller. */
export async function startTcpEchoServer(topo: Topology, ns: string, ip: string, port: number): Promise<SpawnedProcess> {
  const p = topo.spawn(ns, node(TCP_ECHO_SERVER, ip, port));
  await p.waitFor(/listening/);
  return p;
}

/** From namespace `ns`, sends `bytes` random bytes to ip:port over TCP and reads the echo back. */
export async function tcpEcho(topo: Topology, ns: string, ip: string, port: number, bytes: number): Promise<TcpResult> {
  const r = await topo.exec(ns, node(TCP_CLIENT, ip, port, bytes), { allowFailure: true, timeoutMs: 20_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as TcpResult;
  } catch {
    return { sent: bytes, received: 0, identical: false, error: `no result: ${r.stdout} ${r.stderr}` };
  }
}

/** A UDP echo server on ip:port inside namespace `ns`. */
export async function startUdpEchoServer(topo: Topology, ns: string, ip: string, port: number): Promise<SpawnedProcess> {
  const p = topo.spawn(ns, node(UDP_ECHO_SERVER, ip, port));
  await p.waitFor(/listening/);
  return p;
}

/** From namespace `ns`, sends `count` datagrams to ip:port; how many came back echoed (waits at most 5 s). */
export async function udpEcho(topo: Topology, ns: string, ip: string, port: number, count: number): Promise<{ sent: number; echoed: number }> {
  const r = await topo.exec(ns, node(UDP_CLIENT, ip, port, count), { timeoutMs: 20_000 });
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { sent: number; echoed: number };
}

/** Listens on 0.0.0.0:port in namespace `ns`; `received()` parses what arrived so far. */
export async function startUdpListener(topo: Topology, ns: string, port: number): Promise<{ proc: SpawnedProcess; received: () => { from: string; data: string }[] }> {
  const proc = topo.spawn(ns, node(UDP_LISTENER, port));
  await proc.waitFor(/listening/);
  return {
    proc,
    received: () =>
      proc.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { from: string; data: string }),
  };
}

/** One UDP datagram from namespace `ns` (SO_BROADCAST set, so `ip` may be a broadcast address). */
export async function udpSend(topo: Topology, ns: string, ip: string, port: number, text: string): Promise<void> {
  await topo.exec(ns, node(UDP_SEND, ip, port, text));
}

/** Sends raw frames out of `ifname` in namespace `ns`, bypassing the VM's own stack. */
export async function sendRawFrames(topo: Topology, ns: string, ifname: string, frames: readonly Uint8Array[]): Promise<void> {
  await topo.exec(ns, ['python3', '-c', RAW_SEND, ifname, ...frames.map((f) => Buffer.from(f).toString('hex'))]);
}

// ---------------------------------------------------------------------------
// Continuous ping

export interface PingRun {
  /** Highest icmp_seq sent so far is not known until stop(); replies so far: */
  replies(): number;
  /** Stops (SIGINT) and reports. `lost` counts sequence numbers with no reply, except the last one sent (in flight when stopped). */
  stop(): Promise<{ transmitted: number; received: number; lost: number[] }>;
}

/** `ping -i interval` from namespace `ns` until stopped; replies are parsed from its per-packet lines. */
export async function startPing(topo: Topology, ns: string, target: string, intervalS = 0.01): Promise<PingRun> {
  const proc = topo.spawn(ns, ['ping', '-n', '-i', String(intervalS), '-W', '1', target]);
  await proc.waitFor(/icmp_seq=1 /, 10_000);
  const seqs = () => {
    const seen = new Set<number>();
    for (const m of proc.stdout.matchAll(/icmp_seq=(\d+) ttl=/g)) seen.add(Number(m[1]));
    return seen;
  };
  return {
    replies: () => seqs().size,
    async stop() {
      proc.signal('SIGINT');
      await proc.exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(proc.stdout);
      if (!m) throw new Error(`ping printed no summary:\n${proc.stdout.slice(-2000)}\n${proc.stderr}`);
      const transmitted = Number(m[1]);
      const seen = seqs();
      const lost: number[] = [];
      for (let s = 1; s < transmitted; s++) if (!seen.has(s)) lost.push(s);
      return { transmitted, received: Number(m[2]), lost };
    },
  };
}

// ---------------------------------------------------------------------------
// Captures

/** Frames of a classic pcap file (as tcpdump -w writes it); a record cut short at the end is left out. */
export function readPcapFrames(bytes: Buffer): Buffer[] {
  if (bytes.length < 24) return [];
  const magic = bytes.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`not a little-endian pcap file (magic ${magic.toString(16)})`);
  const frames: Buffer[] = [];
  for (let off = 24; off + 16 <= bytes.length; ) {
    const len = bytes.readUInt32LE(off + 8);
    if (off + 16 + len > bytes.length) break;
    frames.push(bytes.subarray(off + 16, off + 16 + len));
    off += 16 + len;
  }
  return frames;
}

/**
 * tcpdump on an interface of a namespace, writing a pcap file (immediate
 * mode, flushed per packet, so what arrived is readable while it runs).
 */
export class Capture {
  private constructor(
    private readonly proc: SpawnedProcess,
    private readonly dir: string,
    readonly file: string,
  ) {}

  /** `filter` is a tcpdump filter expression; `direction` 'in' captures only what the interface receives. */
  static async start(
    topo: Topology,
    ns: string,
    ifname: string,
    filter: string = '',
    direction: 'in' | 'out' | 'inout' = 'inout',
  ): Promise<Capture> {
    const dir = makeTempDir('xdpnet-capture-');
    const file = join(dir, 'capture.pcap');
    // -Z root: tcpdump otherwise drops to its own user, who cannot write in our 0700 temp dir.
    // -s/-B: the kernel's capture ring holds buffer/snaplen frames; with the
    // default 256 KiB snaplen a 2 MiB ring holds 8, and a burst of TCP
    // overflows it. Frames here are at most 1514 bytes.
    const argv = ['tcpdump', '-i', ifname, '-Q', direction, '-n', '-s', '2048', '-B', '16384', '-U', '--immediate-mode', '-Z', 'root', '-w', file];
    const proc = topo.spawn(ns, filter ? [...argv, filter] : argv);
    await proc.waitFor(/listening on/);
    return new Capture(proc, dir, file);
  }

  /** What has been captured so far. */
  frames(): Buffer[] {
    try {
      return readPcapFrames(readFileSync(this.file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Polls until some captured frame satisfies `match`; returns all frames then. */
  async waitFor(match: (f: Buffer) => boolean, what: string, timeoutMs = 10_000): Promise<Buffer[]> {
    return pollUntil(async () => this.frames(), (fs) => fs.some(match), `capture: ${what}`, timeoutMs, 50);
  }

  /**
   * Waits until no new frame has arrived for `quietMs` (what was sent has been
   * written out), at most `timeoutMs`. For captures whose exact count is not
   * known in advance; never an assertion.
   */
  async settle(quietMs = 300, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let count = this.frames().length;
    let since = Date.now();
    while (Date.now() < deadline && Date.now() - since < quietMs) {
      await sleep(50);
      const now = this.frames().length;
      if (now !== count) {
        count = now;
        since = Date.now();
      }
    }
  }

  /** What tcpdump printed (its summary, once stopped). */
  get output(): string {
    return this.proc.stderr;
  }

  /**
   * Stops tcpdump and returns every frame captured; removes the file. Fails
   * if the kernel dropped frames before tcpdump read them: such a capture
   * can prove neither a count nor an absence.
   */
  async stop(): Promise<Buffer[]> {
    await this.proc.stop();
    const frames = this.frames();
    removeTempDir(this.dir);
    const dropped = Number(/(\d+) packets? dropped by kernel/.exec(this.proc.stderr)?.[1] ?? 0);
    if (dropped > 0) throw new Error(`capture: the kernel dropped ${dropped} frames before tcpdump read them:\n${this.proc.stderr}`);
    return frames;
  }
}
