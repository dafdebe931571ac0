// Wires the API's view of the daemon (ApiContext) and the metrics' view
// (MetricsSource) to the desired state, the reconciler and the dataplane.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import type { ApiContext } from '../api/context.js';
import type { StatusView } from '../api/convert.js';
import { networkDefaultsFor } from '../api/network-defaults.js';
import { StatusError } from '../api/errors.js';
import * as grpc from '@grpc/grpc-js';
import type * as pb from '../gen/proto/xdpnet/v1/index.js';
import { REASONS } from '../gen/reasons.js';
import { REPO_ROOT } from '../dataplane/native.js';
import type { ConntrackGc } from '../dataplane/conntrack-gc.js';
import type { NodeDataplane } from '../dataplane/node.js';
import { type PortCounterTotals, PortMapsNotPinnedError, ZERO_PORT_COUNTERS, readPortCounters } from '../dataplane/port-counters.js';
import { RESOURCE_KINDS } from '../model/types.js';
import type { Reconciler } from '../reconciler/reconciler.js';
import type { DesiredState } from '../store/desired-state.js';
import type { Config } from './config.js';
import type { MetricsSource } from './metrics.js';

export const VERSION: string = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface DaemonParts {
  config: Config;
  logger: PinoLogger;
  state: DesiredState;
  reconciler: Reconciler;
  node: NodeDataplane | undefined;
  /** The SNAT connection table's collector (dataplane bpf). */
  conntrack?: ConntrackGc | undefined;
  startedUnixMs: number;
  /** The underlay MTU network defaults derive from (config, else the interface's). */
  underlayMtu: number;
  listening(): readonly string[];
}

interface ReasonTotal {
  name: string;
  category: string;
  description: string;
  packets: bigint;
  bytes: bigint;
}

/** With the fake dataplane nothing is forwarded, so every count is truly zero. */
function reasonTotals(node: NodeDataplane | undefined): ReasonTotal[] {
  return node ? node.reasonCounters() : REASONS.map((r) => ({ ...r, packets: 0n, bytes: 0n }));
}

export function createApiContext(parts: DaemonParts): ApiContext & { metricsSource: MetricsSource } {
  const { config, logger, state, reconciler, node } = parts;

  const statusOf = (kind: Parameters<ApiContext['statusOf']>[0], id: string): StatusView => {
    const known = reconciler.status(kind, id);
    if (known) return known;
    // Not yet seen by a reconcile pass: accepted and durable, not yet applied.
    return { state: 'PENDING', code: '', message: '', revision: state.get(kind, id)?.revision ?? 0 };
  };

  // Keys as the API names kinds elsewhere (snake_case): floating_ip, not floatingIp.
  const resourceCounts = (): Record<string, number> =>
    Object.fromEntries(RESOURCE_KINDS.map((kind) => [kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), state.count(kind)]));

  const nodeStatus = async (): Promise<pb.NodeStatus> => {
    const last = reconciler.summary();
    return {
      config: {
        nodeName: config.node_name,
        vtepIp: config.vtep_ip,
        underlayInterface: config.underlay_interface,
        physicalNetworks: Object.entries(config.physical_networks).map(([physicalNetwork, interfaceName]) => ({ physicalNetwork, interfaceName })),
        bpffsRoot: config.bpffs_root,
        dataplane: config.dataplane,
        listen: [...parts.listening()],
      },
      version: VERSION,
      startedUnixMs: String(parts.startedUnixMs),
      ready: reconciler.isReady,
      desiredRevision: String(state.revision),
      programs: node?.attached() ?? [],
      maps: node?.mapFill() ?? [],
      lastReconcile: last ? { ...last, revision: String(last.revision), startedUnixMs: String(last.startedUnixMs) } : null,
      resourceCounts: resourceCounts(),
    };
  };

  return {
    state,
    networkDefaults: networkDefaultsFor(parts.underlayMtu),
    statusOf,
    onStatus: (listener) => reconciler.onStatus(listener),
    routerForFloatingIp: (fip) => state.routerForFloatingIp(fip),
    nodeStatus,
    reasonCounters: async () => ({
      counters: reasonTotals(node).map((r) => ({
        reason: r.name as pb.Reason,
        category: r.category,
        description: r.description,
        packets: String(r.packets),
        bytes: String(r.bytes),
      })),
    }),
    portCounters: async (portIds) => {
      // Zeros would look like a measurement (ports that received nothing);
      // the fake dataplane measures nothing, so it says so instead.
      if (config.dataplane !== 'bpf') {
        throw new StatusError(grpc.status.FAILED_PRECONDITION, 'the fake dataplane (dataplane: fake) forwards nothing and keeps no per-port counters');
      }
      let counted: Map<string, PortCounterTotals>;
      try {
        counted = readPortCounters(config.bpffs_root);
      } catch (err) {
        if (err instanceof PortMapsNotPinnedError) throw new StatusError(grpc.status.FAILED_PRECONDITION, err.message);
        throw err;
      }
      return {
        ports: portIds.map((portId) => {
          // A local port not in the port table (its interface is not there yet) has counted nothing.
          const c = counted.get(portId) ?? ZERO_PORT_COUNTERS;
          return {
            portId,
            rxPackets: String(c.rxPackets),
            rxBytes: String(c.rxBytes),
            txPackets: String(c.txPackets),
            txBytes: String(c.txBytes),
            droppedPackets: String(c.droppedPackets),
          };
        }),
      };
    },
    logger,
    metricsSource: {
      reasonCounters: async () => reasonTotals(node),
      resourceCounts,
      desiredRevision: () => state.revision,
      ready: () => reconciler.isReady,
      mapFill: async () => node?.mapFill() ?? [],
      lastReconcile: () => reconciler.summary(),
      conntrack: () => parts.conntrack?.stats(),
    },
  };
}
