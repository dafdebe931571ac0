// The node's maps: every map any of its objects declares, pinned once under
// the bpffs root by its name and shared by every object that declares it.
//
// Which maps exist is read from the objects themselves (their non-internal
// maps: .rodata/.data/.bss are per object), so a map added to the BPF code is
// pinned, shared, reported and torn down with no change here. The first
// object to declare a map creates and pins it; every later object, and every
// object of a restarted daemon, reuses the pinned map when compatible (same
// type, sizes, max_entries, flags: object.ts), device maps included. So there
// is one map per name: a write through any handle, or through the pin by
// another tool, reaches every program that uses it.
//
// Sizes: a map's max_entries is the object's unless the node overrides it
// (`maxEntries`, given once for the whole node and applied to every object
// that declares the map, so that all of them agree on the one pinned map:
// the conntrack table is loaded small on a node without an external NIC).
//
// A pin another build left that no longer matches what the objects declare
// (type, key or value size, max_entries):
//   - a map that holds only counters (COUNTER_MAPS: xdpnet_reasons,
//     xdpnet_port_stats) is replaced: the pin is removed and the map created
//     anew, its counts restarting at zero (logged). The programs still
//     attached keep counting into the old map until the node's programs are
//     swapped in, moments later;
//   - a map that holds live state nothing else has (LIVE_STATE_MAPS: the
//     conntrack table, whose entries are the NATed connections) is replaced
//     if it holds no entry; if it holds entries and only its size changed
//     (snat.conntrack_max), it is replaced and its entries are copied into
//     the new map (an LRU table smaller than what it receives keeps the
//     entries copied last); a change of its layout (key or value size, type)
//     fails the start (PinnedMapMismatchError) naming the map, the pin and
//     every difference, so that no connection is dropped without the operator
//     deciding it. Connections the old programs create between the copy and
//     the swap of programs, moments later, are not carried over;
//   - any other map holds state derived from the desired state (and from
//     the kernel: next hops), which the reconciler's first pass writes again:
//     it is replaced (logged). The programs still attached keep forwarding
//     with the old map until the node's programs are swapped in; from then
//     until that first pass has written the entries, what needs them is
//     dropped with a counted reason. Only an upgrade that changes a map's
//     layout pays this.
// Differences the loader alone sees (map flags) stay its own failure. A pin
// of a map that no object of this build declares any more (a map an earlier
// build had) is removed at start (removeUndeclared), logged.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type LoadedObject, type MapOverrides, type RodataValue, loadObject } from './object.js';
import { BpfMap, MapType } from './maps.js';
import { BpfError, native } from './native.js';

/**
 * What the tables use of a pinned map: the map itself (one per name, shared
 * through its pin). Kept as a name of its own for the tables' signatures.
 */
export type MapHandle = BpfMap;

export interface MapFillStatus {
  name: string;
  entries: number;
  maxEntries: number;
}

/** Map types whose every slot exists: their fill is their size. */
const ARRAY_TYPES = new Set<number>([MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY]);

/** Maps that hold nothing but counters: an incompatible pin is replaced (see the top of the file). */
export const COUNTER_MAPS: ReadonlySet<string> = new Set(['xdpnet_reasons', 'xdpnet_port_stats']);
/** Maps with live state (connections) and no other copy of it: see the top of the file. */
export const LIVE_STATE_MAPS: ReadonlySet<string> = new Set(['xdpnet_snat_ct']);

/** Entries per batch update when a resized live-state map's entries are copied. */
const CARRY_OVER_CHUNK = 4096;

/** What a map is declared as (after the node's overrides) or pinned as. */
export interface MapShape {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/** A map the objects declare, with its shape as declared. */
export interface DeclaredMap extends MapShape {
  name: string;
}

/** The maps an object declares, without the ones libbpf makes for its globals. */
export function declaredMaps(objectPath: string): DeclaredMap[] {
  const handle = native().openObject(objectPath);
  try {
    return handle
      .maps()
      .filter((m) => !m.internal)
      .map(({ name, type, keySize, valueSize, maxEntries }) => ({ name, type, keySize, valueSize, maxEntries }));
  } finally {
    handle.close();
  }
}

/** How a pinned map differs from what is declared: "max_entries 128 declared, 64 pinned", ...; empty if it does not. */
export function shapeDifferences(declared: MapShape, pinned: MapShape): string[] {
  const fields: [keyof MapShape, string][] = [
    ['type', 'type'],
    ['keySize', 'key size'],
    ['valueSize', 'value size'],
    ['maxEntries', 'max_entries'],
  ];
  return fields.filter(([f]) => declared[f] !== pinned[f]).map(([f, label]) => `${label} ${declared[f]} declared, ${pinned[f]} pinned`);
}

/** A pinned map this build cannot reuse and must not replace. */
export class PinnedMapMismatchError extends Error {
  override name = 'PinnedMapMismatchError';

