// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc_flood: head-end replication of broadcast, multicast and unknown unicast
 * frames, at TC ingress because XDP cannot clone a frame and TC can
 * (bpf_clone_redirect). The XDP program of the same interface hands these
 * frames over with XDP_PASS (REASON_PASS_TO_FLOOD); the copy targets come
 * from the network's flood list (xdpnet_flood).
 *
 * tc_port_flood, on a VM port: one copy to every other local port of the
 *   network, then one VXLAN-encapsulated copy to every remote VTEP in the
 *   list. It checks the port, port security and the MTUs itself, so it never
 *   floods what xdp_port would have dropped, even if xdp_port is missing.
 *
 * tc_underlay_flood, on the underlay NIC: a VXLAN frame to our VTEP whose
 *   inner destination is broadcast/multicast is decapsulated and copied to
 *   the network's local ports only: never back to a VTEP (split horizon: the
 *   sender has already copied it to every VTEP). Anything else goes on to the
 *   kernel (REASON_PASS_NOT_FLOOD).
 *
 * The original frame is dropped once its copies are out (verdict_tc.h). A
 * frame is counted once per program, under FWD_FLOOD, or DROP_FLOOD_PARTIAL
 * when some copy could not be sent. Per port (port_stats.h), each copy sent
 * into a local port counts as sent to that port, and a frame tc_port_flood
 * discards whole as dropped by the port it came from (xdp_port has already
 * counted it as received).
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/fdb.h"
#include "lib/overlay_maps.h"
#include "lib/parse.h"
#include "lib/port_frame.h"
#include "lib/port_security.h"
#include "lib/port_state.h"
#include "lib/port_stats.h"
#include "lib/verdict_tc.h"
#include "lib/vxlan.h"

/* This node's VTEP IPv4 in network byte order (set it as a 4-byte buffer). */
DECLARE_CONFIG(__be32, vtep_ip, 0);
/* The largest outer IPv4 packet the underlay carries. */
DECLARE_CONFIG(__u32, underlay_mtu, 1500);

/* Enough linear bytes for any header we read: 2 VLAN tags, IPv4 and TCP with options. */
#define FLOOD_HEADER_BYTES 192

/* Makes the headers readable directly, then points the cursor at them. */
static __always_inline int cursor_init_skb(struct hdr_cursor *cursor, struct __sk_buff *skb)
{
	__u32 len = skb->len < FLOOD_HEADER_BYTES ? skb->len : FLOOD_HEADER_BYTES;

	/* It fails only without memory: the headers cannot be read, as if cut short. */
	if (bpf_skb_pull_data(skb, len))
		return -REASON_DROP_TRUNCATED_ETHERNET;
	/* pull_data invalidated packet pointers; these are the first. */
	cursor->pos = (void *)(long)skb->data;
	cursor->end = (void *)(long)skb->data_end;
	return 0;
}

/*
 * The copy loops run under bpf_loop(): the verifier checks the body once,
 * where a plain loop over up to 256 targets, each with its own branches,
 * exceeds its budget. Every clone_redirect invalidates packet pointers; the
 * loops use none.
 */
struct flood_ctx {
	struct __sk_buff *skb;
	const struct flood_list *list;
	/* Outer headers, rewritten for each remote VTEP (aligned for whole 16-bit stores). */
	struct vxlan_outer outer __attribute__((aligned(8)));
	__u32 vni;
	/* Local copies: the port the frame came from (0: none). */
	__u32 except;
	/* Remote copies: the inner frame's length and the outer UDP source port. */
	__u32 inner_len;
	__be16 sport;
	/* Copies that could not be sent. */
	__u32 failed;
};

/* One copy to local port `index` of the list as the frame is now, unless it is the sender or down. */
static long flood_local_one(__u64 index, void *data)
{
	struct flood_ctx *fc = data;
	struct port_info *port;
	__u32 target;
	int ret = 0;

	/* Verifier: it does not know bpf_loop keeps index below the count. */
	if (index >= FLOOD_MAX_LOCAL)
		return 1;
	target = fc->list->local_ifindex[index];
	if (target == fc->except)
		return 0;
	port = local_port_accepts(fc->vni, target, &ret);
	if (ret == -REASON_DROP_PORT_DOWN)
		return 0;
	if (!port || bpf_clone_redirect(fc->skb, target, 0) < 0)
		fc->failed++;
	else
		port_stats_tx(port->stats_slot, fc->skb->len); /* the copy is the frame as it is now */
	return 0;
}

