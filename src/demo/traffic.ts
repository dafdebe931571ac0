// Real traffic through the demo, one step per packet walk, each saying what
// it proves and checking it twice: the traffic arrives (ping replies, TCP
// data back intact, the source address a server saw) and the daemons' reason
// counters (GetReasonCounters, what `xdpnet stats` shows) moved where the
// walk says the packets were handled.

import type { Daemons } from './daemons.js';
import { bold, command, failed, ok, say, section } from './output.js';
import {
  EXTERNAL,
  FLOATING_IP,
  INTERNET,
  INTERNET_SERVER,
  type Instance,
  NODES,
  type NodeName,
  ROUTER,
  TENANT_NETWORKS,
  type Vm,
  nsName,
  vmByName,
} from './plan.js';
import { type HttpResult, type Server, type WhoamiRecord, httpGet, ping, pingArgv, startTcpEchoServer, startWhoamiServer, tcpEcho } from './programs.js';
import { inNs, run, sleep } from './shell.js';

const MiB = 1 << 20;
const ECHO_PORT = 5001;
const FIP_SERVER_PORT = 8080;

type Deltas = Record<NodeName, Map<string, bigint>>;

/** A reason counter that must have moved (or, with `exactly`, by exactly that much) on a node, and what that shows. */
interface Expect {
  node: NodeName;
  reason: string;
  atLeast?: number;
  exactly?: number;
  means: string;
}

export interface StepResult {
  title: string;
  passed: boolean;
}

const short = (reason: string) => reason.replace(/^REASON_/, '');

export class Traffic {
  readonly results: StepResult[] = [];
  /** The internet host's web server: started with the demo, left running for the user. */
  internetServer: Server | undefined;
  private stepNo = 0;

  constructor(
    private readonly inst: Instance,
    private readonly daemons: Daemons,
  ) {}

  private ns(short: string): string {
    return nsName(this.inst, short);
  }

  private label(vm: Vm): string {
    return `${vm.name} (${vm.node}, ${vm.net} ${vm.ip})`;
  }

  /** The servers the steps talk to. */
  async startServers(): Promise<Server[]> {
    this.internetServer = await startWhoamiServer(this.inst, this.ns(INTERNET), 'internet-http', '0.0.0.0', INTERNET_SERVER.port, 'the internet');
    const echo = await Promise.all(
      ['vm3', 'vm4'].map((name) => startTcpEchoServer(this.inst, this.ns(name), `${name}-tcp-echo`, vmByName(name).ip, ECHO_PORT)),
    );
    return echo;
  }

  async runAll(): Promise<StepResult[]> {
    const echoServers = await this.startServers();
    try {
      await this.gatewayAndArp();
      await this.sameNetworkAcrossNodes();
      await this.routedOnOneNode();
      await this.routedAcrossNodes();
      await this.snat();
      await this.floatingIp();
    } finally {
      for (const s of echoServers) s.stop();
    }
    return this.results;
  }

  // ------------------------------------------------------------- the steps

  private async gatewayAndArp(): Promise<void> {
    const vm1 = vmByName('vm1');
    const gw = TENANT_NETWORKS[vm1.net].gateway;
    const step = this.begin(
      'ARP and the router, answered on the node',
      `proves: vm1's ARP request for its gateway ${gw} and its pings to it are answered by the port program on ${vm1.tap}, in XDP on compute1: no router namespace, no broadcast.`,
    );
    await this.flushNeighbours(vm1);
    const d = await this.measure(async () => {
      step.expectPing(await this.ping(vm1, gw, 3), 3);
    });
    step.expectCounters(d, [
      { node: 'compute1', reason: 'REASON_FWD_ARP_REPLY', atLeast: 1, means: `the ARP request for ${gw} was answered by the port program (XDP_TX)` },
      { node: 'compute1', reason: 'REASON_FWD_ICMP_ECHO_REPLY', atLeast: 3, means: `the router's address ${gw} answered from the port program` },
      { node: 'compute1', reason: 'REASON_PASS_TO_FLOOD', exactly: 0, means: 'nothing was flooded: no ARP broadcast reached the other VMs or nodes' },
    ]);
    this.end(step);
  }

