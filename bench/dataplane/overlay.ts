// Our programs under test, xdp_port and xdp_underlay, loaded and filled with
// the world of world.ts the way the daemon fills them (through the codecs of
// src/dataplane/layouts.ts; compare test/bpf/overlay-world.ts).
//
// Each object gets its own, unpinned copy of the maps. Maps are written only
// if the object declares them, and maps the benchmark does not know (the
// programs' own counters) are left as they load, so the objects can grow
// without the benchmark following.

import { encode, ipv4, u32 } from '../../src/dataplane/codec.js';
import { type BpfProgram, type LoadedObject, type ReasonCount, REASON_MAP_NAME, TypedMap, loadObject, readReasonCounters } from '../../src/dataplane/index.js';
import type { Codec } from '../../src/dataplane/codec.js';
import {
  FDB_LOCAL,
  FDB_REMOTE,
  NETWORK_F_ADMIN_UP,
  PORT_F_ADMIN_UP,
  PORT_F_PORT_SECURITY,
  PORT_NET_F_ADMIN_UP,
  PORT_NET_F_PRESENT,
  fdbEntry,
  fdbKey,
  networkInfo,
  portInfo,
  vtepNexthop,
} from '../../src/dataplane/layouts.js';
import { FDB_NO_COPIES } from '../../src/dataplane/overlay-encode.js';
import { objectPath } from './layouts.js';
import { IP, MAC, NETWORK_MTU, PORT_STATS_SLOT, REMOTE_VTEP_IP, UNDERLAY_MTU, VNI, VTEP_IP } from './world.js';

/** The node-side interfaces our path uses. */
export interface OverlayInterfaces {
  /** The VM port's host side. */
  port: number;
  underlay: number;
}

const NETWORK_ID = '00000000-0000-4000-8000-000000000100';
const PORT_ID = '00000000-0000-4000-8000-000000000101';
const NO_ROUTER_ID = Buffer.alloc(16);
const PORT_FLAGS = PORT_F_ADMIN_UP | PORT_F_PORT_SECURITY;
const PORT_NET_FLAGS = PORT_NET_F_PRESENT | PORT_NET_F_ADMIN_UP;
const PAD2 = Buffer.alloc(2);

export class Overlay {
  private constructor(
    private readonly objects: { port: LoadedObject; underlay: LoadedObject },
    readonly port: BpfProgram,
    readonly underlay: BpfProgram,
  ) {}

  static async load(ifx: OverlayInterfaces): Promise<Overlay> {
    const vtep = encode(ipv4, VTEP_IP);
    const loaded: LoadedObject[] = [];
    try {
      const port = await loadObject(objectPath('xdp_port'), { rodata: { vtep_ip: vtep, underlay_mtu: UNDERLAY_MTU } });
      loaded.push(port);
      const underlay = await loadObject(objectPath('xdp_underlay'), { rodata: { vtep_ip: vtep } });
      loaded.push(underlay);
      for (const obj of loaded) fill(obj, ifx);
      return new Overlay({ port, underlay }, port.program('xdp_port'), underlay.program('xdp_underlay'));
    } catch (err) {
      for (const obj of loaded) obj.close();
      throw err;
    }
  }

  /** Packets per reason so far, by program (non-zero reasons only): to say where frames went. */
  reasons(): Record<'xdp_port' | 'xdp_underlay', Record<string, number>> {
    return { xdp_port: moved(this.objects.port), xdp_underlay: moved(this.objects.underlay) };
  }

  close(): void {
    this.port.close();
    this.underlay.close();
    this.objects.port.close();
    this.objects.underlay.close();
  }
}

/** The world of world.ts in one object's maps. Port security is on, as Neutron's default. */
function fill(obj: LoadedObject, ifx: OverlayInterfaces): void {
  const declared = new Set(obj.maps().map((m) => m.name));
  const write = <K, V>(name: string, key: Codec<K>, value: Codec<V>, entries: readonly (readonly [K, V])[]) => {
    if (!declared.has(name)) return;
    const map = new TypedMap(obj.map(name), key, value);
    try {
      for (const [k, v] of entries) map.set(k, v);
    } finally {
      map.raw.close();
    }
  };
  write('xdpnet_networks', u32, networkInfo, [[VNI, { mtu: NETWORK_MTU, flags: NETWORK_F_ADMIN_UP, network_id: NETWORK_ID }]]);
  // As the daemon writes the port: its fixed IP in the entry (nothing in xdpnet_port_src), its
  // network's state copied in, a counter slot of its own.
  write('xdpnet_ports', u32, portInfo, [
    [
      ifx.port,
      {
        vni: VNI,
        mac: MAC.vm,
        flags: PORT_FLAGS,
        fixed_ip_count: 1,
        stats_slot: PORT_STATS_SLOT,
        net_mtu: NETWORK_MTU,
        net_flags: PORT_NET_FLAGS,
        pad: 0,
        fixed_ip: [IP.vm],
        port_id: PORT_ID,
      },
    ],
  ]);
  // The VM's MAC with the copy of its port the daemon keeps in it.
  const nexthop = { dst_mac: MAC.nexthop, src_mac: MAC.underlay, ifindex: ifx.underlay };
  const port = {
    ...FDB_NO_COPIES,
    port_stats_slot: PORT_STATS_SLOT,
    port_present: 1,
    port_flags: PORT_FLAGS,
    port_net_flags: PORT_NET_FLAGS,
    port_net_mtu: NETWORK_MTU,
  };
  // The remote MAC with the copy of its VTEP's next hop the daemon keeps in it.
  const remote = { ...FDB_NO_COPIES, nexthop_present: 1, nexthop };
  write('xdpnet_fdb', fdbKey, fdbEntry, [
    [{ vni: VNI, mac: MAC.vm, pad: PAD2 }, { kind: FDB_LOCAL, ifindex: ifx.port, vtep_ip: '0.0.0.0', router_id: NO_ROUTER_ID, ...port }],
    [{ vni: VNI, mac: MAC.remote, pad: PAD2 }, { kind: FDB_REMOTE, ifindex: 0, vtep_ip: REMOTE_VTEP_IP, router_id: NO_ROUTER_ID, ...remote }],
  ]);
  write('xdpnet_nexthops', ipv4, vtepNexthop, [[REMOTE_VTEP_IP, nexthop]]);
  write('xdpnet_tx_ports', u32, u32, [
    [ifx.port, ifx.port],
    [ifx.underlay, ifx.underlay],
  ]);
}

function moved(obj: LoadedObject): Record<string, number> {
  const map = obj.map(REASON_MAP_NAME);
  try {
    const counts: ReasonCount[] = readReasonCounters(map);
    return Object.fromEntries(counts.filter((c) => c.packets > 0n).map((c) => [c.name, Number(c.packets)]));
  } finally {
    map.close();
  }
}
