// The dataplane module: the only part of xdpnet that touches BPF. Everything
// else imports from here, never from native.ts.

export { BpfError } from './native.js';
export { ensureBpffs, DEFAULT_BPFFS_ROOT } from './bpffs.js';
export { loadObject, LoadedObject, type LoadOptions, type MapOverrides, type RodataValue } from './object.js';
export { BpfMap, TypedMap, PerCpuMap, MapType, type UpdateMode } from './maps.js';
export {
  BpfProgram,
  XdpAction,
  xdpActionName,
  TEST_RUN_LIVE_FRAMES,
  type XdpActionName,
  type TestRunOptions,
  type TestRunResult,
} from './program.js';
export { BpfLink, LinkType } from './link.js';
export {
  attachXdp,
  attachXdpNetlink,
  detachXdpNetlink,
  queryXdp,
  attachTc,
  type XdpMode,
  type XdpAttachOptions,
  type XdpAttachmentInfo,
  type TcDirection,
} from './attach.js';
export * as codec from './codec.js';
export { reasonCounters, SHARED_LAYOUTS, type ReasonCounters } from './layouts.js';
export { readReasonCounters, REASON_MAP_NAME, type ReasonCount } from './reasons.js';
export { describeBtf, layoutMismatches } from './btf-layout.js';
export { NodeDataplane, type NodeDataplaneOptions, type AttachmentStatus, type MapFillStatus } from './node.js';
export { BpfTables } from './tables.js';
export { OverlayTables, type NexthopSink, type OverlayParts } from './overlay-tables.js';
export { type MapHandle } from './pinned-maps.js';
