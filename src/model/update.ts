// Update masks: which proto fields of each kind may change, and merging the
// named fields of a patch onto the stored resource. The merged resource is
// then normalised and validated like any other (plan.ts).

import { NOUN, SINGULAR } from './names.js';
import { invalid } from './reject.js';
import { parseUuid } from './syntax.js';
import type { FloatingIp, Network, Port, ResourceByKind, ResourceKind, Router, Subnet } from './types.js';

type Merge<T> = (target: T, patch: T) => void;

const NETWORK: Record<string, Merge<Network>> = {
  name: (t, p) => void (t.name = p.name),
  admin_state_up: (t, p) => void (t.adminStateUp = p.adminStateUp),
  mtu: (t, p) => void (t.mtu = p.mtu),
  external: (t, p) => void (t.external = p.external),
};

const SUBNET: Record<string, Merge<Subnet>> = {
  name: (t, p) => void (t.name = p.name),
  // Both map onto gatewayIp: "" is the default (first host), null is no gateway.
  gateway_ip: (t, p) => void (t.gatewayIp = p.gatewayIp),
  no_gateway: (t, p) => void (t.gatewayIp = p.gatewayIp),
  enable_dhcp: (t, p) => void (t.enableDhcp = p.enableDhcp),
  dns_nameservers: (t, p) => void (t.dnsNameservers = p.dnsNameservers),
  host_routes: (t, p) => void (t.hostRoutes = p.hostRoutes),
};

const PORT: Record<string, Merge<Port>> = {
  name: (t, p) => void (t.name = p.name),
  mac_address: (t, p) => void (t.macAddress = p.macAddress),
  fixed_ips: (t, p) => void (t.fixedIps = p.fixedIps),
  binding: (t, p) => void (t.binding = p.binding),
  port_security_enabled: (t, p) => void (t.portSecurityEnabled = p.portSecurityEnabled),
  allowed_address_pairs: (t, p) => void (t.allowedAddressPairs = p.allowedAddressPairs),
  security_group_ids: (t, p) => void (t.securityGroupIds = p.securityGroupIds),
  device_owner: (t, p) => void (t.deviceOwner = p.deviceOwner),
  admin_state_up: (t, p) => void (t.adminStateUp = p.adminStateUp),
};

const ROUTER: Record<string, Merge<Router>> = {
  name: (t, p) => void (t.name = p.name),
  routes: (t, p) => void (t.routes = p.routes),
  admin_state_up: (t, p) => void (t.adminStateUp = p.adminStateUp),
};

const FLOATING_IP: Record<string, Merge<FloatingIp>> = {
  port_id: (t, p) => void (t.portId = p.portId === '' ? null : p.portId),
  fixed_ip_address: (t, p) => void (t.fixedIpAddress = p.fixedIpAddress === '' ? null : p.fixedIpAddress),
};

const UPDATABLE: { [K in ResourceKind]: Record<string, Merge<ResourceByKind[K]>> } = {
  network: NETWORK,
  subnet: SUBNET,
  port: PORT,
  router: ROUTER,
  floatingIp: FLOATING_IP,
};

/** Proto fields that exist but may not change, with what to do instead where there is something. */
const FIXED: { [K in ResourceKind]: Record<string, string> } = {
  network: { id: '', type: '', segmentation_id: '', physical_network: '', revision: ' (output only)', status: ' (output only)' },
  subnet: { id: '', network_id: '', cidr: '', revision: ' (output only)', status: ' (output only)' },
  port: {
    id: '',
    network_id: '',
    local: '; name "binding" to change the binding',
    remote: '; name "binding" to change the binding',
    revision: ' (output only)',
    status: ' (output only)',
  },
  router: {
    id: '',
    interfaces: '; use AddRouterInterface / RemoveRouterInterface',
    external_gateway: '; use SetRouterGateway / ClearRouterGateway',
    revision: ' (output only)',
    status: ' (output only)',
  },
  floatingIp: {
    id: '',
    floating_network_id: '',
    floating_ip_address: '',
    router_id: ' (output only: derived)',
    revision: ' (output only)',
    status: ' (output only)',
  },
};

export function updatableFields(kind: ResourceKind): string[] {
  return Object.keys(UPDATABLE[kind]);
}

/** Refuses an empty mask, unknown fields and fields that may not change (INVALID_ARGUMENT, field "update_mask"). */
export function checkMask(kind: ResourceKind, mask: readonly string[]): void {
  if (!Array.isArray(mask) || mask.length === 0) {
    throw invalid('update_mask', `is empty: name the fields to change (updatable for a ${NOUN[kind]}: ${updatableFields(kind).join(', ')})`);
  }
  for (const field of mask) {
    if (typeof field === 'string' && Object.prototype.hasOwnProperty.call(UPDATABLE[kind], field)) continue;
    const fixed = typeof field === 'string' && Object.prototype.hasOwnProperty.call(FIXED[kind], field) ? FIXED[kind][field] : undefined;
    const list = updatableFields(kind).join(', ');
    throw invalid(
      'update_mask',
      fixed !== undefined
        ? `"${field}" of a ${NOUN[kind]} cannot be changed${fixed} (updatable: ${list})`
        : `"${String(field)}" is not a field of ${SINGULAR[kind]} (updatable: ${list})`,
    );
  }
}

/**
 * The stored resource with the masked fields taken from the patch (shallow:
 * the result shares unchanged values with `current`, which is never changed).
 * The patch's id, if given, must name the resource being updated.
 */
export function mergeMasked<K extends ResourceKind>(
  kind: K,
  current: ResourceByKind[K],
  patch: ResourceByKind[K],
  mask: readonly string[],
): ResourceByKind[K] {
  checkMask(kind, mask);
  const p = SINGULAR[kind];
  if (typeof patch !== 'object' || patch === null) throw invalid(p, 'is required');
  const patchId = (patch as { id?: unknown }).id;
  if (patchId !== undefined && patchId !== '') {
    const parsed = parseUuid(patchId);
    if (!parsed.ok) throw invalid(`${p}.id`, parsed.reason);
    if (parsed.value !== current.id) throw invalid(`${p}.id`, `${parsed.value} does not match the resource being updated (${current.id})`);
  }
  const target = { ...current } as ResourceByKind[K];
  const merges = UPDATABLE[kind] as Record<string, Merge<ResourceByKind[K]>>;
  for (const field of new Set(mask)) merges[field]!(target, patch);
  if (kind === 'floatingIp') {
    // A new port without a named fixed IP maps to that port's first fixed IP again.
    const t = target as FloatingIp;
    const c = current as FloatingIp;
    if (mask.includes('port_id') && !mask.includes('fixed_ip_address') && t.portId !== c.portId) t.fixedIpAddress = null;
  }
  return target;
}
