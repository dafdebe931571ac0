// xdpnetd with the real BPF dataplane, in a network namespace standing for a
// node: it attaches the overlay programs to the underlay interface, counts
// real traffic, turns a VXLAN network and the local ports whose interfaces
// exist into programmed maps and attached port programs (ACTIVE, and two VMs
// on it ping each other), sets a port up once its interface appears, reports
// honestly what the fast path cannot do yet (routers), leaves the dataplane
// running when stopped (SIGTERM) or killed (SIGKILL), and adopts it on the
// next start: the same links, never detached. Pins an older build left:
// a counters map of another size is replaced (said so in the log), any other
// map of another shape stops the start with a message naming it.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BpfMap, loadObject } from '../../src/dataplane/index.js';
import { REASONS } from '../../src/gen/reasons.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { objectPath } from '../helpers/bpf.js';
import { api, eventually, eventuallyState } from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type Topology, useTopology } from '../helpers/netns.js';

async function xdpOnLink(topo: Topology, ns: string, ifname: string): Promise<{ id: number; name: string } | undefined> {
  const { stdout } = await topo.exec(ns, ['ip', '-j', '-d', 'link', 'show', 'dev', ifname]);
  const [link] = JSON.parse(stdout) as { xdp?: { prog?: { id: number; name: string } } }[];
  return link?.xdp?.prog;
}


const NETWORK_ID = '0a0a0a0a-0000-4000-8000-000000000001';
const SUBNET_ID = '0a0a0a0a-0000-4000-8000-000000000002';
const ROUTER_ID = '0a0a0a0a-0000-4000-8000-000000000003';
const VMS = [
  { vm: 'vm1', tap: 'tap1', id: '0a0a0a0a-0000-4000-8000-000000000011', ip: '10.0.0.11', mac: '02:00:00:00:00:11' },
  { vm: 'vm2', tap: 'tap2', id: '0a0a0a0a-0000-4000-8000-000000000012', ip: '10.0.0.12', mac: '02:00:00:00:00:12' },
] as const;

/**
 * A VM: a namespace whose eth0 is the peer of `tap` in the node. GRO on:
 * XDP redirects into a veth reach its peer only through the peer's NAPI.
 * The other VMs' MACs are static neighbours: xdp_port answers ARP with
 * XDP_TX, which a veth delivers to its peer only once something else
 * schedules the peer's NAPI (see test/helpers/overlay-cluster.ts); the
 * overlay end-to-end tests cover ARP, this one the daemon's wiring.
 */
async function addVm(t: Topology, v: (typeof VMS)[number]): Promise<void> {
  await t.addVeth({ a: { ns: 'node', name: v.tap }, b: { ns: v.vm, name: 'eth0', ip: `${v.ip}/24`, mac: v.mac }, mtu: 1450 });
  await t.exec(v.vm, ['ethtool', '-K', 'eth0', 'gro', 'on']);
  for (const other of VMS) {
    if (other !== v) await t.exec(v.vm, ['ip', 'neigh', 'replace', other.ip, 'lladdr', other.mac, 'dev', 'eth0', 'nud', 'permanent']);
  }
}

const reason = (counters: pb.ReasonCounters__Output, name: string): number =>
  Number(counters.counters.find((c) => c.reason === name)?.packets ?? 0);

const byPin = (status: pb.NodeStatus__Output, file: string) => status.programs.find((p) => p.pinPath.endsWith(`/links/${file}`));

