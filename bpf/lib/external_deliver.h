/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Routing a packet that came in on the external NIC to a VM behind the
 * router that holds its destination address (the router of xdpnet_ext_addrs):
 * the router's forwarding checks before the packet is translated, then the
 * delivery after. Used for SNAT's replies and ICMP errors (xdp_external)
 * and a floating IP's inbound packets (fip_ingress.h); a hairpin
 * (external_hairpin.h) delivers the same way after checks of its own.
 *
 *   router unknown or down                -> dropped (ROUTING_NOT_IMPLEMENTED, ROUTER_DOWN)
 *   TTL <= 1                              -> ICMP time exceeded back out of the
 *                                            external NIC, from the external IP
 *   the VM's network unknown or down      -> dropped
 *   larger than its MTU                   -> DF: ICMP fragmentation needed (with
 *                                            that MTU) back out, else dropped
 *   the VM's MAC without an FDB entry     -> dropped (NO_NEIGHBOR)
 *   then (the caller translates the packet) destination MAC := the VM's,
 *   source MAC := the router's, and into the VM's local port or VXLAN-
 *   encapsulated to its VTEP (deliver.h).
 *
 * The ICMP errors quote the packet as it arrived, untranslated: what its
 * sender knows. Frames here are untagged (a flat external network).
 */
#ifndef XDPNET_EXTERNAL_DELIVER_H
#define XDPNET_EXTERNAL_DELIVER_H

#include "common.h"
#include "deliver.h"
#include "external_cache.h"
#include "fdb.h"
#include "icmp.h"
#include "mac.h"
#include "overlay_maps.h"
#include "port_frame.h"
#include "port_state.h"
#include "router_maps.h"
#include "snat_maps.h"
#include "verdict.h"

#define EXT_IP_DF_BIT 0x4000

/*
 * Where a packet from outside goes: filled by the caller and ext_to_vm_check.
 * The caller sets `router` (the router of the address the packet is for, as
 * it has it at hand; NULL: none) and `stamp`; `fdb` may be set before it (the
 * VM's FDB entry as the caller has it at hand: a copy in its xdpnet_arp
 * entry); else it is looked up.
 */
struct vm_target {
	__u64 stamp; /* the packet's cache stamp (lookup_cache.h), set by the caller */
	const struct router_info *router;
	const struct fdb_entry *fdb;
	__u32 vni;             /* the VM's network */
	const __u8 *vm_mac;    /* the VM's MAC */
};

/*
 * The ICMP error (`type`, `code`, `mtu`) about the packet `ip` back out of
 * the external NIC, from the address it was sent to (`addr`'s); where none
 * may be sent (icmp.h), a drop under `silent`.
 */
static __always_inline outcome_t ext_icmp_error(struct xdp_md *ctx, const struct iphdr *ip, const struct ext_addr *addr,
						__u8 type, __u8 code, __u16 mtu, enum xdpnet_reason sent,
						enum xdpnet_reason silent)
{
	int ret;

	if (!icmp_error_allowed(ip, (void *)(long)ctx->data_end))
		return drop(silent);
	ret = icmp_send_error(ctx, type, code, mtu, ip->daddr, addr->mac);
	if (ret < 0)
		return drop_from(ret);
	return outcome(XDP_TX, sent);
}

/*
 * The forwarding checks for the packet `ip` (untagged, IHL 5) to the VM
 * `t->vm_mac` on network `t->vni`, behind the router of `addr`. Returns true
 * when that decided the packet (*result), false when it may go on: the
 * caller translates it and calls ext_to_vm_deliver().
 *
 * xdp_external's alone (a packet from outside): the VM's FDB entry comes
 * through this CPU's cache (lookup_cache.h), which nothing else on that
 * program's path looks up.
 */
static __always_inline bool ext_to_vm_check(struct xdp_md *ctx, const struct iphdr *ip, const struct ext_addr *addr,
					    struct vm_target *t, outcome_t *result)
{
	struct port_network net;
	struct local_port lp;
	__u32 vni = t->vni;
	int ret;

	if (!t->router) {
		*result = drop(REASON_DROP_ROUTING_NOT_IMPLEMENTED);
		return true;
	}
	if (!(t->router->flags & ROUTER_F_ADMIN_UP)) {
		*result = drop(REASON_DROP_ROUTER_DOWN);
		return true;
	}
	if (ip->ttl <= 1) {
		*result = ext_icmp_error(ctx, ip, addr, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0, REASON_FWD_ICMP_TIME_EXCEEDED,
					 REASON_DROP_TTL_EXCEEDED);
		return true;
	}
	/*
	 * The VM's FDB entry now, its verdict below in the router's order: a
	 * local port's entry carries its network's state (port_state.h), which
	 * saves the lookup of the network.
	 */
	if (!t->fdb)
		t->fdb = fdb_lookup_cached(vni, t->vm_mac, t->stamp);
	if (t->fdb && t->fdb->kind == FDB_LOCAL && local_port_of(t->fdb, vni, &lp) == 0)
		ret = port_network_of(vni, lp.net_flags, lp.net_mtu, &net);
	else
		ret = port_network_of(vni, 0, 0, &net);
	if (ret < 0) {
		*result = drop_from(ret);
		return true;
	}
	if (!net.up) {
		*result = drop(REASON_DROP_NETWORK_DOWN);
		return true;
	}
	if (bpf_ntohs(ip->tot_len) > net.mtu) {
		/* XDP cannot fragment: with DF the sender learns the MTU (RFC 1191), without it the packet is lost. */
		if (ip->frag_off & bpf_htons(EXT_IP_DF_BIT))
			*result = ext_icmp_error(ctx, ip, addr, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, (__u16)net.mtu,
						 REASON_FWD_ICMP_FRAG_NEEDED, REASON_DROP_EXCEEDS_NETWORK_MTU);
		else
			*result = drop(REASON_DROP_EXCEEDS_NETWORK_MTU);
		return true;
	}
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

/*
 * Delivers the translated packet `ip` (TCP/UDP ports `sport`, `dport` in
 * host order, else 0: the flow hash's) to `t`, counted under `local` or
 * `encap`. Every packet pointer is invalid afterwards.
 */
static __always_inline outcome_t ext_to_vm_deliver(struct xdp_md *ctx, struct iphdr *ip, const struct vm_target *t,
						   __u16 sport, __u16 dport, const struct underlay_config *ul,
						   enum xdpnet_reason local, enum xdpnet_reason encap)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct port_frame f = {};

	if ((void *)(eth + 1) > end)
		return drop(REASON_DROP_TRUNCATED_ETHERNET);
	mac_copy(eth->h_dest, t->vm_mac);
	mac_copy(eth->h_source, t->router->mac);
	switch (t->fdb->kind) {
	case FDB_LOCAL:
		return to_local_mac(ctx, t->fdb, t->vni, local);
	case FDB_REMOTE:
		/* What deliver.h needs of the frame: its length and the flow hash's fields. */
		f.l2.eth = eth;
		f.l2.proto = bpf_htons(ETH_P_IP);
		f.ip = ip;
		f.frame_len = end - data;
		f.l3_len = bpf_ntohs(ip->tot_len);
		f.sport = sport;
		f.dport = dport;
		return to_remote_mac(ctx, &f, t->vni, t->fdb, ul, encap);
	default:
		return drop(REASON_DROP_UNKNOWN_DESTINATION);
	}
}

#endif /* XDPNET_EXTERNAL_DELIVER_H */