  private async sameNetworkAcrossNodes(): Promise<void> {
    const [vm1, vm3] = [vmByName('vm1'), vmByName('vm3')];
    const net = TENANT_NETWORKS[vm1.net];
    const step = this.begin(
      'VM to VM on one network, across nodes',
      `proves: ${this.label(vm1)} and ${this.label(vm3)} talk over the VXLAN overlay (VNI ${net.vni}): encapsulated by the sender's node, decapsulated by the receiver's, both in XDP.`,
    );
    await this.flushNeighbours(vm1);
    const d = await this.measure(async () => {
      step.expectPing(await this.ping(vm1, vm3.ip, 3), 3);
      step.expectTcp(await tcpEcho(this.ns(vm1.name), vm3.ip, ECHO_PORT, MiB), vm3.name);
    });
    step.expectCounters(d, [
      { node: 'compute1', reason: 'REASON_FWD_ARP_REPLY', atLeast: 1, means: `vm1's ARP for ${vm3.ip}, a VM on another node, was answered on compute1 (L2 population)` },
      { node: 'compute1', reason: 'REASON_FWD_ENCAP', atLeast: 3, means: "vm1's frames were encapsulated on compute1 towards compute2's VTEP" },
      { node: 'compute2', reason: 'REASON_FWD_DECAP', atLeast: 3, means: "compute2's underlay program decapsulated them straight into vm3's tap" },
    ]);
    this.end(step);
  }

  private async routedOnOneNode(): Promise<void> {
    const [vm1, vm2] = [vmByName('vm1'), vmByName('vm2')];
    const step = this.begin(
      'Routed between the two networks, on one node',
      `proves: ${ROUTER.name} routes ${this.label(vm1)} to ${this.label(vm2)} inside compute1's port program (TTL - 1, MACs rewritten): distributed routing, no network node in the path.`,
    );
    const d = await this.measure(async () => {
      step.expectPing(await this.ping(vm1, vm2.ip, 3), 3);
    });
    step.expectCounters(d, [
      { node: 'compute1', reason: 'REASON_FWD_ROUTED_LOCAL', atLeast: 6, means: 'requests and replies were routed on compute1 into the other network\'s local tap' },
    ]);
    this.end(step);
  }

  private async routedAcrossNodes(): Promise<void> {
    const [vm1, vm4] = [vmByName('vm1'), vmByName('vm4')];
    const step = this.begin(
      'Routed between the two networks, across nodes',
      `proves: ${this.label(vm1)} reaches ${this.label(vm4)}: routed on the sender's node, then tunnelled in the destination network's VNI (${TENANT_NETWORKS[vm4.net].vni}).`,
    );
    const d = await this.measure(async () => {
      step.expectPing(await this.ping(vm1, vm4.ip, 3), 3);
      step.expectTcp(await tcpEcho(this.ns(vm1.name), vm4.ip, ECHO_PORT, MiB), vm4.name);
    });
    step.expectCounters(d, [
      { node: 'compute1', reason: 'REASON_FWD_ROUTED_ENCAP', atLeast: 3, means: 'vm1\'s packets were routed on compute1 and encapsulated to compute2' },
      { node: 'compute2', reason: 'REASON_FWD_DECAP', atLeast: 3, means: "compute2 decapsulated them into vm4's tap" },
      { node: 'compute2', reason: 'REASON_FWD_ROUTED_ENCAP', atLeast: 3, means: "vm4's replies were routed on compute2, their sender's node" },
    ]);
    this.end(step);
  }

  private async snat(): Promise<void> {
    const vm1 = vmByName('vm1');
    const step = this.begin(
      'To the internet through the router (SNAT)',
      `proves: ${this.label(vm1)} reaches a web server on the internet (${INTERNET_SERVER.ip}); the network node rewrote its source to ${ROUTER.name}'s external IP ${EXTERNAL.routerIp}.`,
    );
    const d = await this.measure(async () => {
      await this.toInternet(step, vm1, EXTERNAL.routerIp, `${ROUTER.name}'s external IP`);
    });
    step.showMoved(d);
    this.end(step);
  }

  private async floatingIp(): Promise<void> {
    const vm = vmByName(FLOATING_IP.vm);
    const step = this.begin(
      'Floating IP: from the internet to a VM, and back out',
      `proves: the internet reaches ${this.label(vm)} at its floating IP ${EXTERNAL.floatingIp}, and ${vm.name}'s own connections leave from that address (1:1 NAT on the network node).`,
    );
    const server = await startWhoamiServer(this.inst, this.ns(vm.name), `${vm.name}-http`, '0.0.0.0', FIP_SERVER_PORT, vm.name);
    try {
      const d = await this.measure(async () => {
        // In: from the internet's web server address, to the floating IP.
        say(`internet host (from ${INTERNET_SERVER.ip}): HTTP GET http://${EXTERNAL.floatingIp}:${FIP_SERVER_PORT}/`);
        const res = await httpGet(this.ns(INTERNET), EXTERNAL.floatingIp, FIP_SERVER_PORT, INTERNET_SERVER.ip);
        step.expectSeen(res, server, INTERNET_SERVER.ip, 'the internet host\'s address, unchanged', vm.name);
        // Out: the VM's own connection leaves from its floating IP, not the router's SNAT address.
        await this.toInternet(step, vm, EXTERNAL.floatingIp, `${vm.name}'s floating IP`);
      });
      step.showMoved(d);
    } finally {
      server.stop();
    }
    this.end(step);
  }

