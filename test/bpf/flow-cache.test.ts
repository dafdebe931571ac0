// xdp_port's flow cache (bpf/lib/flow_cache.h): a routed flow's next frames
// go where routing sent its first one, from the copy, with one lookup.
//   - the frames it serves come out exactly as routed ones (local and
//     encapsulated), counted under the same reasons;
//   - what depends on the packet itself is still checked per frame (TTL,
//     header checksum, options, the destination network's MTU, a VLAN tag),
//     with the outcome routing gives it;
//   - the copy is really used (a route removed past our handles goes unseen
//     until the generation moves), and a change through our handles is seen
//     by the very next frame, the destination network's MTU included (a map
//     only the flow cache copies from).
// The same for a flow translated out of the external NIC (SNAT): its
// connection is still looked up per frame, the rest comes from the copy.
// The worlds are route-world.ts and snat-world.ts; xdp_route.test.ts and
// xdp_snat.test.ts have every outcome.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CACHE_GEN_MAP, advanceGeneration } from '../../src/dataplane/cache-generation.js';
import { BpfMap, type LoadedObject, loadObject } from '../../src/dataplane/index.js';
import { encodeNetwork } from '../../src/dataplane/overlay-encode.js';
import { encodeRoute } from '../../src/dataplane/router-encode.js';
import { encodeExtNexthop } from '../../src/dataplane/snat-encode.js';
import { BPFFS_TEST_ROOT } from '../helpers/bpffs-root.js';
import { objectPath, runCounted } from '../helpers/bpf.js';
import { eth, parseFrame } from '../helpers/frames.js';
import { pinToOneCpu } from '../helpers/one-cpu.js';
import { describePrivileged } from '../helpers/privileged.js';
import { type IfName, OVERLAY_LOAD, R2, encapsulated, useOverlayPorts } from './overlay-world.js';
import { MAC, NETWORK_MTU, ORANGE, ROUTER, installRouteWorld, routeTables } from './route-world.js';
import * as gw from './snat-world.js';

const G1 = { mac: MAC.g1, ip: '10.1.0.11' }; // p1, green, behind router A
const O1 = { mac: MAC.o1, ip: '10.2.0.12' }; // p2, orange
const BEHIND_R2 = '10.2.0.22'; // orange, MAC o2, behind VTEP R2
const VXLAN_OVERHEAD = 14 + 20 + 8 + 8; // outer Ethernet, IPv4, UDP, VXLAN

const udp = (to: string, ip: { ttl?: number; checksum?: number; options?: Uint8Array; df?: boolean } = {}, payload: number | string = 'flow') =>
  eth({ src: G1.mac, dst: MAC.a })
    .ipv4({ src: G1.ip, dst: to, id: 0x77, ...ip })
    .udp({ sport: 40000, dport: 5000 })
    .payload(payload)
    .build();

