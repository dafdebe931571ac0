// xdpnet router create|list|show|set|delete|add-interface|remove-interface|set-gateway|unset-gateway

import { type Command, Option } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { adminText, boolText, lines, statusColumns } from '../display.js';
import type { Column } from '../output.js';
import { parseRoute, type RouteSpec, ROUTE_USAGE } from '../parse-specs.js';
import { addCommonCommands, applyListEdit, enabledFrom, type ListEdit, listEditOptions, needsCurrent, ROUTERS, Update } from '../resources.js';
import { action, type Io } from '../session.js';
import { enableDisableOptions } from './network.js';
import { routeText } from './subnet.js';

const interfaceText = (i: pb.RouterInterface__Output): string => `subnet=${i.subnetId},ip-address=${i.ipAddress}`;

function gatewayText(g: pb.ExternalGateway__Output | null): string {
  if (!g) return '';
  return lines([
    `network=${g.networkId}`,
    `ip-address=${g.ipAddress}`,
    `gateway-node=${g.gatewayNodeVtepIp}`,
    `snat=${g.enableSnat ? 'enabled' : 'disabled'}`,
  ]);
}

export const ROUTER_VIEW: Column<pb.Router__Output>[] = [
  { key: 'id', header: 'ID', get: (r) => r.id, inList: true },
  { key: 'name', header: 'Name', get: (r) => r.name, inList: true },
  { key: 'interfaces', header: 'Interfaces', get: (r) => lines(r.interfaces.map(interfaceText)) },
  // The list shows the interface addresses only; show names the subnets too.
  { key: 'interface_ips', header: 'Interface IPs', get: (r) => lines(r.interfaces.map((i) => i.ipAddress)), inList: true, inShow: false },
  { key: 'routes', header: 'Routes', get: (r) => lines(r.routes.map(routeText)) },
  { key: 'external_gateway', header: 'External Gateway', get: (r) => gatewayText(r.externalGateway) },
  { key: 'external_gateway_ip', header: 'Gateway IP', get: (r) => r.externalGateway?.ipAddress ?? '', inList: true, inShow: false },
  { key: 'enable_snat', header: 'SNAT', get: (r) => (r.externalGateway ? boolText(r.externalGateway.enableSnat) : ''), inShow: false },
  { key: 'admin_state_up', header: 'Admin State', get: (r) => adminText(r.adminStateUp), inList: true },
  ...statusColumns<pb.Router__Output>(),
];

const sameRoute = (a: RouteSpec, b: RouteSpec): boolean => a.destination === b.destination && a.nexthop === b.nexthop;

interface CreateOptions {
  id: string;
  name?: string;
  enable?: boolean;
  disable?: boolean;
}

interface SetOptions {
  name?: string;
  route?: ListEdit<RouteSpec>;
  enable?: boolean;
  disable?: boolean;
}

interface GatewayOptions {
  externalNetwork: string;
  ipAddress: string;
  gatewayNode: string;
  enableSnat?: boolean;
  disableSnat?: boolean;
}

