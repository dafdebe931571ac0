// Maps shared through their pins: an object loaded with a pin path where a
// compatible map is pinned uses that map, device maps included (the kernel
// adds BPF_F_RDONLY_PROG to them, which libbpf 1.1's own check refuses; the
// addon checks reuse itself: native/src/reuse.cc). A pin that is not a
// compatible map fails the load with an error naming the map and what differs.
//
// xdp_floor (bpf/bench) is the object: it redirects every frame through its
// DEVMAP_HASH floor_tx to a load-time ifindex, rewriting both MACs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BpfError, BpfMap, type LoadedObject, type LoadOptions, MapType, loadObject } from '../../src/dataplane/index.js';
import { native } from '../../src/dataplane/native.js';
import { objectPath, runLive } from '../helpers/bpf.js';
import { eth, macBytes } from '../helpers/frames.js';
import { useTopology } from '../helpers/netns.js';
import { describePrivileged } from '../helpers/privileged.js';

const FLOOR = objectPath('bench/xdp_floor');
/** uapi BPF_F_RDONLY_PROG: what the kernel adds to every device map. */
const RDONLY_PROG = 1 << 7;
const SRC_MAC = '02:00:00:00:0f:01';
const DST_MAC = '02:00:00:00:0f:02';

const frame = eth({ src: '02:00:00:00:00:aa', dst: '02:00:00:00:00:bb' })
  .ipv4({ src: '10.9.0.1', dst: '10.9.0.2' })
  .udp({ sport: 40000, dport: 5000 })
  .payload('through the shared devmap')
  .build();

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

