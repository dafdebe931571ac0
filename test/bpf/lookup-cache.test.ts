// The programs' per-CPU caches of map entries (bpf/lib/lookup_cache.h,
// route_cache.h, external_cache.h) and the generation that keeps them right
// (bpf/lib/cache_gen.h, src/dataplane/cache-generation.ts):
//   - every handle of a cached map, taken from any object that declares it,
//     writes a new generation after each change it makes, and only then;
//   - a change through such a handle is seen by the very next frame;
//   - the copies are really used: a change written past our handles (no new
//     generation) is not seen until the generation moves, then at once.
// The node writing a generation every second is node-dataplane.test.ts's.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CACHED_MAPS, CACHE_GEN_MAP, advanceGeneration, readGeneration } from '../../src/dataplane/cache-generation.js';
import { u32 } from '../../src/dataplane/codec.js';
import { BpfMap, type LoadedObject, TypedMap, loadObject } from '../../src/dataplane/index.js';
import { type FdbEntry, type FdbKey, PORT_F_ADMIN_UP, type PortInfo, fdbEntry, fdbKey, portInfo } from '../../src/dataplane/layouts.js';
import { BPFFS_TEST_ROOT } from '../helpers/bpffs-root.js';
import { objectPath } from '../helpers/bpf.js';
import { eth } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type IfName, MAC, OVERLAY_LOAD, R2, R3, RED, encapsulated, installWorld, remoteFdb, useOverlayPorts, worldNexthops, worldPortInfo } from './overlay-world.js';

const OBJECTS = ['xdp_port', 'xdp_underlay', 'xdp_external', 'tc_flood'];

describePrivileged('the cache generation: written after every change of a cached map', ['bpf'], () => {
  const loaded: LoadedObject[] = [];
  afterAll(() => {
    for (const o of loaded) o.close();
  });

  for (const name of OBJECTS) {
    it(`${name}: each cached map it declares moves the generation on update and delete, and not on a delete of nothing`, async () => {
      const obj = await loadObject(objectPath(name), name === 'xdp_underlay' ? {} : OVERLAY_LOAD);
      loaded.push(obj);
      const declared = obj.maps().map((m) => m.name);
      const cached = declared.filter((m) => CACHED_MAPS.has(m));
      if (name !== 'tc_flood') expect(cached.length, 'cached maps declared').toBeGreaterThan(0);
      const generation = obj.map(CACHE_GEN_MAP);
      try {
        for (const mapName of cached) {
          const map = obj.map(mapName);
          try {
            const key = Buffer.alloc(map.info.keySize);
            // An LPM key's prefix length must be within the key; 8 bits of it is any entry's.
            if (map.info.type === 11) key.writeUInt32LE(8);
            const before = readGeneration(generation);
            map.update(key, Buffer.alloc(map.info.valueSize));
            const afterUpdate = readGeneration(generation);
            expect(afterUpdate, `${mapName}: update`).toBeGreaterThan(before);
            expect(map.delete(key), `${mapName}: delete`).toBe(true);
            const afterDelete = readGeneration(generation);
            expect(afterDelete, `${mapName}: delete`).toBeGreaterThan(afterUpdate);
            expect(map.delete(key), `${mapName}: a delete of nothing`).toBe(false);
            expect(readGeneration(generation), `${mapName}: a delete of nothing`).toBe(afterDelete);
            if (map.info.type === 1) {
              // The batch syscalls too (hash maps have them).
              map.updateMany([[key, Buffer.alloc(map.info.valueSize)]]);
              const afterBatch = readGeneration(generation);
              expect(afterBatch, `${mapName}: updateMany`).toBeGreaterThan(afterDelete);
              expect(map.deleteBatch([key])).toBe(1);
              expect(readGeneration(generation), `${mapName}: deleteBatch`).toBeGreaterThan(afterBatch);
            }
          } finally {
            map.close();
          }
        }
        // A map nobody caches writes none.
        const reasons = obj.map('xdpnet_reasons');
        try {
          const before = readGeneration(generation);
          reasons.update(Buffer.alloc(4), Buffer.alloc(reasons.valueBufferSize));
          expect(readGeneration(generation)).toBe(before);
        } finally {
          reasons.close();
        }
      } finally {
        generation.close();
      }
    });
  }
});

