// Real interfaces instead of the benchmark's veth namespaces (--port-if,
// --uplink-if; docs/BENCHMARKS.md says how to cable and run it).
//
// The generator still runs on this machine: BPF_PROG_RUN with live frames
// offers each scenario's frames to the program under test as if they had
// arrived on one of the two interfaces, and the program's XDP_REDIRECT
// transmits them out of the other through its driver (ndo_xdp_xmit), onto
// the wire. They are counted where they arrive: xdp_sink, attached in
// native mode to the receiving interface of each side. By default that is
// the other interface of the pair, i.e. the two are cabled to each other
// (or are the two ends of a veth pair); --port-sink-if and --uplink-sink-if
// name other receiving interfaces on this machine.
//
//   scenario of an outbound direction (encap, SNAT):
//     generator ──(as if arriving on --port-if)──▶ program ──redirect──▶ --uplink-if ══wire══▶ --uplink-sink-if: xdp_sink
//   inbound (decap, reverse SNAT): the same with the two sides swapped.
//
// Only the XDP rows run (ours and the floor): the kernel baselines need the
// kernel's stack set up on the interfaces (a bridge holding one, the VTEP
// address or nftables rules on the other), which the benchmark does only in
// namespaces of its own. Which side each of the topology's links stands for
// is worked out from the scenarios (assignLinks): every scenario's ingress
// and egress land on different interfaces, the VM port on --port-if.
//
// For the run, the sink interfaces are put in promiscuous mode (the frames
// carry the benchmark world's MACs, which a NIC's filter would drop), and an
// interface frames leave by that does not run the sink gets xdp_pass, since
// several drivers transmit redirected frames only while an XDP program is
// attached to the sending interface. Everything is undone on exit, failure,
// SIGINT and SIGTERM.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { NETNS_DIR, Topology } from '../../test/helpers/netns.js';
import { objectPath, SINK_MAX_IFINDEX } from './layouts.js';
import type { RealInterfaceOptions } from './options.js';
import { type BenchNet, HOSTS, type Host, LINKS, type LinkName } from './topology.js';

export type Side = 'port' | 'uplink';

/** The rows real interfaces run: the XDP forwarders, ours and the floor. */
export const REAL_PATHS: readonly string[] = ['xdpnet', 'floor'];

export interface LinkedScenario {
  id: string;
  path: string;
  ingress: string;
  egress: string;
}

/** The scenarios real interfaces can run, in their order. */
export function realScenarios<S extends { path: string }>(all: readonly S[]): S[] {
  return all.filter((s) => REAL_PATHS.includes(s.path));
}

/**
 * Which side each link stands for. Every scenario of `run` must have its
 * ingress and egress on different sides (a frame leaves by the other
 * interface); a link named `port` (the VM port) is on the port side, and so
 * is the ingress of the first scenario of each group of links connected by
 * scenarios. Links only `others` use are given a side where it does not
 * contradict, and links no scenario uses go to the port side.
 */
export function assignLinks(run: readonly LinkedScenario[], others: readonly LinkedScenario[], links: readonly string[]): Map<string, Side> {
  const side = new Map<string, Side>();
  const other = (s: Side): Side => (s === 'port' ? 'uplink' : 'port');
  const place = (scenarios: readonly LinkedScenario[], strict: boolean) => {
    const hairpin = scenarios.find((s) => s.ingress === s.egress);
    if (hairpin && strict) throw new Error(`scenario ${hairpin.id} leaves by the link it arrives on (${hairpin.ingress}); real interfaces need two`);
    const across = scenarios.filter((s) => s.ingress !== s.egress);
    if (across.some((s) => s.ingress === 'port' || s.egress === 'port') && !side.has('port')) side.set('port', 'port');
    // Spread sides along the scenarios until nothing changes; then anchor the next unplaced group, if any.
    for (;;) {
      let changed = false;
      for (const s of across) {
        const a = side.get(s.ingress);
        const b = side.get(s.egress);
        if (a !== undefined && b === undefined) side.set(s.egress, other(a));
        else if (b !== undefined && a === undefined) side.set(s.ingress, other(b));
        else if (a !== undefined && a === b && strict) {
          throw new Error(
            `scenario ${s.id} goes from ${s.ingress} to ${s.egress}, which other scenarios put on the same side (${a}); ` +
              'real interfaces cannot run it (bench/dataplane/real-interfaces.ts)',
          );
        } else continue;
        changed = true;
      }
      if (changed) continue;
      const unplaced = across.find((s) => !side.has(s.ingress) && !side.has(s.egress));
      if (!unplaced) return;
      side.set(unplaced.ingress, 'port');
    }
  };
  place(run, true);
  place(others, false);
  for (const link of links) if (!side.has(link)) side.set(link, 'port');
  return side;
}

