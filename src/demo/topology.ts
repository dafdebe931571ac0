// The demo's namespaces and links (the picture in plan.ts): the underlay
// switch, the three nodes, the internet host and the four VMs.
//
// Every end of every veth is created directly inside its namespace, so the
// root namespace never holds one of the demo's interfaces, even for a moment.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BRIDGE,
  EXTERNAL,
  EXTERNAL_IF,
  INTERNET,
  INTERNET_SERVER,
  type Instance,
  NAMESPACES,
  NODES,
  SWITCH,
  TENANT_MTU,
  TENANT_NETWORKS,
  TENANT_PREFIX_LENGTH,
  UNDERLAY_IF,
  UNDERLAY_PREFIX_LENGTH,
  VMS,
  VTEP,
  nsName,
  switchPort,
} from './plan.js';
import { inNs, run } from './shell.js';

/**
 * The VMs' own XDP program: every frame goes on to the VM's stack. The same
 * program the overlay end-to-end tests attach (test/helpers/overlay-cluster.ts,
 * VM_XDP_PASS_SOURCE); why a VM needs it is in addVm.
 */
const VM_XDP_PASS_SOURCE = `#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int vm_xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`;

/** Debian's multiarch directory for asm/types.h, e.g. x86_64-linux-gnu. */
function archTriplet(): string {
  const machine = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  return `${machine}-linux-gnu`;
}

export class Topology {
  private passObject: string | undefined;

  constructor(private readonly inst: Instance) {}

  ns(short: string): string {
    return nsName(this.inst, short);
  }

  /** `ip -n <ns> ARGS` */
  private ip(short: string, ...args: string[]): Promise<unknown> {
    return run(['ip', '-n', this.ns(short), ...args]);
  }

  private exec(short: string, argv: string[]): Promise<unknown> {
    return run(inNs(this.ns(short), argv));
  }

  /** Builds it all. */
  async build(): Promise<void> {
    await this.compilePassProgram();
    for (const short of NAMESPACES) await this.addNamespace(short);
    await this.buildUnderlay();
    await this.buildExternal();
    for (const vm of VMS) await this.addVm(vm);
  }

