// rtnetlink notifications of the calling process's network namespace, as
// typed events: links (added / changed / removed), IPv4 neighbours, IPv4
// routes and IPv4 addresses.
//
//   const events = await NetlinkEvents.open({ logger });
//   const off = events.subscribe((e) => { if (e.type === 'resync') refreshEverything(); ... });
//   ...
//   events.close();
//
// Semantics:
// - Every notification sent after `open()` resolves is delivered, in order.
// - Links are tracked (seeded by a dump at open), so a RTM_NEWLINK becomes
//   'added' or 'changed' (with the previous state), and 'changed' is only
//   emitted when index, name, MAC, MTU, up or kind differ; the kernel sends
//   RTM_NEWLINK for much else (carrier, statistics, promiscuity).
// - Neighbour, route and address events translate one message each; 'new'
//   also covers a change (the kernel sends RTM_NEWNEIGH on every state
//   change). Other address families are dropped.
// - If the socket overflows, notifications have been lost: the subscription
//   is re-established, links are re-read, and one { type: 'resync' } event
//   tells consumers to re-read whatever they derive from these events.
//   Nothing else is emitted for the gap.
// - While open, the subscription keeps the event loop alive (it is a
//   listener, like a server socket); after `close()` nothing of it does.
//
// The socket itself lives in a child process (netlink-relay.ts explains why).

import { parseMessages, rt } from 'netlink';
import { NetlinkRelay, type RelayExit } from './netlink-relay.js';
import { type NeighborEntry, decodeNeighbor } from './netlink-neighbor.js';
import {
  type AddressInfo,
  type LinkInfo,
  type RouteInfo,
  RtNetlink,
  toAddressInfo,
  toLinkInfo,
  toRouteInfo,
} from './rtnetlink.js';

export type NetlinkGroup = 'link' | 'neighbor' | 'route' | 'address';

/** RTNLGRP_* (include/uapi/linux/rtnetlink.h). */
const GROUP_IDS: Record<NetlinkGroup, number> = { link: 1, neighbor: 3, address: 5, route: 7 };

/** RTM_* message types of the notifications we decode. */
const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  NEWADDR: 20,
  DELADDR: 21,
  NEWROUTE: 24,
  DELROUTE: 25,
  NEWNEIGH: 28,
  DELNEIGH: 29,
} as const;

const AF_INET = 2;

export type NetlinkEvent =
  | { type: 'link'; action: 'added'; link: LinkInfo }
  | { type: 'link'; action: 'changed'; link: LinkInfo; previous: LinkInfo }
  | { type: 'link'; action: 'removed'; link: LinkInfo }
  | { type: 'neighbor'; action: 'new' | 'deleted'; neighbor: NeighborEntry }
  | { type: 'route'; action: 'new' | 'deleted'; route: RouteInfo }
  | { type: 'address'; action: 'new' | 'deleted'; address: AddressInfo }
  | { type: 'resync'; reason: string };

export type NetlinkEventListener = (event: NetlinkEvent) => void;

/** Satisfied by pino's logger. */
export interface NetlinkLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface NetlinkEventsOptions {
  /** Default: all four. */
  groups?: readonly NetlinkGroup[];
  /**
   * SO_RCVBUF to ask for, in bytes (the kernel caps it at net.core.rmem_max).
   * Default 4 MiB: an overflow is survivable, but costs every consumer a full refresh.
   */
  recvBufferSize?: number;
  /** Where relay restarts and listener failures are reported; without one, a listener's exception is rethrown. */
  logger?: NetlinkLogger;
}

