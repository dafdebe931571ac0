// Node status and counters.

import type * as grpc from '@grpc/grpc-js';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { type Uuid, Rejection } from '../../model/types.js';
import type { DesiredStateService } from '../../store/api.js';
import type { ApiContext } from '../context.js';
import { unary } from '../errors.js';
import { idArg } from '../ids.js';

/** Ports per page when listing every local port (the store's largest page). */
const PORT_PAGE = 1000;

/** Every port bound to this node (binding local), sorted by id as the store lists them. */
function localPortIds(state: DesiredStateService): Uuid[] {
  const ids: Uuid[] = [];
  let pageToken = '';
  do {
    const page = state.list('port', { pageSize: PORT_PAGE, pageToken });
    for (const { resource } of page.items) if (resource.binding.kind === 'local') ids.push(resource.id);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return ids;
}

/**
 * The ports a GetPortCounters request is about: every local port when it
 * names none; else the named ones, each once (a port named twice is answered
 * once, where it was first named). A port's counters live on the node its
 * interface is on, so each named port must be bound to this one. Every id is
 * checked for syntax before any is looked up: a malformed request is
 * INVALID_ARGUMENT whatever the state.
 */
function portsToCount(state: DesiredStateService, portIds: readonly string[]): Uuid[] {
  if (portIds.length === 0) return localPortIds(state);
  const firstField = new Map<Uuid, string>();
  portIds.forEach((text, i) => {
    const field = `port_ids[${i}]`;
    const id = idArg(text, field);
    if (!firstField.has(id)) firstField.set(id, field);
  });
  for (const [id, field] of firstField) {
    const port = state.get('port', id)?.resource;
    if (!port) throw new Rejection('NOT_FOUND', field, `no port ${id}`);
    if (port.binding.kind === 'remote') {
      throw new Rejection(
        'FAILED_PRECONDITION',
        field,
        `port ${id} is bound to the node with VTEP ${port.binding.vtepIp}, not this one: its counters are kept there`,
      );
    }
    if (port.binding.kind === 'none') {
      throw new Rejection('FAILED_PRECONDITION', field, `port ${id} is not bound to any node: no node counts its traffic`);
    }
  }
  return [...firstField.keys()];
}

export function nodeHandlers(ctx: ApiContext): Record<string, grpc.UntypedHandleCall> {
  return {
    GetNodeStatus: unary('GetNodeStatus', ctx.logger, () => ctx.nodeStatus()),
    GetReasonCounters: unary('GetReasonCounters', ctx.logger, () => ctx.reasonCounters()),
    GetPortCounters: unary('GetPortCounters', ctx.logger, (req: pb.GetPortCountersRequest__Output) =>
      ctx.portCounters(portsToCount(ctx.state, req.portIds)),
    ),
  };
}
