// The reconciler module: desired state → logical tables (render) → a Dataplane.

export * from './tables.js';
export { render, type RenderNode, type Rendered, type RenderProblem } from './render.js';
export { DataplaneError, type Dataplane, type DataplaneEntry, type DataplaneErrorCode, type TableSupport } from './dataplane.js';
export { FakeDataplane, type FakeDataplaneOptions, type FakeOp } from './fake-dataplane.js';
export { Reconciler, type Logger, type PassKind, type PassSummary, type ReconcilerOptions, type ReconcilerWork } from './reconciler.js';
export type { ResourceState, ResourceStatus, StatusCode, StatusEvent, StatusListener } from './status.js';
export { routerMac, ROUTER_MAC_PREFIX } from './router-mac.js';
export { canonicalJson } from './canonical.js';
