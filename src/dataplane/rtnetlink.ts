// A small rtnetlink layer (links, veth pairs, IPv4 addresses, routes and
// neighbours) over the `netlink` npm package.
//
// Scope: it works in the network namespace of the calling process (the
// namespace the netlink socket was opened in) and only moves the *peer* of a new
// veth pair elsewhere. It does plumbing and argument checking, nothing more:
// policy (which addresses, which routes) belongs to the callers.
//
// Conventions:
// - Every failure, including bad arguments, throws a `NetlinkError` carrying a
//   positive errno, its symbolic code and the operation name. Arguments are
//   validated before anything is sent to the kernel (code 'EINVAL').
// - "Not found" on a lookup is not an error: `linkByName`/`linkByIndex` return
//   `undefined`. Deleting something missing *is* an error (the kernel's errno).
// - IPv4 only for addresses, routes and neighbours.
//
// Gaps in netlink@0.3.0 worked around here:
// - Kernel errors are thrown as a plain `Error('Request rejected: ENOENT')`
//   (or the decimal errno when Node has no name for it); `toNetlinkError`
//   turns that back into errno/code.
// - IFLA_LINKINFO is typed as an opaque Buffer, so the veth linkinfo (with its
//   nested VETH_INFO_PEER) is encoded here by hand (`vethLinkInfo`), and the
//   link kind is decoded by hand (`linkKind`).
// - Neighbour attributes past NDA_PROTOCOL (NDA_FLAGS_EXT, which marks a
//   managed entry) are dropped by its parser and cannot be sent through its
//   typed API: the `*NeighborEntry`/`manageNeighbor`/`useNeighbor` methods
//   build and read those messages by hand (netlink-neighbor.ts).

import { closeSync, openSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { AttrStream, FlagsGet, FlagsNew, createRtNetlink, ifla, parseAttributes, rt } from 'netlink';
import type { NetlinkMessage, RtNetlinkSocket } from 'netlink';
import { NTF_EXT_MANAGED, NTF_USE, type NeighborEntry, decodeNeighbor, encodeNeighborRequest } from './netlink-neighbor.js';

export type { NeighborEntry } from './netlink-neighbor.js';

// ---------------------------------------------------------------------------
// Errors

/** The one error class thrown by this module. */
export class NetlinkError extends Error {
  override name = 'NetlinkError';
  /** Positive errno value, e.g. 17 for EEXIST. */
  readonly errno: number;
  /** Symbolic errno name, e.g. 'EEXIST', 'ENOENT', 'EPERM', 'EINVAL'. */
  readonly code: string;
  /** The method that failed, e.g. 'addAddress'. */
  readonly op: string;

  constructor(message: string, errno: number, code: string, op: string) {
    super(message);
    this.errno = errno;
    this.code = code;
    this.op = op;
  }
}

const ERRNO = osConstants.errno as Readonly<Record<string, number>>;

function errnoDescription(errno: number): string {
  // libuv's table is keyed by negative errno: -2 → ['ENOENT', 'no such file or directory'].
  return getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error';
}

function errnoName(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[0] ?? `ERRNO_${errno}`;
}

/** Builds a NetlinkError from an errno name (must be a known name). */
function makeError(op: string, code: string, detail: string): NetlinkError {
  const errno = ERRNO[code] ?? 0;
  return new NetlinkError(`${op}: ${detail} (${code})`, errno, code, op);
}

/** Argument validation failure; thrown before anything reaches the kernel. */
function invalid(op: string, detail: string): NetlinkError {
  return makeError(op, 'EINVAL', detail);
}

/**
 * Translates whatever the `netlink` package threw into a NetlinkError.
 *
 * netlink@0.3.0 reports failures three ways:
 * - a kernel NLMSG_ERROR ack becomes `Error('Request rejected: <CODE>')`, where
 *   CODE is `util.getSystemErrorName(-errno)` or, if Node has no name for it, the
 *   negative errno in decimal (see `checkError` in its dist/netlink.js);
 * - a failing socket syscall is an ErrnoException with `errno`/`code` fields;
 * - an expired request timeout is `Error('Timeout has been reached')`.
 */
function toNetlinkError(err: unknown, op: string, what: string): NetlinkError {
  if (err instanceof NetlinkError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    message?: unknown;
    code?: unknown;
    errno?: unknown;
  };
  const message = typeof e.message === 'string' ? e.message : String(err);
  let errno = 0;
  const rejected = /^Request rejected: (\S+)$/.exec(message)?.[1];
  if (rejected !== undefined) {
    errno = /^-?\d+$/.test(rejected) ? Math.abs(Number(rejected)) : (ERRNO[rejected] ?? 0);
  } else if (typeof e.code === 'string' && ERRNO[e.code] !== undefined) {
    errno = ERRNO[e.code] ?? 0;
  } else if (typeof e.errno === 'number' && e.errno !== 0) {
    errno = Math.abs(e.errno);
  } else if (message === 'Timeout has been reached') {
    errno = ERRNO.ETIMEDOUT ?? 110;
  }
  if (errno === 0) {
    // Not an errno at all (e.g. a parse failure inside the package): report as EIO.
    return new NetlinkError(`${op} ${what}: ${message}`, ERRNO.EIO ?? 5, 'EIO', op);
  }
  const code = errnoName(errno);
  return new NetlinkError(`${op} ${what}: ${code} (${errnoDescription(errno)})`, errno, code, op);
}

// ---------------------------------------------------------------------------
// Argument validation (pure; runs before any syscall)

/** IFNAMSIZ is 16 including the terminating NUL. */
const IFNAME_MAX = 15;

function checkIfName(op: string, name: unknown, field = 'interface name'): string {
  if (typeof name !== 'string' || name.length === 0) throw invalid(op, `${field} must be a non-empty string`);
  if (Buffer.byteLength(name) > IFNAME_MAX)
    throw invalid(op, `${field} ${JSON.stringify(name)} is longer than ${IFNAME_MAX} bytes`);
  // Same rule as the kernel's dev_valid_name().
  if (name === '.' || name === '..' || /[/:\s]/.test(name))
    throw invalid(op, `${field} ${JSON.stringify(name)} contains '/', ':' or whitespace, or is '.'/'..'`);
  return name;
}

function checkIfindex(op: string, index: unknown): number {
  if (typeof index !== 'number' || !Number.isInteger(index) || index <= 0 || index > 0x7fffffff)
    throw invalid(op, `interface index must be a positive integer, got ${String(index)}`);
  return index;
}

function checkMtu(op: string, mtu: unknown): number {
  // 68 is the IPv4 minimum; 65536 is the loopback MTU. The kernel enforces
  // each device's real min/max.
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 68 || mtu > 65536)
    throw invalid(op, `MTU must be an integer in [68, 65536], got ${String(mtu)}`);
  return mtu;
}

