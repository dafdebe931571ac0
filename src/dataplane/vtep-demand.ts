// The remote VTEPs whose underlay next hops are wanted, from several sources
// at once, given to the one UnderlayNexthops (nexthops.ts).
//
//   const demand = new VtepDemand(underlayNexthops);
//   new OverlayTables(node, demand.source('floodList'));   // the flood lists' VTEPs
//   new RouterTables(node, demand.source('routes'));       // the gateway nodes of external routes
//
// Each source gets a handle shaped like UnderlayNexthops' own (`want`,
// `retainOnly`) and uses it as if it were alone: want() what it writes, and
// retainOnly(everything it holds) after reading its whole table. The
// underlay's retainOnly is authoritative (a VTEP it is not given loses its
// next hop at once), so one source's full list must not drop another's
// VTEPs:
//
//   - want() is forwarded at once;
//   - a source's retainOnly(set) replaces what it retains; what is forwarded
//     is the union, over every source, of its latest retained set and what
//     it has wanted since;
//   - nothing is retained before every source has called retainOnly once:
//     until then a source that has not read its table yet may still hold
//     VTEPs (left in the map by the previous run) that it will claim when it
//     does, and dropping them meanwhile would stop forwarding to them for a
//     moment after every restart. Until then only wants are forwarded, as
//     UnderlayNexthops itself does before its first retainOnly.
//
// A source is registered before it first reports; the set of sources is
// fixed once the tables are built.

import type { NexthopSink } from './overlay-tables.js';

interface Source {
  readonly name: string;
  /** Its latest retainOnly; undefined until its first. */
  retained: ReadonlySet<string> | undefined;
  /** What it has wanted since that retainOnly (since start before it). */
  readonly since: Set<string>;
}

export class VtepDemand {
  private readonly sources = new Map<string, Source>();

  constructor(private readonly target: NexthopSink) {}

  /** A handle for one source: named once, for diagnostics and to catch a double registration. */
  source(name: string): NexthopSink {
    if (this.sources.has(name)) throw new Error(`VTEP demand source ${JSON.stringify(name)} is registered twice`);
    const s: Source = { name, retained: undefined, since: new Set() };
    this.sources.set(name, s);
    return {
      want: (vteps) => {
        // Forwarded first: it validates, and throws before anything is remembered.
        this.target.want(vteps);
        for (const ip of vteps) s.since.add(ip);
      },
      retainOnly: (vteps) => {
        s.retained = new Set(vteps);
        s.since.clear();
        this.forwardRetained();
      },
    };
  }

  /** Every VTEP some source holds now (undefined while a source has not listed yet). */
  wanted(): Set<string> | undefined {
    const union = new Set<string>();
    for (const s of this.sources.values()) {
      if (!s.retained) return undefined;
      for (const ip of s.retained) union.add(ip);
      for (const ip of s.since) union.add(ip);
    }
    return union;
  }

  private forwardRetained(): void {
    const union = this.wanted();
    if (union) this.target.retainOnly(union);
  }
}
