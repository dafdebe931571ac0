// The namespaces every scenario runs in, built by the parent process (root
// namespace) and torn down by it whatever happens, SIGINT included (the
// Topology helper of test/helpers/netns.ts: owner markers, a stale sweep, an
// exit hook).
//
//   node: the hypervisor under test                   sink: the far ends
//   port  ─── veth ───  port    our VM port (host side; green)  │ the VM
//   ul    ─── veth ───  ul      our underlay                    │ the wire to 192.0.2.2
//   port2 ─── veth ───  port2   our second VM port (orange)     │ the VM
//   ext   ─── veth ───  ext     our external NIC                │ the external gateway
//   kport ─── veth ───  kport   kernel overlay's VM port        │ the VM
//   kul   ─── veth ───  kul     kernel overlay's underlay       │ the wire to 192.0.2.2
//   kr1   ─── veth ───  kr1     kernel router's green side      │ the VM
//   kr2   ─── veth ───  kr2     kernel router's orange side     │ the VM
//   masq: a kernel gateway (nftables masquerade)
//   mvm   ─── veth ───  mvm     its green side                  │ the VM
//   mext  ─── veth ───  mext    its external side               │ the external gateway
//   masqnew: another, for new connections
//   nvm   ─── veth ───  nvm     its green side                  │ the VM
//   next  ─── veth ───  next    its external side               │ the external gateway
//
// The kernel's overlay path is what Neutron's linuxbridge agent builds with
// l2population: a bridge holding the VM port and a vxlan device (no
// learning, remote MACs and the flood entry written into its FDB), the VTEP
// address on the underlay, the remote VTEP's neighbour entry resolved. The
// bridge's own FDB entries are made static, as it would have learnt them in
// steady state, so neither direction floods. Security groups are left out
// (no iptables, br_netfilter off in the namespace): the kernel path gets its
// cheapest form.
//
// The kernel's router is ip_forward between kr1 (10.1.0.1/24) and kr2
// (10.2.0.1/24), both with the router's MAC, the orange VM's neighbour entry
// permanent; no netfilter at all in `node` (no conntrack), its cheapest form
// again.
//
// The kernel's gateways (SNAT) are the same router with an external side,
// 203.0.113.10/24 on mext (next), a default route via 203.0.113.1 (its
// neighbour entry permanent) and nftables masquerading what leaves by it.
// They have namespaces of their own, because masquerade switches connection
// tracking on for the whole namespace, and `node`'s kernel router is to go
// without; and two of them, so that the new-connection flood fills one
// conntrack table while the other keeps the established connection (the
// kernel evicts unreplied connections first when its table is full). In
// both, nf_conntrack_checksum is off: a NIC verifies TCP/UDP checksums on
// receipt, the XDP frames the benchmark hands the stack are unverified, and
// the kernel would otherwise verify each one in software. Their UDP
// timeouts are an hour: in `masq` the established connection outlives any
// pause between rounds, and in `masqnew` no connection expires during the
// run, so its table stays full from the setup on, as ours does (the
// benchmark runs no collector).
//
// Our paths need no configuration here: the programs and maps carry it.
// Nothing is attached on the host side either: the generator runs the
// program under test as if it were attached to the ingress interface.

import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { BPFFS_TEST_ROOT } from '../../test/helpers/bpffs-root.js';
import { Topology } from '../../test/helpers/netns.js';
import { EXTERNAL_PREFIX_LEN, MAC, REMOTE_VTEP_IP, RIP, RMAC, ROUTED_PREFIX_LEN, UNDERLAY_PREFIX_LEN, VNI, VTEP_IP } from './world.js';

/** Namespaces with interfaces frames arrive on (the generator runs in each). */
export const HOSTS = ['node', 'masq', 'masqnew'] as const;
export type Host = (typeof HOSTS)[number];

/** Every veth, by its name on both sides, and the namespace of its host side. */
export const LINK_HOSTS = {
  port: 'node',
  ul: 'node',
  port2: 'node',
  ext: 'node',
  kport: 'node',
  kul: 'node',
  kr1: 'node',
  kr2: 'node',
  mvm: 'masq',
  mext: 'masq',
  nvm: 'masqnew',
  next: 'masqnew',
} as const satisfies Record<string, Host>;
export type LinkName = keyof typeof LINK_HOSTS;
export const LINKS = Object.keys(LINK_HOSTS) as LinkName[];

