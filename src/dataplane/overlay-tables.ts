// The overlay's logical tables (networks, localPorts, fdb, arp, floodList)
// over the node's pinned maps: the BPF dataplane's side of the reconciler's
// Dataplane contract for these tables. What bytes go where is
// overlay-encode.ts's; this file decides when and in which order they are
// written, and keeps the maps tidy when interfaces come and go.
//
// - Interface names resolve through the InterfaceIndex cache, refreshed at
//   each list() and on a miss; a port being set up is looked up afresh. An
//   interface that does not exist (yet) is InterfaceNotPresentError
//   (UNAVAILABLE: the reconciler retries), except in a flood list, which is
//   written with the ports that are there (floodWrite).
// - A local port is its map entries plus its two programs. list() reports
//   only ports whose programs run on the ifindex the entry names; entries of
//   an interface that vanished, or whose programs are not attached, are
//   removed there (so the reconciler upserts the port again and it is set up
//   on the interface as it is now).
// - An ifindex in fdb/floodList values that names no interface any more
//   decodes to a name no interface can have (goneName), so the entry is
//   unequal to what is wanted and is rewritten.
// - A map with no room for a new key: RESOURCE_EXHAUSTED, as is a flood list
//   longer than the map's arrays (FloodListOverflowError).

import { DataplaneError, type DataplaneEntry } from '../reconciler/dataplane.js';
import type { TableKey, TableName, TableValue } from '../reconciler/tables.js';
import { decode, encode, u32 } from './codec.js';
import type { HookLogger } from './hook-links.js';
import type { InterfaceIndex } from './interface-index.js';
import { FLOOD_MAX_LOCAL, portSrcKey } from './layouts.js';
import { BpfError } from './native.js';
import {
  FloodListOverflowError,
  InterfaceNotPresentError,
  type MapWrite,
  type OverlayMapName,
  type RawEntry,
  arpMapKey,
  decodeArp,
  decodeFdb,
  decodeFlood,
  decodeLocalPorts,
  decodeNetwork,
  encodeArp,
  encodeFdb,
  encodeFlood,
  encodeLocalPort,
  encodeNetwork,
  fdbMapKey,
  floodMapKey,
  networkMapKey,
  portMapKey,
  txPortWrite,
} from './overlay-encode.js';
import type { MapHandle, PinnedMaps } from './pinned-maps.js';
import type { PortPrograms } from './port-programs.js';

/**
 * Where the remote VTEPs of the flood lists go to have their underlay next
 * hops resolved (xdpnet_nexthops): every upserted list's VTEPs are wanted;
 * when a full pass reads every list, the VTEPs the lists name are wanted and
 * only those are kept.
 */
export interface NexthopSink {
  want(vteps: readonly string[]): void;
  retainOnly(vteps: ReadonlySet<string>): void;
}

/** What the tables work on: the NodeDataplane has all of it. */
export interface OverlayParts {
  maps: PinnedMaps;
  ports: PortPrograms;
  interfaces: InterfaceIndex;
  /** Its xdpnet_tx_ports entry is the node's, never a port's. */
  underlayIfindex: number;
  logger: HookLogger;
}

export const OVERLAY_TABLES = ['networks', 'localPorts', 'fdb', 'arp', 'floodList'] as const;
export type OverlayTable = (typeof OVERLAY_TABLES)[number];

/** Per-port counters (per-CPU hash keyed by ifindex), made by the programs on demand; optional. */
export const PORT_STATS_MAP = 'xdpnet_port_stats';

/** A name no interface can have (whitespace and ':'), for an ifindex that names none. */
export const goneName = (ifindex: number): string => `ifindex ${ifindex}: gone`;

const hex = (b: Buffer): string => b.toString('hex');

export class OverlayTables {
  private readonly map: Record<OverlayMapName, MapHandle>;
  private readonly stats: MapHandle | undefined;
  /**
   * xdpnet_port_src keys by ifindex, as in the map: rebuilt whole by each
   * list('localPorts') (which reads the map anyway) and kept up to date by our
   * own writes, so a port update does not walk the whole trie (an LPM trie
   * has no batch lookup) to find its stale keys.
   */
  private srcKeys: Map<number, Map<string, Buffer>> | undefined;

