// BPF map handles: raw (Buffers) and typed (codecs).
//
// The addon checks buffer sizes against the map before any syscall; here we
// add what needs a decision: update modes by name, iteration that prefers the
// batch syscalls and falls back to key walking where the map type has none,
// and per-CPU value splitting.

import { BpfError, type NativeMap, type NativeMapInfo, native } from './native.js';
import { type Codec, decode, encode } from './codec.js';

/** How `update` treats an existing or missing key (BPF_ANY / BPF_NOEXIST / BPF_EXIST). */
export type UpdateMode = 'any' | 'create' | 'replace';
const UPDATE_FLAGS: Record<UpdateMode, number> = { any: 0, create: 1, replace: 2 };

/** uapi enum bpf_map_type values we treat specially. */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  DEVMAP: 14,
  DEVMAP_HASH: 25,
} as const;

const PER_CPU_TYPES = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);

/** The kernel's answer when a map type has no batch operations. */
function isUnsupported(err: unknown): boolean {
  return err instanceof BpfError && ['EINVAL', 'ENOTSUPP', 'EOPNOTSUPP'].includes(err.code);
}

const roundUp8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Entries fetched per BPF_MAP_LOOKUP_BATCH call. */
const BATCH_SIZE = 256;

/**
 * Told after every change made through a handle (cache-generation.ts: the
 * programs' cached copies of the map must then be dropped); closed with it.
 */
export interface MapChangeListener {
  changed(): void;
  close(): void;
}

export class BpfMap {
  readonly info: NativeMapInfo;
  private listener: MapChangeListener | undefined;
  readonly perCpu: boolean;
  /** Bytes of one value as lookup returns it (all CPUs for per-CPU maps). */
  readonly valueBufferSize: number;
  /** Whether BPF_MAP_*_BATCH works on this map; learnt on first use. */
  private batchSupported: boolean | undefined;

  constructor(private readonly handle: NativeMap) {
    this.info = handle.info();
    this.perCpu = PER_CPU_TYPES.has(this.info.type);
    this.valueBufferSize = this.perCpu
      ? native().possibleCpus() * roundUp8(this.info.valueSize)
      : this.info.valueSize;
  }

  /** Opens a map pinned in bpffs. */
  static openPinned(path: string): BpfMap {
    return new BpfMap(native().openPinnedMap(path));
  }

  get name(): string {
    return this.info.name;
  }

  get fd(): number {
    return this.handle.fd;
  }

  lookup(key: Buffer): Buffer | undefined {
    return this.handle.lookup(key);
  }

  /** `listener` is told after every change made through this handle from now on, and closed with it. */
  onChange(listener: MapChangeListener): void {
    this.listener?.close();
    this.listener = listener;
  }

  update(key: Buffer, value: Buffer, mode: UpdateMode = 'any'): void {
    this.handle.update(key, value, UPDATE_FLAGS[mode]);
    this.listener?.changed();
  }

  /** False when the key was not there. */
  delete(key: Buffer): boolean {
    const deleted = this.handle.delete(key);
    if (deleted) this.listener?.changed();
    return deleted;
  }

  *keys(): IterableIterator<Buffer> {
    let key = this.handle.nextKey(null);
    while (key) {
      yield key;
      key = this.handle.nextKey(key);
    }
  }

