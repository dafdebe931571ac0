// Loading BPF objects: open, configure, verify and load, one cleanup path.
//
//   const obj = await loadObject('bpf/build/xdp_guard.bpf.o', {
//     rodata: { verify_ipv4_checksum: false },
//     maps: { xdpnet_reasons: { pinPath: '/sys/fs/bpf/xdpnet/xdpnet_reasons' } },
//   });
//
// A map given a pin path is reused if a compatible map is already pinned there
// (so a restarted daemon adopts the running dataplane's state, and objects
// loaded one after the other share one map) and pinned there after load
// otherwise. The addon checks compatibility itself, device maps included
// (libbpf 1.1 alone refuses to reuse a pinned DEVMAP/DEVMAP_HASH: see
// native/src/reuse.h); an incompatible pin fails the load with a BpfError
// naming the map and what differs.

import { type NativeObject, type NativeObjectMapDesc, type NativeObjectProgramDesc, native } from './native.js';
import { CACHED_MAPS, CACHE_GEN_MAP, GenerationOnChange } from './cache-generation.js';
import { BpfMap } from './maps.js';
import { BpfProgram } from './program.js';
import { endianness } from 'node:os';

/** A load-time setting: numbers and bigints are encoded in host order at the variable's size. */
export type RodataValue = number | bigint | boolean | Buffer;

export interface MapOverrides {
  maxEntries?: number;
  /** bpffs path to reuse the map pinned at (if compatible, else the load fails), or to pin it at. */
  pinPath?: string;
}

export interface LoadOptions {
  /** Values for `const volatile` globals, by C name (with the `cfg_` prefix DECLARE_CONFIG adds, or without it). */
  rodata?: Record<string, RodataValue>;
  maps?: Record<string, MapOverrides>;
}

export class LoadedObject {
  private closed = false;

  constructor(
    readonly path: string,
    private readonly handle: NativeObject,
  ) {}

  get name(): string {
    return this.handle.name;
  }

  maps(): NativeObjectMapDesc[] {
    return this.handle.maps();
  }

  programs(): NativeObjectProgramDesc[] {
    return this.handle.programs();
  }

  /**
   * A handle of its own on one of the object's maps (it outlives the object).
   * A map the programs cache (cache-generation.ts) writes a new cache
   * generation after every change made through it.
   */
  map(name: string): BpfMap {
    const map = new BpfMap(this.handle.map(name));
    if (CACHED_MAPS.has(name)) {
      if (!this.handle.maps().some((m) => m.name === CACHE_GEN_MAP)) {
        map.close();
        throw new Error(`${this.path}: declares ${name}, which the programs cache, without ${CACHE_GEN_MAP} (bpf/lib/cache_gen.h)`);
      }
      map.onChange(new GenerationOnChange(new BpfMap(this.handle.map(CACHE_GEN_MAP))));
    }
    return map;
  }

  /** A handle of its own on one of the object's programs (it outlives the object). */
  program(name: string): BpfProgram {
    return new BpfProgram(this.handle.program(name));
  }

  close(): void {
    if (!this.closed) this.handle.close();
    this.closed = true;
  }
}

/** Opens, configures and loads an object. On any failure nothing stays open. */
export async function loadObject(path: string, options: LoadOptions = {}): Promise<LoadedObject> {
  const handle = native().openObject(path);
  try {
    configureRodata(path, handle, options.rodata ?? {});
    for (const [map, overrides] of Object.entries(options.maps ?? {})) {
      if (overrides.maxEntries !== undefined) {
        if (!Number.isInteger(overrides.maxEntries) || overrides.maxEntries < 1) {
          throw new RangeError(`map ${map}: maxEntries must be a positive integer, got ${overrides.maxEntries}`);
        }
        handle.setMapMaxEntries(map, overrides.maxEntries);
      }
      if (overrides.pinPath !== undefined) handle.setMapPinPath(map, overrides.pinPath);
    }
    await handle.load();
    return new LoadedObject(path, handle);
  } catch (err) {
    handle.close();
    throw err;
  }
}

function configureRodata(path: string, handle: NativeObject, values: Record<string, RodataValue>): void {
  if (Object.keys(values).length === 0) return;
  const variables = native().describeBtf(path).rodata;
  for (const [given, value] of Object.entries(values)) {
    const name = given in variables ? given : `cfg_${given}`;
    const variable = variables[name];
    if (!variable) {
      const known = Object.keys(variables).join(', ') || 'none';
      throw new RangeError(`${path}: no load-time setting ${given} (known: ${known})`);
    }
    handle.setRodata(name, encodeRodata(name, value, variable.size));
  }
}

/** Encodes a setting at the C variable's size, refusing values that do not fit. */
export function encodeRodata(name: string, value: RodataValue, size: number): Buffer {
  if (Buffer.isBuffer(value)) {
    if (value.length !== size) throw new RangeError(`setting ${name} is ${size} bytes, got a ${value.length}-byte buffer`);
    return value;
  }
  const n = typeof value === 'boolean' ? BigInt(value ? 1 : 0) : BigInt(value);
  if (![1, 2, 4, 8].includes(size)) throw new RangeError(`setting ${name} is ${size} bytes: pass a Buffer`);
  if (n < 0n || n >= 1n << BigInt(size * 8)) {
    throw new RangeError(`setting ${name} is a ${size * 8}-bit unsigned value; ${value} does not fit`);
  }
  // Write the 8-byte form in host order and keep the low-order `size` bytes.
  const wide = Buffer.alloc(8);
  if (endianness() === 'LE') {
    wide.writeBigUInt64LE(n);
    return wide.subarray(0, size);
  }
  wide.writeBigUInt64BE(n);
  return wide.subarray(8 - size);
}
