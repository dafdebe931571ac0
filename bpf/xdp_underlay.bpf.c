// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_underlay: XDP on the underlay NIC, where this node's VTEP IP lives.
 *
 * It validates every frame as xdp_guard does (it takes the guard's place on
 * this interface) and then:
 *   - UDP to port 4789 of our VTEP IP is VXLAN:
 *       malformed (no I flag, cut short)     -> dropped;
 *       unknown VNI, network down            -> dropped (for a frame to a local
 *                                               port, as its FDB entry has the
 *                                               network: port_state.h);
 *       inner unicast to a local port of
 *       that VNI (FDB: local, same VNI, up)  -> decapsulated and redirected into it
 *                                               (counted as sent to that port,
 *                                               port_stats.h);
 *       inner unicast to a router's MAC      -> a compute node's tunnel to this
 *                                               gateway node: decapsulated and routed
 *                                               out through the router's external
 *                                               gateway (tunnel_gateway.h);
 *       inner unicast to anything else       -> dropped (l2population knows every
 *                                               MAC: an unknown one is not ours);
 *       inner broadcast/multicast            -> XDP_PASS, still encapsulated, to
 *                                               tc_underlay_flood on this interface,
 *                                               which copies it to the local ports
 *                                               only (split horizon);
 *   - everything else (management, SSH, ARP for the VTEP, VXLAN for another
 *     address or port, fragments) goes to the kernel untouched.
 *
 * The outer UDP checksum, when not 0, is not verified (RFC 7348 §5 makes it
 * optional); reserved VXLAN bits are ignored as RFC 7348 says (Linux's vxlan
 * drops frames with unknown flags instead).
 */
#include "lib/common.h"
#include "lib/host_ingress.h"
#include "lib/config.h"
#include "lib/csum.h"
#include "lib/encap.h"
#include "lib/fdb.h"
#include "lib/lookup_cache.h"
#include "lib/overlay_maps.h"
#include "lib/parse.h"
#include "lib/port_state.h"
#include "lib/port_stats.h"
#include "lib/tunnel_gateway.h"
#include "lib/verdict.h"
#include "lib/vxlan.h"

/* This node's VTEP IPv4 in network byte order (set it as a 4-byte buffer). */
DECLARE_CONFIG(__be32, vtep_ip, 0);
/* The largest outer IPv4 packet the underlay carries: for what a tunnelled frame becomes that is encapsulated again. */
DECLARE_CONFIG(__u32, underlay_mtu, 1500);
/* The external ports SNAT hands out, for tunnelled frames (snat.h); as xdp_port's. */
SNAT_CONFIG();

static __always_inline outcome_t vxlan_rx(struct xdp_md *ctx, const struct hdr_cursor *cursor,
					  struct iphdr *ip, struct udphdr *udp)
{
	void *data = (void *)(long)ctx->data;
	void *ip_end = (void *)ip + bpf_ntohs(ip->tot_len);
	void *udp_end = (void *)udp + bpf_ntohs(udp->len);
	struct vxlanhdr *vxlan = (void *)(udp + 1);
	struct ethhdr *inner = (void *)(vxlan + 1);
	struct network_info *info;
	struct port_network net;
	struct fdb_entry *fdb = NULL;
	struct local_port lp;
	__u32 vni;
	int ret;

	/*
	 * The datagram must lie within the IPv4 packet (parse_ipv4 has put
	 * that within the frame), and the VXLAN and inner Ethernet headers
	 * within the datagram. Verifier: the accesses below are checked
	 * against the frame's end as well, a bound it can follow.
	 */
	if (udp_end > ip_end || (void *)(inner + 1) > udp_end || (void *)(inner + 1) > cursor->end)
		return drop(REASON_DROP_MALFORMED_VXLAN);
	if (!(vxlan->flags & VXLAN_FLAG_I))
		return drop(REASON_DROP_MALFORMED_VXLAN);
	vni = vxlan_vni(vxlan);

	/*
	 * Unicast to a local port of the network first: one lookup, the FDB's
	 * (through this CPU's cache of it: lookup_cache.h), whose entry carries
	 * the port's state and its network's (port_state.h).
	 */
	if (!mac_is_multicast(inner->h_source) && !mac_is_multicast(inner->h_dest))
		fdb = fdb_lookup_cached(vni, inner->h_dest, cache_stamp());
	if (fdb && fdb->kind == FDB_LOCAL && local_port_of(fdb, vni, &lp) == 0) {
		/* The network's MTU is the sender's to keep to: only its state counts here. */
		ret = port_network_of(vni, lp.net_flags, 0, &net);
		if (ret < 0)
			return drop_from(ret);
		if (!net.up)
			return drop(REASON_DROP_NETWORK_DOWN);
		if (!(lp.flags & PORT_F_ADMIN_UP))
			return drop(REASON_DROP_PORT_DOWN);

		/* Offsets now: decapsulation invalidates every packet pointer. */
		ret = xdp_vxlan_decap(ctx, (void *)inner - data, cursor->end - udp_end);
		if (ret < 0)
			return drop_from(ret);
		if (bpf_redirect_map(&xdpnet_tx_ports, fdb->ifindex, 0) != XDP_REDIRECT)
			return drop(REASON_DROP_NO_TX_PORT);
		/* The inner frame, as the VM gets it. */
		port_stats_tx(lp.stats_slot, ctx->data_end - ctx->data);
		return outcome(XDP_REDIRECT, REASON_FWD_DECAP);
	}

	/* Anything else: the network decides first, then the inner addresses, then the FDB. */
	info = bpf_map_lookup_elem(&xdpnet_networks, &vni);
	if (!info)
		return drop(REASON_DROP_UNKNOWN_VNI);
	if (!(info->flags & NETWORK_F_ADMIN_UP))
		return drop(REASON_DROP_NETWORK_DOWN);
	if (mac_is_multicast(inner->h_source))
		return drop(REASON_DROP_INVALID_SOURCE_MAC);
	if (mac_is_multicast(inner->h_dest))
		return pass(REASON_PASS_TO_FLOOD);
	if (!fdb)
		return drop(REASON_DROP_UNKNOWN_DESTINATION);
	if (fdb->kind == FDB_ROUTER) {
		struct underlay_config ul = { .vtep_ip = CONFIG(vtep_ip), .mtu = CONFIG(underlay_mtu) };

		return tunnel_gateway_rx(ctx, (void *)inner - data, cursor->end - udp_end, vni, fdb->router_id, &ul);
	}
	/* A remote MAC, or a local one whose port is gone or on another network: the tables disagree. */
	return drop(REASON_DROP_UNKNOWN_DESTINATION);
}

static __always_inline outcome_t underlay(struct xdp_md *ctx)
{
	struct host_ipv4 pkt;
	struct udphdr *udp;
	outcome_t result;

	if (host_ingress(ctx, &pkt, &result))
		return result;
	if (pkt.ip->protocol != IPPROTO_UDP || pkt.ip->daddr != CONFIG(vtep_ip))
		return pass(REASON_PASS_HOST);
	udp = pkt.l4;
	/* Verifier: parse_l4 checked the UDP header through another copy of the pointer. */
	if ((void *)(udp + 1) > pkt.cursor.end)
		return drop(REASON_DROP_TRUNCATED_L4);
	if (udp->dest != bpf_htons(VXLAN_PORT))
		return pass(REASON_PASS_HOST);
	return vxlan_rx(ctx, &pkt.cursor, pkt.ip, udp);
}

SEC("xdp")
int xdp_underlay(struct xdp_md *ctx)
{
	return finish(ctx, underlay(ctx));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
