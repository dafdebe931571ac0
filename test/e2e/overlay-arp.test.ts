// The ARP responder: a VM asking for the address of another port of its
// network is answered by the port program of its own node (as Neutron's
// l2population ARP responder does), so the request never crosses the
// underlay. The underlay is captured on both nodes: on hv1 it shows what the
// kernel transmits (flood copies go through it; XDP redirects bypass it), on
// hv2 what its underlay program hands to the kernel (flood path) — so a
// flooded ARP request would be seen on both, as the control at the end shows.
import { expect, it } from 'vitest';
import { Capture, type OverlayCluster, useOverlayCluster } from '../helpers/overlay-cluster.js';
import { type ParsedFrame, parseFrame } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';

/** Inner ARP requests of the VXLAN frames in a capture. */
function encapsulatedArpRequests(frames: Buffer[]): { vni: number; targetIp: string; senderIp: string }[] {
  return frames
    .map((f) => parseFrame(f).eth.ipv4?.udp?.vxlan)
    .filter((v) => v?.eth?.arp?.op === 1)
    .map((v) => ({ vni: v!.vni, targetIp: v!.eth!.arp!.targetIp, senderIp: v!.eth!.arp!.senderIp }));
}

async function neighbour(c: OverlayCluster, vm: string, ip: string): Promise<{ lladdr?: string; state?: string[] } | undefined> {
  const { stdout } = await c.topo.exec(c.vm(vm).name, ['ip', '-j', 'neigh', 'show', ip, 'dev', 'eth0']);
  return (JSON.parse(stdout) as { lladdr?: string; state?: string[] }[])[0];
}

const n = (d: Record<string, number>, reason: string): number => d[reason] ?? 0;

describePrivileged('VXLAN overlay: ARP answered on the asking VM’s node', ['bpf', 'netns'], () => {
  const cluster = useOverlayCluster();

  it('answers ARP for a remote port locally; no ARP crosses the underlay, the other VM never sees the request', async () => {
    const c = cluster();
    const r1 = c.vm('r1');
    const r2 = c.vm('r2');
    await c.flushNeighbours('r1');
    await c.flushNeighbours('r2');
    const underlay = { hv1: await Capture.start(c.topo, 'hv1', 'eth0', 'udp port 4789'), hv2: await Capture.start(c.topo, 'hv2', 'eth0', 'udp port 4789') };
    const atR2 = await c.captureVm('r2', 'arp', 'in');

    let hv2: Record<string, number> = {};
    const hv1 = await c.reasonDelta('hv1', async () => {
      hv2 = await c.reasonDelta('hv2', async () => {
        expect(await c.ping('r1', r2.ip, 2)).toBe(2);
      });
    });

    // r1's request was answered on hv1, with r2's MAC; r2's own request (for the reply) on hv2.
    expect(n(hv1, 'REASON_FWD_ARP_REPLY')).toBeGreaterThanOrEqual(1);
    expect(n(hv2, 'REASON_FWD_ARP_REPLY')).toBeGreaterThanOrEqual(1);
    expect((await neighbour(c, 'r1', r2.ip))?.lladdr).toBe(r2.mac);
    expect((await neighbour(c, 'r2', r1.ip))?.lladdr).toBe(r1.mac);
    // Nothing was flooded by either node.
    for (const [hv, d] of [['hv1', hv1], ['hv2', hv2]] as const) {
      expect(n(d, 'REASON_PASS_TO_FLOOD') + n(d, 'REASON_FWD_FLOOD'), `${hv} flooded`).toBe(0);
    }
    const r2Saw = (await atR2.stop()).map((f) => parseFrame(f));
    expect(r2Saw.filter((f: ParsedFrame) => f.eth.arp?.op === 1 && f.eth.arp.senderIp === r1.ip)).toHaveLength(0);

    // Control: an ARP request nobody can answer is flooded, and these captures see it on the underlay of both nodes.
    expect(await c.ping('r1', '10.0.0.99', 1)).toBe(0);
    const isFloodedArp = (f: Buffer) => parseFrame(f).eth.ipv4?.udp?.vxlan?.eth?.arp?.targetIp === '10.0.0.99';
    await underlay.hv1.waitFor(isFloodedArp, 'hv1 transmits the flooded ARP request');
    await underlay.hv2.waitFor(isFloodedArp, 'hv2 receives the flooded ARP request');
    for (const hv of ['hv1', 'hv2'] as const) {
      const requests = encapsulatedArpRequests(await underlay[hv].stop());
      expect(requests.filter((r) => r.targetIp === r2.ip || r.targetIp === r1.ip), `${hv}: ARP for a known port on the underlay`).toHaveLength(0);
      expect(requests.filter((r) => r.targetIp === '10.0.0.99')[0]).toMatchObject({ vni: 100, senderIp: r1.ip });
    }
  });

  it('answers ARP for a port of the same node locally too', async () => {
    const c = cluster();
    await c.flushNeighbours('r1');
    const atR3 = await c.captureVm('r3', 'arp', 'in');
    const hv1 = await c.reasonDelta('hv1', async () => {
      expect(await c.ping('r1', c.vm('r3').ip, 1)).toBe(1);
    });
    expect(n(hv1, 'REASON_FWD_ARP_REPLY')).toBeGreaterThanOrEqual(1);
    expect(n(hv1, 'REASON_PASS_TO_FLOOD')).toBe(0);
    expect((await neighbour(c, 'r1', c.vm('r3').ip))?.lladdr).toBe(c.vm('r3').mac);
    const r3Saw = (await atR3.stop()).map((f) => parseFrame(f));
    expect(r3Saw.filter((f) => f.eth.arp?.op === 1 && f.eth.arp.senderIp === c.vm('r1').ip)).toHaveLength(0);
  });
});
