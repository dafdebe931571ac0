// Distributed east–west routing end to end: two hypervisors running real
// xdpnetd with the BPF dataplane, two tenants whose routers route the same
// two subnets (10.1.0.0/24 and 10.2.0.0/24), VMs in namespaces on both nodes
// with their default route via their subnet's gateway (the router's
// interface). Real ping and TCP between the subnets, on one node and across
// nodes; the reason counters of both nodes say where the traffic was routed
// (always by the node of the sender), the frames the VMs receive and the
// routed underlay carries say how (the router's MAC as source, TTL − 1, the
// destination subnet's VNI, checksums intact as tshark checks them). The
// router answers pings to its own addresses and sends ICMP time exceeded from
// its gateway address; the other tenant's router never mixes in; removing an
// interface stops routing to its subnet; an external gateway the fast path
// cannot use yet (a VXLAN external network; a physical network the gateway
// node has no interface for) makes the router ERROR with the reason while
// east–west routing goes on. (SNAT through a usable gateway:
// test/e2e/snat-traffic.test.ts.)
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { parseFrame } from '../helpers/frames.js';
import { Capture, HVS, ROUTER_NS, startTcpEchoServer, tcpEcho } from '../helpers/overlay-cluster.js';
import { tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';
import { GATEWAY, type RoutingCluster, type SubnetNo, useRoutingCluster } from '../helpers/routing-cluster.js';

const GOOD = '1'; // tshark *.checksum.status
const MiB = 1 << 20;

const n = (d: Record<string, number>, reason: string): number => d[reason] ?? 0;

/** How ping reports an ICMP error about its first probe from the gateway of subnet `s`. */
const fromGateway = (s: SubnetNo, error: string): RegExp => new RegExp(`From ${GATEWAY[s].replaceAll('.', '\\.')} icmp_seq=1 ${error}`);

/** One `ping -c 1` from VM `from`, optionally with a TTL; its output (replies, or the ICMP error it reports). */
async function pingOnce(c: RoutingCluster, from: string, target: string, ttl?: number): Promise<string> {
  const argv = ['ping', '-n', '-c', '1', '-W', '2', ...(ttl === undefined ? [] : ['-t', String(ttl)]), target];
  const r = await c.topo.exec(c.vm(from).name, argv, { allowFailure: true, timeoutMs: 10_000 });
  return r.stdout;
}

/** What VM `name` receives (ICMP only) while `action` runs. */
async function received(c: RoutingCluster, name: string, action: () => Promise<void>): Promise<Buffer[]> {
  const cap = await c.overlay.captureVm(name, 'icmp', 'in');
  try {
    await action();
  } finally {
    await cap.settle();
  }
  return cap.stop();
}

/** What the routed underlay carries from each node (the router namespace's view) while `action` runs. */
async function captureUnderlay(c: RoutingCluster, action: () => Promise<void>): Promise<{ fromHv1: Buffer[]; fromHv2: Buffer[] }> {
  const a = await Capture.start(c.topo, ROUTER_NS, 'to-hv1', 'udp port 4789', 'in');
  const b = await Capture.start(c.topo, ROUTER_NS, 'to-hv2', 'udp port 4789', 'in');
  try {
    await action();
  } finally {
    await Promise.all([a.settle(), b.settle()]);
  }
  return { fromHv1: await a.stop(), fromHv2: await b.stop() };
}

/** The IPv4 echo requests (or replies) among captured frames. */
const echoes = (frames: Buffer[], type: 0 | 8) => frames.map((f) => parseFrame(f)).filter((p) => p.eth.ipv4?.icmp?.type === type);

describePrivileged('distributed routing: two subnets, two nodes, two tenants', ['bpf', 'netns'], () => {
  const cluster = useRoutingCluster();

  it('shows both routers (no external gateway) ACTIVE on both nodes', async () => {
    const c = cluster();
    for (const hv of HVS) {
      for (const tenant of ['alpha', 'beta'] as const) {
        const r = await c.overlay.api(hv).getRouter(c.routers[tenant].id!);
        expect(r.status, `${hv} ${tenant}`).toMatchObject({ state: 'RESOURCE_STATE_ACTIVE', code: '', message: '' });
        expect(r.interfaces.map((i) => i.ipAddress).sort(), `${hv} ${tenant}`).toEqual([GATEWAY[1], GATEWAY[2]]);
      }
    }
  });

  it('routes between subnets on one node (ping, TCP): REASON_FWD_ROUTED_LOCAL, nothing crosses the underlay', async () => {
    const c = cluster();
    const [a1, a2] = [c.vm('a1'), c.vm('a2')];
    let frames: Buffer[] = [];
    const d = await c.deltas(async () => {
      frames = await received(c, 'a2', async () => {
        expect(await c.ping('a1', a2.ip, 5)).toBe(5);
      });
      expect(await c.ping('a2', a1.ip, 5)).toBe(5);
    });
    // Twenty routed frames: requests and replies, both ways.
    expect(n(d.hv1, 'REASON_FWD_ROUTED_LOCAL')).toBeGreaterThanOrEqual(20);
    expect(n(d.hv1, 'REASON_FWD_ROUTED_ENCAP') + n(d.hv1, 'REASON_FWD_ENCAP')).toBe(0);
    expect(n(d.hv2, 'REASON_FWD_DECAP') + n(d.hv2, 'REASON_FWD_ROUTED_ENCAP')).toBe(0);

    // Routed, not switched: from the router's MAC, TTL one less than Linux's 64, checksums still right.
    const requests = echoes(frames, 8);
    expect(requests).toHaveLength(5);
    for (const p of requests) {
      expect(p.eth).toMatchObject({ src: c.routerMac('alpha'), dst: a2.mac });
      expect(p.eth.ipv4).toMatchObject({ src: a1.ip, dst: a2.ip, ttl: 63, checksumOk: true });
      expect(p.eth.ipv4!.icmp!.checksumOk).toBe(true);
    }

    const server = await startTcpEchoServer(c.topo, 'a2', a2.ip, 7101);
    try {
      const t = await c.deltas(async () => {
        expect(await tcpEcho(c.topo, 'a1', a2.ip, 7101, MiB)).toMatchObject({ sent: MiB, received: MiB, identical: true });
      });
      // 1 MiB each way in segments of at most 1398 bytes (MTU 1450).
      expect(n(t.hv1, 'REASON_FWD_ROUTED_LOCAL')).toBeGreaterThanOrEqual(1500);
    } finally {
      await server.stop();
    }
  });

  it('routes across nodes: the sender’s node routes and encapsulates in the destination subnet’s VNI (REASON_FWD_ROUTED_ENCAP)', async () => {
    const c = cluster();
    const [a1, a4] = [c.vm('a1'), c.vm('a4')];
    let wire = { fromHv1: [] as Buffer[], fromHv2: [] as Buffer[] };
    const d = await c.deltas(async () => {
      wire = await captureUnderlay(c, async () => {
        expect(await c.ping('a1', a4.ip, 3)).toBe(3);
      });
    });
    // Requests routed by hv1, replies by hv2; each node decapsulates what the other routed.
    for (const hv of HVS) {
      expect(n(d[hv], 'REASON_FWD_ROUTED_ENCAP'), `${hv} routed and encapsulated`).toBeGreaterThanOrEqual(3);
      expect(n(d[hv], 'REASON_FWD_DECAP'), `${hv} decapsulated`).toBeGreaterThanOrEqual(3);
      expect(n(d[hv], 'REASON_FWD_ROUTED_LOCAL'), `${hv}: the receiving node routes nothing`).toBe(0);
    }
    for (const [side, frames, vni, dstMac, src, dst] of [
      ['hv1 → hv2 (requests)', wire.fromHv1, 102, a4.mac, a1.ip, a4.ip],
      ['hv2 → hv1 (replies)', wire.fromHv2, 101, a1.mac, a4.ip, a1.ip],
    ] as const) {
      // Only the echoes cross: each VM's ARP for its gateway is answered on its own node.
      expect(frames, side).toHaveLength(3);
      for (const [i, pkt] of (await tsharkDecode(frames)).entries()) {
        const what = `${side}, frame ${i}`;
        expect(tsharkField(pkt, 'frame.protocols')[0], what).toBe('eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data');
        expect(tsharkField(pkt, 'vxlan.vni'), `${what}: the destination subnet's VNI`).toEqual([String(vni)]);
        expect(tsharkField(pkt, 'eth.src')[1], `${what}: the router's MAC`).toBe(c.routerMac('alpha'));
        expect(tsharkField(pkt, 'eth.dst')[1], what).toBe(dstMac);
        expect(tsharkField(pkt, 'ip.src')[1], what).toBe(src);
        expect(tsharkField(pkt, 'ip.dst')[1], what).toBe(dst);
        expect(tsharkField(pkt, 'ip.ttl')[1], `${what}: routed once`).toBe('63');
        expect(tsharkField(pkt, 'ip.checksum.status'), `${what}: outer and inner IPv4 checksums`).toEqual([GOOD, GOOD]);
        expect(tsharkField(pkt, 'icmp.checksum.status'), what).toEqual([GOOD]);
      }
    }

    const servers = [await startTcpEchoServer(c.topo, 'a4', a4.ip, 7102), await startTcpEchoServer(c.topo, 'a2', c.vm('a2').ip, 7102)];
    try {
      const t = await c.deltas(async () => {
        expect(await tcpEcho(c.topo, 'a1', a4.ip, 7102, MiB)).toMatchObject({ sent: MiB, received: MiB, identical: true });
        expect(await tcpEcho(c.topo, 'a3', c.vm('a2').ip, 7102, MiB)).toMatchObject({ sent: MiB, received: MiB, identical: true });
      });
      for (const hv of HVS) expect(n(t[hv], 'REASON_FWD_ROUTED_ENCAP'), hv).toBeGreaterThanOrEqual(1500);
    } finally {
      for (const s of servers) await s.stop();
    }
  });

  it('answers pings to the router’s own addresses, on either subnet, in the port program (REASON_FWD_ICMP_ECHO_REPLY)', async () => {
    const c = cluster();
    let frames: Buffer[] = [];
    const d = await c.deltas(async () => {
      frames = await received(c, 'a1', async () => {
        expect(await c.ping('a1', GATEWAY[1], 3)).toBe(3);
      });
      // Its address on the other subnet answers too (Linux's router does the same).
      expect(await c.ping('a1', GATEWAY[2], 3)).toBe(3);
      expect(await c.ping('a4', GATEWAY[2], 3)).toBe(3);
    });
    expect(n(d.hv1, 'REASON_FWD_ICMP_ECHO_REPLY')).toBeGreaterThanOrEqual(6);
    expect(n(d.hv2, 'REASON_FWD_ICMP_ECHO_REPLY')).toBeGreaterThanOrEqual(3);
    const replies = echoes(frames, 0);
    expect(replies).toHaveLength(3);
    for (const p of replies) {
      expect(p.eth).toMatchObject({ src: c.routerMac('alpha'), dst: c.vm('a1').mac });
      expect(p.eth.ipv4).toMatchObject({ src: GATEWAY[1], dst: c.vm('a1').ip, checksumOk: true });
      expect(p.eth.ipv4!.icmp!.checksumOk).toBe(true);
    }
  });

  it('a probe with TTL 1 gets ICMP time exceeded from the gateway (REASON_FWD_ICMP_TIME_EXCEEDED); with TTL 2 it gets through', async () => {
    const c = cluster();
    const [a1, a4] = [c.vm('a1'), c.vm('a4')];
    let atA1: Buffer[] = [];
    let atA4: Buffer[] = [];
    let out = '';
    const d = await c.deltas(async () => {
      atA4 = await received(c, 'a4', async () => {
        atA1 = await received(c, 'a1', async () => {
          out = await pingOnce(c, 'a1', a4.ip, 1);
        });
      });
    });
    expect(out).toMatch(fromGateway(1, 'Time to live exceeded'));
    expect(n(d.hv1, 'REASON_FWD_ICMP_TIME_EXCEEDED')).toBe(1);
    expect(n(d.hv1, 'REASON_FWD_ROUTED_ENCAP')).toBe(0);
    expect(echoes(atA4, 8)).toHaveLength(0);
    const errors = atA1.map((f) => parseFrame(f)).filter((p) => p.eth.ipv4?.icmp?.type === 11);
    expect(errors).toHaveLength(1);
    const e = errors[0]!;
    expect(e.eth).toMatchObject({ src: c.routerMac('alpha'), dst: a1.mac });
    expect(e.eth.ipv4).toMatchObject({ src: GATEWAY[1], dst: a1.ip, checksumOk: true });
    expect(e.eth.ipv4!.icmp).toMatchObject({ code: 0, checksumOk: true });
    // It quotes the probe as it arrived (TTL 1, to a4).
    expect(e.eth.ipv4!.icmp!.inner).toMatchObject({ src: a1.ip, dst: a4.ip, ttl: 1 });

    expect(await pingOnce(c, 'a1', a4.ip, 2)).toMatch(/1 received/);
  });

  it('keeps tenants apart: the same addresses behind the other router reach only that tenant’s VMs', async () => {
    const c = cluster();
    const target = c.vm('a4').ip; // b4's too
    for (const [from, to, other, tenant] of [['a1', 'a4', 'b4', 'alpha'], ['b1', 'b4', 'a4', 'beta']] as const) {
      let atOther: Buffer[] = [];
      const atTo = await received(c, to, async () => {
        atOther = await received(c, other, async () => {
          expect(await c.ping(from, target, 3), `${from} → ${target}`).toBe(3);
        });
      });
      const requests = echoes(atTo, 8);
      expect(requests, `${to} receives ${from}'s pings`).toHaveLength(3);
      for (const p of requests) expect(p.eth.src, `routed by ${tenant}'s router`).toBe(c.routerMac(tenant));
      expect(atOther, `${other} receives nothing`).toHaveLength(0);
    }
    expect(c.routerMac('alpha')).not.toBe(c.routerMac('beta'));

    // 10.2.0.12 is alpha's a2 only: beta's router knows no neighbour there, and a2 hears nothing.
    let atA2: Buffer[] = [];
    const d = await c.deltas(async () => {
      atA2 = await received(c, 'a2', async () => {
        expect(await c.ping('b1', c.vm('a2').ip, 2)).toBe(0);
      });
    });
    expect(n(d.hv1, 'REASON_DROP_NO_NEIGHBOR')).toBeGreaterThanOrEqual(2);
    expect(atA2).toHaveLength(0);
  });

  it('a router whose external gateway the fast path cannot use yet says why (ERROR), still routes between its subnets, and what would leave through the gateway is dropped with that reason', async () => {
    const c = cluster();
    const alpha = c.routers.alpha.id!;
    // SNAT itself (a flat external network on the gateway node's external NIC): test/e2e/snat-traffic.test.ts.
    // A VXLAN external network: only flat ones are forwarded so far.
    const ext = { id: randomUUID(), name: 'public', type: 'NETWORK_TYPE_VXLAN' as const, segmentationId: 900, external: true };
    const extSub = { id: randomUUID(), name: 'public-sub', networkId: ext.id, cidr: '198.18.0.0/24', gatewayIp: '198.18.0.1', enableDhcp: false };
    // A flat one on a physical network no node here maps to an interface (no physical_networks in this cluster).
    const flat = { id: randomUUID(), name: 'flat-public', type: 'NETWORK_TYPE_FLAT' as const, segmentationId: 0, physicalNetwork: 'external', external: true };
    const flatSub = { id: randomUUID(), name: 'flat-public-sub', networkId: flat.id, cidr: '198.19.0.0/24', gatewayIp: '198.19.0.1', enableDhcp: false };
    const setGateway = async (networkId: string, ipAddress: string) => {
      for (const hv of HVS) {
        await c.overlay.api(hv).setRouterGateway({
          routerId: alpha,
          externalGateway: { networkId, ipAddress, enableSnat: true, gatewayNodeVtepIp: c.overlay.vtep.hv1 },
        });
      }
      await Promise.all(HVS.map((hv) => c.waitConverged(hv, { allowError: [alpha] })));
    };
    for (const hv of HVS) {
      const a = c.overlay.api(hv);
      await a.createNetwork(ext);
      await a.createSubnet(extSub);
      await a.createNetwork(flat);
      await a.createSubnet(flatSub);
    }

    await setGateway(ext.id, '198.18.0.2');
    for (const hv of HVS) {
      // What a user sees: the router is ERROR for its gateway part; everything else (the external network included) is ACTIVE.
      expect((await c.overlay.api(hv).getRouter(alpha)).status, hv).toMatchObject({
        state: 'RESOURCE_STATE_ERROR',
        code: 'UNIMPLEMENTED',
        message:
          `the external network ${ext.id} is a vxlan network: only flat external networks are forwarded so far, ` +
          'so what the router sends out through its gateway is dropped (REASON_DROP_EXTERNAL_NETWORK_TYPE)',
      });
      expect((await c.overlay.api(hv).getRouter(c.routers.beta.id!)).status?.state, hv).toBe('RESOURCE_STATE_ACTIVE');
      expect((await c.overlay.api(hv).getNetwork(ext.id)).status?.state, hv).toBe('RESOURCE_STATE_ACTIVE');
    }
    const d = await c.deltas(async () => {
      expect(await c.ping('a1', c.vm('a4').ip, 3)).toBe(3);
      // Off every subnet of the router: its default route via the external gateway, on hv1 (the gateway node).
      expect(await c.ping('a1', '203.0.113.7', 2)).toBe(0);
    });
    expect(n(d.hv1, 'REASON_FWD_ROUTED_ENCAP')).toBeGreaterThanOrEqual(3);
    expect(n(d.hv1, 'REASON_DROP_EXTERNAL_NETWORK_TYPE')).toBeGreaterThanOrEqual(2);

    // The gateway node has no interface for the flat network's physical network: a configuration problem, said so there.
    await setGateway(flat.id, '198.19.0.2');
    expect((await c.overlay.api('hv1').getRouter(alpha)).status).toMatchObject({
      state: 'RESOURCE_STATE_ERROR',
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/^physical network "external" is not mapped to an interface on this node \(physical_networks\)/),
    });
    // hv2 does its part (its VMs' packets are tunnelled to hv1, and dropped there, counted).
    expect((await c.overlay.api('hv2').getRouter(alpha)).status?.state).toBe('RESOURCE_STATE_ACTIVE');
    const f = await c.deltas(async () => {
      expect(await c.ping('a1', '203.0.113.7', 2)).toBe(0);
    });
    // No external side written on the gateway node: nothing to route it with.
    expect(n(f.hv1, 'REASON_DROP_NO_EXTERNAL_SIDE')).toBeGreaterThanOrEqual(2);

    for (const hv of HVS) await c.overlay.api(hv).clearRouterGateway(alpha);
    await Promise.all(HVS.map((hv) => c.waitConverged(hv)));
    for (const hv of HVS) expect((await c.overlay.api(hv).getRouter(alpha)).status?.state, hv).toBe('RESOURCE_STATE_ACTIVE');
  });

  it('removing a router interface stops routing to and from its subnet (the other tenant’s goes on); adding it back routes again', async () => {
    const c = cluster();
    const [a2, a4] = [c.vm('a2'), c.vm('a4')];
    await c.removeInterface('alpha', 2);

    const d = await c.deltas(async () => {
      // The router has no route to 10.2.0.0/24 any more: it says so from its address on the sender's subnet.
      for (const to of [a2, a4]) expect(await pingOnce(c, 'a1', to.ip), to.name).toMatch(fromGateway(1, 'Destination Net Unreachable'));
      // Nobody answers ARP for the gateway on 10.2.0.0/24 any more.
      await c.overlay.flushNeighbours('a2');
      expect(await c.ping('a2', GATEWAY[2], 2)).toBe(0);
    });
    expect(n(d.hv1, 'REASON_FWD_ICMP_NET_UNREACHABLE')).toBe(2);
    for (const hv of HVS) {
      expect(n(d[hv], 'REASON_FWD_ROUTED_LOCAL') + n(d[hv], 'REASON_FWD_ROUTED_ENCAP'), `${hv} routed nothing`).toBe(0);
      expect(n(d[hv], 'REASON_FWD_ICMP_ECHO_REPLY'), `${hv}: no gateway answered`).toBe(0);
    }
    // The other tenant's router, and switching within the subnet, are untouched.
    expect(await c.ping('b1', c.vm('b4').ip, 2)).toBe(2);
    expect(await c.ping('a2', a4.ip, 2)).toBe(2);
    expect(await c.ping('a1', c.vm('a3').ip, 2)).toBe(2);

    await c.addInterface('alpha', 2);
    const again = await c.deltas(async () => {
      expect(await c.ping('a1', a2.ip, 3)).toBe(3);
      expect(await c.ping('a1', a4.ip, 3)).toBe(3);
    });
    expect(n(again.hv1, 'REASON_FWD_ROUTED_LOCAL')).toBeGreaterThanOrEqual(6);
    expect(n(again.hv1, 'REASON_FWD_ROUTED_ENCAP')).toBeGreaterThanOrEqual(3);
  });
});
