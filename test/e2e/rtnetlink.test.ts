// End-to-end tests of src/dataplane/rtnetlink.ts against the real kernel.
//
// RtNetlink works in the calling process's namespace, i.e. the root namespace
// here. Everything it creates there is named `<prefix>-*` (claimed by the
// topology, so destroy() and the stale sweep remove it) and has its peer in a
// test namespace. Addresses and routes use the benchmarking range 198.18.0.0/15
// (and a private routing table) with a random third octet, so nothing else in
// the root namespace is affected. IPv6 is off on the root-side ends: no traffic
// leaves the test links. Results are checked against `ip -j` output.

import { openSync, closeSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError, RtNetlink } from '../../src/dataplane/rtnetlink.js';
import { useTopology } from '../helpers/netns.js';
import { describePrivileged } from '../helpers/privileged.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  address?: string;
  flags: string[];
  linkinfo?: { info_kind?: string };
}
interface IpAddr {
  ifname: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number }>;
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
}
interface IpNeigh {
  dst: string;
  dev?: string;
  lladdr?: string;
  state: string[];
}

/** Expects `p` to reject with a NetlinkError matching `fields`. */
async function expectNlError(p: Promise<unknown>, fields: Partial<Pick<NetlinkError, 'code' | 'op'>>): Promise<NetlinkError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NetlinkError);
  const e = err as NetlinkError;
  expect(e).toMatchObject(fields);
  expect(e.errno).toBe(osConstants.errno[e.code as keyof typeof osConstants.errno]);
  expect(e.errno).toBeGreaterThan(0);
  return e;
}

