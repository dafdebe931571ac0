// Routers with an external gateway, SNAT'ing to an "internet", for the SNAT
// and floating IP end-to-end tests (test/e2e/snat-traffic.test.ts,
// test/e2e/fip-traffic.test.ts):
//
//   const cluster = useGatewayCluster();           // built in beforeAll, torn down in afterAll
//   it('reaches the internet', async () => {
//     const c = cluster();
//     expect((await c.tcpStream('ga', 4096)).peer).toBe(EXT.alpha);
//   });
//
// What it builds: the routed two-hypervisor overlay of overlay-cluster.ts
// (hv1, hv2 and the router namespace `rtr` between them; made with no daemon
// of its own and none of its networks) plus, composed here:
//
//      ga 10.1.0.11 (alpha)   gb 10.1.0.11 (beta, ga's MAC)        ca 10.1.0.21 (alpha)   cb 10.1.0.22 (beta)
//            |tapga                |tapgb                                |tapca (hv1)            |tapcb (hv2)
//     +------------------ gw (xdpnetd) ------------------+        hv1, hv2: compute nodes (xdpnetd), no
//     |  VTEP 100.64.0.3 eth0 ---- rtr (to-gw) ----------+---     physical networks
//     |  ext0 (no IP address), physical network "external"
//     +------|-------------------------------------------+
//            | 203.0.113.0/24 (flat, external)
//     inet: eth0 203.0.113.1 (the external subnet's gateway) and 203.0.113.50 (a host on it),
//           forwards to srv through to-srv 198.18.0.1/24
//     srv:  eth0 198.18.0.10/24, default via 198.18.0.1: the internet's servers
//
// - Two tenants with the same addressing: alpha (VNI 401) and beta (VNI
//   402), both 10.1.0.0/24, gateway .1, each with its router (router alpha:
//   external IP 203.0.113.10, router beta: 203.0.113.20), both with their
//   external gateway on the flat external network (physical network
//   "external", subnet 203.0.113.0/24 via 203.0.113.1) and their gateway node
//   gw. ga and gb have the same IP and MAC: only the network tells them apart.
// - Every node runs a real xdpnetd told about everything (as orchestration
//   does): ports bound `local` on the node hosting the VM, `remote` elsewhere.
//   gw maps "external" to ext0 and runs with short UDP/ICMP timeouts and a
//   collector walking every second (config below), metrics on 127.0.0.1:9651
//   inside its namespace.
// - The VMs on hv1 and hv2 reach the internet through the tunnel their node's
//   xdp_port makes to gw (packet walk 4): gw routes and translates what comes
//   out of it.
// - Servers (Node and Python programs, started by the tests): a TCP server
//   that first tells the client which address and port it sees, then echoes;
//   a UDP reflector answering each datagram with itself and the sender's
//   address; a UDP blaster (Python: thousands of sockets) in the VMs. The
//   same servers can run in VMs, telling their name too (startVmServers),
//   for traffic from the internet to floating IPs; clients run in a VM or
//   in srv/inet alike (a TCP stream that runs until stopped, UDP queries
//   that report where each answer came from, a probe for ICMP port
//   unreachable).
// - `extraVms` adds VMs to GW_VMS. Floating IPs are created, associated and
//   deleted on every node at once (createFloatingIp, associateFloatingIp),
//   and waitConverged waits for them as for the rest.
// - inet's eth0 runs a pass-everything XDP program (xdp_external answers ARP
//   with XDP_TX, which a veth delivers only to a peer with XDP), and nothing
//   in inet or srv hands over unfinished checksums (TX offload off), as for
//   the VMs (overlay-cluster.ts says why).

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { stringify } from 'yaml';
import { BpfMap } from '../../src/dataplane/index.js';
import { SNAT_CT_MAP_NAME } from '../../src/dataplane/layouts.js';
import { type NatHalf, decodeNatHalf } from '../../src/dataplane/snat-encode.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { type Api, api } from './api.js';
import { TestDaemon } from './daemon.js';
import { type SpawnedProcess, type Topology, useTopology } from './netns.js';
import { type HvName, OverlayCluster, ROUTER_NS, sleep } from './overlay-cluster.js';

export type NodeName = 'gw' | HvName;
export const NODES: readonly NodeName[] = ['gw', 'hv1', 'hv2'];
export type GwTenant = 'alpha' | 'beta';
export const GW_TENANTS: readonly GwTenant[] = ['alpha', 'beta'];

export const GW_VTEP = '100.64.0.3';
export const INET_NS = 'inet';
export const SRV_NS = 'srv';
/** The gateway node's external NIC (no address of its own). */
export const EXT_NIC = 'ext0';
export const EXT = {
  cidr: '203.0.113.0/24',
  /** The external subnet's gateway: inet. */
  gateway: '203.0.113.1',
  /** A host on the external subnet itself (inet again): reached on-link. */
  onLink: '203.0.113.50',
  alpha: '203.0.113.10',
  beta: '203.0.113.20',
} as const;
/** The internet server. */
export const SERVER = '198.18.0.10';
export const TENANT_GATEWAY = '10.1.0.1';
export const GW_VNI: Record<GwTenant, number> = { alpha: 401, beta: 402 };
/** gw's metrics, inside its namespace. */
export const GW_METRICS = '127.0.0.1:9651';

