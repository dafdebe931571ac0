// Tenant isolation and flooding on the VXLAN overlay. Red (VNI 100) and blue
// (VNI 200) both use 10.0.0.0/24, and b1/b2 have exactly r1's/r2's IP and
// MAC, so only the VNI keeps the tenants apart: in the port program's FDB
// lookup, in the underlay program's decapsulation, and in the flood lists.
// What each VM receives is captured on the VM's own interface.
import { expect, it } from 'vitest';
import { type Capture, type OverlayCluster, startUdpListener, udpSend, useOverlayCluster } from '../helpers/overlay-cluster.js';
import { type ParsedFrame, parseFrame } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';

async function captureAll(c: OverlayCluster, names: readonly string[], filter: string, direction: 'in' | 'inout' = 'inout'): Promise<Map<string, Capture>> {
  const caps = new Map<string, Capture>();
  for (const name of names) caps.set(name, await c.captureVm(name, filter, direction));
  return caps;
}

async function stopAll(caps: Map<string, Capture>): Promise<Map<string, ParsedFrame[]>> {
  const out = new Map<string, ParsedFrame[]>();
  for (const [name, cap] of caps) out.set(name, (await cap.stop()).map((f) => parseFrame(f)));
  return out;
}

const echoRequestsFrom = (frames: ParsedFrame[], src: string): number =>
  frames.filter((f) => f.eth.ipv4?.src === src && f.eth.ipv4.icmp?.type === 8).length;

const arpRequestsFor = (frames: ParsedFrame[], target: string): ParsedFrame[] =>
  frames.filter((f) => f.eth.arp?.op === 1 && f.eth.arp.targetIp === target);

const n = (d: Record<string, number>, reason: string): number => d[reason] ?? 0;

