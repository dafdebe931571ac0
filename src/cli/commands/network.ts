// xdpnet network create|list|show|set|delete

import { type Command, Option } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { adminText, boolText, statusColumns, stripPrefix } from '../display.js';
import type { Column } from '../output.js';
import { parseChoice, parseInteger } from '../parse-specs.js';
import { addCommonCommands, enabledFrom, NETWORKS, parseUint32, Update } from '../resources.js';
import { action, type Io } from '../session.js';

export const NETWORK_VIEW: Column<pb.Network__Output>[] = [
  { key: 'id', header: 'ID', get: (n) => n.id, inList: true },
  { key: 'name', header: 'Name', get: (n) => n.name, inList: true },
  { key: 'type', header: 'Type', get: (n) => stripPrefix(n.type, 'NETWORK_TYPE_').toLowerCase(), inList: true },
  { key: 'segmentation_id', header: 'Segment', get: (n) => String(n.segmentationId), inList: true },
  { key: 'physical_network', header: 'Physical Network', get: (n) => n.physicalNetwork },
  { key: 'mtu', header: 'MTU', get: (n) => String(n.mtu), inList: true },
  { key: 'external', header: 'External', get: (n) => boolText(n.external), inList: true },
  { key: 'admin_state_up', header: 'Admin State', get: (n) => adminText(n.adminStateUp), inList: true },
  ...statusColumns<pb.Network__Output>(),
];

const NETWORK_TYPES = { vxlan: 'NETWORK_TYPE_VXLAN', flat: 'NETWORK_TYPE_FLAT', vlan: 'NETWORK_TYPE_VLAN' } as const;

/** --enable/--disable as a conflicting pair; `what` says what they do on this command. */
export function enableDisableOptions(cmd: Command, what: { enable: string; disable: string }): Command {
  return cmd
    .addOption(new Option('--enable', what.enable).conflicts('disable'))
    .addOption(new Option('--disable', what.disable).conflicts('enable'));
}

interface CreateOptions {
  id: string;
  name?: string;
  type?: pb.NetworkType;
  segmentationId?: number;
  physicalNetwork?: string;
  mtu?: number;
  external?: boolean;
  enable?: boolean;
  disable?: boolean;
}

interface SetOptions {
  name?: string;
  mtu?: number;
  external?: boolean;
  internal?: boolean;
  enable?: boolean;
  disable?: boolean;
}

export function networkCommands(io: Io, program: Command): void {
  const group = program.command('network').description('Networks: VXLAN overlays and flat/VLAN provider networks');

  const create = group
    .command('create')
    .description('Create a network')
    .requiredOption('--id <uuid>', 'network ID (chosen by the caller, as Neutron does)')
    .option('--name <name>', 'name')
    .option('--type <type>', 'vxlan, flat or vlan (default: vxlan)', parseChoice(NETWORK_TYPES))
    .option('--segmentation-id <n>', 'required for vxlan (the VNI, 1..16777215, unique) and vlan (the VLAN ID, 1..4094); none for flat', parseInteger(0, 16777215))
    .option('--physical-network <name>', "flat and vlan: the physical network, mapped to an interface by each node's config")
    .option('--mtu <n>', 'default: the underlay MTU minus 50 (VXLAN headers) for vxlan, 1500 otherwise', parseUint32)
    .option('--external', 'router:external: its subnets give routers gateways and floating IPs');
  enableDisableOptions(create, { enable: 'administratively up (default)', disable: 'administratively down' }).action(
    action(io, async (s, opts: CreateOptions) => {
      const out = s.printer(NETWORK_VIEW);
      const network: pb.Network = {
        id: opts.id,
        name: opts.name ?? '',
        type: opts.type ?? 'NETWORK_TYPE_UNSPECIFIED',
        segmentationId: opts.segmentationId ?? 0,
        physicalNetwork: opts.physicalNetwork ?? '',
        mtu: opts.mtu ?? 0,
        external: opts.external ?? false,
        adminStateUp: !opts.disable,
      };
      out.show(await s.call<pb.Network__Output>((o, cb) => s.client.createNetwork({ network }, o, cb)));
    }),
  );

  addCommonCommands(io, group, NETWORKS, NETWORK_VIEW);

  const set = group
    .command('set')
    .description('Change a network (type, segment and physical network are fixed once created)')
    .argument('<id>', 'network ID')
    .option('--name <name>', 'new name')
    .option('--mtu <n>', 'new MTU (0: the default for the type)', parseUint32)
    .addOption(new Option('--external', 'make it router:external').conflicts('internal'))
    .addOption(new Option('--internal', 'make it not external').conflicts('external'));
  enableDisableOptions(set, { enable: 'administratively up', disable: 'administratively down' }).action(
    action(io, async (s, id: string, opts: SetOptions) => {
      const out = s.printer(NETWORK_VIEW);
      const update = new Update<pb.Network>(id)
        .field('name', opts.name, (name) => ({ name }))
        .field('mtu', opts.mtu, (mtu) => ({ mtu }))
        .field('external', opts.external ? true : opts.internal ? false : undefined, (external) => ({ external }))
        .field('admin_state_up', enabledFrom(opts), (adminStateUp) => ({ adminStateUp }));
      update.requireChanges('--name, --mtu, --external/--internal, --enable/--disable');
      out.show(
        await s.call<pb.Network__Output>((o, cb) =>
          s.client.updateNetwork({ network: update.resource, updateMask: update.mask }, o, cb),
        ),
      );
    }),
  );
}