/** What `ip -j -d link show` says of an interface (the fields used). */
interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  link_type: string;
  address?: string;
  promiscuity?: number;
  xdp?: { mode?: number; prog?: { id?: number; name?: string } };
}

interface IpAddr {
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

/** One interface of the run and what it is for. */
export interface RealInterface {
  ifname: string;
  /** Namespace name, or null for the benchmark's own. */
  netns: string | null;
  ifindex: number;
  mac: string;
  /** --port-if, --uplink-if: frames are offered as arriving here, and leave by here. */
  dut: Side | null;
  /** Frames leaving this side's DUT interface arrive here and are counted. */
  sinkFor: Side | null;
}

/** Counters of one interface, before and after the run (cross-checks of the sink's counts). */
export interface InterfaceCounters {
  ifname: string;
  role: string;
  /** The interface's own counters (`ip -s link`: tx_packets, tx_dropped, …), deltas. */
  statistics: Record<string, number>;
  /** `ethtool -S` deltas of the counters whose name mentions XDP, non-zero ones only. */
  xdp: Record<string, number>;
}

/** iproute2's name of each XDP attach mode (XDP_ATTACHED_*). */
const XDP_MODE: Record<number, string> = { 1: 'xdpdrv', 2: 'xdpgeneric', 3: 'xdpoffload' };

const STATISTICS = ['tx_packets', 'tx_dropped', 'tx_errors', 'rx_packets', 'rx_dropped'] as const;

interface Snapshot {
  statistics: Record<string, number>;
  ethtool: Record<string, number>;
}

export class RealInterfaces {
  private undo: { what: string; argv: string[] }[] = [];
  /** What the set-up did to the interfaces (undone by restoreSync). */
  readonly actions: string[] = [];
  private before = new Map<RealInterface, Snapshot>();
  private finished = false;

  private constructor(
    private readonly topo: Topology,
    readonly options: RealInterfaceOptions,
    readonly interfaces: RealInterface[],
    readonly net: BenchNet,
    /** The side each link of the topology stands for. */
    readonly sides: ReadonlyMap<string, Side>,
    /** Where the worker attaches the sink: namespace (name or path) and interface. */
    readonly sinks: { netns: string; ifname: string }[],
  ) {}

