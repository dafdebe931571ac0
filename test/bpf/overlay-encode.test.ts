// The overlay encoder (src/dataplane/overlay-encode.ts) speaks xdp_port's
// language: a small world written into the object's maps only through the
// encoder's MapWrites (plus the node-level next hop, which is no table), then
// frames through BPF_PROG_RUN. And back: the maps as the kernel returns them
// decode to exactly the tables that were written.
//
// Ports need real interfaces (the DEVMAP refuses an ifindex that does not
// exist), so the root-side veth ends of overlay-world.ts are the ports, named
// by their real interface names and resolved through /sys/class/net as the
// daemon resolves them through rtnetlink.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { codec, loadObject, type LoadedObject } from '../../src/dataplane/index.js';
import { vtepNexthop } from '../../src/dataplane/layouts.js';
import {
  type MapWrite,
  type RawEntry,
  decodeArp,
  decodeFdb,
  decodeFlood,
  decodeLocalPorts,
  decodeNetwork,
  encodeFlood,
  txPortWrite,
} from '../../src/dataplane/overlay-encode.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import type { TableKey, TableName, TableValue } from '../../src/reconciler/tables.js';
import { objectPath, packetTable } from '../helpers/bpf.js';
import { eth } from '../helpers/frames.js';
import { describePrivileged } from '../helpers/privileged.js';
import { BROADCAST, MAC, NEXTHOP_MAC, OVERLAY_LOAD, R2, RED, UNDERLAY_MAC, daemonOverlayWrites, encapsulated, useOverlayPorts } from './overlay-world.js';

const NETWORK_ID = '0b3c1a52-6f0e-4d7e-9a55-2c1d1e4f9a01';
const P1_ID = '7f000000-0000-4000-8000-000000000001';
const P2_ID = '7f000000-0000-4000-8000-000000000002';
const ROUTER_ID = '5d2a7c4e-0b8f-4a3c-9e1d-2f3a4b5c6d7e';

type Sample<T extends TableName> = { key: TableKey<T>; value: TableValue<T> };
interface World {
  networks: Sample<'networks'>[];
  localPorts: Sample<'localPorts'>[];
  fdb: Sample<'fdb'>[];
  arp: Sample<'arp'>[];
  floodList: Sample<'floodList'>[];
}

/** The tables for a world whose ports are the interfaces p1 and p2 (real names). */
function tables(p1: string, p2: string): World {
  return {
    networks: [{ key: { vni: RED }, value: { networkId: NETWORK_ID, mtu: 1450, adminStateUp: true } }],
    localPorts: [
      {
        key: { interfaceName: p1 },
        value: {
          portId: P1_ID,
          vni: RED,
          macAddress: MAC.m1,
          ipAddresses: ['10.0.0.11'],
          portSecurityEnabled: true,
          allowedAddressPairs: [{ cidr: '192.168.50.0/28', macAddress: MAC.pair }],
          adminStateUp: true,
        },
      },
      {
        // More fixed IPs than its port entry holds (4): the last one, in string order, goes to the trie.
        key: { interfaceName: p2 },
        value: {
          portId: P2_ID,
          vni: RED,
          macAddress: MAC.m2,
          ipAddresses: ['10.0.0.12', '10.0.2.1', '10.0.2.2', '10.0.2.3', '10.0.2.4'],
          portSecurityEnabled: true,
          allowedAddressPairs: [],
          adminStateUp: true,
        },
      },
    ].sort((a, b) => (a.key.interfaceName < b.key.interfaceName ? -1 : 1)),
    fdb: [
      { key: { vni: RED, macAddress: MAC.m1 }, value: { location: { kind: 'local', interfaceName: p1 } } },
      { key: { vni: RED, macAddress: MAC.m2 }, value: { location: { kind: 'local', interfaceName: p2 } } },
      { key: { vni: RED, macAddress: MAC.r1 }, value: { location: { kind: 'remote', vtepIp: R2 } } },
      { key: { vni: RED, macAddress: MAC.router }, value: { location: { kind: 'router', routerId: ROUTER_ID } } },
    ],
    arp: [
      { key: { vni: RED, ipAddress: '10.0.0.11' }, value: { macAddress: MAC.m1 } },
      { key: { vni: RED, ipAddress: '10.0.0.12' }, value: { macAddress: MAC.m2 } },
      { key: { vni: RED, ipAddress: '10.0.0.21' }, value: { macAddress: MAC.r1 } },
    ],
    floodList: [{ key: { vni: RED }, value: { remoteVteps: [R2], localInterfaces: [p1, p2].sort() } }],
  };
}

