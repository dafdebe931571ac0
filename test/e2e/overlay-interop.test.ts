// Interoperability with the Linux kernel's own VXLAN: hv1 runs xdpnetd; hv2
// is a plain Linux hypervisor with a vxlan device (VNI 100, static FDB, no
// learning) and a bridge holding its VMs' taps, as Neutron's linuxbridge
// agent with l2population sets it up. Our encapsulation must be what the
// kernel decapsulates, and the kernel's what our underlay program
// decapsulates: unicast both ways (ping, TCP), and broadcast both ways (ARP
// from the kernel side arrives through its all-zeros FDB entry at our flood
// path; ARP our side floods reaches the kernel side's bridge).
import { expect, it } from 'vitest';
import { type OverlayCluster, startTcpEchoServer, tcpEcho, useOverlayCluster, type VmSpec } from '../helpers/overlay-cluster.js';
import { parseFrame } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';

const VMS: readonly VmSpec[] = [
  { name: 'r1', hv: 'hv1', tenant: 'red', ip: '10.0.0.11', mac: 'fa:16:3e:00:00:11' },
  { name: 'r3', hv: 'hv1', tenant: 'red', ip: '10.0.0.13', mac: 'fa:16:3e:00:00:13' },
  { name: 'k2', hv: 'hv2', tenant: 'red', ip: '10.0.0.12', mac: 'fa:16:3e:00:00:12' },
  { name: 'k4', hv: 'hv2', tenant: 'red', ip: '10.0.0.14', mac: 'fa:16:3e:00:00:14' },
];

/** hv2 as a Linux hypervisor: vx100 (VNI 100) + br100 with k2's and k4's taps. */
async function kernelVxlanNode(c: OverlayCluster): Promise<void> {
  const hv2 = (argv: string[]) => c.topo.exec('hv2', argv);
  await hv2(['ip', 'link', 'add', 'vx100', 'type', 'vxlan', 'id', '100', 'local', c.vtep.hv2, 'dstport', '4789', 'nolearning', 'dev', 'eth0']);
  await hv2(['ip', 'link', 'add', 'br100', 'type', 'bridge']);
  await hv2(['ip', 'link', 'set', 'vx100', 'master', 'br100']);
  for (const vm of c.vms().filter((v) => v.hv === 'hv2')) {
    await hv2(['ip', 'link', 'set', vm.tap, 'master', 'br100']);
  }
  await hv2(['ip', 'link', 'set', 'vx100', 'up']);
  await hv2(['ip', 'link', 'set', 'br100', 'up']);
  // Static FDB (l2population): broadcast and unknown unicast to hv1, and each of hv1's VM MACs at hv1.
  await hv2(['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx100', 'dst', c.vtep.hv1]);
  for (const vm of c.vms().filter((v) => v.hv === 'hv1')) {
    await hv2(['bridge', 'fdb', 'append', vm.mac, 'dev', 'vx100', 'dst', c.vtep.hv1]);
  }
  // hv1's port programs XDP-redirect encapsulated frames out of hv1's underlay
  // veth; the kernel delivers them to the peer, hv2's eth0 (no XDP program
  // there: this node is plain Linux), only if that peer has GRO on. A real
  // NIC has no such need.
  await hv2(['ethtool', '-K', 'eth0', 'gro', 'on']);
}

const n = (d: Record<string, number>, reason: string): number => d[reason] ?? 0;

