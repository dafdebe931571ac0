// xdpnet floatingip create|list|show|set|unset|delete

import type { Command } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { statusColumns } from '../display.js';
import { UsageError } from '../errors.js';
import type { Column } from '../output.js';
import { addCommonCommands, FLOATING_IPS, Update } from '../resources.js';
import { action, type Io } from '../session.js';

export const FLOATING_IP_VIEW: Column<pb.FloatingIp__Output>[] = [
  { key: 'id', header: 'ID', get: (f) => f.id, inList: true },
  { key: 'floating_ip_address', header: 'Floating IP Address', get: (f) => f.floatingIpAddress, inList: true },
  { key: 'fixed_ip_address', header: 'Fixed IP Address', get: (f) => f.fixedIpAddress, inList: true },
  { key: 'port_id', header: 'Port', get: (f) => f.portId, inList: true },
  { key: 'floating_network_id', header: 'Floating Network', get: (f) => f.floatingNetworkId, inList: true },
  // Derived by the daemon: the router joining the port's subnet to the floating network.
  { key: 'router_id', header: 'Router', get: (f) => f.routerId },
  ...statusColumns<pb.FloatingIp__Output>(),
];

interface CreateOptions {
  id: string;
  network: string;
  floatingIpAddress: string;
  port?: string;
  fixedIpAddress?: string;
}

export function floatingIpCommands(io: Io, program: Command): void {
  const group = program.command('floatingip').description('Floating IPs: external addresses mapped 1:1 to a port\'s fixed IP');

  group
    .command('create')
    .description('Create a floating IP, associated with a port or not')
    .requiredOption('--id <uuid>', 'floating IP ID')
    .requiredOption('--network <id>', 'the external network it is taken from')
    .requiredOption('--floating-ip-address <ip>', 'the address, inside one of that network\'s subnets and not used by anything else')
    .option('--port <id>', 'associate it with this port')
    .option('--fixed-ip-address <ip>', "with --port: which of the port's fixed IPs (default: its first)")
    .action(
      action(io, async (s, opts: CreateOptions) => {
        if (opts.fixedIpAddress !== undefined && opts.port === undefined) throw new UsageError('--fixed-ip-address needs --port');
        const out = s.printer(FLOATING_IP_VIEW);
        const floatingIp: pb.FloatingIp = {
          id: opts.id,
          floatingNetworkId: opts.network,
          floatingIpAddress: opts.floatingIpAddress,
          portId: opts.port ?? '',
          fixedIpAddress: opts.fixedIpAddress ?? '',
        };
        out.show(await s.call<pb.FloatingIp__Output>((o, cb) => s.client.createFloatingIp({ floatingIp }, o, cb)));
      }),
    );

  addCommonCommands(io, group, FLOATING_IPS, FLOATING_IP_VIEW, { networkFilter: 'only the floating IPs of this external network' });

  group
    .command('set')
    .description('Associate a floating IP with a port (or move it to another)')
    .argument('<id>', 'floating IP ID')
    .requiredOption('--port <id>', 'the port')
    .option('--fixed-ip-address <ip>', "which of the port's fixed IPs (default: its first)")
    .action(
      action(io, async (s, id: string, opts: { port: string; fixedIpAddress?: string }) => {
        const out = s.printer(FLOATING_IP_VIEW);
        // Without --fixed-ip-address only port_id is named: the daemon then maps to the port's first fixed IP.
        const update = new Update<pb.FloatingIp>(id)
          .field('port_id', opts.port, (portId) => ({ portId }))
          .field('fixed_ip_address', opts.fixedIpAddress, (fixedIpAddress) => ({ fixedIpAddress }));
        out.show(
          await s.call<pb.FloatingIp__Output>((o, cb) =>
            s.client.updateFloatingIp({ floatingIp: update.resource, updateMask: update.mask }, o, cb),
          ),
        );
      }),
    );

  group
    .command('unset')
    .description('Disassociate a floating IP from its port (it stays allocated)')
    .argument('<id>', 'floating IP ID')
    .option('--port', 'what to unset; the only thing there is, accepted as openstack spells it')
    .action(
      action(io, async (s, id: string) => {
        const out = s.printer(FLOATING_IP_VIEW);
        const floatingIp: pb.FloatingIp = { id, portId: '', fixedIpAddress: '' };
        out.show(
          await s.call<pb.FloatingIp__Output>((o, cb) =>
            s.client.updateFloatingIp({ floatingIp, updateMask: ['port_id', 'fixed_ip_address'] }, o, cb),
          ),
        );
      }),
    );
}