  constructor(
    readonly map: string,
    readonly pinPath: string,
    readonly differences: readonly string[],
    hint: string,
  ) {
    super(`the map ${map} pinned at ${pinPath} is not the one this build declares (${differences.join('; ')}): ${hint}`);
  }
}

export interface PinnedMapsLogger {
  warn(obj: object, msg: string): void;
}

export interface PinnedMapsOptions {
  /** Per map name: max_entries to load it with instead of the object's, in every object that declares it. */
  maxEntries?: Readonly<Record<string, number>>;
  /** Where replaced pins are reported. */
  logger?: PinnedMapsLogger;
}

/** The load-time settings among `settings` that the object declares (as `cfg_<name>` or `<name>`). */
export function declaredSettings(objectPath: string, settings: Record<string, RodataValue>): Record<string, RodataValue> {
  const rodata = native().describeBtf(objectPath).rodata;
  return Object.fromEntries(Object.entries(settings).filter(([name]) => name in rodata || `cfg_${name}` in rodata));
}

export class PinnedMaps {
  /** One handle per map, in the order they were first met. */
  private readonly handles = new Map<string, BpfMap>();
  /** Maps whose pin has been checked against the declaration (once: later objects reuse what the first made). */
  private readonly checked = new Set<string>();
  /** Entry counts of maps too large to count key by key (see setEntryCounter). */
  private readonly counters = new Map<string, () => number | undefined>();
  /** Live-state maps resized: the old map, held open until its entries are copied into the new one. */
  private readonly carryOver = new Map<string, BpfMap>();

