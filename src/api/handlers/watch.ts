// Watch: a stream of resource changes and status changes.
//
// With initial_state, every existing resource is sent as ADDED, then SYNCED,
// then live events. The snapshot is taken and the subscriptions made in the
// same synchronous step: commits notify listeners synchronously, so no
// change can fall between the two.

import * as grpc from '@grpc/grpc-js';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { RESOURCE_KINDS, type ResourceKind, type Stored } from '../../model/types.js';
import type { Change } from '../../store/api.js';
import type { ApiContext } from '../context.js';
import { KIND_FROM_PB, KIND_TO_PB } from '../convert.js';
import { StatusError, toServiceError } from '../errors.js';
import { Rejection } from '../../model/types.js';
import { storedToPb } from './resources.js';

/** Events a watcher may have queued before it is cut off as too slow. */
const MAX_QUEUED_EVENTS = 50_000;

const ONEOF_FIELD: Record<ResourceKind, string> = {
  network: 'network',
  subnet: 'subnet',
  port: 'port',
  router: 'router',
  floatingIp: 'floatingIp',
};

const CHANGE_TYPES: Record<Change['type'], pb.WatchEvent['type']> = { added: 'ADDED', modified: 'MODIFIED', deleted: 'DELETED' };

/** Every stored resource of a kind, page by page (synchronous: no commit can interleave). */
function everything(ctx: ApiContext, kind: ResourceKind): Stored[] {
  const all: Stored[] = [];
  let pageToken = '';
  do {
    const page = ctx.state.list(kind, { pageSize: 1000, pageToken });
    all.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return all;
}

/** Ends every open Watch stream; called when the server shuts down. */
export type EndWatches = () => void;

export function watchHandlers(ctx: ApiContext): { handlers: Record<string, grpc.UntypedHandleCall>; endAll: EndWatches } {
  const open = new Set<() => void>();
  const Watch: grpc.handleServerStreamingCall<pb.WatchRequest__Output, pb.WatchEvent> = (call) => {
    // A refusal is sent by emitting the error: destroying the stream would
    // drop the status and leave the client waiting for its deadline.
    const refuse = (err: unknown): void => void call.emit('error', toServiceError(err, 'Watch', ctx.logger));
    const unknown = call.request.kinds.find((k) => !KIND_FROM_PB[k]);
    if (unknown !== undefined) {
      refuse(new Rejection('INVALID_ARGUMENT', 'kinds', `unknown resource kind ${unknown}`));
      return;
    }
    const wanted = new Set<ResourceKind>(call.request.kinds.length ? call.request.kinds.map((k) => KIND_FROM_PB[k]!) : RESOURCE_KINDS);

    const event = (type: pb.WatchEvent['type'], stored: Stored): pb.WatchEvent => ({
      type,
      kind: KIND_TO_PB[stored.kind],
      id: stored.resource.id,
      revision: String(ctx.state.revision),
      [ONEOF_FIELD[stored.kind]]: storedToPb(ctx, stored),
    });
    let closed = false;
    const send = (e: pb.WatchEvent): void => {
      if (closed) return;
      if (call.writableLength > MAX_QUEUED_EVENTS) {
        stop();
        refuse(new StatusError(grpc.status.RESOURCE_EXHAUSTED, 'watcher too slow: events were not read; watch again with initial_state'));
        return;
      }
      call.write(e);
    };

    const initial = call.request.initialState ? [...wanted].flatMap((kind) => everything(ctx, kind)) : [];
    const unsubscribeChanges = ctx.state.onChange((changes) => {
      for (const c of changes) {
        if (wanted.has(c.kind)) send(event(CHANGE_TYPES[c.type], { kind: c.kind, resource: c.resource, revision: c.revision }));
      }
    });
    // The reconciler hears of a commit before this watcher does and reports
    // the new status synchronously; deferring status events to a microtask
    // keeps each STATUS after the ADDED/MODIFIED it describes.
    const unsubscribeStatus = ctx.onStatus((s) => {
      if (!wanted.has(s.kind)) return;
      queueMicrotask(() => {
        const stored = ctx.state.get(s.kind, s.id);
        if (stored) send(event('STATUS', stored));
      });
    });
    const stop = (): void => {
      closed = true;
      unsubscribeChanges();
      unsubscribeStatus();
      open.delete(endStream);
    };
    // On server shutdown: end the stream (status OK) so clients see it at once.
    const endStream = (): void => {
      stop();
      call.end();
    };
    open.add(endStream);
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);

    if (call.request.initialState) {
      for (const stored of initial) send(event('ADDED', stored));
      send({ type: 'SYNCED', kind: 'RESOURCE_KIND_UNSPECIFIED', id: '', revision: String(ctx.state.revision) });
    }
  };
  return { handlers: { Watch: Watch as grpc.UntypedHandleCall }, endAll: () => [...open].forEach((end) => end()) };
}
