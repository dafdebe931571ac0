// Map operations on real kernel maps: update modes, absent keys, iteration,
// batches, per-CPU values, size checks, pinning and reuse of pinned maps.
import { mkdirSync, rmSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  BpfError,
  BpfMap,
  type LoadedObject,
  PerCpuMap,
  TypedMap,
  codec,
  ensureBpffs,
  loadObject,
} from '../../src/dataplane/index.js';
import { describePrivileged } from '../helpers/privileged.js';
import { objectPath } from '../helpers/bpf.js';

const { struct, u32, u64, mac, u16 } = codec;
const testKey = struct('test_key', { id: u32, mac, pad: u16 });
const testValue = struct('test_value', { count: u64, flags: u32, pad: u32 });
const key = (id: number) => ({ id, mac: '02:00:00:00:00:01', pad: 0 });
const value = (count: number) => ({ count: BigInt(count), flags: 0, pad: 0 });

function bpfError(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    return e as BpfError;
  }
  throw new Error('expected a BpfError');
}

describePrivileged('BPF maps', ['bpf'], () => {
  let obj: LoadedObject;
  let hash: TypedMap<{ id: number; mac: string; pad: number }, { count: bigint; flags: number; pad: number }>;
  const pinDir = `/sys/fs/bpf/xdpnet-test/maps-${process.pid}-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    ensureBpffs('/sys/fs/bpf');
    mkdirSync(pinDir, { recursive: true });
    obj = await loadObject(objectPath('tests/map_kinds'));
    hash = new TypedMap(obj.map('test_hash'), testKey, testValue);
  });
  afterAll(() => {
    obj?.close();
    rmSync(pinDir, { recursive: true, force: true });
  });

  it('update modes: create refuses an existing key, replace a missing one', () => {
    hash.set(key(1), value(1), 'create');
    expect(bpfError(() => hash.set(key(1), value(2), 'create')).code).toBe('EEXIST');
    expect(bpfError(() => hash.set(key(2), value(2), 'replace')).code).toBe('ENOENT');
    hash.set(key(1), value(3), 'replace');
    expect(hash.get(key(1))).toEqual(value(3));
  });

  it('an absent key is undefined on lookup and false on delete, not an error', () => {
    expect(hash.get(key(999))).toBeUndefined();
    expect(hash.delete(key(999))).toBe(false);
    hash.set(key(5), value(5));
    expect(hash.delete(key(5))).toBe(true);
    expect(hash.get(key(5))).toBeUndefined();
  });

  it('a key or value of the wrong size is refused before any syscall', () => {
    const raw = hash.raw;
    const err = bpfError(() => raw.lookup(Buffer.alloc(3)));
    expect(err.code).toBe('EINVAL');
    expect(err.message).toMatch(/3/);
    expect(err.message).toMatch(/12/);
    expect(bpfError(() => raw.update(Buffer.alloc(12), Buffer.alloc(15))).code).toBe('EINVAL');
    expect(() => new TypedMap(raw, u32, testValue)).toThrow(/codec sizes key=4/);
  });

  it('iterates every entry, by batch and by key walk alike', () => {
    const ids = Array.from({ length: 600 }, (_, i) => 1000 + i); // more than one batch
    const written = hash.raw.updateMany(ids.map((id) => [testKey.encode(key(id)), testValue.encode(value(id))]));
    expect(written).toBe(600);
    const seen = new Map([...hash.entries()].map(([k, v]) => [k.id, v.count]));
    for (const id of ids) expect(seen.get(id)).toBe(BigInt(id));
    const walked = [...hash.raw.keys()].map((k) => testKey.decode(k).id);
    expect(new Set(walked)).toEqual(new Set(seen.keys()));
    expect(hash.raw.deleteMany(ids.map((id) => testKey.encode(key(id))))).toBe(600);
    expect(hash.get(key(1000))).toBeUndefined();
  });

  it('batch update and delete in one syscall each', () => {
    const raw = hash.raw;
    const ids = [10, 11, 12];
    expect(raw.updateMany(ids.map((id) => [testKey.encode(key(id)), testValue.encode(value(id))]), 'create')).toBe(3);
    expect(hash.get(key(11))).toEqual(value(11));
    expect(raw.deleteBatch(ids.map((id) => testKey.encode(key(id))))).toBe(3);
    expect(hash.get(key(11))).toBeUndefined();
    expect(bpfError(() => raw.deleteBatch([testKey.encode(key(10))])).code).toBe('ENOENT');
  });

  it('per-CPU values have one slot per possible CPU', () => {
    const percpu = new PerCpuMap(obj.map('test_percpu'), u32, u32);
    percpu.setAll(7, 42);
    const values = percpu.get(7);
    expect(values).toHaveLength(percpu.cpus);
    expect(percpu.cpus).toBeGreaterThanOrEqual(1);
    expect(values?.every((v) => v === 42)).toBe(true);
    expect(() => new TypedMap(obj.map('test_percpu'), u32, u32)).toThrow(/per-CPU/);
  });

  it('pins a map, opens it by path in another handle, and unpins it', () => {
    const path = `${pinDir}/array`;
    const array = obj.map('test_array');
    array.pin(path);
    const again = BpfMap.openPinned(path);
    const k = Buffer.from([3, 0, 0, 0]);
    array.update(k, Buffer.from('0100000000000000', 'hex'));
    expect(again.lookup(k)?.readBigUInt64LE()).toBe(1n);
    expect(again.info.id).toBe(array.info.id);
    rmSync(path);
    expect(existsSync(path)).toBe(false);
    expect(bpfError(() => BpfMap.openPinned(path)).code).toBe('ENOENT');
    again.close();
    array.close();
  });

  it('a second object reuses a map pinned by the first (a restarted daemon adopts state)', async () => {
    const pinPath = `${pinDir}/shared_hash`;
    const first = await loadObject(objectPath('tests/map_kinds'), { maps: { test_hash: { pinPath } } });
    const firstMap = new TypedMap(first.map('test_hash'), testKey, testValue);
    firstMap.set(key(77), value(77));
    first.close();
    firstMap.raw.close();

    const second = await loadObject(objectPath('tests/map_kinds'), { maps: { test_hash: { pinPath } } });
    try {
      const secondMap = new TypedMap(second.map('test_hash'), testKey, testValue);
      expect(secondMap.get(key(77))).toEqual(value(77));
      secondMap.raw.close();
    } finally {
      second.close();
      rmSync(pinPath);
    }
  });

  it('an LPM trie answers longest-prefix matches', () => {
    const lpm = obj.map('test_lpm');
    const lpmKey = (len: number, ip: string) => Buffer.concat([codec.encode(u32, len), codec.encode(codec.ipv4, ip)]);
    lpm.update(lpmKey(8, '10.0.0.0'), codec.encode(u32, 8));
    lpm.update(lpmKey(24, '10.1.2.0'), codec.encode(u32, 24));
    expect(lpm.lookup(lpmKey(32, '10.1.2.3'))?.readUInt32LE()).toBe(24);
    expect(lpm.lookup(lpmKey(32, '10.9.9.9'))?.readUInt32LE()).toBe(8);
    expect(lpm.lookup(lpmKey(32, '11.0.0.1'))).toBeUndefined();
    lpm.close();
  });

  it('a closed handle refuses further use with EBADF', () => {
    const array = obj.map('test_array');
    array.close();
    array.close(); // idempotent
    expect(bpfError(() => array.lookup(Buffer.alloc(4))).code).toBe('EBADF');
  });
});
