// What the demo builds: the seeds' three-node self-service architecture in
// network namespaces, as plain data (no I/O). Every other demo module reads
// its names, addresses and IDs from here.
//
//   vm1 10.1.0.11 web   vm2 10.2.0.12 db    vm3 10.1.0.13 web   vm4 10.2.0.14 db
//      | tap-vm1           | tap-vm2           | tap-vm3           | tap-vm4
//   +------------ compute1 -------------+ +------------ compute2 -------------+
//   | xdpnetd, VTEP 192.0.2.11          | | xdpnetd, VTEP 192.0.2.12          |
//   +-------------- eth0 ---------------+ +-------------- eth0 ---------------+
//                    |  guest network 192.0.2.0/24, VXLAN  |
//                    +----------- switch (br0) ------------+
//                                       |
//                    +--------------- eth0 ---------------+
//                    | network node: xdpnetd              |
//                    | VTEP 192.0.2.10                    |
//                    | external NIC eth1 203.0.113.2      |
//                    +--------------- eth1 ---------------+
//                                       |    external network 203.0.113.0/24
//                    +--------------- eth0 ---------------+
//                    | internet host                      |
//                    | 203.0.113.1: the external gateway  |
//                    | 198.51.100.80: a web server        |
//                    +------------------------------------+
//
// Tenant networks web (VNI 1001) and db (VNI 1002) are joined by router1,
// whose external gateway (203.0.113.10, SNAT) is held by the network node;
// floating IP 203.0.113.20 maps to vm4. The management network of each node
// is its daemon's own API socket.
//
// Names: every namespace is `<prefix>-<name>`; interfaces live only inside
// the demo's namespaces (nothing in the root namespace). The default instance
// is what `make demo` runs; the end-to-end test runs its own instance so it
// never touches a demo a user left running.

import { join } from 'node:path';

export type NodeName = 'compute1' | 'compute2' | 'network';
export type TenantNet = 'web' | 'db';

export const NODES: readonly NodeName[] = ['compute1', 'compute2', 'network'];

/** Where one run of the demo lives: namespace prefix, demo directory, bpffs directory. */
export interface Instance {
  /** '' for the default instance, else the name given with --instance. */
  name: string;
  prefix: string;
  dir: string;
  bpffsDir: string;
}

export const INSTANCE_NAME_RE = /^[a-z0-9]{1,8}$/;

export function instance(name = ''): Instance {
  if (name === '') return { name, prefix: 'xdemo', dir: '/run/xdpnet-demo', bpffsDir: '/sys/fs/bpf/xdpnet-demo' };
  if (!INSTANCE_NAME_RE.test(name)) throw new Error(`instance name ${JSON.stringify(name)}: 1-8 of a-z 0-9`);
  return { name, prefix: `xdemo${name}`, dir: `/run/xdpnet-demo-${name}`, bpffsDir: `/sys/fs/bpf/xdpnet-demo-${name}` };
}

/** The real name of one of the demo's namespaces. */
export const nsName = (inst: Instance, short: string): string => `${inst.prefix}-${short}`;

// ---------------------------------------------------------------- underlay and external network

export const SWITCH = 'switch';
export const INTERNET = 'internet';
export const BRIDGE = 'br0';

export const UNDERLAY_PREFIX_LENGTH = 24;
export const VTEP: Record<NodeName, string> = { network: '192.0.2.10', compute1: '192.0.2.11', compute2: '192.0.2.12' };
/** Each node's underlay (guest network) interface; the network node's external interface. */
export const UNDERLAY_IF = 'eth0';
export const EXTERNAL_IF = 'eth1';
/** The switch namespace's port facing a node. */
export const switchPort = (node: NodeName): string => `p-${node}`;