export interface GwVmSpec {
  name: string;
  node: NodeName;
  tenant: GwTenant;
  ip: string;
  mac: string;
}
export interface GwVm extends GwVmSpec {
  portId: string;
  tap: string;
}

export const GW_VMS: readonly GwVmSpec[] = [
  { name: 'ga', node: 'gw', tenant: 'alpha', ip: '10.1.0.11', mac: 'fa:16:3e:0a:00:11' },
  { name: 'gb', node: 'gw', tenant: 'beta', ip: '10.1.0.11', mac: 'fa:16:3e:0a:00:11' },
  { name: 'ca', node: 'hv1', tenant: 'alpha', ip: '10.1.0.21', mac: 'fa:16:3e:0a:00:21' },
  { name: 'cb', node: 'hv2', tenant: 'beta', ip: '10.1.0.22', mac: 'fa:16:3e:0a:00:22' },
];

/** gw's configuration beyond the node basics: short UDP/ICMP timeouts and a collector walking every second. */
export const GW_SNAT_CONFIG = {
  conntrack_max: 65536,
  gc_interval_seconds: 1,
  timeouts: { udp_seconds: 3, udp_replied_seconds: 5, icmp_seconds: 3 },
};

type Status = pb.ResourceStatus__Output | null;

const VM_XDP_PASS_SOURCE = `#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int vm_xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`;

// ---------------------------------------------------------------------------
// Programs run inside namespaces (Node and Python: nothing beyond the test runner's tools)

/**
 * TCP: tells each client the address and port it is seen from (and the
 * server's name, if it was given one) in one JSON line, then echoes. Prints
 * one line per connection accepted ("accepted <peer>:<port>").
 */
const WHOAMI_TCP_SERVER = `
const net = require('node:net');
const [host, port, name] = process.argv.slice(1);
net.createServer((s) => {
  s.on('error', () => {});
  console.log('accepted ' + s.remoteAddress + ':' + s.remotePort);
  s.write(JSON.stringify({ peer: s.remoteAddress, port: s.remotePort, ...(name ? { name } : {}) }) + '\\n');
  s.pipe(s);
}).listen(Number(port), host, () => console.log('listening'));
`;

/**
 * Connects, reads the server's first line (the peer it sees), sends \`bytes\`
 * random bytes in chunks of \`chunk\` every \`everyMs\` ms, half-closes, and
 * checks the echo.
 */
const TCP_STREAM_CLIENT = `
const net = require('node:net');
const crypto = require('node:crypto');
const [host, port, bytes, chunk, everyMs] = process.argv.slice(1);
const data = crypto.randomBytes(Number(bytes));
let buf = Buffer.alloc(0);
let peer = null;
const s = net.connect(Number(port), host, () => {
  let off = 0;
  const step = () => {
    if (off >= data.length) return s.end();
    const end = Math.min(data.length, off + Number(chunk));
    s.write(data.subarray(off, end));
    off = end;
    if (Number(everyMs) > 0) setTimeout(step, Number(everyMs)); else step();
  };
  step();
});
s.setTimeout(30000, () => { console.log(JSON.stringify({ error: 'timeout', peer, received: buf.length })); process.exit(2); });
s.on('data', (c) => {
  buf = Buffer.concat([buf, c]);
  if (peer === null) {
    const nl = buf.indexOf(10);
    if (nl >= 0) { peer = JSON.parse(buf.subarray(0, nl).toString()); buf = buf.subarray(nl + 1); }
  }
});
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code || e.message, peer, received: buf.length })); process.exit(2); });
s.on('end', () => {
  const digest = (b) => crypto.createHash('sha256').update(b).digest('hex');
  console.log(JSON.stringify({ peer, local: s.localAddress + ':' + s.localPort, sent: data.length, received: buf.length, identical: digest(buf) === digest(data) }));
});
`;

/**
 * UDP: answers each datagram with itself, a space and the sender's
 * address:port (then a space and the server's name, if it was given one).
 */
const UDP_REFLECTOR = `
const dgram = require('node:dgram');
const [host, port, name] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => s.send(Buffer.concat([m, Buffer.from(' ' + r.address + ':' + r.port + (name ? ' ' + name : ''))]), r.port, r.address));
s.bind(Number(port), host, () => console.log('listening'));
`;

/**
 * UDP from one socket: `count` queries ("query i"), one at a time, each
 * sent up to 3 times (1 s apart) until its answer ("query i ...") comes;
 * what came back and from where.
 */
