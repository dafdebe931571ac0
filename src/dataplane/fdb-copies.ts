// The copies xdpnet_fdb entries carry so that the fast path saves a hash
// lookup per frame (bpf/lib/overlay_maps.h struct fdb_entry):
//
// - a local MAC's entry: a copy of the port entry on its interface
//   (xdpnet_ports), for delivering into the port;
// - a remote MAC's entry: a copy of its VTEP's underlay next hop
//   (xdpnet_nexthops), for encapsulating to it;
// - a router MAC's entry: a copy of its router (xdpnet_routers: MAC and
//   admin state), for routing, of its external side (xdpnet_snat: what the
//   programs read of it), for routing out through its gateway, and of the
//   MACs of its external subnet's gateway (xdpnet_ext_nexthops), for
//   sending there.
//
// A copy is only ever right or absent (the programs then look the original
// up), never stale for longer than it takes this process to rewrite it:
// whoever writes an original calls portChanged()/nexthopChanged()/
// routerChanged() (the router's or its external side's entry)/
// extNexthopChanged() at once, and those rewrite every entry holding a copy,
// found through an index kept here (by interface, by VTEP, by router, by
// external next hop)
// rather than by walking the map. repair() puts right what a daemon stopped
// between two writes left wrong.

import type { HookLogger } from './hook-links.js';
import { encode, ipv4 } from './codec.js';
import {
  type FdbTarget,
  type MapWrite,
  type RawEntry,
  fdbTargetOf,
  portMapKey,
  snatGatewayKeyOf,
  uuidBytes,
  withFdbNexthop,
  withFdbPort,
  withFdbRouter,
} from './overlay-encode.js';
import { extNexthopMapKey } from './snat-encode.js';
import type { MapHandle } from './pinned-maps.js';

const hex = (b: Buffer): string => b.toString('hex');

/** Keys grouped by what their entries copy from, and each key's group. */
export class KeyIndex<G> {
  private readonly byGroup = new Map<G, Map<string, Buffer>>();
  private readonly groupOf = new Map<string, G>();

  set(key: Buffer, group: G | undefined): void {
    const k = hex(key);
    const before = this.groupOf.get(k);
    if (before !== undefined && before !== group) {
      this.byGroup.get(before)?.delete(k);
      this.groupOf.delete(k);
    }
    if (group === undefined) return;
    this.groupOf.set(k, group);
    let keys = this.byGroup.get(group);
    if (!keys) this.byGroup.set(group, (keys = new Map()));
    keys.set(k, Buffer.from(key));
  }

  keys(group: G): Buffer[] {
    return [...(this.byGroup.get(group)?.values() ?? [])];
  }
}

/** The fdb keys by what their copies are of: interface, VTEP, router id, gateway. */
interface Indexes {
  local: KeyIndex<number>;
  remote: KeyIndex<string>;
  router: KeyIndex<string>;
  /** Router MACs by their gateway's external next hop ("ifindex/ip"). */
  gateway: KeyIndex<string>;
}

const newIndexes = (): Indexes => ({ local: new KeyIndex<number>(), remote: new KeyIndex<string>(), router: new KeyIndex<string>(), gateway: new KeyIndex<string>() });

export interface FdbCopiesOptions {
  fdb: MapHandle;
  ports: MapHandle;
  /** xdpnet_nexthops; without it remote entries carry no copy. */
  nexthops: MapHandle | undefined;
  /** xdpnet_routers; without it router entries carry no copy of the router. */
  routers?: MapHandle | undefined;
  /** xdpnet_snat; without it router entries carry no copy of the router's external side. */
  snat?: MapHandle | undefined;
  /** xdpnet_ext_nexthops; without it router entries carry no copy of their gateway's MACs. */
  extNexthops?: MapHandle | undefined;
  /** Writes one entry (the owner's write, with its error mapping). */
  write: (w: MapWrite) => void;
  logger: HookLogger;
}

export class FdbCopies {
  private index: Indexes | undefined;

  constructor(private readonly opts: FdbCopiesOptions) {}

  /** The copy of the port entry on `ifindex` for a local MAC's entry written now (undefined: none). */
  portOf(ifindex: number | undefined): Buffer | undefined {
    return ifindex === undefined ? undefined : this.opts.ports.lookup(portMapKey(ifindex));
  }

  /** The copy of VTEP `vtep`'s next hop for a remote MAC's entry written now (undefined: none). */
  nexthopOf(vtep: string | undefined): Buffer | undefined {
    return vtep === undefined || !this.opts.nexthops ? undefined : this.opts.nexthops.lookup(encode(ipv4, vtep));
  }

  /** The copy of router `routerId` for a router MAC's entry written now (undefined: none). */
  routerOf(routerId: string | undefined): Buffer | undefined {
    return routerId === undefined || !this.opts.routers ? undefined : this.opts.routers.lookup(uuidBytes(routerId));
  }

  /** The copy of router `routerId`'s external side for a router MAC's entry written now (undefined: none). */
  snatOf(routerId: string | undefined): Buffer | undefined {
    return routerId === undefined || !this.opts.snat ? undefined : this.opts.snat.lookup(uuidBytes(routerId));
  }

  /** The copy of the gateway's next hop for a router MAC's entry with the external side `snat` (undefined: none). */
  gatewayOf(snat: Buffer | undefined): Buffer | undefined {
    const key = snat === undefined || !this.opts.extNexthops ? undefined : snatGatewayKeyOf(snat);
    return key === undefined ? undefined : this.opts.extNexthops!.lookup(extNexthopMapKey(key));
  }

