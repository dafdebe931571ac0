// One real xdpnetd per node (bin/xdpnetd, dataplane bpf), each with its own
// configuration file, state directory, API socket and bpffs root, running
// inside its node's namespace. They are started detached: they keep running
// after the demo program ends, until `make demo-clean`.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { stringify } from 'yaml';
import { connect, unary } from '../api/client.js';
import type * as pb from '../gen/proto/xdpnet/v1/index.js';
import type { XdpNetClient } from '../gen/proto/xdpnet/v1/XdpNet.js';
import { REPO_ROOT } from '../dataplane/native.js';
import { EXTERNAL, EXTERNAL_IF, type Instance, NODES, type NodeName, UNDERLAY_IF, VTEP, nodeFiles, nsName } from './plan.js';
import { livePid, nsenter, sleep, spawnDetached } from './shell.js';

export const XDPNETD = join(REPO_ROOT, 'bin/xdpnetd');

/** The configuration of `node`'s daemon, as /etc/xdpnet/xdpnetd.yaml would hold it. */
export function daemonConfig(inst: Instance, node: NodeName): Record<string, unknown> {
  const f = nodeFiles(inst, node);
  return {
    node_name: node,
    dataplane: 'bpf',
    vtep_ip: VTEP[node],
    underlay_interface: UNDERLAY_IF,
    // Only the network (gateway) node is on the external network.
    physical_networks: node === 'network' ? { [EXTERNAL.physicalNetwork]: EXTERNAL_IF } : {},
    // The network node's SNAT conntrack table is preallocated at conntrack_max
    // connections (~256 bytes each): the default 1,048,576 would take ~270 MB
    // for the handful of connections the demo makes. 4096 (~1 MB) is plenty;
    // the schema's minimum is 1024. Compute nodes load a token-size table.
    ...(node === 'network' ? { snat: { conntrack_max: 4096 } } : {}),
    bpffs_root: f.bpffsRoot,
    state_dir: f.state,
    api: { socket: f.socket },
    metrics: { address: null },
    reconcile: { full_pass_interval_seconds: 30 },
    log: { level: 'info' },
  };
}

type HealthClient = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
};
const HealthClientCtor = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => HealthClient;

function health(socket: string): Promise<string> {
  const client = new HealthClientCtor(`unix:${socket}`, grpc.credentials.createInsecure());
  return new Promise((resolve) =>
    client.check({ service: '' }, (err, res) => {
      client.close();
      resolve(err ? 'UNREACHABLE' : (res?.status ?? 'UNKNOWN'));
    }),
  );
}

/** The last lines of a node's daemon log, for error messages. */
export function logTail(inst: Instance, node: NodeName, lines = 15): string {
  try {
    return readFileSync(nodeFiles(inst, node).log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class Daemons {
  private readonly clients = new Map<NodeName, XdpNetClient>();

  constructor(private readonly inst: Instance) {}

  /** Writes each node's configuration and starts its daemon; resolves when all are SERVING. */
  async start(timeoutMs = 90_000): Promise<void> {
    for (const node of NODES) {
      const f = nodeFiles(this.inst, node);
      mkdirSync(f.dir, { recursive: true });
      writeFileSync(f.config, stringify(daemonConfig(this.inst, node)));
      spawnDetached(nsenter(nsName(this.inst, node), [process.execPath, XDPNETD, '--config', f.config]), f.log, f.pid);
    }
    await Promise.all(NODES.map((node) => this.waitServing(node, timeoutMs)));
  }

  private async waitServing(node: NodeName, timeoutMs: number): Promise<void> {
    const f = nodeFiles(this.inst, node);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (livePid(f.pid) === undefined) throw new Error(`${node}: xdpnetd exited before serving; its log (${f.log}) ends:\n${logTail(this.inst, node)}`);
      const status = await health(f.socket);
      if (status === 'SERVING') return;
      if (Date.now() > deadline) throw new Error(`${node}: xdpnetd not SERVING after ${timeoutMs / 1000} s (${status}); its log ends:\n${logTail(this.inst, node)}`);
      await sleep(100);
    }
  }

  client(node: NodeName): XdpNetClient {
    let c = this.clients.get(node);
    if (!c) {
      c = connect({ socket: nodeFiles(this.inst, node).socket });
      this.clients.set(node, c);
    }
    return c;
  }

  /** Closes the API channels (the daemons keep running). */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  // ------------------------------------------------------------- what the demo reads back

  async reasons(node: NodeName): Promise<Map<string, bigint>> {
    const { counters } = await unary<pb.ReasonCounters__Output>((cb) => this.client(node).getReasonCounters({}, cb));
    return new Map(counters.map((c) => [c.reason, BigInt(c.packets)]));
  }

  status(node: NodeName): Promise<pb.NodeStatus__Output> {
    return unary<pb.NodeStatus__Output>((cb) => this.client(node).getNodeStatus({}, cb));
  }

  portCounters(node: NodeName): Promise<pb.PortCounters__Output> {
    return unary<pb.PortCounters__Output>((cb) => this.client(node).getPortCounters({ portIds: [] }, cb));
  }

  /** Every resource on `node`'s daemon, with its kind. */
  async resources(node: NodeName): Promise<Resource[]> {
    const c = this.client(node);
    const page = { pageSize: 1000 };
    const [networks, subnets, ports, routers, fips] = await Promise.all([
      unary<pb.ListNetworksResponse__Output>((cb) => c.listNetworks(page, cb)),
      unary<pb.ListSubnetsResponse__Output>((cb) => c.listSubnets(page, cb)),
      unary<pb.ListPortsResponse__Output>((cb) => c.listPorts(page, cb)),
      unary<pb.ListRoutersResponse__Output>((cb) => c.listRouters(page, cb)),
      unary<pb.ListFloatingIpsResponse__Output>((cb) => c.listFloatingIps(page, cb)),
    ]);
    return [
      ...networks.networks.map((r) => ({ kind: 'network', id: r.id, name: r.name, revision: r.revision, status: r.status })),
      ...subnets.subnets.map((r) => ({ kind: 'subnet', id: r.id, name: r.name, revision: r.revision, status: r.status })),
      ...ports.ports.map((r) => ({ kind: 'port', id: r.id, name: r.name, revision: r.revision, status: r.status })),
      ...routers.routers.map((r) => ({ kind: 'router', id: r.id, name: r.name, revision: r.revision, status: r.status })),
      ...fips.floatingIps.map((r) => ({ kind: 'floating IP', id: r.id, name: r.floatingIpAddress, revision: r.revision, status: r.status })),
    ];
  }
}

export interface Resource {
  kind: string;
  id: string;
  name: string;
  revision: string;
  status: pb.ResourceStatus__Output | null;
}
