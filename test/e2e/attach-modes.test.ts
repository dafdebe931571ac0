// Attachment paths on a real veth: native XDP through a link, the netlink
// path, generic mode only when asked for, the explicit generic fallback on a
// device without native XDP, and TC through a tcx link.
import { expect, it, afterAll, beforeAll } from 'vitest';
import {
  BpfError,
  type LoadedObject,
  attachTc,
  attachXdp,
  attachXdpNetlink,
  detachXdpNetlink,
  loadObject,
  queryXdp,
} from '../../src/dataplane/index.js';
import { RtNetlink } from '../../src/dataplane/rtnetlink.js';
import { describePrivileged } from '../helpers/privileged.js';
import { useTopology } from '../helpers/netns.js';
import { objectPath } from '../helpers/bpf.js';

describePrivileged('attaching programs', ['bpf', 'netns'], () => {
  // The host end of the veth stays in this process's namespace (as a
  // hypervisor's tap does), so this process can attach to it directly.
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('vm', { disableIpv6: true });
      await t.addVeth({ a: { name: 'hv' }, b: { ns: 'vm', name: 'eth0', ip: '10.0.0.1/24' } });
    },
  });
  let obj: LoadedObject;
  let rt: RtNetlink;
  const ifindexOf = async (name: string): Promise<number> => {
    const link = await rt.linkByName(name);
    if (!link) throw new Error(`no link ${name}`);
    return link.index;
  };

  beforeAll(async () => {
    obj = await loadObject(objectPath('tests/map_kinds'));
    rt = RtNetlink.open();
  });
  afterAll(() => {
    obj?.close();
    rt?.close();
  });

  it('native XDP through a link; closing the unpinned link detaches', async () => {
    const ifindex = await ifindexOf(topology().rootLinkName('hv'));
    const program = obj.program('xdp_count');
    const { link, mode } = attachXdp(program, ifindex);
    expect(mode).toBe('native');
    const info = link.info();
    expect(info).toMatchObject({ type: 6, ifindex, progId: program.id });
    expect(queryXdp(ifindex)).toEqual({ mode: 'native', programId: program.id, programName: 'xdp_count', linkId: info.id });

    // A second attach while the link holds the hook is refused.
    expect(() => attachXdp(program, ifindex)).toThrow(BpfError);

    link.close(); // not pinned: the last reference goes, the program detaches
    expect(queryXdp(ifindex)).toBeUndefined();
    program.close();
  });

  it('generic mode when asked for, through the netlink path', async () => {
    const ifindex = await ifindexOf(topology().rootLinkName('hv'));
    const program = obj.program('xdp_count');
    expect(attachXdpNetlink(program, ifindex, { mode: 'generic' })).toBe('generic');
    expect(queryXdp(ifindex)).toEqual({ mode: 'generic', programId: program.id, programName: 'xdp_count', linkId: undefined });
    // onlyIfNone refuses to replace what is there.
    expect(() => attachXdpNetlink(program, ifindex, { mode: 'generic', onlyIfNone: true })).toThrow(BpfError);
    detachXdpNetlink(ifindex, 'generic');
    expect(queryXdp(ifindex)).toBeUndefined();
    program.close();
  });

  it('falls back to generic mode only when explicitly allowed', async () => {
    // An ifb device has no native XDP support (and, unlike dummy, this
    // kernel has it built in). Named with the topology's
    // prefix so the stale sweep removes it if this run dies.
    const t = topology();
    const name = t.rootLinkName('nx');
    await t.exec(null, ['ip', 'link', 'add', name, 'type', 'ifb']);
    try {
      const ifindex = await ifindexOf(name);
      const program = obj.program('xdp_count');
      let err: unknown;
      try {
        attachXdp(program, ifindex);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BpfError);
      expect((err as BpfError).code).toBe('EOPNOTSUPP');
      expect(queryXdp(ifindex)).toBeUndefined();

      const { link, mode } = attachXdp(program, ifindex, { allowGenericFallback: true });
      expect(mode).toBe('generic');
      expect(queryXdp(ifindex)?.mode).toBe('generic');
      link.detach();
      link.close();
      program.close();
    } finally {
      await t.exec(null, ['ip', 'link', 'del', name]);
    }
  });

  it('TC ingress through a tcx link sees real frames', async () => {
    const t = topology();
    const ifindex = await ifindexOf(t.rootLinkName('hv'));
    const program = obj.program('tc_count');
    const counters = obj.map('test_array');
    const slot = Buffer.from([1, 0, 0, 0]);
    const before = counters.lookup(slot)?.readBigUInt64LE() ?? 0n;
    const link = attachTc(program, ifindex, 'ingress');
    try {
      expect(link.info()).toMatchObject({ type: 11, ifindex, attachType: 46, progId: program.id });
      // The VM side asks for a neighbour that does not exist: ARP requests
      // leave eth0 and arrive at the host end's ingress. No reply comes.
      await t.exec('vm', ['ping', '-c', '2', '-i', '0.2', '-W', '1', '10.0.0.99'], { allowFailure: true });
      const after = counters.lookup(slot)?.readBigUInt64LE() ?? 0n;
      expect(after - before).toBeGreaterThanOrEqual(1n);
    } finally {
      link.detach();
      link.close();
      counters.close();
      program.close();
    }
  });
});