/*
 * One copy to remote VTEP `index` of the list. The frame already has room
 * for the outer headers in front of it (bpf_skb_change_head); each copy gets
 * its own written there before it is cloned.
 */
static long flood_remote_one(__u64 index, void *data)
{
	struct flood_ctx *fc = data;
	struct vtep_nexthop *nh;
	__be32 vtep;

	/* Verifier: as above. */
	if (index >= FLOOD_MAX_REMOTE)
		return 1;
	vtep = fc->list->remote_vtep[index];
	nh = bpf_map_lookup_elem(&xdpnet_nexthops, &vtep);
	if (!nh) {
		fc->failed++;
		return 0;
	}
	vxlan_outer_fill(&fc->outer, nh, CONFIG(vtep_ip), vtep, fc->vni, fc->sport, fc->inner_len);
	if (bpf_skb_store_bytes(fc->skb, 0, &fc->outer, VXLAN_OVERHEAD, 0) < 0 ||
	    bpf_clone_redirect(fc->skb, nh->ifindex, 0) < 0)
		fc->failed++;
	return 0;
}

static __always_inline __u32 flood_local(struct flood_ctx *fc)
{
	__u32 count = fc->list->local_count;

	bpf_loop(count < FLOOD_MAX_LOCAL ? count : FLOOD_MAX_LOCAL, flood_local_one, fc, 0);
	return fc->failed;
}

static __always_inline __u32 flood_remote(struct flood_ctx *fc)
{
	__u32 count = fc->list->remote_count;

	bpf_loop(count < FLOOD_MAX_REMOTE ? count : FLOOD_MAX_REMOTE, flood_remote_one, fc, 0);
	return fc->failed;
}

/* `*sender` is set to the ingress port once it is known. */
static __always_inline outcome_t port_flood(struct __sk_buff *skb, struct port_info **sender)
{
	__u32 ifindex = skb->ifindex; /* at ingress: the port the frame came in on */
	struct port_network net;
	struct flood_list *list;
	struct hdr_cursor cursor;
	struct port_info *port;
	struct flood_ctx fc = {};
	struct port_frame f;
	__u32 inner_len = skb->len;
	__u32 vni;
	int ret;

	port = bpf_map_lookup_elem(&xdpnet_ports, &ifindex);
	if (!port)
		return tc_drop(REASON_DROP_UNKNOWN_PORT);
	*sender = port;
	if (!(port->flags & PORT_F_ADMIN_UP))
		return tc_drop(REASON_DROP_PORT_DOWN);
	vni = port->vni;
	/* The network as the port's entry has it, as xdp_port sees it. */
	ret = port_network_of(vni, port->net_flags, port->net_mtu, &net);
	if (ret < 0)
		return tc_drop_from(ret);
	if (!net.up)
		return tc_drop(REASON_DROP_NETWORK_DOWN);

	ret = cursor_init_skb(&cursor, skb);
	if (ret < 0)
		return tc_drop_from(ret);
	ret = parse_port_frame(&cursor, &f);
	if (ret < 0)
		return tc_drop_from(ret);
	if (port->flags & PORT_F_PORT_SECURITY) {
		ret = port_security_check(ifindex, port, &f);
		if (ret < 0)
			return tc_drop_from(ret);
	}
	/* Only the headers are linear: measure a non-IPv4 payload on the skb. */
	if (!f.ip)
		f.l3_len = inner_len - (f.frame_len - f.l3_len);
	if (f.l3_len > net.mtu)
		return tc_drop(REASON_DROP_EXCEEDS_NETWORK_MTU);

	list = bpf_map_lookup_elem(&xdpnet_flood, &vni);
	if (!list)
		return tc_drop(REASON_DROP_NO_FLOOD_LIST);
	if (list->remote_count && inner_len + VXLAN_IP_OVERHEAD > CONFIG(underlay_mtu))
		return tc_drop(REASON_DROP_EXCEEDS_UNDERLAY_MTU);
	fc.skb = skb;
	fc.list = list;
	fc.vni = vni;
	fc.except = ifindex;
	fc.inner_len = inner_len;
	/* Hash now: f's packet pointers do not survive the first copy. */
	fc.sport = vxlan_src_port(port_frame_hash(&f));
	fc.failed = 0;

	flood_local(&fc);
	if (list->remote_count) {
		/* Room for the outer headers, once; each copy rewrites them. */
		if (bpf_skb_change_head(skb, VXLAN_OVERHEAD, 0))
			fc.failed++;
		else
			flood_remote(&fc);
	}
	return tc_replicated(fc.failed);
}

