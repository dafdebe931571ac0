// Interface names <-> ifindexes, as this network namespace has them now.
//
// The tables name interfaces; the maps hold ifindexes. The encoders need a
// synchronous answer, so the answers come from a cache filled by rtnetlink:
// refreshed whole at each full-pass list() (so a full pass sees the world as
// it is) and on a miss (an interface that appeared since), and looked up
// afresh for a port being set up (attaching to a stale ifindex would fail or,
// worse, hit another interface).

import { type LinkInfo, RtNetlink } from './rtnetlink.js';

export class InterfaceIndex {
  private readonly byName = new Map<string, number>();
  private readonly byIndex = new Map<number, string>();
  /**
   * The request in flight: one at a time, because two dumps on one netlink
   * socket interleave and the kernel refuses the second (EBUSY).
   */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly rt: RtNetlink) {}

  /** Opens an rtnetlink socket in the calling process's namespace and reads every link. */
  static async open(): Promise<InterfaceIndex> {
    const index = new InterfaceIndex(RtNetlink.open());
    try {
      await index.refresh();
    } catch (err) {
      index.close();
      throw err;
    }
    return index;
  }

  /** Replaces the cache with a dump of every link. */
  async refresh(): Promise<void> {
    const links = await this.serial(() => this.rt.links());
    this.byName.clear();
    this.byIndex.clear();
    for (const l of links) this.remember(l.name, l.index);
  }

  /** Refreshes once if any of `names` is unknown (it may have appeared since). */
  async ensure(names: Iterable<string>): Promise<void> {
    for (const name of names) {
      if (!this.byName.has(name)) {
        await this.refresh();
        return;
      }
    }
  }

  /** The current ifindex of `name`, asked of the kernel now (the cache follows). */
  async lookup(name: string): Promise<number | undefined> {
    return (await this.lookupLink(name))?.index;
  }

  /** The link called `name` as the kernel has it now (the cache follows). */
  async lookupLink(name: string): Promise<LinkInfo | undefined> {
    const link = await this.serial(() => this.rt.linkByName(name));
    const known = this.byName.get(name);
    if (known !== undefined) {
      this.byName.delete(name);
      if (this.byIndex.get(known) === name) this.byIndex.delete(known);
    }
    if (!link) return undefined;
    this.remember(link.name, link.index);
    return link;
  }

  /** Cached: the ifindex of `name`, undefined if none is known. */
  ifindexOf(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** Cached: the name of `ifindex`, undefined if none is known. */
  nameOf(ifindex: number): string | undefined {
    return this.byIndex.get(ifindex);
  }

  close(): void {
    this.rt.close();
  }

  private serial<T>(request: () => Promise<T>): Promise<T> {
    const result = this.queue.then(request, request);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private remember(name: string, index: number): void {
    // A rename or a recreated interface: drop what the other side still says.
    const oldIndex = this.byName.get(name);
    if (oldIndex !== undefined && oldIndex !== index) this.byIndex.delete(oldIndex);
    const oldName = this.byIndex.get(index);
    if (oldName !== undefined && oldName !== name) this.byName.delete(oldName);
    this.byName.set(name, index);
    this.byIndex.set(index, name);
  }
}