const UDP_QUERY_CLIENT = `
const dgram = require('node:dgram');
const [host, port, count] = process.argv.slice(1);
const n = Number(count);
const s = dgram.createSocket('udp4');
const replies = [];
let i = 0;
let tries = 0;
let timer;
const send = () => {
  tries += 1;
  s.send('query ' + i, Number(port), host);
  timer = setTimeout(() => (tries >= 3 ? (replies.push(null), next()) : send()), 1000);
};
const next = () => {
  i += 1;
  tries = 0;
  if (i < n) return send();
  console.log(JSON.stringify({ local: s.address().port, answered: replies.filter((r) => r !== null).length, replies }));
  s.close();
};
s.on('message', (m, r) => {
  const text = m.toString();
  const prefix = 'query ' + i + ' ';
  if (!text.startsWith(prefix)) return;
  clearTimeout(timer);
  replies.push({ from: r.address + ':' + r.port, seen: text.slice(prefix.length) });
  next();
});
s.bind(0, send);
`;

/**
 * TCP until told to stop: connects, reads the server's first line (the peer
 * it sees) and prints "connected", then sends `chunk` random bytes every
 * `everyMs` ms; on SIGTERM it stops sending, half-closes, and checks the
 * echo (length and SHA-256 of everything sent against everything received).
 */
const TCP_LIVE_CLIENT = `
const net = require('node:net');
const crypto = require('node:crypto');
const [host, port, chunk, everyMs] = process.argv.slice(1);
const sentHash = crypto.createHash('sha256');
const recvHash = crypto.createHash('sha256');
let sent = 0;
let received = 0;
let head = Buffer.alloc(0);
let peer = null;
let timer;
let stopping = false;
const report = (extra) => console.log(JSON.stringify({ peer, sent, received, ...extra }));
const s = net.connect(Number(port), host, () => {
  const step = () => {
    if (stopping) return;
    const data = crypto.randomBytes(Number(chunk));
    sentHash.update(data);
    sent += data.length;
    s.write(data);
    timer = setTimeout(step, Number(everyMs));
  };
  step();
});
s.setTimeout(30000, () => { report({ error: 'timeout' }); process.exit(2); });
s.on('data', (c) => {
  if (peer === null) {
    head = Buffer.concat([head, c]);
    const nl = head.indexOf(10);
    if (nl < 0) return;
    peer = JSON.parse(head.subarray(0, nl).toString());
    c = head.subarray(nl + 1);
    console.log('connected');
  }
  received += c.length;
  recvHash.update(c);
});
s.on('error', (e) => { report({ error: e.code || e.message }); process.exit(2); });
s.on('end', () => report({ local: s.localAddress + ':' + s.localPort, identical: sent === received && sentHash.digest('hex') === recvHash.digest('hex') }));
process.on('SIGTERM', () => { stopping = true; clearTimeout(timer); s.end(); });
`;

/**
 * One UDP datagram at a time from a connected socket to a port nothing
 * listens on (up to 3, 2 s apart): "refused" once an ICMP port unreachable
 * reaches the socket (the kernel matched it to the socket: its quote names
 * the socket's own addresses and ports).
 */
const UDP_REFUSED_PROBE = `
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
s.settimeout(2)
result = 'timeout'
for attempt in range(1, 4):
    s.send(b'probe')
    try:
        s.recv(100)
        result = 'answered'
    except ConnectionRefusedError:
        result = 'refused'
    except socket.timeout:
        continue
    break
print(json.dumps({'result': result, 'attempts': attempt, 'local': '%s:%d' % s.getsockname()}))
`;

/**
 * UDP flows from many sockets at once: socket i sends "flow i" (100 at a
 * time, up to `rounds` rounds of 2 s for what got no answer) and accepts only
 * "flow i <peer>".
 */
const UDP_BLASTER = `
import json, resource, selectors, socket, sys, time
host, port, n, max_rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 256
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want), hard))
sel = selectors.DefaultSelector()
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.setblocking(False)
    s.bind(('0.0.0.0', 0))
    sel.register(s, selectors.EVENT_READ, i)
    socks.append(s)
got, wrong, sends = {}, 0, 0
def drain(timeout):
    global wrong
    for key, _ in sel.select(timeout=timeout):
        i = key.data
        while True:
            try:
                data = key.fileobj.recv(2048)
            except BlockingIOError:
                break
            text = data.decode()
            word, _, peer = text.rpartition(' ')
            if word != 'flow %d' % i:
                wrong += 1
                continue
            got[i] = peer
rounds = 0
for rounds in range(1, max_rounds + 1):
    for i, s in enumerate(socks):
        if i in got:
            continue
        try:
            s.sendto(b'flow %d' % i, (host, port))
            sends += 1
        except BlockingIOError:
            pass
        if sends % 100 == 0:
            # At most ~100 in flight: a burst of thousands overruns the server's socket buffer.
            t0 = time.time()
            while time.time() - t0 < 0.03:
                drain(0.005)
    deadline = time.time() + 2.0
    while len(got) < n and time.time() < deadline:
        drain(0.1)
    if len(got) == n:
        break
peers = set(got.values())
print(json.dumps({'flows': n, 'answered': len(got), 'wrong': wrong, 'sends': sends, 'rounds': rounds,
                  'peers': len(peers), 'peer_ips': sorted(set(p.split(':')[0] for p in peers)),
                  'local_ports': len(set(s.getsockname()[1] for s in socks))}))
`;

