// Router actions: interfaces and the external gateway, as Neutron's
// add_router_interface / remove_router_interface / external_gateway_info.

import type * as grpc from '@grpc/grpc-js';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { Rejection } from '../../model/types.js';
import type { ApiContext } from '../context.js';
import { gatewayFromPb, routerToPb } from '../convert.js';
import { unary } from '../errors.js';
import { idArg } from '../ids.js';

export function routerActionHandlers(ctx: ApiContext): Record<string, grpc.UntypedHandleCall> {
  const show = (stored: Awaited<ReturnType<typeof ctx.state.clearRouterGateway>>): pb.Router =>
    routerToPb(stored.resource, stored.revision, ctx.statusOf('router', stored.resource.id));
  return {
    AddRouterInterface: unary('AddRouterInterface', ctx.logger, async (req: pb.AddRouterInterfaceRequest__Output) =>
      show(await ctx.state.addRouterInterface(idArg(req.routerId, 'router_id'), idArg(req.subnetId, 'subnet_id'), req.ipAddress === '' ? null : req.ipAddress)),
    ),
    RemoveRouterInterface: unary('RemoveRouterInterface', ctx.logger, async (req: pb.RemoveRouterInterfaceRequest__Output) =>
      show(await ctx.state.removeRouterInterface(idArg(req.routerId, 'router_id'), idArg(req.subnetId, 'subnet_id'))),
    ),
    SetRouterGateway: unary('SetRouterGateway', ctx.logger, async (req: pb.SetRouterGatewayRequest__Output) => {
      if (!req.externalGateway) throw new Rejection('INVALID_ARGUMENT', 'external_gateway', 'is required');
      return show(await ctx.state.setRouterGateway(idArg(req.routerId, 'router_id'), gatewayFromPb(req.externalGateway)));
    }),
    ClearRouterGateway: unary('ClearRouterGateway', ctx.logger, async (req: pb.ClearRouterGatewayRequest__Output) =>
      show(await ctx.state.clearRouterGateway(idArg(req.routerId, 'router_id'))),
    ),
  };
}
