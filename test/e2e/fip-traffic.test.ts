// Floating IPs end to end (packet walk 5): real xdpnetd on a gateway node
// and two compute nodes (test/helpers/gateway-cluster.ts), programmed over
// gRPC as orchestration does (every node is told every floating IP), real
// traffic between VMs in namespaces and an "internet" behind the gateway
// node's external NIC.
//
//   ga 10.1.0.11 alpha, gw   203.0.113.111    gb 10.1.0.11 beta, gw  203.0.113.121
//   ca 10.1.0.21 alpha, hv1  203.0.113.112    cb 10.1.0.22 beta, hv2 (none: SNAT)
//   xa 10.1.0.31 alpha, hv2  \  203.0.113.150: created unassociated, associated,
//   xb 10.1.0.32 beta,  gw   /  moved and disassociated by the live test
//
// What is asserted: the internet reaches a VM at its floating IP (TCP, UDP,
// ping) on the gateway node and, through the tunnel, on a compute node; the
// VM sees the client's own address and port (no SNAT inbound); what comes
// back is from the floating IP. A VM with a floating IP goes out as that
// address with its own ports and echo identifiers (1:1), never through SNAT.
// Hairpin (a VM to another VM's floating IP) never leaves the NIC, and the
// destination sees the sender's floating IP, or its router's SNAT address
// and port when it has none (external_hairpin.h). Associating, moving and
// disassociating a floating IP takes effect at once and costs unrelated
// flows (SNAT and other floating IPs) nothing. Two tenants with the same
// addresses (and MACs) each get their own VM. tshark checks every checksum
// of what was translated, both ways, ICMP errors' quoted headers included.
import { beforeAll, expect, it } from 'vitest';
import type { NatHalf } from '../../src/dataplane/snat-encode.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { EXT, EXT_NIC, type GatewayCluster, type GwVmSpec, INET_NS, NODES, type NodeName, SERVER, SRV_NS, useGatewayCluster } from '../helpers/gateway-cluster.js';
import type { SpawnedProcess } from '../helpers/netns.js';
import { Capture, ROUTER_NS, startPing } from '../helpers/overlay-cluster.js';
import { type TsharkPacket, tsharkDecode, tsharkField } from '../helpers/pcap.js';
import { describePrivileged } from '../helpers/privileged.js';

const GOOD = '1'; // tshark *.checksum.status
const KiB = 1024;

/** The floating IPs, by the VM they start on (x: unassociated at first). */
const FIP = { ga: '203.0.113.111', gb: '203.0.113.121', ca: '203.0.113.112', x: '203.0.113.150' } as const;

/** Two VMs without a floating IP of their own, for the one the live test moves (X). */
const EXTRA_VMS: readonly GwVmSpec[] = [
  { name: 'xa', node: 'hv2', tenant: 'alpha', ip: '10.1.0.31', mac: 'fa:16:3e:0a:00:31' },
  { name: 'xb', node: 'gw', tenant: 'beta', ip: '10.1.0.32', mac: 'fa:16:3e:0a:00:32' },
];

/** The VMs running the name-telling TCP echo (8080) and UDP reflector (7001). */
const SERVED_VMS = ['ga', 'gb', 'ca', 'xa', 'xb'] as const;

const n = (d: Record<string, number>, reason: string): number => d[reason] ?? 0;
const portOf = (endpoint: string | undefined): number => Number(endpoint?.split(':').at(-1));

