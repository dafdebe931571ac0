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

import { join } from 'node:path';
import { type LoadedObject, type MapOverrides, type RodataValue, loadObject } from './object.js';
import { type BpfMap, MapType } from './maps.js';
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

/** The maps an object declares, without the ones libbpf makes for its globals. */
export function declaredMaps(objectPath: string): { name: string; type: number }[] {
  const handle = native().openObject(objectPath);
  try {
    return handle
      .maps()
      .filter((m) => !m.internal)
      .map((m) => ({ name: m.name, type: m.type }));
  } finally {
    handle.close();
  }
}

/** The load-time settings among `settings` that the object declares (as `cfg_<name>` or `<name>`). */
export function declaredSettings(objectPath: string, settings: Record<string, RodataValue>): Record<string, RodataValue> {
  const rodata = native().describeBtf(objectPath).rodata;
  return Object.fromEntries(Object.entries(settings).filter(([name]) => name in rodata || `cfg_${name}` in rodata));
}

export class PinnedMaps {
  /** One handle per map, in the order they were first met. */
  private readonly handles = new Map<string, BpfMap>();

  constructor(readonly root: string) {}

  pinPath(name: string): string {
    return join(this.root, name);
  }

  /**
   * Loads an object with every map it declares pinned under the root (reused
   * if already pinned), and keeps a handle on each map not met before.
   */
  async load(objectPath: string, rodata: Record<string, RodataValue>): Promise<LoadedObject> {
    const declared = declaredMaps(objectPath);
    const maps: Record<string, MapOverrides> = Object.fromEntries(declared.map((m) => [m.name, { pinPath: this.pinPath(m.name) }]));
    const obj = await loadObject(objectPath, { rodata, maps });
    try {
      for (const { name } of declared) if (!this.handles.has(name)) this.handles.set(name, obj.map(name));
    } catch (err) {
      obj.close();
      throw err;
    }
    return obj;
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
      let entries = 0;
      for (const _ of map.keys()) entries++;
      return { name, entries, maxEntries };
    });
  }

  close(): void {
    for (const map of this.handles.values()) map.close();
    this.handles.clear();
  }

  /** Removes every pin (the maps go once no program holds them) and closes. */
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
