// xdpnet port create|list|show|set|delete

import { type Command, Option } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import { adminText, boolText, lines, statusColumns } from '../display.js';
import type { Column } from '../output.js';
import {
  ALLOWED_ADDRESS_USAGE,
  type AllowedAddressSpec,
  collect,
  collectStrings,
  FIXED_IP_USAGE,
  type FixedIpSpec,
  parseAllowedAddress,
  parseFixedIp,
} from '../parse-specs.js';
import { addCommonCommands, applyListEdit, enabledFrom, type ListEdit, listEditOptions, needsCurrent, PORTS, Update } from '../resources.js';
import { action, type Io } from '../session.js';
import { enableDisableOptions } from './network.js';

export const fixedIpText = (f: pb.FixedIp__Output): string => `subnet=${f.subnetId},ip-address=${f.ipAddress}`;
const pairText = (p: pb.AllowedAddressPair__Output): string =>
  p.macAddress === '' ? `ip-address=${p.ipAddress}` : `ip-address=${p.ipAddress},mac-address=${p.macAddress}`;

export function bindingText(p: pb.Port__Output): string {
  if (p.local) return `local ${p.local.interfaceName}`;
  if (p.remote) return `remote ${p.remote.vtepIp}`;
  return 'unbound';
}

export const PORT_VIEW: Column<pb.Port__Output>[] = [
  { key: 'id', header: 'ID', get: (p) => p.id, inList: true },
  { key: 'name', header: 'Name', get: (p) => p.name, inList: true },
  { key: 'network_id', header: 'Network', get: (p) => p.networkId },
  { key: 'mac_address', header: 'MAC Address', get: (p) => p.macAddress, inList: true },
  // The list shows the addresses only; show gives the subnet too, in --fixed-ip syntax.
  { key: 'fixed_ips', header: 'Fixed IPs', get: (p) => lines(p.fixedIps.map(fixedIpText)) },
  { key: 'ip_addresses', header: 'IP Addresses', get: (p) => lines(p.fixedIps.map((f) => f.ipAddress)), inList: true, inShow: false },
  { key: 'binding', header: 'Binding', get: bindingText, inList: true },
  { key: 'port_security_enabled', header: 'Port Security', get: (p) => boolText(p.portSecurityEnabled ?? true) },
  { key: 'allowed_address_pairs', header: 'Allowed Address Pairs', get: (p) => lines(p.allowedAddressPairs.map(pairText)) },
  { key: 'security_group_ids', header: 'Security Groups', get: (p) => lines(p.securityGroupIds) },
  { key: 'device_owner', header: 'Device Owner', get: (p) => p.deviceOwner },
  { key: 'admin_state_up', header: 'Admin State', get: (p) => adminText(p.adminStateUp) },
  ...statusColumns<pb.Port__Output>(),
];

const sameFixedIp = (a: FixedIpSpec, b: FixedIpSpec): boolean => a.subnetId === b.subnetId && a.ipAddress === b.ipAddress;
const samePair = (a: AllowedAddressSpec, b: AllowedAddressSpec): boolean => a.ipAddress === b.ipAddress && a.macAddress === b.macAddress;

interface BindingOptions {
  localInterface?: string;
  remoteVtep?: string;
  unbind?: boolean;
}

/** The binding oneof: exactly one member set, or neither for "unbound". */
function bindingFrom(o: BindingOptions): Pick<pb.Port, 'local' | 'remote'> | undefined {
  if (o.localInterface !== undefined) return { local: { interfaceName: o.localInterface } };
  if (o.remoteVtep !== undefined) return { remote: { vtepIp: o.remoteVtep } };
  if (o.unbind) return {};
  return undefined;
}

interface CreateOptions extends BindingOptions {
  id: string;
  network: string;
  mac: string;
  fixedIp?: FixedIpSpec[];
  disablePortSecurity?: boolean;
  allowedAddress?: AllowedAddressSpec[];
  securityGroup?: string[];
  deviceOwner?: string;
  name?: string;
  enable?: boolean;
  disable?: boolean;
}

interface SetOptions extends BindingOptions {
  name?: string;
  mac?: string;
  fixedIp?: ListEdit<FixedIpSpec>;
  enablePortSecurity?: boolean;
  disablePortSecurity?: boolean;
  allowedAddress?: ListEdit<AllowedAddressSpec>;
  securityGroup?: ListEdit<string>;
  deviceOwner?: string;
  enable?: boolean;
  disable?: boolean;
}

const BINDING_HELP = {
  local: 'bound on this node: the VM\'s host-side tap/veth interface',
  remote: 'bound on another node, reached over VXLAN at this VTEP IP',
};

