// The namespaces every scenario runs in, built by the parent process (root
// namespace) and torn down by it whatever happens, SIGINT included (the
// Topology helper of test/helpers/netns.ts: owner markers, a stale sweep, an
// exit hook).
//
//   node: the hypervisor under test                sink: the far ends
//   port  ─── veth ───  port    our VM port (host side) │ the VM
//   ul    ─── veth ───  ul      our underlay            │ the wire to 192.0.2.2
//   kport ─── veth ───  kport   kernel path's VM port   │ the VM
//   kul   ─── veth ───  kul     kernel path's underlay  │ the wire to 192.0.2.2
//
// The kernel path is what Neutron's linuxbridge agent builds with
// l2population: a bridge holding the VM port and a vxlan device (no
// learning, remote MACs and the flood entry written into its FDB), the VTEP
// address on the underlay, the remote VTEP's neighbour entry resolved. The
// bridge's own FDB entries are made static, as it would have learnt them in
// steady state, so neither direction floods. Security groups are left out
// (no iptables, br_netfilter off in the namespace): the kernel path gets its
// cheapest form.
//
// Our path needs no configuration here: the programs and maps carry it.
// Nothing is attached on the node side either: the generator runs the
// program under test as if it were attached to the ingress interface.

import { existsSync } from 'node:fs';
import { Topology } from '../../test/helpers/netns.js';
import { MAC, REMOTE_VTEP_IP, UNDERLAY_PREFIX_LEN, VNI, VTEP_IP } from './world.js';

export const LINKS = ['port', 'ul', 'kport', 'kul'] as const;
export type LinkName = (typeof LINKS)[number];

/** What the worker needs to know of the namespaces (plain data: it crosses a process boundary). */
export interface BenchNet {
  /** Real namespace names. */
  node: string;
  sink: string;
  /** bpffs directory owned by this run (removed with the topology). */
  bpffsDir: string;
  ifindex: { node: Record<LinkName, number>; sink: Record<LinkName, number> };
  /** Whether br_netfilter is loaded (and so was switched off in `node`). */
  brNetfilter: boolean;
}

export class BenchTopology {
  private constructor(
    private readonly topo: Topology,
    readonly net: BenchNet,
  ) {}

  static async create(): Promise<BenchTopology> {
    const topo = await Topology.create();
    try {
      // IPv6 off: no router solicitations, DAD or MLD reaching a sink.
      await topo.addNamespace('node', { disableIpv6: true });
      await topo.addNamespace('sink', { disableIpv6: true });
      for (const name of LINKS) {
        const mac = name === 'ul' || name === 'kul' ? { mac: MAC.underlay } : {};
        await topo.addVeth({ a: { ns: 'node', name, ...mac }, b: { ns: 'sink', name } });
      }
      const brNetfilter = await kernelPath(topo);
      const net: BenchNet = {
        node: topo.nsName('node'),
        sink: topo.nsName('sink'),
        bpffsDir: topo.bpffsDir,
        ifindex: { node: await ifindexes(topo, 'node'), sink: await ifindexes(topo, 'sink') },
        brNetfilter,
      };
      return new BenchTopology(topo, net);
    } catch (err) {
      await topo.destroy().catch(() => undefined);
      throw err;
    }
  }

  /** Kills what runs in the namespaces, deletes them, the bpffs directory and the marker. */
  destroy(): Promise<void> {
    return this.topo.destroy();
  }
}

/** The linuxbridge agent's configuration in `node`; true if br_netfilter had to be switched off. */
async function kernelPath(topo: Topology): Promise<boolean> {
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

async function ifindexes(topo: Topology, ns: string): Promise<Record<LinkName, number>> {
  const r = await topo.exec(ns, ['ip', '-j', 'link', 'show']);
  const links = JSON.parse(r.stdout) as { ifname: string; ifindex: number }[];
  const out = {} as Record<LinkName, number>;
  for (const name of LINKS) {
    const link = links.find((l) => l.ifname === name);
    if (!link) throw new Error(`namespace ${ns} has no interface ${name}`);
    out[name] = link.ifindex;
  }
  return out;
}