const DEFAULT_RECV_BUFFER = 4 * 1024 * 1024;
/** Respawn delays after relays that died young; reset by one that lived MIN_HEALTHY_MS. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 10_000;
const MIN_HEALTHY_MS = 5_000;

function sameLink(a: LinkInfo, b: LinkInfo): boolean {
  return a.index === b.index && a.name === b.name && a.mac === b.mac && a.mtu === b.mtu && a.up === b.up && a.kind === b.kind;
}

export class NetlinkEvents {
  private readonly listeners = new Set<NetlinkEventListener>();
  private readonly links = new Map<number, LinkInfo>();
  private relay: NetlinkRelay | undefined;
  /** While a (re)subscription reads the links, datagrams wait here, then replay in order. */
  private held: Buffer[] | undefined;
  private closed = false;
  private respawnDelayMs = RESPAWN_MIN_MS;
  private respawnTimer: NodeJS.Timeout | undefined;
  private relayStartedAt = 0;

  private constructor(
    private readonly groups: readonly NetlinkGroup[],
    private readonly recvBufferSize: number,
    private readonly log: NetlinkLogger | undefined,
  ) {}

  static async open(opts: NetlinkEventsOptions = {}): Promise<NetlinkEvents> {
    const groups = [...new Set(opts.groups ?? (Object.keys(GROUP_IDS) as NetlinkGroup[]))];
    for (const g of groups) if (!(g in GROUP_IDS)) throw new TypeError(`unknown netlink group ${JSON.stringify(g)}`);
    const rcvbuf = opts.recvBufferSize ?? DEFAULT_RECV_BUFFER;
    if (!Number.isInteger(rcvbuf) || rcvbuf <= 0) throw new RangeError(`recvBufferSize must be a positive integer, got ${rcvbuf}`);
    const events = new NetlinkEvents(groups, rcvbuf, opts.logger);
    await events.connect();
    return events;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: NetlinkEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The links of this namespace as last notified (empty unless subscribed to 'link'). */
  linkTable(): LinkInfo[] {
    return [...this.links.values()];
  }

  /** The relay child's pid (diagnostics; tests pause it to force an overflow). */
  get relayPid(): number | undefined {
    return this.relay?.pid;
  }

  /** SO_RCVBUF as the kernel granted it. */
  get grantedRecvBufferSize(): number | undefined {
    return this.relay?.recvBufferSize;
  }

  /** Ends the subscription. Idempotent; no event is delivered afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.respawnTimer);
    this.relay?.close();
    this.relay = undefined;
    this.held = undefined;
    this.listeners.clear();
  }

  /** Starts a relay, then (re)reads the links while holding back what the relay delivers meanwhile. */
  private async connect(): Promise<void> {
    this.held = [];
    const relay = await NetlinkRelay.start(
      this.groups.map((g) => GROUP_IDS[g]),
      this.recvBufferSize,
      {
        onDatagram: (d) => (this.held ? this.held.push(d) : this.dispatch(d)),
        onExit: (exit) => this.relayDied(relay, exit),
      },
    );
    if (this.closed) {
      relay.close();
      return;
    }
    this.relay = relay;
    this.relayStartedAt = Date.now();
    try {
      if (this.groups.includes('link')) {
        const nl = RtNetlink.open();
        try {
          const dumped = await nl.links();
          this.links.clear();
          for (const l of dumped) this.links.set(l.index, l);
        } finally {
          nl.close();
        }
      }
    } catch (err) {
      relay.close();
      this.relay = undefined;
      throw err;
    }
    const held = this.held;
    this.held = undefined;
    for (const d of held) this.dispatch(d);
  }

  private relayDied(relay: NetlinkRelay, exit: RelayExit): void {
    if (this.closed || relay !== this.relay) return;
    this.relay = undefined;
    const lived = Date.now() - this.relayStartedAt;
    if (lived >= MIN_HEALTHY_MS) this.respawnDelayMs = RESPAWN_MIN_MS;
    const reason =
      exit.signal === 'SIGABRT'
        ? 'the netlink socket overflowed (ENOBUFS): notifications were lost'
        : `the netlink relay exited (code ${exit.code}, signal ${exit.signal})`;
    this.log?.warn({ code: exit.code, signal: exit.signal, stderr: exit.stderr.trim(), livedMs: lived }, `netlink events: ${reason}; resubscribing`);
    const delay = this.respawnDelayMs;
    this.respawnDelayMs = Math.min(this.respawnDelayMs * 2, RESPAWN_MAX_MS);
    this.respawnTimer = setTimeout(() => void this.resubscribe(reason), lived >= MIN_HEALTHY_MS ? 0 : delay);
  }

  private async resubscribe(reason: string): Promise<void> {
    if (this.closed) return;
    try {
      await this.connect();
    } catch (err) {
      this.log?.error({ err }, 'netlink events: resubscribing failed; retrying');
      this.held = undefined;
      this.respawnTimer = setTimeout(() => void this.resubscribe(reason), this.respawnDelayMs);
      this.respawnDelayMs = Math.min(this.respawnDelayMs * 2, RESPAWN_MAX_MS);
      return;
    }
    if (!this.closed) this.emit({ type: 'resync', reason });
  }

  private dispatch(datagram: Buffer): void {
    let msgs;
    try {
      msgs = parseMessages(datagram);
    } catch (err) {
      this.log?.warn({ err }, 'netlink events: undecodable datagram dropped');
      return;
    }
    for (const m of msgs) {
      if (this.closed) return;
      let event: NetlinkEvent | undefined;
      try {
        event = this.decode(m.type, m.data);
      } catch (err) {
        this.log?.warn({ err, type: m.type }, 'netlink events: undecodable message dropped');
        continue;
      }
      if (event) this.emit(event);
    }
  }

  /** One notification as an event; undefined for what we do not report (other families, unchanged links). */
  private decode(type: number, data: Buffer): NetlinkEvent | undefined {
    switch (type) {
      case RTM.NEWLINK:
      case RTM.DELLINK: {
        const link = toLinkInfo(rt.parseMessage(type, data) as rt.LinkMessage);
        const previous = this.links.get(link.index);
        if (type === RTM.DELLINK) {
          this.links.delete(link.index);
          return { type: 'link', action: 'removed', link };
        }
        this.links.set(link.index, link);
        if (!previous) return { type: 'link', action: 'added', link };
        return sameLink(previous, link) ? undefined : { type: 'link', action: 'changed', link, previous };
      }
      case RTM.NEWNEIGH:
      case RTM.DELNEIGH: {
        const neighbor = decodeNeighbor(data);
        return neighbor && { type: 'neighbor', action: type === RTM.NEWNEIGH ? 'new' : 'deleted', neighbor };
      }
      case RTM.NEWROUTE:
      case RTM.DELROUTE: {
        const m = rt.parseMessage(type, data) as rt.RouteMessage;
        if (m.data.family !== AF_INET) return undefined;
        return { type: 'route', action: type === RTM.NEWROUTE ? 'new' : 'deleted', route: toRouteInfo(m) };
      }
      case RTM.NEWADDR:
      case RTM.DELADDR: {
        const m = rt.parseMessage(type, data) as rt.AddressMessage;
        if (m.data.family !== AF_INET) return undefined;
        return { type: 'address', action: type === RTM.NEWADDR ? 'new' : 'deleted', address: toAddressInfo(m) };
      }
      default:
        return undefined;
    }
  }

  private emit(event: NetlinkEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        if (!this.log) throw err;
        this.log.error({ err, event: event.type }, 'a netlink event listener threw');
      }
    }
  }
}