  private async addNamespace(short: string): Promise<void> {
    await run(['ip', 'netns', 'add', this.ns(short)]);
    await this.ip(short, 'link', 'set', 'lo', 'up');
    // No IPv6: no router solicitations, DAD or MLD reports in the counters.
    await this.exec(short, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  }

  /** A veth pair, each end created in its own namespace. */
  private async veth(a: { ns: string; name: string }, b: { ns: string; name: string }, extra: string[] = []): Promise<void> {
    await run(['ip', 'link', 'add', a.name, 'netns', this.ns(a.ns), ...extra, 'type', 'veth', 'peer', 'name', b.name, 'netns', this.ns(b.ns), ...extra]);
  }

  /**
   * The guest (underlay) network: one L2 segment, 192.0.2.0/24, a Linux
   * bridge in the switch namespace with a port per node.
   */
  private async buildUnderlay(): Promise<void> {
    await this.ip(SWITCH, 'link', 'add', BRIDGE, 'type', 'bridge');
    await this.ip(SWITCH, 'link', 'set', BRIDGE, 'up');
    for (const node of NODES) {
      const port = switchPort(node);
      await this.veth({ ns: node, name: UNDERLAY_IF }, { ns: SWITCH, name: port });
      await this.ip(SWITCH, 'link', 'set', port, 'master', BRIDGE, 'up');
      // A node's programs XDP-redirect encapsulated frames out of its
      // underlay veth; the kernel delivers such a frame to the veth's peer
      // only if the peer runs XDP or has GRO on. A physical switch port has
      // no such need; the switch namespace's ports get GRO.
      await this.exec(SWITCH, ['ethtool', '-K', port, 'gro', 'on']);
      await this.ip(node, 'addr', 'add', `${VTEP[node]}/${UNDERLAY_PREFIX_LENGTH}`, 'dev', UNDERLAY_IF);
      await this.ip(node, 'link', 'set', UNDERLAY_IF, 'up');
    }
  }

  /**
   * The external network: the network node's eth1 (mapped to the physical
   * network "external" in its config) to the internet host's eth0.
   */
  private async buildExternal(): Promise<void> {
    await this.veth({ ns: 'network', name: EXTERNAL_IF }, { ns: INTERNET, name: 'eth0' });
    // The network node's own address on the external network, as a real
    // network node has on its provider NIC: it gives the node's kernel an
    // on-link route to the external gateway, so the gateway's MAC can be
    // resolved for the router's traffic. The router's external IP and the
    // floating IP are not configured anywhere: the fast path holds them.
    await this.ip('network', 'addr', 'add', `${EXTERNAL.networkNode}/${EXTERNAL.prefixLength}`, 'dev', EXTERNAL_IF);
    await this.ip('network', 'link', 'set', EXTERNAL_IF, 'up');

    await this.ip(INTERNET, 'addr', 'add', `${EXTERNAL.gateway}/${EXTERNAL.prefixLength}`, 'dev', 'eth0');
    // A host beyond the gateway: reached by the router's default route, not on-link.
    await this.ip(INTERNET, 'addr', 'add', `${INTERNET_SERVER.ip}/32`, 'dev', 'lo');
    await this.ip(INTERNET, 'link', 'set', 'eth0', 'up');
    // The network node's external program answers ARP and pings for the
    // router's addresses with XDP_TX and sends the router's traffic with
    // XDP_REDIRECT: the same veth constraints as a VM's (see addVm), so the
    // internet host's end gets the pass program and computes its own checksums.
    await this.attachPassProgram(INTERNET, 'eth0');
  }

  /** A VM: its namespace's eth0 (its IP and MAC, default route via its subnet's gateway), `tap-vmN` in its node. */
  private async addVm(vm: (typeof VMS)[number]): Promise<void> {
    const net = TENANT_NETWORKS[vm.net];
    await this.veth({ ns: vm.name, name: 'eth0' }, { ns: vm.node, name: vm.tap }, ['mtu', String(TENANT_MTU)]);
    await this.ip(vm.name, 'link', 'set', 'eth0', 'address', vm.mac);
    await this.ip(vm.name, 'addr', 'add', `${vm.ip}/${TENANT_PREFIX_LENGTH}`, 'dev', 'eth0');
    await this.ip(vm.name, 'link', 'set', 'eth0', 'up');
    await this.ip(vm.node, 'link', 'set', vm.tap, 'up');
    await this.ip(vm.name, 'route', 'add', 'default', 'via', net.gateway);
    await this.attachPassProgram(vm.name, 'eth0');
  }

  /**
   * Two things a veth needs that a real hypervisor's tap does not:
   *
   * - The port program sends frames into the tap (XDP_REDIRECT from other
   *   ports and from the underlay, XDP_TX for ARP replies); a veth delivers
   *   them to its peer, the VM's eth0, only through the peer's NAPI. GRO on
   *   the peer enables that NAPI and is enough for redirects (the devmap
   *   flush schedules it), not for XDP_TX: the kernel's veth_xdp_flush()
   *   schedules the peer's NAPI only if the peer has an XDP program, so an
   *   ARP reply would wait in the peer's ring until some later redirect.
   *   Hence a pass-everything XDP program on the VM's eth0.
   * - The VM computes its TCP/UDP checksums itself. With TX checksum offload
   *   a veth hands the tap's XDP program packets whose L4 checksum is only
   *   the pseudo-header seed (CHECKSUM_PARTIAL), which XDP cannot see, let
   *   alone finish: forwarded as they are, they reach the other VM with a bad
   *   checksum and are dropped there.
   */
  private async attachPassProgram(short: string, ifname: string): Promise<void> {
    if (!this.passObject) throw new Error('the pass program is not compiled');
    await this.exec(short, ['ip', 'link', 'set', 'dev', ifname, 'xdpdrv', 'obj', this.passObject, 'sec', 'xdp']);
    await this.exec(short, ['ethtool', '-K', ifname, 'tx', 'off']);
  }

  private async compilePassProgram(): Promise<void> {
    const src = join(this.inst.dir, 'vm_xdp_pass.bpf.c');
    const obj = join(this.inst.dir, 'vm_xdp_pass.bpf.o');
    writeFileSync(src, VM_XDP_PASS_SOURCE);
    await run(['clang', '-O2', '-g', '-target', 'bpf', `-I/usr/include/${archTriplet()}`, '-c', src, '-o', obj]);
    this.passObject = obj;
  }
}
