// The desired-state model: pure, no I/O. See plan.ts for the operations.

export * from './types.js';
export { ResourceIndex, type IpOwner, type IpOwnerKind, type PlannedChange } from './resource-index.js';
export {
  planAddRouterInterface,
  planClearRouterGateway,
  planCreate,
  planDelete,
  planRemoveRouterInterface,
  planSetRouterGateway,
  planSync,
  planUpdate,
  type Outcome,
  type SyncPlan,
} from './plan.js';
export { routerForFloatingIp } from './derive.js';
export { checkMask, updatableFields } from './update.js';
export { DEFAULT_MTU_OTHER, DEFAULT_MTU_VXLAN } from './normalize.js';
export { deepEqual } from './equal.js';
