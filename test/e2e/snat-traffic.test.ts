// SNAT end to end (packet walk 4): real xdpnetd on a gateway node and two
// compute nodes (test/helpers/gateway-cluster.ts), routers whose external
// gateway is a flat external network on the gateway node's external NIC,
// and an "internet" behind it with real servers. VMs of two tenants with the
// same addresses reach a server through SNAT: the server sees the router's
// external IP (TCP, UDP, ping; every checksum intact, as tshark checks it),
// replies go back to the VM that sent, thousands of concurrent flows
// included. Around it: the external NIC's next hops resolved through managed
// neighbours (the subnet's gateway up front, an on-link host when first
// needed), the external IP answering ARP and ping and announced by
// gratuitous ARP, connections expiring on their configured timeout, port
// exhaustion with a tiny range (counted, and in the metrics), a daemon
// restart and a crash in the middle of a TCP transfer that goes on, a
// router losing its gateway taking its connections with it, and what the
// status says when SNAT is disabled. VMs on the compute nodes get there too,
// through the tunnel their node makes to the gateway node.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NatHalf } from '../../src/dataplane/snat-encode.js';
import { EXT, EXT_NIC, type GatewayCluster, INET_NS, NODES, SERVER, SRV_NS, useGatewayCluster } from '../helpers/gateway-cluster.js';
import { Capture, pollUntil, sleep } from '../helpers/overlay-cluster.js';
import { tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';

const GOOD = '1'; // tshark *.checksum.status
const KiB = 1024;
const MiB = 1 << 20;

const n = (d: Record<string, number>, reason: string): number => d[reason] ?? 0;

/** `ping -c count` from a namespace; the replies. */
async function ping(c: GatewayCluster, ns: string, target: string, count: number, intervalS = 0.3): Promise<number> {
  const r = await c.topo.exec(ns, ['ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '1', target], { allowFailure: true, timeoutMs: 30_000 });
  return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
}

describePrivileged('SNAT end to end: VMs reach the internet through their router’s external gateway', ['bpf', 'netns'], () => {
  const cluster = useGatewayCluster();

  it('the routers are ACTIVE on their gateway node, its external NIC runs xdp_external, and the external gateway is resolved up front by a managed neighbour', async () => {
    const c = cluster();
    for (const t of ['alpha', 'beta'] as const) {
      expect((await c.api('gw').getRouter(c.routers[t].id!)).status, t).toMatchObject({ state: 'RESOURCE_STATE_ACTIVE' });
    }
    const status = await c.api('gw').nodeStatus();
    expect(status.programs.find((p) => p.interfaceName === EXT_NIC)).toMatchObject({ programName: 'xdp_external', hook: 'native' });
    expect(status.maps.find((m) => m.name === 'xdpnet_snat')).toMatchObject({ entries: 2 });
    expect(status.maps.find((m) => m.name === 'xdpnet_ext_addrs')).toMatchObject({ entries: 2 });
    // Before any traffic: the kernel resolved the external gateway for us (ext0 has no address of its own).
    const inetMac = await c.macOf(INET_NS, 'eth0');
    const gateway = await pollUntil(
      () => c.extNeighbours(),
      (ns) => ns.some((e) => e.dst === EXT.gateway && e.lladdr === inetMac),
      'the external gateway resolved on ext0',
    );
    expect(gateway.find((e) => e.dst === EXT.gateway)).toMatchObject({ protocol: '120', lladdr: inetMac });
    expect(status.maps.find((m) => m.name === 'xdpnet_snat_ct')).toMatchObject({ maxEntries: 2 * 65536 });
  });

  it('a VM on the gateway node reaches the internet through SNAT (TCP, UDP, ping): the server sees the router’s external IP, and every checksum is intact', async () => {
    const c = cluster();
    const cap = await Capture.start(c.topo, SRV_NS, 'eth0', 'tcp or udp or icmp', 'in');
    let tcp;
    let udp;
    let pings = 0;
    // The connections as the programs recorded them (read through the pin), each right after its traffic (gw's UDP and ICMP timeouts are seconds).
    const recorded: NatHalf[] = [];
    const d = await c.reasonDelta('gw', async () => {
      try {
        tcp = await c.tcpStream('ga', 64 * KiB);
        udp = await c.udpBlast('ga', 1, 7001, 1);
        recorded.push(...c.conntrack());
        pings = await ping(c, 'ga', SERVER, 3);
        recorded.push(...c.conntrack());
      } finally {
        await cap.settle();
      }
    });
    const frames = await cap.stop();
    expect(tcp).toMatchObject({ peer: { peer: EXT.alpha }, sent: 64 * KiB, received: 64 * KiB, identical: true });
    expect(udp).toMatchObject({ flows: 1, answered: 1, wrong: 0, peer_ips: [EXT.alpha] });
    expect(pings).toBe(3);
    expect(n(d, 'REASON_FWD_SNAT_NEW'), 'a TCP, a UDP and an ICMP connection at least').toBeGreaterThanOrEqual(3);
    expect(n(d, 'REASON_FWD_SNAT')).toBeGreaterThan(10);
    expect(n(d, 'REASON_FWD_SNAT_REPLY_LOCAL')).toBeGreaterThan(10);

    // What the internet received: from the external IP, checksums good after translation.
    expect(frames.length).toBeGreaterThan(10);
    const decoded = await tsharkDecode(frames);
    const protocols = new Set<string>();
    for (const [i, pkt] of decoded.entries()) {
      const what = `frame ${i}: ${tsharkField(pkt, 'frame.protocols')[0]}`;
      expect(tsharkField(pkt, 'ip.src'), what).toEqual([EXT.alpha]);
      expect(tsharkField(pkt, 'ip.checksum.status'), what).toEqual([GOOD]);
      for (const l4 of ['tcp', 'udp', 'icmp']) {
        const status = tsharkField(pkt, `${l4}.checksum.status`);
        if (status.length > 0) {
          protocols.add(l4);
          expect(status, what).toEqual([GOOD]);
        }
      }
    }
    expect([...protocols].sort()).toEqual(['icmp', 'tcp', 'udp']);

    // The VM's connections, translated to the router's IP.
    const halves = recorded.filter((h) => h.connection.externalIp === EXT.alpha && h.connection.vni === 401);
    for (const p of ['tcp', 'udp', 'icmp'] as const) {
      expect(halves.some((h) => h.connection.protocol === p && h.connection.vmIp === c.vm('ga').ip && h.connection.remoteIp === SERVER), p).toBe(true);
    }
  });

  it('two tenants with the same addresses reach the same server at once, each through its own router; no reply goes to the wrong one', async () => {
    const c = cluster();
    const [ga, gb, ua, ub] = await Promise.all([
      c.tcpStream('ga', MiB),
      c.tcpStream('gb', MiB),
      c.udpBlast('ga', 200),
      c.udpBlast('gb', 200),
    ]);
    expect(ga).toMatchObject({ peer: { peer: EXT.alpha }, received: MiB, identical: true });
    expect(gb).toMatchObject({ peer: { peer: EXT.beta }, received: MiB, identical: true });
    expect(ua).toMatchObject({ answered: 200, wrong: 0, peer_ips: [EXT.alpha] });
    expect(ub).toMatchObject({ answered: 200, wrong: 0, peer_ips: [EXT.beta] });
  });

  it('thousands of concurrent UDP flows from one VM: each gets its own external port, and every reply returns to its sender', async () => {
    const c = cluster();
    const flows = 3000;
    const d = await c.reasonDelta('gw', async () => {
      const r = await c.udpBlast('gb', flows, 7002);
      expect(r).toMatchObject({ flows, answered: flows, wrong: 0, local_ports: flows, peer_ips: [EXT.beta] });
      // The server saw as many distinct (external IP, port) sources as there were flows.
      expect(r.peers).toBe(flows);
    });
    expect(n(d, 'REASON_FWD_SNAT_NEW')).toBeGreaterThanOrEqual(flows);
    expect(n(d, 'REASON_FWD_SNAT_REPLY_LOCAL')).toBeGreaterThanOrEqual(flows);
    expect(n(d, 'REASON_DROP_SNAT_PORTS_EXHAUSTED')).toBe(0);
  });

  it('a host on the external subnet itself is resolved when a packet first needs it (xdpnet_ext_nh_miss), through a managed neighbour', async () => {
    const c = cluster();
    expect((await c.extNeighbours()).some((e) => e.dst === EXT.onLink)).toBe(false);
    let replies = 0;
    const d = await c.reasonDelta('gw', async () => {
      replies = await ping(c, 'ga', EXT.onLink, 6, 0.5);
    });
    // The first probe waits for the neighbour; the rest go through.
    expect(replies).toBeGreaterThanOrEqual(4);
    expect(n(d, 'REASON_DROP_NO_EXTERNAL_NEIGHBOR')).toBeGreaterThanOrEqual(1);
    const onLink = (await c.extNeighbours()).find((e) => e.dst === EXT.onLink);
    expect(onLink).toMatchObject({ protocol: '120', lladdr: await c.macOf(INET_NS, 'eth0') });
  });

  it('the upstream router is replaced (its MAC changes): SNAT traffic follows the new MAC at once, through the copies the routers’ fdb entries carry of it', async () => {
    const c = cluster();
    const oldMac = await c.macOf(INET_NS, 'eth0');
    const newMac = '02:00:00:00:77:01';
    const learn = (mac: string) =>
      // What a gratuitous ARP from the new router does: the gateway node's kernel learns its MAC.
      c.topo.exec('gw', ['ip', 'neigh', 'replace', EXT.gateway, 'lladdr', mac, 'dev', EXT_NIC, 'nud', 'reachable']);
    expect(await c.tcpStream('ga', 16 * KiB)).toMatchObject({ peer: { peer: EXT.alpha }, received: 16 * KiB, identical: true });
    try {
      // The old MAC is gone from the wire: a frame still sent to it is not for the upstream any more.
      await c.topo.exec(INET_NS, ['ip', 'link', 'set', 'eth0', 'address', newMac]);
      await learn(newMac);
      await pollUntil(async () => (await c.extNeighbours()).find((e) => e.dst === EXT.gateway)?.lladdr, (mac) => mac === newMac, 'the managed neighbour follows');
      // The programs take the gateway's MACs from the router entries' copies: both directions work with the new one.
      expect(await c.tcpStream('ga', 64 * KiB)).toMatchObject({ peer: { peer: EXT.alpha }, received: 64 * KiB, identical: true });
      expect(await c.tcpStream('gb', 64 * KiB)).toMatchObject({ peer: { peer: EXT.beta }, received: 64 * KiB, identical: true });
    } finally {
      await c.topo.exec(INET_NS, ['ip', 'link', 'set', 'eth0', 'address', oldMac]);
      await learn(oldMac);
    }
    expect(await c.tcpStream('ga', 16 * KiB)).toMatchObject({ peer: { peer: EXT.alpha }, received: 16 * KiB, identical: true });
  });

  it('from outside, the external IP answers ARP and ping; a packet to it that belongs to no connection goes to the kernel', async () => {
    const c = cluster();
    await c.topo.exec(INET_NS, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    const d = await c.reasonDelta('gw', async () => {
      expect(await ping(c, INET_NS, EXT.alpha, 2)).toBe(2);
      // Nothing listens there, and the node's kernel does not hold the address: no answer.
      const r = await c.topo.exec(SRV_NS, [process.execPath, '-e', `require('node:net').connect(22, '${EXT.alpha}').on('error', () => process.exit(3)).setTimeout(1500, () => process.exit(4))`], {
        allowFailure: true,
        timeoutMs: 10_000,
      });
      expect(r.code).toBe(4);
    });
    expect(n(d, 'REASON_FWD_EXTERNAL_ARP_REPLY')).toBeGreaterThanOrEqual(1);
    expect(n(d, 'REASON_FWD_ICMP_ECHO_REPLY')).toBe(2);
    expect(n(d, 'REASON_PASS_EXTERNAL_UNSOLICITED')).toBeGreaterThanOrEqual(1);
    const gwMac = await c.macOf('gw', EXT_NIC);
    const [entry] = JSON.parse((await c.topo.exec(INET_NS, ['ip', '-j', 'neigh', 'show', EXT.alpha, 'dev', 'eth0'])).stdout) as { lladdr?: string }[];
    expect(entry?.lladdr).toBe(gwMac);
  });

  it('an external IP that appears on the gateway node is announced: the upstream replaces a stale MAC for it without asking', async () => {
    const c = cluster();
    const gamma = { id: randomUUID(), name: 'router-gamma' };
    const ip = '203.0.113.30';
    await c.topo.exec(INET_NS, ['ip', 'neigh', 'replace', ip, 'lladdr', '02:de:ad:be:ef:01', 'dev', 'eth0', 'nud', 'stale']);
    await sleep(1_200); // past the kernel's lock time, which ignores an update right after the last
    const cap = await Capture.start(c.topo, INET_NS, 'eth0', 'arp', 'in');
    try {
      for (const node of NODES) {
        await c.api(node).createRouter(gamma);
        await c.api(node).setRouterGateway({
          routerId: gamma.id,
          externalGateway: { networkId: c.extNetwork.id!, ipAddress: ip, enableSnat: true, gatewayNodeVtepIp: c.vtep('gw') },
        });
      }
      await c.waitConverged('gw');
      const gwMac = await c.macOf('gw', EXT_NIC);
      await pollUntil(
        async () => JSON.parse((await c.topo.exec(INET_NS, ['ip', '-j', 'neigh', 'show', ip, 'dev', 'eth0'])).stdout) as { lladdr?: string }[],
        (entries) => entries[0]?.lladdr === gwMac,
        'the upstream learnt the new MAC',
        8_000,
      );
      await cap.settle();
      const frames = await cap.stop();
      // Only announcements: nobody asked (inet sent no request meanwhile, and the entry was stale, not probed).
      const announcements = (await tsharkDecode(frames)).filter((p) => tsharkField(p, 'arp.src.proto_ipv4')[0] === ip);
      expect(announcements.length).toBeGreaterThanOrEqual(1);
      for (const a of announcements) {
        expect(tsharkField(a, 'arp.opcode')).toEqual(['2']);
        expect(tsharkField(a, 'arp.src.hw_mac')).toEqual([gwMac]);
        expect(tsharkField(a, 'eth.dst')).toEqual(['ff:ff:ff:ff:ff:ff']);
      }
    } finally {
      for (const node of NODES) {
        await c.api(node).clearRouterGateway(gamma.id).catch(() => undefined);
        await c.api(node).deleteRouter(gamma.id).catch(() => undefined);
      }
    }
    await c.waitConverged('gw');
  });

  it('connections expire after their configured timeout: the collector deletes both halves and counts them', async () => {
    const c = cluster();
    const expiredBefore = (await c.metric('xdpnet_snat_connections_expired_total', 'protocol="udp"')) ?? 0;
    const r = await c.udpBlast('ga', 1, 7001);
    expect(r.answered).toBe(1);
    const ours = () => c.conntrack().filter((h) => h.connection.protocol === 'udp' && h.connection.externalIp === EXT.alpha && h.connection.remotePort === 7001);
    const seen = ours();
    expect(seen.map((h) => h.direction).sort()).toEqual(['in', 'out']);
    const started = Date.now();
    // udp_replied_seconds is 5 on gw, the collector walks every second.
    await sleep(2_000);
    expect(ours(), 'still there after 2 s').toHaveLength(2);
    await pollUntil(async () => ours(), (hs) => hs.length === 0, 'the connection expired', 15_000, 250);
    // 5 s after its last packet, less up to a second the programs' timestamp lags (conntrack_maps.h).
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    const expiredAfter = await pollUntil(
      () => c.metric('xdpnet_snat_connections_expired_total', 'protocol="udp"'),
      (v) => (v ?? 0) > expiredBefore,
      'the expiry counted',
    );
    expect(expiredAfter).toBeGreaterThan(expiredBefore);
    expect(await c.metric('xdpnet_snat_gc_walks_total')).toBeGreaterThan(3);
    expect(await c.metric('xdpnet_snat_connections', 'protocol="tcp"')).toBeGreaterThanOrEqual(0);
  });

  it('port exhaustion: with a port range of two, a third new connection to one server port is dropped and counted (reason and metric)', async () => {
    const c = cluster();
    await c.restartGw('SIGTERM', { port_range: '40000-40001' });
    try {
      await c.waitConverged('gw');
      const metricBefore = (await c.metric('xdpnet_snat_port_exhaustion_drops_total')) ?? 0;
      let r;
      const d = await c.reasonDelta('gw', async () => {
        // One round: within the UDP timeouts (3 s, 5 s replied), so no port comes free meanwhile.
        r = await c.udpBlast('ga', 3, 7002, 1);
      });
      expect(r).toMatchObject({ flows: 3, answered: 2, wrong: 0, peer_ips: [EXT.alpha] });
      const ports = c
        .conntrack()
        .filter((h) => h.direction === 'in' && h.connection.externalIp === EXT.alpha && h.connection.remotePort === 7002)
        .map((h) => h.connection.externalPort)
        .sort();
      expect(ports).toEqual([40000, 40001]);
      expect(n(d, 'REASON_DROP_SNAT_PORTS_EXHAUSTED')).toBeGreaterThanOrEqual(1);
      expect(await c.metric('xdpnet_snat_port_exhaustion_drops_total')).toBeGreaterThanOrEqual(metricBefore + 1);
    } finally {
      await c.restartGw('SIGTERM');
      await c.waitConverged('gw');
    }
  });

  it('a daemon restart (SIGTERM) and a crash (SIGKILL) in the middle of a TCP transfer through SNAT: the connection goes on', async () => {
    const c = cluster();
    const bytes = 320 * KiB;
    const transfer = c.tcpStream('ga', bytes, { chunk: 2 * KiB, everyMs: 40 }); // about 6.4 s
    await sleep(700);
    await c.restartGw('SIGTERM');
    await c.restartGw('SIGKILL');
    const r = await transfer;
    expect(r).toMatchObject({ peer: { peer: EXT.alpha }, sent: bytes, received: bytes, identical: true });
    expect(c.gw.logs).toMatch(/adopted attached link; replaced its program atomically/);
    await c.waitConverged('gw');
  });

  it('a router losing its gateway loses its external IP here: its connections are deleted, the address is no longer answered; set again, it works again', async () => {
    const c = cluster();
    const alpha = c.routers.alpha.id!;
    expect((await c.tcpStream('ga', 4 * KiB)).identical).toBe(true);
    expect((await c.tcpStream('gb', 4 * KiB)).identical).toBe(true);
    expect(c.conntrack().some((h) => h.connection.externalIp === EXT.alpha)).toBe(true);
    for (const node of NODES) await c.api(node).clearRouterGateway(alpha);
    await c.waitConverged('gw');
    await pollUntil(async () => c.conntrack().filter((h) => h.connection.externalIp === EXT.alpha), (hs) => hs.length === 0, 'the zone emptied', 10_000, 200);
    expect(c.conntrack().some((h) => h.connection.externalIp === EXT.beta), 'the other router’s are kept').toBe(true);
    await c.topo.exec(INET_NS, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    expect(await ping(c, INET_NS, EXT.alpha, 2)).toBe(0);

    for (const node of NODES) {
      await c.api(node).setRouterGateway({
        routerId: alpha,
        externalGateway: { networkId: c.extNetwork.id!, ipAddress: EXT.alpha, enableSnat: true, gatewayNodeVtepIp: c.vtep('gw') },
      });
    }
    await c.waitConverged('gw');
    expect(await ping(c, INET_NS, EXT.alpha, 2)).toBe(2);
    expect((await c.tcpStream('ga', 4 * KiB)).peer?.peer).toBe(EXT.alpha);
  });

  it('SNAT disabled: the router is ERROR UNIMPLEMENTED on its gateway node, what it would send out untranslated is dropped (DROP_SNAT_DISABLED), its external IP still answers', async () => {
    const c = cluster();
    const beta = c.routers.beta.id!;
    const gateway = (enableSnat: boolean) => ({
      routerId: beta,
      externalGateway: { networkId: c.extNetwork.id!, ipAddress: EXT.beta, enableSnat, gatewayNodeVtepIp: c.vtep('gw') },
    });
    for (const node of NODES) await c.api(node).setRouterGateway(gateway(false));
    try {
      await c.waitConverged('gw', { allowError: [beta] });
      expect((await c.api('gw').getRouter(beta)).status).toMatchObject({
        state: 'RESOURCE_STATE_ERROR',
        code: 'UNIMPLEMENTED',
        message: expect.stringMatching(/^SNAT is disabled on the router.*not implemented.*REASON_DROP_SNAT_DISABLED/),
      });
      expect((await c.api('gw').getRouter(c.routers.alpha.id!)).status?.state).toBe('RESOURCE_STATE_ACTIVE');
      const d = await c.reasonDelta('gw', async () => {
        expect(await ping(c, 'gb', SERVER, 2)).toBe(0);
      });
      expect(n(d, 'REASON_DROP_SNAT_DISABLED')).toBe(2);
      expect(await ping(c, INET_NS, EXT.beta, 2)).toBe(2);
      // A full pass (asked for by a link event) finds the entry in the map and leaves the status as honest as it was.
      const since = Date.now();
      await c.topo.exec('gw', ['ip', 'link', 'add', 'poke0', 'type', 'veth', 'peer', 'name', 'poke1']);
      await pollUntil(
        () => c.api('gw').nodeStatus(),
        (s) => s.lastReconcile?.kind === 'full' && Number(s.lastReconcile.startedUnixMs) >= since,
        'a full pass after the link event',
      );
      await c.topo.exec('gw', ['ip', 'link', 'del', 'poke0']);
      expect((await c.api('gw').getRouter(beta)).status).toMatchObject({ state: 'RESOURCE_STATE_ERROR', code: 'UNIMPLEMENTED' });
    } finally {
      for (const node of NODES) await c.api(node).setRouterGateway(gateway(true));
    }
    await c.waitConverged('gw');
    expect((await c.api('gw').getRouter(beta)).status?.state).toBe('RESOURCE_STATE_ACTIVE');
    expect(await ping(c, 'gb', SERVER, 2)).toBe(2);
  });

  // The compute nodes: their VMs' packets go through the tunnel to the
  // gateway node (REASON_FWD_EXTERNAL_TUNNEL), which routes, translates and
  // sends the replies back encapsulated (REASON_FWD_SNAT_REPLY_ENCAP).
  it('the external NIC deleted and created again while xdpnetd runs: xdp_external is attached again, the routers follow its new ifindex, SNAT and the external IPs work as before', async () => {
    const c = cluster();
    const extProgram = async () => (await c.api('gw').nodeStatus()).programs.find((p) => p.interfaceName === EXT_NIC && p.programName === 'xdp_external');
    const before = (await extProgram())!.ifindex;
    await c.recreateExternalLink();
    await pollUntil(extProgram, (p) => p !== undefined && p.ifindex !== before, 'xdp_external attached to the new ext0');
    for (const t of ['alpha', 'beta'] as const) {
      await pollUntil(() => c.api('gw').getRouter(c.routers[t].id!), (r) => r.status?.state === 'RESOURCE_STATE_ACTIVE', `router ${t} ACTIVE on the new ext0`);
    }
    expect(await c.tcpStream('ga', 64 * KiB)).toMatchObject({ peer: { peer: EXT.alpha }, received: 64 * KiB, identical: true });
    expect(await c.tcpStream('gb', 64 * KiB)).toMatchObject({ peer: { peer: EXT.beta }, received: 64 * KiB, identical: true });
    // From outside: the external IPs are answered (ARP and ping) on the new interface.
    await c.topo.exec(INET_NS, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    expect(await ping(c, INET_NS, EXT.alpha, 2)).toBe(2);
  });

  describe('from the compute nodes, through the tunnel to the gateway node', () => {
    it('VMs on hv1 (router alpha) and hv2 (router beta) reach the server as their router’s external IP, and the replies come back to them', async () => {
      const c = cluster();
      let ca;
      let cb;
      let ua;
      let ub;
      let pings = 0;
      let hv1: Record<string, number> = {};
      const gw = await c.reasonDelta('gw', async () => {
        hv1 = await c.reasonDelta('hv1', async () => {
          [ca, cb, ua, ub] = await Promise.all([c.tcpStream('ca', 256 * KiB), c.tcpStream('cb', 256 * KiB), c.udpBlast('ca', 100), c.udpBlast('cb', 100)]);
          pings = await ping(c, 'ca', SERVER, 3);
        });
      });
      expect(ca).toMatchObject({ peer: { peer: EXT.alpha }, received: 256 * KiB, identical: true });
      expect(cb).toMatchObject({ peer: { peer: EXT.beta }, received: 256 * KiB, identical: true });
      expect(ua).toMatchObject({ answered: 100, wrong: 0, peer_ips: [EXT.alpha] });
      expect(ub).toMatchObject({ answered: 100, wrong: 0, peer_ips: [EXT.beta] });
      expect(pings).toBe(3);
      expect(n(hv1, 'REASON_FWD_EXTERNAL_TUNNEL')).toBeGreaterThan(0);
      expect(n(gw, 'REASON_FWD_SNAT_REPLY_ENCAP')).toBeGreaterThan(0);
    });

    it('the routers are ACTIVE on every node', async () => {
      const c = cluster();
      for (const node of NODES) {
        for (const t of ['alpha', 'beta'] as const) {
          expect((await c.api(node).getRouter(c.routers[t].id!)).status?.state, `${node} ${t}`).toBe('RESOURCE_STATE_ACTIVE');
        }
      }
    });
  });
});
