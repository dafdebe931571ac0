// The conntrack collector's decisions (src/dataplane/conntrack-gc.ts) on an
// in-memory table written with the daemon's own encoder (snat-encode.ts):
// partner keys as the programs compute them, expiry by state with both
// halves combined, orphans, zones no router holds, the delete order (OUT
// first), and the counters. The real map is walked end to end by
// test/e2e/snat-traffic.test.ts.
import { describe, expect, it } from 'vitest';
import { ConntrackGc, type ConntrackMap, DEFAULT_TIMEOUTS, inKeyOfOut, outKeyOfIn } from '../../src/dataplane/conntrack-gc.js';
import { NAT_F_REPLIED, NAT_F_TCP_ESTABLISHED, NAT_F_TCP_FIN, NAT_F_TCP_RST, NAT_F_TCP_SYN } from '../../src/dataplane/layouts.js';
import { type NatConnection, decodeNatHalf, encodeNatHalf, natKeys } from '../../src/dataplane/snat-encode.js';

const S = 1_000_000_000n;
const NOW = 1_000_000n * S;
const ZONE = '203.0.113.10';
const OTHER_ZONE = '203.0.113.20';

/** A map in memory: entries() walks a snapshot (as a batch walk does), deletes are recorded in order. */
class FakeMap implements ConntrackMap {
  readonly m = new Map<string, [Buffer, Buffer]>();
  readonly deletes: string[] = [];
  set(key: Buffer, value: Buffer): void {
    this.m.set(key.toString('hex'), [Buffer.from(key), Buffer.from(value)]);
  }
  has(key: Buffer): boolean {
    return this.m.has(key.toString('hex'));
  }
  *entries(): IterableIterator<[Buffer, Buffer]> {
    yield* [...this.m.values()];
  }
  lookup(key: Buffer): Buffer | undefined {
    return this.m.get(key.toString('hex'))?.[1];
  }
  delete(key: Buffer): boolean {
    const k = key.toString('hex');
    this.deletes.push(k);
    return this.m.delete(k);
  }
}

let port = 30000;
function conn(protocol: NatConnection['protocol'], over: Partial<NatConnection> = {}): NatConnection {
  port++;
  return {
    protocol,
    externalIp: ZONE,
    externalPort: port,
    vmIp: '10.1.0.11',
    vmPort: protocol === 'icmp' ? 7 : port + 10000,
    remoteIp: '198.18.0.10',
    remotePort: protocol === 'icmp' ? 0 : 443,
    vni: 10,
    vmMac: '02:00:00:00:10:11',
    ...over,
  };
}

interface Halves {
  out?: { idleS: number; flags?: number };
  in?: { idleS: number; flags?: number };
}

function put(map: FakeMap, c: NatConnection, halves: Halves): { out: Buffer; in: Buffer } {
  for (const direction of ['out', 'in'] as const) {
    const h = halves[direction];
    if (!h) continue;
    const w = encodeNatHalf({ direction, connection: c, lastSeenNs: NOW - BigInt(h.idleS) * S, flags: h.flags ?? 0 });
    map.set(w.key, w.value);
  }
  return natKeys(c);
}

const gc = (map: FakeMap, over: Partial<ConstructorParameters<typeof ConntrackGc>[0]> = {}) =>
  new ConntrackGc({ map, intervalMs: 1000, logger: { info: () => {}, warn: () => {}, error: () => {} }, now: () => NOW, ...over });

