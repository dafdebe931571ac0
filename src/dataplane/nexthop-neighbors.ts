// Making the kernel resolve the underlay next hops, and keep them resolved.
//
// The encapsulated traffic never goes through the kernel's stack (the XDP
// program redirects it), so nothing would ever make the kernel ARP for a
// VTEP's next hop, or re-confirm a stale one. Two ways to get that:
//
// - 'managed' (preferred, Linux 5.16+): the entry is created with
//   NTF_EXT_MANAGED. The kernel resolves it at once and then keeps it
//   resolved by itself: it re-probes it when it goes stale and retries when
//   it fails (every net.ipv4.neigh.*.interval_probe_time_ms), with no
//   traffic needing it. This is what Cilium does for its node neighbours.
// - 'use' (fallback): the entry is created or touched with NTF_USE, which
//   starts one resolution (or one re-confirmation of a stale entry) as if a
//   packet were waiting. One kick per call, so the caller repeats it on its
//   periodic refresh for every entry that is not confirmed.
//
// The mode starts as asked; the first managed entry is read back, and a
// kernel that ignored NTF_EXT_MANAGED (older kernels drop unknown neighbour
// attributes silently) or refused it switches this keeper to 'use'.
//
// Every entry made here carries NDA_PROTOCOL = XDPNET_NEIGH_PROTOCOL, so
// `release` only ever deletes entries we made (or took over), and a
// restarted daemon finds the ones its predecessor left. PERMANENT and NOARP
// entries (configured by an administrator or a driver) are used as they are
// and never touched: a NTF_USE/managed update would drop NUD_PERMANENT.

import type { NeighborEntry } from './netlink-neighbor.js';
import { NetlinkError, type RtNetlink } from './rtnetlink.js';
import type { NetlinkLogger } from './netlink-events.js';

/** NDA_PROTOCOL of our entries (`ip neigh` shows "proto 120"); not a registered rt_protos value. */
export const XDPNET_NEIGH_PROTOCOL = 120;

export type ResolutionMode = 'managed' | 'use';

/** Entries whose state must not be changed by us. */
function isStatic(entry: NeighborEntry | undefined): boolean {
  return entry !== undefined && (entry.state.includes('permanent') || entry.state.includes('noarp'));
}

export class NeighborKeeper {
  private managedConfirmed = false;

  constructor(
    private readonly nl: RtNetlink,
    private readonly log: NetlinkLogger,
    private currentMode: ResolutionMode,
  ) {}

  get mode(): ResolutionMode {
    return this.currentMode;
  }

  /**
   * Makes sure the kernel resolves the neighbour `ip` on `ifindex` and keeps
   * it resolved. `entry` is its current state (undefined: none). The outcome
   * arrives later, as neighbour events or on the next read.
   */
  async ensure(ifindex: number, ip: string, entry: NeighborEntry | undefined): Promise<void> {
    if (isStatic(entry)) return;
    const target = { ifindex, ip, protocol: XDPNET_NEIGH_PROTOCOL };
    if (this.currentMode === 'managed') {
      if (entry?.managed && entry.protocol === XDPNET_NEIGH_PROTOCOL) return;
      try {
        await this.nl.manageNeighbor(target);
      } catch (err) {
        if (!(err instanceof NetlinkError) || !['EINVAL', 'EOPNOTSUPP'].includes(err.code)) throw err;
        this.fallBack(`the kernel refused a managed neighbour (${err.code})`);
      }
      if (this.currentMode === 'managed' && !this.managedConfirmed) {
        const back = await this.nl.neighborEntry(ifindex, ip);
        if (back && !back.managed) this.fallBack('the kernel ignored NTF_EXT_MANAGED (Linux < 5.16)');
        else if (back) this.managedConfirmed = true;
      }
      if (this.currentMode === 'managed') return;
    }
    if (entry?.valid && !entry.state.includes('stale')) return;
    await this.nl.useNeighbor(target);
  }

  /**
   * For the periodic refresh: in 'use' mode, kicks every entry that is not
   * confirmed (stale, failed, absent) so the kernel checks it again. Managed
   * entries need nothing: the kernel does it.
   */
  async kick(ifindex: number, ip: string, entry: NeighborEntry | undefined): Promise<void> {
    if (this.currentMode === 'managed') return this.ensure(ifindex, ip, entry);
    if (isStatic(entry) || entry?.state.includes('reachable')) return;
    await this.nl.useNeighbor({ ifindex, ip, protocol: XDPNET_NEIGH_PROTOCOL });
  }

  /** Deletes the entry if it is one of ours; a missing one is fine. */
  async release(ifindex: number, ip: string): Promise<void> {
    const entry = await this.nl.neighborEntry(ifindex, ip);
    if (!entry || entry.protocol !== XDPNET_NEIGH_PROTOCOL || isStatic(entry)) return;
    try {
      await this.nl.deleteNeighbor({ ifindex, ip });
    } catch (err) {
      if (!(err instanceof NetlinkError) || err.code !== 'ENOENT') throw err;
    }
  }

  /** Our entries on `ifindex` that nobody needs any more: every entry with our protocol whose address is not in `keep`. */
  async orphans(ifindex: number, keep: ReadonlySet<string>): Promise<NeighborEntry[]> {
    const all = await this.nl.neighborEntries(ifindex);
    return all.filter((e) => e.protocol === XDPNET_NEIGH_PROTOCOL && !keep.has(e.ip) && !isStatic(e));
  }

  private fallBack(why: string): void {
    if (this.currentMode === 'use') return;
    this.currentMode = 'use';
    this.log.warn({ why }, 'underlay next hops: no managed neighbours; resolution is kicked on every refresh instead');
  }
}