  /**
   * Checks the interfaces (throwing an error that says what is wrong with
   * which flag's interface), prepares them and describes them as the
   * worker's BenchNet. `scenarios` are the ones the run offers; `others` the
   * rest of the topology's scenarios (they place links no run uses).
   */
  static async prepare(options: RealInterfaceOptions, scenarios: readonly LinkedScenario[], others: readonly LinkedScenario[]): Promise<RealInterfaces> {
    for (const ns of [options.netns, options.sinkNetns]) {
      if (ns !== null && !existsSync(`${NETNS_DIR}/${ns}`)) throw new Error(`--${ns === options.netns ? 'netns' : 'sink-netns'} ${ns}: no namespace ${NETNS_DIR}/${ns}`);
    }
    const sides = assignLinks(scenarios, others, LINKS);
    const dut = { port: inspect(options.netns, options.portIf, '--port-if'), uplink: inspect(options.netns, options.uplinkIf, '--uplink-if') };
    const sink = {
      port: inspect(options.sinkNetns, options.portSinkIf, '--port-sink-if'),
      uplink: inspect(options.sinkNetns, options.uplinkSinkIf, '--uplink-sink-if'),
    };
    const same = (a: IpLink, an: string | null, b: IpLink, bn: string | null) => a.ifindex === b.ifindex && an === bn;
    const interfaces: RealInterface[] = [];
    const add = (link: IpLink, netns: string | null, role: { dut?: Side; sinkFor?: Side }) => {
      let x = interfaces.find((i) => i.ifindex === link.ifindex && i.netns === netns);
      if (!x) {
        x = { ifname: link.ifname, netns, ifindex: link.ifindex, mac: link.address ?? '', dut: null, sinkFor: null };
        interfaces.push(x);
      }
      if (role.dut) x.dut = role.dut;
      if (role.sinkFor) x.sinkFor = role.sinkFor;
    };
    add(dut.port.link, options.netns, { dut: 'port' });
    add(dut.uplink.link, options.netns, { dut: 'uplink' });
    add(sink.port.link, options.sinkNetns, { sinkFor: 'port' });
    add(sink.uplink.link, options.sinkNetns, { sinkFor: 'uplink' });

    for (const side of ['port', 'uplink'] as const) {
      const d = dut[side];
      const s = sink[side];
      if (same(d.link, options.netns, s.link, options.sinkNetns)) {
        throw new Error(`${d.flag} ${d.link.ifname} cannot count its own frames: ${s.flag} must be the interface they arrive on (the other end of its cable)`);
      }
      // Frames leave by both DUT interfaces (one direction each): they need a carrier.
      if (!d.link.flags.includes('LOWER_UP')) {
        throw new Error(`${d.flag} ${d.link.ifname} has no carrier (no LOWER_UP): is it cabled, and is the other end up?`);
      }
      if (s.link.ifindex >= SINK_MAX_IFINDEX) {
        throw new Error(
          `${s.flag} ${s.link.ifname} has ifindex ${s.link.ifindex}; the benchmark's sink (bpf/bench/xdp_sink.bpf.c) ` +
            `counts interfaces with an ifindex below ${SINK_MAX_IFINDEX} only`,
        );
      }
      if (s.link.xdp?.prog) {
        throw new Error(
          `${s.flag} ${s.link.ifname} already runs an XDP program (id ${s.link.xdp.prog.id ?? '?'}${s.link.xdp.prog.name ? `, ${s.link.xdp.prog.name}` : ''}); ` +
            `the sink replaces nothing: detach it first (ip${nsFlag(options.sinkNetns)} link set dev ${s.link.ifname} ${XDP_MODE[s.link.xdp.mode ?? 1] ?? 'xdp'} off)`,
        );
      }
      const global = s.addrs.filter((a) => a.scope === 'global');
      if (global.length > 0) {
        throw new Error(
          `${s.flag} ${s.link.ifname} has addresses (${global.map((a) => `${a.local}/${a.prefixlen}`).join(', ')}): the sink drops every frame ` +
            'arriving on it during the run, so it must not carry other traffic; use dedicated ports, or remove them ' +
            `(ip${nsFlag(options.sinkNetns)} addr flush dev ${s.link.ifname} scope global)`,
        );
      }
    }

    const topo = await Topology.create();
    const ifindex = (which: Record<Side, { link: IpLink }>) =>
      Object.fromEntries(LINKS.map((l) => [l, which[sides.get(l) ?? 'port'].link.ifindex])) as Record<LinkName, number>;
    const net: BenchNet = {
      // Names in /run/netns, '' for the benchmark's own namespace (the worker runs in it, and needs no generator host).
      node: options.netns ?? '',
      sink: options.sinkNetns ?? '',
      hosts: Object.fromEntries(HOSTS.map((h) => [h, options.netns ?? ''])) as Record<Host, string>,
      bpffsDir: topo.bpffsDir,
      ifindex: { host: ifindex(dut), sink: ifindex(sink) },
      brNetfilter: false,
    };
    const sinkNs = nsPath(options.sinkNetns);
    const real = new RealInterfaces(
      topo,
      options,
      interfaces,
      net,
      sides,
      interfaces.filter((i) => i.sinkFor !== null).map((i) => ({ netns: sinkNs, ifname: i.ifname })),
    );
    installHooks(real);
    try {
      real.setUp(dut, options.netns, sink, options.sinkNetns);
    } catch (err) {
      await real.destroy();
      throw err;
    }
    return real;
  }

