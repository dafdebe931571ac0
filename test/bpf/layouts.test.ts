// Every struct codec shared with C matches the BTF of every compiled object
// that declares the struct: a C change that moves, resizes, renames or
// re-types a field fails here.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { MapType, SHARED_LAYOUTS, describeBtf, layoutMismatches, loadObject } from '../../src/dataplane/index.js';
import { PORT_STATS_MAP_NAME, portStats } from '../../src/dataplane/layouts.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
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
  it(`${PORT_STATS_MAP_NAME} is the same per-CPU hash, as large as xdpnet_ports, in every object that counts ports`, async () => {
    const counting = objects.filter((o) => describeBtf(join(BUILD, o)).structs['port_stats']);
    expect(counting).toEqual(expect.arrayContaining(['tc_flood.bpf.o', 'xdp_port.bpf.o', 'xdp_underlay.bpf.o']));
    for (const o of counting) {
      const obj = await loadObject(join(BUILD, o));
      try {
        const maps = obj.maps();
        const stats = maps.find((m) => m.name === PORT_STATS_MAP_NAME);
        const ports = maps.find((m) => m.name === 'xdpnet_ports');
        expect(stats, o).toMatchObject({ type: MapType.PERCPU_HASH, keySize: 4, valueSize: portStats.size, maxEntries: ports?.maxEntries });
      } finally {
        obj.close();
      }
    }
  });

  it('a missing object file is ENOENT', () => {
    expect(() => describeBtf('/nonexistent.bpf.o')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
