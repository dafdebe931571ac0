// What the API handlers need from the rest of the daemon. Handlers never touch
// maps: they read and change the desired state, and read status through here.

import type * as pb from '../gen/proto/xdpnet/v1/index.js';
import type { FloatingIp, ResourceKind, Uuid } from '../model/types.js';
import type { DesiredStateService } from '../store/api.js';
import type { StatusView } from './convert.js';
import type { NetworkDefaults } from './network-defaults.js';
import type { Logger } from './errors.js';

export interface StatusChange {
  kind: ResourceKind;
  id: Uuid;
  status: StatusView;
}

export interface ApiContext {
  state: DesiredStateService;
  /** Node-dependent defaults filled in before a network is stored (network-defaults.ts). */
  networkDefaults: NetworkDefaults;
  /** The resource's status in this node's dataplane. */
  statusOf(kind: ResourceKind, id: Uuid): StatusView;
  /** Subscribe to status changes (for Watch); returns an unsubscribe function. */
  onStatus(listener: (change: StatusChange) => void): () => void;
  /** The router that carries an associated floating IP (derived, never stored). */
  routerForFloatingIp(fip: FloatingIp): Uuid | null;
  nodeStatus(): Promise<pb.NodeStatus>;
  reasonCounters(): Promise<pb.ReasonCounters>;
  /** Rejects with a StatusError (FAILED_PRECONDITION) where the dataplane has none (the fake one). */
  portCounters(portIds: readonly string[]): Promise<pb.PortCounters>;
  logger: Logger & { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}
