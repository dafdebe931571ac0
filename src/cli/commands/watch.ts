// xdpnet watch [--kind KIND]... [--initial]: resource and status changes as
// they happen, one line each, until Ctrl-C.

import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { statusText, stripPrefix } from '../display.js';
import { CliError, isServiceError, statusName, UsageError } from '../errors.js';
import { toJson } from '../output.js';
import { collect, parseChoice } from '../parse-specs.js';
import { action, type Io } from '../session.js';

const KINDS = {
  network: 'RESOURCE_KIND_NETWORK',
  subnet: 'RESOURCE_KIND_SUBNET',
  port: 'RESOURCE_KIND_PORT',
  router: 'RESOURCE_KIND_ROUTER',
  floatingip: 'RESOURCE_KIND_FLOATING_IP',
  'floating-ip': 'RESOURCE_KIND_FLOATING_IP',
} as const satisfies Record<string, pb.ResourceKind>;

type AnyResource = { name?: string; status: pb.ResourceStatus__Output | null };

/** key=value, the value quoted only when it has spaces or quotes (ERROR messages, names), so lines split on spaces. */
const pair = (key: string, value: string): string => `${key}=${/[\s"]/.test(value) ? JSON.stringify(value) : value}`;

/**
 * One line per event, time first (watching is about when):
 *   2025-01-01T10:00:00.000Z MODIFIED port 6f1c… revision=12 status=ACTIVE name=web-1
 */
export function eventLine(e: pb.WatchEvent__Output, now: Date): string {
  const time = now.toISOString();
  if (e.type === 'SYNCED') return `${time} SYNCED revision=${e.revision} (initial state complete; watching for changes)`;
  const kind = stripPrefix(e.kind, 'RESOURCE_KIND_').toLowerCase().replace('_', '');
  const resource = (e.resource ? e[e.resource] : undefined) as AnyResource | null | undefined;
  const parts = [time, e.type, kind, e.id, `revision=${e.revision}`];
  if (resource?.status) parts.push(pair('status', statusText(resource.status)));
  if (resource?.name) parts.push(pair('name', resource.name));
  return parts.join(' ');
}

export function watchCommand(io: Io, program: Command): void {
  program
    .command('watch')
    .description('Stream resource and status changes, one line each, until Ctrl-C (-o json: one JSON object per line)')
    .option('--kind <kind>', `only this kind: ${Object.keys(KINDS).join(', ')} (repeatable; default: every kind)`, collect(parseChoice(KINDS)))
    .option('--initial', 'first list every existing resource as ADDED, then a SYNCED line')
    .action(
      action(io, async (s, opts: { kind?: pb.ResourceKind[]; initial?: boolean }) => {
        if (s.globals.column.length) throw new UsageError('-c does not apply to watch: lines carry the event, -o json the whole resource');
        const json = s.globals.output === 'json';
        // No deadline: the stream is meant to last. An unreachable daemon still fails at once (UNAVAILABLE).
        const call = s.client.watch({ kinds: [...new Set(opts.kind ?? [])], initialState: opts.initial ?? false });
        await new Promise<void>((resolve, reject) => {
          let interrupted = false;
          const unregister = io.onInterrupt(() => {
            interrupted = true;
            call.cancel();
          });
          let settled = false;
          const settle = (err?: Error): void => {
            if (settled) return;
            settled = true;
            unregister();
            if (err) reject(err);
            else resolve();
          };
          // Once the daemon has answered, a CANCELLED or UNAVAILABLE is the daemon going away, not a
          // connection that never worked: say so, and how to pick up again without missing anything.
          let answered = false;
          const ended = (why: string): CliError =>
            new CliError(`the daemon ended the watch (${why}); is it restarting? check: systemctl status xdpnetd, then watch again with --initial`);
          call.on('metadata', () => (answered = true));
          call.on('data', (e: pb.WatchEvent__Output) => {
            answered = true;
            io.stdout.write(`${json ? toJson(e, 0) : eventLine(e, new Date())}\n`);
          });
          call.on('error', (err: Error) => {
            if (!isServiceError(err)) return settle(err);
            if (interrupted && err.code === grpc.status.CANCELLED) return settle();
            if (err.code === grpc.status.CANCELLED || (answered && err.code === grpc.status.UNAVAILABLE)) {
              return settle(ended(`${statusName(err.code)}: ${err.details}`));
            }
            settle(s.describe(err));
          });
          call.on('end', () => settle(interrupted ? undefined : ended('end of stream')));
        });
      }),
    );
}
