/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * VXLAN encapsulation and decapsulation of an XDP frame (the skb flavour for
 * the TC flood path lives in tc_flood.bpf.c). Both move the packet start with
 * bpf_xdp_adjust_head(), after which every packet pointer is invalid: these
 * helpers derive what they need again from ctx, and so must their callers.
 */
#ifndef XDPNET_ENCAP_H
#define XDPNET_ENCAP_H

#include "common.h"
#include "overlay_maps.h"
#include "vxlan.h"

/*
 * Prepends the outer headers (vxlan.h says what goes in them) to the whole
 * frame. The caller has checked the underlay MTU. Returns 0 or
 * -REASON_DROP_RESIZE_FAILED (no headroom).
 */
static __always_inline int xdp_vxlan_encap(struct xdp_md *ctx, const struct vtep_nexthop *nh,
					   __be32 saddr, __be32 daddr, __u32 vni, __be16 sport)
{
	__u32 inner_len = ctx->data_end - ctx->data;
	struct vxlan_outer *outer;
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -(int)VXLAN_OVERHEAD))
		return -REASON_DROP_RESIZE_FAILED;
	/* adjust_head invalidated every packet pointer: derive them again. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	outer = data;
	if ((void *)(outer + 1) > data_end)
		return -REASON_DROP_RESIZE_FAILED;
	vxlan_outer_fill(outer, nh, saddr, daddr, vni, sport, inner_len);
	return 0;
}

/*
 * Strips everything before the inner Ethernet header (`strip` bytes: outer
 * L2, IPv4, UDP, VXLAN) and anything after the VXLAN datagram (`trim` bytes,
 * e.g. padding the outer frame carried). Returns 0 or
 * -REASON_DROP_RESIZE_FAILED.
 */
static __always_inline int xdp_vxlan_decap(struct xdp_md *ctx, __u32 strip, __u32 trim)
{
	/* Tail first: both offsets were measured on the frame as it arrived. */
	if (trim && bpf_xdp_adjust_tail(ctx, -(int)trim))
		return -REASON_DROP_RESIZE_FAILED;
	if (bpf_xdp_adjust_head(ctx, (int)strip))
		return -REASON_DROP_RESIZE_FAILED;
	/* Every packet pointer is invalid from here on. */
	return 0;
}

#endif /* XDPNET_ENCAP_H */
