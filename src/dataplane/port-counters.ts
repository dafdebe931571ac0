// Per-port counters (bpf/lib/port_stats.h, which says what each one counts)
// as totals per port UUID, read from the maps the daemon pins under its bpffs
// root:
//
//   <root>/xdpnet_ports        ifindex -> port_info, which carries the port UUID
//   <root>/xdpnet_port_stats   ifindex -> port_stats, one slot per possible CPU
//
// Every port in xdpnet_ports is reported. One without a stats entry has
// counted nothing yet (the programs create the entry on first use, and the
// daemon deletes it when it adds or removes the port): zeros. A stats entry
// whose ifindex is in no port is what a removed port left behind: ignored.
//
// The two maps are read one after the other, not atomically; the programs
// keep counting meanwhile, so a reading is a moment's view, never a sum of
// two ports' counters.

import { join } from 'node:path';
import type { Uuid } from '../model/types.js';
import { u32 } from './codec.js';
import { PORT_STATS_MAP_NAME, type PortInfo, type PortStats, portInfo, portStats } from './layouts.js';
import { BpfMap, PerCpuMap, TypedMap } from './maps.js';
import { BpfError } from './native.js';

/** The port table the counters are keyed through (overlay_maps.h). */
export const PORTS_MAP_NAME = 'xdpnet_ports';

/** One port's counters, summed over CPUs. Directions are the switch port's: rx = from the VM. */
export interface PortCounterTotals {
  rxPackets: bigint;
  rxBytes: bigint;
  txPackets: bigint;
  txBytes: bigint;
  droppedPackets: bigint;
}

export const ZERO_PORT_COUNTERS: Readonly<PortCounterTotals> = Object.freeze({
  rxPackets: 0n,
  rxBytes: 0n,
  txPackets: 0n,
  txBytes: 0n,
  droppedPackets: 0n,
});

/**
 * A map the counters are read from is not pinned where the daemon pins it:
 * the overlay programs are not loaded on this node (or their pins were
 * removed). Nothing can be counted until they are.
 */
export class PortMapsNotPinnedError extends Error {
  override name = 'PortMapsNotPinnedError';

  constructor(
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`${path} is not pinned: the overlay programs that count per port are not loaded on this node`, options);
  }
}

function openPinned(bpffsRoot: string, name: string): BpfMap {
  const path = join(bpffsRoot, name);
  try {
    return BpfMap.openPinned(path);
  } catch (err) {
    if (err instanceof BpfError && err.code === 'ENOENT') throw new PortMapsNotPinnedError(path, { cause: err });
    throw err;
  }
}

function sum(perCpu: readonly PortStats[]): PortCounterTotals {
  const total = { ...ZERO_PORT_COUNTERS };
  for (const s of perCpu) {
    total.rxPackets += s.rx_packets;
    total.rxBytes += s.rx_bytes;
    total.txPackets += s.tx_packets;
    total.txBytes += s.tx_bytes;
    total.droppedPackets += s.dropped_packets;
  }
  return total;
}

function add(a: PortCounterTotals, b: PortCounterTotals): PortCounterTotals {
  return {
    rxPackets: a.rxPackets + b.rxPackets,
    rxBytes: a.rxBytes + b.rxBytes,
    txPackets: a.txPackets + b.txPackets,
    txBytes: a.txBytes + b.txBytes,
    droppedPackets: a.droppedPackets + b.droppedPackets,
  };
}

/**
 * The counters of every port in the pinned port table, by port UUID.
 * Throws PortMapsNotPinnedError when either map is not pinned under `bpffsRoot`.
 */
export function readPortCounters(bpffsRoot: string): Map<Uuid, PortCounterTotals> {
  const portsRaw = openPinned(bpffsRoot, PORTS_MAP_NAME);
  let statsRaw: BpfMap | undefined;
  try {
    statsRaw = openPinned(bpffsRoot, PORT_STATS_MAP_NAME);
    const ports: [number, PortInfo][] = [...new TypedMap(portsRaw, u32, portInfo).entries()];
    const stats = new Map<number, PortCounterTotals>();
    for (const [ifindex, perCpu] of new PerCpuMap(statsRaw, u32, portStats).entries()) stats.set(ifindex, sum(perCpu));

    const totals = new Map<Uuid, PortCounterTotals>();
    for (const [ifindex, port] of ports) {
      const counted = stats.get(ifindex) ?? ZERO_PORT_COUNTERS;
      // Two interfaces carry one port only while the daemon moves it from one
      // to the other: both counted its traffic.
      const earlier = totals.get(port.port_id);
      totals.set(port.port_id, earlier ? add(earlier, counted) : { ...counted });
    }
    return totals;
  } finally {
    statsRaw?.close();
    portsRaw.close();
  }
}