describePrivileged('VXLAN overlay: interoperability with the Linux vxlan device', ['bpf', 'netns'], () => {
  const cluster = useOverlayCluster({ vms: VMS, daemons: ['hv1'], setup: kernelVxlanNode });

  it('pings both ways between our node’s VMs and the kernel node’s', async () => {
    const c = cluster();
    const hv1 = await c.reasonDelta('hv1', async () => {
      expect(await c.ping('r1', c.vm('k2').ip, 3)).toBe(3);
      expect(await c.ping('k2', c.vm('r1').ip, 3)).toBe(3);
      expect(await c.ping('k4', c.vm('r3').ip, 3)).toBe(3);
    });
    // Our side encapsulated its half and decapsulated the kernel's.
    expect(n(hv1, 'REASON_FWD_ENCAP')).toBeGreaterThanOrEqual(9);
    expect(n(hv1, 'REASON_FWD_DECAP')).toBeGreaterThanOrEqual(9);
  });

  it('carries TCP both ways: 1 MiB echoed intact', async () => {
    const c = cluster();
    const onKernelSide = await startTcpEchoServer(c.topo, 'k2', c.vm('k2').ip, 7301);
    const onOurSide = await startTcpEchoServer(c.topo, 'r1', c.vm('r1').ip, 7301);
    try {
      expect(await tcpEcho(c.topo, 'r1', c.vm('k2').ip, 7301, 1 << 20)).toMatchObject({ received: 1 << 20, identical: true });
      expect(await tcpEcho(c.topo, 'k4', c.vm('r1').ip, 7301, 1 << 20)).toMatchObject({ received: 1 << 20, identical: true });
    } finally {
      await onKernelSide.stop();
      await onOurSide.stop();
    }
  });

  it('resolves ARP from the kernel side through our flood path, and floods ours to the kernel side', async () => {
    const c = cluster();
    await c.flushNeighbours('k2');
    // k2's ARP request for r1 leaves hv2 through vx100's all-zeros entry to hv1,
    // where tc_underlay_flood copies it to every red port (r1 answers, r3 sees it).
    const atR3 = await c.captureVm('r3', 'arp', 'in');
    const hv1 = await c.reasonDelta('hv1', async () => {
      expect(await c.ping('k2', c.vm('r1').ip, 2)).toBe(2);
      await atR3.waitFor((f) => parseFrame(f).eth.arp?.targetIp === c.vm('r1').ip, 'r3 sees k2’s ARP request');
    });
    expect(n(hv1, 'REASON_PASS_TO_FLOOD')).toBeGreaterThanOrEqual(1);
    expect(n(hv1, 'REASON_FWD_FLOOD')).toBeGreaterThanOrEqual(1);
    const request = (await atR3.stop()).map((f) => parseFrame(f).eth).find((e) => e.arp?.targetIp === c.vm('r1').ip);
    expect(request).toMatchObject({ src: c.vm('k2').mac, dst: 'ff:ff:ff:ff:ff:ff' });
    const { stdout } = await c.topo.exec('k2', ['ip', '-j', 'neigh', 'show', c.vm('r1').ip, 'dev', 'eth0']);
    expect((JSON.parse(stdout) as { lladdr?: string }[])[0]?.lladdr).toBe(c.vm('r1').mac);

    // The other way: an ARP request our side cannot answer is flooded to hv2, whose bridge hands it to k2 and k4.
    const atK2 = await c.captureVm('k2', 'arp', 'in');
    const atK4 = await c.captureVm('k4', 'arp', 'in');
    expect(await c.ping('r1', '10.0.0.99', 1)).toBe(0);
    for (const cap of [atK2, atK4]) {
      await cap.waitFor((f) => parseFrame(f).eth.arp?.targetIp === '10.0.0.99', 'the kernel side receives our flooded ARP request');
      const frames = (await cap.stop()).map((f) => parseFrame(f).eth);
      expect(frames.find((e) => e.arp?.targetIp === '10.0.0.99')).toMatchObject({ src: c.vm('r1').mac, arp: { senderIp: c.vm('r1').ip } });
    }
    // And our own VM asking for a kernel-side VM is answered by the port program (k2 is a remote port in the model).
    await c.flushNeighbours('r1');
    const answered = await c.reasonDelta('hv1', async () => {
      expect(await c.ping('r1', c.vm('k4').ip, 1)).toBe(1);
    });
    expect(n(answered, 'REASON_FWD_ARP_REPLY')).toBeGreaterThanOrEqual(1);
  });
});
