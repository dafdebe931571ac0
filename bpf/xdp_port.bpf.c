// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_port: XDP on the host side of a VM port (tap or veth), so its ingress
 * is what the VM sent. In order:
 *
 *   1. the port (by ingress ifindex) and its network must be known and up
 *      (the network as the port's entry has it: port_state.h; the port's
 *      entry and the destination's FDB entry through this CPU's caches of
 *      them: lookup_cache.h);
 *   2. header validation (the guard's, parse.h) and, if the port says so,
 *      port security (port_security.h);
 *   3. an ARP request for an address the network knows is answered here
 *      (arp.h) and sent back: XDP_TX;
 *   4. the network MTU;
 *   5. the L2 switch, by the destination MAC in the network's FDB:
 *        local port  -> redirected into it (xdpnet_tx_ports);
 *        remote port -> VXLAN-encapsulated to its VTEP and redirected out of
 *                       the underlay (deliver.h, encap.h, vxlan.h);
 *        router      -> routed on this node (route.h): IPv4 to another
 *                       network of the router, delivered as above in that
 *                       network; pings to the router answered, ICMP errors
 *                       sent back; on the router's gateway node, out
 *                       through its external gateway with the source's
 *                       floating IP or SNAT, or inward to an address the
 *                       node holds (hairpin), and elsewhere tunnelled to
 *                       the gateway node (external_route.h);
 *        broadcast, multicast, unknown unicast -> XDP_PASS to tc_port_flood,
 *                       the TC program on the same interface (XDP cannot clone).
 *
 * Every frame leaves through finish(), counted under one reason; a frame from
 * a known port is also counted on that port (port_stats.h: received, and
 * dropped or sent back), and a local redirect on the port it goes to.
 *
 * Like a switch, it does not verify the IPv4 header checksum of a switched
 * frame (the receiving VM does; a routed one is verified, as a router must);
 * VLAN tags a VM sends are carried through as they are, and port security
 * looks at the IPv4/ARP header inside them.
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/arp.h"
#include "lib/deliver.h"
#include "lib/fdb.h"
#include "lib/flow_cache.h"
#include "lib/lookup_cache.h"
#include "lib/overlay_maps.h"
#include "lib/parse.h"
#include "lib/port_frame.h"
#include "lib/port_security.h"
#include "lib/port_state.h"
#include "lib/port_stats.h"
#include "lib/route.h"
#include "lib/verdict.h"

/* This node's VTEP IPv4 in network byte order (set it as a 4-byte buffer): the outer source. */
DECLARE_CONFIG(__be32, vtep_ip, 0);
/* The largest outer IPv4 packet the underlay carries. */
DECLARE_CONFIG(__u32, underlay_mtu, 1500);
/* The external ports SNAT hands out on a gateway node (snat.h). */
SNAT_CONFIG();

/* `*stats` is set to the ingress port's counters once the port is known. */
static __always_inline outcome_t port(struct xdp_md *ctx, struct port_stats **stats)
{
	__u32 ifindex = ctx->ingress_ifindex;
	__u64 stamp = cache_stamp();
	struct port_network net;
	struct hdr_cursor cursor;
	struct underlay_config ul = { .vtep_ip = CONFIG(vtep_ip), .mtu = CONFIG(underlay_mtu) };
	struct port_info *port;
	struct flow_cache_slot *flow;
	struct fdb_entry *fdb;
	struct port_frame f;
	__u32 vni;
	int ret;

	port = port_lookup_cached(ifindex, stamp);
	if (!port)
		return drop(REASON_DROP_UNKNOWN_PORT);
	/* Before any other check: what a down port's VM sends is received, then dropped. */
	*stats = port_stats_of(port);
	if (!(port->flags & PORT_F_ADMIN_UP))
		return drop(REASON_DROP_PORT_DOWN);
	vni = port->vni;
	ret = port_network_of(vni, port->net_flags, port->net_mtu, &net);
	if (ret < 0)
		return drop_from(ret);
	if (!net.up)
		return drop(REASON_DROP_NETWORK_DOWN);

	cursor_init(&cursor, ctx);
	ret = parse_port_frame(&cursor, &f);
	if (ret < 0)
		return drop_from(ret);
	if (port->flags & PORT_F_PORT_SECURITY) {
		ret = port_security_check(ifindex, port, &f);
		if (ret < 0)
			return drop_from(ret);
	}

	if (f.arp && arp_respond(vni, f.l2.eth, f.arp))
		return outcome(XDP_TX, REASON_FWD_ARP_REPLY);

	if (f.l3_len > net.mtu)
		return drop(REASON_DROP_EXCEEDS_NETWORK_MTU);

	if (mac_is_multicast(f.l2.eth->h_dest))
		return pass(REASON_PASS_TO_FLOOD);
	flow = f.ip ? flow_lookup_cached(vni, f.l2.eth->h_dest, f.ip->saddr, f.ip->daddr, stamp)
		    : flow_lookup_cached(vni, f.l2.eth->h_dest, 0, 0, stamp);
	if (!flow)
		return pass(REASON_PASS_TO_FLOOD); /* unknown unicast */
	fdb = &flow->fdb;
	switch (fdb->kind) {
	case FDB_LOCAL:
		if (fdb->ifindex == ifindex)
			return drop(REASON_DROP_HAIRPIN);
		return to_local_mac(ctx, fdb, vni, REASON_FWD_LOCAL);
	case FDB_REMOTE:
		return to_remote_mac(ctx, &f, vni, fdb, &ul, REASON_FWD_ENCAP);
	case FDB_ROUTER:
		/* Routed before under this stamp: straight to where routing sent the flow. */
		if (flow->routed == FLOW_ROUTED && route_cached_ok(&f, &flow->route)) {
			route_rewrite(&f, &flow->route);
			return deliver_routed(ctx, &f, flow->route.vni, &flow->route.fdb, &ul);
		}
		if (flow->routed == FLOW_EXTERNAL && external_cached_ok(&f, &flow->external))
			return external_flow_out(ctx, &f, vni, &flow->external);
		return route_frame(ctx, &f, vni, flow, &ul);
	default:
		return drop(REASON_DROP_UNKNOWN_DESTINATION);
	}
}

/*
 * The ingress port's side of a frame, once its outcome is known: received
 * (`rx_bytes`: as the VM sent it), and dropped, or sent back to the VM
 * (XDP_TX: an ARP reply, at its length now).
 */
static __always_inline void count_from_port(struct xdp_md *ctx, struct port_stats *stats, __u64 rx_bytes,
					    outcome_t result)
{
	/* Per-CPU slot: no other CPU writes it, plain adds are enough. */
	stats->rx_packets += 1;
	stats->rx_bytes += rx_bytes;
	if (outcome_action(result) == XDP_DROP) {
		stats->dropped_packets += 1;
	} else if (outcome_action(result) == XDP_TX) {
		stats->tx_packets += 1;
		stats->tx_bytes += ctx->data_end - ctx->data;
	}
}

SEC("xdp")
int xdp_port(struct xdp_md *ctx)
{
	/* Measured now: encapsulation changes the length. */
	__u64 rx_bytes = ctx->data_end - ctx->data;
	struct port_stats *stats = NULL;
	outcome_t result;

	result = port(ctx, &stats);
	if (stats)
		count_from_port(ctx, stats, rx_bytes, result);
	return finish(ctx, result);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
