// StatusBook: the rules that decide PENDING / ACTIVE / DOWN / ERROR and when a
// pass may settle a resource. Tested directly because a pass and a change can
// only be made to interleave exactly so here.
import { describe, expect, it } from 'vitest';
import type { Network, Snapshot } from '../../src/model/types.js';
import { type StatusEvent, StatusBook } from '../../src/reconciler/status.js';

const NET = '00000000-0000-4000-8000-000000000101';
const network = (adminStateUp = true): Network => ({
  id: NET,
  name: '',
  type: 'vxlan',
  segmentationId: 1001,
  physicalNetwork: null,
  mtu: 1450,
  external: false,
  adminStateUp,
});
const snap = (...networks: Network[]): Snapshot => ({ networks, subnets: [], ports: [], routers: [], floatingIps: [] });
const ref = { kind: 'network', id: NET } as const;

describe('StatusBook', () => {
  it('a pass settles only resources whose latest change it covered', () => {
    const book = new StatusBook();
    book.changed(ref, 4, false);
    book.changed(ref, 5, false); // committed while the pass for revision 4 ran
    book.settle(snap(network()), 4, new Map());
    expect(book.get('network', NET)).toEqual({ state: 'PENDING', code: '', message: '', revision: 5 });
    book.settle(snap(network()), 5, new Map());
    expect(book.get('network', NET)).toEqual({ state: 'ACTIVE', code: '', message: '', revision: 5 });
  });

  it('ERROR (first failure) over DOWN over ACTIVE', () => {
    const book = new StatusBook();
    book.changed(ref, 1, false);
    const failures = new Map([[`network/${NET}`, { code: 'RESOURCE_EXHAUSTED' as const, message: 'networks is full' }]]);
    book.settle(snap(network(false)), 1, failures);
    expect(book.get('network', NET)).toMatchObject({ state: 'ERROR', code: 'RESOURCE_EXHAUSTED', message: 'networks is full' });
    book.settle(snap(network(false)), 1, new Map());
    expect(book.get('network', NET)?.state).toBe('DOWN');
  });

  it('a resource deleted after the pass began is not brought back by it; one created after it survives it', () => {
    const book = new StatusBook();
    book.changed(ref, 1, false);
    book.changed(ref, 2, true);
    book.settle(snap(network()), 1, new Map()); // the pass still saw it
    expect(book.get('network', NET)).toBeUndefined();
    book.changed(ref, 3, false); // re-created
    book.settle(snap(), 2, new Map()); // a pass that saw it deleted
    expect(book.get('network', NET)?.state).toBe('PENDING');
    book.settle(snap(network()), 3, new Map());
    expect(book.get('network', NET)?.state).toBe('ACTIVE');
  });

  it('resources seeded at start keep their own stored revision, not the state\'s', () => {
    const book = new StatusBook();
    book.seed(snap(network()), () => 5);
    expect(book.get('network', NET)).toMatchObject({ state: 'PENDING', revision: 5 });
    book.settle(snap(network()), 7, new Map());
    expect(book.get('network', NET)).toMatchObject({ state: 'ACTIVE', revision: 5 });
  });

  it('announces changes only, and a throwing listener does not stop the others', () => {
    const errors: unknown[] = [];
    const book = new StatusBook((err) => errors.push(err));
    const events: StatusEvent[] = [];
    book.on(() => {
      throw new Error('bad listener');
    });
    const off = book.on((e) => events.push(e));
    book.changed(ref, 1, false);
    book.settle(snap(network()), 1, new Map());
    book.settle(snap(network()), 1, new Map()); // nothing new
    expect(events.map((e) => e.status.state)).toEqual(['PENDING', 'ACTIVE']);
    expect(errors).toHaveLength(2);
    off();
    book.changed(ref, 2, false);
    expect(events).toHaveLength(2);
  });
});