  constructor(
    private readonly parts: OverlayParts,
    private readonly nexthops?: NexthopSink,
  ) {
    const names: OverlayMapName[] = ['xdpnet_networks', 'xdpnet_ports', 'xdpnet_tx_ports', 'xdpnet_port_src', 'xdpnet_fdb', 'xdpnet_arp', 'xdpnet_flood'];
    this.map = Object.fromEntries(names.map((n) => [n, parts.maps.require(n)])) as Record<OverlayMapName, MapHandle>;
    this.stats = parts.maps.get(PORT_STATS_MAP);
    if (this.stats && this.stats.info.keySize !== u32.size) {
      throw new Error(`${PORT_STATS_MAP}: expected a 4-byte ifindex key, the map has ${this.stats.info.keySize} bytes`);
    }
  }

  handles(table: TableName): table is OverlayTable {
    return (OVERLAY_TABLES as readonly string[]).includes(table);
  }

  async list<T extends OverlayTable>(table: T): Promise<DataplaneEntry<T>[]> {
    const entries = await this.listAny(table);
    return entries as DataplaneEntry<T>[];
  }

  async upsert<T extends OverlayTable>(table: T, key: TableKey<T>, value: TableValue<T>): Promise<void> {
    const { interfaces } = this.parts;
    switch (table) {
      case 'networks':
        return this.write(encodeNetwork(key as TableKey<'networks'>, value as TableValue<'networks'>));
      case 'arp':
        return this.write(encodeArp(key as TableKey<'arp'>, value as TableValue<'arp'>));
      case 'fdb': {
        const v = value as TableValue<'fdb'>;
        if (v.location.kind === 'local') await interfaces.ensure([v.location.interfaceName]);
        return this.write(encodeFdb(key as TableKey<'fdb'>, v, (n) => interfaces.ifindexOf(n)));
      }
      case 'floodList': {
        const k = key as TableKey<'floodList'>;
        const v = value as TableValue<'floodList'>;
        await interfaces.ensure(v.localInterfaces);
        const w = this.floodWrite(k, v);
        // Before the write: the next hops are being resolved by the time a frame is flooded.
        this.nexthops?.want(v.remoteVteps);
        return this.write(w);
      }
      case 'localPorts':
        return this.upsertPort(key as TableKey<'localPorts'>, value as TableValue<'localPorts'>);
    }
    throw new DataplaneError('INTERNAL', `${table} is no overlay table`);
  }

  async delete<T extends OverlayTable>(table: T, key: TableKey<T>): Promise<void> {
    switch (table) {
      case 'networks':
        this.map.xdpnet_networks.delete(networkMapKey(key as TableKey<'networks'>));
        return;
      case 'arp':
        this.map.xdpnet_arp.delete(arpMapKey(key as TableKey<'arp'>));
        return;
      case 'fdb':
        this.map.xdpnet_fdb.delete(fdbMapKey(key as TableKey<'fdb'>));
        return;
      case 'floodList':
        this.map.xdpnet_flood.delete(floodMapKey(key as TableKey<'floodList'>));
        return;
      case 'localPorts':
        return this.deletePort(key as TableKey<'localPorts'>);
    }
    throw new DataplaneError('INTERNAL', `${table} is no overlay table`);
  }

  /**
   * The flood list with the local ports whose interfaces exist. A port whose
   * interface is not there yet (a VM not started) has nothing to receive a
   * copy, and its own localPorts entry says UNAVAILABLE; failing the whole
   * list would stop flooding for every other port of the network. The list
   * read back then lacks that port, so each full pass writes it again, and
   * the one after the interface appears completes it.
   */
  private floodWrite(key: TableKey<'floodList'>, value: TableValue<'floodList'>): MapWrite {
    const { interfaces } = this.parts;
    const present = value.localInterfaces.filter((n) => interfaces.ifindexOf(n) !== undefined);
    // Capacity is the whole desired list's: it must not pass now and overflow when the interface appears.
    if (value.localInterfaces.length > FLOOD_MAX_LOCAL) {
      throw new FloodListOverflowError(key.vni, 'localInterfaces', value.localInterfaces.length, FLOOD_MAX_LOCAL);
    }
    return encodeFlood(key, { ...value, localInterfaces: present }, (n) => interfaces.ifindexOf(n));
  }