function node(script: string, ...args: (string | number)[]): string[] {
  return [process.execPath, '-e', script, '--', ...args.map(String)];
}

export interface StreamResult {
  peer: { peer: string; port: number; name?: string } | null;
  local?: string;
  sent?: number;
  received: number;
  identical?: boolean;
  error?: string;
}

export interface LiveStreamResult {
  peer: { peer: string; port: number; name?: string } | null;
  local?: string;
  sent: number;
  received: number;
  identical?: boolean;
  error?: string;
}

/** A TCP stream that runs until stopped (GatewayCluster.liveTcpStream). */
export interface LiveStream {
  /** Stops sending, half-closes, waits for the echo to end; what came back. */
  stop(): Promise<LiveStreamResult>;
}

export interface UdpQueryResult {
  /** The client's local port. */
  local: number;
  answered: number;
  /** Per query: where the answer came from, and what the server says it saw (address:port, then its name if it has one); null if none came. */
  replies: ({ from: string; seen: string } | null)[];
}

export interface UdpProbeResult {
  result: 'refused' | 'answered' | 'timeout';
  attempts: number;
  local: string;
}

export interface BlastResult {
  flows: number;
  answered: number;
  wrong: number;
  sends: number;
  rounds: number;
  peers: number;
  peer_ips: string[];
  local_ports: number;
}

// ---------------------------------------------------------------------------
// The cluster

export interface GatewayClusterOptions {
  /** VMs beyond GW_VMS (unique names and MACs), ports created on every node as for the others. */
  extraVms?: readonly GwVmSpec[];
}

export class GatewayCluster {
  readonly networks: Record<GwTenant, pb.Network>;
  readonly subnets: Record<GwTenant, pb.Subnet>;
  readonly routers: Record<GwTenant, pb.Router>;
  readonly extNetwork: pb.Network;
  readonly extSubnet: pb.Subnet;
  private readonly vmByName = new Map<string, GwVm>();
  private gwDaemon: TestDaemon | undefined;
  private gwApi: Api | undefined;
  private readonly servers: SpawnedProcess[] = [];
  /** The VM-side XDP object, compiled once. */
  private xdpPass: string | undefined;
  /** gw's daemon directory (config, socket, state) and the XDP object; removed by cleanup(). */
  private readonly stateRoot = mkdtempSync(join(tmpdir(), 'xdpnet-gateway-'));

  private constructor(
    readonly overlay: OverlayCluster,
    specs: readonly GwVmSpec[],
  ) {
    for (const spec of specs) this.vmByName.set(spec.name, { ...spec, portId: randomUUID(), tap: `tap${spec.name}` });
    const per = <T>(make: (t: GwTenant) => T): Record<GwTenant, T> => ({ alpha: make('alpha'), beta: make('beta') });
    this.networks = per((t) => ({ id: randomUUID(), name: `${t}-net`, type: 'NETWORK_TYPE_VXLAN', segmentationId: GW_VNI[t] }));
    this.subnets = per((t) => ({
      id: randomUUID(),
      name: `${t}-sub`,
      networkId: this.networks[t].id!,
      cidr: '10.1.0.0/24',
      gatewayIp: TENANT_GATEWAY,
      enableDhcp: false,
    }));
    this.routers = per((t) => ({ id: randomUUID(), name: `router-${t}` }));
    this.extNetwork = { id: randomUUID(), name: 'public', type: 'NETWORK_TYPE_FLAT', segmentationId: 0, physicalNetwork: 'external', external: true };
    this.extSubnet = { id: randomUUID(), name: 'public-sub', networkId: this.extNetwork.id!, cidr: EXT.cidr, gatewayIp: EXT.gateway, enableDhcp: false };
  }

  static async create(topo: Topology, opts: GatewayClusterOptions = {}): Promise<GatewayCluster> {
    const specs = [...GW_VMS, ...(opts.extraVms ?? [])];
    const vms = specs.filter((v) => v.node !== 'gw').map(({ name, node: hv, ip, mac }) => ({ name, hv: hv as HvName, ip, mac, tenant: 'red' as const }));
    const overlay = await OverlayCluster.create(topo, { vms, underlay: 'routed', daemons: [] });
    const cluster = new GatewayCluster(overlay, specs);
    try {
      await cluster.buildGatewayAndInternet();
      for (const vm of cluster.vms()) {
        if (vm.node === 'gw') await cluster.addGwVm(vm);
        await topo.exec(vm.name, ['ip', 'route', 'add', 'default', 'via', TENANT_GATEWAY]);
      }
      await cluster.startGw();
      await Promise.all((['hv1', 'hv2'] as const).map((hv) => overlay.startDaemon(hv)));
      for (const n of NODES) await cluster.program(n);
      await Promise.all(NODES.map((n) => cluster.waitConverged(n)));
    } catch (err) {
      await cluster.cleanup();
      throw err;
    }
    return cluster;
  }