describePrivileged('xdp_port: a routed flow’s next frames from its flow copy', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  const pins = join(BPFFS_TEST_ROOT, `flow-cache-${process.pid}`);
  let obj: LoadedObject;
  /** Handles on the pins: writes through them are another tool's, with no new generation. */
  let foreign: { routes: BpfMap; generation: BpfMap };
  let unpin: () => void;

  beforeAll(async () => {
    unpin = pinToOneCpu();
    mkdirSync(pins, { recursive: true });
    const pinned = (m: string) => ({ pinPath: join(pins, m) });
    obj = await loadObject(objectPath('xdp_port'), {
      ...OVERLAY_LOAD,
      maps: { xdpnet_routes: pinned('xdpnet_routes'), [CACHE_GEN_MAP]: pinned(CACHE_GEN_MAP) },
    });
    installRouteWorld(obj, world());
    foreign = { routes: BpfMap.openPinned(join(pins, 'xdpnet_routes')), generation: BpfMap.openPinned(join(pins, CACHE_GEN_MAP)) };
  });
  afterAll(() => {
    foreign?.routes.close();
    foreign?.generation.close();
    obj?.close();
    rmSync(pins, { recursive: true, force: true });
    unpin?.();
  });

  const send = (frame: Buffer, from: IfName = 'p1') => runCounted(obj, 'xdp_port', frame, ifx(from));
  const ours = (write: { map: string; key: Buffer; value: Buffer }) => {
    const map = obj.map(write.map);
    try {
      map.update(write.key, write.value);
    } finally {
      map.close();
    }
  };
  const tables = () => routeTables((p) => world().topo.rootLinkName(p));
  const route = (prefix: string) => {
    const r = tables().routes.find((e) => e.key.routerId === ROUTER.a && e.key.prefix === prefix);
    if (!r) throw new Error(`router A has no route ${prefix} in the world`);
    return encodeRoute(r.key, r.value);
  };
  const orange = (mtu: number) => {
    const n = tables().networks.find((e) => e.key.vni === ORANGE)!;
    return encodeNetwork(n.key, { ...n.value, mtu });
  };

  it('the same flow three times, locally and encapsulated: every frame exactly as routed, counted as routed', () => {
    const local = udp(O1.ip);
    const first = send(local);
    expect(first.action).toBe('REDIRECT');
    expect(first.moved).toEqual([`FWD_ROUTED_LOCAL +1/+${local.length}B`]);
    for (let i = 0; i < 2; i++) expect(send(local)).toEqual(first);

    const remote = udp(BEHIND_R2);
    const out = send(remote);
    expect(out.moved).toEqual([`FWD_ROUTED_ENCAP +1/+${remote.length + VXLAN_OVERHEAD}B`]);
    const inner = out.frame.subarray(VXLAN_OVERHEAD);
    expect(out.frame.equals(encapsulated(inner, ORANGE, R2)), 'VXLAN to R2 in VNI 20').toBe(true);
    expect(parseFrame(inner).eth).toMatchObject({ dst: MAC.o2, src: MAC.a, ipv4: { ttl: 63, checksumOk: true } });
    for (let i = 0; i < 2; i++) expect(send(remote)).toEqual(out);
  });

  it('what depends on the packet is checked on every frame of a cached flow, with routing’s outcome', () => {
    expect(send(udp(O1.ip)).action).toBe('REDIRECT'); // the flow, cached
    expect(send(udp(O1.ip, { ttl: 1 })).moved).toEqual([expect.stringMatching(/^FWD_ICMP_TIME_EXCEEDED \+1/)]);
    expect(send(udp(O1.ip, { checksum: 0xbad })).moved).toEqual([expect.stringMatching(/^DROP_BAD_IPV4_CHECKSUM \+1/)]);
    expect(send(udp(O1.ip, { options: Uint8Array.of(1, 1, 1, 1) })).moved).toEqual([expect.stringMatching(/^DROP_IPV4_OPTIONS \+1/)]);
    // From orange back to green, then the same flow VLAN-tagged (p2 has no port security).
    const back = (vlan?: { vid: number }) =>
      eth({ src: O1.mac, dst: MAC.a, ...(vlan ? { vlan } : {}) })
        .ipv4({ src: O1.ip, dst: G1.ip })
        .udp({ sport: 1, dport: 2 })
        .build();
    expect(send(back(), 'p2').moved).toEqual([expect.stringMatching(/^FWD_ROUTED_LOCAL \+1/)]);
    expect(send(back({ vid: 5 }), 'p2').moved).toEqual([expect.stringMatching(/^DROP_ROUTED_NOT_IPV4 \+1/)]);
    expect(send(udp(O1.ip)).action).toBe('REDIRECT'); // and the flow still goes
  });

  it('a route removed by another tool: the flow’s copy is used until the generation moves; put back, the same', () => {
    const connected = route('10.2.0.0/24');
    expect(send(udp(O1.ip)).moved).toEqual([expect.stringMatching(/^FWD_ROUTED_LOCAL/)]);
    foreign.routes.delete(connected.key);
    try {
      expect(send(udp(O1.ip)).moved).toEqual([expect.stringMatching(/^FWD_ROUTED_LOCAL/)]);
      advanceGeneration(foreign.generation);
      // Now the default route: external, through a gateway node with no underlay next hop here.
      expect(send(udp(O1.ip)).moved).toEqual([expect.stringMatching(/^DROP_NO_UNDERLAY_NEXTHOP/)]);
    } finally {
      foreign.routes.update(connected.key, connected.value);
      advanceGeneration(foreign.generation);
    }
    expect(send(udp(O1.ip)).moved).toEqual([expect.stringMatching(/^FWD_ROUTED_LOCAL/)]);
  });

  it('the destination network’s MTU lowered through our handle: the very next frame of the cached flow is too big for it', () => {
    const frame = udp(BEHIND_R2, { df: true }, 200);
    expect(send(frame).moved).toEqual([expect.stringMatching(/^FWD_ROUTED_ENCAP/)]);
    ours(orange(200));
    try {
      expect(send(frame).moved).toEqual([expect.stringMatching(/^FWD_ICMP_FRAG_NEEDED/)]);
    } finally {
      ours(orange(NETWORK_MTU));
    }
    expect(send(frame).moved).toEqual([expect.stringMatching(/^FWD_ROUTED_ENCAP/)]);
  });
});

