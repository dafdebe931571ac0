// Every struct codec shared with C matches the BTF of every compiled object
// that declares the struct: a C change that moves, resizes, renames or
// re-types a field fails here.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { MapType, SHARED_LAYOUTS, describeBtf, layoutMismatches, loadObject } from '../../src/dataplane/index.js';
import {
  EXT_ADDRS_MAP_NAME,
  EXT_NEXTHOPS_MAP_NAME,
  EXT_NH_MISS_MAP_NAME,
  FIP_IN_MAP_NAME,
  FIP_OUT_MAP_NAME,
  PORT_STATS_MAP_NAME,
  PORT_STATS_SLOTS,
  SNAT_CT_MAP_NAME,
  SNAT_MAP_NAME,
  fipIn,
  fipKey,
  fipOut,
  natConn,
  natKey,
  portStats,
} from '../../src/dataplane/layouts.js';
import { REPO_ROOT, native } from '../../src/dataplane/native.js';
import { describePrivileged } from '../helpers/privileged.js';

const BUILD = join(REPO_ROOT, 'bpf/build');
// Objects the daemon loads (tests/ holds test-only objects with their own structs).
const objects = readdirSync(BUILD).filter((f) => f.endsWith('.bpf.o'));

describePrivileged('struct layouts shared by C and TypeScript', ['bpf'], () => {
  it('there are objects to check', () => {
    expect(objects.length).toBeGreaterThan(0);
  });

  for (const layout of SHARED_LAYOUTS) {
    it(`struct ${layout.cName} matches its codec in every object that declares it`, () => {
      const holders = objects.filter((o) => describeBtf(join(BUILD, o)).structs[layout.cName]);
      expect(holders, `no compiled object declares struct ${layout.cName}`).not.toEqual([]);
      for (const o of holders) {
        const btf = describeBtf(join(BUILD, o)).structs[layout.cName]!;
        expect(layoutMismatches(layout, btf), o).toEqual([]);
      }
    });
  }

  // The map the codec is read through: the codec alone would not notice a
  // change of map type (per-CPU or not) or a capacity below the port table's.
  it(`${PORT_STATS_MAP_NAME} is the same per-CPU array, a slot per port xdpnet_ports holds and slot 0, in every object that counts ports`, async () => {
    const counting = objects.filter((o) => describeBtf(join(BUILD, o)).structs['port_stats']);
    expect(counting).toEqual(expect.arrayContaining(['tc_flood.bpf.o', 'xdp_port.bpf.o', 'xdp_underlay.bpf.o']));
    for (const o of counting) {
      const obj = await loadObject(join(BUILD, o));
      try {
        const maps = obj.maps();
        const stats = maps.find((m) => m.name === PORT_STATS_MAP_NAME);
        const ports = maps.find((m) => m.name === 'xdpnet_ports');
        expect(stats, o).toMatchObject({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: portStats.size, maxEntries: PORT_STATS_SLOTS });
        expect(PORT_STATS_SLOTS, o).toBe((ports?.maxEntries ?? 0) + 1);
      } finally {
        obj.close();
      }
    }
  });

  // Shared through their pins: every object must declare them alike, or the
  // second to load refuses the first one's pin. The connection table's
  // default holds a million connections (two entries each) with the LRU's
  // per-CPU slack to spare.
  it('the SNAT maps are declared alike by xdp_port and xdp_external, the connection table an LRU hash of 2^21', async () => {
    const names = [SNAT_MAP_NAME, EXT_ADDRS_MAP_NAME, EXT_NEXTHOPS_MAP_NAME, EXT_NH_MISS_MAP_NAME, SNAT_CT_MAP_NAME];
    const seen = new Map<string, object>();
    for (const o of ['xdp_port.bpf.o', 'xdp_external.bpf.o']) {
      const obj = await loadObject(join(BUILD, o), { maps: { [SNAT_CT_MAP_NAME]: { maxEntries: 1024 } } });
      try {
        const maps = obj.maps();
        for (const name of names) {
          const m = maps.find((x) => x.name === name);
          expect(m, `${o} declares ${name}`).toBeDefined();
          const shape = { type: m!.type, keySize: m!.keySize, valueSize: m!.valueSize, maxEntries: m!.maxEntries };
          if (seen.has(name)) expect(shape, `${name} in ${o}`).toEqual(seen.get(name));
          else seen.set(name, shape);
        }
      } finally {
        obj.close();
      }
    }
    expect(seen.get(SNAT_CT_MAP_NAME)).toEqual({ type: MapType.LRU_HASH, keySize: natKey.size, valueSize: natConn.size, maxEntries: 1024 });
    const declared = describeBtf(join(BUILD, 'xdp_port.bpf.o'));
    expect(declared.structs['nat_key'], 'the key type is in BTF').toBeDefined();
    const raw = native().openObject(join(BUILD, 'xdp_port.bpf.o'));
    try {
      const ct = raw.maps().find((m) => m.name === SNAT_CT_MAP_NAME)!;
      expect(ct.maxEntries).toBe(2 ** 21);
      // Two entries a connection; the kernel's LRU may evict up to 128 entries per CPU early (here: up to 256 CPUs).
      expect(ct.maxEntries - 128 * 256).toBeGreaterThanOrEqual(2 * 1_000_000);
    } finally {
      raw.close();
    }
  });

  // xdp_underlay routes what compute nodes tunnel to their gateway node, so it
  // shares every map of the external side with xdp_port and xdp_external;
  // the floating IPs' maps are hashes keyed (router, address).
  it('the floating IP and SNAT maps are declared alike by xdp_port, xdp_external and xdp_underlay', async () => {
    const names = [FIP_IN_MAP_NAME, FIP_OUT_MAP_NAME, SNAT_MAP_NAME, EXT_ADDRS_MAP_NAME, EXT_NEXTHOPS_MAP_NAME, EXT_NH_MISS_MAP_NAME, SNAT_CT_MAP_NAME];
    const seen = new Map<string, object>();
    for (const o of ['xdp_port.bpf.o', 'xdp_external.bpf.o', 'xdp_underlay.bpf.o']) {
      const obj = await loadObject(join(BUILD, o), { maps: { [SNAT_CT_MAP_NAME]: { maxEntries: 1024 } } });
      try {
        const maps = obj.maps();
        for (const name of names) {
          const m = maps.find((x) => x.name === name);
          expect(m, `${o} declares ${name}`).toBeDefined();
          const shape = { type: m!.type, keySize: m!.keySize, valueSize: m!.valueSize, maxEntries: m!.maxEntries };
          if (seen.has(name)) expect(shape, `${name} in ${o}`).toEqual(seen.get(name));
          else seen.set(name, shape);
        }
      } finally {
        obj.close();
      }
    }
    expect(seen.get(FIP_IN_MAP_NAME)).toEqual({ type: MapType.HASH, keySize: fipKey.size, valueSize: fipIn.size, maxEntries: 65536 });
    expect(seen.get(FIP_OUT_MAP_NAME)).toEqual({ type: MapType.HASH, keySize: fipKey.size, valueSize: fipOut.size, maxEntries: 65536 });
  });

  it('a missing object file is ENOENT', () => {
    expect(() => describeBtf('/nonexistent.bpf.o')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