function checkTable(op: string, table: unknown): number {
  if (typeof table !== 'number' || !Number.isInteger(table) || table < 1 || table > 0xffffffff)
    throw invalid(op, `routing table must be an integer in [1, 2^32-1], got ${String(table)}`);
  return table;
}

function parseIPv4(op: string, ip: unknown, field = 'IPv4 address'): Buffer {
  if (typeof ip !== 'string' || !isIPv4(ip)) throw invalid(op, `${field} ${JSON.stringify(ip)} is not a valid IPv4 address`);
  return Buffer.from(ip.split('.').map(Number));
}

interface Cidr {
  addr: Buffer;
  prefixLen: number;
}

/** 'a.b.c.d/len'. With `network`, host bits must be zero (route destinations). */
function parseCidr(op: string, cidr: unknown, network = false): Cidr {
  const bad = (why: string) => invalid(op, `${JSON.stringify(cidr)} is not a valid IPv4 CIDR: ${why}`);
  if (typeof cidr !== 'string') throw bad('expected a string "a.b.c.d/len"');
  const slash = cidr.indexOf('/');
  if (slash < 0) throw bad('missing "/len"');
  const ip = cidr.slice(0, slash);
  const len = cidr.slice(slash + 1);
  if (!isIPv4(ip)) throw bad('bad address');
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) throw bad('prefix length must be 0..32');
  const addr = Buffer.from(ip.split('.').map(Number));
  const prefixLen = Number(len);
  if (network) {
    const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
    if ((addr.readUInt32BE(0) & ~mask) >>> 0 !== 0) throw bad(`host bits set (did you mean ${networkOf(addr, mask)}/${prefixLen}?)`);
  }
  return { addr, prefixLen };
}

function networkOf(addr: Buffer, mask: number): string {
  const n = Buffer.alloc(4);
  n.writeUInt32BE((addr.readUInt32BE(0) & mask) >>> 0, 0);
  return ipString(n);
}

function parseMac(op: string, mac: unknown): Buffer {
  if (typeof mac !== 'string' || !/^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i.test(mac))
    throw invalid(op, `${JSON.stringify(mac)} is not a MAC address (expected aa:bb:cc:dd:ee:ff)`);
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/** A network namespace name as created by `ip netns add` (a file under /run/netns). */
function checkNetnsName(op: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name === '.' || name === '..' || name.includes('/'))
    throw invalid(op, `${JSON.stringify(name)} is not a network namespace name`);
  return name;
}

function ipString(b: Buffer | undefined): string {
  return b ? [...b].join('.') : '';
}

function macString(b: Buffer | undefined): string | undefined {
  return b && b.length > 0 ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined;
}

