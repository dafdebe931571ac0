// xdpnet_nexthops as UnderlayNexthops writes it: an entry is written only
// when its bytes differ from what the map holds (so a full pass that finds
// nothing changed writes nothing, and an entry changed behind our back is
// repaired), and the writes and deletes are counted for the node status.
// Whoever keeps copies of the entries (the remote MACs' fdb entries:
// fdb-copies.ts) is told of every write and delete at once, through
// onChange().

import { encode, ipv4 } from './codec.js';
import { type VtepNexthop, vtepNexthop } from './layouts.js';
import { type BpfMap, TypedMap } from './maps.js';

export class NexthopMap {
  writes = 0;
  deletes = 0;
  readonly raw: BpfMap;
  private readonly listeners = new Set<(vtep: string) => void>();

  constructor(map: BpfMap | TypedMap<string, VtepNexthop>) {
    this.raw = map instanceof TypedMap ? map.raw : map;
    // Throws unless the map has the shape of xdpnet_nexthops (key: be32 VTEP, value: struct vtep_nexthop).
    new TypedMap(this.raw, ipv4, vtepNexthop);
  }

  /** Calls `listener` with the VTEP after each write or delete of its entry; returns the unsubscribe function. */
  onChange(listener: (vtep: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Makes the VTEP's entry `value`; writes only if it differs. Throws the map's errors (E2BIG when full). */
  set(vtep: string, value: VtepNexthop): void {
    const key = encode(ipv4, vtep);
    const bytes = vtepNexthop.encode(value);
    const current = this.raw.lookup(key);
    if (current?.equals(bytes)) return;
    this.raw.update(key, bytes);
    this.writes++;
    this.changed(vtep);
  }

  /** Removes the VTEP's entry if there is one. */
  delete(vtep: string): void {
    if (!this.raw.delete(encode(ipv4, vtep))) return;
    this.deletes++;
    this.changed(vtep);
  }

  /** Deletes the entries of every VTEP not in `keep`, whoever wrote them. */
  retainOnly(keep: ReadonlySet<string>): void {
    const stale = [...this.raw.keys()].filter((k) => !keep.has(ipv4.read(k, 0)));
    for (const k of stale) {
      if (!this.raw.delete(k)) continue;
      this.deletes++;
      this.changed(ipv4.read(k, 0));
    }
  }

  private changed(vtep: string): void {
    for (const listener of this.listeners) listener(vtep);
  }
}
