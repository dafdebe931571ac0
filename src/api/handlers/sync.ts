// Sync: replace the whole desired state, as orchestration does on reconnect.

import type * as grpc from '@grpc/grpc-js';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import type { ApiContext } from '../context.js';
import { snapshotFromPb } from '../convert.js';
import { unary } from '../errors.js';
import { withNetworkDefaults } from '../network-defaults.js';

export function syncHandlers(ctx: ApiContext): Record<string, grpc.UntypedHandleCall> {
  return {
    Sync: unary('Sync', ctx.logger, async (req: pb.SyncRequest__Output): Promise<pb.SyncResponse> => {
      const snapshot = snapshotFromPb(req);
      const result = await ctx.state.sync({ ...snapshot, networks: snapshot.networks.map((n) => withNetworkDefaults(n, ctx.networkDefaults)) });
      ctx.logger.info({ ...result }, 'sync applied');
      return { ...result, revision: String(result.revision) };
    }),
  };
}
