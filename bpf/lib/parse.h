/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing with a cursor. Each parse_* helper checks that its header is
 * entirely inside the packet, validates what later code will rely on,
 * advances the cursor past the header and returns >= 0 on success or a
 * negative reason code (-REASON_DROP_*) for a malformed frame.
 *
 * Pointers into the packet are only valid until the packet changes
 * (bpf_xdp_adjust_head/tail): re-parse after any such call.
 */
#ifndef XDPNET_PARSE_H
#define XDPNET_PARSE_H

#include "common.h"

struct hdr_cursor {
	void *pos;
	void *end;
};

static __always_inline void cursor_init(struct hdr_cursor *cursor, struct xdp_md *ctx)
{
	cursor->pos = (void *)(long)ctx->data;
	cursor->end = (void *)(long)ctx->data_end;
}

/* Tenants may send at most one 802.1Q tag inside an 802.1ad one (QinQ). */
#define MAX_VLAN_TAGS 2

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct l2_info {
	struct ethhdr *eth;
	/* Ethertype after any VLAN tags, network byte order. */
	__be16 proto;
	__u8 vlan_count;
	/* VLAN IDs, outermost first, host byte order (12 bits). */
	__u16 vlan_ids[MAX_VLAN_TAGS];
};

static __always_inline bool is_vlan_proto(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

static __always_inline bool mac_is_multicast(const __u8 *mac)
{
	/* The I/G bit; broadcast is multicast too. */
	return mac[0] & 1;
}

static __always_inline int parse_ethernet(struct hdr_cursor *cursor, struct l2_info *l2)
{
	struct ethhdr *eth = cursor->pos;
	__be16 proto;

	if ((void *)(eth + 1) > cursor->end)
		return -REASON_DROP_TRUNCATED_ETHERNET;
	cursor->pos = eth + 1;
	l2->eth = eth;
	l2->vlan_count = 0;
	proto = eth->h_proto;

	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = cursor->pos;

		if (!is_vlan_proto(proto))
			break;
		if ((void *)(tag + 1) > cursor->end)
			return -REASON_DROP_TRUNCATED_ETHERNET;
		l2->vlan_ids[i] = bpf_ntohs(tag->tci) & 0x0fff;
		l2->vlan_count = i + 1;
		proto = tag->encapsulated_proto;
		cursor->pos = tag + 1;
	}
	if (is_vlan_proto(proto))
		return -REASON_DROP_TOO_MANY_VLAN_TAGS;
	l2->proto = proto;
	return 0;
}

/*
 * ARP for IPv4 over Ethernet (RFC 826), the only kind the fast path handles.
 * Packed (the addresses are not 4-byte aligned in it), 2-byte aligned: it
 * follows the Ethernet header and any VLAN tags, at an even offset, so an
 * address is read in 16-bit halves, not byte by byte.
 */
struct arp_ipv4 {
	__be16 hw_type;
	__be16 proto_type;
	__u8 hw_len;
	__u8 proto_len;
	__be16 op;
	__u8 sender_mac[ETH_ALEN];
	__be32 sender_ip;
	__u8 target_mac[ETH_ALEN];
	__be32 target_ip;
} __attribute__((packed, aligned(2)));

static __always_inline int parse_arp(struct hdr_cursor *cursor, struct arp_ipv4 **out)
{
	struct arp_ipv4 *arp = cursor->pos;

	if ((void *)(arp + 1) > cursor->end)
		return -REASON_DROP_MALFORMED_ARP;
	if (arp->hw_type != bpf_htons(1) || arp->proto_type != bpf_htons(ETH_P_IP) ||
	    arp->hw_len != ETH_ALEN || arp->proto_len != 4)
		return -REASON_DROP_MALFORMED_ARP;
	cursor->pos = arp + 1;
	*out = arp;
	return 0;
}

/*
 * Validates version, header length and total length. The total length may be
 * shorter than what is left of the frame (Ethernet pads short frames to 60
 * bytes) but never longer.
 */
static __always_inline int parse_ipv4(struct hdr_cursor *cursor, struct iphdr **out)
{
	struct iphdr *ip = cursor->pos;
	__u32 header_len, total_len;

	if ((void *)(ip + 1) > cursor->end)
		return -REASON_DROP_TRUNCATED_IPV4;
	if (ip->version != 4 || ip->ihl < 5)
		return -REASON_DROP_MALFORMED_IPV4;
	header_len = ip->ihl * 4;
	if (cursor->pos + header_len > cursor->end)
		return -REASON_DROP_TRUNCATED_IPV4;
	total_len = bpf_ntohs(ip->tot_len);
	if (total_len < header_len || cursor->pos + total_len > cursor->end)
		return -REASON_DROP_MALFORMED_IPV4;
	cursor->pos += header_len;
	*out = ip;
	return 0;
}

/* True for any fragment, first included: none of them can be handled alone. */
static __always_inline bool ipv4_is_fragment(const struct iphdr *ip)
{
	/* IP_MF | IP_OFFSET in the flags/fragment-offset field. */
	return (ip->frag_off & bpf_htons(0x3fff)) != 0;
}

/*
 * Checks that the L4 header of an unfragmented IPv4 packet is complete.
 * Other protocols (GRE, ESP, ...) are not looked into and pass.
 */
static __always_inline int parse_l4(struct hdr_cursor *cursor, __u8 protocol)
{
	switch (protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = cursor->pos;

		if ((void *)(tcp + 1) > cursor->end || tcp->doff < 5 ||
		    cursor->pos + tcp->doff * 4 > cursor->end)
			return -REASON_DROP_TRUNCATED_L4;
		cursor->pos += tcp->doff * 4;
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = cursor->pos;

		if ((void *)(udp + 1) > cursor->end || bpf_ntohs(udp->len) < sizeof(*udp))
			return -REASON_DROP_TRUNCATED_L4;
		cursor->pos = udp + 1;
		return 0;
	}
	case IPPROTO_ICMP: {
		struct icmp_hdr *icmp = cursor->pos;

		if ((void *)(icmp + 1) > cursor->end)
			return -REASON_DROP_TRUNCATED_L4;
		cursor->pos = icmp + 1;
		return 0;
	}
	default:
		return 0;
	}
}

#endif /* XDPNET_PARSE_H */
