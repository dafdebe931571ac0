/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Hairpin: a packet a router routes out through its external gateway, on
 * its gateway node, to an address this node itself holds on the same
 * external NIC (xdpnet_ext_addrs): another VM's floating IP, or a router's
 * gateway IP (the answer to a hairpinned SNAT connection). Sent out of the
 * NIC it would not come back: these addresses are not the kernel's, so it
 * cannot resolve their MACs, and the switch does not reflect a frame to its
 * sender. So it turns inward here, translated both ways as Neutron's router
 * translates it, the source as a packet leaving (the sender's floating IP,
 * else SNAT) and the destination as a packet arriving (the floating IP's
 * fixed IP, or the SNAT connection's VM), and is delivered as xdp_external
 * delivers (external_deliver.h): destination MAC := the VM's, source MAC :=
 * its router's, into its local port or VXLAN-encapsulated to its VTEP
 * (REASON_FWD_HAIRPIN_LOCAL, _ENCAP). It never leaves the NIC.
 *
 * route_external() looks for it on on-link external routes only: behind a
 * next hop, an address comes back in through the NIC like any other.
 *
 * To a floating IP (EXT_ADDR_FLOATING):
 *   no xdpnet_fip_in entry                -> dropped (HAIRPIN_UNSOLICITED)
 *   the fixed IP without an ARP entry     -> dropped (NO_NEIGHBOR)
 *   the destination's router unknown or down, its network unknown or down,
 *   its MAC not in the FDB or a router's  -> dropped, as external_deliver.h
 *   larger than the destination network's
 *   MTU                                   -> DF: ICMP fragmentation needed from
 *                                            the sender's router (route.h), else
 *                                            dropped
 *   fip.h's checks, both ways; SNAT disabled and no floating IP to leave with
 *   -> dropped (SNAT_DISABLED), as it would be going out
 *   then the source translated (TTL - 1), the destination translated (TTL
 *   kept). One decrement in all, whichever routers the two VMs are behind:
 *   Linux routes a hairpin within one router once; across two routers,
 *   Neutron's would decrement twice, a difference only a TTL of 2 sees.
 * To a router's gateway IP (EXT_ADDR_GATEWAY):
 *   an ICMP echo request                   -> answered from that address, as
 *                                            xdp_external answers one from
 *                                            outside (route.h's to_router): the
 *                                            answer goes straight back to the VM
 *                                            and needs no translation
 *   from a VM without a floating IP        -> dropped (HAIRPIN_UNSOLICITED): its
 *                                            packet would leave through SNAT and
 *                                            answer nothing (two VMs behind SNAT
 *                                            cannot reach each other)
 *   the source := the floating IP (fip.h, TTL kept), then the connection
 *   looked up as xdp_external does (snat_reverse.h):
 *     none                                 -> dropped (HAIRPIN_UNSOLICITED)
 *   the destination side checked as above, except that a packet larger than
 *   the VM's network MTU is dropped without an error: translated by then, it
 *   would quote what its sender never sent
 *   then translated back (TTL - 1).
 *
 * route_external() has checked the TTL (> 1) and the external MTU before: a
 * hairpinned packet is held to both, as if it had gone out.
 *
 * Included by external_route.h (from route.h's end): it uses route.h's helpers.
 */
#ifndef XDPNET_EXTERNAL_HAIRPIN_H
#define XDPNET_EXTERNAL_HAIRPIN_H

#include "common.h"
#include "conntrack_maps.h"
#include "external_deliver.h"
#include "fdb.h"
#include "fip.h"
#include "fip_maps.h"
#include "overlay_maps.h"
#include "route.h"
#include "router_maps.h"
#include "snat.h"
#include "snat_maps.h"
#include "snat_reverse.h"
#include "verdict.h"

/*
 * The address of xdpnet_ext_addrs the packet to `daddr` along `route` would
 * hairpin to, out of the external NIC `ifindex`; NULL when it goes out.
 */
static __always_inline struct ext_addr *hairpin_lookup(const struct route_entry *route, __be32 daddr, __u32 ifindex)
{
	struct ext_addr *addr;

	if (route->nexthop)
		return NULL;
	addr = bpf_map_lookup_elem(&xdpnet_ext_addrs, &daddr);
	if (!addr || addr->ifindex != ifindex)
		return NULL;
	return addr;
}

/*
 * Whether a packet to its router's own gateway IP goes on (a floating IP's
 * packet may answer a SNAT connection hairpinned to it) rather than to the
 * router (route.h's to_router: a ping is answered, the rest dropped).
 */
static __always_inline bool hairpin_to_own_gateway(const struct iphdr *ip, void *end, const struct fip_out *fip)
{
	const struct icmp_hdr *icmp = (const void *)(ip + 1);

	if (!fip)
		return false;
	if (ip->protocol != IPPROTO_ICMP || ipv4_is_fragment(ip))
		return true;
	return (void *)(icmp + 1) <= end && icmp->type != ICMP_ECHO;
}

/*
 * The destination side's checks, for the VM `t->vm_mac` on `t->vni` behind
 * the router `dst_router_id`; `errors`: an ICMP error may be sent about the
 * packet (it is as its sender sent it). True when that decided the packet
 * (*result). An error goes back to the sender from its own router
 * (`router_id` on `in_vni`), as for any packet it routes.
 */
static __always_inline bool hairpin_check(struct xdp_md *ctx, struct port_frame *f, __u32 in_vni, const __u8 *router_id,
					  const struct router_info *router, const __u8 *dst_router_id,
					  struct vm_target *t, bool errors, outcome_t *result)
{
	const struct network_info *net;
	__u32 vni = t->vni;

	t->router = bpf_map_lookup_elem(&xdpnet_routers, dst_router_id);
	if (!t->router) {
		*result = drop(REASON_DROP_ROUTING_NOT_IMPLEMENTED);
		return true;
	}
	if (!(t->router->flags & ROUTER_F_ADMIN_UP)) {
		*result = drop(REASON_DROP_ROUTER_DOWN);
		return true;
	}
	net = bpf_map_lookup_elem(&xdpnet_networks, &vni);
	if (!net) {
		*result = drop(REASON_DROP_UNKNOWN_VNI);
		return true;
	}
	if (!(net->flags & NETWORK_F_ADMIN_UP)) {
		*result = drop(REASON_DROP_NETWORK_DOWN);
		return true;
	}
	if (f->l3_len > net->mtu) {
		if (errors && (f->ip->frag_off & bpf_htons(IP_DF_BIT)))
			*result = route_icmp_error(ctx, f, router_id, router, in_vni,
						   (struct route_error){ ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, (__u16)net->mtu,
									 REASON_FWD_ICMP_FRAG_NEEDED,
									 REASON_DROP_EXCEEDS_NETWORK_MTU });
		else
			*result = drop(REASON_DROP_EXCEEDS_NETWORK_MTU);
		return true;
	}
	if (!t->fdb) /* else the copy the caller had at hand (vm_target) */
		t->fdb = fdb_lookup(vni, t->vm_mac);
	if (!t->fdb) {
		*result = drop(REASON_DROP_NO_NEIGHBOR);
		return true;
	}
	if (t->fdb->kind == FDB_ROUTER) {
		*result = drop(REASON_DROP_NEXTHOP_IS_ROUTER);
		return true;
	}
	return false;
}

/* Into the VM `t`: the translated packet's ports (host order) for the flow hash, then external_deliver.h. */
static __always_inline outcome_t hairpin_deliver(struct xdp_md *ctx, struct iphdr *ip, const struct vm_target *t,
						 const struct underlay_config *ul)
{
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *ports = (void *)(ip + 1); /* TCP and UDP both start with the ports */
	__u16 sport = 0, dport = 0;

	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		if ((void *)(ports + 1) > end)
			return drop(REASON_DROP_TRUNCATED_L4);
		sport = bpf_ntohs(ports->source);
		dport = bpf_ntohs(ports->dest);
	}
	return ext_to_vm_deliver(ctx, ip, t, sport, dport, ul, REASON_FWD_HAIRPIN_LOCAL, REASON_FWD_HAIRPIN_ENCAP);
}

/* To the floating IP of `addr`: see the top of this file. */
static __always_inline outcome_t hairpin_to_floating_ip(struct xdp_md *ctx, struct port_frame *f, __u32 in_vni,
							const __u8 *router_id, const struct router_info *router,
							const struct snat_side *snat, const struct fip_out *fip,
							const struct ext_addr *addr, const struct underlay_config *ul)
{
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = f->ip;
	struct vm_target t = {};
	struct arp_entry *neigh;
	struct fip_in *dst;
	outcome_t result;
	int in_kind, out_kind = FIP_PLAIN, ret;

	dst = fip_in_lookup(addr->router_id, ip->daddr);
	if (!dst)
		return drop(REASON_DROP_HAIRPIN_UNSOLICITED);
	neigh = neighbor_lookup(dst->vni, dst->fixed_ip);
	if (!neigh)
		return drop(REASON_DROP_NO_NEIGHBOR);
	t.vni = dst->vni;
	t.vm_mac = neigh->mac;
	if (neigh->fdb_present)
		t.fdb = &neigh->fdb;
	if (hairpin_check(ctx, f, in_vni, router_id, router, addr->router_id, &t, true, &result))
		return result;

	/* Every check before the first change: a drop leaves the packet (and the connection table) as it was. */
	in_kind = fip_check(ip, end, false, ip->daddr);
	if (in_kind < 0)
		return drop_from(in_kind);
	if (fip) {
		out_kind = fip_check(ip, end, true, ip->saddr);
		if (out_kind < 0)
			return drop_from(out_kind);
	} else if (!(snat->flags & SNAT_F_ENABLED)) {
		return drop(REASON_DROP_SNAT_DISABLED);
	}

	if (fip)
		ret = fip_rewrite(ip, end, true, fip->floating_ip, out_kind, true);
	else
		ret = snat_egress(ctx, ip, in_vni, f->l2.eth->h_source, snat->external_ip);
	if (ret < 0)
		return drop_from(ret);
	ret = fip_rewrite(ip, end, false, dst->fixed_ip, in_kind, false);
	if (ret < 0)
		return drop_from(ret);
	return hairpin_deliver(ctx, ip, &t, ul);
}

/* To the gateway IP of `addr`, from the floating IP `fip`: see the top of this file. */
static __always_inline outcome_t hairpin_to_gateway_ip(struct xdp_md *ctx, struct port_frame *f, __u32 in_vni,
						       const __u8 *router_id, const struct router_info *router,
						       const struct fip_out *fip, const struct ext_addr *addr,
						       const struct underlay_config *ul)
{
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = f->ip;
	struct icmp_hdr *icmp = (void *)(ip + 1);
	struct vm_target t = {};
	struct nat_in in = {};
	outcome_t result;
	int kind, ret;

	if (ip->protocol == IPPROTO_ICMP && !ipv4_is_fragment(ip) && (void *)(icmp + 1) <= end &&
	    icmp->type == ICMP_ECHO)
		return to_router(ctx, f, router);
	if (!fip)
		return drop(REASON_DROP_HAIRPIN_UNSOLICITED);
	kind = fip_check(ip, end, true, ip->saddr);
	if (kind < 0)
		return drop_from(kind);
	/* The connection is found by the packet as it would arrive: from the floating IP. */
	ret = fip_rewrite(ip, end, true, fip->floating_ip, kind, false);
	if (ret < 0)
		return drop_from(ret);
	ret = snat_in_lookup(ip, end, &in);
	if (ret < 0)
		return drop_from(ret);
	if (!in.conn)
		return drop(REASON_DROP_HAIRPIN_UNSOLICITED);
	t.vni = in.conn->vni;
	t.vm_mac = in.conn->vm_mac;
	if (hairpin_check(ctx, f, in_vni, router_id, router, addr->router_id, &t, false, &result))
		return result;
	ret = snat_reverse_rewrite(ip, end, &in);
	if (ret < 0)
		return drop_from(ret);
	return hairpin_deliver(ctx, ip, &t, ul);
}

/*
 * The frame `f` (from network `in_vni`, routed by `router` up to its
 * external route and its checks) to the address `addr` held on this node
 * (hairpin_lookup). `fip`: the sender's floating IP, if it has one; `snat`:
 * its router's external side. Every packet pointer is invalid afterwards.
 */
static __always_inline outcome_t ext_hairpin(struct xdp_md *ctx, struct port_frame *f, __u32 in_vni,
					     const __u8 *router_id, const struct router_info *router,
					     const struct snat_side *snat, const struct fip_out *fip,
					     const struct ext_addr *addr, const struct underlay_config *ul)
{
	switch (addr->kind) {
	case EXT_ADDR_FLOATING:
		return hairpin_to_floating_ip(ctx, f, in_vni, router_id, router, snat, fip, addr, ul);
	case EXT_ADDR_GATEWAY:
		return hairpin_to_gateway_ip(ctx, f, in_vni, router_id, router, fip, addr, ul);
	default:
		return drop(REASON_DROP_HAIRPIN_UNSOLICITED); /* a kind this program does not know holds nothing here */
	}
}

#endif /* XDPNET_EXTERNAL_HAIRPIN_H */