  get topo(): Topology {
    return this.overlay.topo;
  }

  vms(): GwVm[] {
    return [...this.vmByName.values()];
  }

  vm(name: string): GwVm {
    const vm = this.vmByName.get(name);
    if (!vm) throw new Error(`no VM ${JSON.stringify(name)} in this cluster`);
    return vm;
  }

  vtep(n: NodeName): string {
    return n === 'gw' ? GW_VTEP : this.overlay.vtep[n];
  }

  // ------------------------------------------------------------- topology

  private async buildGatewayAndInternet(): Promise<void> {
    const t = this.topo;
    await t.addNamespace('gw', { disableIpv6: true });
    await t.addVeth({ a: { ns: 'gw', name: 'eth0', ip: `${GW_VTEP}/24` }, b: { ns: ROUTER_NS, name: 'to-gw', ip: '100.64.0.254/24' } });
    await t.exec('gw', ['ip', 'route', 'add', 'default', 'via', '100.64.0.254']);
    // gw's programs redirect encapsulated frames into eth0: the router's side needs GRO (overlay-cluster.ts).
    await t.exec(ROUTER_NS, ['ethtool', '-K', 'to-gw', 'gro', 'on']);

    await t.addNamespace(INET_NS, { disableIpv6: true });
    await t.addNamespace(SRV_NS, { disableIpv6: true });
    await this.addExternalLink();
    await t.addVeth({ a: { ns: INET_NS, name: 'to-srv', ip: '198.18.0.1/24' }, b: { ns: SRV_NS, name: 'eth0', ip: `${SERVER}/24` } });
    await t.exec(INET_NS, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await t.exec(SRV_NS, ['ip', 'route', 'add', 'default', 'via', '198.18.0.1']);
    for (const [ns, dev] of [
      [INET_NS, 'to-srv'],
      [SRV_NS, 'eth0'],
    ] as const) {
      await t.exec(ns, ['ethtool', '-K', dev, 'tx', 'off']);
    }
  }

  /** The external link: gw's external NIC and the internet router's eth0 (the external subnet's gateway and a host on it). */
  private async addExternalLink(): Promise<void> {
    const t = this.topo;
    await t.addVeth({ a: { ns: 'gw', name: EXT_NIC }, b: { ns: INET_NS, name: 'eth0', ip: [`${EXT.gateway}/24`, `${EXT.onLink}/24`] } });
    await t.exec(INET_NS, ['ethtool', '-K', 'eth0', 'tx', 'off']);
    await t.exec(INET_NS, ['ip', 'link', 'set', 'dev', 'eth0', 'xdpdrv', 'obj', await this.xdpPassObject(), 'sec', 'xdp']);
  }

  /** Deletes the external link (both ends) and creates it again as it was: new ifindexes, same names, addresses and settings. */
  async recreateExternalLink(): Promise<void> {
    await this.topo.exec('gw', ['ip', 'link', 'del', EXT_NIC]);
    await this.addExternalLink();
  }

  private async xdpPassObject(): Promise<string> {
    if (!this.xdpPass) {
      const src = join(this.stateRoot, 'xdp_pass.bpf.c');
      const obj = join(this.stateRoot, 'xdp_pass.bpf.o');
      writeFileSync(src, VM_XDP_PASS_SOURCE);
      const machine = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
      await this.topo.exec(null, ['clang', '-O2', '-g', '-target', 'bpf', `-I/usr/include/${machine}-linux-gnu`, '-c', src, '-o', obj]);
      this.xdpPass = obj;
    }
    return this.xdpPass;
  }

  /** A VM on gw: as overlay-cluster.ts makes its VMs (XDP pass on eth0, no TX checksum offload). */
  private async addGwVm(vm: GwVm): Promise<void> {
    const t = this.topo;
    await t.addNamespace(vm.name, { disableIpv6: true });
    await t.addVeth({ a: { ns: vm.name, name: 'eth0', ip: `${vm.ip}/24`, mac: vm.mac }, b: { ns: 'gw', name: vm.tap }, mtu: 1450 });
    await t.exec(vm.name, ['ip', 'link', 'set', 'dev', 'eth0', 'xdpdrv', 'obj', await this.xdpPassObject(), 'sec', 'xdp']);
    await t.exec(vm.name, ['ethtool', '-K', 'eth0', 'tx', 'off']);
  }

  // ------------------------------------------------------------- the gateway node's daemon

  private gwDir(): string {
    return join(this.stateRoot, 'gw');
  }

  /** gw's whole configuration file, with `snat` overrides. */
  gwConfig(snat: Record<string, unknown> = {}): Record<string, unknown> {
    const dir = this.gwDir();
    return {
      node_name: 'gw',
      dataplane: 'bpf',
      vtep_ip: GW_VTEP,
      underlay_interface: 'eth0',
      physical_networks: { external: EXT_NIC },
      bpffs_root: join(this.topo.bpffsDir, 'gw'),
      state_dir: join(dir, 'state'),
      api: { socket: join(dir, 'xdpnetd.sock') },
      metrics: { address: GW_METRICS },
      reconcile: { full_pass_interval_seconds: 30 },
      log: { level: 'info' },
      snat: { ...GW_SNAT_CONFIG, ...snat },
    };
  }

  private async startGw(): Promise<void> {
    this.gwDaemon = await TestDaemon.start({
      dir: this.gwDir(),
      config: this.gwConfig(),
      wrap: (argv) => ['nsenter', `--net=/run/netns/${this.topo.nsName('gw')}`, ...argv],
    });
    await this.gwDaemon.waitServing();
    this.gwApi = api(this.gwDaemon.client());
  }

  get gw(): TestDaemon {
    if (!this.gwDaemon) throw new Error('gw: no daemon');
    return this.gwDaemon;
  }

  /**
   * Stops gw's daemon (SIGTERM, or SIGKILL: a crash), rewrites its
   * configuration with `snat` overrides, starts it again and waits for SERVING.
   */
  async restartGw(how: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', snat: Record<string, unknown> = {}): Promise<void> {
    const d = this.gw;
    this.gwApi = undefined;
    if (how === 'SIGKILL') await d.kill();
    else await d.stop();
    writeFileSync(d.configPath, stringify(this.gwConfig(snat)));
    d.relaunch();
    await d.waitServing();
    this.gwApi = api(d.client());
  }

  api(n: NodeName): Api {
    if (n !== 'gw') return this.overlay.api(n);
    if (!this.gwApi) throw new Error('gw: the daemon is not running');
    return this.gwApi;
  }

  logs(lines = 40): string {
    const gw = `--- gw xdpnetd\n${(this.gwDaemon?.logs ?? '').trimEnd().split('\n').slice(-lines).join('\n')}`;
    return `${gw}\n${this.overlay.logs(lines)}`;
  }

  // ------------------------------------------------------------- programming

  portFor(name: string, n: NodeName): pb.Port {
    const vm = this.vm(name);
    return {
      id: vm.portId,
      name: vm.name,
      networkId: this.networks[vm.tenant].id!,
      macAddress: vm.mac,
      fixedIps: [{ subnetId: this.subnets[vm.tenant].id!, ipAddress: vm.ip }],
      deviceOwner: 'compute:nova',
      ...(vm.node === n ? { local: { interfaceName: vm.tap } } : { remote: { vtepIp: this.vtep(vm.node) } }),
    };
  }

  /** The external network, the tenants' networks, routers (interface and gateway) and ports, on one node. */
  async program(n: NodeName): Promise<void> {
    const a = this.api(n);
    await a.createNetwork(this.extNetwork);
    await a.createSubnet(this.extSubnet);
    for (const t of GW_TENANTS) {
      await a.createNetwork(this.networks[t]);
      await a.createSubnet(this.subnets[t]);
      await a.createRouter(this.routers[t]);
      await a.addRouterInterface({ routerId: this.routers[t].id!, subnetId: this.subnets[t].id! });
      await a.setRouterGateway({
        routerId: this.routers[t].id!,
        externalGateway: { networkId: this.extNetwork.id!, ipAddress: EXT[t], enableSnat: true, gatewayNodeVtepIp: GW_VTEP },
      });
    }
    for (const vm of this.vms()) await a.createPort(this.portFor(vm.name, n));
  }

  /**
   * Creates a floating IP on the external network on every node, as
   * orchestration does, associated with VM `vm`'s port (its only fixed IP)
   * or with nothing.
   */
  async createFloatingIp(address: string, vm: string | null): Promise<pb.FloatingIp> {
    const fip: pb.FloatingIp = { id: randomUUID(), floatingNetworkId: this.extNetwork.id!, floatingIpAddress: address, portId: vm === null ? '' : this.vm(vm).portId };
    for (const n of NODES) await this.api(n).createFloatingIp(fip);
    return fip;
  }

  /** Associates the floating IP with VM `vm`'s port (moving it if it was elsewhere), or disassociates it (null), on every node. */
  async associateFloatingIp(id: string, vm: string | null): Promise<void> {
    const portId = vm === null ? '' : this.vm(vm).portId;
    for (const n of NODES) await this.api(n).updateFloatingIp({ id, portId, fixedIpAddress: '' }, ['port_id', 'fixed_ip_address']);
  }

  /** Deletes the floating IP on every node (if it is there). */
  async deleteFloatingIp(id: string): Promise<void> {
    for (const n of NODES) await this.api(n).deleteFloatingIp(id).catch(() => undefined);
  }

  async resources(n: NodeName): Promise<{ kind: string; r: { id: string; name: string; revision: string; status: Status } }[]> {
    const a = this.api(n);
    const page = { pageSize: 1000 };
    const [networks, subnets, ports, routers, fips] = await Promise.all([
      a.listNetworks(page),
      a.listSubnets(page),
      a.listPorts(page),
      a.listRouters(page),
      a.listFloatingIps(page),
    ]);
    return [
      ...networks.networks.map((r) => ({ kind: 'network', r })),
      ...subnets.subnets.map((r) => ({ kind: 'subnet', r })),
      ...ports.ports.map((r) => ({ kind: 'port', r })),
      ...routers.routers.map((r) => ({ kind: 'router', r })),
      ...fips.floatingIps.map((r) => ({ kind: 'floating IP', r: { ...r, name: r.floatingIpAddress } })),
    ];
  }

  /**
   * Waits until every resource on the node is ACTIVE at its current revision,
   * failing at once on a current ERROR, except for the resources named in
   * `allowError` (by id), which only need a current status.
   */
  async waitConverged(n: NodeName, opts: { timeoutMs?: number; allowError?: readonly string[] } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    const current = (r: { revision: string; status: Status }) => r.status !== null && BigInt(r.status.revision) >= BigInt(r.revision);
    const tolerated = (_kind: string, r: { id: string; status: Status }) => (opts.allowError ?? []).includes(r.id);
    for (;;) {
      const all = await this.resources(n);
      const failed = all.find(({ kind, r }) => r.status?.state === 'RESOURCE_STATE_ERROR' && current(r) && !tolerated(kind, r));
      if (failed) {
        const s = failed.r.status!;
        throw new Error(`${n}: ${failed.kind} ${failed.r.name} (${failed.r.id}) is in ERROR: ${s.code}: ${s.message}\n${this.logs()}`);
      }
      const pending = all.filter(({ kind, r }) => !(current(r) && (r.status!.state === 'RESOURCE_STATE_ACTIVE' || tolerated(kind, r))));
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        const what = pending.map(({ kind, r }) => `${kind} ${r.name} (revision ${r.revision}): ${JSON.stringify(r.status)}`).join(', ');
        throw new Error(`${n}: not converged: ${what}\n${this.logs()}`);
      }
      await sleep(50);
    }
  }

