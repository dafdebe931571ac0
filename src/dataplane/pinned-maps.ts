// The node's maps: every map any of its objects declares, pinned once under
// the bpffs root by its name and shared by every object that declares it.
//
// Which maps exist is read from the objects themselves (their non-internal
// maps: .rodata/.data/.bss are per object), so a map added to the BPF code is
// pinned, shared, reported and torn down with no change here. A pinned map is
// reused by libbpf when compatible (same type, sizes, max_entries, flags): a
// restarted daemon finds the tables where it left them. Device maps are the
// exception libbpf 1.1 forces: one copy per object, kept equal
// (replicated-map.ts).

import { join } from 'node:path';
import { type LoadedObject, type MapOverrides, type RodataValue, loadObject } from './object.js';
import { BpfMap, MapType } from './maps.js';
import { BpfError, native } from './native.js';
import { type MapHandle, ReplicatedMap } from './replicated-map.js';

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

/** Maps libbpf 1.1 cannot reuse from a pin (the kernel adds BPF_F_RDONLY_PROG to their flags). */
const REPLICATED_TYPES = new Set<number>([MapType.DEVMAP, MapType.DEVMAP_HASH]);

/** The load-time settings among `settings` that the object declares (as `cfg_<name>` or `<name>`). */
export function declaredSettings(objectPath: string, settings: Record<string, RodataValue>): Record<string, RodataValue> {
  const rodata = native().describeBtf(objectPath).rodata;
  return Object.fromEntries(Object.entries(settings).filter(([name]) => name in rodata || `cfg_${name}` in rodata));
}

export class PinnedMaps {
  /** One handle per map, in the order they were first met. */
  private readonly handles = new Map<string, BpfMap | ReplicatedMap>();

  constructor(readonly root: string) {}

  pinPath(name: string): string {
    return join(this.root, name);
  }

  /**
   * Loads an object with every map it declares pinned under the root (reused
   * if already pinned; device maps replicated), and keeps a handle on each.
   */
  async load(objectPath: string, rodata: Record<string, RodataValue>): Promise<LoadedObject> {
    const declared = declaredMaps(objectPath);
    const maps: Record<string, MapOverrides> = Object.fromEntries(
      declared.filter((m) => !REPLICATED_TYPES.has(m.type)).map((m) => [m.name, { pinPath: this.pinPath(m.name) }]),
    );
    const obj = await loadObject(objectPath, { rodata, maps });
    try {
      for (const { name, type } of declared) {
        if (REPLICATED_TYPES.has(type)) {
          let replicated = this.handles.get(name);
          if (!replicated) this.handles.set(name, (replicated = new ReplicatedMap(name, this.pinPath(name))));
          if (!(replicated instanceof ReplicatedMap)) throw new Error(`map ${name} is a device map in ${objectPath} only`);
          replicated.addCopy(obj.map(name));
        } else if (!this.handles.has(name)) {
          this.handles.set(name, obj.map(name));
        }
      }
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

  /** A map shared through its pin, as the addon's typed readers (per-CPU counters) take it. */
  requireShared(name: string): BpfMap {
    const map = this.require(name);
    if (!(map instanceof BpfMap)) throw new Error(`map ${name} is replicated per object, not one shared map`);
    return map;
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