  /** The interfaces and what each was for, for the report. */
  static describe(real: RealInterfaces): { ifname: string; netns: string | null; ifindex: number; mac: string; role: string }[] {
    return real.interfaces.map((i) => ({ ifname: i.ifname, netns: i.netns, ifindex: i.ifindex, mac: i.mac, role: roleOf(i) }));
  }

  private setUp(dut: Record<Side, Inspected>, dutNs: string | null, sink: Record<Side, Inspected>, sinkNs: string | null): void {
    // Promiscuous sinks: the world's MACs are not theirs.
    for (const side of ['port', 'uplink'] as const) {
      const s = sink[side];
      if (!s.link.flags.includes('PROMISC')) {
        this.run(`${s.link.ifname} promiscuous`, sinkNs, ['ip', 'link', 'set', 'dev', s.link.ifname, 'promisc', 'on'], ['ip', 'link', 'set', 'dev', s.link.ifname, 'promisc', 'off']);
      }
    }
    // A DUT interface that is no sink gets an XDP program, so every driver transmits redirected frames.
    for (const side of ['port', 'uplink'] as const) {
      const d = dut[side];
      const isSink = this.interfaces.some((i) => i.ifindex === d.link.ifindex && i.netns === dutNs && i.sinkFor !== null);
      if (isSink || d.link.xdp?.prog) continue;
      this.run(
        `xdp_pass on ${d.link.ifname}`,
        dutNs,
        ['ip', 'link', 'set', 'dev', d.link.ifname, 'xdpdrv', 'obj', objectPath('bench/xdp_pass'), 'sec', 'xdp'],
        ['ip', 'link', 'set', 'dev', d.link.ifname, 'xdpdrv', 'off'],
      );
    }
    // The sinks the worker attaches, detached here whatever happens to it.
    for (const s of this.sinks) this.undo.push({ what: `detach the sink from ${s.ifname}`, argv: nsenter(s.netns, ['ip', 'link', 'set', 'dev', s.ifname, 'xdpdrv', 'off']) });
    for (const i of this.interfaces) this.before.set(i, snapshot(i));
  }

  /** Counter deltas since setUp, per interface. */
  counters(): InterfaceCounters[] {
    return this.interfaces.map((i) => {
      const a = this.before.get(i);
      const b = snapshot(i);
      const delta = (x: Record<string, number>, y: Record<string, number> | undefined) =>
        Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v - (y?.[k] ?? 0)]));
      const xdp = Object.fromEntries(Object.entries(delta(b.ethtool, a?.ethtool)).filter(([k, v]) => /xdp/i.test(k) && v !== 0));
      return { ifname: i.ifname, role: roleOf(i), statistics: delta(b.statistics, a?.statistics), xdp };
    });
  }

  /** Undoes the set-up (idempotent, synchronous: also the exit and signal hooks' way out). */
  restoreSync(): void {
    if (this.finished) return;
    this.finished = true;
    live.delete(this);
    for (const u of this.undo.reverse()) {
      try {
        execFileSync(u.argv[0]!, u.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000 });
      } catch (err) {
        const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
        // Gone with the interface, or never attached (the worker failed first): nothing to undo.
        if (!/Cannot find device|does not exist|No such device/.test(stderr)) process.stderr.write(`could not ${u.what}: ${stderr || (err as Error).message}\n`);
      }
    }
    this.undo = [];
  }

  /** Undoes the set-up and removes the run's bpffs directory. */
  async destroy(): Promise<void> {
    this.restoreSync();
    await this.topo.destroy();
  }

  private run(what: string, ns: string | null, argv: string[], undo: string[]): void {
    const full = nsenter(nsPath(ns), argv);
    try {
      execFileSync(full[0]!, full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000 });
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
      throw new Error(`${argv.join(' ')}${ns ? ` (in ${ns})` : ''} failed: ${stderr || (err as Error).message}`);
    }
    this.undo.push({ what: undo.join(' '), argv: nsenter(nsPath(ns), undo) });
    this.actions.push(what);
  }
}