describePrivileged('xdp_port through its caches', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  const pins = join(BPFFS_TEST_ROOT, `lookup-cache-${process.pid}`);
  let obj: LoadedObject;
  /** Handles on the pins: writes through them are another tool's, with no new generation. */
  let foreign: { ports: TypedMap<number, PortInfo>; fdb: TypedMap<FdbKey, FdbEntry>; generation: BpfMap };

  beforeAll(async () => {
    mkdirSync(pins, { recursive: true });
    const pinned = (m: string) => ({ pinPath: join(pins, m) });
    obj = await loadObject(objectPath('xdp_port'), {
      ...OVERLAY_LOAD,
      maps: { xdpnet_ports: pinned('xdpnet_ports'), xdpnet_fdb: pinned('xdpnet_fdb'), [CACHE_GEN_MAP]: pinned(CACHE_GEN_MAP) },
    });
    installWorld(obj, ifx);
    foreign = {
      ports: new TypedMap(BpfMap.openPinned(join(pins, 'xdpnet_ports')), u32, portInfo),
      fdb: new TypedMap(BpfMap.openPinned(join(pins, 'xdpnet_fdb')), fdbKey, fdbEntry),
      generation: BpfMap.openPinned(join(pins, CACHE_GEN_MAP)),
    };
  });
  afterAll(() => {
    foreign?.ports.raw.close();
    foreign?.fdb.raw.close();
    foreign?.generation.close();
    obj?.close();
    rmSync(pins, { recursive: true, force: true });
  });

  const toR1 = eth({ src: MAC.m1, dst: MAC.r1 }).ipv4({ src: '10.0.0.11', dst: '10.0.0.21' }).udp({ sport: 40000, dport: 5000 }).payload('cached').build();
  const r1Key = { vni: RED, mac: MAC.r1, pad: Buffer.alloc(2) };
  const send = () => {
    const program = obj.program('xdp_port');
    try {
      return program.testRun(toR1, { ingressIfindex: ifx('p1') });
    } finally {
      program.close();
    }
  };
  const expectEncapTo = (vtep: string) => {
    const r = send();
    expect(r.action).toBe('REDIRECT');
    expect(r.frame.equals(encapsulated(toR1, RED, vtep)), `encapsulated to ${vtep}`).toBe(true);
  };
  const ours = <T>(name: string, use: (map: BpfMap) => T): T => {
    const map = obj.map(name);
    try {
      return use(map);
    } finally {
      map.close();
    }
  };

  it('a frame, then the same frame from the copies: the same output', () => {
    expectEncapTo(R2);
    expectEncapTo(R2);
  });

  it('the destination moved to another VTEP through our handle: the very next frame goes there', () => {
    ours('xdpnet_fdb', (m) => new TypedMap(m, fdbKey, fdbEntry).set(r1Key, remoteFdb(R3, worldNexthops(ifx).get(R3))));
    expectEncapTo(R3);
  });

  it('moved back by another tool (no new generation): the copy is still used, until the generation moves', () => {
    foreign.fdb.set(r1Key, remoteFdb(R2, worldNexthops(ifx).get(R2)));
    expectEncapTo(R3);
    expectEncapTo(R3);
    advanceGeneration(foreign.generation);
    expectEncapTo(R2);
  });

  it('the ingress port set down through our handle: the very next frame is dropped; up by another tool: dropped until the generation moves', () => {
    const p1 = ifx('p1');
    const up = worldPortInfo('p1');
    ours('xdpnet_ports', (m) => new TypedMap(m, u32, portInfo).set(p1, { ...up, flags: up.flags & ~PORT_F_ADMIN_UP }));
    expect(send().action).toBe('DROP');
    foreign.ports.set(p1, up);
    expect(send().action).toBe('DROP');
    advanceGeneration(foreign.generation);
    expectEncapTo(R2);
  });

  it('the destination deleted through our handle: the next frame no longer finds it (handed to the flood path)', () => {
    ours('xdpnet_fdb', (m) => new TypedMap(m, fdbKey, fdbEntry).delete(r1Key));
    expect(send().action).toBe('PASS');
  });
});