  /**
   * Every entry. Uses the batch syscall where the map type supports it (one
   * syscall per BATCH_SIZE entries, and a consistent view per bucket), else
   * walks keys. Entries deleted concurrently during a walk are skipped.
   */
  *entries(): IterableIterator<[Buffer, Buffer]> {
    if (this.batchSupported !== false) {
      try {
        yield* this.batchEntries();
        return;
      } catch (err) {
        // Only a refusal of the very first batch call means "no batch support";
        // anything later is a real error (entries were already yielded).
        if (this.batchSupported || !isUnsupported(err)) throw err;
        this.batchSupported = false;
      }
    }
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value) yield [key, value];
    }
  }

  private *batchEntries(): IterableIterator<[Buffer, Buffer]> {
    const { keySize } = this.info;
    let cursor: Buffer | null = null;
    let batch = BATCH_SIZE;
    for (;;) {
      let step;
      try {
        step = this.handle.lookupBatch(cursor, batch);
      } catch (err) {
        // A hash bucket holding more entries than the batch: retry larger.
        if (err instanceof BpfError && err.code === 'ENOSPC' && batch < this.info.maxEntries) {
          batch *= 2;
          continue;
        }
        throw err;
      }
      this.batchSupported = true;
      for (let i = 0; i < step.count; i++) {
        yield [
          step.keys.subarray(i * keySize, (i + 1) * keySize),
          step.values.subarray(i * this.valueBufferSize, (i + 1) * this.valueBufferSize),
        ];
      }
      if (step.done) return;
      cursor = step.cursor;
    }
  }

  /** Writes many entries in one syscall where supported; returns how many were written. */
  updateMany(entries: readonly (readonly [Buffer, Buffer])[], mode: UpdateMode = 'any'): number {
    if (entries.length === 0) return 0;
    const keys = Buffer.concat(entries.map(([k]) => k));
    const values = Buffer.concat(entries.map(([, v]) => v));
    let written: number;
    try {
      written = this.handle.updateBatch(keys, values, entries.length, UPDATE_FLAGS[mode]);
    } catch (err) {
      // A batch that failed part way may have written some entries.
      this.listener?.changed();
      if (!isUnsupported(err)) throw err;
      for (const [k, v] of entries) this.update(k, v, mode);
      return entries.length;
    }
    this.listener?.changed();
    return written;
  }

  /**
   * Deletes many keys; returns how many were deleted. One syscall per key on
   * purpose: BPF_MAP_DELETE_BATCH stops at the first missing key, and callers
   * pruning state want "delete whatever of these is there".
   */
  deleteMany(keys: readonly Buffer[]): number {
    let deleted = 0;
    for (const key of keys) if (this.delete(key)) deleted++;
    return deleted;
  }

  /**
   * Deletes keys that must all exist, in one syscall (BPF_MAP_DELETE_BATCH).
   * Fails with ENOENT at the first missing key, having deleted the ones before it.
   */
  deleteBatch(keys: readonly Buffer[]): number {
    if (keys.length === 0) return 0;
    try {
      return this.handle.deleteBatch(Buffer.concat(keys), keys.length);
    } finally {
      this.listener?.changed();
    }
  }

  pin(path: string): void {
    this.handle.pin(path);
  }

  close(): void {
    this.listener?.close();
    this.listener = undefined;
    this.handle.close();
  }
}

/** A map whose keys and values go through codecs. Sizes are checked once, here. */
export class TypedMap<K, V> {
  constructor(
    readonly raw: BpfMap,
    private readonly keyCodec: Codec<K>,
    private readonly valueCodec: Codec<V>,
  ) {
    const { keySize, valueSize, name } = raw.info;
    if (raw.perCpu) throw new TypeError(`map ${name} is per-CPU: use PerCpuMap`);
    if (keyCodec.size !== keySize || valueCodec.size !== valueSize) {
      throw new TypeError(
        `map ${name}: codec sizes key=${keyCodec.size} value=${valueCodec.size} ` +
          `do not match the map's key_size=${keySize} value_size=${valueSize}`,
      );
    }
  }

  get(key: K): V | undefined {
    const value = this.raw.lookup(encode(this.keyCodec, key));
    return value && decode(this.valueCodec, value);
  }

  set(key: K, value: V, mode: UpdateMode = 'any'): void {
    this.raw.update(encode(this.keyCodec, key), encode(this.valueCodec, value), mode);
  }

  delete(key: K): boolean {
    return this.raw.delete(encode(this.keyCodec, key));
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.raw.entries()) yield [decode(this.keyCodec, k), decode(this.valueCodec, v)];
  }
}

/** A per-CPU map: each value is one slot per possible CPU. */
export class PerCpuMap<K, V> {
  private readonly slot: number;

  constructor(
    readonly raw: BpfMap,
    private readonly keyCodec: Codec<K>,
    private readonly valueCodec: Codec<V>,
  ) {
    const { keySize, valueSize, name } = raw.info;
    if (!raw.perCpu) throw new TypeError(`map ${name} is not per-CPU: use TypedMap`);
    if (keyCodec.size !== keySize || valueCodec.size !== valueSize) {
      throw new TypeError(
        `map ${name}: codec sizes key=${keyCodec.size} value=${valueCodec.size} ` +
          `do not match the map's key_size=${keySize} value_size=${valueSize}`,
      );
    }
    this.slot = roundUp8(valueSize);
  }

  get cpus(): number {
    return this.raw.valueBufferSize / this.slot;
  }

  /** One value per possible CPU, or undefined if the key is absent. */
  get(key: K): V[] | undefined {
    const value = this.raw.lookup(encode(this.keyCodec, key));
    return value && this.split(value);
  }

  /** Writes the same value into every CPU's slot (e.g. zeroes to reset counters). */
  setAll(key: K, value: V, mode: UpdateMode = 'any'): void {
    const buf = Buffer.alloc(this.raw.valueBufferSize);
    for (let cpu = 0; cpu < this.cpus; cpu++) this.valueCodec.write(buf, cpu * this.slot, value);
    this.raw.update(encode(this.keyCodec, key), buf, mode);
  }

  *entries(): IterableIterator<[K, V[]]> {
    for (const [k, v] of this.raw.entries()) yield [decode(this.keyCodec, k), this.split(v)];
  }

  private split(value: Buffer): V[] {
    return Array.from({ length: this.cpus }, (_, cpu) => this.valueCodec.read(value, cpu * this.slot));
  }
}
