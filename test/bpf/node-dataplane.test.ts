// NodeDataplane on a real kernel: what xdpnetd loads, pins and attaches, and
// what a restarted daemon makes of what it finds.
//
// The node's interfaces are root-side veth ends of a test topology (the
// daemon works in the namespace it runs in); pins go under the topology's
// bpffs directory. What the code says is checked against what the kernel
// says, read with other tools: `ip link` for XDP, bpftool for programs and
// their maps, llvm-objdump for the maps each object declares. Also: what a
// node does with pins an older build left (an xdp_guard link on a physical
// network's interface, a counters map of another size, the conntrack table
// at another size, any other map that does not match).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfLink, BpfMap, attachXdp, loadObject, REASON_MAP_NAME } from '../../src/dataplane/index.js';
import { CACHE_GEN_MAP, readGeneration } from '../../src/dataplane/cache-generation.js';
import { native } from '../../src/dataplane/native.js';
import { encode, u32 } from '../../src/dataplane/codec.js';
import { SNAT_CT_MAP_NAME } from '../../src/dataplane/layouts.js';
import { CACHE_GENERATION_PERIOD_MS, NodeDataplane, TOKEN_CONNTRACK_ENTRIES } from '../../src/dataplane/node.js';
import { PinnedMapMismatchError } from '../../src/dataplane/pinned-maps.js';
import { REASON_MAX } from '../../src/gen/reasons.js';
import { objectPath } from '../helpers/bpf.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type Topology, useTopology } from '../helpers/netns.js';

const VTEP = '192.0.2.1';
const UNDERLAY_MTU = 1400;
const OBJECTS = ['xdp_underlay', 'tc_flood', 'xdp_port', 'xdp_external'];
/** Connections the conntrack table is loaded for here: small, it is preallocated. */
const CONNTRACK_MAX = 4096;

const sh = (argv: string[]): string => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
const json = <T>(argv: string[]): T => JSON.parse(sh(argv)) as T;

/** The maps an object declares, from its ELF symbols (section .maps), not through libbpf. */
function mapSymbols(object: string): string[] {
  return sh(['llvm-objdump', '-t', objectPath(object)])
    .split('\n')
    .filter((l) => /\s\.maps\s/.test(l))
    .map((l) => l.trim().split(/\s+/).pop()!);
}

interface ProgInfo {
  id: number;
  name: string;
  map_ids?: number[];
}
interface MapInfo {
  id: number;
  name: string;
  type: string;
  max_entries: number;
}
const prog = (id: number): ProgInfo => json<ProgInfo>(['bpftool', 'prog', 'show', 'id', String(id), '-j']);
const mapById = (id: number): MapInfo => json<MapInfo>(['bpftool', 'map', 'show', 'id', String(id), '-j']);
const pinnedMap = (path: string): MapInfo => json<MapInfo>(['bpftool', 'map', 'show', 'pinned', path, '-j']);
const dumpKeys = (id: number): string[] =>
  json<{ key: string[] }[]>(['bpftool', 'map', 'dump', 'id', String(id), '-j']).map((e) => e.key.join(' ')).sort();

/** The XDP program `ip link` sees on an interface (root namespace). */
function xdpProgId(ifname: string): number | undefined {
  const [link] = json<{ xdp?: { prog?: { id: number } } }[]>(['ip', '-j', '-d', 'link', 'show', 'dev', ifname]);
  return link?.xdp?.prog?.id;
}

/** bpftool's names of the map types a test creates by hand. */
const MAP_TYPE_NAMES: Record<number, string> = { 1: 'hash', 9: 'lru_hash' };
/** `n` bytes of value `b`, as bpftool takes them. */
const hexBytes = (n: number, b: number): string[] => Array.from({ length: n }, () => `0x${b.toString(16).padStart(2, '0')}`);

