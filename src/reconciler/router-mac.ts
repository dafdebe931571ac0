// A router's MAC address, derived from its id so that every node computes the
// same one without coordination (distributed routing: the router "is" on every
// node, and a frame routed on one node must carry the same source MAC as one
// routed on another).
//
// fa:16:3f:xx:xx:xx where xx:xx:xx are the first three bytes of SHA-256(id).
// 0xfa has the locally-administered bit set and the multicast bit clear.
// Neutron allocates port MACs from fa:16:3e by default, so the 3f prefix keeps
// router MACs apart from Neutron-assigned port MACs.
//
// 24 bits of hash: two routers get the same MAC with probability about
// n²/2^25 for n routers. That only matters when both have an interface on the
// same network (the FDB key is (VNI, MAC)); render reports such a clash as
// ALREADY_EXISTS on the second router rather than overwriting the first.

import { createHash } from 'node:crypto';

export const ROUTER_MAC_PREFIX = 'fa:16:3f';

export function routerMac(routerId: string): string {
  const digest = createHash('sha256').update(routerId).digest();
  const tail = [digest[0], digest[1], digest[2]].map((b) => (b ?? 0).toString(16).padStart(2, '0'));
  return `${ROUTER_MAC_PREFIX}:${tail.join(':')}`;
}
