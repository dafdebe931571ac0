// Ports come and go: a deleted port loses its program and its traffic; a port
// whose interface disappears and comes back (a VM restarted, its tap
// recreated with a new ifindex) gets its program back and its traffic
// resumes, without anyone touching the API. Waits are polls bounded by a
// timeout, never timing assertions.
import { expect, it } from 'vitest';
import { type OverlayCluster, pollUntil, useOverlayCluster } from '../helpers/overlay-cluster.js';
import { describePrivileged } from '../helpers/privileged.js';

async function programsOnNode(c: OverlayCluster, ifname: string, hv: 'hv1' | 'hv2' = 'hv1'): Promise<{ programName: string; hook: string }[]> {
  const status = await c.api(hv).nodeStatus();
  return status.programs.filter((p) => p.interfaceName === ifname).map((p) => ({ programName: p.programName, hook: p.hook }));
}

describePrivileged('VXLAN overlay: port and interface lifecycle', ['bpf', 'netns'], () => {
  const cluster = useOverlayCluster();

  it('detaches a deleted port’s program and stops its traffic; re-creating the port restores both', async () => {
    const c = cluster();
    const r3 = c.vm('r3');
    expect(await c.ping('r1', r3.ip, 2)).toBe(2);
    expect(await c.ping('r2', r3.ip, 2)).toBe(2);
    expect(await c.xdpProgramOn('hv1', r3.tap)).toBeDefined();
    expect((await programsOnNode(c, r3.tap)).map((p) => p.programName)).toContain('xdp_port');

    await c.deletePort('r3');
    await pollUntil(() => c.xdpProgramOn('hv1', r3.tap), (id) => id === undefined, 'xdp_port detached from tapr3');
    expect(await programsOnNode(c, r3.tap)).toEqual([]);
    await c.waitConverged('hv1');
    // Its traffic stops, both ways and from either node (ARP is no longer answered for it, nor frames forwarded).
    await c.flushNeighbours('r1');
    expect(await c.ping('r1', r3.ip, 2)).toBe(0);
    expect(await c.ping('r2', r3.ip, 2)).toBe(0);
    expect(await c.ping('r3', c.vm('r1').ip, 2)).toBe(0);
    // Other ports are untouched.
    expect(await c.ping('r1', c.vm('r2').ip, 2)).toBe(2);

    await c.createPort('r3');
    await c.waitConverged('hv1');
    await c.waitConverged('hv2');
    expect(await c.xdpProgramOn('hv1', r3.tap)).toBeDefined();
    expect(await c.ping('r1', r3.ip, 2)).toBe(2);
    expect(await c.ping('r2', r3.ip, 2)).toBe(2);
  });

  it('re-attaches to a port interface that was deleted and recreated, and traffic resumes', async () => {
    const c = cluster();
    const r3 = c.vm('r3');
    expect(await c.ping('r1', r3.ip, 1)).toBe(1);
    const oldIfindex = await c.ifindex('hv1', r3.tap);

    await c.deleteVmInterface('r3');
    expect(await c.ping('r1', r3.ip, 2)).toBe(0);

    await c.addVmInterface('r3');
    const newIfindex = await c.ifindex('hv1', r3.tap);
    expect(newIfindex).not.toBe(oldIfindex);
    const started = Date.now();
    await pollUntil(() => c.xdpProgramOn('hv1', r3.tap), (id) => id !== undefined, 'xdp_port re-attached to the new tapr3', 60_000);
    await pollUntil(() => c.ping('r1', r3.ip, 1), (replies) => replies === 1, 'r1 reaches r3 again', 30_000, 0);
    console.log(`interface recreated: program back and traffic flowing after ${Date.now() - started} ms`);
    expect((await programsOnNode(c, r3.tap)).map((p) => p.programName)).toContain('xdp_port');
    expect(await c.ping('r2', r3.ip, 2)).toBe(2);
    expect(await c.ping('r3', c.vm('r1').ip, 2)).toBe(2);
  }, 120_000);

  it('an underlay interface deleted and created again (both nodes’ eth0): each daemon attaches its programs again, and traffic across nodes resumes', async () => {
    const c = cluster();
    const r2 = c.vm('r2');
    expect(await c.ping('r1', r2.ip, 1)).toBe(1);
    const old = { hv1: await c.ifindex('hv1', 'eth0'), hv2: await c.ifindex('hv2', 'eth0') };

    await c.recreateUnderlay();
    for (const hv of ['hv1', 'hv2'] as const) {
      expect(await c.ifindex(hv, 'eth0')).not.toBe(old[hv]);
      await pollUntil(() => c.xdpProgramOn(hv, 'eth0'), (id) => id !== undefined, `xdp_underlay attached again on ${hv}`, 30_000);
      const programs = await programsOnNode(c, 'eth0', hv);
      expect(programs.map((p) => p.programName).sort()).toEqual(['tc_underlay_flood', 'xdp_underlay']);
    }
    // Across nodes both ways, and a broadcast (ARP from a cold neighbour cache) flooded over the new underlay.
    await c.flushNeighbours('r1');
    await pollUntil(() => c.ping('r1', r2.ip, 1), (replies) => replies === 1, 'r1 reaches r2 across the recreated underlay', 30_000, 0);
    expect(await c.ping('r2', c.vm('r1').ip, 2)).toBe(2);
    expect(await c.ping('r1', c.vm('r3').ip, 2)).toBe(2);
  }, 120_000);
});
