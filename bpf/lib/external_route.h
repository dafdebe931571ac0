/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A routed packet whose route goes out through the router's external
 * gateway (ROUTE_EXTERNAL, route.h), packet walk 4. route.h calls
 * route_external() once the router, the IPv4 header and the route are
 * known; the decisions, in Linux's order as in route.h:
 *
 *   not this node's router gateway         -> VXLAN-encapsulated unrouted, in the
 *                                             network's VNI, to the gateway node
 *                                             (EXTERNAL_TUNNEL; tunnel_gateway.h says
 *                                             why), which routes it from here on
 *   no local external side in xdpnet_snat  -> dropped (NO_EXTERNAL_SIDE: the daemon could
 *                                             not set it up here, the router's status
 *                                             says why, or has not yet)
 *   external network not flat              -> dropped (EXTERNAL_NETWORK_TYPE)
 *   to the router's own external IP        -> a ping is answered (route.h's to_router);
 *                                             from a floating IP, anything else goes
 *                                             on (a hairpinned SNAT connection's answer)
 *   TTL <= 1                               -> ICMP time exceeded
 *   larger than the external MTU           -> DF: ICMP fragmentation needed, else dropped
 *   on-link to an address this node holds
 *   on the same NIC (a floating IP, a
 *   router's gateway IP)                   -> hairpin: translated both ways and delivered
 *                                             inward (external_hairpin.h)
 *   SNAT disabled and the source without
 *   a floating IP                          -> dropped (SNAT_DISABLED)
 *   next hop (route's, or the destination
 *   on-link) without MACs                  -> dropped (NO_EXTERNAL_NEIGHBOR), the miss
 *                                             recorded for the daemon (xdpnet_ext_nh_miss)
 *   the source's floating IP (xdpnet_fip_out; fip.h: source := the floating
 *   IP, 1:1) or else SNAT (snat.h: source := external IP and port), TTL - 1,
 *   MACs := the next hop's, and out of the external NIC (xdpnet_tx_ports).
 *
 * The router's external side and its external subnet's gateway's MACs come
 * from the copies the router's FDB entry carries (overlay_maps.h) when it
 * has them, which saves two lookups per packet; else from xdpnet_snat and
 * xdpnet_ext_nexthops, with the same decisions.
 *
 * route.h includes this header at its end: it uses route.h's helpers, and
 * route.h's route_frame() calls route_external().
 */
#ifndef XDPNET_EXTERNAL_ROUTE_H
#define XDPNET_EXTERNAL_ROUTE_H

#include "common.h"
#include "conntrack.h"
#include "deliver.h"
#include "external_cache.h"
#include "external_hairpin.h"
#include "fip.h"
#include "mac.h"
#include "route.h"
#include "snat.h"
#include "snat_maps.h"
#include "verdict.h"

/*
 * The MACs to send to `ip` out of `ifindex`, or NULL; a miss is recorded in
 * xdpnet_ext_nh_miss (at most once a second per next hop) for the daemon.
 */
static __always_inline struct ext_nexthop *ext_nexthop_lookup(__u32 ifindex, __be32 ip)
{
	struct ext_nexthop_key key = { .ifindex = ifindex, .ip = ip };
	struct ext_nexthop *nh;
	__u64 now, *missed;

	nh = bpf_map_lookup_elem(&xdpnet_ext_nexthops, &key);
	if (nh)
		return nh;
	now = nat_now();
	missed = bpf_map_lookup_elem(&xdpnet_ext_nh_miss, &key);
	if (!missed || now - *missed > NAT_REFRESH_NS)
		bpf_map_update_elem(&xdpnet_ext_nh_miss, &key, &now, BPF_ANY);
	return NULL;
}

/*
 * The external side of router `router_id` (into `side`): the copy its
 * FDB_ROUTER entry `fdb` carries when there is one, which saves the lookup,
 * else xdpnet_snat's entry. `fdb` may be NULL (none at hand). Returns false
 * when there is none.
 */
static __always_inline bool snat_side_of(const __u8 *router_id, const struct fdb_entry *fdb, struct snat_side *side)
{
	struct snat_info *snat;

	if (fdb && fdb->snat_present) {
		side->external_ip = fdb->snat_external_ip;
		side->ifindex = fdb->snat_ifindex;
		side->mtu = fdb->snat_mtu;
		side->flags = fdb->snat_flags;
		side->network_type = fdb->snat_network_type;
		return true;
	}
	snat = bpf_map_lookup_elem(&xdpnet_snat, router_id);
	if (!snat)
		return false;
	side->external_ip = snat->external_ip;
	side->ifindex = snat->ifindex;
	side->mtu = snat->mtu;
	side->flags = snat->flags;
	side->network_type = snat->network_type;
	return true;
}

/*
 * Whether the frame `f` may take what routing decided for its flow out of
 * the external NIC (`x`, flow_cache.h) without being routed again: as
 * route_cached_ok (route.h), against the external network's MTU.
 */
static __always_inline bool external_cached_ok(const struct port_frame *f, const struct flow_external *x)
{
	return routable_ipv4(f) == 0 && f->ip->ttl > 1 && f->l3_len <= x->mtu;
}

/*
 * The frame `f` (from network `in_vni`) out of the external NIC as `x`
 * says: its source translated (the floating IP, 1:1, or SNAT), TTL - 1,
 * the next hop's MACs. Every packet pointer is invalid afterwards.
 */
static __always_inline outcome_t external_out(struct xdp_md *ctx, const struct port_frame *f, __u32 in_vni,
					      const struct flow_external *x)
{
	struct iphdr *ip = f->ip;
	int ret;

	if (x->has_fip)
		ret = fip_egress(ip, (void *)(long)ctx->data_end, &x->fip);
	else /* The source MAC is what the VM sent from: the reply goes back to it. */
		ret = snat_egress(ctx, ip, in_vni, f->l2.eth->h_source, x->external_ip);
	if (ret < 0)
		return drop_from(ret);
	mac_copy(f->l2.eth->h_dest, x->nh_dst);
	mac_copy(f->l2.eth->h_source, x->nh_src);
	if (x->has_fip)
		return redirect_to(x->ifindex, REASON_FWD_FIP_OUT);
	return redirect_to(x->ifindex, ret ? REASON_FWD_SNAT_NEW : REASON_FWD_SNAT);
}

/*
 * external_out() for a flow's next frames, from xdp_port's main function.
 * Out of line: inlined there, the translation's stack (connection keys, the
 * ports it tries) would add to the main function's, which route_frame()'s
 * own comes on top of, over BPF's 512 bytes.
 */
static __out_of_line outcome_t external_flow_out(struct xdp_md *ctx, const struct port_frame *f, __u32 in_vni,
						 const struct flow_external *x)
{
	return external_out(ctx, f, in_vni, x);
}

/*
 * Routes the frame `f` (from network `in_vni`, checked by route_frame up to
 * its route) along the external route `route` of `router` (`router_id`;
 * `router_fdb`: its FDB_ROUTER entry the frame was addressed to, or NULL). `ul` is for the
 * tunnel to the gateway node and for a hairpin to a VM behind another VTEP;
 * `stamp` is the frame's cache stamp (lookup_cache.h). Out of the external
 * NIC, `flow` (or NULL: none) keeps what was decided for the flow's next
 * frames (flow_cache.h).
 */
static __always_inline outcome_t route_external(struct xdp_md *ctx, struct port_frame *f, __u32 in_vni,
						const __u8 *router_id, const struct fdb_entry *router_fdb,
						const struct router_info *router, const struct route_entry *route,
						const struct underlay_config *ul, __u64 stamp,
						struct flow_cache_slot *flow)
{
	struct iphdr *ip = f->ip;
	struct snat_side side;
	struct snat_side *snat = &side;
	struct flow_external decided;
	struct flow_external *x = flow ? &flow->external : &decided;
	const __u8 *nh_dst, *nh_src;
	struct ext_nexthop *nh;
	struct ext_addr *addr;
	struct fip_out *fip;
	__be32 ext_ip, target;
	__u32 ifindex;

	/* Not the gateway node: to it, unrouted (tunnel_gateway.h); it checks the TTL and the rest. */
	if (!(route->flags & ROUTE_F_GATEWAY_LOCAL))
		return to_remote_vtep(ctx, f, in_vni, route->gateway_vtep, ul, REASON_FWD_EXTERNAL_TUNNEL);
	if (!snat_side_of(router_id, router_fdb, snat) || !(snat->flags & SNAT_F_GATEWAY_LOCAL))
		return drop(REASON_DROP_NO_EXTERNAL_SIDE);
	if (snat->network_type != SNAT_NET_FLAT)
		return drop(REASON_DROP_EXTERNAL_NETWORK_TYPE);
	ext_ip = snat->external_ip;
	ifindex = snat->ifindex;

	/* 1:1, before SNAT; looked up first: a floating IP's packet to the router may be a hairpin's answer. */
	fip = fip_out_lookup_cached(router_id, ip->saddr, stamp);
	/* The router's own address on the external network: before the TTL, as Linux. */
	if (ip->daddr == ext_ip && !hairpin_to_own_gateway(ip, (void *)(long)ctx->data_end, fip))
		return to_router(ctx, f, router);
	if (ip->ttl <= 1) {
		return route_icmp_error(ctx, f, router_id, router, in_vni,
					(struct route_error){ ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0,
							      REASON_FWD_ICMP_TIME_EXCEEDED, REASON_DROP_TTL_EXCEEDED });
	}
	if (f->l3_len > snat->mtu) {
		/* XDP cannot fragment: as route.h for a tenant network's MTU. */
		if (!(ip->frag_off & bpf_htons(IP_DF_BIT)))
			return drop(REASON_DROP_EXCEEDS_NETWORK_MTU);
		return route_icmp_error(ctx, f, router_id, router, in_vni,
					(struct route_error){ ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, (__u16)snat->mtu,
							      REASON_FWD_ICMP_FRAG_NEEDED,
							      REASON_DROP_EXCEEDS_NETWORK_MTU });
	}
	addr = hairpin_lookup(route, ip->daddr, ifindex);
	if (addr)
		return ext_hairpin(ctx, f, in_vni, router_id, router, snat, fip, addr, ul);
	if (!fip && !(snat->flags & SNAT_F_ENABLED))
		return drop(REASON_DROP_SNAT_DISABLED);

	target = route->nexthop ? route->nexthop : ip->daddr;
	if (router_fdb && router_fdb->snat_present && router_fdb->ext_nh_present && target == router_fdb->snat_nexthop) {
		/* The external subnet's gateway, whose MACs the router's FDB entry carries (overlay_maps.h). */
		nh_dst = router_fdb->ext_nh_dst_mac;
		nh_src = router_fdb->ext_nh_src_mac;
	} else {
		nh = ext_nexthop_lookup(ifindex, target);
		if (!nh)
			return drop(REASON_DROP_NO_EXTERNAL_NEIGHBOR);
		nh_dst = nh->dst_mac;
		nh_src = nh->src_mac;
	}

	/* Decided: kept for the flow's next frames (not a packet to the router's own address), this one sent from it. */
	x->has_fip = fip != NULL;
	if (fip)
		x->fip = *fip;
	x->external_ip = ext_ip;
	x->ifindex = ifindex;
	x->mtu = snat->mtu;
	mac_copy(x->nh_dst, nh_dst);
	mac_copy(x->nh_src, nh_src);
	if (flow && ip->daddr != ext_ip)
		flow->routed = FLOW_EXTERNAL;
	return external_out(ctx, f, in_vni, x);
}

#endif /* XDPNET_EXTERNAL_ROUTE_H */