/** Host-side MACs where they matter (the rest are random). */
const LINK_MAC: Partial<Record<LinkName, string>> = {
  ul: MAC.underlay,
  kul: MAC.underlay,
  ext: RMAC.ext,
  kr1: RMAC.router,
  kr2: RMAC.router,
  mvm: RMAC.router,
  mext: RMAC.ext,
  nvm: RMAC.router,
  next: RMAC.ext,
};

/** What the worker needs to know of the namespaces (plain data: it crosses a process boundary). */
export interface BenchNet {
  /** Real namespace names. */
  node: string;
  sink: string;
  /** The namespaces other than `node` with links (LINK_HOSTS), by Host; absent when none is used (real interfaces). */
  hosts?: Partial<Record<Host, string>>;
  /** bpffs directory owned by this run (removed with the topology). */
  bpffsDir: string;
  /** `host`: each link's host side, in the namespace LINK_HOSTS says; `sink`: its far end, in `sink`. */
  ifindex: { host: Record<LinkName, number>; sink: Record<LinkName, number> };
  /** Whether br_netfilter is loaded (and so was switched off in `node`). */
  brNetfilter: boolean;
}

export class BenchTopology {
  private constructor(
    private readonly topo: Topology,
    readonly net: BenchNet,
    /** Whether BPFFS_TEST_ROOT was there before this run. */
    private readonly rootExisted: boolean,
  ) {}