const ifindexOf = (ifname: string): number => Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'));
/** A u32 key as bpftool prints it (host order, little-endian here). */
const u32Key = (n: number): string => [0, 8, 16, 24].map((s) => `0x${((n >>> s) & 0xff).toString(16).padStart(2, '0')}`).join(' ');

function collectingLogger(): { logger: NodeDataplaneLogger; messages: string[] } {
  const messages: string[] = [];
  const log = (_obj: object, msg: string) => void messages.push(msg);
  return { logger: { info: log, warn: log }, messages };
}
type NodeDataplaneLogger = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

describePrivileged('NodeDataplane on a real kernel', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('peer', { disableIpv6: true });
      await t.addVeth({ a: { name: 'ul' }, b: { ns: 'peer', name: 'ul' }, mtu: UNDERLAY_MTU });
      await t.addVeth({ a: { name: 'ul2' }, b: { ns: 'peer', name: 'ul2' } });
      await t.addVeth({ a: { name: 'ph' }, b: { ns: 'peer', name: 'ph' } });
      await t.addVeth({ a: { name: 'p1' }, b: { ns: 'peer', name: 'p1' } });
    },
  });
  let node: NodeDataplane | undefined;
  afterAll(() => node?.close());

  const names = (t: Topology) => ({ ul: t.rootLinkName('ul'), ph: t.rootLinkName('ph'), p1: t.rootLinkName('p1') });
  const root = (t: Topology) => join(t.bpffsDir, 'xdpnet');
  const start = (t: Topology, logger: NodeDataplaneLogger) =>
    NodeDataplane.start({
      bpffsRoot: root(t),
      vtepIp: VTEP,
      underlayInterface: names(t).ul,
      physicalNetworks: { external: names(t).ph },
      snat: { conntrackMax: CONNTRACK_MAX },
      logger,
    });

  it('replaces the xdp_guard links left by an older daemon through the same links: xdp_underlay on the underlay, xdp_external on the physical network', async () => {
    const t = topology();
    const [ul2, ph] = [t.rootLinkName('ul2'), t.rootLinkName('ph')];
    const older = join(t.bpffsDir, 'older');
    // What the previous release did: xdp_guard through links pinned at links/xdp_<interface>.
    mkdirSync(join(older, 'links'), { recursive: true });
    const guard = await loadObject(objectPath('xdp_guard'), { maps: { [REASON_MAP_NAME]: { pinPath: join(older, REASON_MAP_NAME) } } });
    const guardLinkIds: Record<string, number> = {};
    for (const ifname of [ul2, ph]) {
      const { link } = attachXdp(guard.program('xdp_guard'), ifindexOf(ifname), { pinPath: join(older, 'links', `xdp_${ifname}`) });
      guardLinkIds[ifname] = link.info().id;
      link.close();
      expect(prog(xdpProgId(ifname)!).name).toBe('xdp_guard');
    }
    guard.close();

    const { logger, messages } = collectingLogger();
    const upgraded = await NodeDataplane.start({
      bpffsRoot: older,
      vtepIp: VTEP,
      underlayInterface: ul2,
      physicalNetworks: { external: ph },
      snat: { conntrackMax: CONNTRACK_MAX },
      logger,
    });
    try {
      for (const [ifname, program] of [
        [ul2, 'xdp_underlay'],
        [ph, 'xdp_external'],
      ] as const) {
        const xdp = upgraded.attached().find((a) => a.pinPath.endsWith(`/xdp_${ifname}`))!;
        // The same link (a detached link can never hold a program again), now running the new program.
        expect(xdp.linkId, ifname).toBe(guardLinkIds[ifname]);
        expect(xdp.programName).toBe(program);
        expect(xdpProgId(ifname)).toBe(xdp.programId);
        expect(prog(xdp.programId).name).toBe(program);
      }
      expect(messages.filter((m) => m === 'adopted attached link; replaced its program atomically')).toHaveLength(2);
      expect(upgraded.externalInterfaces.get(ph)).toEqual({ name: ph, ifindex: ifindexOf(ph), physicalNetworks: ['external'] });
    } finally {
      upgraded.teardown();
    }
    expect(xdpProgId(ul2)).toBeUndefined();
    expect(xdpProgId(ph)).toBeUndefined();
  });

  describe('pins of another build', () => {
    /** A bpffs root for one case, holding `map` pinned as `object` declares it but with `maxEntries`. */
    async function pinnedOld(t: Topology, dir: string, object: string, map: string, maxEntries: number): Promise<string> {
      const at = join(t.bpffsDir, dir);
      mkdirSync(at, { recursive: true });
      const obj = await loadObject(objectPath(object), { maps: { [map]: { pinPath: join(at, map), maxEntries } } });
      obj.close();
      expect(pinnedMap(join(at, map)).max_entries).toBe(maxEntries);
      return at;
    }
    const startAt = (t: Topology, at: string, logger: NodeDataplaneLogger, external = true) =>
      NodeDataplane.start({
        bpffsRoot: at,
        vtepIp: VTEP,
        underlayInterface: t.rootLinkName('ul2'),
        ...(external ? { physicalNetworks: { external: t.rootLinkName('ph') } } : {}),
        snat: { conntrackMax: CONNTRACK_MAX },
        logger,
      });

    it('a counters map of another size (xdpnet_reasons of 64 reasons, before REASON_MAX grew) is replaced, and said so', async () => {
      const t = topology();
      const at = await pinnedOld(t, 'old-reasons', 'xdp_guard', REASON_MAP_NAME, 64);
      const { logger, messages } = collectingLogger();
      const n = await startAt(t, at, logger);
      try {
        expect(messages).toContain('pinned counters map of another build replaced: its counts restart from zero');
        expect(pinnedMap(join(at, REASON_MAP_NAME)).max_entries).toBe(REASON_MAX);
        expect(n.reasonCounters().length).toBeGreaterThan(64);
      } finally {
        n.teardown();
      }
    });

    it('a map an earlier build pinned and this one no longer declares is removed, and said so; directories are left alone', async () => {
      const t = topology();
      const at = join(t.bpffsDir, 'old-dropped');
      mkdirSync(join(at, 'someone-elses'), { recursive: true });
      // xdpnet_router_cache: a per-CPU cache of routers one build of this project had.
      execFileSync('bpftool', ['map', 'create', join(at, 'xdpnet_router_cache'), 'type', 'array', 'key', '4', 'value', '8', 'entries', '1', 'name', 'xdpnet_router_c']);
      const { logger, messages } = collectingLogger();
      const n = await startAt(t, at, logger);
      try {
        expect(messages).toContain('pinned map no object of this build declares removed');
        expect(existsSync(join(at, 'xdpnet_router_cache'))).toBe(false);
        expect(existsSync(join(at, 'someone-elses'))).toBe(true);
        expect(existsSync(join(at, 'xdpnet_fdb'))).toBe(true);
      } finally {
        n.teardown();
      }
    });

    it('a forwarding map of another build (xdpnet_networks of another size) is replaced, and said so: its entries are derived state the reconciler writes again', async () => {
      const t = topology();
      const at = await pinnedOld(t, 'old-networks', 'xdp_underlay', 'xdpnet_networks', 100);
      const id = pinnedMap(join(at, 'xdpnet_networks')).id;
      const { logger, messages } = collectingLogger();
      const n = await startAt(t, at, logger);
      try {
        expect(messages).toContain('pinned map of another build replaced: the first reconcile pass writes its entries again');
        const now = pinnedMap(join(at, 'xdpnet_networks'));
        expect(now.id).not.toBe(id);
        expect(now.max_entries).not.toBe(100);
        // The one map every object shares is the new one.
        expect(n.maps.require('xdpnet_networks').info.maxEntries).toBe(now.max_entries);
        expect(xdpProgId(t.rootLinkName('ul2'))).toBeDefined();
      } finally {
        n.teardown();
      }
    });

    it('the conntrack table at another size is resized: empty, or with its connections copied over; another layout holding connections is refused', async () => {
      const t = topology();
      // A compute node's token-sized table, the node now given an external NIC.
      const at = await pinnedOld(t, 'old-ct', 'xdp_external', SNAT_CT_MAP_NAME, TOKEN_CONNTRACK_ENTRIES);
      const ctPin = join(at, SNAT_CT_MAP_NAME);
      const first = collectingLogger();
      let n = await startAt(t, at, first.logger);
      const { keySize, valueSize, type } = n.maps.require(SNAT_CT_MAP_NAME).info;
      const entry = (i: number): [Buffer, Buffer] => [Buffer.alloc(keySize, i), Buffer.alloc(valueSize, 0x40 + i)];
      try {
        expect(first.messages).toContain('empty pinned map of another shape replaced');
        expect(pinnedMap(ctPin).max_entries).toBe(2 * CONNTRACK_MAX);
        for (const i of [1, 2, 3]) n.maps.require(SNAT_CT_MAP_NAME).update(...entry(i));
      } finally {
        n.close();
      }

      // snat.conntrack_max doubled while it holds connections: resized, every connection carried over.
      const second = collectingLogger();
      n = await NodeDataplane.start({
        bpffsRoot: at,
        vtepIp: VTEP,
        underlayInterface: t.rootLinkName('ul2'),
        physicalNetworks: { external: t.rootLinkName('ph') },
        snat: { conntrackMax: 2 * CONNTRACK_MAX },
        logger: second.logger,
      });
      try {
        expect(second.messages).toContain('pinned map of another size replaced: its entries were copied into the new one');
        expect(pinnedMap(ctPin).max_entries).toBe(4 * CONNTRACK_MAX);
        for (const i of [1, 2, 3]) expect(n.maps.require(SNAT_CT_MAP_NAME).lookup(entry(i)[0])).toEqual(entry(i)[1]);
      } finally {
        n.close();
      }

      // A table of another layout (an older build's value) holding a connection cannot be copied: refused, left as it is.
      native().unpin(ctPin);
      sh(['bpftool', 'map', 'create', ctPin, 'type', MAP_TYPE_NAMES[type]!, 'key', String(keySize), 'value', String(valueSize - 8), 'entries', '1024', 'name', SNAT_CT_MAP_NAME]);
      sh(['bpftool', 'map', 'update', 'pinned', ctPin, 'key', ...hexBytes(keySize, 7), 'value', ...hexBytes(valueSize - 8, 9)]);
      const err = await startAt(t, at, collectingLogger().logger).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PinnedMapMismatchError);
      expect((err as Error).message).toMatch(/xdpnet_snat_ct .*value size \d+ declared, \d+ pinned.*a map of another layout cannot take them/);
      expect(pinnedMap(ctPin).max_entries).toBe(1024);
      // Cleaned up by hand, as an operator would: remove the pin, start afresh.
      native().unpin(ctPin);
      const again = await startAt(t, at, collectingLogger().logger);
      again.teardown();
    });

    it('a node without an external NIC loads the conntrack table at a token size', async () => {
      const t = topology();
      const at = join(t.bpffsDir, 'compute');
      const n = await startAt(t, at, collectingLogger().logger, false);
      try {
        expect(n.externalInterfaces.size).toBe(0);
        expect(pinnedMap(join(at, SNAT_CT_MAP_NAME)).max_entries).toBe(TOKEN_CONNTRACK_ENTRIES);
      } finally {
        n.teardown();
      }
    });
  });

  it('pins every map the objects declare once, shares them, and attaches to the underlay and physical network', async () => {
    const t = topology();
    const n = names(t);
    node = await start(t, collectingLogger().logger);
    // A port, so that xdp_port and tc_port_flood are loaded into the kernel too.
    node.ports.attach(n.p1, ifindexOf(n.p1));

    const declared = [...new Set(OBJECTS.flatMap(mapSymbols))].sort();
    expect(declared).toContain('xdpnet_port_src');
    const pinned = readdirSync(root(t)).filter((f) => f !== 'links').sort();
    expect(pinned).toEqual(declared);
    const pinnedId = new Map(pinned.map((name) => [pinnedMap(join(root(t), name)).id, name]));

    const status = node.attached();
    const byPin = (file: string) => status.find((a) => a.pinPath === join(root(t), 'links', file));
    expect(byPin(`tc_${n.ul}`)).toMatchObject({ interfaceName: n.ul, ifindex: ifindexOf(n.ul), programName: 'tc_underlay_flood', hook: 'tcx-ingress' });
    expect(byPin(`xdp_${n.ul}`)).toMatchObject({ interfaceName: n.ul, programName: 'xdp_underlay', hook: 'native' });
    expect(byPin(`xdp_${n.ph}`)).toMatchObject({ interfaceName: n.ph, programName: 'xdp_external', hook: 'native' });
    expect(byPin(`tc_${n.p1}`)).toMatchObject({ interfaceName: n.p1, programName: 'tc_port_flood', hook: 'tcx-ingress' });
    expect(byPin(`xdp_${n.p1}`)).toMatchObject({ interfaceName: n.p1, programName: 'xdp_port', hook: 'native' });
    expect(status).toHaveLength(5);
    expect(xdpProgId(n.ul)).toBe(byPin(`xdp_${n.ul}`)!.programId);
    expect(xdpProgId(n.ph)).toBe(byPin(`xdp_${n.ph}`)!.programId);
    expect(xdpProgId(n.p1)).toBe(byPin(`xdp_${n.p1}`)!.programId);

    // Every program uses the pinned maps and no other (but its own .rodata and .bss),
    // the device map xdpnet_tx_ports included: one map, holding the underlay and the external NIC.
    const txPortsId = pinnedMap(join(root(t), 'xdpnet_tx_ports')).id;
    expect(dumpKeys(txPortsId)).toEqual([u32Key(ifindexOf(n.ul)), u32Key(ifindexOf(n.ph))].sort());
    // The conntrack table at the configured size: two entries per connection.
    expect(pinnedMap(join(root(t), SNAT_CT_MAP_NAME)).max_entries).toBe(2 * CONNTRACK_MAX);
    for (const a of status) {
      const p = prog(a.programId);
      for (const id of p.map_ids ?? []) {
        const m = mapById(id);
        // Per object by design: its load-time settings, and the connection clock's last read (conntrack.h).
        if (m.name.endsWith('.rodata') || m.name.endsWith('.bss')) continue;
        expect(pinnedId.get(id), `${p.name}'s map ${m.name} (id ${id})`).toBeDefined();
      }
    }
    // Both objects that redirect through it (loaded one after the other) use that one map.
    const usingTxPorts = status.filter((a) => prog(a.programId).map_ids?.includes(txPortsId)).map((a) => a.programName);
    expect(usingTxPorts.sort()).toEqual(['xdp_external', 'xdp_port', 'xdp_underlay']);

    // Load-time settings: the VTEP (network order) and the underlay's MTU as read at start.
    const portProg = prog(byPin(`xdp_${n.p1}`)!.programId);
    const rodata = portProg.map_ids!.map(mapById).find((m) => m.name.endsWith('.rodata'))!;
    const [dump] = json<{ value: string[]; formatted: { value: { '.rodata': Record<string, number>[] } } }[]>([
      'bpftool', 'map', 'dump', 'id', String(rodata.id), '-j',
    ]);
    const settings = Object.assign({}, ...dump!.formatted.value['.rodata']) as Record<string, number>;
    expect(settings.cfg_underlay_mtu).toBe(UNDERLAY_MTU);
    expect(dump!.value.slice(0, 4).map((b) => Number(b)).join('.')).toBe(VTEP);

    // Fill of every pinned map, by its full name.
    const fill = node.mapFill();
    expect(fill.map((f) => f.name).sort()).toEqual(declared);
    expect(fill.find((f) => f.name === 'xdpnet_tx_ports')).toMatchObject({ entries: 2, maxEntries: 4096 });
    expect(fill.find((f) => f.name === 'xdpnet_fdb')).toMatchObject({ entries: 0, maxEntries: 65536 });

    // The cache generation: written at start, and again every CACHE_GENERATION_PERIOD_MS with nothing changed
    // (what bounds a change written past the daemon's handles going unseen: cache-generation.ts).
    const generation = BpfMap.openPinned(join(root(t), CACHE_GEN_MAP));
    try {
      const atStart = readGeneration(generation);
      expect(atStart).toBeGreaterThan(0n);
      let later = atStart;
      for (let waited = 0; later === atStart && waited < 5 * CACHE_GENERATION_PERIOD_MS; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        later = readGeneration(generation);
      }
      expect(later, 'a generation written by the node on its own').toBeGreaterThan(atStart);
    } finally {
      generation.close();
    }
  });

  it('a restart adopts every link (same link ids) and swaps its programs in atomically', async () => {
    const t = topology();
    const n = names(t);
    const before = node!.attached();
    const pins = readdirSync(root(t)).filter((f) => f !== 'links');
    const idsBefore = new Map(pins.map((name) => [name, pinnedMap(join(root(t), name)).id]));
    // Written by this daemon through its handle on the device map: the next daemon's programs must see it.
    const tx = Buffer.alloc(4);
    tx.writeUInt32LE(ifindexOf(n.p1));
    node!.maps.require('xdpnet_tx_ports').update(tx, tx);
    node!.close();
    node = undefined;
    // Stopped: everything still attached.
    expect(xdpProgId(n.ul)).toBe(before.find((a) => a.pinPath.endsWith(`/xdp_${n.ul}`))!.programId);
    expect(xdpProgId(n.p1)).toBe(before.find((a) => a.pinPath.endsWith(`/xdp_${n.p1}`))!.programId);

    const { logger, messages } = collectingLogger();
    node = await start(t, logger);
    const after = node.attached();
    expect(after.map((a) => a.pinPath).sort()).toEqual(before.map((a) => a.pinPath).sort());
    for (const a of after) {
      const b = before.find((x) => x.pinPath === a.pinPath)!;
      // Same link: it was never detached (a detached link cannot be attached again).
      expect(a.linkId, a.pinPath).toBe(b.linkId);
      expect(a.programId, a.pinPath).not.toBe(b.programId);
      expect(a.programName).toBe(b.programName);
      expect(a.hook).toBe(b.hook);
    }
    expect(xdpProgId(n.ul)).toBe(after.find((a) => a.pinPath.endsWith(`/xdp_${n.ul}`))!.programId);
    expect(xdpProgId(n.p1)).toBe(after.find((a) => a.pinPath.endsWith(`/xdp_${n.p1}`))!.programId);
    expect(messages.filter((m) => m === 'adopted attached link; replaced its program atomically')).toHaveLength(5);
    expect(messages).not.toContain('attached program');

    // Every map was reused, not recreated: the same map behind every pin,
    // and the new programs use exactly those.
    for (const [name, id] of idsBefore) expect(pinnedMap(join(root(t), name)).id, name).toBe(id);
    const pinnedIds = new Set(idsBefore.values());
    for (const a of after) {
      for (const id of prog(a.programId).map_ids ?? []) {
        const name = mapById(id).name;
        if (!name.endsWith('.rodata') && !name.endsWith('.bss')) expect(pinnedIds.has(id), `${a.programName}'s map id ${id}`).toBe(true);
      }
    }
    const want = [u32Key(ifindexOf(n.ul)), u32Key(ifindexOf(n.ph)), u32Key(ifindexOf(n.p1))].sort();
    expect(dumpKeys(idsBefore.get('xdpnet_tx_ports')!)).toEqual(want);
  });

  it('an underlay deleted and created again under its name gets its programs and its transmit slot back (repairInterfaces)', async () => {
    const t = topology();
    const recreate = () => t.addVeth({ a: { name: 'ul4' }, b: { ns: 'peer', name: 'ul4' } });
    await recreate();
    const ul = t.rootLinkName('ul4');
    const { logger, messages } = collectingLogger();
    const n = await NodeDataplane.start({ bpffsRoot: join(t.bpffsDir, 'recreated'), vtepIp: VTEP, underlayInterface: ul, logger });
    const onUnderlay = () => n.attached().filter((a) => a.interfaceName === ul).map((a) => `${a.programName} ${a.ifindex}`).sort();
    const txSlot = (ifindex: number) => n.maps.require('xdpnet_tx_ports').lookup(encode(u32, ifindex));
    try {
      const before = ifindexOf(ul);
      expect(await n.repairInterfaces()).toEqual({ reattached: [], absent: [] });
      sh(['ip', 'link', 'del', ul]);
      expect(await n.repairInterfaces()).toEqual({ reattached: [], absent: [ul] });
      await recreate();
      const after = ifindexOf(ul);
      expect(after).not.toBe(before);
      expect(xdpProgId(ul)).toBeUndefined();

      expect(await n.repairInterfaces()).toEqual({ reattached: [ul], absent: [] });
      expect(messages).toContain('node interface recreated: its programs are attached again');
      expect(n.underlayIfindex).toBe(after);
      expect(prog(xdpProgId(ul)!).name).toBe('xdp_underlay');
      expect(onUnderlay()).toEqual([`tc_underlay_flood ${after}`, `xdp_underlay ${after}`]);
      // Encapsulated frames leave through the new interface's slot; the old one is gone.
      expect(txSlot(after)).toBeDefined();
      expect(txSlot(before)).toBeUndefined();
      // Calls that find nothing to do do nothing; concurrent ones share one repair.
      const [a, b] = await Promise.all([n.repairInterfaces(), n.repairInterfaces()]);
      expect([a, b]).toEqual([
        { reattached: [], absent: [] },
        { reattached: [], absent: [] },
      ]);
    } finally {
      n.teardown();
    }
  });

  it('refuses to make one of the node’s own interfaces a VM port', () => {
    const t = topology();
    const n = names(t);
    const xdpBefore = xdpProgId(n.ul);
    expect(() => node!.ports.attach(n.ul, ifindexOf(n.ul))).toThrow(/one of this node's own/);
    expect(() => node!.ports.attach(n.ph, ifindexOf(n.ph))).toThrow(/one of this node's own/);
    expect(node!.ports.detach(n.ul)).toBeUndefined();
    expect(xdpProgId(n.ul)).toBe(xdpBefore);
    expect(existsSync(join(root(t), 'links', `xdp_${n.ul}`))).toBe(true);
  });

  it('teardown detaches every program and removes every pin', () => {
    const t = topology();
    const n = names(t);
    const linkPins = readdirSync(join(root(t), 'links')).map((f) => join(root(t), 'links', f));
    expect(linkPins).toHaveLength(5);
    // Open the links first: after teardown they must be defunct (detached), not merely unpinned.
    const links = linkPins.map((p) => BpfLink.openPinned(p));
    node!.teardown();
    node = undefined;
    try {
      for (const l of links) expect(l.info().ifindex).toBe(0);
    } finally {
      for (const l of links) l.close();
    }
    for (const ifname of [n.ul, n.ph, n.p1]) expect(xdpProgId(ifname)).toBeUndefined();
    expect(existsSync(root(t))).toBe(false);
  });
});
