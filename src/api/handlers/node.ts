// Node status and counters.

import type * as grpc from '@grpc/grpc-js';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import type { ApiContext } from '../context.js';
import { unary } from '../errors.js';
import { idArg } from '../ids.js';

export function nodeHandlers(ctx: ApiContext): Record<string, grpc.UntypedHandleCall> {
  return {
    GetNodeStatus: unary('GetNodeStatus', ctx.logger, () => ctx.nodeStatus()),
    GetReasonCounters: unary('GetReasonCounters', ctx.logger, () => ctx.reasonCounters()),
    GetPortCounters: unary('GetPortCounters', ctx.logger, (req: pb.GetPortCountersRequest__Output) =>
      ctx.portCounters(req.portIds.map((id, i) => idArg(id, `port_ids[${i}]`))),
    ),
  };
}