  constructor(
    readonly root: string,
    private readonly options: PinnedMapsOptions = {},
  ) {
    for (const [name, n] of Object.entries(options.maxEntries ?? {})) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`map ${name}: maxEntries must be a positive integer, got ${n}`);
    }
  }

  pinPath(name: string): string {
    return join(this.root, name);
  }

  /**
   * Loads an object with every map it declares pinned under the root (reused
   * if already pinned), and keeps a handle on each map not met before.
   */
  async load(objectPath: string, rodata: Record<string, RodataValue>): Promise<LoadedObject> {
    const declared = declaredMaps(objectPath).map((m) => ({ ...m, maxEntries: this.options.maxEntries?.[m.name] ?? m.maxEntries }));
    for (const m of declared) this.checkPin(m);
    const maps: Record<string, MapOverrides> = Object.fromEntries(
      declared.map((m) => {
        const maxEntries = this.options.maxEntries?.[m.name];
        return [m.name, { pinPath: this.pinPath(m.name), ...(maxEntries === undefined ? {} : { maxEntries }) }];
      }),
    );
    const obj = await loadObject(objectPath, { rodata, maps });
    try {
      for (const { name } of declared) if (!this.handles.has(name)) this.handles.set(name, obj.map(name));
      for (const { name } of declared) this.copyCarriedOver(name);
    } catch (err) {
      obj.close();
      throw err;
    }
    return obj;
  }

  /** Copies the entries of the resized live-state map `name`'s old map into the new one, if it was resized. */
  private copyCarriedOver(name: string): void {
    const old = this.carryOver.get(name);
    if (!old) return;
    this.carryOver.delete(name);
    try {
      const fresh = this.handles.get(name)!;
      let copied = 0;
      let chunk: [Buffer, Buffer][] = [];
      for (const [k, v] of old.entries()) {
        chunk.push([Buffer.from(k), Buffer.from(v)]);
        if (chunk.length === CARRY_OVER_CHUNK) {
          copied += fresh.updateMany(chunk);
          chunk = [];
        }
      }
      copied += fresh.updateMany(chunk);
      this.options.logger?.warn(
        { map: name, entries: copied, maxEntries: fresh.info.maxEntries },
        'pinned map of another size replaced: its entries were copied into the new one',
      );
    } finally {
      old.close();
    }
  }

  /**
   * Compares the pin of a declared map (if any) with the declaration, once
   * per map, and replaces or refuses it as the top of the file says.
   */
  private checkPin(declared: DeclaredMap): void {
    const { name } = declared;
    if (this.checked.has(name)) return;
    const path = this.pinPath(name);
    if (existsSync(path)) {
      const pinned = BpfMap.openPinned(path);
      let differences: string[];
      let empty: boolean;
      let sizeOnly: boolean;
      try {
        differences = shapeDifferences(declared, pinned.info);
        empty = differences.length > 0 && pinned.keys().next().done === true;
        sizeOnly = shapeDifferences({ ...declared, maxEntries: pinned.info.maxEntries }, pinned.info).length === 0;
      } finally {
        pinned.close();
      }
      if (differences.length > 0) {
        if (COUNTER_MAPS.has(name)) {
          this.options.logger?.warn({ map: name, pinPath: path, differences }, 'pinned counters map of another build replaced: its counts restart from zero');
          native().unpin(path);
        } else if (LIVE_STATE_MAPS.has(name)) {
          if (empty) {
            this.options.logger?.warn({ map: name, pinPath: path, differences }, 'empty pinned map of another shape replaced');
            native().unpin(path);
          } else if (sizeOnly) {
            // Held open past the unpin: load() copies its entries into the new map.
            this.carryOver.set(name, BpfMap.openPinned(path));
            native().unpin(path);
          } else {
            const hint =
              'it holds connections, and a map of another layout cannot take them; run the build that made it, or remove the pin to start it afresh (every connection is lost)';
            throw new PinnedMapMismatchError(name, path, differences, hint);
          }
        } else {
          this.options.logger?.warn(
            { map: name, pinPath: path, differences },
            'pinned map of another build replaced: the first reconcile pass writes its entries again',
          );
          native().unpin(path);
        }
      }
    }
    this.checked.add(name);
  }

  /**
   * Counts the entries of `name` for fill() with `count` instead of walking
   * its keys (a table of millions of entries whose owner knows its size);
   * undefined from `count` falls back to the walk.
   */
  setEntryCounter(name: string, count: () => number | undefined): void {
    this.counters.set(name, count);
  }

  get(name: string): MapHandle | undefined {
    return this.handles.get(name);
  }

  /** A map the node cannot work without (every overlay object declares it). */
  require(name: string): MapHandle {
    const map = this.handles.get(name);
    if (!map) throw new Error(`no BPF object declares the map ${name}`);
    return map;
  }

  /**
   * The same as require(): every map is shared through its pin now. Kept for
   * callers written when device maps were one copy per object.
   */
  requireShared(name: string): BpfMap {
    return this.require(name);
  }

  names(): string[] {
    return [...this.handles.keys()];
  }

  /** Entries in use per map. Hash-like maps are counted key by key (no syscall says it). */
  fill(): MapFillStatus[] {
    // By the name the object gives (the pin's): the kernel keeps only 15 characters of it.
    return [...this.handles].map(([name, map]) => {
      const { maxEntries, type } = map.info;
      if (ARRAY_TYPES.has(type)) return { name, entries: maxEntries, maxEntries };
      const counted = this.counters.get(name)?.();
      if (counted !== undefined) return { name, entries: counted, maxEntries };
      let entries = 0;
      for (const _ of map.keys()) entries++;
      return { name, entries, maxEntries };
    });
  }

  close(): void {
    for (const map of this.carryOver.values()) map.close();
    this.carryOver.clear();
    for (const map of this.handles.values()) map.close();
    this.handles.clear();
  }

  /** Removes every pin (the maps go once no program holds them) and closes. */
  /**
   * Removes the pins under the root of maps that none of `objectPaths` (every
   * object of this build the node may load, loaded now or not) declares: a
   * map an earlier build had and this one dropped. Nothing reads them any
   * more; programs of the earlier build still attached keep theirs until
   * they are swapped out. Links, programs and directories are left alone.
   * Returns the names removed.
   */
  removeUndeclared(objectPaths: readonly string[]): string[] {
    const declared = new Set(objectPaths.flatMap((p) => declaredMaps(p).map((m) => m.name)));
    const removed: string[] = [];
    if (!existsSync(this.root)) return removed;
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (entry.isDirectory() || declared.has(entry.name)) continue;
      const path = this.pinPath(entry.name);
      try {
        BpfMap.openPinned(path).close();
      } catch {
        continue; // not a map (a link or program someone pinned here)
      }
      native().unpin(path);
      removed.push(entry.name);
      this.options.logger?.warn({ map: entry.name, pinPath: path }, 'pinned map no object of this build declares removed');
    }
    return removed;
  }

  unpinAll(): void {
    for (const name of this.handles.keys()) {
      try {
        native().unpin(this.pinPath(name));
      } catch (err) {
        if (!(err instanceof BpfError && err.code === 'ENOENT')) throw err;
      }
    }
    this.close();
  }
}