  // ------------------------------------------------------------------ list

  private async listAny(table: OverlayTable): Promise<DataplaneEntry[]> {
    const { interfaces } = this.parts;
    const nameOrGone = (ifindex: number): string => interfaces.nameOf(ifindex) ?? goneName(ifindex);
    switch (table) {
      case 'networks':
        return rawEntries(this.map.xdpnet_networks).map(decodeNetwork);
      case 'arp':
        return rawEntries(this.map.xdpnet_arp).map(decodeArp);
      case 'fdb':
        await interfaces.refresh();
        return rawEntries(this.map.xdpnet_fdb).map((e) => decodeFdb(e, nameOrGone));
      case 'floodList': {
        await interfaces.refresh();
        const lists = rawEntries(this.map.xdpnet_flood).map((e) => decodeFlood(e, nameOrGone));
        const vteps = new Set(lists.flatMap((l) => l.value.remoteVteps));
        // Wanted as well as retained: after a restart the lists are already
        // right, nothing is upserted, and a VTEP no one wants loses its next hop.
        this.nexthops?.want([...vteps]);
        this.nexthops?.retainOnly(vteps);
        return lists;
      }
      case 'localPorts':
        return this.listPorts();
    }
  }

  /** The ports that are really set up; removes what is left of the others (see the top of the file). */
  private async listPorts(): Promise<DataplaneEntry<'localPorts'>[]> {
    const { interfaces, ports, logger } = this.parts;
    await interfaces.refresh();
    const portEntries = rawEntries(this.map.xdpnet_ports);
    const srcEntries = rawEntries(this.map.xdpnet_port_src);
    this.srcKeys = new Map();
    for (const e of srcEntries) this.rememberSrc(e.key);

    const kept: RawEntry[] = [];
    const keptIfindexes = new Set<number>();
    const keptNames = new Set<string>();
    for (const e of portEntries) {
      const ifindex = decode(u32, e.key);
      const name = interfaces.nameOf(ifindex);
      if (name !== undefined && ports.attachedIfindex(name) === ifindex) {
        // The transmit slot is derived from the port entry alone: put back if lost (nothing else would).
        const tx = txPortWrite(ifindex);
        if (!this.map.xdpnet_tx_ports.lookup(tx.key)) this.write(tx);
        kept.push(e);
        keptIfindexes.add(ifindex);
        keptNames.add(name);
        continue;
      }
      logger.warn(
        { ifindex, interface: name ?? null },
        name === undefined ? 'local port whose interface is gone: entries removed' : 'local port without its programs: entries removed',
      );
      if (name !== undefined) ports.detach(name);
      this.removePortEntries(ifindex);
    }
    // Links with no port entry, source entries of no port: left by a failure half-way; nobody's.
    for (const name of ports.names()) {
      if (keptNames.has(name)) continue;
      logger.warn({ interface: name }, 'port programs without a port entry: detached');
      ports.detach(name);
    }
    for (const ifindex of [...this.srcKeys.keys()]) if (!keptIfindexes.has(ifindex)) this.removeSrc(ifindex);
    return decodeLocalPorts(kept, srcEntries, { interfaceName: (i) => interfaces.nameOf(i) });
  }

  // ------------------------------------------------------------------ local ports

  private async upsertPort(key: TableKey<'localPorts'>, value: TableValue<'localPorts'>): Promise<void> {
    const { interfaces, ports } = this.parts;
    const name = key.interfaceName;
    if (ports.isReserved(name)) {
      throw new DataplaneError('INTERNAL', `interface ${name} is one of this node's own (underlay or physical network); it cannot be a VM port`);
    }
    const ifindex = await interfaces.lookup(name);
    if (ifindex === undefined) throw new InterfaceNotPresentError({ interfaceName: name });
    const w = encodeLocalPort(key, value, () => ifindex);

    // The interface was recreated since we set it up: the old ifindex's entries are nobody's.
    const before = ports.recordedIfindex(name);
    if (before !== undefined && before !== ifindex && interfaces.nameOf(before) === undefined) this.removePortEntries(before);

    const existed = this.map.xdpnet_ports.lookup(w.port.key) !== undefined;
    try {
      // New source entries before the old go, so that no packet the port may
      // send meets a gap; the port entry last: it makes the port live.
      for (const s of w.portSrc) {
        this.write(s);
        this.rememberSrc(s.key);
      }
      const keep = new Set(w.portSrc.map((s) => hex(s.key)));
      for (const [k, buf] of [...this.srcOf(ifindex)]) {
        if (keep.has(k)) continue;
        this.map.xdpnet_port_src.delete(buf);
        this.srcOf(ifindex).delete(k);
      }
      this.write(w.txPort);
      this.write(w.port);
      // A new port (or the same port set up again) counts from zero.
      this.stats?.delete(encode(u32, ifindex));
      ports.attach(name, ifindex);
    } catch (err) {
      // A port that was not there is left not there: no half-written port.
      if (!existed) this.removePortEntries(ifindex);
      throw err;
    }
  }

