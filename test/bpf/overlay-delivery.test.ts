// Where a frame goes: xdp_port and xdp_underlay run with live frames
// (BPF_F_TEST_XDP_LIVE_FRAMES), so a redirect or XDP_TX really transmits and
// the frame is captured on the peer of the interface it left through. In the
// table tests a redirect is only a verdict; here the two networks that share
// MACs and addresses (red VNI 100, blue VNI 200) are shown to deliver the
// very same frame to different places.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LoadedObject, REASON_MAP_NAME, loadObject, readReasonCounters } from '../../src/dataplane/index.js';
import { objectPath, runLive } from '../helpers/bpf.js';
import { eth } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';
import {
  BLUE,
  BROADCAST,
  type Capture,
  type IfName,
  MAC,
  OVERLAY_LOAD,
  R2,
  R3,
  RED,
  UNDERLAY_LOAD,
  encapsulated,
  expectCapture,
  frameCount,
  fromVtep,
  installWorld,
  useCaptures,
  useOverlayPorts,
} from './overlay-world.js';

const udp = (src: string, srcIp: string, dst: string, dstIp: string) =>
  eth({ src, dst }).ipv4({ src: srcIp, dst: dstIp }).udp({ sport: 40000, dport: 5000 }).payload('where to?').build();

interface DeliveryCase {
  name: string;
  program: 'xdp_port' | 'xdp_underlay';
  ingress: IfName;
  frame: Buffer;
  reason: string;
  out: Partial<Capture>;
}

// One frame, addressed to 02:00:00:00:01:02 (red: local port p2; blue: behind 192.0.2.3).
const toM2 = udp(MAC.m1, '10.0.0.11', MAC.m2, '10.0.0.12');
// One frame, addressed to 02:00:00:00:01:01 (red: local port p1; blue: local port p3).
const toM1 = udp(MAC.r1, '10.0.0.21', MAC.m1, '10.0.0.11');

const cases: DeliveryCase[] = [
  { name: 'red p1 → 02:00:00:00:01:02: out of p2 only, unchanged', program: 'xdp_port', ingress: 'p1', frame: toM2, reason: 'FWD_LOCAL', out: { p2: [toM2] } },
  {
    name: 'blue p3 → 02:00:00:00:01:02: out of the underlay only, VNI 200 to 192.0.2.3',
    program: 'xdp_port',
    ingress: 'p3',
    frame: toM2,
    reason: 'FWD_ENCAP',
    out: { ul: [encapsulated(toM2, BLUE, R3)] },
  },
  {
    name: 'red p1 → a remote red port: out of the underlay, VNI 100 to 192.0.2.2',
    program: 'xdp_port',
    ingress: 'p1',
    frame: udp(MAC.m1, '10.0.0.11', MAC.r1, '10.0.0.21'),
    reason: 'FWD_ENCAP',
    out: { ul: [encapsulated(udp(MAC.m1, '10.0.0.11', MAC.r1, '10.0.0.21'), RED, R2)] },
  },
  {
    name: 'ARP request from p1: the reply goes back out of p1 (to the VM) only',
    program: 'xdp_port',
    ingress: 'p1',
    frame: eth({ src: MAC.m1, dst: BROADCAST }).arp({ senderIp: '10.0.0.11', targetIp: '10.0.0.12' }).build(),
    reason: 'FWD_ARP_REPLY',
    out: {
      p1: [eth({ src: MAC.m2, dst: MAC.m1 }).arp({ op: 'reply', senderMac: MAC.m2, senderIp: '10.0.0.12', targetMac: MAC.m1, targetIp: '10.0.0.11' }).build()],
    },
  },
  {
    name: 'spoofed source from p1: nothing goes anywhere',
    program: 'xdp_port',
    ingress: 'p1',
    frame: udp(MAC.m1, '10.0.0.99', MAC.m2, '10.0.0.12'),
    reason: 'DROP_SPOOFED_IP',
    out: {},
  },
  { name: 'VXLAN VNI 100 → 02:00:00:00:01:01: decapsulated out of red p1 only', program: 'xdp_underlay', ingress: 'ul', frame: fromVtep(toM1, RED, R2), reason: 'FWD_DECAP', out: { p1: [toM1] } },
  { name: 'VXLAN VNI 200, the same inner frame: out of blue p3 only', program: 'xdp_underlay', ingress: 'ul', frame: fromVtep(toM1, BLUE, R3), reason: 'FWD_DECAP', out: { p3: [toM1] } },
  {
    name: 'VXLAN VNI 100 → 02:00:00:00:01:02: out of red p2 only',
    program: 'xdp_underlay',
    ingress: 'ul',
    frame: fromVtep(toM2, RED, R2),
    reason: 'FWD_DECAP',
    out: { p2: [toM2] },
  },
  {
    name: 'VXLAN VNI 200 → 02:00:00:00:01:02 (not on this node for blue): nowhere',
    program: 'xdp_underlay',
    ingress: 'ul',
    frame: fromVtep(toM2, BLUE, R3),
    reason: 'DROP_UNKNOWN_DESTINATION',
    out: {},
  },
];

describePrivileged('overlay delivery (live frames, captured)', ['bpf', 'netns'], () => {
  const world = useOverlayPorts();
  const ifx = (name: IfName) => world().ifindex(name);
  const captures = useCaptures(world);
  const objects: Partial<Record<DeliveryCase['program'], LoadedObject>> = {};

  beforeAll(async () => {
    objects.xdp_port = await loadObject(objectPath('xdp_port'), OVERLAY_LOAD);
    objects.xdp_underlay = await loadObject(objectPath('xdp_underlay'), UNDERLAY_LOAD);
    for (const obj of Object.values(objects)) installWorld(obj, ifx);
  });
  afterAll(() => {
    for (const obj of Object.values(objects)) obj.close();
  });

  const packets = (obj: LoadedObject) => {
    const map = obj.map(REASON_MAP_NAME);
    try {
      return new Map(readReasonCounters(map).map((r) => [r.name, r.packets]));
    } finally {
      map.close();
    }
  };

  for (const c of cases) {
    it(c.name, async () => {
      const obj = objects[c.program]!;
      const mark = captures().mark();
      const before = packets(obj);
      const program = obj.program(c.program);
      try {
        runLive(program, c.frame, ifx(c.ingress));
      } finally {
        program.close();
      }
      const got = await captures().since(mark, frameCount(c.out));
      const after = packets(obj);
      const moved = [...after].filter(([n, p]) => p !== before.get(n)).map(([n, p]) => `${n} +${p - (before.get(n) ?? 0n)}`);
      expect(moved, 'reason counters that moved').toEqual([`REASON_${c.reason} +1`]);
      expectCapture(got, c.out);
    });
  }
});