static __always_inline outcome_t underlay_flood(struct __sk_buff *skb)
{
	struct ethhdr *inner, inner_eth;
	struct flood_ctx fc = {};
	struct flood_list *list;
	struct hdr_cursor cursor;
	struct network_info *net;
	struct vxlanhdr *vxlan;
	struct udphdr *udp;
	struct l2_info l2;
	struct iphdr *ip;
	void *data, *udp_end;
	__u32 vni, inner_off, udp_end_off;

	/* At TC ingress the kernel has already taken any VLAN tag out of the data. */
	if (cursor_init_skb(&cursor, skb) < 0 || parse_ethernet(&cursor, &l2) < 0 ||
	    l2.vlan_count || l2.proto != bpf_htons(ETH_P_IP))
		return tc_pass(REASON_PASS_NOT_FLOOD);
	data = cursor.pos - sizeof(struct ethhdr);
	if (parse_ipv4(&cursor, &ip) < 0 || ipv4_is_fragment(ip) || ip->protocol != IPPROTO_UDP ||
	    ip->daddr != CONFIG(vtep_ip))
		return tc_pass(REASON_PASS_NOT_FLOOD);
	udp = cursor.pos;
	vxlan = (void *)(udp + 1);
	inner = (void *)(vxlan + 1);
	if ((void *)(inner + 1) > cursor.end || udp->dest != bpf_htons(VXLAN_PORT))
		return tc_pass(REASON_PASS_NOT_FLOOD);
	udp_end = (void *)udp + bpf_ntohs(udp->len);
	if (udp_end > (void *)ip + bpf_ntohs(ip->tot_len) || (void *)(inner + 1) > udp_end ||
	    !(vxlan->flags & VXLAN_FLAG_I) || !mac_is_multicast(inner->h_dest) ||
	    mac_is_multicast(inner->h_source))
		return tc_pass(REASON_PASS_NOT_FLOOD);
	vni = vxlan_vni(vxlan);
	net = bpf_map_lookup_elem(&xdpnet_networks, &vni);
	if (!net || !(net->flags & NETWORK_F_ADMIN_UP))
		return tc_pass(REASON_PASS_NOT_FLOOD);

	list = bpf_map_lookup_elem(&xdpnet_flood, &vni);
	if (!list)
		return tc_drop(REASON_DROP_NO_FLOOD_LIST);

	/*
	 * Decapsulate once for all copies: keep the inner Ethernet header, cut
	 * anything after the datagram, remove outer IPv4/UDP/VXLAN and the inner
	 * Ethernet header from behind the outer one (adjust_room works after the
	 * MAC header), then write the inner header over the outer.
	 */
	inner_off = (void *)inner - data;
	udp_end_off = udp_end - data;
	__builtin_memcpy(&inner_eth, inner, sizeof(inner_eth));
	if (skb->len > udp_end_off && bpf_skb_change_tail(skb, udp_end_off, 0))
		return tc_drop(REASON_DROP_RESIZE_FAILED);
	/* Every packet pointer is invalid from here on. */
	if (bpf_skb_adjust_room(skb, -(__s32)inner_off, BPF_ADJ_ROOM_MAC, 0) ||
	    bpf_skb_store_bytes(skb, 0, &inner_eth, sizeof(inner_eth), 0))
		return tc_drop(REASON_DROP_RESIZE_FAILED);

	fc.skb = skb;
	fc.list = list;
	fc.vni = vni;
	fc.except = 0; /* split horizon: local ports only, and no sender among them */
	return tc_replicated(flood_local(&fc));
}

SEC("tc")
int tc_port_flood(struct __sk_buff *skb)
{
	__u32 bytes = skb->len;
	struct port_info *sender = NULL;
	struct port_stats *stats;
	outcome_t result;

	result = port_flood(skb, &sender);
	/* Looked up only here: the drop is the rare case, the copies the common one. */
	if (sender && tc_discarded(result)) {
		stats = port_stats_of(sender);
		if (stats)
			stats->dropped_packets += 1;
	}
	return finish_tc(bytes, result);
}

SEC("tc")
int tc_underlay_flood(struct __sk_buff *skb)
{
	__u32 bytes = skb->len;

	return finish_tc(bytes, underlay_flood(skb));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