describePrivileged('xdpnetd with the BPF dataplane in a node namespace', ['bpf', 'netns'], () => {
  const topology = useTopology({
    setup: async (t) => {
      await t.addNamespace('node', { disableIpv6: true });
      await t.addNamespace('peer', { disableIpv6: true });
      for (const v of VMS) await t.addNamespace(v.vm, { disableIpv6: true });
      // 1600, not the usual 1500: the default network MTU must come from this interface.
      await t.addVeth({ a: { ns: 'node', name: 'eth0', ip: '192.0.2.1/24' }, b: { ns: 'peer', name: 'eth0', ip: '192.0.2.2/24' }, mtu: 1600 });
      await addVm(t, VMS[0]);
    },
  });

  it('programs the overlay, survives SIGTERM and SIGKILL, and adopts on restart', async () => {
    const t = topology();
    const daemon = await TestDaemon.start({
      config: {
        dataplane: 'bpf',
        vtep_ip: '192.0.2.1',
        underlay_interface: 'eth0',
        bpffs_root: join(t.bpffsDir, 'xdpnet'),
        // Longer than any wait below: an interface that appears must be noticed through its netlink event.
        reconcile: { full_pass_interval_seconds: 600 },
      },
      wrap: (argv) => ['nsenter', `--net=/run/netns/${t.nsName('node')}`, ...argv],
    });
    try {
      await daemon.waitServing();
      let a = api(daemon.client());

      // The underlay: xdp_underlay natively and tc_underlay_flood at TC ingress, each through a pinned link.
      const status = await a.nodeStatus();
      expect(status.config?.dataplane).toBe('bpf');
      expect(status.programs).toHaveLength(2);
      expect(byPin(status, 'xdp_eth0')).toMatchObject({ interfaceName: 'eth0', programName: 'xdp_underlay', hook: 'native' });
      expect(byPin(status, 'tc_eth0')).toMatchObject({ interfaceName: 'eth0', programName: 'tc_underlay_flood', hook: 'tcx-ingress' });
      for (const p of status.programs) expect(p.linkId).toBeGreaterThan(0);
      expect((await xdpOnLink(t, 'node', 'eth0'))?.id).toBe(byPin(status, 'xdp_eth0')!.programId);
      expect(status.maps.find((m) => m.name === 'xdpnet_tx_ports')).toMatchObject({ entries: 1 });

      // Real traffic is counted.
      const before = reason(await a.reasonCounters(), 'REASON_PASS_HOST');
      expect(await t.ping('peer', '192.0.2.1', { count: 3 })).toBe(3);
      const after = reason(await a.reasonCounters(), 'REASON_PASS_HOST');
      expect(after - before).toBeGreaterThanOrEqual(3);

      // A VXLAN network and its ports: tap1 exists, tap2 not yet.
      const network = await a.createNetwork({ id: NETWORK_ID, segmentationId: 77, type: 'NETWORK_TYPE_VXLAN' });
      expect(network.mtu).toBe(1600 - 50); // the underlay's MTU less the VXLAN headers
      await a.createSubnet({ id: SUBNET_ID, networkId: NETWORK_ID, cidr: '10.0.0.0/24' });
      for (const v of VMS) {
        await a.createPort({
          id: v.id,
          networkId: NETWORK_ID,
          macAddress: v.mac,
          fixedIps: [{ subnetId: SUBNET_ID, ipAddress: v.ip }],
          local: { interfaceName: v.tap },
        });
      }
      await eventuallyState(() => a.getNetwork(NETWORK_ID), 'RESOURCE_STATE_ACTIVE');
      await eventuallyState(() => a.getPort(VMS[0].id), 'RESOURCE_STATE_ACTIVE');
      expect((await xdpOnLink(t, 'node', 'tap1'))?.name).toBe('xdp_port');
      // No interface, no forwarding: said so, and retried.
      const waiting = await eventually(
        () => a.getPort(VMS[1].id),
        (p) => p.status?.state === 'RESOURCE_STATE_ERROR',
      );
      expect(waiting.status).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/tap2.*not present/) });

      // The interface appears: its link event asks for a full pass, which sets the port up.
      await addVm(t, VMS[1]);
      await eventuallyState(() => a.getPort(VMS[1].id), 'RESOURCE_STATE_ACTIVE');
      expect((await xdpOnLink(t, 'node', 'tap2'))?.name).toBe('xdp_port');
      const programmed = await a.nodeStatus();
      for (const tap of ['tap1', 'tap2']) {
        expect(byPin(programmed, `xdp_${tap}`)).toMatchObject({ interfaceName: tap, programName: 'xdp_port', hook: 'native' });
        expect(byPin(programmed, `tc_${tap}`)).toMatchObject({ interfaceName: tap, programName: 'tc_port_flood', hook: 'tcx-ingress' });
      }
      expect(programmed.maps.find((m) => m.name === 'xdpnet_ports')).toMatchObject({ entries: 2 });
      // ACTIVE means forwarded: the VMs reach each other, xdp_port redirecting port to port.
      const local = reason(await a.reasonCounters(), 'REASON_FWD_LOCAL');
      expect(await t.ping(VMS[0].vm, VMS[1].ip, { count: 3 })).toBe(3);
      expect(reason(await a.reasonCounters(), 'REASON_FWD_LOCAL') - local).toBeGreaterThanOrEqual(6);

      // A router on the network is programmed too (routed traffic: test/e2e/routing-traffic.test.ts).
      await a.createRouter({ id: ROUTER_ID, name: 'r' });
      await a.addRouterInterface({ routerId: ROUTER_ID, subnetId: SUBNET_ID });
      await eventuallyState(() => a.getRouter(ROUTER_ID), 'RESOURCE_STATE_ACTIVE');
      expect((await a.nodeStatus()).maps.find((m) => m.name === 'xdpnet_routers')).toMatchObject({ entries: 1 });

      // SIGTERM: the daemon exits cleanly; programs stay attached and forwarding.
      const links = (await a.nodeStatus()).programs;
      expect(links).toHaveLength(6);
      expect((await daemon.stop()).code).toBe(0);
      expect((await xdpOnLink(t, 'node', 'eth0'))?.id).toBe(byPin(status, 'xdp_eth0')!.programId);
      expect(await t.ping(VMS[0].vm, VMS[1].ip, { count: 2 })).toBe(2);
      expect(await t.ping('peer', '192.0.2.1', { count: 2 })).toBe(2);

      // Start again: every link adopted (same link: never detached), its program swapped in atomically.
      daemon.relaunch();
      await daemon.waitServing();
      a = api(daemon.client());
      const adopted = await a.nodeStatus();
      expect(adopted.programs.map((p) => p.pinPath).sort()).toEqual(links.map((p) => p.pinPath).sort());
      for (const p of links) expect(adopted.programs.find((q) => q.pinPath === p.pinPath)?.linkId, p.pinPath).toBe(p.linkId);
      expect(daemon.logs).toMatch(/adopted attached link; replaced its program atomically/);
      // The tables read back equal what the daemon wants: its full pass rewrites and removes nothing.
      expect(adopted.lastReconcile).toMatchObject({ kind: 'full', updated: 0, deleted: 0 });
      expect(reason(await a.reasonCounters(), 'REASON_PASS_HOST')).toBeGreaterThanOrEqual(after + 2);
      // The desired state came back, and the first full pass found everything in place.
      expect((await a.getNetwork(NETWORK_ID)).segmentationId).toBe(77);
      // (A resource present at start has the start's state revision as its status revision.)
      for (const v of VMS) await eventually(() => a.getPort(v.id), (p) => p.status?.state === 'RESOURCE_STATE_ACTIVE');
      expect(await t.ping(VMS[1].vm, VMS[0].ip, { count: 2 })).toBe(2);

      // SIGKILL: no chance to clean up, still attached.
      const current = byPin(adopted, 'xdp_tap1')!.programId;
      await daemon.kill();
      expect((await xdpOnLink(t, 'node', 'tap1'))?.id).toBe(current);
      expect(await t.ping(VMS[0].vm, VMS[1].ip, { count: 1 })).toBe(1);
    } finally {
      await daemon.cleanup();
    }
  });

  /** Replaces the pin of `map` under `root` with a map as `object` declares it, but with `maxEntries` (what an older build left). */
  async function olderPin(root: string, object: string, map: string, maxEntries: number): Promise<void> {
    rmSync(join(root, map), { force: true });
    (await loadObject(objectPath(object), { maps: { [map]: { pinPath: join(root, map), maxEntries } } })).close();
  }

  function pinnedMaxEntries(path: string): number {
    const map = BpfMap.openPinned(path);
    try {
      return map.info.maxEntries;
    } finally {
      map.close();
    }
  }

  it('an upgrade over the running dataplane of an older build: its reason counters (64 reasons then) and a forwarding map of another shape are replaced, and the node serves and forwards', async () => {
    const t = topology();
    // The dataplane the test above left running (its daemon killed), as an older build would have left it.
    const root = join(t.bpffsDir, 'xdpnet');
    await olderPin(root, 'xdp_guard', 'xdpnet_reasons', 64);
    const start = () =>
      TestDaemon.start({
        config: { dataplane: 'bpf', vtep_ip: '192.0.2.1', underlay_interface: 'eth0', bpffs_root: root },
        wrap: (argv) => ['nsenter', `--net=/run/netns/${t.nsName('node')}`, ...argv],
      });
    const upgraded = await start();
    try {
      await upgraded.waitServing();
      expect(upgraded.logs).toMatch(/pinned counters map of another build replaced: its counts restart from zero/);
      expect(upgraded.logs).toMatch(/adopted attached link; replaced its program atomically/);
      const a = api(upgraded.client());
      expect((await a.reasonCounters()).counters).toHaveLength(REASONS.length);
      // The swapped-in programs count into the new map.
      expect(await t.ping('peer', '192.0.2.1', { count: 2 })).toBe(2);
      expect(reason(await a.reasonCounters(), 'REASON_PASS_HOST')).toBeGreaterThanOrEqual(2);
    } finally {
      await upgraded.cleanup();
    }

    // A forwarding map of another shape: derived state, rebuilt by the reconciler, so replaced too.
    await olderPin(root, 'xdp_port', 'xdpnet_fdb', 100);
    const replaced = await start();
    try {
      await replaced.waitServing();
      expect(replaced.logs).toMatch(/"map":"xdpnet_fdb".*pinned map of another build replaced: the first reconcile pass writes its entries again/);
      expect(pinnedMaxEntries(join(root, 'xdpnet_fdb'))).toBe(65536);
      expect(await t.ping('peer', '192.0.2.1', { count: 1 })).toBe(1);
    } finally {
      await replaced.cleanup();
    }
  });
});