interface Inspected {
  flag: string;
  link: IpLink;
  addrs: NonNullable<IpAddr['addr_info']>;
}

/** The interface `flag` names, checked to be an Ethernet interface that is up. */
function inspect(ns: string | null, ifname: string, flag: string): Inspected {
  const where = ns ? ` in namespace ${ns}` : '';
  let out: string;
  try {
    out = execFileSync('ip', [...nsArgs(ns), '-j', '-d', 'link', 'show', 'dev', ifname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    throw new Error(`${flag} ${ifname}: no such interface${where}`);
  }
  const link = (JSON.parse(out) as IpLink[])[0];
  if (!link) throw new Error(`${flag} ${ifname}: no such interface${where}`);
  if (link.link_type !== 'ether') throw new Error(`${flag} ${ifname} is not an Ethernet interface (link type ${link.link_type})`);
  if (!link.flags.includes('UP')) throw new Error(`${flag} ${ifname} is down: ip${nsFlag(ns)} link set dev ${ifname} up`);
  const addrs = (JSON.parse(execFileSync('ip', [...nsArgs(ns), '-j', 'addr', 'show', 'dev', ifname], { encoding: 'utf8' })) as IpAddr[])[0]?.addr_info ?? [];
  return { flag, link, addrs };
}

function roleOf(i: RealInterface): string {
  const roles: string[] = [];
  if (i.dut) roles.push(`--${i.dut}-if`);
  if (i.sinkFor) roles.push(`--${i.sinkFor}-sink-if`);
  return roles.join(', ');
}

function snapshot(i: RealInterface): Snapshot {
  const statistics: Record<string, number> = {};
  const ethtool: Record<string, number> = {};
  try {
    const out = execFileSync('ip', [...nsArgs(i.netns), '-j', '-s', 'link', 'show', 'dev', i.ifname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const stats = (JSON.parse(out) as { stats64?: Record<'rx' | 'tx', Record<string, number>> }[])[0]?.stats64;
    for (const name of STATISTICS) {
      const [dir, what] = name.split('_') as ['rx' | 'tx', string];
      const v = stats?.[dir]?.[what];
      if (typeof v === 'number') statistics[name] = v;
    }
  } catch {
    /* gone: nothing to count */
  }
  try {
    const argv = nsenter(nsPath(i.netns), ['ethtool', '-S', i.ifname]);
    const out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 });
    for (const line of out.split('\n')) {
      const m = /^\s*([^:]+):\s*(\d+)\s*$/.exec(line);
      if (m) ethtool[m[1]!.trim()] = Number(m[2]);
    }
  } catch {
    /* no ethtool statistics for this driver */
  }
  return { statistics, ethtool };
}

/** A namespace as nsenter wants it: /run/netns/NAME, or this process's own. */
export function nsPath(ns: string | null): string {
  return ns === null ? `/proc/${process.pid}/ns/net` : `${NETNS_DIR}/${ns}`;
}

function nsenter(nsFile: string, argv: string[]): string[] {
  return ['nsenter', `--net=${nsFile}`, '--', ...argv];
}

const nsArgs = (ns: string | null): string[] => (ns === null ? [] : ['-n', ns]);
const nsFlag = (ns: string | null): string => (ns === null ? '' : ` -n ${ns}`);

const live = new Set<RealInterfaces>();
let hooked = false;

function installHooks(real: RealInterfaces): void {
  live.add(real);
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const r of [...live]) r.restoreSync();
  });
  const onSignal = (signal: NodeJS.Signals) => {
    for (const r of [...live]) r.restoreSync();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.kill(process.pid, signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
