// Programming the nodes over their APIs, as orchestration (a Neutron-like
// server) would, with the CLI — every command printed as it runs:
//
// - compute1 gets one command per resource (network, subnet, router and its
//   interfaces and gateway, ports, floating IP), to show the CLI;
// - compute2 and the network node get the same resources in one
//   `xdpnet sync FILE` each, what orchestration does after (re)connecting.
//
// Every node knows every port (L2 population): bound `local` (its tap) on the
// node hosting the VM, `remote` (that node's VTEP) everywhere else.

import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { statusText } from '../cli/display.js';
import { REPO_ROOT } from '../dataplane/native.js';
import type { Daemons, Resource } from './daemons.js';
import { command, detail } from './output.js';
import {
  EXTERNAL,
  FLOATING_IP,
  type Instance,
  type NodeName,
  PUBLIC_NETWORK,
  ROUTER,
  TENANT_NETWORKS,
  type TenantNetwork,
  VMS,
  VTEP,
  type Vm,
  nodeFiles,
  vmByName,
} from './plan.js';
import { run, sleep } from './shell.js';

export const XDPNET = join(REPO_ROOT, 'bin/xdpnet');

/** bin/xdpnet as the user can type it from here (relative inside the checkout). */
export function cliPath(): string {
  const rel = relative(process.cwd(), XDPNET);
  return rel.startsWith('..') ? XDPNET : rel;
}

/** The CLI's argv addressing `node`'s daemon. */
export function cliArgv(inst: Instance, node: NodeName, args: readonly string[]): string[] {
  return [cliPath(), '--socket', nodeFiles(inst, node).socket, ...args];
}

/** Prints and runs one CLI command; its output is shown only if asked (or on failure). */
export async function xdpnet(inst: Instance, node: NodeName, args: readonly string[], opts: { show?: boolean } = {}): Promise<string> {
  const argv = cliArgv(inst, node, args);
  command(argv);
  const r = await run([process.execPath, XDPNET, ...argv.slice(1)], { allowFailure: true });
  if (r.code !== 0) throw new Error(`the command above failed (exit ${r.code}):\n${r.stderr || r.stdout}`);
  if (opts.show) detail(r.stdout);
  return r.stdout;
}

const fixedIp = (vm: Vm) => `subnet=${TENANT_NETWORKS[vm.net].subnetId},ip-address=${vm.ip}`;

/** compute1's commands: every resource, one at a time. */
export async function programOneByOne(inst: Instance, node: NodeName): Promise<void> {
  const cli = (args: string[], show = false) => xdpnet(inst, node, args, { show });

  let first = true;
  for (const net of Object.values(TENANT_NETWORKS)) {
    await cli(['network', 'create', '--id', net.networkId, '--name', net.name, '--segmentation-id', String(net.vni)], first);
    first = false;
    await cli(['subnet', 'create', '--id', net.subnetId, '--name', `${net.name}-subnet`, '--network', net.networkId, '--cidr', net.cidr, '--gateway', net.gateway]);
  }
  // The provider network the internet is on: flat on the physical network
  // "external", which only the network node maps to an interface.
  await cli(['network', 'create', '--id', PUBLIC_NETWORK.networkId, '--name', PUBLIC_NETWORK.name, '--type', 'flat', '--physical-network', EXTERNAL.physicalNetwork, '--external']);
  await cli(['subnet', 'create', '--id', PUBLIC_NETWORK.subnetId, '--name', `${PUBLIC_NETWORK.name}-subnet`, '--network', PUBLIC_NETWORK.networkId, '--cidr', EXTERNAL.cidr, '--gateway', EXTERNAL.gateway]);

  await cli(['router', 'create', '--id', ROUTER.id, '--name', ROUTER.name]);
  for (const net of Object.values(TENANT_NETWORKS)) await cli(['router', 'add-interface', ROUTER.id, net.subnetId]);
  await cli([
    'router', 'set-gateway', ROUTER.id,
    '--external-network', PUBLIC_NETWORK.networkId,
    '--ip-address', EXTERNAL.routerIp,
    '--gateway-node', VTEP.network,
    '--enable-snat',
  ]);

  for (const vm of VMS) {
    const binding = vm.node === node ? ['--local-interface', vm.tap] : ['--remote-vtep', VTEP[vm.node]];
    await cli(['port', 'create', '--id', vm.portId, '--name', vm.name, '--network', TENANT_NETWORKS[vm.net].networkId, '--mac', vm.mac, '--fixed-ip', fixedIp(vm), ...binding, '--device-owner', 'compute:nova']);
  }

  await cli(['floatingip', 'create', '--id', FLOATING_IP.id, '--network', PUBLIC_NETWORK.networkId, '--floating-ip-address', EXTERNAL.floatingIp, '--port', vmByName(FLOATING_IP.vm).portId]);
}

