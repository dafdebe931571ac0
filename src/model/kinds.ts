// The per-kind steps every write goes through, dispatched by kind:
// normalise (self-contained canonical form and defaults), resolve (defaults
// that depend on other resources), check (every rule against an index).

import {
  normalizeFloatingIp,
  normalizeNetwork,
  normalizePort,
  normalizeRouter,
  normalizeSubnet,
  resolveFloatingIpDefaults,
  resolveInterfaceIp,
} from './normalize.js';
import type { ResourceIndex } from './resource-index.js';
import type { ResourceByKind, ResourceKind, Router } from './types.js';
import { checkFloatingIp, checkNetwork, checkPort, checkRouter, checkSubnet } from './validate.js';

const NORMALIZE: { [X in ResourceKind]: (r: ResourceByKind[X], p: string) => ResourceByKind[X] } = {
  network: normalizeNetwork,
  subnet: normalizeSubnet,
  port: normalizePort,
  router: normalizeRouter,
  floatingIp: normalizeFloatingIp,
};

/** Canonical form and self-contained defaults (see normalize.ts). */
export function normalizeKind<K extends ResourceKind>(kind: K, input: ResourceByKind[K], p: string): ResourceByKind[K] {
  return (NORMALIZE[kind] as (r: ResourceByKind[K], p: string) => ResourceByKind[K])(input, p);
}

/** Defaults that depend on other resources: router interface IPs, a floating IP's fixed IP. */
export function resolveKind<K extends ResourceKind>(index: ResourceIndex, kind: K, r: ResourceByKind[K], p: string): ResourceByKind[K] {
  if (kind === 'router') {
    const router = r as Router;
    if (router.interfaces.every((i) => i.ipAddress !== '')) return r;
    const interfaces = router.interfaces.map((iface, i) =>
      resolveInterfaceIp(index, iface, `${p}.interfaces[${i}].subnet_id`, `${p}.interfaces[${i}].ip_address`),
    );
    return { ...router, interfaces } as ResourceByKind[K];
  }
  if (kind === 'floatingIp') return resolveFloatingIpDefaults(index, r as ResourceByKind['floatingIp'], p) as ResourceByKind[K];
  return r;
}

/** Every rule for one resource against `index`; `previous` is the stored version on update. */
export function checkKind<K extends ResourceKind>(
  index: ResourceIndex,
  kind: K,
  r: ResourceByKind[K],
  p: string,
  previous?: ResourceByKind[K],
): void {
  switch (kind) {
    case 'network':
      return checkNetwork(index, r as ResourceByKind['network'], p, previous as ResourceByKind['network'] | undefined);
    case 'subnet':
      return checkSubnet(index, r as ResourceByKind['subnet'], p);
    case 'port':
      return checkPort(index, r as ResourceByKind['port'], p, previous as ResourceByKind['port'] | undefined);
    case 'router':
      return checkRouter(index, r as Router, p);
    case 'floatingIp':
      return checkFloatingIp(index, r as ResourceByKind['floatingIp'], p);
  }
}