  // ------------------------------------------------------------- observing

  async reasons(n: NodeName): Promise<Record<string, number>> {
    const { counters } = await this.api(n).reasonCounters();
    return Object.fromEntries(counters.map((c) => [c.reason, Number(c.packets)]));
  }

  /** How much each reason counter of the node moved while `action` ran. */
  async reasonDelta(n: NodeName, action: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await this.reasons(n);
    await action();
    const after = await this.reasons(n);
    return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
  }

  /** gw's /metrics, fetched inside its namespace. */
  async metrics(): Promise<string> {
    const script = `fetch('http://${GW_METRICS}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); })`;
    return (await this.topo.exec('gw', [process.execPath, '-e', script])).stdout;
  }

  /** One sample of a metric (labels as given, in the order prom-client prints them), or undefined. */
  async metric(name: string, labels = ''): Promise<number | undefined> {
    const text = await this.metrics();
    const want = labels ? `${name}{${labels}}` : name;
    const line = text.split('\n').find((l) => l.startsWith(`${want} `));
    return line === undefined ? undefined : Number(line.slice(want.length + 1));
  }

  /** gw's SNAT connection table, read through its pin (an independent view of what the programs recorded). */
  conntrack(): NatHalf[] {
    const map = BpfMap.openPinned(join(this.topo.bpffsDir, 'gw', SNAT_CT_MAP_NAME));
    try {
      return [...map.entries()].map(([key, value]) => decodeNatHalf({ key: Buffer.from(key), value: Buffer.from(value) }));
    } finally {
      map.close();
    }
  }