/** The same resources as a SyncRequest document (snake_case, as `xdpnet sync` reads it), ports bound from `node`'s point of view. */
export function desiredState(node: NodeName): Record<string, unknown> {
  const subnet = (net: TenantNetwork) => ({ id: net.subnetId, name: `${net.name}-subnet`, network_id: net.networkId, cidr: net.cidr, gateway_ip: net.gateway });
  return {
    networks: [
      ...Object.values(TENANT_NETWORKS).map((n) => ({ id: n.networkId, name: n.name, type: 'vxlan', segmentation_id: n.vni })),
      { id: PUBLIC_NETWORK.networkId, name: PUBLIC_NETWORK.name, type: 'flat', physical_network: EXTERNAL.physicalNetwork, external: true },
    ],
    subnets: [
      ...Object.values(TENANT_NETWORKS).map(subnet),
      { id: PUBLIC_NETWORK.subnetId, name: `${PUBLIC_NETWORK.name}-subnet`, network_id: PUBLIC_NETWORK.networkId, cidr: EXTERNAL.cidr, gateway_ip: EXTERNAL.gateway },
    ],
    routers: [
      {
        id: ROUTER.id,
        name: ROUTER.name,
        interfaces: Object.values(TENANT_NETWORKS).map((n) => ({ subnet_id: n.subnetId })),
        external_gateway: { network_id: PUBLIC_NETWORK.networkId, ip_address: EXTERNAL.routerIp, enable_snat: true, gateway_node_vtep_ip: VTEP.network },
      },
    ],
    ports: VMS.map((vm) => ({
      id: vm.portId,
      name: vm.name,
      network_id: TENANT_NETWORKS[vm.net].networkId,
      mac_address: vm.mac,
      fixed_ips: [{ subnet_id: TENANT_NETWORKS[vm.net].subnetId, ip_address: vm.ip }],
      device_owner: 'compute:nova',
      ...(vm.node === node ? { local: { interface_name: vm.tap } } : { remote: { vtep_ip: VTEP[vm.node] } }),
    })),
    floating_ips: [
      { id: FLOATING_IP.id, floating_network_id: PUBLIC_NETWORK.networkId, floating_ip_address: EXTERNAL.floatingIp, port_id: vmByName(FLOATING_IP.vm).portId },
    ],
  };
}

/** Writes `node`'s desired state next to its config and syncs it; returns the file. */
export async function programBySync(inst: Instance, node: NodeName): Promise<string> {
  const file = join(nodeFiles(inst, node).dir, 'desired-state.yaml');
  const header =
    `# The whole desired state of ${node}, as orchestration pushes it with \`xdpnet sync\`:\n` +
    '# the same networks, subnets, router and floating IP as every node; each port\n' +
    `# bound "local" (its tap) if its VM runs on ${node}, else "remote" (its node's VTEP).\n`;
  writeFileSync(file, header + stringify(desiredState(node)));
  await xdpnet(inst, node, ['sync', file], { show: true });
  return file;
}

/** A status at or after the resource's own revision describes the resource as it is now. */
const current = (r: Resource) => r.status !== null && BigInt(r.status.revision) >= BigInt(r.revision);

/**
 * Waits until every resource on `node` is ACTIVE at its current revision;
 * returns how many there are. A resource in ERROR fails the demo at once,
 * with the daemon's code and message.
 */
export async function waitConverged(daemons: Daemons, node: NodeName, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await daemons.resources(node);
    const pending: Resource[] = [];
    for (const r of all) {
      const s = r.status;
      if (!current(r) || s === null) pending.push(r);
      else if (s.state === 'RESOURCE_STATE_ERROR') throw new Error(`${node}: ${r.kind} ${r.name} (${r.id}) is in ${statusText(s)}`);
      else if (s.state !== 'RESOURCE_STATE_ACTIVE') pending.push(r);
    }
    if (pending.length === 0) return all.length;
    if (Date.now() > deadline) {
      throw new Error(`${node}: not converged within ${timeoutMs / 1000} s: ${pending.map((r) => `${r.kind} ${r.name}: ${JSON.stringify(r.status)}`).join('; ')}`);
    }
    await sleep(100);
  }
}
