// PENDING-FEATURE: SNAT (a router's external gateway) and floating IPs are
// being implemented right now. Until they are in the dataplane, the daemon
// reports every router with an external gateway, and every associated
// floating IP, as ERROR with the code UNIMPLEMENTED (it still routes between
// the router's own subnets). The demo programs both exactly as it will once
// they work, and asks this module, by the resource's own status, whether to
// run their traffic steps or to say honestly that they are not there yet.
//
// The status is the resource's own on each node, so a feature that lands in
// parts is handled too: e.g. SNAT working on the gateway node while compute
// nodes cannot tunnel to it yet still reports UNIMPLEMENTED on the compute
// nodes, and the step stays skipped until every node can carry it.
//
// Once both features have landed: grep PENDING-FEATURE in src/demo/ and
// delete this file and the marked code (programming.ts: waitConverged's
// exception; main.ts: the list of what is not implemented; traffic.ts: the
// skip block at the top of the SNAT and floating IP steps, notImplementedOn,
// Step.skip, StepResult.skipped). Nothing else changes: the steps' traffic
// code is already the real one.

import type * as pb from '../gen/proto/xdpnet/v1/index.js';
import { statusText } from '../cli/display.js';

/**
 * If `status` says the dataplane does not implement the resource yet
 * (ERROR, UNIMPLEMENTED), why, in the daemon's words; else undefined. Any
 * other ERROR is a real failure, never a reason to skip.
 */
export function notImplementedYet(status: pb.ResourceStatus__Output | null | undefined): string | undefined {
  return status?.state === 'RESOURCE_STATE_ERROR' && status.code === 'UNIMPLEMENTED' ? statusText(status) : undefined;
}