export function routerCommands(io: Io, program: Command): void {
  const group = program.command('router').description('Routers: distributed routing between subnets, and the external gateway');

  const create = group
    .command('create')
    .description('Create a router (then add-interface and set-gateway)')
    .requiredOption('--id <uuid>', 'router ID')
    .option('--name <name>', 'name');
  enableDisableOptions(create, { enable: 'administratively up (default)', disable: 'administratively down' }).action(
    action(io, async (s, opts: CreateOptions) => {
      const out = s.printer(ROUTER_VIEW);
      const router: pb.Router = { id: opts.id, name: opts.name ?? '', adminStateUp: !opts.disable };
      out.show(await s.call<pb.Router__Output>((o, cb) => s.client.createRouter({ router }, o, cb)));
    }),
  );

  addCommonCommands(io, group, ROUTERS, ROUTER_VIEW);

  const set = group
    .command('set')
    .description('Change a router (interfaces: add-interface/remove-interface; gateway: set-gateway/unset-gateway)')
    .argument('<id>', 'router ID')
    .option('--name <name>', 'new name');
  listEditOptions(set, {
    flag: 'route',
    arg: 'spec',
    parse: parseRoute,
    add: `add a static route, ${ROUTE_USAGE}; the gateway must be in an attached subnet (repeatable)`,
    clear: 'clear the static routes (with --route: replace them)',
  });
  enableDisableOptions(set, { enable: 'administratively up', disable: 'administratively down' }).action(
    action(io, async (s, id: string, opts: SetOptions) => {
      const out = s.printer(ROUTER_VIEW);
      const current = needsCurrent(opts.route) ? await ROUTERS.get(s, id) : undefined;
      const update = new Update<pb.Router>(id)
        .field('name', opts.name, (name) => ({ name }))
        .field('routes', applyListEdit(current?.routes, opts.route, sameRoute), (routes) => ({ routes }))
        .field('admin_state_up', enabledFrom(opts), (adminStateUp) => ({ adminStateUp }));
      update.requireChanges('--name, --route, --no-route, --enable/--disable');
      out.show(await s.call<pb.Router__Output>((o, cb) => s.client.updateRouter({ router: update.resource, updateMask: update.mask }, o, cb)));
    }),
  );

  group
    .command('add-interface')
    .description('Attach a subnet to a router')
    .argument('<router>', 'router ID')
    .argument('<subnet>', 'subnet ID')
    .option('--ip-address <ip>', "the router's address in the subnet (default: the subnet's gateway IP)")
    .action(
      action(io, async (s, routerId: string, subnetId: string, opts: { ipAddress?: string }) => {
        const out = s.printer(ROUTER_VIEW);
        const request = { routerId, subnetId, ipAddress: opts.ipAddress ?? '' };
        out.show(await s.call<pb.Router__Output>((o, cb) => s.client.addRouterInterface(request, o, cb)));
      }),
    );

  group
    .command('remove-interface')
    .description('Detach a subnet from a router')
    .argument('<router>', 'router ID')
    .argument('<subnet>', 'subnet ID')
    .action(
      action(io, async (s, routerId: string, subnetId: string) => {
        const out = s.printer(ROUTER_VIEW);
        out.show(await s.call<pb.Router__Output>((o, cb) => s.client.removeRouterInterface({ routerId, subnetId }, o, cb)));
      }),
    );

  group
    .command('set-gateway')
    .description("Set (or replace) a router's external gateway")
    .argument('<router>', 'router ID')
    .requiredOption('--external-network <id>', 'an external (router:external) network')
    .requiredOption('--ip-address <ip>', "the router's address on it, inside one of its subnets")
    .requiredOption('--gateway-node <vtep-ip>', 'VTEP IP of the network node that owns the external interface for this router')
    // Neutron's default is SNAT on; the API's field defaults to false, so the CLI always says which.
    .addOption(new Option('--enable-snat', 'source-NAT traffic leaving through the gateway (default, as Neutron)').conflicts('disableSnat'))
    .addOption(new Option('--disable-snat', 'no SNAT: only floating IPs reach outside').conflicts('enableSnat'))
    .action(
      action(io, async (s, routerId: string, opts: GatewayOptions) => {
        const out = s.printer(ROUTER_VIEW);
        const externalGateway: pb.ExternalGateway = {
          networkId: opts.externalNetwork,
          ipAddress: opts.ipAddress,
          gatewayNodeVtepIp: opts.gatewayNode,
          enableSnat: !opts.disableSnat,
        };
        out.show(await s.call<pb.Router__Output>((o, cb) => s.client.setRouterGateway({ routerId, externalGateway }, o, cb)));
      }),
    );

  group
    .command('unset-gateway')
    .description("Remove a router's external gateway")
    .argument('<router>', 'router ID')
    .action(
      action(io, async (s, routerId: string) => {
        const out = s.printer(ROUTER_VIEW);
        out.show(await s.call<pb.Router__Output>((o, cb) => s.client.clearRouterGateway({ routerId }, o, cb)));
      }),
    );
}
