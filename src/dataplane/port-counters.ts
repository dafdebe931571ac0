// Per-port counters (bpf/lib/port_stats.h, which says what each one counts)
// as totals per port UUID, read from the maps the daemon pins under its bpffs
// root:
//
//   <root>/xdpnet_ports        ifindex -> port_info, which carries the port
//                              UUID and the port's counter slot
//   <root>/xdpnet_port_stats   slot -> port_stats, one value per possible CPU
//
// Every port in xdpnet_ports is reported, from its slot (the daemon zeroes a
// slot when it gives it to a port). A port with slot 0 is not counted: zeros.
// Slots no port names are what removed ports left behind: never read.
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
    const stats = new PerCpuMap(statsRaw, u32, portStats);
    const slots = statsRaw.info.maxEntries;

    const totals = new Map<Uuid, PortCounterTotals>();
    for (const [, port] of ports) {
      const slot = port.stats_slot;
      // One lookup per port: the array has a slot for every port there could be.
      const perCpu = slot > 0 && slot < slots ? stats.get(slot) : undefined;
      const counted = perCpu ? sum(perCpu) : ZERO_PORT_COUNTERS;
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
