// Create/Get/List/Update/Delete for every resource kind, from one table.
// The five kinds differ only in names and converters, so one generic set of
// handlers serves all of them.

import type * as grpc from '@grpc/grpc-js';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { type Network, type ResourceByKind, type ResourceKind, type Stored, Rejection } from '../../model/types.js';
import type { ApiContext } from '../context.js';
import * as convert from '../convert.js';
import { unary } from '../errors.js';
import { idArg, optionalIdArg } from '../ids.js';
import { withNetworkDefaults } from '../network-defaults.js';

interface KindSpec<K extends ResourceKind> {
  kind: K;
  /** Proto name, as in the rpc names: "Network" → CreateNetwork, ListNetworks. */
  name: string;
  /** Field of the Create/Update request holding the resource, e.g. "network", "floatingIp". */
  requestField: string;
  /** Field of the List response holding the page, e.g. "networks". */
  listField: string;
  fromPb(message: never): ResourceByKind[K];
  toPb(ctx: ApiContext, stored: Stored<K>): unknown;
}

const spec = <K extends ResourceKind>(s: KindSpec<K>): KindSpec<K> => s;

export const KINDS = [
  spec({
    kind: 'network',
    name: 'Network',
    requestField: 'network',
    listField: 'networks',
    fromPb: convert.networkFromPb as (m: never) => ResourceByKind['network'],
    toPb: (ctx, s) => convert.networkToPb(s.resource, s.revision, ctx.statusOf('network', s.resource.id)),
  }),
  spec({
    kind: 'subnet',
    name: 'Subnet',
    requestField: 'subnet',
    listField: 'subnets',
    fromPb: convert.subnetFromPb as (m: never) => ResourceByKind['subnet'],
    toPb: (ctx, s) => convert.subnetToPb(s.resource, s.revision, ctx.statusOf('subnet', s.resource.id)),
  }),
  spec({
    kind: 'port',
    name: 'Port',
    requestField: 'port',
    listField: 'ports',
    fromPb: convert.portFromPb as (m: never) => ResourceByKind['port'],
    toPb: (ctx, s) => convert.portToPb(s.resource, s.revision, ctx.statusOf('port', s.resource.id)),
  }),
  spec({
    kind: 'router',
    name: 'Router',
    requestField: 'router',
    listField: 'routers',
    fromPb: convert.routerFromPb as (m: never) => ResourceByKind['router'],
    toPb: (ctx, s) => convert.routerToPb(s.resource, s.revision, ctx.statusOf('router', s.resource.id)),
  }),
  spec({
    kind: 'floatingIp',
    name: 'FloatingIp',
    requestField: 'floatingIp',
    listField: 'floatingIps',
    fromPb: convert.floatingIpFromPb as (m: never) => ResourceByKind['floatingIp'],
    toPb: (ctx, s) =>
      convert.floatingIpToPb(s.resource, ctx.routerForFloatingIp(s.resource), s.revision, ctx.statusOf('floatingIp', s.resource.id)),
  }),
] as const;

/** The resource message in a Create/Update request, or INVALID_ARGUMENT if it is missing. */
function required<T>(message: T | null | undefined, field: string): T {
  if (message === null || message === undefined) throw new Rejection('INVALID_ARGUMENT', field, 'is required');
  return message;
}

/** Converts to the proto form, by kind: the one place a stored resource of unknown kind is shown. */
export function storedToPb(ctx: ApiContext, stored: Stored): unknown {
  const s = KINDS.find((k) => k.kind === stored.kind) as KindSpec<ResourceKind>;
  return s.toPb(ctx, stored);
}

type Handlers = Record<string, grpc.UntypedHandleCall>;

function handlersFor<K extends ResourceKind>(ctx: ApiContext, s: KindSpec<K>): Handlers {
  const snake = s.requestField.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return {
    [`Create${s.name}`]: unary(`Create${s.name}`, ctx.logger, async (req: Record<string, unknown>) => {
      let input = s.fromPb(required(req[s.requestField], snake) as never);
      if (s.kind === 'network') input = withNetworkDefaults(input as Network, ctx.networkDefaults) as ResourceByKind[K];
      return s.toPb(ctx, await ctx.state.create(s.kind, input));
    }),
    [`Get${s.name}`]: unary(`Get${s.name}`, ctx.logger, (req: pb.GetRequest__Output) => {
      const stored = ctx.state.get(s.kind, idArg(req.id, 'id'));
      if (!stored) throw new Rejection('NOT_FOUND', 'id', `no ${snake} ${req.id}`);
      return s.toPb(ctx, stored);
    }),
    [`List${s.name}s`]: unary(`List${s.name}s`, ctx.logger, (req: pb.ListRequest__Output) => {
      const page = ctx.state.list(s.kind, {
        pageSize: req.pageSize === 0 ? undefined : req.pageSize,
        pageToken: req.pageToken,
        networkId: optionalIdArg(req.networkId, 'network_id'),
      });
      return { [s.listField]: page.items.map((item) => s.toPb(ctx, item)), nextPageToken: page.nextPageToken };
    }),
    [`Update${s.name}`]: unary(`Update${s.name}`, ctx.logger, async (req: Record<string, unknown>) => {
      let patch = s.fromPb(required(req[s.requestField], snake) as never);
      const mask = req.updateMask as string[];
      const id = idArg((patch as { id: string }).id, `${snake}.id`);
      if (s.kind === 'network' && mask.includes('mtu')) {
        // mtu 0 asks for the default of the network's type, which the patch need not carry.
        const type = ctx.state.get('network', id)?.resource.type;
        if (type) patch = withNetworkDefaults({ ...(patch as Network), type }, ctx.networkDefaults) as ResourceByKind[K];
      }
      return s.toPb(ctx, await ctx.state.update(s.kind, id, patch, mask));
    }),
    [`Delete${s.name}`]: unary(`Delete${s.name}`, ctx.logger, async (req: pb.DeleteRequest__Output) => {
      await ctx.state.delete(s.kind, idArg(req.id, 'id'));
      return {};
    }),
  };
}

export function resourceHandlers(ctx: ApiContext): Handlers {
  return Object.assign({}, ...KINDS.map((s) => handlersFor(ctx, s as KindSpec<ResourceKind>))) as Handlers;
}
