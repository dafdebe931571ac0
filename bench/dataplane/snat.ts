// The SNAT directions' programs: a gateway node's xdp_port (the VM side:
// routed out through router R's external gateway, source translated) and
// xdp_external (the external NIC: replies translated back and delivered to
// the VM), filled with world.ts's routing world (routed.ts's routerWrites)
// plus the router's external side, through the daemon's encoders
// (snat-encode.ts; compare test/bpf/snat-world.ts).
//
// Two gateways are loaded, each with maps of its own:
//
//   established  xdp_port and xdp_external sharing every map (pinned under
//                the run's bpffs directory, as the daemon pins them), the
//                connection of NAT_FLOW written into the connection table
//                up front, both halves, as the programs write one (its
//                external port that of the kernel's masquerade, so both
//                rows see the same frames): snat and rsnat.
//   new          xdp_port alone, its connection table filling with the
//                flows of the new-connection scenario: snat-new.
//
// Both connection tables have the size the daemon loads on a gateway node
// (the map's declared default, 2^21 entries, a little over a million
// connections); the settings are the daemon's defaults too (external ports
// 1024..65535, IPv4 header checksums verified on the external NIC).
// Each object keeps its own reason counters (not shared) so they say which
// program did what.

import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { type BpfProgram, type LoadedObject, REASON_MAP_NAME, loadObject } from '../../src/dataplane/index.js';
import { EXT_NEXTHOPS_MAP_NAME, NAT_F_REPLIED, SNAT_CT_MAP_NAME, SNAT_MAP_NAME } from '../../src/dataplane/layouts.js';
import { declaredMaps } from '../../src/dataplane/pinned-maps.js';
import { type NatConnection, encodeExtNexthop, encodeNatHalf, encodeSnat } from '../../src/dataplane/snat-encode.js';
import { objectPath } from './layouts.js';
import { type MapWrite, type RouterInterfaces, nodeSettings, reasonsOf, routerWrites, writeDeclared } from './routed.js';
import { EXTERNAL_MTU, EXTERNAL_PREFIX_LEN, GREEN, NAT_FLOW, RIP, RMAC, ROUTER_ID, VTEP_IP } from './world.js';

const EXTERNAL_NETWORK_ID = '00000000-0000-4000-8000-000000001000';
const PHYSICAL_NETWORK = 'external';

/** The connection the established scenarios carry (snat: its OUT half, rsnat: its IN half). */
export const ESTABLISHED: NatConnection = {
  protocol: 'udp',
  externalIp: RIP.external,
  externalPort: NAT_FLOW.externalPort,
  vmIp: RIP.green,
  vmPort: NAT_FLOW.vmPort,
  remoteIp: RIP.remote,
  remotePort: NAT_FLOW.remotePort,
  vni: GREEN,
  vmMac: RMAC.green,
};

/** Router R's external side on this node: its snat entry and external address, the external next hop. */
export function externalWrites(ifx: RouterInterfaces): MapWrite[] {
  const link = { ifindex: ifx.external, mtu: EXTERNAL_MTU, mac: RMAC.ext };
  const s = encodeSnat(
    { routerId: ROUTER_ID },
    {
      externalNetworkId: EXTERNAL_NETWORK_ID,
      externalNetworkType: 'flat',
      physicalNetwork: PHYSICAL_NETWORK,
      segmentationId: 0,
      externalIp: RIP.external,
      externalPrefixLength: EXTERNAL_PREFIX_LEN,
      externalNexthop: RIP.gateway,
      gatewayVtepIp: VTEP_IP,
      gatewayIsLocal: true,
      enableSnat: true,
    },
    (physnet) => (physnet === PHYSICAL_NETWORK ? link : undefined),
  );
  return [
    s.snat,
    ...(s.extAddr ? [s.extAddr] : []),
    encodeExtNexthop({ ifindex: ifx.external, ip: RIP.gateway }, { dstMac: RMAC.gateway, srcMac: RMAC.ext }),
  ];
}

/** Both halves of ESTABLISHED, as a replied connection, seen now (CLOCK_MONOTONIC, the programs' clock). */
function establishedWrites(): MapWrite[] {
  const now = process.hrtime.bigint();
  return [
    encodeNatHalf({ direction: 'out', connection: ESTABLISHED, lastSeenNs: now, flags: 0 }),
    encodeNatHalf({ direction: 'in', connection: ESTABLISHED, lastSeenNs: now, flags: NAT_F_REPLIED }),
  ];
}

export interface ConntrackFill {
  maxEntries: number;
  entries: number;
}

export class Gateway {
  private constructor(
    private readonly objects: { port: LoadedObject; external: LoadedObject | undefined },
    readonly port: BpfProgram,
    readonly external: BpfProgram | undefined,
  ) {}

  /**
   * `pinDir`: xdp_port and xdp_external, sharing their maps pinned there,
   * with ESTABLISHED in the connection table; without it, xdp_port alone
   * with maps of its own and no connection.
   */
  static async load(ifx: RouterInterfaces, pinDir?: string): Promise<Gateway> {
    const loaded: LoadedObject[] = [];
    const load = async (name: string) => {
      const path = objectPath(name);
      let maps = {};
      if (pinDir !== undefined) {
        mkdirSync(pinDir, { recursive: true });
        maps = Object.fromEntries(
          declaredMaps(path)
            .filter((m) => m.name !== REASON_MAP_NAME)
            .map((m) => [m.name, { pinPath: join(pinDir, m.name) }]),
        );
      }
      const obj = await loadObject(path, { rodata: nodeSettings(), maps });
      loaded.push(obj);
      return obj;
    };
    try {
      const port = await load('xdp_port');
      const external = pinDir === undefined ? undefined : await load('xdp_external');
      // Through xdp_port: it declares every map the world needs; xdp_external shares them.
      // The router's MACs carry a copy of its external side and its gateway's MACs, as the daemon writes them (fdb-copies.ts).
      const side = externalWrites(ifx);
      const snat = side.find((w) => w.map === SNAT_MAP_NAME)?.value;
      const gateway = side.find((w) => w.map === EXT_NEXTHOPS_MAP_NAME)?.value;
      writeDeclared(port, [...routerWrites(ifx, { snat, gateway }), ...side, ...(pinDir === undefined ? [] : establishedWrites())]);
      return new Gateway({ port, external }, port.program('xdp_port'), external?.program('xdp_external'));
    } catch (err) {
      for (const obj of loaded) obj.close();
      throw err;
    }
  }

  /** Packets per reason so far, by program (non-zero reasons only). */
  reasons(): Record<string, Record<string, number>> {
    return {
      xdp_port: reasonsOf(this.objects.port),
      ...(this.objects.external ? { xdp_external: reasonsOf(this.objects.external) } : {}),
    };
  }

  /** How full the connection table is (two entries a connection). */
  conntrack(): ConntrackFill {
    const map = this.objects.port.map(SNAT_CT_MAP_NAME);
    try {
      let entries = 0;
      for (const _ of map.entries()) entries++;
      return { maxEntries: map.info.maxEntries, entries };
    } finally {
      map.close();
    }
  }

  /** Connections the table holds at most (two entries each). */
  conntrackCapacity(): number {
    const map = this.objects.port.map(SNAT_CT_MAP_NAME);
    try {
      return Math.floor(map.info.maxEntries / 2);
    } finally {
      map.close();
    }
  }

  close(): void {
    this.port.close();
    this.external?.close();
    this.objects.port.close();
    this.objects.external?.close();
  }
}
