// Port security on the VXLAN overlay and the per-port counters. r1 sends
// hand-made frames (raw socket, so its own stack cannot fix them up) with a
// source IP, a source MAC or an ARP sender that is not its port's; the port
// program drops each under its reason, and the destination VM's capture shows
// that none arrived. The same frames with r1's true addresses, sent last
// through the same port, do arrive: the capture would have seen a leak.
import { expect, it } from 'vitest';
import { Capture, type OverlayCluster, sendRawFrames, useOverlayCluster } from '../helpers/overlay-cluster.js';
import { eth, parseFrame } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';

const SPOOFED_IP = '10.0.0.99';
const SPOOFED_MAC = 'fa:16:3e:00:00:99';

const n = (d: Record<string, number>, reason: string): number => d[reason] ?? 0;

/** A UDP datagram from r1's port towards `to`, with `src` overrides, marked by its payload. */
function udpFrame(c: OverlayCluster, to: string, mark: string, src: { mac?: string; ip?: string } = {}): Buffer {
  const from = c.vm('r1');
  const dst = c.vm(to);
  return eth({ src: src.mac ?? from.mac, dst: dst.mac })
    .ipv4({ src: src.ip ?? from.ip, dst: dst.ip })
    .udp({ sport: 40000, dport: 9 })
    .payload(mark)
    .build();
}

const payloadOf = (f: Buffer): string => parseFrame(f).eth.ipv4?.udp?.payload.toString() ?? '';

async function portCounters(c: OverlayCluster, hv: 'hv1' | 'hv2', vm: string): Promise<pb.PortCounter__Output> {
  const { ports } = await c.api(hv).portCounters([c.vm(vm).portId]);
  expect(ports).toHaveLength(1);
  return ports[0]!;
}

const diff = (a: pb.PortCounter__Output, b: pb.PortCounter__Output) => ({
  rx: Number(b.rxPackets) - Number(a.rxPackets),
  tx: Number(b.txPackets) - Number(a.txPackets),
  dropped: Number(b.droppedPackets) - Number(a.droppedPackets),
  rxBytes: Number(b.rxBytes) - Number(a.rxBytes),
  txBytes: Number(b.txBytes) - Number(a.txBytes),
});

