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
// - A port entry carries more than its table value (overlay-encode.ts
//   PortExtras), kept right here: its slot in xdpnet_port_stats, a fresh one
//   (zeroed) at each upsert of the port so it counts from zero, given back
//   when the port goes; and its network's state as xdpnet_networks has it,
//   rewritten into every port of a network whenever the network is written
//   or deleted (after the network's own entry: for the moment in between, a
//   port's frames see the network as it was). list('localPorts') repairs
//   both where they are wrong (a daemon stopped half-way).
// - A local MAC's fdb entry carries a copy of the port entry on its interface
//   (overlay-encode.ts encodeFdb): written with the entry, rewritten after
//   every write of that port's entry, and cleared before a port of another
//   network takes the interface (so no frame of the old network is ever
//   delivered into it). A remote MAC's entry carries a copy of its VTEP's
//   next hop, rewritten whenever the next hop is (nexthopChanged(), called by
//   xdpnet_nexthops' writer). A router MAC's entry carries a copy of its
//   router (xdpnet_routers), of its external side (xdpnet_snat) and of its
//   external subnet's gateway's MACs (xdpnet_ext_nexthops), rewritten
//   whenever one of those entries is (routerChanged(), called after
//   RouterTables' and SnatTables' writes; extNexthopChanged(), after
//   ExternalNexthops': tables.ts wires them). fdb-copies.ts keeps them all; list('fdb') repairs the copies where
//   they are wrong.
// - An ARP entry carries a copy of its MAC's fdb entry on its network
//   (arp-copies.ts): written with the entry, rewritten after every write or
//   delete of that fdb entry here (its own copies' rewrites included), and
//   put right by list('arp').

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
  type PortNetwork,
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
  portExtrasOf,
  portMapKey,
  portNetworkOf,
  portVniOf,
  txPortWrite,
  withPortExtras,
} from './overlay-encode.js';
import { ArpCopies } from './arp-copies.js';
import { FdbCopies } from './fdb-copies.js';
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

/** Per-port counters (per-CPU array, one slot per port, port_info.stats_slot); optional. */
export const PORT_STATS_MAP = 'xdpnet_port_stats';

/** The underlay next hops (nexthops.ts writes them); remote MACs' fdb entries carry copies. */
const NEXTHOPS_MAP = 'xdpnet_nexthops';

/** The routers (router-tables.ts writes them); router MACs' fdb entries carry copies. */
const ROUTERS_MAP = 'xdpnet_routers';
/** The routers' external sides (snat-tables.ts writes them); router MACs' fdb entries carry copies too. */
const SNAT_MAP = 'xdpnet_snat';
/** The external next hops (external-nexthops.ts writes them); router MACs' fdb entries carry their gateway's. */
const EXT_NEXTHOPS_MAP = 'xdpnet_ext_nexthops';

/** A name no interface can have (whitespace and ':'), for an ifindex that names none. */
export const goneName = (ifindex: number): string => `ifindex ${ifindex}: gone`;

const hex = (b: Buffer): string => b.toString('hex');

