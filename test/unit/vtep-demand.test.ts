// VtepDemand: several sources of VTEPs over one UnderlayNexthops-shaped
// sink; one source's full list never drops another's VTEPs, and nothing is
// retained before every source has listed once.
import { describe, expect, it } from 'vitest';
import { VtepDemand } from '../../src/dataplane/vtep-demand.js';

class RecordingSink {
  readonly calls: (['want', string[]] | ['retainOnly', string[]])[] = [];
  want(vteps: readonly string[]): void {
    for (const ip of vteps) if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new TypeError(`${ip} is not an IPv4 address`);
    this.calls.push(['want', [...vteps]]);
  }
  retainOnly(vteps: ReadonlySet<string>): void {
    this.calls.push(['retainOnly', [...vteps].sort()]);
  }
  lastRetained(): string[] | undefined {
    return this.calls.filter((c) => c[0] === 'retainOnly').at(-1)?.[1];
  }
}

describe('VtepDemand', () => {
  it('forwards want() at once, from every source', () => {
    const sink = new RecordingSink();
    const demand = new VtepDemand(sink);
    const flood = demand.source('floodList');
    const routes = demand.source('routes');
    flood.want(['192.0.2.2', '192.0.2.3']);
    routes.want(['192.0.2.9']);
    expect(sink.calls).toEqual([
      ['want', ['192.0.2.2', '192.0.2.3']],
      ['want', ['192.0.2.9']],
    ]);
  });

  it('retains nothing until every source has listed once (a restart keeps the other sources’ next hops)', () => {
    const sink = new RecordingSink();
    const demand = new VtepDemand(sink);
    const flood = demand.source('floodList');
    const routes = demand.source('routes');
    routes.retainOnly(new Set(['192.0.2.9']));
    expect(sink.lastRetained()).toBeUndefined();
    expect(demand.wanted()).toBeUndefined();
    flood.retainOnly(new Set(['192.0.2.2']));
    expect(sink.lastRetained()).toEqual(['192.0.2.2', '192.0.2.9']);
  });

  it('one source’s full list keeps the other’s retained set and its wants since', () => {
    const sink = new RecordingSink();
    const demand = new VtepDemand(sink);
    const flood = demand.source('floodList');
    const routes = demand.source('routes');
    flood.retainOnly(new Set(['192.0.2.2', '192.0.2.3']));
    routes.retainOnly(new Set(['192.0.2.9']));
    routes.want(['192.0.2.10']); // a new external route, after the routes' last list
    flood.retainOnly(new Set(['192.0.2.2'])); // 192.0.2.3 gone from every flood list
    expect(sink.lastRetained()).toEqual(['192.0.2.10', '192.0.2.2', '192.0.2.9']);
    // The routes' next list no longer has 192.0.2.9 (and has 192.0.2.10): its wants since are folded in.
    routes.retainOnly(new Set(['192.0.2.10']));
    expect(sink.lastRetained()).toEqual(['192.0.2.10', '192.0.2.2']);
    // A VTEP both hold stays while either does.
    flood.want(['192.0.2.10']);
    routes.retainOnly(new Set());
    expect(sink.lastRetained()).toEqual(['192.0.2.10', '192.0.2.2']);
    flood.retainOnly(new Set(['192.0.2.2']));
    expect(sink.lastRetained()).toEqual(['192.0.2.2']);
  });

  it('a want the sink refuses is not remembered; a source registered twice is an error', () => {
    const sink = new RecordingSink();
    const demand = new VtepDemand(sink);
    const only = demand.source('routes');
    expect(() => only.want(['not-an-ip'])).toThrow(TypeError);
    only.retainOnly(new Set());
    expect(demand.wanted()).toEqual(new Set());
    expect(() => demand.source('routes')).toThrow(/registered twice/);
  });
});
