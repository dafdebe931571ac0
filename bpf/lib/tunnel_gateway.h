/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tunnel from compute nodes to a router's gateway node (packet walk 4),
 * the gateway node's side: xdp_underlay hands over a VXLAN frame whose inner
 * destination MAC is a router's (FDB_ROUTER on its VNI).
 *
 * The compute node's side is one line in external_route.h: a frame whose
 * route is the router's external route, on a node that is not the router's
 * gateway node, is VXLAN-encapsulated in the network's own VNI to the
 * gateway node's VTEP (the route's gateway_vtep), unrouted: the frame as the
 * VM sent it, to the router's MAC, TTL untouched (REASON_FWD_EXTERNAL_TUNNEL).
 * Why unrouted: what comes after the route (SNAT's connections, the floating
 * IPs, the external NIC and its neighbours, the external MTU) is the gateway
 * node's alone, and routing there once keeps one TTL decrement and one place
 * that sends the ICMP errors about it. The frame keeps the VM's MAC as its
 * source, which SNAT records for the way back; it is what a port of the
 * gateway node on that network would have sent.
 *
 * Here, in route.h's order:
 *   router unknown or down                      -> as route.h, still encapsulated
 *   decapsulated, then the inner frame validated as a port's (parse.h)
 *   not untagged IPv4, IPv4 options, bad IPv4
 *   header checksum, no route (ICMP net
 *   unreachable)                                -> as route.h
 *   a route other than an external route
 *   through this node                           -> dropped (TUNNEL_NOT_GATEWAY): a
 *                                                  tunnelled frame is never routed to
 *                                                  the tenant side (its sender routes
 *                                                  that itself) nor tunnelled on (two
 *                                                  nodes that disagree about the gateway
 *                                                  would pass it back and forth)
 *   then route_external() (external_route.h): SNAT or floating IP and out of
 *   the external NIC, or a hairpin inward (external_hairpin.h).
 *
 * What the router sends back instead (an ICMP error, the echo reply to a
 * ping to its gateway IP) is a frame to the sender's MAC that would leave
 * with XDP_TX, out of the underlay bare: it goes where the FDB says that MAC
 * lives (encapsulated back to the compute node, or into a local port), still
 * counted under the reason the router gave it.
 */
#ifndef XDPNET_TUNNEL_GATEWAY_H
#define XDPNET_TUNNEL_GATEWAY_H

#include "common.h"
#include "csum.h"
#include "deliver.h"
#include "encap.h"
#include "fdb.h"
#include "parse.h"
#include "port_frame.h"
#include "route.h"
#include "router_maps.h"
#include "verdict.h"

/*
 * route.h's route_frame() for a frame that came through the tunnel, after
 * its router (known and up: tunnel_gateway_rx): the same checks, external
 * routes only.
 */
static __always_inline outcome_t route_tunnelled(struct xdp_md *ctx, struct port_frame *f, __u32 vni,
						 const __u8 *router_id, const struct router_info *router,
						 const struct underlay_config *ul)
{
	struct route_entry *route;
	int ret;

	ret = routable_ipv4(f);
	if (ret < 0)
		return drop_from(ret);

	route = route_lookup(router_id, f->ip->daddr);
	if (!route) {
		return route_icmp_error(ctx, f, router_id, router, vni,
					(struct route_error){ ICMP_DEST_UNREACH, ICMP_NET_UNREACH, 0,
							      REASON_FWD_ICMP_NET_UNREACHABLE, REASON_DROP_NO_ROUTE });
	}
	if (route->kind != ROUTE_EXTERNAL || !(route->flags & ROUTE_F_GATEWAY_LOCAL))
		return drop(REASON_DROP_TUNNEL_NOT_GATEWAY);
	return route_external(ctx, f, vni, router_id, NULL, router, route, ul, cache_stamp(), NULL);
}

/*
 * The frame the router built back to the sender (XDP_TX in route.h's terms)
 * goes to where the sender's MAC lives on `vni`, counted under `reason`.
 */
static __always_inline outcome_t tunnel_back(struct xdp_md *ctx, __u32 vni, const struct underlay_config *ul,
					     enum xdpnet_reason reason)
{
	struct hdr_cursor cursor;
	struct fdb_entry *fdb;
	struct port_frame f;
	int ret;

	/* The router built it: parsed for the flow hash and length the encapsulation needs. */
	cursor_init(&cursor, ctx);
	ret = parse_port_frame(&cursor, &f);
	if (ret < 0)
		return drop_from(ret);
	fdb = fdb_lookup(vni, f.l2.eth->h_dest);
	if (!fdb)
		return drop(REASON_DROP_UNKNOWN_DESTINATION);
	switch (fdb->kind) {
	case FDB_LOCAL:
		return to_local_mac(ctx, fdb, vni, reason);
	case FDB_REMOTE:
		return to_remote_mac(ctx, &f, vni, fdb, ul, reason);
	default:
		return drop(REASON_DROP_UNKNOWN_DESTINATION);
	}
}

/*
 * The VXLAN frame in ctx, whose inner Ethernet header starts `strip` bytes
 * in and whose datagram ends `trim` bytes before the frame does, carries a
 * frame of network `vni` to the router `router_id`: decapsulated and routed.
 * Every packet pointer the caller holds is invalid afterwards.
 */
static __always_inline outcome_t tunnel_gateway_rx(struct xdp_md *ctx, __u32 strip, __u32 trim, __u32 vni,
						   const __u8 *router_id, const struct underlay_config *ul)
{
	struct router_info *router;
	struct hdr_cursor cursor;
	struct port_frame f;
	outcome_t result;
	int ret;

	/* Before the decapsulation, which a frame dropped here is spared (and counted at its length as it came). */
	router = bpf_map_lookup_elem(&xdpnet_routers, router_id);
	if (!router)
		return drop(REASON_DROP_ROUTING_NOT_IMPLEMENTED);
	if (!(router->flags & ROUTER_F_ADMIN_UP))
		return drop(REASON_DROP_ROUTER_DOWN);
	ret = xdp_vxlan_decap(ctx, strip, trim);
	if (ret < 0)
		return drop_from(ret);
	cursor_init(&cursor, ctx);
	ret = parse_port_frame(&cursor, &f);
	if (ret < 0)
		return drop_from(ret);
	result = route_tunnelled(ctx, &f, vni, router_id, router, ul);
	if (outcome_action(result) != XDP_TX)
		return result;
	return tunnel_back(ctx, vni, ul, (enum xdpnet_reason)outcome_reason(result));
}

#endif /* XDPNET_TUNNEL_GATEWAY_H */
