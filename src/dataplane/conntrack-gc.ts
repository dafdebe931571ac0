// The SNAT connection table's garbage collector (the contract is in
// bpf/lib/conntrack_maps.h): the programs create and refresh connections,
// expiry is the daemon's.
//
// Every `intervalMs` (after the previous walk ended), and soon after a router
// gives up an external IP, the collector walks xdpnet_snat_ct with batch
// lookups (maps.ts: 256 entries a syscall) and, per entry:
//   - a connection of a zone (external IP) no router holds on this node any
//     more is deleted, OUT first, then IN: its replies must not be translated
//     for a router that no longer has the address. (Zones are only judged
//     once the snat table has been listed: until then nothing is deleted for
//     its zone.)
//   - an OUT entry is the connection: idle = now - max(last_seen of both
//     halves), state from the flags of both (snat-encode.ts natState); past
//     the timeout of its state, both keys are deleted, OUT first so that the
//     external port is claimable again only once no OUT entry maps to it. The
//     partner is looked up only when the OUT half alone has been idle longer
//     than the shortest timeout of its protocol: a busy connection costs no
//     syscall of its own.
//   - a half whose partner is missing (or is another connection's: the IN key
//     was claimed anew) is deleted once idle past the longest timeout of its
//     protocol.
// A packet that refreshes one half between the two deletes re-creates the
// other (conntrack.h); the next walk sees that connection as alive, which it is.
//
// The walk goes in slices of about `sliceMs` of work, yielding to the event
// loop between them (setImmediate), so that API requests, reconcile passes
// and netlink events are never held up by a table of millions of entries;
// the programs are never held up by it either (batch lookups take each hash
// bucket's lock briefly, deletes one key's).
//
// Counters: connections (OUT entries) and entries of the last complete walk,
// per protocol; connections expired, halves deleted as orphans and
// connections of dropped zones, since start.

import { type FieldLayout, u64 } from './codec.js';
import { NAT_DIR_IN, NAT_DIR_OUT, NAT_F_REPLIED, NAT_F_TCP_ESTABLISHED, NAT_F_TCP_FIN, NAT_F_TCP_RST, natConn, natKey } from './layouts.js';
import type { NatProtocol } from './snat-encode.js';

/** What the collector needs of the map (a BpfMap has it; tests give a fake). */
export interface ConntrackMap {
  entries(): IterableIterator<[Buffer, Buffer]>;
  lookup(key: Buffer): Buffer | undefined;
  delete(key: Buffer): boolean;
}

/** Idle timeouts, in seconds, by the connection's state (config snat.timeouts). */
export interface ConntrackTimeouts {
  tcpEstablished: number;
  tcpOpening: number;
  tcpClosing: number;
  tcpReset: number;
  udp: number;
  udpReplied: number;
  icmp: number;
}

export const DEFAULT_TIMEOUTS: ConntrackTimeouts = {
  tcpEstablished: 86_400,
  tcpOpening: 120,
  tcpClosing: 120,
  tcpReset: 10,
  udp: 30,
  udpReplied: 180,
  icmp: 30,
};

export interface ConntrackGcLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ConntrackGcOptions {
  map: ConntrackMap;
  timeouts?: ConntrackTimeouts;
  /** Time between the end of a walk and the start of the next. */
  intervalMs: number;
  logger: ConntrackGcLogger;
  /** The external IPs held for routers on this node (zones alive), or undefined while unknown. */
  liveZones?: () => ReadonlySet<string> | undefined;
  /** Addresses whose connections should be reported at the end of each walk (on-link next hops in use). */
  remotes?: { watchedRemotes(): ReadonlySet<number>; touch(seen: Iterable<number>): void };
  /** Work per slice before yielding to the event loop. Default 5 ms. */
  sliceMs?: number;
  /** CLOCK_MONOTONIC in ns: the programs' clock (bpf_ktime_get_coarse_ns). */
  now?: () => bigint;
}

type PerProtocol = Record<NatProtocol, number>;

export interface ConntrackStats {
  /** Connections (OUT entries) at the last complete walk. */
  connections: PerProtocol;
  /** Entries (both halves) the last complete walk left in the table (an estimate: the programs add and refresh meanwhile). */
  entries: number;
  /** Connections deleted because they expired, since start. */
  expired: PerProtocol;
  /** Halves deleted because their partner was missing or another connection's, since start. */
  orphans: number;
  /** Connections deleted because no router holds their external IP here any more, since start. */
  purged: number;
  /** Entries that decode to no connection, deleted, since start. */
  malformed: number;
  walks: number;
  /** Duration of the last complete walk (wall clock, slices and pauses included). */
  lastWalkMs: number;
  /** When the last walk ended (Unix ms), or null. */
  lastWalkEndedUnixMs: number | null;
}

