// Every struct codec shared with C matches the BTF of every compiled object
// that declares the struct: a C change that moves, resizes, renames or
// re-types a field fails here.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SHARED_LAYOUTS, describeBtf, layoutMismatches } from '../../src/dataplane/index.js';
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

  it('a missing object file is ENOENT', () => {
    expect(() => describeBtf('/nonexistent.bpf.o')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
