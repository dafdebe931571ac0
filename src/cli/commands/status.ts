// xdpnet status: the node as the daemon sees it (GetNodeStatus).

import type { Command } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { boolText, lines } from '../display.js';
import { type Column, formatTable } from '../output.js';
import { action, type Io } from '../session.js';

/** "3d 4h", "2h 5m", "42s": enough to see at a glance whether the daemon restarted. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

const timeText = (unixMs: string, now: number): string => {
  const ms = Number(unixMs);
  if (!ms) return '';
  return `${new Date(ms).toISOString()} (${formatDuration(now - ms)} ago)`;
};

function reconcileText(r: pb.ReconcileSummary__Output | null, now: number): string {
  if (!r) return 'none yet';
  const parts = [
    `revision ${r.revision} (${r.kind}) at ${timeText(r.startedUnixMs, now)}`,
    `took ${r.durationMs} ms: ${r.updated} updated, ${r.deleted} deleted, ${r.errors} errors`,
  ];
  if (r.lastError) parts.push(`last error: ${r.lastError}`);
  return lines(parts);
}

export function statusView(now: number): Column<pb.NodeStatus__Output>[] {
  return [
    { key: 'node_name', get: (n) => n.config?.nodeName ?? '' },
    { key: 'version', get: (n) => n.version },
    { key: 'ready', get: (n) => boolText(n.ready) },
    { key: 'dataplane', get: (n) => n.config?.dataplane ?? '' },
    { key: 'vtep_ip', get: (n) => n.config?.vtepIp ?? '' },
    { key: 'underlay_interface', get: (n) => n.config?.underlayInterface ?? '' },
    {
      key: 'physical_networks',
      get: (n) => lines((n.config?.physicalNetworks ?? []).map((p) => `${p.physicalNetwork}=${p.interfaceName}`)),
    },
    { key: 'listen', get: (n) => lines(n.config?.listen ?? []) },
    { key: 'bpffs_root', get: (n) => n.config?.bpffsRoot ?? '' },
    { key: 'started', get: (n) => timeText(n.startedUnixMs, now) },
    { key: 'desired_revision', get: (n) => n.desiredRevision },
    { key: 'last_reconcile', get: (n) => reconcileText(n.lastReconcile, now) },
    { key: 'resource_counts', get: (n) => lines(Object.entries(n.resourceCounts).map(([kind, count]) => `${kind}=${count}`)) },
    { key: 'programs', get: (n) => String(n.programs.length) },
    { key: 'maps', get: (n) => String(n.maps.length) },
  ];
}

const fillText = (m: pb.MapFill__Output): string => (m.maxEntries ? `${((100 * m.entries) / m.maxEntries).toFixed(1)}%` : '');

export function statusCommand(io: Io, program: Command): void {
  program
    .command('status')
    .description('Show the node: config, readiness, revisions, attached programs, map fill, last reconcile')
    .action(
      action(io, async (s) => {
        const out = s.printer(statusView(Date.now()));
        const status = await s.call<pb.NodeStatus__Output>((o, cb) => s.client.getNodeStatus({}, o, cb));
        out.show(status);
        // The per-program and per-map detail only in the full human view: -c/-o value select fields of the summary.
        if (s.globals.output !== 'table' || s.globals.column.length) return;
        io.stdout.write('\nAttached programs:\n');
        io.stdout.write(
          status.programs.length
            ? formatTable(
                ['Interface', 'Ifindex', 'Program', 'Program ID', 'Hook', 'Link ID', 'Pin Path'],
                status.programs.map((p) => [p.interfaceName, String(p.ifindex), p.programName, String(p.programId), p.hook, p.linkId ? String(p.linkId) : '', p.pinPath]),
              )
            : 'none\n',
        );
        io.stdout.write('\nMaps:\n');
        io.stdout.write(
          status.maps.length
            ? formatTable(
                ['Map', 'Entries', 'Max Entries', 'Fill'],
                status.maps.map((m) => [m.name, String(m.entries), String(m.maxEntries), fillText(m)]),
              )
            : 'none\n',
        );
      }),
    );
}