export function portCommands(io: Io, program: Command): void {
  const group = program.command('port').description('Ports: VM interfaces, with MAC, fixed IPs and where they are bound');

  const create = group
    .command('create')
    .description('Create a port')
    .requiredOption('--id <uuid>', 'port ID')
    .requiredOption('--network <id>', 'the network it is on')
    .requiredOption('--mac <mac>', 'unicast MAC address, unique in the network, e.g. fa:16:3e:00:00:01')
    .option('--fixed-ip <spec>', `${FIXED_IP_USAGE} (repeatable; the daemon does not allocate addresses)`, collect(parseFixedIp))
    .addOption(new Option('--local-interface <ifname>', BINDING_HELP.local).conflicts('remoteVtep'))
    .addOption(new Option('--remote-vtep <ip>', BINDING_HELP.remote).conflicts('localInterface'))
    .option('--disable-port-security', 'let it send from any address (default: only its MAC/IPs and allowed pairs)')
    .option('--allowed-address <spec>', `${ALLOWED_ADDRESS_USAGE}: also allowed to send from (repeatable)`, collect(parseAllowedAddress))
    .option('--security-group <id>', 'security group ID (repeatable)', collectStrings)
    .option('--device-owner <owner>', "Neutron's device_owner, e.g. compute:nova (informational)")
    .option('--name <name>', 'name');
  enableDisableOptions(create, { enable: 'administratively up (default)', disable: 'administratively down' }).action(
    action(io, async (s, opts: CreateOptions) => {
      const out = s.printer(PORT_VIEW);
      const port: pb.Port = {
        id: opts.id,
        name: opts.name ?? '',
        networkId: opts.network,
        macAddress: opts.mac,
        fixedIps: opts.fixedIp ?? [],
        ...bindingFrom(opts),
        portSecurityEnabled: !opts.disablePortSecurity,
        allowedAddressPairs: opts.allowedAddress ?? [],
        securityGroupIds: opts.securityGroup ?? [],
        deviceOwner: opts.deviceOwner ?? '',
        adminStateUp: !opts.disable,
      };
      out.show(await s.call<pb.Port__Output>((o, cb) => s.client.createPort({ port }, o, cb)));
    }),
  );

  addCommonCommands(io, group, PORTS, PORT_VIEW, { networkFilter: 'only the ports of this network' });

  const set = group
    .command('set')
    .description('Change a port (its network is fixed once created)')
    .argument('<id>', 'port ID')
    .option('--name <name>', 'new name')
    .option('--mac <mac>', 'new MAC address');
  listEditOptions(set, {
    flag: 'fixed-ip',
    arg: 'spec',
    parse: parseFixedIp,
    add: `add a fixed IP, ${FIXED_IP_USAGE} (repeatable)`,
    clear: 'clear the fixed IPs (with --fixed-ip: replace them)',
  })
    .addOption(new Option('--local-interface <ifname>', `rebind: ${BINDING_HELP.local}`).conflicts(['remoteVtep', 'unbind']))
    .addOption(new Option('--remote-vtep <ip>', `rebind: ${BINDING_HELP.remote} (e.g. after live migration)`).conflicts(['localInterface', 'unbind']))
    .addOption(new Option('--unbind', 'bound nowhere (known to the model, not placed on any node)').conflicts(['localInterface', 'remoteVtep']))
    .addOption(new Option('--enable-port-security', 'only its MAC/IPs and allowed pairs may send').conflicts('disablePortSecurity'))
    .addOption(new Option('--disable-port-security', 'it may send from any address').conflicts('enablePortSecurity'));
  listEditOptions(set, {
    flag: 'allowed-address',
    arg: 'spec',
    parse: parseAllowedAddress,
    add: `add an allowed address pair, ${ALLOWED_ADDRESS_USAGE} (repeatable)`,
    clear: 'clear the allowed address pairs (with --allowed-address: replace them)',
  });
  listEditOptions(set, {
    flag: 'security-group',
    arg: 'id',
    parse: (id) => id,
    add: 'add a security group (repeatable)',
    clear: 'clear the security groups (with --security-group: replace them)',
  }).option('--device-owner <owner>', 'new device_owner');
  enableDisableOptions(set, { enable: 'administratively up', disable: 'administratively down' }).action(
    action(io, async (s, id: string, opts: SetOptions) => {
      const out = s.printer(PORT_VIEW);
      const current =
        needsCurrent(opts.fixedIp) || needsCurrent(opts.allowedAddress) || needsCurrent(opts.securityGroup) ? await PORTS.get(s, id) : undefined;
      const update = new Update<pb.Port>(id)
        .field('name', opts.name, (name) => ({ name }))
        .field('mac_address', opts.mac, (macAddress) => ({ macAddress }))
        .field('fixed_ips', applyListEdit(current?.fixedIps, opts.fixedIp, sameFixedIp), (fixedIps) => ({ fixedIps }))
        .field('binding', bindingFrom(opts), (binding) => binding)
        .field('port_security_enabled', enabledFrom({ enable: opts.enablePortSecurity, disable: opts.disablePortSecurity }), (portSecurityEnabled) => ({
          portSecurityEnabled,
        }))
        .field('allowed_address_pairs', applyListEdit(current?.allowedAddressPairs, opts.allowedAddress, samePair), (allowedAddressPairs) => ({
          allowedAddressPairs,
        }))
        .field('security_group_ids', applyListEdit(current?.securityGroupIds, opts.securityGroup, (a, b) => a === b), (securityGroupIds) => ({
          securityGroupIds,
        }))
        .field('device_owner', opts.deviceOwner, (deviceOwner) => ({ deviceOwner }))
        .field('admin_state_up', enabledFrom(opts), (adminStateUp) => ({ adminStateUp }));
      update.requireChanges(
        '--name, --mac, --fixed-ip, --no-fixed-ip, --local-interface/--remote-vtep/--unbind, --enable-port-security/--disable-port-security, ' +
          '--allowed-address, --no-allowed-address, --security-group, --no-security-group, --device-owner, --enable/--disable',
      );
      out.show(await s.call<pb.Port__Output>((o, cb) => s.client.updatePort({ port: update.resource, updateMask: update.mask }, o, cb)));
    }),
  );
}
