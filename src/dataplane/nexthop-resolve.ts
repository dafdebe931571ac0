// The decisions of underlay next-hop resolution, without any I/O: given what
// the kernel said (the route to a VTEP, the neighbour entry of its next hop)
// and the underlay interface, what goes into xdpnet_nexthops, or why nothing.
//
// Rules:
// - The route is the kernel's own answer (`ip route get VTEP`), so policy
//   rules, longest prefix match and ECMP are the kernel's. It must be a
//   unicast route out of the underlay interface: the XDP program redirects
//   encapsulated frames there and nowhere else. Anything else gets no entry
//   (the program then drops with REASON_DROP_NO_UNDERLAY_NEXTHOP) and a reason.
// - The next hop is the route's gateway, or the VTEP itself when on-link.
// - Its MAC is used while the kernel itself would use it (NUD_VALID:
//   reachable, stale, delay, probe, permanent, noarp). An incomplete, failed
//   or absent entry gives no entry: like the kernel, we do not send to an
//   address we could not confirm, and the drop is counted instead of going
//   silently to a dead MAC.

import type { NeighborEntry } from './netlink-neighbor.js';
import type { RouteLookup } from './rtnetlink.js';
import type { VtepNexthop } from './layouts.js';

export interface UnderlayLink {
  name: string;
  index: number;
  mac: string | undefined;
}

/** Where the VTEP's packets go, or why they cannot go through the underlay. */
export type RouteDecision =
  | { ok: true; neighbor: string; gateway: string | null }
  | { ok: false; reason: string; warn: boolean };

/** The kernel's routing errors (see RtNetlink.routeTo), as reasons. */
const ROUTE_ERRORS: Record<string, string> = {
  ENETUNREACH: 'no route to the VTEP',
  EHOSTUNREACH: 'the route to the VTEP is unreachable',
  EACCES: 'the route to the VTEP is prohibited',
  EINVAL: 'the route to the VTEP is a blackhole',
};

/** A failed route lookup (`code` from NetlinkError) as a decision. */
export function routeError(code: string): RouteDecision {
  return { ok: false, reason: ROUTE_ERRORS[code] ?? `route lookup failed (${code})`, warn: true };
}

/**
 * A route lookup answer as a decision. `ifName` names an interface index for
 * the reason (undefined if unknown).
 */
export function decideRoute(
  vtep: string,
  route: RouteLookup,
  underlay: UnderlayLink | undefined,
  ifName: (index: number) => string | undefined,
): RouteDecision {
  if (route.type === 'LOCAL') return { ok: false, reason: `${vtep} is an address of this host`, warn: true };
  if (route.type !== 'UNICAST') return { ok: false, reason: `the route to the VTEP is of type ${route.type}`, warn: true };
  if (route.foreignGateway) return { ok: false, reason: 'the route to the VTEP has a non-IPv4 next hop', warn: true };
  if (!underlay) return { ok: false, reason: 'the underlay interface does not exist', warn: true };
  if (route.ifindex !== underlay.index) {
    const name = route.ifindex === undefined ? undefined : ifName(route.ifindex);
    const where = route.ifindex === undefined ? 'no interface' : `${name ?? '?'} (ifindex ${route.ifindex})`;
    return {
      ok: false,
      reason: `the route to the VTEP leaves through ${where}, not the underlay ${underlay.name} (ifindex ${underlay.index})`,
      warn: true,
    };
  }
  const gateway = route.gateway ?? null;
  return { ok: true, neighbor: gateway ?? vtep, gateway };
}

export type ValueDecision = { ok: true; value: VtepNexthop } | { ok: false; reason: string };

/** The map value for a VTEP whose route is `route`, given its next hop's neighbour entry. */
export function decideValue(underlay: UnderlayLink, route: { neighbor: string }, entry: NeighborEntry | undefined): ValueDecision {
  if (underlay.mac === undefined || underlay.mac === '00:00:00:00:00:00')
    return { ok: false, reason: `the underlay ${underlay.name} has no MAC address` };
  const who = `the neighbour ${route.neighbor} on ${underlay.name}`;
  if (!entry) return { ok: false, reason: `${who} is not resolved yet` };
  if (!entry.valid || entry.mac === undefined) {
    const state = entry.state.length > 0 ? entry.state.join(',') : 'none';
    return { ok: false, reason: `${who} is ${state}` };
  }
  return { ok: true, value: { dst_mac: entry.mac, src_mac: underlay.mac, ifindex: underlay.index } };
}