describePrivileged('VXLAN overlay: port security and per-port counters', ['bpf', 'netns'], () => {
  const cluster = useOverlayCluster();

  it('drops frames with a spoofed source IP or MAC, to a remote or a local VM, under their reasons', async () => {
    const c = cluster();
    const atR2 = await c.captureVm('r2', 'udp port 9', 'in');
    const atR3 = await c.captureVm('r3', 'udp port 9', 'in');
    const spoofed = [
      udpFrame(c, 'r2', 'spoofed-ip-remote', { ip: SPOOFED_IP }),
      udpFrame(c, 'r3', 'spoofed-ip-local', { ip: SPOOFED_IP }),
      udpFrame(c, 'r2', 'spoofed-mac-remote', { mac: SPOOFED_MAC }),
      udpFrame(c, 'r3', 'spoofed-mac-local', { mac: SPOOFED_MAC }),
      // Another tenant's address is no better: b1 really owns 10.0.0.11 with r1's MAC, in blue.
      udpFrame(c, 'r2', 'spoofed-ip-other', { ip: '10.0.0.12' }),
    ];
    const before = await portCounters(c, 'hv1', 'r1');
    const hv1 = await c.reasonDelta('hv1', async () => {
      for (let i = 0; i < 3; i++) await sendRawFrames(c.topo, 'r1', 'eth0', spoofed);
      await sendRawFrames(c.topo, 'r1', 'eth0', [udpFrame(c, 'r2', 'legit-remote'), udpFrame(c, 'r3', 'legit-local')]);
      await atR2.waitFor((f) => payloadOf(f) === 'legit-remote', 'r2 receives the legitimate frame');
      await atR3.waitFor((f) => payloadOf(f) === 'legit-local', 'r3 receives the legitimate frame');
    });
    const after = await portCounters(c, 'hv1', 'r1');

    expect(n(hv1, 'REASON_DROP_SPOOFED_IP')).toBe(9);
    expect(n(hv1, 'REASON_DROP_SPOOFED_MAC')).toBe(6);
    expect((await atR2.stop()).map(payloadOf)).toEqual(['legit-remote']);
    expect((await atR3.stop()).map(payloadOf)).toEqual(['legit-local']);
    // The port counted all 17 frames from the VM, and the 15 it dropped.
    expect(diff(before, after)).toMatchObject({ rx: 17, dropped: 15 });
  });

  it('drops an ARP that claims another VM’s address, so no VM learns it', async () => {
    const c = cluster();
    const r1 = c.vm('r1');
    // A gratuitous ARP (broadcast) saying 10.0.0.12 — r2's — is at r1's MAC: ARP poisoning.
    const poison = eth({ src: r1.mac, dst: 'ff:ff:ff:ff:ff:ff' })
      .arp({ op: 'reply', senderIp: c.vm('r2').ip, targetIp: c.vm('r2').ip, targetMac: 'ff:ff:ff:ff:ff:ff' })
      .build({ pad: true });
    // And one whose sender MAC is not the frame's source.
    const mismatched = eth({ src: r1.mac, dst: 'ff:ff:ff:ff:ff:ff' })
      .arp({ op: 'reply', senderMac: SPOOFED_MAC, senderIp: r1.ip, targetIp: r1.ip, targetMac: 'ff:ff:ff:ff:ff:ff' })
      .build({ pad: true });
    const caps = [await c.captureVm('r2', 'arp', 'in'), await c.captureVm('r3', 'arp', 'in'), await Capture.start(c.topo, 'hv1', 'eth0', 'udp port 4789')];
    const hv1 = await c.reasonDelta('hv1', async () => {
      await sendRawFrames(c.topo, 'r1', 'eth0', [poison, mismatched, poison, mismatched]);
      // Control, sent last on the same port: r1's true gratuitous ARP is flooded to r3 (and r2).
      await sendRawFrames(c.topo, 'r1', 'eth0', [
        eth({ src: r1.mac, dst: 'ff:ff:ff:ff:ff:ff' }).arp({ op: 'reply', senderIp: r1.ip, targetIp: r1.ip, targetMac: 'ff:ff:ff:ff:ff:ff' }).build({ pad: true }),
      ]);
      await caps[1]!.waitFor((f) => parseFrame(f).eth.arp?.senderIp === r1.ip, 'r3 receives r1’s true gratuitous ARP');
      await caps[0]!.waitFor((f) => parseFrame(f).eth.arp?.senderIp === r1.ip, 'r2 receives r1’s true gratuitous ARP');
    });
    expect(n(hv1, 'REASON_DROP_SPOOFED_ARP')).toBe(4);
    for (const cap of caps) {
      const arps = (await cap.stop()).map((f) => parseFrame(f)).map((p) => p.eth.arp ?? p.eth.ipv4?.udp?.vxlan?.eth?.arp);
      expect(arps.filter((a) => a && (a.senderIp !== r1.ip || a.senderMac !== r1.mac))).toHaveLength(0);
    }
  });

  it('counts per port: frames from and to each VM on its own node', async () => {
    const c = cluster();
    const r1Before = await portCounters(c, 'hv1', 'r1');
    const r2Before = await portCounters(c, 'hv2', 'r2');
    const r3Before = await portCounters(c, 'hv1', 'r3');
    expect(await c.ping('r1', c.vm('r2').ip, 5)).toBe(5);
    expect(await c.ping('r1', c.vm('r3').ip, 5)).toBe(5);
    const r1 = diff(r1Before, await portCounters(c, 'hv1', 'r1'));
    const r2 = diff(r2Before, await portCounters(c, 'hv2', 'r2'));
    const r3 = diff(r3Before, await portCounters(c, 'hv1', 'r3'));
    // rx = from the VM, tx = to the VM (the switch port's view). ARP may add a few frames each way.
    expect(r1.rx).toBeGreaterThanOrEqual(10);
    expect(r1.tx).toBeGreaterThanOrEqual(10);
    for (const other of [r2, r3]) {
      expect(other.rx).toBeGreaterThanOrEqual(5);
      expect(other.tx).toBeGreaterThanOrEqual(5);
    }
    // Each echo is 98 bytes on the wire (14 Ethernet + 20 IPv4 + 8 ICMP + 56 data).
    expect(r1.rxBytes).toBeGreaterThanOrEqual(10 * 98);
    expect(r2.txBytes).toBeGreaterThanOrEqual(5 * 98);
    expect(r1.dropped + r2.dropped + r3.dropped).toBe(0);
    // b1 (same IP and MAC as r1, other tenant) saw none of it.
    const b1 = await portCounters(c, 'hv1', 'b1');
    expect(Number(b1.txPackets)).toBe(0);
  });
});