describePrivileged('rtnetlink', ['netns'], () => {
  const topo = useTopology({ setup: async (t) => void (await t.addNamespace('p', { disableIpv6: true })) });
  const oct = randomInt(1, 255);
  const net = `198.18.${oct}`; // link subnet
  const far = `198.19.${oct}`; // routed destinations
  const table = randomInt(10_000, 60_000);
  let nl: RtNetlink;

  beforeAll(() => {
    nl = RtNetlink.open();
  });
  afterAll(() => nl?.close());

  /** `ip -j ARGS` in the root namespace (ns null) or a test namespace. */
  async function ipJson<T>(ns: string | null, ...args: string[]): Promise<T[]> {
    const r = await topo().exec(ns, ['ip', '-j', ...args]);
    return JSON.parse(r.stdout || '[]') as T[];
  }

  async function rootLink(name: string): Promise<IpLink | undefined> {
    const r = await topo().exec(null, ['ip', '-j', '-d', 'link', 'show', 'dev', name], { allowFailure: true });
    return r.code === 0 ? (JSON.parse(r.stdout) as IpLink[])[0] : undefined;
  }

  /** A veth `<prefix>-<short>` (root, IPv6 off) <-> `peer` in namespace p. */
  async function veth(short: string, peer: string): Promise<{ name: string; index: number }> {
    const name = topo().claimRootLink(short);
    const link = await nl.createVeth(name, peer, { peerNetns: topo().nsName('p') });
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1');
    return { name, index: link.index };
  }

  describe('links', () => {
    it('lists and looks up links', async () => {
      const all = await nl.links();
      const lo = all.find((l) => l.name === 'lo');
      expect(lo).toMatchObject({ name: 'lo', up: true, mtu: 65536, mac: '00:00:00:00:00:00' });
      expect(lo?.kind).toBeUndefined();
      const [ipLo] = await ipJson<IpLink>(null, 'link', 'show', 'dev', 'lo');
      expect(lo?.index).toBe(ipLo?.ifindex);
      expect(await nl.linkByName('lo')).toEqual(lo);
      expect(await nl.linkByIndex(lo?.index ?? -1)).toEqual(lo);
      expect(await nl.linkByName(topo().rootLinkName('none'))).toBeUndefined();
      expect(await nl.linkByIndex(0x7ffffff0)).toBeUndefined();
    });

    it('createVeth with peerNetns: peer created inside the namespace', async () => {
      const name = topo().claimRootLink('v0');
      const local = await nl.createVeth(name, 'pv0', { peerNetns: topo().nsName('p'), mtu: 1400 });
      expect(local).toMatchObject({ name, kind: 'veth', mtu: 1400, up: false });
      expect(local.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);

      const root = await rootLink(name);
      expect(root).toMatchObject({ ifname: name, mtu: 1400, linkinfo: { info_kind: 'veth' } });
      expect(root?.address).toBe(local.mac);
      const [peer] = await ipJson<IpLink>(topo().nsName('p'), '-d', 'link', 'show', 'dev', 'pv0');
      expect(peer).toMatchObject({ ifname: 'pv0', mtu: 1400, linkinfo: { info_kind: 'veth' } });
      expect(await nl.linkByName('pv0')).toBeUndefined(); // not in the root namespace
      expect((await nl.links()).map((l) => l.name)).toContain(name);

      await nl.deleteLink(name);
      expect(await rootLink(name)).toBeUndefined();
      const gone = await topo().exec('p', ['ip', 'link', 'show', 'dev', 'pv0'], { allowFailure: true });
      expect(gone.code).not.toBe(0);
    });

    it('createVeth with peerNetnsFd', async () => {
      const name = topo().claimRootLink('v1');
      const fd = openSync(`/run/netns/${topo().nsName('p')}`, 'r');
      try {
        await nl.createVeth(name, 'pv1', { peerNetnsFd: fd });
      } finally {
        closeSync(fd);
      }
      const [peer] = await ipJson<IpLink>('p', 'link', 'show', 'dev', 'pv1');
      expect(peer?.ifname).toBe('pv1');
      await nl.deleteLink(name);
    });

    it('createVeth with both ends here; deleting one end deletes both', async () => {
      const a = topo().claimRootLink('v2a');
      const b = topo().claimRootLink('v2b');
      await nl.createVeth(a, b);
      expect((await nl.linkByName(b))?.kind).toBe('veth');
      expect(await rootLink(a)).toBeDefined();
      await nl.deleteLink(b);
      expect(await rootLink(a)).toBeUndefined();
      expect(await rootLink(b)).toBeUndefined();
    });

    it('setUp, setDown, setMtu, setMac by name and by index', async () => {
      const { name, index } = await veth('v3', 'pv3');
      await nl.setUp(name);
      expect((await rootLink(name))?.flags).toContain('UP');
      expect((await nl.linkByIndex(index))?.up).toBe(true);
      await nl.setDown(index);
      expect((await rootLink(name))?.flags).not.toContain('UP');
      expect((await nl.linkByName(name))?.up).toBe(false);

      await nl.setMtu(name, 1280);
      expect((await rootLink(name))?.mtu).toBe(1280);
      await nl.setMtu(index, 9000);
      expect((await rootLink(name))?.mtu).toBe(9000);

      await nl.setMac(index, '02:00:5e:10:00:01');
      expect((await rootLink(name))?.address).toBe('02:00:5e:10:00:01');
      await nl.setMac(name, '02:00:5E:10:00:02'); // upper case accepted
      expect((await nl.linkByIndex(index))?.mac).toBe('02:00:5e:10:00:02');
      await nl.deleteLink(index);
    });

    it('moveToNetns moves a link into a namespace', async () => {
      const a = topo().claimRootLink('v4a');
      const b = topo().claimRootLink('v4b');
      await nl.createVeth(a, b);
      await nl.moveToNetns(b, { netns: topo().nsName('p') });
      expect(await nl.linkByName(b)).toBeUndefined();
      const [moved] = await ipJson<IpLink>('p', 'link', 'show', 'dev', b);
      expect(moved?.ifname).toBe(b);
      await nl.deleteLink(a);
    });
  });

  describe('addresses', () => {
    it('add, list, duplicate, delete', async () => {
      const { name, index } = await veth('a0', 'pa0');
      const cidr = `${net}.1/24`;
      await nl.addAddress(index, cidr);

      const [shown] = await ipJson<IpAddr>(null, '-4', 'addr', 'show', 'dev', name);
      expect(shown?.addr_info).toEqual([expect.objectContaining({ local: `${net}.1`, prefixlen: 24 })]);
      expect(await nl.addresses(index)).toEqual([{ ifindex: index, address: `${net}.1`, prefixLen: 24, cidr }]);
      expect((await nl.addresses()).some((a) => a.ifindex === index && a.cidr === cidr)).toBe(true);

      await expectNlError(nl.addAddress(index, cidr), { code: 'EEXIST', op: 'addAddress' });

      await nl.addAddress(index, `${net}.9/32`);
      expect((await nl.addresses(index)).map((a) => a.cidr).sort()).toEqual([cidr, `${net}.9/32`].sort());

      await nl.deleteAddress(index, cidr);
      await nl.deleteAddress(index, `${net}.9/32`);
      expect(await nl.addresses(index)).toEqual([]);
      const [after] = await ipJson<IpAddr>(null, '-4', 'addr', 'show', 'dev', name);
      expect(after?.addr_info ?? []).toEqual([]);
      await expectNlError(nl.deleteAddress(index, cidr), { code: 'EADDRNOTAVAIL', op: 'deleteAddress' });
      await nl.deleteLink(index);
    });
  });

  describe('routes', () => {
    it('add, list, duplicate, delete (gateway and device routes, main and private table)', async () => {
      const { name, index } = await veth('r0', 'pr0');
      await nl.addAddress(index, `${net}.1/24`);
      await nl.setUp(index);
      await topo().exec('p', ['ip', 'addr', 'add', `${net}.2/24`, 'dev', 'pr0']);
      await topo().exec('p', ['ip', 'link', 'set', 'pr0', 'up']);

      const viaGw = { dst: `${far}.0/24`, gateway: `${net}.2`, table };
      const dflt = { dst: '0.0.0.0/0', gateway: `${net}.2`, ifindex: index, table };
      const onDev = { dst: `${far}.128/25`, ifindex: index }; // main table
      await nl.addRoute(viaGw);
      await nl.addRoute(dflt);
      await nl.addRoute(onDev);

      const shown = await ipJson<IpRoute>(null, 'route', 'show', 'table', String(table));
      expect(shown).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ dst: `${far}.0/24`, gateway: `${net}.2`, dev: name }),
          expect.objectContaining({ dst: 'default', gateway: `${net}.2`, dev: name }),
        ]),
      );
      const mainShown = await ipJson<IpRoute>(null, 'route', 'show', 'dev', name);
      expect(mainShown).toEqual(expect.arrayContaining([expect.objectContaining({ dst: `${far}.128/25`, scope: 'link' })]));

      const mine = await nl.routes({ table });
      expect(mine).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ dst: `${far}.0/24`, gateway: `${net}.2`, ifindex: index, table, type: 'UNICAST', protocol: 'STATIC' }),
          expect.objectContaining({ dst: '0.0.0.0/0', gateway: `${net}.2`, ifindex: index, table }),
        ]),
      );
      expect(mine).toHaveLength(2);
      const onLink = await nl.routes({ ifindex: index });
      expect(onLink).toEqual(expect.arrayContaining([expect.objectContaining({ dst: `${far}.128/25`, table: 254 })]));
      // The connected route the kernel made for the address is there too.
      expect(onLink).toEqual(expect.arrayContaining([expect.objectContaining({ dst: `${net}.0/24`, protocol: 'KERNEL' })]));

      await expectNlError(nl.addRoute(viaGw), { code: 'EEXIST', op: 'addRoute' });

      await nl.deleteRoute(viaGw);
      await nl.deleteRoute({ dst: '0.0.0.0/0', table }); // unspecified fields match anything
      await nl.deleteRoute(onDev);
      expect(await nl.routes({ table })).toEqual([]);
      expect(await ipJson<IpRoute>(null, 'route', 'show', 'table', String(table))).toEqual([]);
      expect((await nl.routes({ ifindex: index })).map((r) => r.dst)).not.toContain(`${far}.128/25`);
      await expectNlError(nl.deleteRoute(viaGw), { code: 'ESRCH', op: 'deleteRoute' });
      await nl.deleteLink(index);
    });
  });

  describe('neighbours', () => {
    it('add (permanent and not), list, duplicate, replace, delete', async () => {
      const { name, index } = await veth('n0', 'pn0');
      await nl.setUp(index);
      const ip1 = `${net}.7`;
      const ip2 = `${net}.8`;
      await nl.addNeighbor({ ifindex: index, ip: ip1, mac: '02:00:00:00:00:07', permanent: true });
      await nl.addNeighbor({ ifindex: index, ip: ip2, mac: '02:00:00:00:00:08' });

      const shown = await ipJson<IpNeigh>(null, '-4', 'neigh', 'show', 'dev', name);
      expect(shown).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ dst: ip1, lladdr: '02:00:00:00:00:07', state: ['PERMANENT'] }),
          expect.objectContaining({ dst: ip2, lladdr: '02:00:00:00:00:08' }),
        ]),
      );
      const listed = await nl.neighbors(index);
      expect(listed).toEqual(
        expect.arrayContaining([
          { ifindex: index, ip: ip1, mac: '02:00:00:00:00:07', state: ['permanent'], permanent: true },
          expect.objectContaining({ ip: ip2, mac: '02:00:00:00:00:08', permanent: false }),
        ]),
      );
      expect(listed.find((n) => n.ip === ip2)?.state).not.toContain('permanent');
      expect((await nl.neighbors()).some((n) => n.ifindex === index && n.ip === ip1)).toBe(true);

      await expectNlError(nl.addNeighbor({ ifindex: index, ip: ip1, mac: '02:00:00:00:00:09', permanent: true }), {
        code: 'EEXIST',
        op: 'addNeighbor',
      });
      await nl.addNeighbor({ ifindex: index, ip: ip1, mac: '02:00:00:00:00:09', permanent: true, replace: true });
      expect((await nl.neighbors(index)).find((n) => n.ip === ip1)?.mac).toBe('02:00:00:00:00:09');

      await nl.deleteNeighbor({ ifindex: index, ip: ip1 });
      await nl.deleteNeighbor({ ifindex: index, ip: ip2 });
      expect(await nl.neighbors(index)).toEqual([]);
      expect(await ipJson<IpNeigh>(null, '-4', 'neigh', 'show', 'dev', name)).toEqual([]);
      await expectNlError(nl.deleteNeighbor({ ifindex: index, ip: ip1 }), { code: 'ENOENT', op: 'deleteNeighbor' });
      await nl.deleteLink(index);
    });
  });

  describe('errors', () => {
    it('kernel errors carry errno, code and op', async () => {
      const missing = topo().rootLinkName('nx');
      const e = await expectNlError(nl.deleteLink(missing), { op: 'deleteLink' });
      expect(['ENODEV', 'ENOENT']).toContain(e.code);
      expect(e.message).toContain(missing);
      await expectNlError(nl.deleteLink(0x7ffffff0), { code: 'ENODEV', op: 'deleteLink' });
      await expectNlError(nl.setUp(missing), { code: 'ENODEV', op: 'setUp' });

      const { name } = await veth('e0', 'pe0');
      await expectNlError(nl.createVeth(name, 'pe1'), { code: 'EEXIST', op: 'createVeth' });
      // The peer name is taken inside the namespace.
      await expectNlError(nl.createVeth(topo().claimRootLink('e1'), 'pe0', { peerNetns: topo().nsName('p') }), {
        code: 'EEXIST',
        op: 'createVeth',
      });
      await expectNlError(nl.createVeth(topo().claimRootLink('e2'), 'pe2', { peerNetns: `${topo().prefix}-nope` }), {
        code: 'ENOENT',
        op: 'createVeth',
      });
      await nl.deleteLink(name);
    });

    it('bad arguments are rejected before any syscall', async () => {
      // A closed instance fails every request with EBADF, so EINVAL here proves
      // that validation ran before any I/O was attempted.
      const closed = RtNetlink.open();
      closed.close();
      closed.close(); // idempotent
      await expectNlError(closed.addAddress(1, '10.1.2.3/24'), { code: 'EBADF', op: 'addAddress' });

      const bad: Array<[string, () => Promise<unknown>]> = [
        ['addAddress', () => closed.addAddress(1, '10.1.2.3/33')],
        ['addAddress', () => closed.addAddress(1, '10.1.2.3')],
        ['addAddress', () => closed.addAddress(1, '300.1.2.3/24')],
        ['addAddress', () => closed.addAddress(1, 'fe80::1/64')],
        ['addAddress', () => closed.addAddress(0, '10.1.2.3/24')],
        ['deleteAddress', () => closed.deleteAddress(1, '10.1.2.3/2x')],
        ['addRoute', () => closed.addRoute({ dst: '10.1.2.3/24', ifindex: 1 })], // host bits set
        ['addRoute', () => closed.addRoute({ dst: '10.1.2.0/24' })], // neither gateway nor ifindex
        ['addRoute', () => closed.addRoute({ dst: '10.1.2.0/24', gateway: '10.1.2' })],
        ['addRoute', () => closed.addRoute({ dst: '10.1.2.0/24', ifindex: 1, table: 0 })],
        ['addNeighbor', () => closed.addNeighbor({ ifindex: 1, ip: '10.1.2.3', mac: '02:00:00:00:00' })],
        ['addNeighbor', () => closed.addNeighbor({ ifindex: 1, ip: '10.1.2.3/32', mac: '02:00:00:00:00:01' })],
        ['createVeth', () => closed.createVeth('sixteen-chars-xx', 'b')],
        ['createVeth', () => closed.createVeth('a', 'b/c')],
        ['createVeth', () => closed.createVeth('a', 'b', { mtu: 10 })],
        ['createVeth', () => closed.createVeth('a', 'b', { peerNetns: '../etc' })],
        ['setMtu', () => closed.setMtu('lo', 1.5)],
        ['setMac', () => closed.setMac('lo', 'zz:00:00:00:00:00')],
        ['linkByName', () => closed.linkByName('')],
        ['deleteLink', () => closed.deleteLink(-1)],
      ];
      for (const [op, call] of bad) {
        const e = await expectNlError(call(), { code: 'EINVAL', op });
        expect(e.errno).toBe(22);
      }
      // The message says what was wrong.
      await expect(closed.addRoute({ dst: '10.1.2.3/24', ifindex: 1 })).rejects.toThrow(/host bits set.*10\.1\.2\.0\/24/);
      await expect(closed.createVeth('sixteen-chars-xx', 'b')).rejects.toThrow(/longer than 15/);
    });
  });
});
