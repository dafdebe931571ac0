// Facts derived from the desired state, never stored.

import type { ResourceIndex } from './resource-index.js';
import type { FloatingIp, Router } from './types.js';

/**
 * The router that carries a floating IP: the one with an interface on the
 * subnet of the mapped fixed IP and its external gateway on the floating
 * network. null when the floating IP is not associated or nothing connects
 * them (validation refuses the latter, so for a stored floating IP it means
 * "not associated"). A subnet has at most one router, so the answer is unique.
 */
export function routerForFloatingIp(index: ResourceIndex, fip: FloatingIp): Router | null {
  if (fip.portId === null || fip.fixedIpAddress === null) return null;
  const port = index.get('port', fip.portId);
  const fixed = port?.fixedIps.find((f) => f.ipAddress === fip.fixedIpAddress);
  if (!fixed) return null;
  const routerId = index.routerOnSubnet(fixed.subnetId);
  const router = routerId === undefined ? undefined : index.get('router', routerId);
  if (!router || router.externalGateway?.networkId !== fip.floatingNetworkId) return null;
  return router;
}