  /** Records what the fdb entry `key` now holds (`value`; undefined: deleted). */
  written(key: Buffer, value: Buffer | undefined): void {
    this.indexEntry(this.indexes(), key, value === undefined ? undefined : fdbTargetOf(value));
  }

  /** Gives every local MAC on `ifindex` its copy of `port` (the port entry now there; undefined: none). */
  portChanged(ifindex: number, port: Buffer | undefined): void {
    this.rewrite(this.indexes().local.keys(ifindex), (t) => t?.kind === 'local' && t.ifindex === ifindex, (v, key) => withFdbPort(key, v, port));
  }

  /** Gives every remote MAC behind `vtep` its copy of the VTEP's next hop as xdpnet_nexthops holds it now. */
  nexthopChanged(vtep: string): void {
    const nexthop = this.nexthopOf(vtep);
    this.rewrite(this.indexes().remote.keys(vtep), (t) => t?.kind === 'remote' && t.vtep === vtep, (v) => withFdbNexthop(v, nexthop));
  }

  /** Gives every router MAC of `routerId` its copies of the router and its external side as xdpnet_routers and xdpnet_snat hold them now. */
  routerChanged(routerId: string): void {
    const router = this.routerOf(routerId);
    const snat = this.snatOf(routerId);
    const gateway = this.gatewayOf(snat);
    this.rewrite(this.indexes().router.keys(routerId), (t) => t?.kind === 'router' && t.routerId === routerId, (v) => withFdbRouter(v, router, snat, gateway));
  }

  /** Gives every router MAC whose gateway is (`ifindex`, `ip`) its copy of that next hop as xdpnet_ext_nexthops holds it now. */
  extNexthopChanged(ifindex: number, ip: string): void {
    const routers = new Set<string>();
    for (const key of this.indexes().gateway.keys(`${ifindex}/${ip}`)) {
      const current = this.opts.fdb.lookup(key);
      const target = current ? fdbTargetOf(current) : undefined;
      if (target?.kind === 'router') routers.add(target.routerId);
    }
    for (const routerId of routers) this.routerChanged(routerId);
  }

  /**
   * Rebuilds the index from `entries` (all of xdpnet_fdb) and puts right
   * every copy that is wrong; `entries` is updated to what the map holds.
   */
  repair(entries: RawEntry[]): void {
    const index = newIndexes();
    this.index = index;
    const ports = new Map<number, Buffer | undefined>();
    const nexthops = new Map<string, Buffer | undefined>();
    const routers = new Map<string, { router: Buffer | undefined; snat: Buffer | undefined; gateway: Buffer | undefined }>();
    for (const e of entries) {
      const target = fdbTargetOf(e.value);
      this.indexEntry(index, e.key, target);
      let value: Buffer;
      if (target?.kind === 'local') {
        if (!ports.has(target.ifindex)) ports.set(target.ifindex, this.portOf(target.ifindex));
        value = withFdbPort(e.key, e.value, ports.get(target.ifindex));
      } else if (target?.kind === 'remote') {
        if (!nexthops.has(target.vtep)) nexthops.set(target.vtep, this.nexthopOf(target.vtep));
        value = withFdbNexthop(e.value, nexthops.get(target.vtep));
      } else if (target?.kind === 'router') {
        if (!routers.has(target.routerId)) {
          const snat = this.snatOf(target.routerId);
          routers.set(target.routerId, { router: this.routerOf(target.routerId), snat, gateway: this.gatewayOf(snat) });
        }
        const r = routers.get(target.routerId)!;
        value = withFdbRouter(e.value, r.router, r.snat, r.gateway);
      } else {
        continue;
      }
      if (value.equals(e.value)) continue;
      this.opts.logger.warn({ target }, 'fdb entry with a stale copy of its port, next hop, router, router external side or gateway: rewritten');
      this.opts.write({ map: 'xdpnet_fdb', key: e.key, value });
      e.value = value;
      this.indexEntry(index, e.key, fdbTargetOf(value));
    }
  }

  private rewrite(keys: Buffer[], stillOurs: (t: FdbTarget) => boolean, withCopy: (value: Buffer, key: Buffer) => Buffer): void {
    const index = this.indexes();
    for (const key of keys) {
      const current = this.opts.fdb.lookup(key);
      const target = current ? fdbTargetOf(current) : undefined;
      if (!current || !stillOurs(target)) {
        // Rewritten or deleted behind the index's back: follow it.
        this.indexEntry(index, key, target);
        continue;
      }
      const value = withCopy(current, key);
      if (value.equals(current)) continue;
      this.opts.write({ map: 'xdpnet_fdb', key, value });
      // A router's copy names its gateway: the index follows it.
      this.indexEntry(index, key, fdbTargetOf(value));
    }
  }

  private indexes(): Indexes {
    if (!this.index) {
      const index = newIndexes();
      for (const [key, value] of this.opts.fdb.entries()) this.indexEntry(index, Buffer.from(key), fdbTargetOf(Buffer.from(value)));
      this.index = index;
    }
    return this.index;
  }

  private indexEntry(index: Indexes, key: Buffer, target: FdbTarget): void {
    index.local.set(key, target?.kind === 'local' ? target.ifindex : undefined);
    index.remote.set(key, target?.kind === 'remote' ? target.vtep : undefined);
    index.router.set(key, target?.kind === 'router' ? target.routerId : undefined);
    index.gateway.set(key, target?.kind === 'router' ? target.gateway : undefined);
  }
}