  // ------------------------------------------------------------- helpers

  private begin(title: string, proves: string): Step {
    this.stepNo += 1;
    section(`${this.stepNo}. ${title}`);
    say(proves);
    return new Step(title);
  }

  private end(step: Step): void {
    this.results.push(step.result());
  }

  private async ping(vm: Vm, target: string, count: number): Promise<{ got: number; count: number; target: string }> {
    command(inNs(this.ns(vm.name), pingArgv(target, count)));
    return { got: await ping(this.ns(vm.name), target, count), count, target };
  }

  /** Forgets the VM's neighbour entries, so its next packet starts with an ARP request. */
  private async flushNeighbours(vm: Vm): Promise<void> {
    await run(inNs(this.ns(vm.name), ['ip', 'neigh', 'flush', 'dev', 'eth0']));
  }

  /** GET from `vm` to the internet's web server; `expected` (what it is: `what`) must be the source address the server saw. */
  private async toInternet(step: Step, vm: Vm, expected: string, what: string): Promise<void> {
    say(`${vm.name}: HTTP GET http://${INTERNET_SERVER.ip}/`);
    const res = await httpGet(this.ns(vm.name), INTERNET_SERVER.ip, INTERNET_SERVER.port);
    step.expectSeen(res, this.internetServer!, expected, what, 'the internet host');
  }

  /** How much every reason counter of every node moved while `action` ran. */
  private async measure(action: () => Promise<void>): Promise<Deltas> {
    const before = await Promise.all(NODES.map((n) => this.daemons.reasons(n)));
    await action();
    // Counters are per CPU and read without stopping the programs: a packet
    // answered a moment ago has been counted, nothing is in flight to wait for.
    // One short pause lets a last reply in flight be counted on both sides.
    await sleep(100);
    const after = await Promise.all(NODES.map((n) => this.daemons.reasons(n)));
    const deltas = {} as Deltas;
    NODES.forEach((node, i) => {
      const d = new Map<string, bigint>();
      for (const [reason, n] of after[i]!) {
        const moved = n - (before[i]!.get(reason) ?? 0n);
        if (moved !== 0n) d.set(reason, moved);
      }
      deltas[node] = d;
    });
    return deltas;
  }
}

/** One step's checks and printed results. */
class Step {
  private passed = true;

  constructor(private readonly title: string) {}

  private check(good: boolean, text: string): void {
    if (good) ok(text);
    else {
      failed(text);
      this.passed = false;
    }
  }

  expectPing(r: { got: number; count: number; target: string }, want: number): void {
    this.check(r.got >= want, `ping ${r.target}: ${r.got} of ${r.count} replies`);
  }

  expectTcp(r: { sent?: number; received?: number; identical?: boolean; ms?: number; error?: string }, to: string): void {
    if (r.error !== undefined) return this.check(false, `TCP: 1 MiB to ${to}'s echo server and back failed: ${r.error}`);
    this.check(
      r.identical === true && r.received === r.sent,
      `TCP: ${(r.sent ?? 0) >> 20} MiB to ${to}'s echo server and back, ${r.identical ? 'intact (same SHA-256)' : 'CORRUPTED'} in ${r.ms} ms`,
    );
  }

  /** The HTTP answer, and the source address the server saw for it. */
  expectSeen(res: HttpResult, server: Server, expected: string, what: string, where: string): void {
    if (res.error !== undefined || res.status !== 200) return this.check(false, `HTTP: ${res.error ?? `status ${res.status}`}`);
    const seen = server.records<WhoamiRecord>().at(-1);
    say(`answer: ${res.body}`);
    this.check(seen?.from === expected, `${where} saw the connection come from ${seen?.from ?? '(nothing)'} (expected ${expected}, ${what})`);
  }

  /** Prints the counters that moved on each node, then checks the expectations against them. */
  expectCounters(d: Deltas, expects: readonly Expect[]): void {
    this.showMoved(d);
    for (const e of expects) {
      const moved = Number(d[e.node].get(e.reason) ?? 0n);
      const good = e.exactly !== undefined ? moved === e.exactly : moved >= (e.atLeast ?? 1);
      this.check(good, `${e.node} ${short(e.reason)} +${moved}: ${e.means}`);
    }
  }

  showMoved(d: Deltas): void {
    say('reason counters that moved (xdpnet stats):');
    for (const node of NODES) {
      const top = [...d[node].entries()].sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : 0)).slice(0, 5);
      say(`  ${bold(node.padEnd(9))} ${top.length ? top.map(([r, n]) => `${short(r)} +${n}`).join('   ') : '-'}`);
    }
  }

  result(): StepResult {
    return { title: this.title, passed: this.passed };
  }
}