const sysIfindex = (name: string): number | undefined => {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
  } catch {
    return undefined;
  }
};

const udp = (src: string, srcIp: string, dst: string, dstIp: string) =>
  eth({ src, dst }).ipv4({ src: srcIp, dst: dstIp }).udp({ sport: 40000, dport: 5000 }).payload('via the encoder').build();
const arpRequest = (from: { mac: string; ip: string }, targetIp: string) =>
  eth({ src: from.mac, dst: BROADCAST }).arp({ senderIp: from.ip, targetIp }).build({ pad: false });
const arpReply = (to: { mac: string; ip: string }, ip: string, mac: string) =>
  eth({ src: mac, dst: to.mac }).arp({ op: 'reply', senderMac: mac, senderIp: ip, targetMac: to.mac, targetIp: to.ip }).build({ pad: false });
const P1 = { mac: MAC.m1, ip: '10.0.0.11' };

describePrivileged('overlay-encode against xdp_port', ['bpf', 'netns'], () => {
  const ports = useOverlayPorts();
  const name = (short: 'p1' | 'p2' | 'ul') => ports().topo.rootLinkName(short);
  const ifx = (short: 'p1' | 'p2' | 'ul') => ports().ifindex(short);
  const world = () => tables(name('p1'), name('p2'));

  /** Every write the encoder makes for the world, plus the underlay's next hop and transmit slot. */
  function install(obj: LoadedObject): void {
    const w = world();
    const writes: MapWrite[] = [
      ...w.floodList.map((e) => encodeFlood(e.key, e.value, sysIfindex)),
      // With what the daemon adds: counter slots, the network's state in the ports, the ports' in their MACs.
      ...daemonOverlayWrites(w, sysIfindex),
      txPortWrite(ifx('ul')),
    ];
    for (const write of writes) {
      const map = obj.map(write.map);
      try {
        map.update(write.key, write.value);
      } finally {
        map.close();
      }
    }
    const nexthops = obj.map('xdpnet_nexthops');
    try {
      nexthops.update(codec.encode(codec.ipv4, R2), vtepNexthop.encode({ dst_mac: NEXTHOP_MAC[R2]!, src_mac: UNDERLAY_MAC, ifindex: ifx('ul') }));
    } finally {
      nexthops.close();
    }
  }

  const remote = udp(MAC.m1, '10.0.0.11', MAC.r1, '10.0.0.21');
  packetTable({
    title: 'overlay-encode: xdp_port verdicts on encoder-written maps',
    object: 'xdp_port',
    program: 'xdp_port',
    load: OVERLAY_LOAD,
    setup: install,
    cases: [
      {
        name: 'to the other local port’s MAC: redirected',
        frame: udp(MAC.m1, '10.0.0.11', MAC.m2, '10.0.0.12'),
        ingressIfindex: () => ifx('p1'),
        expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
      },
      {
        name: 'from an allowed pair (its own MAC) to the other local port: redirected',
        frame: udp(MAC.pair, '192.168.50.3', MAC.m2, '10.0.0.12'),
        ingressIfindex: () => ifx('p1'),
        expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
      },
      {
        name: 'to the remote MAC: encapsulated to its VTEP with VNI 100',
        frame: remote,
        ingressIfindex: () => ifx('p1'),
        expect: {
          action: 'REDIRECT',
          reason: 'FWD_ENCAP',
          frame: encapsulated(remote, RED, R2),
          check: (out) => expect((out.readUInt32BE(46) >>> 8) & 0xffffff).toBe(RED),
        },
      },
      {
        name: 'ARP request for a known IP: answered',
        frame: arpRequest(P1, '10.0.0.12'),
        ingressIfindex: () => ifx('p1'),
        expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply(P1, '10.0.0.12', MAC.m2) },
      },
      {
        name: 'ARP request for the remote port’s IP: answered with its MAC',
        frame: arpRequest(P1, '10.0.0.21'),
        ingressIfindex: () => ifx('p1'),
        expect: { action: 'TX', reason: 'FWD_ARP_REPLY', frame: arpReply(P1, '10.0.0.21', MAC.r1) },
      },
      {
        name: 'from a fixed IP in the port entry (its fourth): redirected',
        frame: udp(MAC.m2, '10.0.2.3', MAC.m1, '10.0.0.11'),
        ingressIfindex: () => ifx('p2'),
        expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
      },
      {
        name: 'from a fixed IP beyond the port entry’s four (in the trie): redirected',
        frame: udp(MAC.m2, '10.0.2.4', MAC.m1, '10.0.0.11'),
        ingressIfindex: () => ifx('p2'),
        expect: { action: 'REDIRECT', reason: 'FWD_LOCAL' },
      },
      {
        name: 'spoofed source IPv4 from the port with five fixed IPs: dropped',
        frame: udp(MAC.m2, '10.0.2.5', MAC.m1, '10.0.0.11'),
        ingressIfindex: () => ifx('p2'),
        expect: { action: 'DROP', reason: 'DROP_SPOOFED_IP' },
      },
      {
        name: 'spoofed source IPv4: dropped',
        frame: udp(MAC.m1, '10.0.0.12', MAC.m2, '10.0.0.12'),
        ingressIfindex: () => ifx('p1'),
        expect: { action: 'DROP', reason: 'DROP_SPOOFED_IP' },
      },
      {
        name: 'spoofed source MAC: dropped',
        frame: udp(MAC.stranger, '10.0.0.11', MAC.m2, '10.0.0.12'),
        ingressIfindex: () => ifx('p1'),
        expect: { action: 'DROP', reason: 'DROP_SPOOFED_MAC' },
      },
      {
        name: 'one byte over the encoded network MTU (1450): dropped',
        frame: eth({ src: MAC.m1, dst: MAC.m2 }).ipv4({ src: '10.0.0.11', dst: '10.0.0.12' }).udp({ sport: 1, dport: 2 }).payload(1451 - 28).build(),
        ingressIfindex: () => ifx('p1'),
        expect: { action: 'DROP', reason: 'DROP_EXCEEDS_NETWORK_MTU' },
      },
      {
        name: 'to the router’s MAC: the FDB says router',
        frame: udp(MAC.m1, '10.0.0.11', MAC.router, '8.8.8.8'),
        ingressIfindex: () => ifx('p1'),
        expect: { action: 'DROP', reason: 'DROP_ROUTING_NOT_IMPLEMENTED' },
      },
    ],
  });

  describePrivileged('overlay-encode: the maps as the kernel returns them decode to the tables', ['bpf'], () => {
    let obj: LoadedObject;
    beforeAll(async () => {
      obj = await loadObject(objectPath('xdp_port'), OVERLAY_LOAD);
      install(obj);
    });
    afterAll(() => obj?.close());

    const dump = (mapName: string): RawEntry[] => {
      const map = obj.map(mapName);
      try {
        return [...map.entries()].map(([key, value]) => ({ key, value }));
      } finally {
        map.close();
      }
    };
    const byKey = <T extends { key: unknown }>(list: T[]) =>
      list.map((e) => canonicalJson(e)).sort();

    it('every table round-trips through the kernel', () => {
      const w = world();
      const nameOf = (ifindex: number) => [name('p1'), name('p2')].find((n) => sysIfindex(n) === ifindex);
      const ctx = { interfaceName: nameOf };
      expect(byKey(dump('xdpnet_networks').map((e) => decodeNetwork(e)))).toEqual(byKey(w.networks));
      expect(byKey(dump('xdpnet_fdb').map((e) => decodeFdb(e, nameOf)))).toEqual(byKey(w.fdb));
      expect(byKey(dump('xdpnet_arp').map((e) => decodeArp(e)))).toEqual(byKey(w.arp));
      expect(byKey(dump('xdpnet_flood').map((e) => decodeFlood(e, nameOf)))).toEqual(byKey(w.floodList));
      // xdpnet_ports also holds nothing but the two ports; the LPM trie returns its keys in its own order.
      // It holds p1's pair and p2's fifth fixed IP: the other fixed IPs are in the port entries.
      const ports = dump('xdpnet_ports');
      const src = dump('xdpnet_port_src');
      expect(src).toHaveLength(2);
      expect(decodeLocalPorts(ports, src, ctx).map((e) => canonicalJson(e))).toEqual(w.localPorts.map((e) => canonicalJson(e)));
    });
  });
});
