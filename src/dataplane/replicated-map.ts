// A map every object has its own copy of, kept equal by writing each change
// to every copy; one copy is pinned.
//
// Why: libbpf 1.1 (Debian bookworm's) cannot reuse a pinned DEVMAP or
// DEVMAP_HASH. The kernel sets BPF_F_RDONLY_PROG on such maps and reports
// it; the map definition in the object does not have it (the kernel refuses
// it at creation), so libbpf's compatibility check fails and the load fails
// (libbpf 1.3 ignores that flag for device maps; the addon has no
// bpf_map__reuse_fd). So each object loads a fresh copy, and:
//   - the first copy starts with the entries of the copy a previous daemon
//     pinned (its programs use that one until they are swapped), then is
//     pinned in its place, for tools and the next daemon;
//   - every later copy starts with the first copy's entries;
//   - update/delete go to every copy; reads come from the first.
// Every write goes through this object: a write to the pinned copy alone
// (BpfMap.openPinned) would reach only the programs of one object.

import { BpfMap } from './maps.js';
import type { UpdateMode } from './maps.js';
import { BpfError, type NativeMapInfo, native } from './native.js';

/** What the tables use of a map, whether shared through its pin or replicated. */
export interface MapHandle {
  readonly info: NativeMapInfo;
  lookup(key: Buffer): Buffer | undefined;
  update(key: Buffer, value: Buffer, mode?: UpdateMode): void;
  /** False when the key was not there. */
  delete(key: Buffer): boolean;
  keys(): IterableIterator<Buffer>;
  entries(): IterableIterator<[Buffer, Buffer]>;
}

export class ReplicatedMap implements MapHandle {
  private readonly copies: BpfMap[] = [];

  constructor(
    readonly name: string,
    readonly pinPath: string,
  ) {}

  get info(): NativeMapInfo {
    return this.first().info;
  }

  /** Takes ownership of one object's copy, filling it as described above. */
  addCopy(copy: BpfMap): void {
    if (this.copies.length === 0) {
      this.seedFromPin(copy);
      unpinIfThere(this.pinPath);
      copy.pin(this.pinPath);
    } else {
      for (const [k, v] of this.first().entries()) copy.update(k, v);
    }
    this.copies.push(copy);
  }

  lookup(key: Buffer): Buffer | undefined {
    return this.first().lookup(key);
  }

  update(key: Buffer, value: Buffer, mode: UpdateMode = 'any'): void {
    for (const c of this.copies) c.update(key, value, mode);
  }

  delete(key: Buffer): boolean {
    let found = false;
    for (const c of this.copies) found = c.delete(key) || found;
    return found;
  }

  keys(): IterableIterator<Buffer> {
    return this.first().keys();
  }

  entries(): IterableIterator<[Buffer, Buffer]> {
    return this.first().entries();
  }

  close(): void {
    for (const c of this.copies) c.close();
    this.copies.length = 0;
  }

  private first(): BpfMap {
    const c = this.copies[0];
    if (!c) throw new Error(`map ${this.name}: no object has been loaded with it yet`);
    return c;
  }

  /** The entries of the copy a previous daemon pinned, if any (an ifindex gone since is refused by the kernel: skipped). */
  private seedFromPin(copy: BpfMap): void {
    let old: BpfMap;
    try {
      old = BpfMap.openPinned(this.pinPath);
    } catch (err) {
      if (err instanceof BpfError && err.code === 'ENOENT') return;
      throw err;
    }
    try {
      for (const [k, v] of old.entries()) {
        try {
          copy.update(k, v);
        } catch (err) {
          if (!(err instanceof BpfError && (err.code === 'EINVAL' || err.code === 'ENODEV'))) throw err;
        }
      }
    } finally {
      old.close();
    }
  }
}

function unpinIfThere(path: string): void {
  try {
    native().unpin(path);
  } catch (err) {
    if (!(err instanceof BpfError && err.code === 'ENOENT')) throw err;
  }
}
