/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Handing a frame to where the FDB says its destination MAC lives, shared by
 * the L2 switch and the router in xdp_port: into a local port
 * (xdpnet_tx_ports), or VXLAN-encapsulated to a remote VTEP and out of the
 * underlay. The caller names the reason the frame is counted under, so a
 * switched and a routed frame stay apart in the counters.
 */
#ifndef XDPNET_DELIVER_H
#define XDPNET_DELIVER_H

#include "common.h"
#include "encap.h"
#include "fdb.h"
#include "overlay_maps.h"
#include "port_frame.h"
#include "port_state.h"
#include "port_stats.h"
#include "verdict.h"
#include "vxlan.h"

/* This node's side of the underlay: the program's load-time settings. */
struct underlay_config {
	__be32 vtep_ip; /* network: the outer source */
	__u32 mtu;      /* host: the largest outer IPv4 packet */
};

static __always_inline outcome_t redirect_to(__u32 ifindex, enum xdpnet_reason reason)
{
	/* With flags 0, a missing key returns XDP_ABORTED rather than XDP_REDIRECT. */
	if (bpf_redirect_map(&xdpnet_tx_ports, ifindex, 0) != XDP_REDIRECT)
		return drop(REASON_DROP_NO_TX_PORT);
	return outcome(XDP_REDIRECT, reason);
}

/* Into the local port on `to` (up, a port of the frame's network), counted as sent to it in `slot`. */
static __always_inline outcome_t redirect_to_port(struct xdp_md *ctx, __u32 to, __u32 slot, enum xdpnet_reason reason)
{
	outcome_t result = redirect_to(to, reason);

	if (outcome_action(result) == XDP_REDIRECT)
		port_stats_tx(slot, ctx->data_end - ctx->data);
	return result;
}

/*
 * Into the local port `fdb` names (an FDB_LOCAL entry of network `vni`),
 * which must be a port of that network and up; counted as sent to that
 * port. The port is the entry's copy of it when it has one (port_state.h),
 * which saves its lookup. Whether the frame may go back where it came from
 * is the caller's to decide (a switch never hairpins, a router may).
 */
static __always_inline outcome_t to_local_mac(struct xdp_md *ctx, const struct fdb_entry *fdb, __u32 vni,
					      enum xdpnet_reason reason)
{
	struct local_port lp;
	int ret;

	ret = local_port_of(fdb, vni, &lp);
	if (ret < 0)
		return drop_from(ret);
	if (!(lp.flags & PORT_F_ADMIN_UP))
		return drop(REASON_DROP_PORT_DOWN);
	return redirect_to_port(ctx, fdb->ifindex, lp.stats_slot, reason);
}

/*
 * Encapsulated in VNI `vni` to the remote VTEP `vtep` through next hop `nh`
 * and out of the underlay (vxlan.h says what the outer headers hold). `f` is
 * the frame as it is now; its pointers are invalid afterwards.
 */
static __always_inline outcome_t encap_to(struct xdp_md *ctx, const struct port_frame *f, __u32 vni, __be32 vtep,
					  const struct vtep_nexthop *nh, const struct underlay_config *ul,
					  enum xdpnet_reason reason)
{
	__be16 sport;
	int ret;

	if (f->frame_len + VXLAN_IP_OVERHEAD > ul->mtu)
		return drop(REASON_DROP_EXCEEDS_UNDERLAY_MTU);
	if (!nh)
		return drop(REASON_DROP_NO_UNDERLAY_NEXTHOP);
	/* Hash now: f's packet pointers do not survive the encapsulation. */
	sport = vxlan_src_port(port_frame_hash(f));
	ret = xdp_vxlan_encap(ctx, nh, ul->vtep_ip, vtep, vni, sport);
	if (ret < 0)
		return drop_from(ret);
	return redirect_to(nh->ifindex, reason);
}

/* To the remote VTEP `vtep`, which has no FDB entry at hand (a router's gateway node): its next hop looked up. */
static __always_inline outcome_t to_remote_vtep(struct xdp_md *ctx, const struct port_frame *f, __u32 vni,
						__be32 vtep, const struct underlay_config *ul,
						enum xdpnet_reason reason)
{
	return encap_to(ctx, f, vni, vtep, bpf_map_lookup_elem(&xdpnet_nexthops, &vtep), ul, reason);
}

/*
 * To the remote MAC `fdb` names (an FDB_REMOTE entry of network `vni`):
 * through the entry's copy of its VTEP's next hop when it has one, which
 * saves the lookup, else the next hop looked up.
 */
static __always_inline outcome_t to_remote_mac(struct xdp_md *ctx, const struct port_frame *f, __u32 vni,
					       const struct fdb_entry *fdb, const struct underlay_config *ul,
					       enum xdpnet_reason reason)
{
	const struct vtep_nexthop *nh = &fdb->nexthop;
	__be32 vtep = fdb->vtep_ip;

	if (!fdb->nexthop_present)
		nh = bpf_map_lookup_elem(&xdpnet_nexthops, &vtep);
	return encap_to(ctx, f, vni, vtep, nh, ul, reason);
}

#endif /* XDPNET_DELIVER_H */
