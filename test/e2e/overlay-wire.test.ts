// What the overlay puts on the wire, decoded by an independent decoder. The
// underlay is routed here: hv1 (192.0.2.1) and hv2 (198.51.100.2) are in two
// subnets with a router namespace between them, so each node's next hop to
// the other VTEP is the router (resolved by the daemon from the kernel's
// routes and neighbours), not the VTEP itself. The router's interfaces see
// every encapsulated frame; tshark decodes them (checksum validation on) as
// VXLAN with the tenant's VNI, a valid outer IPv4 checksum and intact inner
// ICMP/TCP/UDP checksums; frames.ts checks the rest of the header layout.
import { expect, it } from 'vitest';
import { Capture, type OverlayCluster, ROUTER_NS, startTcpEchoServer, startUdpEchoServer, tcpEcho, udpEcho, useOverlayCluster } from '../helpers/overlay-cluster.js';
import { flowHash, parseFrame, vxlanSourcePort } from '../helpers/frames.js';
import { tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';

const GOOD = '1'; // tshark *.checksum.status
const NOT_PRESENT = '3';

async function macOf(c: OverlayCluster, ns: string, ifname: string): Promise<string> {
  const { stdout } = await c.topo.exec(ns, ['ip', '-j', 'link', 'show', 'dev', ifname]);
  return (JSON.parse(stdout) as { address: string }[])[0]!.address;
}

/** Captures, on the router, what hv1 sends (to-hv1, in) and what hv2 sends (to-hv2, in) while `action` runs. */
async function captureUnderlay(c: OverlayCluster, action: () => Promise<void>): Promise<{ fromHv1: Buffer[]; fromHv2: Buffer[] }> {
  const a = await Capture.start(c.topo, ROUTER_NS, 'to-hv1', 'udp port 4789', 'in');
  const b = await Capture.start(c.topo, ROUTER_NS, 'to-hv2', 'udp port 4789', 'in');
  try {
    await action();
  } finally {
    await Promise.all([a.settle(), b.settle()]);
  }
  return { fromHv1: await a.stop(), fromHv2: await b.stop() };
}

describePrivileged('VXLAN overlay on a routed underlay: the frames on the wire', ['bpf', 'netns'], () => {
  const cluster = useOverlayCluster({ underlay: 'routed' });

  it('encapsulates towards the router as next hop: VXLAN with the tenant’s VNI, valid checksums, as tshark decodes it', async () => {
    const c = cluster();
    const mac = {
      hv1: await macOf(c, 'hv1', 'eth0'),
      hv2: await macOf(c, 'hv2', 'eth0'),
      toHv1: await macOf(c, ROUTER_NS, 'to-hv1'),
      toHv2: await macOf(c, ROUTER_NS, 'to-hv2'),
    };

    for (const [tenant, from, to, vni] of [['red', 'r1', 'r2', 100], ['blue', 'b1', 'b2', 200]] as const) {
      const wire = await captureUnderlay(c, async () => {
        expect(await c.ping(from, c.vm(to).ip, 3), `${tenant} ping`).toBe(3);
      });
      for (const [side, frames, src, dst, srcVtep, dstVtep] of [
        ['hv1 → router', wire.fromHv1, mac.hv1, mac.toHv1, c.vtep.hv1, c.vtep.hv2],
        ['hv2 → router', wire.fromHv2, mac.hv2, mac.toHv2, c.vtep.hv2, c.vtep.hv1],
      ] as const) {
        // Three echo requests one way, three replies the other; ARP never crosses.
        expect(frames, `${tenant}, ${side}`).toHaveLength(3);
        const decoded = await tsharkDecode(frames);
        for (const [i, pkt] of decoded.entries()) {
          const what = `${tenant}, ${side}, frame ${i}`;
          expect(tsharkField(pkt, 'frame.protocols')[0], what).toBe('eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data');
          expect(tsharkField(pkt, 'vxlan.vni'), what).toEqual([String(vni)]);
          expect(tsharkField(pkt, 'eth.src'), what).toEqual([src, c.vm(side.startsWith('hv1') ? from : to).mac]);
          expect(tsharkField(pkt, 'eth.dst')[0], `${what}: the next hop is the router`).toBe(dst);
          expect(tsharkField(pkt, 'ip.src')[0], what).toBe(srcVtep);
          expect(tsharkField(pkt, 'ip.dst')[0], what).toBe(dstVtep);
          expect(tsharkField(pkt, 'ip.checksum.status'), `${what}: outer and inner IPv4 checksums`).toEqual([GOOD, GOOD]);
          expect(tsharkField(pkt, 'udp.dstport'), what).toEqual(['4789']);
          expect(tsharkField(pkt, 'udp.checksum.status'), `${what}: outer UDP checksum 0`).toEqual([NOT_PRESENT]);
          expect(tsharkField(pkt, 'icmp.checksum.status'), what).toEqual([GOOD]);
        }
        for (const f of frames) {
          const outer = parseFrame(f).eth.ipv4!;
          const vxlan = outer.udp!.vxlan!;
          const inner = f.subarray(vxlan.offset + 8);
          expect(outer).toMatchObject({ ttl: 64, df: true, protocol: 17, totalLength: inner.length + 36 });
          expect(vxlan.flags).toBe(0x08);
          // The outer source port is the inner flow's hash, as Linux's vxlan maps it (RSS/ECMP entropy).
          expect(outer.udp!.sport).toBe(vxlanSourcePort(flowHash(inner)));
        }
      }
    }
  });

  it('carries TCP and UDP through the router with intact inner checksums', async () => {
    const c = cluster();
    const tcp = await startTcpEchoServer(c.topo, 'r2', c.vm('r2').ip, 7201);
    const udp = await startUdpEchoServer(c.topo, 'r2', c.vm('r2').ip, 7202);
    try {
      const wire = await captureUnderlay(c, async () => {
        expect(await tcpEcho(c.topo, 'r1', c.vm('r2').ip, 7201, 256 * 1024)).toMatchObject({ received: 256 * 1024, identical: true });
        expect(await udpEcho(c.topo, 'r1', c.vm('r2').ip, 7202, 50)).toEqual({ sent: 50, echoed: 50 });
      });
      const decoded = await tsharkDecode([...wire.fromHv1, ...wire.fromHv2]);
      const tcpFrames = decoded.filter((p) => tsharkField(p, 'tcp.checksum.status').length > 0);
      const udpFrames = decoded.filter((p) => tsharkField(p, 'udp.dstport').includes('7202') || tsharkField(p, 'udp.srcport').includes('7202'));
      // 256 KiB each way in segments of at most 1398 bytes: at least 2 × 188 data segments.
      expect(tcpFrames.length).toBeGreaterThanOrEqual(376);
      expect(udpFrames).toHaveLength(100);
      for (const p of [...tcpFrames, ...udpFrames]) {
        expect(tsharkField(p, 'vxlan.vni')).toEqual(['100']);
        expect(tsharkField(p, 'ip.checksum.status')).toEqual([GOOD, GOOD]);
      }
      const bad = tcpFrames.filter((p) => tsharkField(p, 'tcp.checksum.status')[0] !== GOOD);
      expect(bad.length, 'inner TCP segments with a checksum tshark does not accept').toBe(0);
      // Outer UDP checksum absent (0), inner one valid.
      for (const p of udpFrames) expect(tsharkField(p, 'udp.checksum.status')).toEqual([NOT_PRESENT, GOOD]);
    } finally {
      await tcp.stop();
      await udp.stop();
    }
  });
});
