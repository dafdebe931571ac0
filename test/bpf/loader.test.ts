// Loading objects: errors carry errno, code, operation and libbpf's log;
// load-time settings and map overrides take effect.
import { expect, it } from 'vitest';
import { BpfError, loadObject } from '../../src/dataplane/index.js';
import { describePrivileged } from '../helpers/privileged.js';
import { objectPath } from '../helpers/bpf.js';
import { eth } from '../helpers/frames.js';

const frame = eth({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' })
  .ipv4({ src: '10.0.0.1', dst: '10.0.0.2' })
  .icmpEcho()
  .build();

async function expectBpfError(promise: Promise<unknown>): Promise<BpfError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BpfError);
  return err as BpfError;
}

describePrivileged('loading BPF objects', ['bpf'], () => {
  it('a missing file fails with ENOENT', async () => {
    const err = await expectBpfError(loadObject('/nonexistent/xdpnet.bpf.o'));
    expect(err.code).toBe('ENOENT');
    expect(err.errno).toBe(2);
    expect(err.op).toMatch(/open/);
  });

  it('a program the verifier rejects fails with the verifier complaint in the error', async () => {
    const err = await expectBpfError(loadObject(objectPath('tests/verifier_reject')));
    expect(err.code).toBe('EACCES');
    expect(err.op).toBe('bpf_object__load');
    // The kernel's own words for an unchecked packet read.
    expect(err.log).toMatch(/invalid access to packet/);
    expect(err.message).toMatch(/invalid access to packet/);
  });

  it('lists programs and maps, and applies map sizes before load', async () => {
    const obj = await loadObject(objectPath('tests/map_kinds'), { maps: { test_hash: { maxEntries: 4096 } } });
    try {
      expect(obj.programs().map((p) => p.name).sort()).toEqual(['tc_count', 'xdp_count']);
      const hash = obj.maps().find((m) => m.name === 'test_hash');
      expect(hash).toMatchObject({ keySize: 12, valueSize: 16, maxEntries: 4096 });
      const map = obj.map('test_hash');
      expect(map.info.maxEntries).toBe(4096);
      map.close();
    } finally {
      obj.close();
    }
  });

  it('sets load-time constants of 1, 4 and 8 bytes', async () => {
    const obj = await loadObject(objectPath('tests/map_kinds'), { rodata: { small: 5, word: 0, cfg_wide: 10n } });
    try {
      const program = obj.program('xdp_count');
      expect(program.testRun(frame).action).toBe('DROP'); // cfg_word = 0
      const runs = obj.map('test_array').lookup(Buffer.alloc(4));
      expect(runs?.readBigUInt64LE()).toBe(15n); // cfg_small + cfg_wide
    } finally {
      obj.close();
    }
  });

  it('rejects unknown settings and values that do not fit, before loading', async () => {
    await expect(loadObject(objectPath('tests/map_kinds'), { rodata: { nope: 1 } })).rejects.toThrow(
      /no load-time setting nope \(known: cfg_small, cfg_word, cfg_wide\)/,
    );
    await expect(loadObject(objectPath('tests/map_kinds'), { rodata: { small: 256 } })).rejects.toThrow(/does not fit/);
    await expect(loadObject(objectPath('tests/map_kinds'), { maps: { test_hash: { maxEntries: 0 } } })).rejects.toThrow(
      /maxEntries must be a positive integer/,
    );
  });

  it('an unknown map override fails with ENOENT naming the map', async () => {
    const err = await expectBpfError(loadObject(objectPath('tests/map_kinds'), { maps: { no_such_map: { maxEntries: 8 } } }));
    expect(err.code).toBe('ENOENT');
    expect(err.message).toMatch(/no_such_map/);
  });

  it('program and map handles outlive the object that made them', async () => {
    const obj = await loadObject(objectPath('tests/map_kinds'));
    const program = obj.program('xdp_count');
    const array = obj.map('test_array');
    obj.close();
    expect(program.testRun(frame, { repeat: 10 }).action).toBe('PASS');
    expect(array.lookup(Buffer.alloc(4))?.readBigUInt64LE()).toBe(40n); // 10 runs x (1 + 3)
    program.close();
    array.close();
  });

  it('the kernel refuses to test-run a frame shorter than an Ethernet header', async () => {
    const obj = await loadObject(objectPath('xdp_guard'));
    const program = obj.program('xdp_guard');
    try {
      let err: unknown;
      try {
        program.testRun(frame.subarray(0, 13));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BpfError);
      expect((err as BpfError).code).toBe('EINVAL');
    } finally {
      program.close();
      obj.close();
    }
  });

  it('test runs report the mean duration over repeats', async () => {
    const obj = await loadObject(objectPath('xdp_guard'));
    try {
      const result = obj.program('xdp_guard').testRun(frame, { repeat: 1000 });
      expect(result.action).toBe('PASS');
      expect(result.durationNs).toBeGreaterThan(0);
      expect(() => obj.program('xdp_guard').testRun(frame, { repeat: 0 })).toThrow(/repeat must be a positive integer/);
    } finally {
      obj.close();
    }
  });
});