/** What the tables keep of a port entry in memory: where it is, and its slot. */
interface PortRecord {
  vni: number;
  /** port_info.stats_slot (0: none). */
  slot: number;
}

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
  /**
   * xdpnet_ports by ifindex, as in the map (VNI and counter slot): rebuilt
   * whole by each list('localPorts'), built by walking the map on first need
   * otherwise, and kept up to date by our own writes. It finds a network's
   * ports and the free counter slots without reading the whole map.
   */
  private portRecords: Map<number, PortRecord> | undefined;
  /** Where the search for a free counter slot starts: just-freed slots are taken last. */
  private slotCursor = 1;
  /** The copies fdb entries carry of ports and next hops. */
  private readonly copies: FdbCopies;
  /** The copies ARP entries carry of their MACs' fdb entries. */
  private readonly arpCopies: ArpCopies;

  constructor(
    private readonly parts: OverlayParts,
    private readonly nexthops?: NexthopSink,
  ) {
    const names: OverlayMapName[] = ['xdpnet_networks', 'xdpnet_ports', 'xdpnet_tx_ports', 'xdpnet_port_src', 'xdpnet_fdb', 'xdpnet_arp', 'xdpnet_flood'];
    this.map = Object.fromEntries(names.map((n) => [n, parts.maps.require(n)])) as Record<OverlayMapName, MapHandle>;
    this.stats = parts.maps.get(PORT_STATS_MAP);
    if (this.stats && this.stats.info.keySize !== u32.size) {
      throw new Error(`${PORT_STATS_MAP}: expected a 4-byte slot key, the map has ${this.stats.info.keySize} bytes`);
    }
    this.arpCopies = new ArpCopies({ arp: this.map.xdpnet_arp, fdb: this.map.xdpnet_fdb, write: (w) => this.write(w), logger: parts.logger });
    this.copies = new FdbCopies({
      fdb: this.map.xdpnet_fdb,
      ports: this.map.xdpnet_ports,
      nexthops: parts.maps.get(NEXTHOPS_MAP),
      routers: parts.maps.get(ROUTERS_MAP),
      snat: parts.maps.get(SNAT_MAP),
      extNexthops: parts.maps.get(EXT_NEXTHOPS_MAP),
      write: (w) => this.write(w),
      logger: parts.logger,
    });
  }

  /**
   * Tells the tables that xdpnet_nexthops' entry for `vtep` was just written
   * or deleted: the remote MACs behind it get the new copy (or lose theirs).
   */
  nexthopChanged(vtep: string): void {
    try {
      this.copies.nexthopChanged(vtep);
    } catch (err) {
      // Not the next hop writer's problem: the next list('fdb') repairs the copies.
      this.parts.logger.warn({ err, vtep }, 'cannot copy an underlay next hop into the fdb entries behind it');
    }
  }

  /**
   * Tells the tables that xdpnet_routers' or xdpnet_snat's entry for
   * `routerId` was just written or deleted: the router's MACs get the new
   * copies (or lose theirs).
   */
  routerChanged(routerId: string): void {
    try {
      this.copies.routerChanged(routerId);
    } catch (err) {
      // Not the router writer's problem: the next list('fdb') repairs the copies.
      this.parts.logger.warn({ err, routerId }, 'cannot copy a router into its fdb entries');
    }
  }

  /**
   * Tells the tables that xdpnet_ext_nexthops' entry for (`ifindex`, `ip`)
   * was just written or deleted: the MACs of the routers whose gateway it
   * is get the new copy (or lose theirs).
   */
  extNexthopChanged(ifindex: number, ip: string): void {
    try {
      this.copies.extNexthopChanged(ifindex, ip);
    } catch (err) {
      // Not the next hop writer's problem: the next list('fdb') repairs the copies.
      this.parts.logger.warn({ err, ifindex, ip }, 'cannot copy an external next hop into the fdb entries of its routers');
    }
  }

  /** The copies a router MAC's entry written now carries. */
  private routerCopies(routerId: string): { router?: Buffer; snat?: Buffer; gateway?: Buffer } {
    const snat = this.copies.snatOf(routerId);
    return { router: this.copies.routerOf(routerId), snat, gateway: this.copies.gatewayOf(snat) };
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
      case 'networks': {
        const w = encodeNetwork(key as TableKey<'networks'>, value as TableValue<'networks'>);
        this.write(w);
        return this.setPortNetworks((key as TableKey<'networks'>).vni, portNetworkOf(w.value));
      }
      case 'arp': {
        const k = key as TableKey<'arp'>;
        const v = value as TableValue<'arp'>;
        const w = encodeArp(k, v, { fdb: this.arpCopies.fdbOf(fdbMapKey({ vni: k.vni, macAddress: v.macAddress })) });
        this.write(w);
        this.arpCopies.written(w.key, w.value);
        return;
      }
      case 'fdb': {
        const v = value as TableValue<'fdb'>;
        if (v.location.kind === 'local') await interfaces.ensure([v.location.interfaceName]);
        // From here on nothing awaits: a port written meanwhile would miss this entry's copy of it.
        const loc = v.location;
        const copies =
          loc.kind === 'local'
            ? { port: this.copies.portOf(interfaces.ifindexOf(loc.interfaceName)) }
            : loc.kind === 'remote'
              ? { nexthop: this.copies.nexthopOf(loc.vtepIp) }
              : this.routerCopies(loc.routerId);
        const w = encodeFdb(key as TableKey<'fdb'>, v, (n) => interfaces.ifindexOf(n), copies);
        this.write(w);
        this.copies.written(w.key, w.value);
        return;
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
        this.setPortNetworks((key as TableKey<'networks'>).vni, undefined);
        return;
      case 'arp': {
        const k = arpMapKey(key as TableKey<'arp'>);
        this.map.xdpnet_arp.delete(k);
        this.arpCopies.written(k, undefined);
        return;
      }
      case 'fdb': {
        const k = fdbMapKey(key as TableKey<'fdb'>);
        this.map.xdpnet_fdb.delete(k);
        this.copies.written(k, undefined);
        this.fdbWritten(k, undefined);
        return;
      }
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
      case 'arp': {
        const entries = rawEntries(this.map.xdpnet_arp);
        this.arpCopies.repair(entries);
        return entries.map(decodeArp);
      }
      case 'fdb': {
        await interfaces.refresh();
        const entries = rawEntries(this.map.xdpnet_fdb);
        this.copies.repair(entries);
        return entries.map((e) => decodeFdb(e, nameOrGone));
      }
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
    this.portRecords = new Map();
    for (const e of kept) {
      const extras = portExtrasOf(e.value);
      this.portRecords.set(decode(u32, e.key), { vni: portVniOf(e.value), slot: extras.statsSlot });
    }
    this.repairExtras(kept);
    return decodeLocalPorts(kept, srcEntries, { interfaceName: (i) => interfaces.nameOf(i) });
  }

  /**
   * Puts right what the kept port entries carry beyond their values (which
   * the reconciler cannot see): each one's copy of its network, and a
   * counter slot of its own. Only a daemon stopped between two writes
   * leaves them wrong.
   */
  private repairExtras(kept: readonly RawEntry[]): void {
    const networks = new Map(rawEntries(this.map.xdpnet_networks).map((e) => [hex(e.key), e.value]));
    const seen = new Set<number>();
    for (const e of kept) {
      const ifindex = decode(u32, e.key);
      const vni = portVniOf(e.value);
      const extras = portExtrasOf(e.value);
      const network = portNetworkOf(networks.get(hex(networkMapKey({ vni }))));
      let slot = extras.statsSlot;
      if (this.stats && (slot === 0 || slot >= this.stats.info.maxEntries || seen.has(slot))) {
        // Another port's, or none: this one counts from zero in a slot of its own.
        slot = this.allocSlot() ?? 0;
      }
      seen.add(slot);
      const value = withPortExtras(e.value, { statsSlot: slot, network });
      if (value.equals(e.value)) continue;
      this.parts.logger.warn({ ifindex }, 'local port entry with a stale network state or counter slot: rewritten');
      this.write({ map: 'xdpnet_ports', key: e.key, value });
      this.portRecords?.set(ifindex, { vni, slot });
      this.copies.portChanged(ifindex, value);
      e.value = value;
    }
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
    // From here on nothing awaits: a network written meanwhile would miss this port's copy of it.
    const network = portNetworkOf(this.map.xdpnet_networks.lookup(networkMapKey({ vni: value.vni })));
    const previous = this.records().get(ifindex);
    // A new port, or the same port set up again, counts from zero: a fresh slot (its own again if none is free).
    const slot = this.allocSlot() ?? previous?.slot ?? 0;
    if (slot !== 0 && slot === previous?.slot) this.zeroSlot(slot);
    const w = encodeLocalPort(key, value, () => ifindex, { statsSlot: slot, network });

    // The interface was recreated since we set it up: the old ifindex's entries are nobody's.
    const before = ports.recordedIfindex(name);
    if (before !== undefined && before !== ifindex && interfaces.nameOf(before) === undefined) this.removePortEntries(before);

    const existed = this.map.xdpnet_ports.lookup(w.port.key) !== undefined;
    try {
      // New source entries first and the old ones last, so that no packet
      // the port may send meets a gap (a fixed IP may move between the trie
      // and the port entry); the port entry in between: it makes the port
      // live, with the sources it says.
      for (const s of w.portSrc) {
        this.write(s);
        this.rememberSrc(s.key);
      }
      this.write(w.txPort);
      // A port of another network had the interface: its network's MACs stop being delivered into it first.
      if (previous !== undefined && previous.vni !== value.vni) this.copies.portChanged(ifindex, undefined);
      this.write(w.port);
      // The old slot is free once the entry naming the new one is in place.
      this.records().set(ifindex, { vni: value.vni, slot });
      this.copies.portChanged(ifindex, w.port.value);
      const keep = new Set(w.portSrc.map((s) => hex(s.key)));
      for (const [k, buf] of [...this.srcOf(ifindex)]) {
        if (keep.has(k)) continue;
        this.map.xdpnet_port_src.delete(buf);
        this.srcOf(ifindex).delete(k);
      }
      ports.attach(name, ifindex);
    } catch (err) {
      // A port that was not there is left not there: no half-written port.
      // (A slot taken for nothing is free again by itself: no record names it.)
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

  /** Every entry of a port: its port, transmit slot and source entries; its counter slot is free again. */
  private removePortEntries(ifindex: number): void {
    const key = portMapKey(ifindex);
    this.map.xdpnet_ports.delete(key);
    if (ifindex !== this.parts.underlayIfindex) this.map.xdpnet_tx_ports.delete(key);
    this.removeSrc(ifindex);
    this.records().delete(ifindex);
    this.copies.portChanged(ifindex, undefined);
  }

  // ------------------------------------------------------------------ what port entries carry beyond their values

  /** The port records (see portRecords), built by walking xdpnet_ports if no list() has yet. */
  private records(): Map<number, PortRecord> {
    if (!this.portRecords) {
      this.portRecords = new Map();
      for (const e of rawEntries(this.map.xdpnet_ports)) {
        this.portRecords.set(decode(u32, e.key), { vni: portVniOf(e.value), slot: portExtrasOf(e.value).statsSlot });
      }
    }
    return this.portRecords;
  }

  /**
   * A counter slot no port entry names, zeroed on every CPU; undefined when
   * every slot is taken (or there is no counter map: 0, nothing counted).
   */
  private allocSlot(): number | undefined {
    if (!this.stats) return 0;
    const slots = this.stats.info.maxEntries;
    const used = new Set([...this.records().values()].map((r) => r.slot));
    for (let i = 0; i < slots - 1; i++) {
      const slot = 1 + ((this.slotCursor - 1 + i) % (slots - 1));
      if (used.has(slot)) continue;
      this.slotCursor = slot + 1 >= slots ? 1 : slot + 1;
      this.zeroSlot(slot);
      return slot;
    }
    return undefined;
  }

  private zeroSlot(slot: number): void {
    this.stats?.update(encode(u32, slot), Buffer.alloc(this.stats.valueBufferSize));
  }

  /** Gives every port of network `vni` the network's state as xdpnet_networks now has it (undefined: gone). */
  private setPortNetworks(vni: number, network: PortNetwork | undefined): void {
    for (const [ifindex, record] of this.records()) {
      if (record.vni !== vni) continue;
      const key = portMapKey(ifindex);
      const current = this.map.xdpnet_ports.lookup(key);
      if (!current) continue;
      const value = withPortExtras(current, { statsSlot: portExtrasOf(current).statsSlot, network });
      if (value.equals(current)) continue;
      this.write({ map: 'xdpnet_ports', key, value });
      this.copies.portChanged(ifindex, value);
    }
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

  /** An xdpnet_fdb entry just written or deleted: the ARP entries of its MAC follow (arp-copies.ts). */
  private fdbWritten(key: Buffer, value: Buffer | undefined): void {
    try {
      this.arpCopies.fdbChanged(key, value);
    } catch (err) {
      // The next list('arp') repairs the copies.
      this.parts.logger.warn({ err, key: key.toString('hex') }, 'cannot copy an fdb entry into the arp entries of its MAC');
    }
  }

  /** One map update (an fdb entry's ARP copies follow it); a full map is RESOURCE_EXHAUSTED, a transmit slot for a vanished interface UNAVAILABLE. */
  private write(w: MapWrite): void {
    this.writeEntry(w);
    if (w.map === 'xdpnet_fdb') this.fdbWritten(w.key, w.value);
  }

  private writeEntry(w: MapWrite): void {
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