  /** gw's neighbour entries on the external NIC (`ip neigh`, JSON). */
  async extNeighbours(): Promise<{ dst: string; lladdr?: string; state?: string[]; protocol?: string; flags?: string[] }[]> {
    return JSON.parse((await this.topo.exec('gw', ['ip', '-j', 'neigh', 'show', 'dev', EXT_NIC])).stdout) as {
      dst: string;
      lladdr?: string;
      state?: string[];
      protocol?: string;
    }[];
  }

  /** The MAC of an interface in a namespace. */
  async macOf(ns: string, dev: string): Promise<string> {
    return (JSON.parse((await this.topo.exec(ns, ['ip', '-j', 'link', 'show', 'dev', dev])).stdout) as { address: string }[])[0]!.address;
  }

  // ------------------------------------------------------------- traffic

  /** The servers on srv: the peer-telling TCP echo on 8080, UDP reflectors on 7001 and 7002. */
  async startServers(): Promise<void> {
    const start = async (argv: string[]) => {
      const p = this.topo.spawn(SRV_NS, argv);
      this.servers.push(p);
      await p.waitFor(/listening/);
    };
    await start(node(WHOAMI_TCP_SERVER, SERVER, 8080));
    await start(node(UDP_REFLECTOR, SERVER, 7001));
    await start(node(UDP_REFLECTOR, SERVER, 7002));
  }

  /** The namespace of VM `from`, or the internet's namespaces (srv, inet) by their own names. */
  private nsOf(from: string): string {
    return from === SRV_NS || from === INET_NS ? from : this.vm(from).name;
  }

