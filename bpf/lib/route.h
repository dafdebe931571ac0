/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Distributed east-west routing (packet walk 3, Neutron DVR): a frame a VM
 * addressed to its router's MAC is routed on the node where it entered,
 * wherever the destination is. The decisions, in the order Linux's forwarding
 * path takes them (ip_route_input, ip_forward, neighbour output):
 *
 *   router unknown (not in xdpnet_routers)   -> dropped (ROUTING_NOT_IMPLEMENTED)
 *   router down                              -> dropped
 *   not untagged IPv4                        -> dropped (ARP requests for the
 *                                               router were answered before)
 *   IPv4 options (IHL > 5)                   -> dropped
 *   bad IPv4 header checksum                 -> dropped (RFC 1812 5.2.2)
 *   longest-prefix match of the destination in the router's table:
 *     none                                   -> ICMP net unreachable
 *     external                               -> external_route.h (a floating IP
 *                                               or SNAT out of the gateway node's
 *                                               external NIC; elsewhere tunnelled
 *                                               to the gateway node)
 *     connected: the neighbour is the destination, nexthop: the route's next hop;
 *     its MAC from xdpnet_arp on the route's network;
 *   the destination is the router itself     -> a ping is answered (icmp.h),
 *     (xdpnet_arp gives the router's MAC)       anything else dropped
 *   TTL <= 1                                 -> ICMP time exceeded
 *   destination network unknown or down      -> dropped
 *   larger than its MTU                      -> DF: ICMP fragmentation needed
 *                                               (with the MTU), else dropped
 *   neighbour without ARP or FDB entry       -> dropped, never flooded
 *   neighbour is a router                    -> dropped (not routed twice)
 *   then TTL - 1 (incremental checksum), source MAC := the router's,
 *   destination MAC := the neighbour's, and delivered as the switch delivers
 *   (deliver.h): into a local port, or encapsulated in the destination
 *   network's VNI to the neighbour's VTEP.
 *
 * The router (MAC, admin state) comes from the copy its FDB_ROUTER entry
 * carries, the destination network's state from the copy a local port's FDB
 * entry carries (port_state.h), when they are there, and the route with its
 * neighbour from this CPU's cache of them (route_cache.h): lookups saved,
 * the same decisions.
 *
 * An ICMP error is sent only where RFC 1812 4.3.2.7 allows one (icmp.h); where
 * it does not, the frame is dropped under the DROP_ reason of the same cause.
 * Its source is the router's address on the sender's network
 * (xdpnet_router_ifaces).
 *
 * The frame's pointers (f) are invalid once an ICMP error or the
 * encapsulation has resized the frame: nothing here reads them afterwards.
 */
#ifndef XDPNET_ROUTE_H
#define XDPNET_ROUTE_H

#include "common.h"
#include "csum.h"
#include "deliver.h"
#include "fdb.h"
#include "icmp.h"
#include "mac.h"
#include "overlay_maps.h"
#include "parse.h"
#include "flow_cache.h"
#include "port_frame.h"
#include "port_state.h"
#include "route_cache.h"
#include "router_maps.h"
#include "verdict.h"

#define IP_DF_BIT 0x4000

/*
 * The router of the FDB_ROUTER entry `fdb`: from the entry's copy of it when
 * it has one (into `copy`), which saves the lookup, else xdpnet_routers'
 * entry; NULL when there is none.
 */
static __always_inline const struct router_info *router_of(const struct fdb_entry *fdb, struct router_info *copy)
{
	if (fdb->router_present) {
		mac_copy(copy->mac, fdb->router_mac);
		copy->flags = fdb->router_flags;
		copy->pad = 0;
		return copy;
	}
	return bpf_map_lookup_elem(&xdpnet_routers, fdb->router_id);
}

/* The FDB entry of the neighbour `neigh` (an xdpnet_arp entry of network `vni`): its copy, else looked up; NULL: none. */
static __always_inline const struct fdb_entry *neighbor_fdb(__u32 vni, const struct arp_entry *neigh)
{
	if (neigh->fdb_present)
		return &neigh->fdb;
	return fdb_lookup(vni, neigh->mac);
}

/*
 * What a frame must be before a router looks its destination up: IPv4 on the
 * untagged network (a VLAN tag is a trunk's sub-network; the router's
 * interface is on the untagged one), without options, its header checksum
 * right. 0, or a negative reason.
 */
static __always_inline int routable_ipv4(const struct port_frame *f)
{
	if (!f->ip || f->l2.vlan_count)
		return -REASON_DROP_ROUTED_NOT_IPV4;
	if (f->ip->ihl != 5)
		return -REASON_DROP_IPV4_OPTIONS;
	if (!ipv4_checksum_ok20(f->ip))
		return -REASON_DROP_BAD_IPV4_CHECKSUM;
	return 0;
}

/* TTL - 1, and the header checksum with it (RFC 1624 on the TTL/protocol word). */
static __always_inline void ipv4_decrement_ttl(struct iphdr *ip)
{
	__be16 old;
	__be16 new = ipv4_ttl_decrement(ip, &old);

	csum_replace2(&ip->check, old, new);
}

/*
 * Whether the frame `f` may take what routing decided for its flow (`r`,
 * flow_cache.h) without being routed again: the checks route_frame() makes
 * of the packet itself, passed. A frame that fails one is routed the whole
 * way, for its exact outcome.
 */
static __always_inline bool route_cached_ok(const struct port_frame *f, const struct flow_route *r)
{
	return routable_ipv4(f) == 0 && f->ip->ttl > 1 && f->l3_len <= r->mtu;
}

/* The routed frame as it leaves the router: TTL - 1, from the router's MAC to the neighbour's. */
static __always_inline void route_rewrite(const struct port_frame *f, const struct flow_route *r)
{
	ipv4_decrement_ttl(f->ip);
	mac_copy(f->l2.eth->h_source, r->router_mac);
	mac_copy(f->l2.eth->h_dest, r->neigh_mac);
}

/* The routed (rewritten) frame `f` to the neighbour whose FDB entry of network `vni` is `fdb`. */
static __always_inline outcome_t deliver_routed(struct xdp_md *ctx, const struct port_frame *f, __u32 vni,
						const struct fdb_entry *fdb, const struct underlay_config *ul)
{
	switch (fdb->kind) {
	case FDB_LOCAL:
		/* Back into the sending port too, if that is where the destination is: a router may. */
		return to_local_mac(ctx, fdb, vni, REASON_FWD_ROUTED_LOCAL);
	case FDB_REMOTE:
		return to_remote_mac(ctx, f, vni, fdb, ul, REASON_FWD_ROUTED_ENCAP);
	default:
		return drop(REASON_DROP_UNKNOWN_DESTINATION);
	}
}

/* What a router sends back about a packet it does not forward. */
struct route_error {
	__u8 type;
	__u8 code;
	__u16 mtu;                 /* host: fragmentation needed only */
	enum xdpnet_reason sent;   /* counted when the error is sent */
	enum xdpnet_reason silent; /* counted when none may be sent: the frame is dropped */
};

/*
 * The ICMP error `e` back to the sender on network `in_vni`, from the
 * router's address there; or, where no error may be sent, a drop.
 */
static __always_inline outcome_t route_icmp_error(struct xdp_md *ctx, const struct port_frame *f,
						  const __u8 *router_id, const struct router_info *router,
						  __u32 in_vni, const struct route_error e)
{
	struct router_iface_key key = { .vni = in_vni };
	struct router_iface *iface;
	int ret;

	if (!icmp_error_allowed(f->ip, (void *)(long)ctx->data_end))
		return drop(e.silent);
	__builtin_memcpy(key.router_id, router_id, ROUTER_ID_LEN);
	iface = bpf_map_lookup_elem(&xdpnet_router_ifaces, &key);
	if (!iface)
		return drop(e.silent);
	ret = icmp_send_error(ctx, e.type, e.code, e.mtu, iface->ip, router->mac);
	if (ret < 0)
		return drop_from(ret);
	return outcome(XDP_TX, e.sent);
}

/* A packet to one of the router's own addresses: only pings are answered. */
static __always_inline outcome_t to_router(struct xdp_md *ctx, const struct port_frame *f,
					   const struct router_info *router)
{
	struct iphdr *ip = f->ip;
	struct icmp_hdr *icmp = (void *)(ip + 1);

	if (ip->protocol != IPPROTO_ICMP || ipv4_is_fragment(ip) || !ipv4_is_single_host(ip->saddr))
		return drop(REASON_DROP_TO_ROUTER);
	/* Verifier: parse_l4 checked the ICMP header on its own copy of the pointer. */
	if ((void *)(icmp + 1) > (void *)(long)ctx->data_end)
		return drop(REASON_DROP_TRUNCATED_L4);
	if (icmp->type != ICMP_ECHO)
		return drop(REASON_DROP_TO_ROUTER);
	icmp_echo_reply(f->l2.eth, ip, icmp, router->mac);
	return outcome(XDP_TX, REASON_FWD_ICMP_ECHO_REPLY);
}

/* A route through the external gateway: external_route.h, included at the end of this file. */
static __always_inline outcome_t route_external(struct xdp_md *ctx, struct port_frame *f, __u32 in_vni,
						const __u8 *router_id, const struct fdb_entry *router_fdb,
						const struct router_info *router, const struct route_entry *route,
						const struct underlay_config *ul, __u64 stamp,
						struct flow_cache_slot *flow);

/*
 * Routes the frame `f` (parsed, from a port of network `in_vni`, its
 * destination MAC the router's: `flow`'s FDB part is its FDB_ROUTER entry).
 * `ul` is this node's underlay, for a destination behind another VTEP.
 * Where the frame is delivered, `flow` keeps what routing decided, for the
 * flow's next frames (flow_cache.h).
 *
 * Out of line (a BPF-to-BPF call): routed frames are the rarer kind, and
 * inlined, this function (ICMP errors, SNAT, its own encapsulation) made
 * xdp_port's main function three times the size of its switched path, with
 * the register spills that come with it. Out of line, the switched and
 * encapsulated frames run through a third of the code, a few ns faster
 * (129 -> 123 ns per encapsulated frame in BPF_PROG_RUN), and a routed frame
 * pays one call.
 */
static __out_of_line outcome_t route_frame(struct xdp_md *ctx, struct port_frame *f, __u32 in_vni,
					    struct flow_cache_slot *flow, const struct underlay_config *ul)
{
	const struct fdb_entry *router_fdb = &flow->fdb;
	const __u8 *router_id = router_fdb->router_id;
	__u64 stamp = flow->stamp; /* the frame's (xdp_port's), for the route's and the floating IP's cached lookups */
	const struct router_info *router;
	struct router_info router_copy;
	struct route_entry *route;
	struct port_network net;
	struct local_port lp;
	struct arp_entry *neigh;
	const struct fdb_entry *fdb = NULL;
	struct iphdr *ip = f->ip;
	__u32 vni;
	int ret;

	router = router_of(router_fdb, &router_copy);
	if (!router)
		return drop(REASON_DROP_ROUTING_NOT_IMPLEMENTED);
	if (!(router->flags & ROUTER_F_ADMIN_UP))
		return drop(REASON_DROP_ROUTER_DOWN);
	ret = routable_ipv4(f);
	if (ret < 0)
		return drop_from(ret);

	route = route_and_neighbor(router_id, ip->daddr, stamp, &neigh);
	if (!route) {
		return route_icmp_error(ctx, f, router_id, router, in_vni,
					(struct route_error){ ICMP_DEST_UNREACH, ICMP_NET_UNREACH, 0,
							      REASON_FWD_ICMP_NET_UNREACHABLE, REASON_DROP_NO_ROUTE });
	}
	switch (route->kind) {
	case ROUTE_CONNECTED:
	case ROUTE_NEXTHOP:
		break; /* `neigh` is the destination's, or the next hop's */
	case ROUTE_EXTERNAL:
		return route_external(ctx, f, in_vni, router_id, router_fdb, router, route, ul, stamp, flow);
	default:
		return drop(REASON_DROP_NO_ROUTE); /* a kind this program does not know routes nowhere */
	}
	vni = route->vni;

	if (neigh && mac_equal(neigh->mac, router->mac)) {
		/* The router's own address (its interfaces' IPs map to its MAC), before the TTL, as Linux. */
		if (route->kind == ROUTE_CONNECTED)
			return to_router(ctx, f, router);
		return drop(REASON_DROP_NEXTHOP_IS_ROUTER);
	}

	if (ip->ttl <= 1) {
		return route_icmp_error(ctx, f, router_id, router, in_vni,
					(struct route_error){ ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0,
							      REASON_FWD_ICMP_TIME_EXCEEDED, REASON_DROP_TTL_EXCEEDED });
	}

	/*
	 * The neighbour's FDB entry now, its verdict below in Linux's order: a
	 * local port's entry carries its network's state (port_state.h), which
	 * saves the lookup of the network.
	 */
	if (neigh)
		fdb = neighbor_fdb(vni, neigh);
	if (fdb && fdb->kind == FDB_LOCAL && local_port_of(fdb, vni, &lp) == 0)
		ret = port_network_of(vni, lp.net_flags, lp.net_mtu, &net);
	else
		ret = port_network_of(vni, 0, 0, &net);
	if (ret < 0)
		return drop_from(ret);
	if (!net.up)
		return drop(REASON_DROP_NETWORK_DOWN);
	if (f->l3_len > net.mtu) {
		/* XDP cannot fragment: with DF the sender learns the MTU (RFC 1191), without it the packet is lost. */
		if (!(ip->frag_off & bpf_htons(IP_DF_BIT)))
			return drop(REASON_DROP_EXCEEDS_NETWORK_MTU);
		return route_icmp_error(ctx, f, router_id, router, in_vni,
					(struct route_error){ ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, (__u16)net.mtu,
							      REASON_FWD_ICMP_FRAG_NEEDED,
							      REASON_DROP_EXCEEDS_NETWORK_MTU });
	}

	if (!neigh || !fdb)
		return drop(REASON_DROP_NO_NEIGHBOR);
	if (fdb->kind == FDB_ROUTER)
		return drop(REASON_DROP_NEXTHOP_IS_ROUTER);

	/* Decided: kept for the flow's next frames, and this one delivered from the same copy. */
	flow->route.fdb = *fdb;
	flow->route.vni = vni;
	flow->route.mtu = net.mtu;
	mac_copy(flow->route.router_mac, router->mac);
	mac_copy(flow->route.neigh_mac, neigh->mac);
	flow->routed = FLOW_ROUTED;
	route_rewrite(f, &flow->route);
	return deliver_routed(ctx, f, vni, &flow->route.fdb, ul);
}

/* Last: it uses the helpers above (route_icmp_error, to_router). */
#include "external_route.h"

#endif /* XDPNET_ROUTE_H */
