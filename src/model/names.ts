// How kinds and fields are named in field paths: as in the proto.

import type { ResourceKind } from './types.js';

/** The request field of one resource: CreateFloatingIpRequest.floating_ip, … */
export const SINGULAR: Readonly<Record<ResourceKind, string>> = {
  network: 'network',
  subnet: 'subnet',
  port: 'port',
  router: 'router',
  floatingIp: 'floating_ip',
};

/** The SyncRequest field of a kind. */
export const PLURAL: Readonly<Record<ResourceKind, string>> = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  router: 'routers',
  floatingIp: 'floating_ips',
};

/** How a person reads the kind in a message. */
export const NOUN: Readonly<Record<ResourceKind, string>> = {
  network: 'network',
  subnet: 'subnet',
  port: 'port',
  router: 'router',
  floatingIp: 'floating IP',
};
