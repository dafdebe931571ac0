// The VXLAN overlay end to end: two hypervisors, each a real xdpnetd with the
// BPF dataplane programmed over gRPC, VMs in namespaces exchanging real ping,
// TCP and UDP traffic, across the underlay and between two VMs of one node.
// The reason counters of both nodes say which path the traffic took: across
// nodes it is encapsulated on one side and decapsulated on the other; on one
// node it is switched locally and the other node sees none of it.
import { expect, it } from 'vitest';
import {
  type OverlayCluster,
  startTcpEchoServer,
  startUdpEchoServer,
  tcpEcho,
  udpEcho,
  useOverlayCluster,
} from '../helpers/overlay-cluster.js';
import { describePrivileged } from '../helpers/privileged.js';

/** Counters of both nodes while `action` ran. */
async function deltas(c: OverlayCluster, action: () => Promise<unknown>): Promise<{ hv1: Record<string, number>; hv2: Record<string, number> }> {
  let hv2: Record<string, number> = {};
  const hv1 = await c.reasonDelta('hv1', async () => {
    hv2 = await c.reasonDelta('hv2', action);
  });
  return { hv1, hv2 };
}

const n = (d: Record<string, number>, reason: string): number => d[reason] ?? 0;

describePrivileged('VXLAN overlay: ping, TCP and UDP between VMs', ['bpf', 'netns'], () => {
  const cluster = useOverlayCluster();

  it('pings across nodes, encapsulated on one and decapsulated on the other', async () => {
    const c = cluster();
    const d = await deltas(c, async () => {
      expect(await c.ping('r1', c.vm('r2').ip, 5)).toBe(5);
      expect(await c.ping('r2', c.vm('r1').ip, 5)).toBe(5);
    });
    // Ten requests and ten replies each way: hv1 encapsulates 10 (r1's requests, its replies to r2) and decapsulates 10.
    for (const hv of ['hv1', 'hv2'] as const) {
      expect(n(d[hv], 'REASON_FWD_ENCAP'), `${hv} encapsulated`).toBeGreaterThanOrEqual(10);
      expect(n(d[hv], 'REASON_FWD_DECAP'), `${hv} decapsulated`).toBeGreaterThanOrEqual(10);
    }
  });

  it('pings between two VMs of one node without touching the underlay', async () => {
    const c = cluster();
    const d = await deltas(c, async () => {
      expect(await c.ping('r1', c.vm('r3').ip, 5)).toBe(5);
      expect(await c.ping('r3', c.vm('r1').ip, 5)).toBe(5);
    });
    expect(n(d.hv1, 'REASON_FWD_LOCAL')).toBeGreaterThanOrEqual(20);
    expect(n(d.hv1, 'REASON_FWD_ENCAP')).toBe(0);
    // Nothing reached the other node at all: its programs saw no frame.
    expect(n(d.hv2, 'REASON_FWD_DECAP') + n(d.hv2, 'REASON_PASS_TO_FLOOD') + n(d.hv2, 'REASON_FWD_FLOOD')).toBe(0);
  });

  it('carries TCP across nodes and on one node: 1 MiB echoed back intact', async () => {
    const c = cluster();
    const t = c.topo;
    const across = await startTcpEchoServer(t, 'r2', c.vm('r2').ip, 7001);
    const local = await startTcpEchoServer(t, 'r3', c.vm('r3').ip, 7001);
    try {
      const d = await deltas(c, async () => {
        expect(await tcpEcho(t, 'r1', c.vm('r2').ip, 7001, 1 << 20)).toMatchObject({ sent: 1 << 20, received: 1 << 20, identical: true });
        expect(await tcpEcho(t, 'r1', c.vm('r3').ip, 7001, 1 << 20)).toMatchObject({ sent: 1 << 20, received: 1 << 20, identical: true });
      });
      // 1 MiB each way in segments of at most 1398 bytes (MTU 1450): at least 750 data segments per direction.
      expect(n(d.hv1, 'REASON_FWD_ENCAP')).toBeGreaterThanOrEqual(750);
      expect(n(d.hv2, 'REASON_FWD_DECAP')).toBeGreaterThanOrEqual(750);
      expect(n(d.hv1, 'REASON_FWD_LOCAL')).toBeGreaterThanOrEqual(1500);
    } finally {
      await across.stop();
      await local.stop();
    }
  });

  it('carries UDP across nodes and on one node: every datagram echoed', async () => {
    const c = cluster();
    const t = c.topo;
    const across = await startUdpEchoServer(t, 'r2', c.vm('r2').ip, 7002);
    const local = await startUdpEchoServer(t, 'r3', c.vm('r3').ip, 7002);
    try {
      expect(await udpEcho(t, 'r1', c.vm('r2').ip, 7002, 200)).toEqual({ sent: 200, echoed: 200 });
      expect(await udpEcho(t, 'r1', c.vm('r3').ip, 7002, 200)).toEqual({ sent: 200, echoed: 200 });
      // And the other way across: hv2's VM is the client.
      const back = await startUdpEchoServer(t, 'r1', c.vm('r1').ip, 7002);
      try {
        expect(await udpEcho(t, 'r2', c.vm('r1').ip, 7002, 200)).toEqual({ sent: 200, echoed: 200 });
      } finally {
        await back.stop();
      }
    } finally {
      await across.stop();
      await local.stop();
    }
  });
});
