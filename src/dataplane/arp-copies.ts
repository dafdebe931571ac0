// The copies xdpnet_arp entries carry of their MAC's xdpnet_fdb entry (on
// the same network), so that the router finds where a neighbour lives
// without an FDB lookup per packet (bpf/lib/overlay_maps.h struct
// arp_entry, bpf/lib/route.h neighbor_fdb).
//
// As fdb-copies.ts: a copy is only ever right or absent (the programs then
// look the fdb entry up). Whoever writes or deletes an fdb entry calls
// fdbChanged() at once (OverlayTables does, for every xdpnet_fdb write of
// its own, the fdb entries' own copies included), which rewrites the ARP
// entries of that (VNI, MAC), found through an index kept here rather than
// by walking the map; an ARP entry written now takes its copy from the map
// (fdbOf). repair() puts right what a daemon stopped between two writes
// left wrong.

import type { HookLogger } from './hook-links.js';
import { KeyIndex } from './fdb-copies.js';
import { type MapWrite, type RawEntry, arpFdbKeyOf, withArpFdb } from './overlay-encode.js';
import type { MapHandle } from './pinned-maps.js';

const hex = (b: Buffer): string => b.toString('hex');

export interface ArpCopiesOptions {
  arp: MapHandle;
  fdb: MapHandle;
  /** Writes one entry (the owner's write, with its error mapping). */
  write: (w: MapWrite) => void;
  logger: HookLogger;
}

export class ArpCopies {
  /** ARP keys by the fdb key (hex) their copy is of. */
  private index: KeyIndex<string> | undefined;

  constructor(private readonly opts: ArpCopiesOptions) {}

  /** The copy for an ARP entry of (`vni`, `mac`) written now: the fdb entry there (undefined: none). */
  fdbOf(fdbKey: Buffer): Buffer | undefined {
    return this.opts.fdb.lookup(fdbKey);
  }

  /** Records what the ARP entry `key` now holds (`value`; undefined: deleted). */
  written(key: Buffer, value: Buffer | undefined): void {
    this.indexes().set(key, value === undefined ? undefined : hex(arpFdbKeyOf(key, value)));
  }

  /** Gives every ARP entry of the (VNI, MAC) of fdb key `fdbKey` its copy of `fdbValue` (the entry now there; undefined: none). */
  fdbChanged(fdbKey: Buffer, fdbValue: Buffer | undefined): void {
    const index = this.indexes();
    const k = hex(fdbKey);
    for (const key of index.keys(k)) {
      const current = this.opts.arp.lookup(key);
      if (!current || hex(arpFdbKeyOf(key, current)) !== k) {
        // Rewritten or deleted behind the index's back: follow it.
        index.set(key, current ? hex(arpFdbKeyOf(key, current)) : undefined);
        continue;
      }
      const value = withArpFdb(current, fdbValue);
      if (!value.equals(current)) this.opts.write({ map: 'xdpnet_arp', key, value });
    }
  }

  /**
   * Rebuilds the index from `entries` (all of xdpnet_arp) and puts right
   * every copy that is wrong; `entries` is updated to what the map holds.
   */
  repair(entries: RawEntry[]): void {
    const index = new KeyIndex<string>();
    this.index = index;
    for (const e of entries) {
      const fdbKey = arpFdbKeyOf(e.key, e.value);
      index.set(e.key, hex(fdbKey));
      const value = withArpFdb(e.value, this.fdbOf(fdbKey));
      if (value.equals(e.value)) continue;
      this.opts.logger.warn({ key: hex(e.key) }, 'arp entry with a stale copy of its MAC’s fdb entry: rewritten');
      this.opts.write({ map: 'xdpnet_arp', key: e.key, value });
      e.value = value;
    }
  }

  private indexes(): KeyIndex<string> {
    if (!this.index) {
      const index = new KeyIndex<string>();
      for (const [key, value] of this.opts.arp.entries()) index.set(Buffer.from(key), hex(arpFdbKeyOf(Buffer.from(key), Buffer.from(value))));
      this.index = index;
    }
    return this.index;
  }
}
