// xdpnetd with the real BPF dataplane, in a network namespace standing for a
// node: it attaches its program to the underlay interface, counts real
// traffic, reports honestly what the fast path cannot do yet, leaves the
// dataplane running when stopped (SIGTERM) or killed (SIGKILL), and adopts
// it on the next start instead of re-attaching.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { unary } from '../../src/api/client.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { TestDaemon } from '../helpers/daemon.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type Topology, useTopology } from '../helpers/netns.js';

async function xdpOnLink(topo: Topology, ns: string, ifname: string): Promise<number | undefined> {
  const { stdout } = await topo.exec(ns, ['ip', '-j', '-d', 'link', 'show', 'dev', ifname]);
  const [link] = JSON.parse(stdout) as { xdp?: { prog?: { id: number } } }[];
  return link?.xdp?.prog?.id;
}

const passedToHost = (counters: pb.ReasonCounters__Output): number =>
  Number(counters.counters.find((c) => c.reason === 'REASON_PASS_HOST')?.packets ?? 0);

describePrivileged('xdpnetd with the BPF dataplane in a node namespace', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('node', { disableIpv6: true });
      await t.addNamespace('peer', { disableIpv6: true });
      await t.addVeth({ a: { ns: 'node', name: 'eth0', ip: '192.0.2.1/24' }, b: { ns: 'peer', name: 'eth0', ip: '192.0.2.2/24' } });
    },
  });

  it('attaches, counts, survives SIGTERM and SIGKILL, and adopts on restart', async () => {
    const t = topology();
    const daemon = await TestDaemon.start({
      config: { dataplane: 'bpf', vtep_ip: '192.0.2.1', underlay_interface: 'eth0', bpffs_root: join(t.bpffsDir, 'xdpnet') },
      wrap: (argv) => ['nsenter', `--net=/run/netns/${t.nsName('node')}`, ...argv],
    });
    try {
      await daemon.waitServing();
      let client = daemon.client();

      // Attached natively to the underlay, through a pinned link.
      const status = await unary<pb.NodeStatus__Output>((cb) => client.getNodeStatus({}, cb));
      expect(status.config?.dataplane).toBe('bpf');
      expect(status.programs).toHaveLength(1);
      const [program] = status.programs;
      expect(program).toMatchObject({ interfaceName: 'eth0', programName: 'xdp_guard', hook: 'native' });
      expect(program!.linkId).toBeGreaterThan(0);
      expect(await xdpOnLink(t, 'node', 'eth0')).toBe(program!.programId);

      // Real traffic is counted.
      const before = passedToHost(await unary((cb) => client.getReasonCounters({}, cb)));
      expect(await t.ping('peer', '192.0.2.1', { count: 3 })).toBe(3);
      const after = passedToHost(await unary((cb) => client.getReasonCounters({}, cb)));
      expect(after - before).toBeGreaterThanOrEqual(3);

      // What the fast path cannot do yet is reported, not pretended.
      const id = '0a0a0a0a-0000-4000-8000-000000000001';
      await unary((cb) => client.createNetwork({ network: { id, segmentationId: 77 } }, cb));
      let network: pb.Network__Output | undefined;
      for (let i = 0; i < 100 && network?.status?.state !== 'RESOURCE_STATE_ERROR'; i++) {
        network = await unary<pb.Network__Output>((cb) => client.getNetwork({ id }, cb));
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(network?.status).toMatchObject({ state: 'RESOURCE_STATE_ERROR', code: 'UNIMPLEMENTED' });
      expect(network?.status?.message).toMatch(/not implemented yet/);
      await expect(unary((cb) => client.getPortCounters({}, cb))).rejects.toMatchObject({ code: 12 /* UNIMPLEMENTED */ });

      // SIGTERM: the daemon exits cleanly, the program stays attached and counting.
      expect((await daemon.stop()).code).toBe(0);
      expect(await xdpOnLink(t, 'node', 'eth0')).toBe(program!.programId);
      expect(await t.ping('peer', '192.0.2.1', { count: 2 })).toBe(2);

      // Start again: adopted (same link, same program), counters carried over.
      daemon.relaunch();
      await daemon.waitServing();
      client = daemon.client();
      const adopted = await unary<pb.NodeStatus__Output>((cb) => client.getNodeStatus({}, cb));
      expect(adopted.programs[0]).toMatchObject({ linkId: program!.linkId, programId: program!.programId });
      expect(daemon.logs).toMatch(/adopted attached program/);
      expect(passedToHost(await unary((cb) => client.getReasonCounters({}, cb)))).toBeGreaterThanOrEqual(after + 2);
      // The desired state came back too.
      expect((await unary<pb.Network__Output>((cb) => client.getNetwork({ id }, cb))).segmentationId).toBe(77);

      // SIGKILL: no chance to clean up, still attached.
      await daemon.kill();
      expect(await xdpOnLink(t, 'node', 'eth0')).toBe(program!.programId);
    } finally {
      await daemon.cleanup();
    }
  });
});