describePrivileged('xdp_port: a translated flow’s next frames from its flow copy', ['bpf', 'netns'], () => {
  const world = gw.useSnatWorld();
  let unpin: () => void;
  beforeAll(() => {
    unpin = pinToOneCpu();
  });
  afterAll(() => unpin?.());

  const l4: gw.L4 = { kind: 'udp', sport: 5353, dport: 53 };
  const out = (l3: Partial<gw.L3> = {}, payload?: number) => world().out(gw.fromVm(gw.VM.p1, gw.MAC.a, gw.REMOTE, l4, l3, payload), 'p1');
  const gateway = (mac: string) => encodeExtNexthop({ ifindex: world().ifindex('ext'), ip: gw.EXT.gateway }, { dstMac: mac, srcMac: gw.MAC.ext });

  it('a connection’s frames after its first: the same translation, exactly, counted as SNAT', () => {
    const first = out();
    gw.expectRun(first, 'REDIRECT', 'FWD_SNAT_NEW');
    const port = gw.sourcePortOf(first.frame);
    for (let i = 0; i < 3; i++) gw.expectRun(out(), 'REDIRECT', 'FWD_SNAT', gw.snatted(gw.EXT.a, port, gw.REMOTE, l4));
  });

  it('what depends on the packet is checked on every frame of a cached flow, with routing’s outcome', () => {
    gw.expectRun(out(), 'REDIRECT', 'FWD_SNAT');
    gw.expectRun(out({ ttl: 1 }), 'TX', 'FWD_ICMP_TIME_EXCEEDED');
    gw.expectRun(out({ df: true }, gw.EXT_MTU - 28 + 1), 'TX', 'FWD_ICMP_FRAG_NEEDED');
    gw.expectRun(out({ df: false }, gw.EXT_MTU - 28 + 1), 'DROP', 'DROP_EXCEEDS_NETWORK_MTU');
    gw.expectRun(out({ df: true }, gw.EXT_MTU - 28), 'REDIRECT', 'FWD_SNAT');
  });

  it('the external gateway’s MAC changed through our handle: the very next frame goes to the new one', () => {
    const port = gw.sourcePortOf(out().frame);
    world().write(gateway('02:00:00:00:ee:02'));
    try {
      gw.expectRun(out(), 'REDIRECT', 'FWD_SNAT', gw.snatted(gw.EXT.a, port, gw.REMOTE, l4, '02:00:00:00:ee:02'));
    } finally {
      world().write(gateway(gw.MAC.gateway));
    }
    gw.expectRun(out(), 'REDIRECT', 'FWD_SNAT', gw.snatted(gw.EXT.a, port, gw.REMOTE, l4));
  });

  it('pings to the router’s own external IP are answered every time, never taken for a flow out', () => {
    const ping = gw.fromVm(gw.VM.p1, gw.MAC.a, gw.EXT.a, { kind: 'echo', id: 9 });
    for (let i = 0; i < 3; i++) gw.expectRun(world().out(ping, 'p1'), 'TX', 'FWD_ICMP_ECHO_REPLY');
  });
});