  /**
   * In VM `name`: the peer-telling TCP echo on 8080 and a UDP reflector on
   * 7001, both on every address and both telling their name; stopped by
   * cleanup(). Returns the TCP server (its output lists the connections it
   * accepted).
   */
  async startVmServers(name: string): Promise<SpawnedProcess> {
    const ns = this.vm(name).name;
    const tcp = this.topo.spawn(ns, node(WHOAMI_TCP_SERVER, '0.0.0.0', 8080, name));
    this.servers.push(tcp);
    await tcp.waitFor(/listening/);
    const udp = this.topo.spawn(ns, node(UDP_REFLECTOR, '0.0.0.0', 7001, name));
    this.servers.push(udp);
    await udp.waitFor(/listening/);
    return tcp;
  }

  /**
   * From VM (or srv, inet) `from`: a TCP connection to the server's port
   * 8080 (or `to`:`port`), `bytes` sent (in chunks, paced if asked) and
   * echoed.
   */
  async tcpStream(from: string, bytes: number, opts: { chunk?: number; everyMs?: number; to?: string; port?: number } = {}): Promise<StreamResult> {
    const argv = node(TCP_STREAM_CLIENT, opts.to ?? SERVER, opts.port ?? 8080, bytes, opts.chunk ?? bytes, opts.everyMs ?? 0);
    const r = await this.topo.exec(this.nsOf(from), argv, { allowFailure: true, timeoutMs: 60_000 });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    try {
      return JSON.parse(line) as StreamResult;
    } catch {
      return { peer: null, received: 0, error: `no result: ${r.stdout} ${r.stderr}` };
    }
  }

  /**
   * From VM `from`: `flows` UDP flows (one socket each) to the reflector on
   * `port`, each sent again up to `rounds` times (2 s apart) until answered;
   * what came back to whom.
   */
  async udpBlast(from: string, flows: number, port = 7001, rounds = 4): Promise<BlastResult> {
    const argv = ['python3', '-c', UDP_BLASTER, SERVER, String(port), String(flows), String(rounds)];
    const r = await this.topo.exec(this.vm(from).name, argv, { timeoutMs: 60_000 });
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as BlastResult;
  }

  /**
   * From VM (or srv, inet) `from`: a TCP connection to `to`:`port` that
   * sends `chunk` bytes every `everyMs` ms until stopped; resolves once the
   * server's first line came (the connection is up).
   */
  async liveTcpStream(from: string, to: string, port: number, opts: { chunk?: number; everyMs?: number } = {}): Promise<LiveStream> {
    const p = this.topo.spawn(this.nsOf(from), node(TCP_LIVE_CLIENT, to, port, opts.chunk ?? 1024, opts.everyMs ?? 20));
    this.servers.push(p);
    await p.waitFor(/connected|error/);
    return {
      stop: async () => {
        p.signal('SIGTERM');
        await Promise.race([p.exited, sleep(30_000)]);
        const line = p.stdout.trim().split('\n').at(-1) ?? '';
        try {
          return JSON.parse(line) as LiveStreamResult;
        } catch {
          return { peer: null, sent: 0, received: 0, error: `no result: ${p.stdout} ${p.stderr}` };
        }
      },
    };
  }

  /** From VM (or srv, inet) `from`: `count` UDP queries to `to`:`port` from one socket (UDP_QUERY_CLIENT). */
  async udpQuery(from: string, to: string, port: number, count: number): Promise<UdpQueryResult> {
    const r = await this.topo.exec(this.nsOf(from), node(UDP_QUERY_CLIENT, to, port, count), { timeoutMs: 30_000 + count * 3_000 });
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as UdpQueryResult;
  }

  /** From VM (or srv, inet) `from`: UDP to `to`:`port`, where nothing listens, until an ICMP port unreachable refuses it. */
  async udpRefusedProbe(from: string, to: string, port: number): Promise<UdpProbeResult> {
    const r = await this.topo.exec(this.nsOf(from), ['python3', '-c', UDP_REFUSED_PROBE, to, String(port)], { timeoutMs: 20_000 });
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as UdpProbeResult;
  }

  async cleanup(): Promise<void> {
    for (const s of this.servers.splice(0)) await s.stop().catch(() => undefined);
    await this.gwDaemon?.kill().catch(() => undefined);
    await this.overlay.cleanup();
    rmSync(this.stateRoot, { recursive: true, force: true });
  }
}

/**
 * A GatewayCluster for the tests of the enclosing describe block: built in
 * beforeAll (its topology destroyed if that fails), daemons killed and
 * namespaces removed in afterAll, pass or fail.
 */
export function useGatewayCluster(opts: GatewayClusterOptions = {}): () => GatewayCluster {
  let cluster: GatewayCluster | undefined;
  useTopology({
    timeoutMs: 180_000,
    setup: async (t) => {
      cluster = await GatewayCluster.create(t, opts);
      await cluster.startServers();
    },
  });
  afterAll(async () => {
    await cluster?.cleanup();
    cluster = undefined;
  }, 60_000);
  return () => {
    if (!cluster) throw new Error('useGatewayCluster(): no cluster (called outside a test, or set-up failed)');
    return cluster;
  };
}