/** `ping -c count` from a namespace; the replies. */
async function ping(c: GatewayCluster, ns: string, target: string, count: number, intervalS = 0.3): Promise<number> {
  const r = await c.topo.exec(ns, ['ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '1', target], { allowFailure: true, timeoutMs: 30_000 });
  return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
}

/** A TCP connection attempt from srv that gets no answer at all within 1.5 s: exit code 4 (3: refused or reset, 0: connected). */
async function tcpConnectOutcome(c: GatewayCluster, to: string, port: number): Promise<number | null> {
  const script = `require('node:net').connect(${port}, '${to}', () => process.exit(0)).on('error', () => process.exit(3)).setTimeout(1500, () => process.exit(4))`;
  const r = await c.topo.exec(SRV_NS, [process.execPath, '-e', script], { allowFailure: true, timeoutMs: 10_000 });
  return r.code;
}

async function convergedEverywhere(c: GatewayCluster): Promise<void> {
  await Promise.all(NODES.map((node) => c.waitConverged(node)));
}

async function mapEntries(c: GatewayCluster, node: NodeName, name: string): Promise<number | undefined> {
  const status = await c.api(node).nodeStatus();
  const m = status.maps.find((x) => x.name === name);
  return m === undefined ? undefined : Number(m.entries);
}

/**
 * Decodes the frames with tshark and checks every IPv4 and L4 checksum in
 * them (an ICMP error's quoted IPv4 header included: tshark reports one
 * status per header); returns the packets and the L4 protocols seen.
 */
async function checkedByTshark(frames: readonly Buffer[]): Promise<{ packets: TsharkPacket[]; protocols: string[] }> {
  const packets = await tsharkDecode(frames);
  const protocols = new Set<string>();
  for (const [i, pkt] of packets.entries()) {
    const what = `frame ${i}: ${tsharkField(pkt, 'frame.protocols')[0]}`;
    const ipStatus = tsharkField(pkt, 'ip.checksum.status');
    expect(ipStatus.length, what).toBeGreaterThanOrEqual(1);
    expect(new Set(ipStatus), what).toEqual(new Set([GOOD]));
    for (const l4 of ['tcp', 'udp', 'icmp']) {
      const status = tsharkField(pkt, `${l4}.checksum.status`);
      if (status.length > 0) {
        protocols.add(l4);
        expect(new Set(status), `${what} ${l4}`).toEqual(new Set([GOOD]));
      }
    }
  }
  return { packets, protocols: [...protocols].sort() };
}

/**
 * Runs `action` with the captures running, then waits for them to settle
 * and stops them: the action's result and each capture's frames. On a
 * failure the captures are stopped too.
 */
async function captured<T>(caps: readonly Capture[], action: () => Promise<T>): Promise<[T, Buffer[][]]> {
  let result: T;
  try {
    result = await action();
    for (const cap of caps) await cap.settle();
  } catch (err) {
    for (const cap of caps) await cap.stop().catch(() => undefined);
    throw err;
  }
  const frames: Buffer[][] = [];
  for (const cap of caps) frames.push(await cap.stop());
  return [result, frames];
}

/** The accepted-connection lines of a name-telling TCP server so far. */
const accepted = (server: SpawnedProcess): string[] => server.stdout.split('\n').filter((l) => l.startsWith('accepted '));

describePrivileged('Floating IPs end to end: 1:1 translation on the gateway node, inbound, outbound, hairpin and live re-association', ['bpf', 'netns'], () => {
  const cluster = useGatewayCluster({ extraVms: EXTRA_VMS });
  const fips = {} as Record<keyof typeof FIP, pb.FloatingIp>;
  const servers = {} as Record<(typeof SERVED_VMS)[number], SpawnedProcess>;

  beforeAll(async () => {
    const c = cluster();
    for (const vm of SERVED_VMS) servers[vm] = await c.startVmServers(vm);
    fips.ga = await c.createFloatingIp(FIP.ga, 'ga');
    fips.gb = await c.createFloatingIp(FIP.gb, 'gb');
    fips.ca = await c.createFloatingIp(FIP.ca, 'ca');
    fips.x = await c.createFloatingIp(FIP.x, null);
    await convergedEverywhere(c);
  }, 90_000);

  it('every node holds the floating IPs ACTIVE on the router of their port; the gateway node holds their addresses on its external NIC', async () => {
    const c = cluster();
    for (const node of NODES) {
      for (const [vm, tenant] of [['ga', 'alpha'], ['gb', 'beta'], ['ca', 'alpha']] as const) {
        const f = await c.api(node).getFloatingIp(fips[vm].id!);
        expect(f, `${node} ${vm}`).toMatchObject({
          floatingIpAddress: FIP[vm],
          portId: c.vm(vm).portId,
          fixedIpAddress: c.vm(vm).ip,
          routerId: c.routers[tenant].id,
          status: { state: 'RESOURCE_STATE_ACTIVE' },
        });
      }
      expect(await c.api(node).getFloatingIp(fips.x.id!), `${node} x`).toMatchObject({ portId: '', status: { state: 'RESOURCE_STATE_ACTIVE' } });
      // Associated ones only, on every node (the programs read them on the gateway node).
      expect(await mapEntries(c, node, 'xdpnet_fip_in'), node).toBe(3);
      expect(await mapEntries(c, node, 'xdpnet_fip_out'), node).toBe(3);
    }
    // Two routers' gateway IPs and three floating IPs; X is not held while it stands for nobody.
    expect(await mapEntries(c, 'gw', 'xdpnet_ext_addrs')).toBe(5);
    // inet resolves a floating IP to the external NIC's MAC (xdp_external answers the ARP).
    expect(await ping(c, INET_NS, FIP.ca, 1)).toBe(1);
    const [entry] = JSON.parse((await c.topo.exec(INET_NS, ['ip', '-j', 'neigh', 'show', FIP.ca, 'dev', 'eth0'])).stdout) as { lladdr?: string }[];
    expect(entry?.lladdr).toBe(await c.macOf('gw', EXT_NIC));
  });

  // Inbound from srv to the VM's floating IP, with captures of what gw sent
  // to the internet (inet's eth0, in) and of what the VM received.
  async function inbound(c: GatewayCluster, vm: 'ga' | 'ca', via: 'local' | 'encap'): Promise<void> {
    const fip = FIP[vm];
    const { ip } = c.vm(vm);
    const caps = [await Capture.start(c.topo, INET_NS, 'eth0', 'ip', 'in'), await Capture.start(c.topo, vm, 'eth0', 'ip', 'in')];
    let tcp;
    let udp;
    let pings = 0;
    let hv1: Record<string, number> = {};
    const [gw, [outFrames, inFrames]] = await captured(caps, () =>
      c.reasonDelta('gw', async () => {
        hv1 = await c.reasonDelta('hv1', async () => {
          tcp = await c.tcpStream(SRV_NS, 64 * KiB, { to: fip, port: 8080, chunk: 8 * KiB });
          udp = await c.udpQuery(SRV_NS, fip, 7001, 3);
          pings = await ping(c, SRV_NS, fip, 3);
        });
      }),
    );

    // The VM sees srv's own address and port; the reply comes from the floating IP (else srv's kernel would not take it).
    expect(tcp).toMatchObject({ sent: 64 * KiB, received: 64 * KiB, identical: true });
    expect(tcp!.peer).toEqual({ peer: SERVER, port: portOf(tcp!.local), name: vm });
    expect(tcp!.local).toMatch(new RegExp(`^${SERVER.replaceAll('.', '\\.')}:\\d+$`));
    expect(udp).toMatchObject({ answered: 3 });
    for (const r of udp!.replies) expect(r).toEqual({ from: `${fip}:7001`, seen: `${SERVER}:${udp!.local} ${vm}` });
    expect(pings).toBe(3);

    // The way in, translated on gw: into the local port, or encapsulated to hv1.
    expect(n(gw, via === 'local' ? 'REASON_FWD_FIP_IN_LOCAL' : 'REASON_FWD_FIP_IN_ENCAP')).toBeGreaterThan(10);
    expect(n(gw, via === 'local' ? 'REASON_FWD_FIP_IN_ENCAP' : 'REASON_FWD_FIP_IN_LOCAL')).toBe(0);
    // The way out: from the VM's port on gw, or tunnelled by hv1 to gw; 1:1 on gw, no SNAT connection.
    expect(n(gw, 'REASON_FWD_FIP_OUT')).toBeGreaterThan(10);
    expect(n(gw, 'REASON_FWD_SNAT_NEW')).toBe(0);
    if (via === 'encap') expect(n(hv1, 'REASON_FWD_EXTERNAL_TUNNEL')).toBeGreaterThan(10);

    // What the VM received: from srv, to its fixed IP, every checksum right
    // after translation; routed once by inet and once by gw (64 - 2: the
    // tunnel to hv1 does not count).
    const vmSide = await checkedByTshark(inFrames!);
    expect(vmSide.protocols).toEqual(['icmp', 'tcp', 'udp']);
    for (const p of vmSide.packets) {
      expect(tsharkField(p, 'ip.src')).toEqual([SERVER]);
      expect(tsharkField(p, 'ip.dst')).toEqual([ip]);
      expect(tsharkField(p, 'ip.ttl')).toEqual(['62']);
    }
    // What gw sent to the internet: from the floating IP, the server's ports as they were (8080, 7001), every checksum right.
    const internetSide = await checkedByTshark(outFrames!);
    expect(internetSide.protocols).toEqual(['icmp', 'tcp', 'udp']);
    for (const p of internetSide.packets) {
      expect(tsharkField(p, 'ip.src')).toEqual([fip]);
      expect(tsharkField(p, 'ip.dst')).toEqual([SERVER]);
      expect(tsharkField(p, 'ip.ttl'), 'routed once, by gw').toEqual(['63']);
      const sport = [...tsharkField(p, 'tcp.srcport'), ...tsharkField(p, 'udp.srcport')];
      if (sport.length > 0) expect(sport).toEqual([tsharkField(p, 'tcp.srcport').length > 0 ? '8080' : '7001']);
    }
    expect(internetSide.packets.filter((p) => tsharkField(p, 'icmp.type')[0] === '0')).toHaveLength(3);
  }

  it('from the internet to a VM on the gateway node at its floating IP (TCP, UDP, ping): the VM sees the client’s address, replies leave from the floating IP, checksums intact both ways', async () => {
    await inbound(cluster(), 'ga', 'local');
  });

  it('from the internet to a VM on a compute node at its floating IP, through the tunnel both ways: the same', async () => {
    await inbound(cluster(), 'ca', 'encap');
  });

  it('out from a VM with a floating IP: seen as its floating IP with its own ports and echo identifiers (1:1), no SNAT connection; a VM without one still goes through SNAT', async () => {
    const c = cluster();
    for (const vm of ['ga', 'ca'] as const) {
      const fip = FIP[vm];
      const caps = [await Capture.start(c.topo, vm, 'eth0', 'icmp', 'out'), await Capture.start(c.topo, INET_NS, 'eth0', 'icmp', 'in')];
      let tcp;
      let udp;
      let pings = 0;
      const [gw, [sentFrames, outFrames]] = await captured(caps, () =>
        c.reasonDelta('gw', async () => {
          tcp = await c.tcpStream(vm, 32 * KiB);
          udp = await c.udpQuery(vm, SERVER, 7001, 3);
          pings = await ping(c, vm, SERVER, 3);
        }),
      );
      expect(tcp, vm).toMatchObject({ received: 32 * KiB, identical: true });
      expect(tcp!.local, vm).toMatch(new RegExp(`^${c.vm(vm).ip.replaceAll('.', '\\.')}:`));
      // Same port as the VM's socket: not translated.
      expect(tcp!.peer, vm).toEqual({ peer: fip, port: portOf(tcp!.local) });
      expect(udp, vm).toMatchObject({ answered: 3 });
      for (const r of udp!.replies) expect(r, vm).toEqual({ from: `${SERVER}:7001`, seen: `${fip}:${udp!.local}` });
      expect(pings, vm).toBe(3);
      expect(n(gw, 'REASON_FWD_FIP_OUT'), vm).toBeGreaterThan(10);
      expect(n(gw, 'REASON_FWD_SNAT_NEW'), vm).toBe(0);
      expect(n(gw, 'REASON_FWD_SNAT'), vm).toBe(0);
      // The echo requests leave with the VM's own identifier, from the floating IP.
      const sent = (await tsharkDecode(sentFrames!)).filter((p) => tsharkField(p, 'icmp.type')[0] === '8');
      const out = (await checkedByTshark(outFrames!)).packets.filter((p) => tsharkField(p, 'icmp.type')[0] === '8');
      expect(sent, vm).toHaveLength(3);
      expect(out, vm).toHaveLength(3);
      expect(out.map((p) => tsharkField(p, 'ip.src')[0]), vm).toEqual([fip, fip, fip]);
      expect(out.map((p) => tsharkField(p, 'icmp.ident')[0]), vm).toEqual(sent.map((p) => tsharkField(p, 'icmp.ident')[0]));
      expect(out.map((p) => tsharkField(p, 'icmp.seq')[0]), vm).toEqual(sent.map((p) => tsharkField(p, 'icmp.seq')[0]));
    }
    // Stateless: no connection was recorded for either VM (the table holds only SNAT's).
    const alpha = c.conntrack().filter((h) => h.connection.vni === 401 && [c.vm('ga').ip, c.vm('ca').ip].includes(h.connection.vmIp));
    expect(alpha).toEqual([]);
    // The router has SNAT on: a VM of the other tenant without a floating IP still leaves through its router's address.
    expect(await c.tcpStream('cb', 4 * KiB)).toMatchObject({ identical: true, peer: { peer: EXT.beta } });
  });

  it('hairpin: a VM reaching another VM’s floating IP from inside never leaves the NIC; the destination sees the sender’s floating IP, or its router’s SNAT address and port when it has none', async () => {
    const c = cluster();
    let gaToCa;
    let gaToGb;
    let cbToGa;
    let cbPings = 0;
    let snatHalves: NatHalf[] = [];
    const [gw, [outFrames]] = await captured([await Capture.start(c.topo, INET_NS, 'eth0', 'ip', 'in')], () =>
      c.reasonDelta('gw', async () => {
        // Both with floating IPs: ga (gw) to ca (hv1) in the same tenant, ga to gb (gw) across tenants.
        gaToCa = await c.tcpStream('ga', 32 * KiB, { to: FIP.ca, port: 8080 });
        gaToGb = await c.udpQuery('ga', FIP.gb, 7001, 3);
        // cb (hv2, beta) has no floating IP: its router SNATs it, as going out.
        cbToGa = await c.tcpStream('cb', 32 * KiB, { to: FIP.ga, port: 8080 });
        snatHalves = c.conntrack();
        cbPings = await ping(c, 'cb', FIP.ga, 3);
      }),
    );
    expect(gaToCa).toMatchObject({ received: 32 * KiB, identical: true });
    expect(gaToCa!.peer).toEqual({ peer: FIP.ga, port: portOf(gaToCa!.local), name: 'ca' });
    expect(gaToGb).toMatchObject({ answered: 3 });
    for (const r of gaToGb!.replies) expect(r).toEqual({ from: `${FIP.gb}:7001`, seen: `${FIP.ga}:${gaToGb!.local} gb` });
    expect(cbToGa).toMatchObject({ received: 32 * KiB, identical: true });
    expect(cbToGa!.peer?.peer).toBe(EXT.beta);
    expect(cbToGa!.peer?.name).toBe('ga');
    // The port ga saw is the one SNAT chose for cb's connection, as recorded.
    const cbConn = snatHalves.find(
      (h) =>
        h.direction === 'out' &&
        h.connection.protocol === 'tcp' &&
        h.connection.vni === 402 &&
        h.connection.vmIp === c.vm('cb').ip &&
        h.connection.vmPort === portOf(cbToGa!.local) &&
        h.connection.remoteIp === FIP.ga,
    );
    expect(cbConn?.connection).toMatchObject({ externalIp: EXT.beta, externalPort: cbToGa!.peer?.port, remotePort: 8080 });
    expect(cbPings).toBe(3);
    // Into ca through the tunnel (ga to ca), into local ports (ca's answers to ga, ga and gb, cb to ga and back).
    expect(n(gw, 'REASON_FWD_HAIRPIN_ENCAP')).toBeGreaterThan(10);
    expect(n(gw, 'REASON_FWD_HAIRPIN_LOCAL')).toBeGreaterThan(10);
    expect(n(gw, 'REASON_DROP_HAIRPIN_UNSOLICITED')).toBe(0);
    // Nothing of it went out of the external NIC.
    expect(n(gw, 'REASON_FWD_FIP_OUT')).toBe(0);
    expect(outFrames).toHaveLength(0);
  });

  it('associate, move and disassociate a floating IP while other flows run: each mapping takes effect, nothing of the others is lost; unassociated, it reaches no VM', async () => {
    const c = cluster();
    const x = fips.x.id!;
    // Before: xa and xb leave through their routers' SNAT; X answers nothing.
    expect(await c.tcpStream('xa', 4 * KiB)).toMatchObject({ identical: true, peer: { peer: EXT.alpha } });
    expect(await c.tcpStream('xb', 4 * KiB)).toMatchObject({ identical: true, peer: { peer: EXT.beta } });
    expect(await tcpConnectOutcome(c, FIP.x, 8080)).toBe(4);

    // The unrelated flows: through SNAT from cb (hv2, via the tunnel), through floating IPs to ga (local) and ca (hv1).
    const pingSnat = await startPing(c.topo, 'cb', SERVER, 0.05);
    const pingFip = await startPing(c.topo, SRV_NS, FIP.ga, 0.05);
    const tcpSnat = await c.liveTcpStream('cb', SERVER, 8080, { chunk: 1024, everyMs: 20 });
    const tcpFip = await c.liveTcpStream(SRV_NS, FIP.ca, 8080, { chunk: 1024, everyMs: 20 });
    let stopped = false;
    const stopFlows = async () => {
      stopped = true;
      return Promise.all([pingSnat.stop(), pingFip.stop(), tcpSnat.stop(), tcpFip.stop()]);
    };
    try {
      // 1. X onto xa (alpha, on hv2): the internet reaches xa at X, xa leaves as X with its own port.
      await c.associateFloatingIp(x, 'xa');
      await convergedEverywhere(c);
      expect(await mapEntries(c, 'gw', 'xdpnet_ext_addrs')).toBe(6);
      const in1 = await c.tcpStream(SRV_NS, 8 * KiB, { to: FIP.x, port: 8080 });
      expect(in1).toMatchObject({ identical: true, peer: { peer: SERVER, name: 'xa' } });
      const out1 = await c.tcpStream('xa', 4 * KiB);
      expect(out1.peer).toEqual({ peer: FIP.x, port: portOf(out1.local) });
      expect(await ping(c, SRV_NS, FIP.x, 2)).toBe(2);

      // 2. X moved to xb (beta, on gw): another router and another node; xa is back on SNAT.
      const xaAccepted = accepted(servers.xa).length;
      await c.associateFloatingIp(x, 'xb');
      await convergedEverywhere(c);
      expect((await c.api('gw').getFloatingIp(x)).routerId).toBe(c.routers.beta.id);
      expect(await mapEntries(c, 'gw', 'xdpnet_ext_addrs')).toBe(6);
      const in2 = await c.tcpStream(SRV_NS, 8 * KiB, { to: FIP.x, port: 8080 });
      expect(in2).toMatchObject({ identical: true, peer: { peer: SERVER, name: 'xb' } });
      const out2 = await c.tcpStream('xb', 4 * KiB);
      expect(out2.peer).toEqual({ peer: FIP.x, port: portOf(out2.local) });
      expect(await c.tcpStream('xa', 4 * KiB), 'xa back on SNAT').toMatchObject({ identical: true, peer: { peer: EXT.alpha } });
      expect(accepted(servers.xa).length, 'xa got nothing for X once it moved').toBe(xaAccepted);

      // 3. X disassociated: its address is no longer held; xb is back on SNAT; nobody answers X.
      await c.associateFloatingIp(x, null);
      await convergedEverywhere(c);
      expect(await mapEntries(c, 'gw', 'xdpnet_ext_addrs')).toBe(5);
      expect(await mapEntries(c, 'gw', 'xdpnet_fip_in')).toBe(3);
      expect(await mapEntries(c, 'gw', 'xdpnet_fip_out')).toBe(3);
      expect(await c.tcpStream('xb', 4 * KiB), 'xb back on SNAT').toMatchObject({ identical: true, peer: { peer: EXT.beta } });
      const before = { xa: accepted(servers.xa).length, xb: accepted(servers.xb).length };
      expect(await tcpConnectOutcome(c, FIP.x, 8080)).toBe(4);
      expect({ xa: accepted(servers.xa).length, xb: accepted(servers.xb).length }).toEqual(before);

      const [snatPings, fipPings, snatStream, fipStream] = await stopFlows();
      // Nothing lost. The bound is zero: the translation is stateless, an
      // association's map writes touch no entry of these flows (each a
      // single-element update, atomic for the programs), and pinging 20 times
      // a second fills no ring. Only the requests sent in the last second
      // before the stop are left out: their replies may still have been on
      // the way (a loaded machine), which proves nothing either way.
      const settled = (r: { transmitted: number; lost: number[] }) => r.lost.filter((seq) => seq <= r.transmitted - 20);
      expect(snatPings.transmitted).toBeGreaterThan(20);
      expect(settled(snatPings), 'pings through SNAT lost').toEqual([]);
      expect(fipPings.transmitted).toBeGreaterThan(20);
      expect(settled(fipPings), 'pings to a floating IP lost').toEqual([]);
      expect(snatStream).toMatchObject({ peer: { peer: EXT.beta }, identical: true });
      expect(snatStream.error).toBeUndefined();
      expect(snatStream.sent).toBeGreaterThan(20 * KiB);
      expect(fipStream).toMatchObject({ peer: { peer: SERVER, name: 'ca' }, identical: true });
      expect(fipStream.error).toBeUndefined();
      expect(fipStream.sent).toBeGreaterThan(20 * KiB);

      // With the flows stopped, what a packet to X now meets on gw: inet still
      // sends to the NIC's MAC (a permanent entry, so it cannot have been
      // forgotten), xdp_external no longer holds X and hands it to the kernel,
      // which holds no such address either and does not forward: no answer,
      // no VM, no translation, nothing into the underlay. (drop_unsolicited
      // does not apply: it is for an address held without its translation.)
      const extMac = await c.macOf('gw', EXT_NIC);
      await c.topo.exec(INET_NS, ['ip', 'neigh', 'replace', FIP.x, 'lladdr', extMac, 'dev', 'eth0', 'nud', 'permanent']);
      try {
        let replies = -1;
        const xaSees = await Capture.start(c.topo, 'xa', 'eth0', `ip and src host ${SERVER}`, 'in');
        const xbSees = await Capture.start(c.topo, 'xb', 'eth0', `ip and src host ${SERVER}`, 'in');
        const underlaySees = await Capture.start(c.topo, ROUTER_NS, 'to-gw', 'ip', 'in');
        const gw = await c.reasonDelta('gw', async () => {
          replies = await ping(c, SRV_NS, FIP.x, 3);
        });
        await xaSees.settle();
        await xbSees.settle();
        await underlaySees.settle();
        expect(await xaSees.stop()).toHaveLength(0);
        expect(await xbSees.stop()).toHaveLength(0);
        expect(await underlaySees.stop()).toHaveLength(0);
        expect(replies).toBe(0);
        expect(n(gw, 'REASON_PASS_HOST')).toBeGreaterThanOrEqual(3);
        for (const r of ['REASON_FWD_FIP_IN_LOCAL', 'REASON_FWD_FIP_IN_ENCAP', 'REASON_PASS_EXTERNAL_UNSOLICITED', 'REASON_DROP_EXTERNAL_UNSOLICITED']) {
          expect(n(gw, r), r).toBe(0);
        }
      } finally {
        await c.topo.exec(INET_NS, ['ip', 'neigh', 'del', FIP.x, 'dev', 'eth0']).catch(() => undefined);
      }
    } finally {
      if (!stopped) await stopFlows().catch(() => undefined);
      await c.associateFloatingIp(x, null).catch(() => undefined);
    }
  });

  it('two tenants with the same addresses and MACs, each VM with a floating IP: the internet reaches each tenant’s own VM, and each leaves as its own floating IP', async () => {
    const c = cluster();
    expect(c.vm('ga')).toMatchObject({ ip: c.vm('gb').ip, mac: c.vm('gb').mac });
    const [toGa, toGb, udpGa, udpGb, fromGa, fromGb] = await Promise.all([
      c.tcpStream(SRV_NS, 256 * KiB, { to: FIP.ga, port: 8080, chunk: 16 * KiB }),
      c.tcpStream(SRV_NS, 256 * KiB, { to: FIP.gb, port: 8080, chunk: 16 * KiB }),
      c.udpQuery(SRV_NS, FIP.ga, 7001, 5),
      c.udpQuery(SRV_NS, FIP.gb, 7001, 5),
      c.tcpStream('ga', 64 * KiB),
      c.tcpStream('gb', 64 * KiB),
    ]);
    expect(toGa).toMatchObject({ identical: true, peer: { peer: SERVER, name: 'ga' } });
    expect(toGb).toMatchObject({ identical: true, peer: { peer: SERVER, name: 'gb' } });
    expect(udpGa.replies).toEqual(Array(5).fill({ from: `${FIP.ga}:7001`, seen: `${SERVER}:${udpGa.local} ga` }));
    expect(udpGb.replies).toEqual(Array(5).fill({ from: `${FIP.gb}:7001`, seen: `${SERVER}:${udpGb.local} gb` }));
    expect(fromGa).toMatchObject({ identical: true, peer: { peer: FIP.ga } });
    expect(fromGb).toMatchObject({ identical: true, peer: { peer: FIP.gb } });
    expect(await ping(c, SRV_NS, FIP.ga, 2)).toBe(2);
    expect(await ping(c, SRV_NS, FIP.gb, 2)).toBe(2);
  });

  it('ICMP errors through a floating IP, both ways: the quoted packet is translated too (the sockets take them), every checksum intact, quoted ones included', async () => {
    const c = cluster();
    // Out: srv's datagram to ga's closed port; ga's port unreachable leaves from the floating IP, quoting srv's datagram to it.
    const caps = [];
    for (const ns of [INET_NS, 'ga', 'ca']) caps.push(await Capture.start(c.topo, ns, 'eth0', 'icmp', 'in'));
    let out;
    let inGa;
    let inCa;
    const [gw, [outFrames, gaFrames, caFrames]] = await captured(caps, () =>
      c.reasonDelta('gw', async () => {
        out = await c.udpRefusedProbe(SRV_NS, FIP.ga, 9);
        // In: a VM's datagram to srv's closed port; srv's port unreachable to the floating IP reaches the VM (local, and through the tunnel).
        inGa = await c.udpRefusedProbe('ga', SERVER, 9);
        inCa = await c.udpRefusedProbe('ca', SERVER, 9);
      }),
    );
    expect(out).toMatchObject({ result: 'refused' });
    expect(inGa).toMatchObject({ result: 'refused' });
    expect(inCa).toMatchObject({ result: 'refused' });
    expect(n(gw, 'REASON_FWD_FIP_ICMP_ERROR_LOCAL')).toBeGreaterThanOrEqual(1);
    expect(n(gw, 'REASON_FWD_FIP_ICMP_ERROR_ENCAP')).toBeGreaterThanOrEqual(1);
    expect(n(gw, 'REASON_DROP_FIP_MALFORMED_ICMP_ERROR')).toBe(0);

    // Port unreachable errors, whose quoted IPv4 and UDP headers tshark checked too (checkedByTshark: every status good).
    const unreachable = (pkts: TsharkPacket[]) => {
      const errors = pkts.filter((p) => tsharkField(p, 'icmp.type')[0] === '3');
      for (const p of errors) {
        expect(tsharkField(p, 'icmp.code')).toEqual(['3']);
        expect(tsharkField(p, 'ip.checksum.status'), 'outer and quoted IPv4 headers').toHaveLength(2);
        expect(tsharkField(p, 'udp.checksum.status'), 'the quoted UDP header').toHaveLength(1);
      }
      return errors;
    };
    // [outer, quoted] addresses of each error.
    const addrs = (p: TsharkPacket) => ({ src: tsharkField(p, 'ip.src'), dst: tsharkField(p, 'ip.dst') });
    const outErrors = unreachable((await checkedByTshark(outFrames!)).packets);
    expect(outErrors.length).toBeGreaterThanOrEqual(1);
    for (const p of outErrors) expect(addrs(p)).toEqual({ src: [FIP.ga, SERVER], dst: [SERVER, FIP.ga] });
    for (const [vm, frames] of [['ga', gaFrames!], ['ca', caFrames!]] as const) {
      const errors = unreachable((await checkedByTshark(frames)).packets);
      expect(errors.length, vm).toBeGreaterThanOrEqual(1);
      for (const p of errors) expect(addrs(p), vm).toEqual({ src: [SERVER, c.vm(vm).ip], dst: [c.vm(vm).ip, SERVER] });
    }
  });
});