async function loadError(path: string, options: LoadOptions): Promise<BpfError> {
  const err = await loadObject(path, options).then(
    (obj) => {
      obj.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BpfError);
  return err as BpfError;
}

describePrivileged('maps shared through their pins', ['bpf', 'netns'], () => {
  // tx (root side) -> eth0 in `peer`, where what xdp_floor redirects out of tx arrives.
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('peer', { disableIpv6: true });
      await t.addVeth({ a: { name: 'tx' }, b: { ns: 'peer', name: 'eth0' } });
      // XDP_REDIRECT into a veth reaches its peer only through the peer's NAPI (GRO).
      await t.exec('peer', ['ethtool', '-K', 'eth0', 'gro', 'on']);
    },
  });
  const open: { close(): void }[] = [];
  const keep = <T extends { close(): void }>(x: T): T => {
    open.push(x);
    return x;
  };
  afterEach(() => {
    for (const x of open.splice(0).reverse()) x.close();
  });

  let dirs = 0;
  /** A fresh directory of pins under the topology's bpffs directory (removed with it). */
  const pinDir = (): string => {
    const dir = join(topology().bpffsDir, `pins-${++dirs}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const txIfindex = (): number => Number(readFileSync(`/sys/class/net/${topology().rootLinkName('tx')}/ifindex`, 'utf8'));
  const loadFloor = async (pin: string, maxEntries?: number): Promise<LoadedObject> =>
    keep(
      await loadObject(FLOOR, {
        rodata: { out_ifindex: txIfindex(), dst_mac: macBytes(DST_MAC), src_mac: macBytes(SRC_MAC) },
        maps: { floor_tx: { pinPath: pin, ...(maxEntries !== undefined && { maxEntries }) } },
      }),
    );

  it('two objects share one pinned DEVMAP_HASH: writes through either handle, or the pin, reach both', async () => {
    const pin = join(pinDir(), 'floor_tx');
    const first = await loadFloor(pin);
    const second = await loadFloor(pin);
    expect(second.maps().find((m) => m.name === 'floor_tx')?.pinPath).toBe(pin);

    const a = keep(first.map('floor_tx'));
    const b = keep(second.map('floor_tx'));
    const pinned = keep(BpfMap.openPinned(pin));
    // One map: the one pinned, with the flag the kernel added and no definition can carry.
    expect(a.info.type).toBe(MapType.DEVMAP_HASH);
    expect(b.info.id).toBe(a.info.id);
    expect(pinned.info.id).toBe(a.info.id);
    expect(a.info.flags & RDONLY_PROG).toBe(RDONLY_PROG);

    const key = u32(txIfindex());
    a.update(key, key);
    expect(b.lookup(key)).toEqual(key);
    expect(b.delete(key)).toBe(true);
    expect(a.lookup(key)).toBeUndefined();
    pinned.update(key, key);
    expect([...a.keys()]).toEqual([key]);
    expect([...b.keys()]).toEqual([key]);
  });

  it("the second object's program redirects through an entry written through the first object's handle", async () => {
    const t = topology();
    const pin = join(pinDir(), 'floor_tx');
    const first = await loadFloor(pin);
    const second = await loadFloor(pin);
    const program = keep(second.program('xdp_floor'));
    // No entry for the ifindex yet: bpf_redirect_map() misses and returns its flags (0, ABORTED).
    expect(program.testRun(frame).action).toBe('ABORTED');

    const viaFirst = keep(first.map('floor_tx'));
    viaFirst.update(u32(txIfindex()), u32(txIfindex()));
    const run = program.testRun(frame);
    expect(run.action).toBe('REDIRECT');

    // And really out of tx: the peer receives the frame with the MACs the second object was loaded with.
    const dump = t.spawn('peer', ['tcpdump', '-n', '-e', '-l', '-i', 'eth0', 'ether', 'src', SRC_MAC]);
    try {
      await dump.waitFor(/listening on/);
      runLive(program, frame, txIfindex());
      await dump.waitFor(new RegExp(`${SRC_MAC} > ${DST_MAC}, ethertype IPv4`));
    } finally {
      await dump.stop();
    }
  });

  it('an object whose map has another max_entries than the pinned one fails, naming the map, the pin and the mismatch', async () => {
    const pin = join(pinDir(), 'floor_tx');
    const first = await loadFloor(pin);
    const id = keep(first.map('floor_tx')).info.id;

    const err = await loadError(FLOOR, { maps: { floor_tx: { pinPath: pin, maxEntries: 8 } } });
    expect(err.code).toBe('EINVAL');
    expect(err.op).toBe('bpf_map__reuse_fd');
    expect(err.message).toContain(`map 'floor_tx' cannot reuse the map pinned at ${pin}`);
    expect(err.message).toMatch(/max_entries 8 in the object, 4 pinned$/);
    // The pin is left as it was, and a compatible object still reuses it.
    expect(keep(BpfMap.openPinned(pin)).info).toMatchObject({ id, maxEntries: 4 });
    expect(keep((await loadFloor(pin)).map('floor_tx')).info.id).toBe(id);
  });

  // Pins made with bpftool, each incompatible with map_kinds' test_hash
  // (hash, key 12, value 16, 1024 entries, no flags) in one way.
  const incompatible = [
    { what: 'max_entries', bpftool: ['type', 'hash', 'key', '12', 'value', '16', 'entries', '2048', 'name', 'test_hash'], says: 'max_entries 1024 in the object, 2048 pinned' },
    { what: 'type', bpftool: ['type', 'lru_hash', 'key', '12', 'value', '16', 'entries', '1024', 'name', 'test_hash'], says: 'type hash in the object, lru_hash pinned' },
    { what: 'key size', bpftool: ['type', 'hash', 'key', '8', 'value', '16', 'entries', '1024', 'name', 'test_hash'], says: 'key_size 12 in the object, 8 pinned' },
    // A flag the kernel keeps as given still counts (BPF_F_NO_PREALLOC).
    { what: 'flags', bpftool: ['type', 'hash', 'key', '12', 'value', '16', 'entries', '1024', 'name', 'test_hash', 'flags', '1'], says: 'map_flags 0x0 in the object, 0x1 pinned' },
    // libbpf would rename the object's map after the pinned one: obj.map('test_hash') would then fail.
    { what: 'name', bpftool: ['type', 'hash', 'key', '12', 'value', '16', 'entries', '1024', 'name', 'other'], says: "name 'test_hash' in the object, 'other' pinned" },
  ];
  for (const c of incompatible) {
    it(`a pinned map of another ${c.what} is refused: ${c.says}`, async () => {
      const pin = join(pinDir(), 'test_hash');
      execFileSync('bpftool', ['map', 'create', pin, ...c.bpftool]);
      const err = await loadError(objectPath('tests/map_kinds'), { maps: { test_hash: { pinPath: pin } } });
      expect(err.code).toBe('EINVAL');
      expect(err.message).toContain(`map 'test_hash' cannot reuse the map pinned at ${pin}`);
      expect(err.message).toMatch(new RegExp(`: ${c.says.replace(/[()]/g, '\\$&')}$`));
    });
  }

  it('a compatible pin made by another tool is reused', async () => {
    const pin = join(pinDir(), 'test_hash');
    execFileSync('bpftool', ['map', 'create', pin, 'type', 'hash', 'key', '12', 'value', '16', 'entries', '1024', 'name', 'test_hash']);
    const pinned = keep(BpfMap.openPinned(pin));
    const obj = keep(await loadObject(objectPath('tests/map_kinds'), { maps: { test_hash: { pinPath: pin } } }));
    expect(keep(obj.map('test_hash')).info.id).toBe(pinned.info.id);
  });

  it('a pin that is no map is refused, naming the map and the pin', async () => {
    const pin = join(pinDir(), 'test_hash');
    const obj = await loadObject(objectPath('tests/map_kinds'));
    const program = obj.program('xdp_count');
    obj.close();
    try {
      program.pin(pin);
    } finally {
      program.close();
    }
    const err = await loadError(objectPath('tests/map_kinds'), { maps: { test_hash: { pinPath: pin } } });
    expect(err.code).toBe('EINVAL');
    expect(err.message).toContain(`map 'test_hash': ${pin} is pinned but is not a map`);
    native().unpin(pin);
  });
});