describePrivileged('VXLAN overlay: tenants with the same addresses are isolated; broadcast floods one network', ['bpf', 'netns'], () => {
  const cluster = useOverlayCluster();
  const ALL = ['r1', 'r2', 'r3', 'b1', 'b2'];

  it('delivers to the VM of the sender’s network only, though the other tenant has the same IP and MAC', async () => {
    const c = cluster();
    const r2ip = c.vm('r2').ip; // = b2's
    expect(c.vm('b2')).toMatchObject({ ip: r2ip, mac: c.vm('r2').mac });
    expect(c.vm('b1')).toMatchObject({ ip: c.vm('r1').ip, mac: c.vm('r1').mac });

    // Red: r1 (hv1) → 10.0.0.12. Only r2 gets the requests; only r1 the replies, not b1 next to it with r1's MAC.
    let caps = await captureAll(c, ['r1', 'r2', 'b1', 'b2'], 'icmp', 'in');
    expect(await c.ping('r1', r2ip, 3)).toBe(3);
    let seen = await stopAll(caps);
    expect(echoRequestsFrom(seen.get('r2')!, c.vm('r1').ip)).toBe(3);
    expect(seen.get('b2')).toHaveLength(0);
    expect(seen.get('r1')!.filter((f) => f.eth.ipv4?.icmp?.type === 0)).toHaveLength(3);
    expect(seen.get('b1')).toHaveLength(0);

    // Blue, same addresses both ends: b1 → 10.0.0.12 reaches b2 only, and its replies b1 only.
    caps = await captureAll(c, ['r1', 'r2', 'b1', 'b2'], 'icmp', 'in');
    expect(await c.ping('b1', r2ip, 3)).toBe(3);
    seen = await stopAll(caps);
    expect(echoRequestsFrom(seen.get('b2')!, c.vm('b1').ip)).toBe(3);
    expect(seen.get('r2')).toHaveLength(0);
    expect(seen.get('b1')!.filter((f) => f.eth.ipv4?.icmp?.type === 0)).toHaveLength(3);
    expect(seen.get('r1')).toHaveLength(0);
  });

  it('gives a blue VM no way to an address only red has, on its own node or the other', async () => {
    const c = cluster();
    const caps = await captureAll(c, ALL.filter((v) => v !== 'b1'), 'arp or icmp', 'in');
    const hv1 = await c.reasonDelta('hv1', async () => {
      expect(await c.ping('b1', c.vm('r3').ip, 2)).toBe(0);
    });
    const seen = await stopAll(caps);
    // Blue does not know 10.0.0.13: the ARP responder stays silent and the
    // request is flooded within blue, where b2 gets it; no red VM sees anything.
    expect(n(hv1, 'REASON_FWD_ARP_REPLY')).toBe(0);
    expect(arpRequestsFor(seen.get('b2')!, c.vm('r3').ip).length).toBeGreaterThanOrEqual(1);
    for (const red of ['r1', 'r2', 'r3']) expect(seen.get(red), `${red} saw blue's traffic`).toHaveLength(0);
  });

  it('floods a broadcast to every other port of the network on both nodes, once each, and to no port of the other', async () => {
    const c = cluster();
    const port = 7100;
    const listeners = new Map<string, Awaited<ReturnType<typeof startUdpListener>>>();
    for (const vm of ALL) listeners.set(vm, await startUdpListener(c.topo, vm, port));
    // What comes back in to the sender: a broadcast must not return to the port it came from.
    const senders = await captureAll(c, ['r1', 'b2'], `udp port ${port}`, 'in');
    try {
      const hv1 = await c.reasonDelta('hv1', async () => {
        const hv2 = await c.reasonDelta('hv2', async () => {
          await udpSend(c.topo, 'r1', '10.0.0.255', port, 'red broadcast from r1');
          await udpSend(c.topo, 'b2', '10.0.0.255', port, 'blue broadcast from b2');
          // Every expected copy has arrived (a guard against hangs: the bounds below are counts).
          for (const [vm, text] of [['r2', 'red'], ['r3', 'red'], ['b1', 'blue']] as const) {
            await expect.poll(() => listeners.get(vm)!.received().filter((d) => d.data.startsWith(text)).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
          }
        });
        // hv2: b2's broadcast handed to the flood program (copies: none local in blue, one to hv1); r1's decapsulated and copied to r2.
        expect(n(hv2, 'REASON_PASS_TO_FLOOD')).toBeGreaterThanOrEqual(2);
        expect(n(hv2, 'REASON_FWD_FLOOD')).toBeGreaterThanOrEqual(2);
      });
      expect(n(hv1, 'REASON_PASS_TO_FLOOD')).toBeGreaterThanOrEqual(2);
      expect(n(hv1, 'REASON_FWD_FLOOD')).toBeGreaterThanOrEqual(2);
      const got = (vm: string) => listeners.get(vm)!.received().map((d) => d.data);
      expect(got('r2')).toEqual(['red broadcast from r1']); // remote, same network
      expect(got('r3')).toEqual(['red broadcast from r1']); // local, same network
      expect(got('b1')).toEqual(['blue broadcast from b2']); // remote, same network
      // r1 and b2 get their own broadcast back from their own stack (loopback), never a copy from the network:
      const back = await stopAll(senders);
      expect(back.get('r1')).toHaveLength(0);
      expect(back.get('b2')).toHaveLength(0);
      expect(got('r1')).toEqual(['red broadcast from r1']);
      expect(got('b2')).toEqual(['blue broadcast from b2']);
    } finally {
      for (const l of listeners.values()) await l.proc.stop();
    }
  });

  it('floods an ARP request for an unknown address to the network’s ports on both nodes only', async () => {
    const c = cluster();
    const caps = await captureAll(c, ['r2', 'r3', 'b1', 'b2'], 'arp', 'in');
    expect(await c.ping('r1', '10.0.0.99', 1)).toBe(0);
    // The kernel retries: wait for the first copy at each red port before stopping.
    await caps.get('r2')!.waitFor((f) => parseFrame(f).eth.arp?.targetIp === '10.0.0.99', 'r2 sees the ARP request');
    await caps.get('r3')!.waitFor((f) => parseFrame(f).eth.arp?.targetIp === '10.0.0.99', 'r3 sees the ARP request');
    const seen = await stopAll(caps);
    for (const red of ['r2', 'r3']) {
      const requests = arpRequestsFor(seen.get(red)!, '10.0.0.99');
      expect(requests.length).toBeGreaterThanOrEqual(1);
      expect(requests[0]!.eth).toMatchObject({ src: c.vm('r1').mac, dst: 'ff:ff:ff:ff:ff:ff' });
      expect(requests[0]!.eth.arp).toMatchObject({ senderIp: c.vm('r1').ip, senderMac: c.vm('r1').mac });
    }
    expect(seen.get('b1')).toHaveLength(0);
    expect(seen.get('b2')).toHaveLength(0);
  });
});
