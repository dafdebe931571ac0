// xdp_guard attached by XDP to a veth inside a namespace, with real pings
// crossing it: its counters move; the program stays attached and counting
// after its loader is killed with SIGKILL (the link and counters are pinned);
// a new process adopts the pinned link and detaches it cleanly.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BpfMap, ensureBpffs, readReasonCounters } from '../../src/dataplane/index.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type Topology, useTopology } from '../helpers/netns.js';

const LOADER = join(REPO_ROOT, 'test/e2e/fixtures/guard-loader.mjs');

/** The XDP program on an interface as iproute2 reports it: an independent view. */
async function xdpOnLink(topo: Topology, ns: string, ifname: string): Promise<{ mode: number; id: number } | undefined> {
  const { stdout } = await topo.exec(ns, ['ip', '-j', '-d', 'link', 'show', 'dev', ifname]);
  const [link] = JSON.parse(stdout) as { xdp?: { mode: number; prog?: { id: number } } }[];
  return link?.xdp?.prog ? { mode: link.xdp.mode, id: link.xdp.prog.id } : undefined;
}

function passedToHost(counters: BpfMap): bigint {
  return readReasonCounters(counters).find((r) => r.name === 'REASON_PASS_HOST')?.packets ?? 0n;
}

function lastJson(text: string): Record<string, unknown> {
  const line = text.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

describePrivileged('xdp_guard on a veth with real traffic', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('a', { disableIpv6: true });
      await t.addNamespace('b', { disableIpv6: true });
      await t.addVeth({ a: { ns: 'a', name: 'eth0', ip: '10.0.0.1/24' }, b: { ns: 'b', name: 'eth0', ip: '10.0.0.2/24' } });
    },
  });

  it('counts pings, survives SIGKILL of its loader, and is adopted and detached by a new process', async () => {
    const t = topology();
    ensureBpffs();
    const b = t.nsName('b');

    // 1. Attach from a loader process inside namespace b.
    const loader = t.spawn('b', [process.execPath, LOADER, 'attach', 'eth0', t.bpffsDir]);
    await loader.waitFor(/"event":"attached"/);
    const attached = lastJson(loader.stdout);
    expect(attached.mode).toBe('native');
    expect(await xdpOnLink(t, 'b', 'eth0')).toEqual({ mode: 1 /* XDP_ATTACHED_DRV */, id: attached.programId });

    // 2. Real traffic crosses it and is counted as passed to the host.
    const counters = BpfMap.openPinned(join(t.bpffsDir, 'xdpnet_reasons'));
    try {
      const start = passedToHost(counters);
      expect(await t.ping('a', '10.0.0.2', { count: 3 })).toBe(3);
      const afterFirstPing = passedToHost(counters);
      expect(afterFirstPing - start).toBeGreaterThanOrEqual(3n);

      // 3. SIGKILL the loader: no chance to clean up. The pinned link keeps the program attached.
      loader.signal('SIGKILL');
      const exit = await loader.exited;
      expect(exit.signal).toBe('SIGKILL');
      expect(await xdpOnLink(t, 'b', 'eth0')).toEqual({ mode: 1, id: attached.programId });
      expect(await t.ping('a', '10.0.0.2', { count: 3 })).toBe(3);
      const afterSecondPing = passedToHost(counters);
      expect(afterSecondPing - afterFirstPing).toBeGreaterThanOrEqual(3n);

      // 4. A new process adopts the pinned link and detaches it.
      const adopt = await t.exec(null, ['nsenter', `--net=/run/netns/${b}`, process.execPath, LOADER, 'adopt-detach', 'eth0', t.bpffsDir]);
      const detached = lastJson(adopt.stdout);
      expect(detached).toMatchObject({ event: 'detached', linkId: attached.linkId, programId: attached.programId, after: null });
      expect(detached.before).toMatchObject({ mode: 'native', programId: attached.programId, linkId: attached.linkId });
      expect(await xdpOnLink(t, 'b', 'eth0')).toBeUndefined();

      // 5. Traffic still flows, and is no longer counted.
      expect(await t.ping('a', '10.0.0.2', { count: 2 })).toBe(2);
      expect(passedToHost(counters)).toBe(afterSecondPing);
    } finally {
      counters.close();
    }
  });
});