export const EXTERNAL = {
  cidr: '203.0.113.0/24',
  prefixLength: 24,
  /** The internet host's address on the external network: the external subnet's gateway. */
  gateway: '203.0.113.1',
  /** The network node's own host address on the external network (see topology.ts). */
  networkNode: '203.0.113.2',
  /** router1's address on the external network (its SNAT address). */
  routerIp: '203.0.113.10',
  floatingIp: '203.0.113.20',
  /** The physical network name the network node's config maps to eth1. */
  physicalNetwork: 'external',
} as const;

/** A web server "on the internet", beyond the external gateway (not on-link: reached by the default route). */
export const INTERNET_SERVER = { ip: '198.51.100.80', port: 80 } as const;

// ---------------------------------------------------------------- tenant resources

/**
 * Readable fixed UUIDs, the first digit telling the kind: 1 network, 2 subnet,
 * 3 router, 4 port, 5 floating IP. Neutron's are random; these stay the same
 * from run to run so the commands at the end can name them.
 */
const uuid = (kind: number, n: number): string => `${kind}0000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export interface TenantNetwork {
  name: TenantNet;
  networkId: string;
  subnetId: string;
  vni: number;
  cidr: string;
  gateway: string;
}

export const TENANT_NETWORKS: Record<TenantNet, TenantNetwork> = {
  web: { name: 'web', networkId: uuid(1, 1), subnetId: uuid(2, 1), vni: 1001, cidr: '10.1.0.0/24', gateway: '10.1.0.1' },
  db: { name: 'db', networkId: uuid(1, 2), subnetId: uuid(2, 2), vni: 1002, cidr: '10.2.0.0/24', gateway: '10.2.0.1' },
};
export const TENANT_PREFIX_LENGTH = 24;
/** The VXLAN networks' MTU: the default, 1500 on the underlay minus 50 bytes of encapsulation. */
export const TENANT_MTU = 1450;

export const PUBLIC_NETWORK = { name: 'public', networkId: uuid(1, 9), subnetId: uuid(2, 9) } as const;
export const ROUTER = { name: 'router1', id: uuid(3, 1) } as const;
export const FLOATING_IP = { id: uuid(5, 1), vm: 'vm4' } as const;

export interface Vm {
  name: string;
  node: NodeName;
  net: TenantNet;
  ip: string;
  mac: string;
  portId: string;
  /** The host-side interface in the node's namespace: the port's local binding. */
  tap: string;
}

const vm = (n: number, node: NodeName, net: TenantNet, ip: string, mac: string): Vm => ({
  name: `vm${n}`,
  node,
  net,
  ip,
  mac,
  portId: uuid(4, n),
  tap: `tap-vm${n}`,
});

export const VMS: readonly Vm[] = [
  vm(1, 'compute1', 'web', '10.1.0.11', 'fa:16:3e:01:00:11'),
  vm(2, 'compute1', 'db', '10.2.0.12', 'fa:16:3e:02:00:12'),
  vm(3, 'compute2', 'web', '10.1.0.13', 'fa:16:3e:01:00:13'),
  vm(4, 'compute2', 'db', '10.2.0.14', 'fa:16:3e:02:00:14'),
];

export function vmByName(name: string): Vm {
  const found = VMS.find((v) => v.name === name);
  if (!found) throw new Error(`no VM ${name} in the demo`);
  return found;
}

/** Every namespace of the demo, in creation order. */
export const NAMESPACES: readonly string[] = [SWITCH, ...NODES, INTERNET, ...VMS.map((v) => v.name)];

// ---------------------------------------------------------------- per-node files

export interface NodeFiles {
  dir: string;
  config: string;
  socket: string;
  state: string;
  log: string;
  pid: string;
  bpffsRoot: string;
}

export function nodeFiles(inst: Instance, node: NodeName): NodeFiles {
  const dir = join(inst.dir, node);
  return {
    dir,
    config: join(dir, 'xdpnetd.yaml'),
    socket: join(dir, 'api.sock'),
    state: join(dir, 'state'),
    log: join(dir, 'xdpnetd.log'),
    pid: join(dir, 'xdpnetd.pid'),
    bpffsRoot: join(inst.bpffsDir, node),
  };
}