  static async create(): Promise<BenchTopology> {
    const rootExisted = existsSync(BPFFS_TEST_ROOT);
    const topo = await Topology.create();
    try {
      // IPv6 off: no router solicitations, DAD or MLD reaching a sink.
      for (const ns of [...HOSTS, 'sink']) await topo.addNamespace(ns, { disableIpv6: true });
      for (const name of LINKS) {
        const mac = LINK_MAC[name];
        await topo.addVeth({ a: { ns: LINK_HOSTS[name], name, ...(mac ? { mac } : {}) }, b: { ns: 'sink', name } });
      }
      const brNetfilter = await kernelOverlay(topo);
      await kernelRouter(topo);
      await kernelGateway(topo, 'masq', { vm: 'mvm', ext: 'mext' });
      await kernelGateway(topo, 'masqnew', { vm: 'nvm', ext: 'next' });
      const host = {} as Record<LinkName, number>;
      for (const ns of HOSTS) Object.assign(host, await ifindexes(topo, ns, LINKS.filter((l) => LINK_HOSTS[l] === ns)));
      const net: BenchNet = {
        node: topo.nsName('node'),
        sink: topo.nsName('sink'),
        hosts: Object.fromEntries(HOSTS.filter((h) => h !== 'node').map((h) => [h, topo.nsName(h)])),
        bpffsDir: topo.bpffsDir,
        ifindex: { host, sink: await ifindexes(topo, 'sink', LINKS) },
        brNetfilter,
      };
      return new BenchTopology(topo, net, rootExisted);
    } catch (err) {
      await topo.destroy().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Kills what runs in the namespaces, deletes them, the bpffs directory and
   * the marker, and the bpffs directory's parent if this run made it and
   * left it empty (the benchmark has no test run's global teardown to).
   */
  async destroy(): Promise<void> {
    await this.topo.destroy();
    if (!this.rootExisted && existsSync(BPFFS_TEST_ROOT) && readdirSync(BPFFS_TEST_ROOT).length === 0) rmdirSync(BPFFS_TEST_ROOT);
  }
}

/** The linuxbridge agent's configuration in `node`; true if br_netfilter had to be switched off. */
async function kernelOverlay(topo: Topology): Promise<boolean> {
  const ip = (...args: string[]) => topo.exec('node', ['ip', ...args]);
  const bridge = (...args: string[]) => topo.exec('node', ['bridge', ...args]);

  await ip('addr', 'add', `${VTEP_IP}/${UNDERLAY_PREFIX_LEN}`, 'dev', 'kul');
  await ip('neigh', 'replace', REMOTE_VTEP_IP, 'lladdr', MAC.nexthop, 'dev', 'kul', 'nud', 'permanent');
  await ip('link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0');
  await ip('link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', VTEP_IP, 'dev', 'kul', 'dstport', '4789', 'nolearning');
  await ip('link', 'set', 'kport', 'master', 'br0');
  await ip('link', 'set', 'vx0', 'master', 'br0');
  for (const dev of ['vx0', 'br0']) await ip('link', 'set', dev, 'up');
  // l2population: where the remote MAC lives, and where floods go.
  await bridge('fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', REMOTE_VTEP_IP);
  await bridge('fdb', 'replace', MAC.remote, 'dev', 'vx0', 'dst', REMOTE_VTEP_IP, 'self', 'permanent');
  // The bridge's view in steady state.
  await bridge('fdb', 'replace', MAC.remote, 'dev', 'vx0', 'master', 'static');
  await bridge('fdb', 'replace', MAC.vm, 'dev', 'kport', 'master', 'static');

  // The bridge-nf-call sysctls are per namespace and exist only while the module is loaded.
  const brNetfilter = existsSync('/sys/module/br_netfilter');
  if (brNetfilter) {
    await topo.exec('node', [
      'sysctl', '-q', '-w',
      'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0',
    ]);
  }
  return brNetfilter;
}

/** ip_forward between kr1 (green) and kr2 (orange) in `node`. */
async function kernelRouter(topo: Topology): Promise<void> {
  const ip = (...args: string[]) => topo.exec('node', ['ip', ...args]);
  await ip('addr', 'add', `${RIP.greenRouter}/${ROUTED_PREFIX_LEN}`, 'dev', 'kr1');
  await ip('addr', 'add', `${RIP.orangeRouter}/${ROUTED_PREFIX_LEN}`, 'dev', 'kr2');
  await ip('neigh', 'replace', RIP.orange, 'lladdr', RMAC.orange, 'dev', 'kr2', 'nud', 'permanent');
  await topo.exec('node', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
}

/** A router with an external gateway and nftables masquerade, in namespace `ns`. */
async function kernelGateway(topo: Topology, ns: string, dev: { vm: string; ext: string }): Promise<void> {
  const ip = (...args: string[]) => topo.exec(ns, ['ip', ...args]);
  const nft = (...args: string[]) => topo.exec(ns, ['nft', ...args]);
  const sysctl = (...settings: string[]) => topo.exec(ns, ['sysctl', '-q', '-w', ...settings]);
  await ip('addr', 'add', `${RIP.greenRouter}/${ROUTED_PREFIX_LEN}`, 'dev', dev.vm);
  await ip('addr', 'add', `${RIP.external}/${EXTERNAL_PREFIX_LEN}`, 'dev', dev.ext);
  await ip('neigh', 'replace', RIP.green, 'lladdr', RMAC.green, 'dev', dev.vm, 'nud', 'permanent');
  await ip('neigh', 'replace', RIP.gateway, 'lladdr', RMAC.gateway, 'dev', dev.ext, 'nud', 'permanent');
  await ip('route', 'add', 'default', 'via', RIP.gateway, 'dev', dev.ext);
  await sysctl('net.ipv4.ip_forward=1');
  await nft('add', 'table', 'ip', 'nat');
  await nft('add', 'chain', 'ip', 'nat', 'postrouting', '{ type nat hook postrouting priority srcnat ; policy accept ; }');
  await nft('add', 'rule', 'ip', 'nat', 'postrouting', 'oifname', dev.ext, 'masquerade');
  await sysctl('net.netfilter.nf_conntrack_checksum=0', 'net.netfilter.nf_conntrack_udp_timeout=3600', 'net.netfilter.nf_conntrack_udp_timeout_stream=3600');
}

async function ifindexes<L extends string>(topo: Topology, ns: string, names: readonly L[]): Promise<Record<L, number>> {
  const r = await topo.exec(ns, ['ip', '-j', 'link', 'show']);
  const links = JSON.parse(r.stdout) as { ifname: string; ifindex: number }[];
  const out = {} as Record<L, number>;
  for (const name of names) {
    const link = links.find((l) => l.ifname === name);
    if (!link) throw new Error(`namespace ${ns} has no interface ${name}`);
    out[name] = link.ifindex;
  }
  return out;
}