// ---------------------------------------------------------------------------
// Hand-built attributes for veth (netlink@0.3.0 has no typed IFLA_LINKINFO)

const AF_INET = 2;
/** include/uapi/linux/if_link.h, enum ifla_info */
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
/** include/uapi/linux/veth.h */
const VETH_INFO_PEER = 1;
/** Netlink attributes are 4-byte aligned (NLA_ALIGNTO). */
const NLA_ALIGNTO = 4;

/**
 * One netlink attribute: `struct nlattr { u16 nla_len; u16 nla_type; }`, the
 * payload, then zero padding up to a 4-byte boundary. nla_len counts header +
 * payload but not the padding. Nested attributes are simply attributes whose
 * payload is a concatenation of (padded) attributes. Like iproute2's
 * addattr_nest() we do not set NLA_F_NESTED; rtnetlink parses these attributes
 * with the "deprecated" (liberal) parser that does not require it.
 */
function nla(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc(Math.ceil(len / NLA_ALIGNTO) * NLA_ALIGNTO);
  out.writeUInt16LE(len, 0); // host byte order (little-endian on every arch we target)
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

function cString(s: string): Buffer {
  return Buffer.concat([Buffer.from(s), Buffer.alloc(1)]);
}

/** Encodes a link attribute object using the package's own (typed) encoder. */
function encodeLinkAttrs(attrs: ifla.LinkAttrs): Buffer {
  const stream = new AttrStream();
  stream.emit(ifla.formatLinkAttrs(attrs));
  return Buffer.concat(stream.bufs);
}

/**
 * IFLA_LINKINFO payload for `ip link add NAME type veth peer name PEER ...`:
 *
 *   IFLA_LINKINFO                      (the library emits this outer header)
 *     IFLA_INFO_KIND  "veth\0"
 *     IFLA_INFO_DATA
 *       VETH_INFO_PEER
 *         struct ifinfomsg             (16 bytes, all zero: family, type, index, flags, change)
 *         IFLA_IFNAME  PEER\0
 *         IFLA_MTU     u32            (optional)
 *         IFLA_NET_NS_FD u32          (optional: create the peer in that namespace)
 *
 * VETH_INFO_PEER is not a plain nested attribute: its payload starts with a
 * `struct ifinfomsg` (the same header an RTM_NEWLINK message carries) and the
 * peer's own IFLA_* attributes follow it (see veth_newlink() in drivers/net/veth.c).
 */
function vethLinkInfo(peer: ifla.LinkAttrs): Buffer {
  const ifinfomsg = rt.formatLink({}); // zeroed struct ifinfomsg (rt.__LENGTH_Link === 16)
  const peerPayload = Buffer.concat([ifinfomsg, encodeLinkAttrs(peer)]);
  return Buffer.concat([
    nla(IFLA_INFO_KIND, cString('veth')),
    nla(IFLA_INFO_DATA, nla(VETH_INFO_PEER, peerPayload)),
  ]);
}

/** Reads IFLA_INFO_KIND out of an IFLA_LINKINFO payload ('veth', 'bridge', ...). */
function linkKind(linkinfo: Buffer | undefined): string | undefined {
  if (!linkinfo) return undefined;
  let kind: string | undefined;
  try {
    parseAttributes(linkinfo, (a) => {
      if (a.type === IFLA_INFO_KIND) kind = a.data.toString('latin1').replace(/\0.*$/s, '');
    });
  } catch {
    return undefined; // malformed linkinfo: report no kind rather than failing the lookup
  }
  return kind;
}

// ---------------------------------------------------------------------------
// Public types

export interface LinkInfo {
  index: number;
  name: string;
  /** Lower-case aa:bb:cc:dd:ee:ff; undefined for links without an L2 address. */
  mac: string | undefined;
  mtu: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** IFLA_INFO_KIND ('veth', 'bridge', ...); undefined for physical/loopback links. */
  kind?: string;
}

/** A link by name or ifindex. */
export type LinkRef = string | number;

export interface CreateVethOptions {
  /** Create the peer in the namespace `/run/netns/<peerNetns>` (as made by `ip netns add`). */
  peerNetns?: string;
  /** Create the peer in the namespace referred to by this open fd. */
  peerNetnsFd?: number;
  /** MTU for both ends. */
  mtu?: number;
}

export interface AddressInfo {
  ifindex: number;
  /** 'a.b.c.d' */
  address: string;
  prefixLen: number;
  /** 'a.b.c.d/len' */
  cidr: string;
}

export interface RouteSpec {
  /** Destination, 'a.b.c.d/len' with no host bits ('0.0.0.0/0' for the default route). */
  dst: string;
  gateway?: string;
  ifindex?: number;
  /** Routing table id (default 254, main). */
  table?: number;
}

export interface RouteInfo {
  dst: string;
  gateway?: string;
  ifindex?: number;
  table: number;
  /** 'UNICAST', 'LOCAL', 'BROADCAST', ... */
  type: string;
  /** 'KERNEL', 'BOOT', 'STATIC', ... */
  protocol: string;
}

export interface NeighborSpec {
  ifindex: number;
  ip: string;
  mac: string;
  /** NUD_PERMANENT (never expires) if true; NUD_REACHABLE (ages to STALE) otherwise. */
  permanent?: boolean;
  /** Overwrite an existing entry instead of failing with EEXIST. */
  replace?: boolean;
}

export interface NeighborInfo {
  ifindex: number;
  ip: string;
  mac: string | undefined;
  /** NUD states, lower-case: ['permanent'], ['reachable'], ['stale'], ... */
  state: string[];
  permanent: boolean;
}

/** The kernel's answer to "how would a packet to this address leave?" (`ip route get`). */
export interface RouteLookup {
  /** 'UNICAST', 'LOCAL', 'BROADCAST', ... */
  type: string;
  /** The table the answer came from. */
  table: number;
  /** The next hop, when the destination is not on-link. */
  gateway?: string;
  /** The outgoing interface. */
  ifindex?: number;
  /** The next hop is not an IPv4 address (RTA_VIA, e.g. an IPv6 next hop for an IPv4 route). */
  foreignGateway?: boolean;
}

/** A neighbour entry this process asks the kernel to resolve. */
export interface NeighborTarget {
  ifindex: number;
  ip: string;
  /** NDA_PROTOCOL (0-255) to mark the entry with, so its creator can find it again. */
  protocol?: number;
}

const RT_TABLE_MAIN = 254;
const REQUEST_TIMEOUT_MS = 10_000;
const CREATE_EXCL = FlagsNew.CREATE | FlagsNew.EXCL;

// ---------------------------------------------------------------------------

/** rtnetlink in the calling process's network namespace. */
export class RtNetlink {
  private closed = false;

  private constructor(private readonly sock: RtNetlinkSocket) {}

  /** Opens a NETLINK_ROUTE socket. The socket does not keep the event loop alive. */
  static open(): RtNetlink {
    try {
      return new RtNetlink(createRtNetlink());
    } catch (err) {
      throw toNetlinkError(err, 'open', 'NETLINK_ROUTE socket');
    }
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.socket.close();
  }

  /**
   * Runs one request: checks the socket is open, applies a timeout and
   * translates errors. `what` describes the target for error messages.
   */
  private async call<T>(
    op: string,
    what: string,
    fn: (opts: { timeout: number; flags?: number }) => Promise<T>,
    flags?: number,
  ): Promise<T> {
    if (this.closed) throw makeError(op, 'EBADF', 'the RtNetlink socket is closed');
    try {
      return await fn(flags === undefined ? { timeout: REQUEST_TIMEOUT_MS } : { timeout: REQUEST_TIMEOUT_MS, flags });
    } catch (err) {
      throw toNetlinkError(err, op, what);
    }
  }

  // --- links -----------------------------------------------------------------

  async links(): Promise<LinkInfo[]> {
    const msgs = await this.call('links', '(dump)', (o) => this.sock.getLinks(undefined, undefined, o));
    return msgs.map(toLinkInfo);
  }

  /** The link called `name`, or undefined if there is none. */
  async linkByName(name: string): Promise<LinkInfo | undefined> {
    checkIfName('linkByName', name);
    return this.getOne('linkByName', { ifname: name }, {}, name);
  }

  /** The link with this ifindex, or undefined if there is none. */
  async linkByIndex(index: number): Promise<LinkInfo | undefined> {
    checkIfindex('linkByIndex', index);
    return this.getOne('linkByIndex', {}, { index }, `ifindex ${index}`);
  }

  private async getOne(op: string, attrs: ifla.LinkAttrs, data: rt.Link, what: string): Promise<LinkInfo | undefined> {
    try {
      const msgs = await this.call(op, what, (o) => this.sock.getLink(data, attrs, o));
      return msgs[0] ? toLinkInfo(msgs[0]) : undefined;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'ENODEV') return undefined;
      throw err;
    }
  }

  /**
   * Creates a veth pair `name` <-> `peerName`. `name` stays in this namespace;
   * the peer is created directly inside `peerNetns`/`peerNetnsFd` when given
   * (IFLA_NET_NS_FD inside VETH_INFO_PEER), so its name only has to be unique
   * there. Returns the local end.
   */
  async createVeth(name: string, peerName: string, opts: CreateVethOptions = {}): Promise<LinkInfo> {
    const op = 'createVeth';
    checkIfName(op, name);
    checkIfName(op, peerName, 'peer name');
    if (opts.mtu !== undefined) checkMtu(op, opts.mtu);
    if (opts.peerNetns !== undefined && opts.peerNetnsFd !== undefined)
      throw invalid(op, 'give peerNetns or peerNetnsFd, not both');
    if (opts.peerNetnsFd !== undefined && (!Number.isInteger(opts.peerNetnsFd) || opts.peerNetnsFd < 0))
      throw invalid(op, `peerNetnsFd must be a file descriptor, got ${String(opts.peerNetnsFd)}`);
    if (opts.peerNetns !== undefined) checkNetnsName(op, opts.peerNetns);
    if (this.closed) throw makeError(op, 'EBADF', 'the RtNetlink socket is closed');

    const ownFd = opts.peerNetns !== undefined ? openNetns(op, opts.peerNetns) : undefined;
    try {
      const netNsFd = ownFd ?? opts.peerNetnsFd;
      const peer: ifla.LinkAttrs = { ifname: peerName };
      if (opts.mtu !== undefined) peer.mtu = opts.mtu;
      if (netNsFd !== undefined) peer.netNsFd = netNsFd;
      const attrs: ifla.LinkAttrs = { ifname: name, linkinfo: vethLinkInfo(peer) };
      if (opts.mtu !== undefined) attrs.mtu = opts.mtu;
      await this.call(op, `${name} <-> ${peerName}`, (o) => this.sock.newLink({}, attrs, o), CREATE_EXCL);
    } finally {
      if (ownFd !== undefined) closeSync(ownFd);
    }
    const link = await this.linkByName(name);
    if (!link) throw makeError(op, 'ENODEV', `${name} vanished right after creation`);
    return link;
  }

  /** Deletes a link (for a veth, both ends go). */
  async deleteLink(link: LinkRef): Promise<void> {
    const { data, attrs, what } = linkTarget('deleteLink', link);
    await this.call('deleteLink', what, (o) => this.sock.delLink(data, attrs, o));
  }

  async setUp(link: LinkRef): Promise<void> {
    await this.setLink('setUp', link, { flags: { up: true }, change: { up: true } }, {});
  }

  async setDown(link: LinkRef): Promise<void> {
    await this.setLink('setDown', link, { flags: {}, change: { up: true } }, {});
  }

  async setMtu(link: LinkRef, mtu: number): Promise<void> {
    checkMtu('setMtu', mtu);
    await this.setLink('setMtu', link, {}, { mtu });
  }

  async setMac(link: LinkRef, mac: string): Promise<void> {
    const address = parseMac('setMac', mac);
    await this.setLink('setMac', link, {}, { address });
  }

  /** Moves a link into another namespace (by /run/netns name or open fd). */
  async moveToNetns(link: LinkRef, target: { netns: string } | { netnsFd: number }): Promise<void> {
    const op = 'moveToNetns';
    const t = linkTarget(op, link);
    if ('netnsFd' in target) {
      if (!Number.isInteger(target.netnsFd) || target.netnsFd < 0) throw invalid(op, 'netnsFd must be a file descriptor');
      await this.setLink(op, link, {}, { netNsFd: target.netnsFd });
      return;
    }
    checkNetnsName(op, target.netns);
    if (this.closed) throw makeError(op, 'EBADF', 'the RtNetlink socket is closed');
    const fd = openNetns(op, target.netns);
    try {
      await this.call(op, t.what, (o) => this.sock.setLink(t.data, { ...t.attrs, netNsFd: fd }, o));
    } finally {
      closeSync(fd);
    }
  }

  private async setLink(op: string, link: LinkRef, data: rt.Link, attrs: ifla.LinkAttrs): Promise<void> {
    const t = linkTarget(op, link);
    await this.call(op, t.what, (o) => this.sock.setLink({ ...t.data, ...data }, { ...t.attrs, ...attrs }, o));
  }

  // --- addresses ---------------------------------------------------------------

  async addAddress(ifindex: number, cidr: string): Promise<void> {
    const { data, attrs } = addressRequest('addAddress', ifindex, cidr);
    await this.call('addAddress', `${cidr} on ifindex ${ifindex}`, (o) => this.sock.newAddress(data, attrs, o), CREATE_EXCL);
  }

  async deleteAddress(ifindex: number, cidr: string): Promise<void> {
    const { data, attrs } = addressRequest('deleteAddress', ifindex, cidr);
    await this.call('deleteAddress', `${cidr} on ifindex ${ifindex}`, (o) => this.sock.delAddress(data, attrs, o));
  }

  /** IPv4 addresses, optionally of one link only. */
  async addresses(ifindex?: number): Promise<AddressInfo[]> {
    if (ifindex !== undefined) checkIfindex('addresses', ifindex);
    const msgs = await this.call('addresses', '(dump)', (o) => this.sock.getAddresses({ family: AF_INET }, undefined, o));
    return msgs
      .filter((m) => m.data.family === AF_INET && (ifindex === undefined || m.data.index === ifindex))
      .map(toAddressInfo);
  }

  // --- routes --------------------------------------------------------------------

  /** `ip route add DST [via GW] [dev IF] [table T]` (fails with EEXIST if present). */
  async addRoute(spec: RouteSpec): Promise<void> {
    const { data, attrs, what } = routeRequest('addRoute', spec, false);
    await this.call('addRoute', what, (o) => this.sock.newRoute(data, attrs, o), CREATE_EXCL);
  }

  /** `ip route del ...`: fields left out match anything (ESRCH if nothing matches). */
  async deleteRoute(spec: RouteSpec): Promise<void> {
    const { data, attrs, what } = routeRequest('deleteRoute', spec, true);
    await this.call('deleteRoute', what, (o) => this.sock.delRoute(data, attrs, o));
  }

  /** IPv4 routes of every table, or of one table. */
  async routes(filter: { table?: number; ifindex?: number } = {}): Promise<RouteInfo[]> {
    if (filter.table !== undefined) checkTable('routes', filter.table);
    if (filter.ifindex !== undefined) checkIfindex('routes', filter.ifindex);
    const msgs = await this.call('routes', '(dump)', (o) => this.sock.getRoutes({ family: AF_INET }, undefined, o));
    const out: RouteInfo[] = [];
    for (const m of msgs) {
      if (m.data.family !== AF_INET) continue;
      const r = toRouteInfo(m);
      if (filter.table !== undefined && r.table !== filter.table) continue;
      if (filter.ifindex !== undefined && r.ifindex !== filter.ifindex) continue;
      out.push(r);
    }
    return out;
  }

  // --- neighbours ------------------------------------------------------------------

  /** `ip neigh add IP lladdr MAC dev IF [nud permanent|reachable]`. */
  async addNeighbor(spec: NeighborSpec): Promise<void> {
    const op = 'addNeighbor';
    const { data, attrs } = neighborRequest(op, spec.ifindex, spec.ip);
    attrs.lladdr = parseMac(op, spec.mac);
    data.state = spec.permanent ? { permanent: true } : { reachable: true };
    const flags = FlagsNew.CREATE | (spec.replace ? FlagsNew.REPLACE : FlagsNew.EXCL);
    await this.call(op, `${spec.ip} on ifindex ${spec.ifindex}`, (o) => this.sock.newNeighbor(data, attrs, o), flags);
  }

  async deleteNeighbor(spec: { ifindex: number; ip: string }): Promise<void> {
    const { data, attrs } = neighborRequest('deleteNeighbor', spec.ifindex, spec.ip);
    await this.call('deleteNeighbor', `${spec.ip} on ifindex ${spec.ifindex}`, (o) => this.sock.delNeighbor(data, attrs, o));
  }

  /** IPv4 neighbour (ARP) entries, optionally of one link only. */
  async neighbors(ifindex?: number): Promise<NeighborInfo[]> {
    if (ifindex !== undefined) checkIfindex('neighbors', ifindex);
    const msgs = await this.call('neighbors', '(dump)', (o) => this.sock.getNeighbors({ family: AF_INET }, undefined, o));
    return msgs
      .filter((m) => m.data.family === AF_INET && (ifindex === undefined || m.data.ifindex === ifindex))
      .map((m) => {
        const state = Object.entries(m.data.state ?? {})
          .filter(([k, v]) => k !== '__unknown' && v === true)
          .map(([k]) => k.toLowerCase());
        return {
          ifindex: m.data.ifindex ?? 0,
          ip: ipString(m.attrs.dst),
          mac: macString(m.attrs.lladdr),
          state,
          permanent: state.includes('permanent'),
        };
      });
  }

  /**
   * One IPv4 neighbour entry with its managed flag and protocol, or undefined
   * if there is none (RTM_GETNEIGH for a single entry, Linux 5.0+).
   */
  async neighborEntry(ifindex: number, ip: string): Promise<NeighborEntry | undefined> {
    const op = 'neighborEntry';
    const payload = neighborPayload(op, { ifindex, ip });
    try {
      const msgs = await this.raw(op, `${ip} on ifindex ${ifindex}`, rt.MessageType.GETNEIGH, payload, 0);
      return msgs.map((m) => decodeNeighbor(m.data)).find((n) => n !== undefined);
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** IPv4 neighbour entries with their managed flag and protocol, optionally of one link only. */
  async neighborEntries(ifindex?: number): Promise<NeighborEntry[]> {
    if (ifindex !== undefined) checkIfindex('neighborEntries', ifindex);
    const ndmsg = Buffer.alloc(12);
    ndmsg.writeUInt8(AF_INET, 0);
    const msgs = await this.raw('neighborEntries', '(dump)', rt.MessageType.GETNEIGH, ndmsg, FlagsGet.DUMP);
    return msgs
      .map((m) => decodeNeighbor(m.data))
      .filter((n): n is NeighborEntry => n !== undefined && (ifindex === undefined || n.ifindex === ifindex));
  }

  /**
   * Makes the entry a *managed* neighbour (NTF_EXT_MANAGED, Linux 5.16+): the
   * kernel resolves it now and keeps re-resolving it, failed or not, without
   * any traffic of its own needing it. Creates the entry if missing; on an
   * existing entry it keeps the state and address and adds the flag (and the
   * protocol). Kernels without managed neighbours ignore NDA_FLAGS_EXT and
   * leave a plain entry: read it back with `neighborEntry` to know.
   * Never use it on a PERMANENT entry: the kernel would drop that state.
   */
  async manageNeighbor(target: NeighborTarget): Promise<void> {
    const op = 'manageNeighbor';
    const payload = neighborPayload(op, target, { flagsExt: NTF_EXT_MANAGED });
    await this.raw(op, `${target.ip} on ifindex ${target.ifindex}`, rt.MessageType.NEWNEIGH, payload, FlagsNew.CREATE | FlagsNew.REPLACE);
  }

  /**
   * `ip neigh replace IP dev IF use`: creates the entry if missing and marks it
   * used, which starts resolution (or re-confirmation of a stale entry) as if
   * the kernel had a packet for it. A one-shot kick, for kernels without
   * managed neighbours. Same caveat as `manageNeighbor` for PERMANENT entries.
   */
  async useNeighbor(target: NeighborTarget): Promise<void> {
    const op = 'useNeighbor';
    const payload = neighborPayload(op, target, { flags: NTF_USE });
    await this.raw(op, `${target.ip} on ifindex ${target.ifindex}`, rt.MessageType.NEWNEIGH, payload, FlagsNew.CREATE | FlagsNew.REPLACE);
  }

  /**
   * `ip route get DST`: the kernel's own routing decision for a packet to
   * `dst` from this host (policy rules, longest prefix match, one path of a
   * multipath route). No route is an error: ENETUNREACH, or EHOSTUNREACH /
   * EACCES / EINVAL for unreachable / prohibit / blackhole routes.
   */
  async routeTo(dst: string): Promise<RouteLookup> {
    const op = 'routeTo';
    const addr = parseIPv4(op, dst, 'destination');
    const msgs = await this.call(op, dst, (o) => this.sock.getRoute({ family: AF_INET, dstLen: 32 }, { dst: addr }, o));
    const m = msgs[0];
    if (!m) throw makeError(op, 'EIO', `no answer for ${dst}`);
    const out: RouteLookup = { type: String(m.data.type ?? 'UNSPEC'), table: m.attrs.table ?? m.data.table ?? 0 };
    if (m.attrs.gateway) out.gateway = ipString(m.attrs.gateway);
    if (m.attrs.oif !== undefined) out.ifindex = m.attrs.oif;
    if (m.attrs.via) out.foreignGateway = true;
    return out;
  }

  /** A request built by hand (see netlink-neighbor.ts), answered with raw messages. */
  private async raw(op: string, what: string, type: number, payload: Buffer, flags: number): Promise<NetlinkMessage[]> {
    const [msgs] = await this.call(op, what, (o) => this.sock.socket.request(type, payload, o), flags);
    return msgs;
  }
}

function neighborPayload(op: string, target: NeighborTarget, extra: { flags?: number; flagsExt?: number } = {}): Buffer {
  if (typeof target !== 'object' || target === null) throw invalid(op, 'expected { ifindex, ip, protocol? }');
  checkIfindex(op, target.ifindex);
  parseIPv4(op, target.ip);
  const p = target.protocol;
  if (p !== undefined && (!Number.isInteger(p) || p < 0 || p > 255))
    throw invalid(op, `protocol must be an integer in [0, 255], got ${String(p)}`);
  return encodeNeighborRequest({ ifindex: target.ifindex, ip: target.ip, ...extra, ...(p !== undefined ? { protocol: p } : {}) });
}

// ---------------------------------------------------------------------------
// Request builders (validate, then shape the package's typed structs)

/** A parsed RTM_NEWLINK/RTM_DELLINK message as LinkInfo (also used for link events). */
export function toLinkInfo(m: rt.LinkMessage): LinkInfo {
  const info: LinkInfo = {
    index: m.data.index ?? 0,
    name: m.attrs.ifname ?? '',
    mac: macString(m.attrs.address),
    mtu: m.attrs.mtu ?? 0,
    up: m.data.flags?.up === true,
  };
  const kind = linkKind(m.attrs.linkinfo);
  if (kind !== undefined) info.kind = kind;
  return info;
}

/** A parsed IPv4 route message as RouteInfo (also used for route events). */
export function toRouteInfo(m: rt.RouteMessage): RouteInfo {
  const r: RouteInfo = {
    dst: `${m.attrs.dst ? ipString(m.attrs.dst) : '0.0.0.0'}/${m.data.dstLen ?? 0}`,
    table: m.attrs.table ?? m.data.table ?? 0,
    type: String(m.data.type ?? 'UNSPEC'),
    protocol: String(m.data.protocol ?? 0),
  };
  if (m.attrs.gateway) r.gateway = ipString(m.attrs.gateway);
  if (m.attrs.oif !== undefined) r.ifindex = m.attrs.oif;
  return r;
}

/** A parsed IPv4 address message as AddressInfo (also used for address events). */
export function toAddressInfo(m: rt.AddressMessage): AddressInfo {
  const address = ipString(m.attrs.local ?? m.attrs.address);
  const prefixLen = m.data.prefixlen ?? 0;
  return { ifindex: m.data.index ?? 0, address, prefixLen, cidr: `${address}/${prefixLen}` };
}

/**
 * Addresses a link in a SETLINK/DELLINK request: by ifindex in the ifinfomsg,
 * or by name through IFLA_IFNAME with ifindex 0 (the kernel looks it up). Never
 * both: ifindex plus IFLA_IFNAME would mean "rename".
 */
function linkTarget(op: string, link: LinkRef): { data: rt.Link; attrs: ifla.LinkAttrs; what: string } {
  if (typeof link === 'number') return { data: { index: checkIfindex(op, link) }, attrs: {}, what: `ifindex ${link}` };
  return { data: {}, attrs: { ifname: checkIfName(op, link) }, what: link };
}

function addressRequest(op: string, ifindex: number, cidr: string): { data: rt.Address; attrs: rt.AddressAttrs } {
  checkIfindex(op, ifindex);
  const { addr, prefixLen } = parseCidr(op, cidr);
  // Like iproute2: for IPv4 both IFA_LOCAL and IFA_ADDRESS carry the address
  // (they differ only on point-to-point links).
  return { data: { family: AF_INET, prefixlen: prefixLen, index: ifindex }, attrs: { local: addr, address: addr } };
}

function routeRequest(
  op: string,
  spec: RouteSpec,
  del: boolean,
): { data: rt.Route; attrs: rt.RouteAttrs; what: string } {
  if (typeof spec !== 'object' || spec === null) throw invalid(op, 'expected { dst, gateway?, ifindex?, table? }');
  const { addr, prefixLen } = parseCidr(op, spec.dst, true);
  const table = spec.table === undefined ? RT_TABLE_MAIN : checkTable(op, spec.table);
  const attrs: rt.RouteAttrs = { table };
  if (prefixLen > 0) attrs.dst = addr; // no RTA_DST means 0.0.0.0/0
  if (spec.gateway !== undefined) attrs.gateway = parseIPv4(op, spec.gateway, 'gateway');
  if (spec.ifindex !== undefined) attrs.oif = checkIfindex(op, spec.ifindex);
  if (!del && spec.gateway === undefined && spec.ifindex === undefined)
    throw invalid(op, 'a route needs a gateway, an ifindex or both');
  const data: rt.Route = {
    family: AF_INET,
    dstLen: prefixLen,
    // rtm_table is only 8 bits; RTA_TABLE (above) carries the full id.
    table: table < 256 ? table : 0,
  };
  if (del) {
    // As iproute2 does for RTM_DELROUTE: scope NOWHERE, protocol/type unspecified = match any.
    data.scope = 'NOWHERE';
  } else {
    data.protocol = 'STATIC';
    data.type = 'UNICAST';
    // A route without a gateway is directly connected (scope link), like `ip route add ... dev X`.
    data.scope = spec.gateway === undefined ? 'LINK' : 'UNIVERSE';
  }
  const what = `${spec.dst}${spec.gateway ? ` via ${spec.gateway}` : ''}${spec.ifindex ? ` dev #${spec.ifindex}` : ''} table ${table}`;
  return { data, attrs, what };
}

function neighborRequest(op: string, ifindex: number, ip: string): { data: rt.Neighbor; attrs: rt.NeighborAttrs } {
  checkIfindex(op, ifindex);
  const dst = parseIPv4(op, ip);
  return { data: { family: AF_INET, ifindex }, attrs: { dst } };
}

/** Opens /run/netns/NAME read-only; the caller closes the fd. */
function openNetns(op: string, name: string): number {
  const path = `/run/netns/${name}`;
  try {
    return openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const errno = ERRNO[code] ?? ERRNO.EIO ?? 5;
    throw new NetlinkError(`${op}: cannot open network namespace ${path}: ${code}`, errno, code, op);
  }
}