const zero = (): PerProtocol => ({ tcp: 0, udp: 0, icmp: 0 });
const PROTOCOL_OF: Record<number, NatProtocol> = { 6: 'tcp', 17: 'udp', 1: 'icmp' };

function offsets(fields: readonly FieldLayout[]): Record<string, number> {
  return Object.fromEntries(fields.map((f) => [f.name, f.offset]));
}
const K = offsets(natKey.fields);
const V = offsets(natConn.fields);

/** The IN key of the connection whose OUT entry is (key, value) (nat_partner_key in conntrack.h). */
export function inKeyOfOut(key: Buffer, value: Buffer): Buffer {
  const k = Buffer.alloc(natKey.size);
  key.copy(k, K.saddr!, K.daddr!, K.daddr! + 4); // the remote end
  key.copy(k, K.daddr!, K.zone!, K.zone! + 4); // to the external IP
  key.copy(k, K.sport!, K.dport!, K.dport! + 2); // from the remote port (0 for ICMP)
  value.copy(k, K.dport!, V.ext_port!, V.ext_port! + 2); // to the external port (or echo identifier)
  k[K.proto!] = key[K.proto!]!;
  k[K.dir!] = NAT_DIR_IN;
  key.copy(k, K.zone!, K.zone!, K.zone! + 4);
  return k;
}

/** The OUT key of the connection whose IN entry is (key, value). */
export function outKeyOfIn(key: Buffer, value: Buffer): Buffer {
  const k = Buffer.alloc(natKey.size);
  value.copy(k, K.saddr!, V.vm_ip!, V.vm_ip! + 4); // from the VM
  key.copy(k, K.daddr!, K.saddr!, K.saddr! + 4); // to the remote end
  value.copy(k, K.sport!, V.vm_port!, V.vm_port! + 2); // the VM's port (or echo identifier)
  key.copy(k, K.dport!, K.sport!, K.sport! + 2); // the remote port (0 for ICMP)
  k[K.proto!] = key[K.proto!]!;
  k[K.dir!] = NAT_DIR_OUT;
  key.copy(k, K.zone!, K.zone!, K.zone! + 4);
  return k;
}

const lastSeen = (value: Buffer): bigint => u64.read(value, V.last_seen_ns!);
const flagsOf = (value: Buffer): bigint => u64.read(value, V.flags!);