describe('conntrack collector', () => {
  it('derives each half’s partner key exactly as the encoder (and the programs) do', () => {
    for (const c of [conn('tcp'), conn('udp'), conn('icmp')]) {
      const out = encodeNatHalf({ direction: 'out', connection: c, lastSeenNs: 1n, flags: 0 });
      const back = encodeNatHalf({ direction: 'in', connection: c, lastSeenNs: 1n, flags: 0 });
      expect(inKeyOfOut(out.key, out.value).equals(back.key), c.protocol).toBe(true);
      expect(outKeyOfIn(back.key, back.value).equals(out.key), c.protocol).toBe(true);
      expect(decodeNatHalf({ key: inKeyOfOut(out.key, out.value), value: back.value }).connection).toEqual(c);
    }
  });

  it.each([
    ['UDP without a reply, idle 29 s', 'udp', { out: { idleS: 29 }, in: { idleS: 29 } }, true],
    ['UDP without a reply, idle 31 s', 'udp', { out: { idleS: 31 }, in: { idleS: 31 } }, false],
    ['UDP replied, idle 100 s', 'udp', { out: { idleS: 100 }, in: { idleS: 100, flags: NAT_F_REPLIED } }, true],
    ['UDP replied, idle 181 s', 'udp', { out: { idleS: 181 }, in: { idleS: 181, flags: NAT_F_REPLIED } }, false],
    ['UDP replied long ago, sent to a second ago: the newest half counts', 'udp', { out: { idleS: 1 }, in: { idleS: 500, flags: NAT_F_REPLIED } }, true],
    ['UDP sent long ago, a reply a second ago', 'udp', { out: { idleS: 500 }, in: { idleS: 1, flags: NAT_F_REPLIED } }, true],
    ['TCP opening (SYN only), idle 119 s', 'tcp', { out: { idleS: 119, flags: NAT_F_TCP_SYN }, in: { idleS: 119 } }, true],
    ['TCP opening, idle 121 s', 'tcp', { out: { idleS: 121, flags: NAT_F_TCP_SYN }, in: { idleS: 121 } }, false],
    ['TCP established, idle an hour', 'tcp', { out: { idleS: 3600, flags: NAT_F_TCP_SYN }, in: { idleS: 3600, flags: NAT_F_TCP_ESTABLISHED | NAT_F_REPLIED } }, true],
    ['TCP established, idle a day and a second', 'tcp', { out: { idleS: 86_401 }, in: { idleS: 86_401, flags: NAT_F_TCP_ESTABLISHED } }, false],
    ['TCP after a FIN, idle 60 s', 'tcp', { out: { idleS: 60, flags: NAT_F_TCP_FIN }, in: { idleS: 60, flags: NAT_F_TCP_ESTABLISHED } }, true],
    ['TCP after a FIN, idle 121 s', 'tcp', { out: { idleS: 121, flags: NAT_F_TCP_FIN }, in: { idleS: 121, flags: NAT_F_TCP_ESTABLISHED } }, false],
    ['TCP after a RST from outside, idle 11 s', 'tcp', { out: { idleS: 11 }, in: { idleS: 11, flags: NAT_F_TCP_ESTABLISHED | NAT_F_TCP_RST } }, false],
    ['TCP after a RST, idle 9 s', 'tcp', { out: { idleS: 9 }, in: { idleS: 9, flags: NAT_F_TCP_RST } }, true],
    ['ICMP echo, idle 29 s', 'icmp', { out: { idleS: 29 }, in: { idleS: 29, flags: NAT_F_REPLIED } }, true],
    ['ICMP echo, idle 31 s', 'icmp', { out: { idleS: 31 }, in: { idleS: 31, flags: NAT_F_REPLIED } }, false],
  ] as const)('%s: %s', async (_name, protocol, halves, kept) => {
    const map = new FakeMap();
    const keys = put(map, conn(protocol), halves);
    const g = gc(map);
    await g.walkOnce();
    expect(map.has(keys.out)).toBe(kept);
    expect(map.has(keys.in)).toBe(kept);
    expect(g.stats().expired[protocol]).toBe(kept ? 0 : 1);
    expect(g.stats().connections[protocol]).toBe(kept ? 1 : 0);
  });

  it('deletes OUT before IN, whichever half the walk meets first', async () => {
    const map = new FakeMap();
    const c = conn('udp');
    // IN inserted first, so the walk meets it first: it is left to its OUT half.
    const back = encodeNatHalf({ direction: 'in', connection: c, lastSeenNs: NOW - 40n * S, flags: 0 });
    const out = encodeNatHalf({ direction: 'out', connection: c, lastSeenNs: NOW - 40n * S, flags: 0 });
    map.set(back.key, back.value);
    map.set(out.key, out.value);
    await gc(map).walkOnce();
    expect(map.m.size).toBe(0);
    expect(map.deletes).toEqual([out.key.toString('hex'), back.key.toString('hex')]);
  });

  it('a half without its partner goes once idle past its protocol’s longest timeout, not before', async () => {
    const map = new FakeMap();
    const young = put(map, conn('udp'), { out: { idleS: 100 } }); // past udp (30) but not udp_replied (180)
    const old = put(map, conn('udp'), { out: { idleS: 181 } });
    const lonelyIn = put(map, conn('tcp'), { in: { idleS: 86_401, flags: NAT_F_TCP_ESTABLISHED } });
    const freshIn = put(map, conn('tcp'), { in: { idleS: 5 } });
    const g = gc(map);
    await g.walkOnce();
    expect(map.has(young.out)).toBe(true);
    expect(map.has(old.out)).toBe(false);
    expect(map.has(lonelyIn.in)).toBe(false);
    expect(map.has(freshIn.in)).toBe(true);
    expect(g.stats()).toMatchObject({ orphans: 2, expired: { tcp: 0, udp: 0, icmp: 0 }, connections: { udp: 1, tcp: 0 }, entries: 2 });
  });

  it('an IN key another connection claimed is not the partner: the old OUT half is judged alone, the IN half kept', async () => {
    const map = new FakeMap();
    const a = conn('udp');
    // b has a's external port towards the same remote end: its IN key is a's.
    const b = { ...conn('udp', { vmIp: '10.1.0.99', vmPort: 5555 }), externalPort: a.externalPort };
    const aKeys = put(map, a, { out: { idleS: 181 } });
    const bKeys = put(map, b, { out: { idleS: 1 }, in: { idleS: 1, flags: NAT_F_REPLIED } });
    expect(aKeys.in.equals(bKeys.in)).toBe(true);
    await gc(map).walkOnce();
    expect(map.has(aKeys.out)).toBe(false);
    expect(map.has(bKeys.out)).toBe(true);
    expect(map.has(bKeys.in)).toBe(true);
  });

  it('deletes the connections of external IPs no router holds here, once the zones are known', async () => {
    const map = new FakeMap();
    const mine = put(map, conn('tcp'), { out: { idleS: 1 }, in: { idleS: 1, flags: NAT_F_TCP_ESTABLISHED } });
    const gone = put(map, conn('tcp', { externalIp: OTHER_ZONE }), { out: { idleS: 1 }, in: { idleS: 1, flags: NAT_F_TCP_ESTABLISHED } });

    let zones: ReadonlySet<string> | undefined;
    const g = gc(map, { liveZones: () => zones });
    await g.walkOnce(); // zones unknown: nothing goes for its zone
    expect(map.m.size).toBe(4);

    zones = new Set([ZONE]);
    await g.walkOnce();
    expect(map.has(mine.out) && map.has(mine.in)).toBe(true);
    expect(map.has(gone.out) || map.has(gone.in)).toBe(false);
    expect(map.deletes.indexOf(gone.out.toString('hex'))).toBeLessThan(map.deletes.indexOf(gone.in.toString('hex')));
    expect(g.stats()).toMatchObject({ purged: 1, connections: { tcp: 1 }, entries: 2 });
  });

  it('tells the next-hop resolver which watched remote addresses still have connections', async () => {
    const map = new FakeMap();
    put(map, conn('udp', { remoteIp: '203.0.113.50' }), { out: { idleS: 1 } });
    put(map, conn('udp', { remoteIp: '203.0.113.51' }), { out: { idleS: 1 } });
    const touched: number[] = [];
    const watched = new Set([(203 << 24) + (0 << 16) + (113 << 8) + 50].map((n) => n >>> 0));
    await gc(map, { remotes: { watchedRemotes: () => watched, touch: (s) => touched.push(...s) } }).walkOnce();
    expect(touched).toEqual([...watched]);
  });

  it('removes entries that are no connection, and walks a large table in slices', async () => {
    const map = new FakeMap();
    const junk = Buffer.alloc(20, 0xee);
    map.set(junk, Buffer.alloc(40));
    for (let i = 0; i < 5000; i++) put(map, conn('udp', { vmPort: 1000 + (i % 50000) }), { out: { idleS: i % 2 === 0 ? 1 : 40 }, in: { idleS: 40 } });
    const g = gc(map, { sliceMs: 0 });
    await g.walkOnce();
    expect(map.has(junk)).toBe(false);
    expect(g.stats()).toMatchObject({ malformed: 1, connections: { udp: 2500 }, expired: { udp: 2500 } });
    expect(map.m.size).toBe(5000);
  });

  it('refuses timeouts that are not whole seconds ≥ 1', () => {
    expect(() => gc(new FakeMap(), { timeouts: { ...DEFAULT_TIMEOUTS, udp: 0 } })).toThrow(/udp/);
  });
});
