// xdpnet stats [--all]      per-reason packet counters of the fast path
// xdpnet stats ports [ID…]  per-port counters (RX: what the VM sent; TX: what
//                           was delivered to it; proto PortCounter says exactly)

import type { Command } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { stripPrefix } from '../display.js';
import type { Column } from '../output.js';
import { action, type Io } from '../session.js';

export const REASON_VIEW: Column<pb.ReasonCounter__Output>[] = [
  { key: 'reason', header: 'Reason', get: (c) => stripPrefix(c.reason, 'REASON_'), inList: true },
  { key: 'category', header: 'Category', get: (c) => c.category, inList: true },
  { key: 'packets', header: 'Packets', get: (c) => c.packets, inList: true },
  { key: 'bytes', header: 'Bytes', get: (c) => c.bytes, inList: true },
  { key: 'description', header: 'Description', get: (c) => c.description, inList: true },
];

export const PORT_COUNTER_VIEW: Column<pb.PortCounter__Output>[] = [
  { key: 'port_id', header: 'Port', get: (c) => c.portId, inList: true },
  { key: 'rx_packets', header: 'RX Packets', get: (c) => c.rxPackets, inList: true },
  { key: 'rx_bytes', header: 'RX Bytes', get: (c) => c.rxBytes, inList: true },
  { key: 'tx_packets', header: 'TX Packets', get: (c) => c.txPackets, inList: true },
  { key: 'tx_bytes', header: 'TX Bytes', get: (c) => c.txBytes, inList: true },
  { key: 'dropped_packets', header: 'Dropped', get: (c) => c.droppedPackets, inList: true },
];

/** Counters are uint64 strings; "0" is the only zero the API writes, but compare as numbers to be safe. */
const nonZero = (packets: string): boolean => BigInt(packets || '0') !== 0n;

export function statsCommands(io: Io, program: Command): void {
  const stats = program
    .command('stats')
    .description('Per-reason packet counters of the fast path, summed over CPUs (only reasons with packets, unless --all)')
    .option('--all', 'every reason, also those with no packets')
    .action(
      action(io, async (s, opts: { all?: boolean }) => {
        const out = s.printer(REASON_VIEW);
        const response = await s.call<pb.ReasonCounters__Output>((o, cb) => s.client.getReasonCounters({}, o, cb));
        const counters = opts.all ? response.counters : response.counters.filter((c) => nonZero(c.packets));
        out.list(counters);
        if (counters.length === 0 && s.globals.output === 'table') s.note('(no packets counted yet; --all lists every reason)');
      }),
    );

  stats
    .command('ports')
    .description(
      'Per-port counters of the fast path, summed over CPUs: RX is what the VM sent, TX what was delivered to it, ' +
        'Dropped what the VM sent that was discarded (every port bound to this node, or the ones named)',
    )
    .argument('[port...]', 'port IDs')
    .action(
      action(io, async (s, portIds: string[]) => {
        const out = s.printer(PORT_COUNTER_VIEW);
        const response = await s.call<pb.PortCounters__Output>((o, cb) => s.client.getPortCounters({ portIds }, o, cb));
        out.list(response.ports);
        if (response.ports.length === 0 && s.globals.output === 'table') s.note('(no ports are bound to this node)');
      }),
    );
}
