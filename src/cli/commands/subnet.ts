// xdpnet subnet create|list|show|set|delete

import { type Command, Option } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { boolText, lines, statusColumns } from '../display.js';
import type { Column } from '../output.js';
import { collect, collectStrings, parseRoute, type RouteSpec, ROUTE_USAGE } from '../parse-specs.js';
import { addCommonCommands, applyListEdit, type ListEdit, listEditOptions, needsCurrent, SUBNETS, Update } from '../resources.js';
import { action, type Io } from '../session.js';

export const routeText = (r: { destination: string; nexthop: string }): string => `destination=${r.destination},gateway=${r.nexthop}`;

export const SUBNET_VIEW: Column<pb.Subnet__Output>[] = [
  { key: 'id', header: 'ID', get: (s) => s.id, inList: true },
  { key: 'name', header: 'Name', get: (s) => s.name, inList: true },
  { key: 'network_id', header: 'Network', get: (s) => s.networkId, inList: true },
  { key: 'cidr', header: 'CIDR', get: (s) => s.cidr, inList: true },
  { key: 'gateway_ip', header: 'Gateway', get: (s) => (s.noGateway ? 'none' : s.gatewayIp), inList: true },
  { key: 'enable_dhcp', header: 'DHCP', get: (s) => boolText(s.enableDhcp) },
  { key: 'dns_nameservers', header: 'DNS Nameservers', get: (s) => lines(s.dnsNameservers) },
  { key: 'host_routes', header: 'Host Routes', get: (s) => lines(s.hostRoutes.map(routeText)) },
  ...statusColumns<pb.Subnet__Output>(),
];

const sameRoute = (a: RouteSpec, b: RouteSpec): boolean => a.destination === b.destination && a.nexthop === b.nexthop;

interface CreateOptions {
  id: string;
  network: string;
  cidr: string;
  name?: string;
  /** A string, or false for --no-gateway. */
  gateway?: string | false;
  dhcp?: boolean;
  dnsNameserver?: string[];
  hostRoute?: RouteSpec[];
}

interface SetOptions {
  name?: string;
  gateway?: string | false;
  dhcp?: boolean;
  dnsNameserver?: ListEdit<string>;
  /** openstack's spelling of the clear flag, --no-dns-nameservers: false when given. */
  dnsNameservers?: boolean;
  hostRoute?: ListEdit<RouteSpec>;
}

/** Options create and set share. */
function gatewayAndDhcp(cmd: Command, onSet: boolean): Command {
  return cmd
    .option('--gateway <ip>', onSet ? 'new gateway IP' : 'gateway IP (default: the first host address)')
    .option('--no-gateway', 'no gateway at all')
    .option('--dhcp', onSet ? 'enable DHCP' : 'enable DHCP (default: off)')
    .option('--no-dhcp', 'disable DHCP');
}

export function subnetCommands(io: Io, program: Command): void {
  const group = program.command('subnet').description('Subnets: IPv4 ranges of a network');

  gatewayAndDhcp(
    group
      .command('create')
      .description('Create a subnet')
      .requiredOption('--id <uuid>', 'subnet ID')
      .requiredOption('--network <id>', 'the network it belongs to')
      .requiredOption('--cidr <cidr>', 'e.g. 10.0.0.0/24')
      .option('--name <name>', 'name'),
    false,
  )
    .option('--dns-nameserver <ip>', 'DNS nameserver (repeatable)', collectStrings)
    .option('--host-route <spec>', `a host route, ${ROUTE_USAGE} (repeatable)`, collect(parseRoute))
    .action(
      action(io, async (s, opts: CreateOptions) => {
        const out = s.printer(SUBNET_VIEW);
        const subnet: pb.Subnet = {
          id: opts.id,
          name: opts.name ?? '',
          networkId: opts.network,
          cidr: opts.cidr,
          gatewayIp: typeof opts.gateway === 'string' ? opts.gateway : '',
          noGateway: opts.gateway === false,
          enableDhcp: opts.dhcp ?? false,
          dnsNameservers: opts.dnsNameserver ?? [],
          hostRoutes: opts.hostRoute ?? [],
        };
        out.show(await s.call<pb.Subnet__Output>((o, cb) => s.client.createSubnet({ subnet }, o, cb)));
      }),
    );

  addCommonCommands(io, group, SUBNETS, SUBNET_VIEW, { networkFilter: 'only the subnets of this network' });

  const set = gatewayAndDhcp(
    group
      .command('set')
      .description('Change a subnet (network and CIDR are fixed once created)')
      .argument('<id>', 'subnet ID')
      .option('--name <name>', 'new name'),
    true,
  );
  listEditOptions(set, {
    flag: 'dns-nameserver',
    arg: 'ip',
    parse: (ip) => ip,
    add: 'add a DNS nameserver (repeatable)',
    clear: 'clear the DNS nameservers (with --dns-nameserver: replace them)',
  });
  set.addOption(new Option('--no-dns-nameservers', 'same as --no-dns-nameserver').hideHelp());
  listEditOptions(set, {
    flag: 'host-route',
    arg: 'spec',
    parse: parseRoute,
    add: `add a host route, ${ROUTE_USAGE} (repeatable)`,
    clear: 'clear the host routes (with --host-route: replace them)',
  }).action(
    action(io, async (s, id: string, opts: SetOptions) => {
      const out = s.printer(SUBNET_VIEW);
      let dns = opts.dnsNameserver;
      if (opts.dnsNameservers === false) dns = { clear: true, add: dns?.add ?? [] };
      const current = needsCurrent(dns) || needsCurrent(opts.hostRoute) ? await SUBNETS.get(s, id) : undefined;
      const update = new Update<pb.Subnet>(id)
        .field('name', opts.name, (name) => ({ name }))
        // gateway_ip and no_gateway are one choice in the model; both names go in the mask.
        .field('gateway_ip', opts.gateway, (g) => ({ gatewayIp: g === false ? '' : g, noGateway: g === false }))
        .field('no_gateway', opts.gateway, (g) => ({ noGateway: g === false }))
        .field('enable_dhcp', opts.dhcp, (enableDhcp) => ({ enableDhcp }))
        .field('dns_nameservers', applyListEdit(current?.dnsNameservers, dns, (a, b) => a === b), (dnsNameservers) => ({ dnsNameservers }))
        .field('host_routes', applyListEdit(current?.hostRoutes, opts.hostRoute, sameRoute), (hostRoutes) => ({ hostRoutes }));
      update.requireChanges('--name, --gateway/--no-gateway, --dhcp/--no-dhcp, --dns-nameserver, --no-dns-nameserver, --host-route, --no-host-route');
      out.show(
        await s.call<pb.Subnet__Output>((o, cb) => s.client.updateSubnet({ subnet: update.resource, updateMask: update.mask }, o, cb)),
      );
    }),
  );
}