  private async deletePort(key: TableKey<'localPorts'>): Promise<void> {
    const { interfaces, ports } = this.parts;
    const name = key.interfaceName;
    if (ports.isReserved(name)) return; // never upserted (refused), so nothing of it to delete
    const current = await interfaces.lookup(name);
    const recorded = ports.recordedIfindex(name);
    // The recorded ifindex only if it names no other interface now (ifindexes are rarely reused, but may be).
    const ifindexes = [...new Set([current, recorded])].filter(
      (i): i is number => i !== undefined && (i === current || interfaces.nameOf(i) === undefined),
    );
    // The port entry first: both programs drop what the port still sends, and nothing is redirected into it.
    for (const i of ifindexes) this.map.xdpnet_ports.delete(portMapKey(i));
    ports.detach(name);
    for (const i of ifindexes) this.removePortEntries(i);
  }

  /** Every entry of a port: its port, transmit slot, source entries and counters. */
  private removePortEntries(ifindex: number): void {
    const key = portMapKey(ifindex);
    this.map.xdpnet_ports.delete(key);
    if (ifindex !== this.parts.underlayIfindex) this.map.xdpnet_tx_ports.delete(key);
    this.removeSrc(ifindex);
    this.stats?.delete(key);
  }

  private removeSrc(ifindex: number): void {
    for (const buf of this.srcOf(ifindex).values()) this.map.xdpnet_port_src.delete(buf);
    this.srcKeys?.delete(ifindex);
  }

  /** The source keys of one ifindex (the index is built by walking the map if no list() has yet). */
  private srcOf(ifindex: number): Map<string, Buffer> {
    if (!this.srcKeys) {
      this.srcKeys = new Map();
      for (const k of this.map.xdpnet_port_src.keys()) this.rememberSrc(k);
    }
    let keys = this.srcKeys.get(ifindex);
    if (!keys) this.srcKeys.set(ifindex, (keys = new Map()));
    return keys;
  }

  private rememberSrc(key: Buffer): void {
    const copy = Buffer.from(key);
    this.srcOf(portSrcKey.decode(copy).ifindex).set(hex(copy), copy);
  }

  // ------------------------------------------------------------------ writes

  /** One map update; a full map is RESOURCE_EXHAUSTED, a transmit slot for a vanished interface UNAVAILABLE. */
  private write(w: MapWrite): void {
    const map = this.map[w.map];
    try {
      map.update(w.key, w.value);
    } catch (err) {
      if (err instanceof BpfError && (err.code === 'E2BIG' || err.code === 'ENOSPC')) {
        throw new DataplaneError('RESOURCE_EXHAUSTED', `map ${w.map} is full (${map.info.maxEntries} entries)`, { cause: err });
      }
      // A DEVMAP refuses (EINVAL) an ifindex no device has: it went away since we looked.
      if (w.map === 'xdpnet_tx_ports' && err instanceof BpfError && (err.code === 'EINVAL' || err.code === 'ENODEV')) {
        throw new InterfaceNotPresentError({ ifindex: decode(u32, w.key) });
      }
      throw err;
    }
  }
}

/** Every entry, copied out of the batch buffers (decoders may keep slices). */
function rawEntries(map: MapHandle): RawEntry[] {
  return [...map.entries()].map(([key, value]) => ({ key: Buffer.from(key), value: Buffer.from(value) }));
}