const S = 1_000_000_000n;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class ConntrackGc {
  private readonly timeoutNs: Record<keyof ConntrackTimeouts, bigint>;
  private readonly minNs: Record<NatProtocol, bigint>;
  private readonly maxNs: Record<NatProtocol, bigint>;
  private readonly stat: ConntrackStats = {
    connections: zero(),
    entries: 0,
    expired: zero(),
    orphans: 0,
    purged: 0,
    malformed: 0,
    walks: 0,
    lastWalkMs: 0,
    lastWalkEndedUnixMs: null,
  };
  private timer: NodeJS.Timeout | undefined;
  private walking: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private started = false;

  constructor(private readonly opts: ConntrackGcOptions) {
    const t = opts.timeouts ?? DEFAULT_TIMEOUTS;
    for (const [name, s] of Object.entries(t)) {
      if (!Number.isInteger(s) || s < 1) throw new RangeError(`timeout ${name} must be a whole number of seconds >= 1, got ${s}`);
    }
    if (!Number.isInteger(opts.intervalMs) || opts.intervalMs < 1) throw new RangeError(`intervalMs must be a positive integer, got ${opts.intervalMs}`);
    this.timeoutNs = Object.fromEntries(Object.entries(t).map(([k, s]) => [k, BigInt(s) * S])) as Record<keyof ConntrackTimeouts, bigint>;
    const n = this.timeoutNs;
    const min = (...xs: bigint[]) => xs.reduce((a, b) => (b < a ? b : a));
    const max = (...xs: bigint[]) => xs.reduce((a, b) => (b > a ? b : a));
    this.minNs = { tcp: min(n.tcpEstablished, n.tcpOpening, n.tcpClosing, n.tcpReset), udp: min(n.udp, n.udpReplied), icmp: n.icmp };
    this.maxNs = { tcp: max(n.tcpEstablished, n.tcpOpening, n.tcpClosing, n.tcpReset), udp: max(n.udp, n.udpReplied), icmp: n.icmp };
  }

  /** Starts walking: the first walk at once, then every interval. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.schedule(0);
  }

  /** A walk soon (an external IP was given up): at once if idle, right after the current one otherwise. */
  requestWalk(): void {
    if (!this.started || this.closed) return;
    if (this.walking) this.again = true;
    else this.schedule(0);
  }

  /** One complete walk now (or the end of the one under way). */
  async walkOnce(): Promise<void> {
    if (this.walking) await this.walking;
    this.walking = this.walk();
    try {
      await this.walking;
    } finally {
      this.walking = undefined;
    }
  }

  stats(): ConntrackStats {
    return { ...this.stat, connections: { ...this.stat.connections }, expired: { ...this.stat.expired } };
  }

  /** Entries at the last complete walk, or undefined before the first. */
  entryCount(): number | undefined {
    return this.stat.walks > 0 ? this.stat.entries : undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** The timeout of a connection of `protocol` whose two halves say `flags` (conntrack_maps.h). */
  timeoutFor(protocol: NatProtocol, flags: bigint): bigint {
    const n = this.timeoutNs;
    const f = Number(flags & 0xffn);
    switch (protocol) {
      case 'tcp':
        if (f & NAT_F_TCP_RST) return n.tcpReset;
        if (f & NAT_F_TCP_FIN) return n.tcpClosing;
        return f & NAT_F_TCP_ESTABLISHED ? n.tcpEstablished : n.tcpOpening;
      case 'udp':
        return f & NAT_F_REPLIED ? n.udpReplied : n.udp;
      case 'icmp':
        return n.icmp;
    }
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      await this.walkOnce();
    } catch (err) {
      this.opts.logger.error({ err }, 'conntrack collector: the walk failed; the next one retries');
    }
    if (this.closed) return;
    const soon = this.again;
    this.again = false;
    this.schedule(soon ? 0 : this.opts.intervalMs);
  }

  private async walk(): Promise<void> {
    const { map } = this.opts;
    const now = this.opts.now ?? (() => process.hrtime.bigint());
    const sliceMs = this.opts.sliceMs ?? 5;
    const began = performance.now();
    const live = this.opts.liveZones?.();
    const liveZones = live && new Set([...live].map((ip) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0)));
    const watched = this.opts.remotes?.watchedRemotes();
    const seen = new Set<number>();
    const connections = zero();
    let entries = 0;
    let t = now();
    let sliceStart = performance.now();
    let n = 0;
    const { stat } = this;

    for (const [key, value] of map.entries()) {
      if ((++n & 127) === 0 && performance.now() - sliceStart >= sliceMs) {
        await yieldToLoop();
        if (this.closed) return;
        sliceStart = performance.now();
        t = now();
      }
      const protocol = PROTOCOL_OF[key[K.proto!]!];
      const dir = key[K.dir!];
      if (!protocol || (dir !== NAT_DIR_OUT && dir !== NAT_DIR_IN) || key.length !== natKey.size || value.length !== natConn.size) {
        if (map.delete(Buffer.from(key))) stat.malformed++;
        continue;
      }
      const out = dir === NAT_DIR_OUT;
      const partnerKey = out ? inKeyOfOut(key, value) : outKeyOfIn(key, value);

      if (liveZones && !liveZones.has(key.readUInt32BE(K.zone!))) {
        // OUT first, then IN, whichever half the walk met.
        const [first, second] = out ? [key, partnerKey] : [partnerKey, key];
        if (map.delete(Buffer.from(first))) stat.purged++;
        map.delete(Buffer.from(second));
        continue;
      }

      const own = lastSeen(value);
      if (out) {
        if (watched?.has(key.readUInt32BE(K.daddr!))) seen.add(key.readUInt32BE(K.daddr!));
        if (t - own <= this.minNs[protocol]) {
          connections[protocol]++;
          entries++;
          continue;
        }
      } else if (t - own <= this.maxNs[protocol]) {
        entries++;
        continue;
      }

      const other = map.lookup(partnerKey);
      const pointsBack = other !== undefined && other.length === natConn.size && (out ? outKeyOfIn(partnerKey, other) : inKeyOfOut(partnerKey, other)).equals(key);
      if (!out) {
        // An IN half whose OUT half is there is that connection's business (its OUT entry is judged).
        if (pointsBack) entries++;
        else if (map.delete(Buffer.from(key))) stat.orphans++;
        continue;
      }
      if (!pointsBack) {
        if (t - own > this.maxNs[protocol]) {
          if (map.delete(Buffer.from(key))) stat.orphans++;
        } else {
          connections[protocol]++;
          entries++;
        }
        continue;
      }
      const theirs = lastSeen(other);
      const last = theirs > own ? theirs : own;
      if (t - last > this.timeoutFor(protocol, flagsOf(value) | flagsOf(other))) {
        if (map.delete(Buffer.from(key))) stat.expired[protocol]++;
        map.delete(partnerKey);
      } else {
        connections[protocol]++;
        entries++;
      }
    }

    stat.connections = connections;
    stat.entries = entries;
    stat.walks++;
    stat.lastWalkMs = performance.now() - began;
    stat.lastWalkEndedUnixMs = Date.now();
    if (watched && seen.size > 0) this.opts.remotes?.touch(seen);
  }
}
