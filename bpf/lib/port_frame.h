/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a VM port sent, parsed once with the guard's header validation
 * (parse.h) into what port security, the ARP responder, the switch and the
 * encapsulation need: the L2 header, the ARP or IPv4 header, the L4 ports,
 * lengths and the flow hash.
 *
 * The pointers are into the packet: valid until the packet changes.
 */
#ifndef XDPNET_PORT_FRAME_H
#define XDPNET_PORT_FRAME_H

#include "common.h"
#include "hash.h"
#include "parse.h"

struct port_frame {
	struct l2_info l2;
	/* IPv4-over-Ethernet ARP, else NULL. */
	struct arp_ipv4 *arp;
	/* IPv4, else NULL. */
	struct iphdr *ip;
	/* The whole frame as sent, bytes. */
	__u32 frame_len;
	/* What the network MTU limits: the IPv4 total length, or the bytes after the L2 header. */
	__u32 l3_len;
	/* TCP/UDP ports (host order) of an unfragmented IPv4 packet, else 0. */
	__u16 sport;
	__u16 dport;
};

/* Returns 0, or -REASON_DROP_* for a frame no port may send. */
static __always_inline int parse_port_frame(struct hdr_cursor *cursor, struct port_frame *f)
{
	void *start = cursor->pos;
	void *l4;
	int ret;

	f->arp = NULL;
	f->ip = NULL;
	f->sport = 0;
	f->dport = 0;
	ret = parse_ethernet(cursor, &f->l2);
	if (ret < 0)
		return ret;
	if (mac_is_multicast(f->l2.eth->h_source))
		return -REASON_DROP_INVALID_SOURCE_MAC;
	f->frame_len = cursor->end - start;
	f->l3_len = cursor->end - cursor->pos;

	if (f->l2.proto == bpf_htons(ETH_P_ARP))
		return parse_arp(cursor, &f->arp);
	if (f->l2.proto != bpf_htons(ETH_P_IP))
		return 0;

	ret = parse_ipv4(cursor, &f->ip);
	if (ret < 0)
		return ret;
	f->l3_len = bpf_ntohs(f->ip->tot_len);
	if (ipv4_is_fragment(f->ip))
		return 0;
	l4 = cursor->pos;
	ret = parse_l4(cursor, f->ip->protocol);
	if (ret < 0)
		return ret;
	if (f->ip->protocol == IPPROTO_TCP || f->ip->protocol == IPPROTO_UDP) {
		/* TCP and UDP both start with the two ports; parse_l4 checked the header. */
		struct udphdr *ports = l4;

		/* Verifier: the check inside parse_l4 was on another copy of the pointer. */
		if ((void *)(ports + 1) > cursor->end)
			return -REASON_DROP_TRUNCATED_L4;
		f->sport = bpf_ntohs(ports->source);
		f->dport = bpf_ntohs(ports->dest);
	}
	return 0;
}

/*
 * The inner flow's hash, for the outer UDP source port (underlay ECMP/RSS
 * entropy). Every word is taken as a host-order number of the network-order
 * field, so the value does not depend on the CPU's byte order:
 *   IPv4:  jhash_3words(saddr, daddr, sport << 16 | dport, protocol); ports are
 *          0 for fragments (all fragments of a datagram hash alike, the first
 *          included) and for protocols without them;
 *   other: jhash_3words(dst[0..3], dst[4..5] << 16 | src[0..1], src[2..5], ethertype).
 */
static __always_inline __u32 port_frame_hash(const struct port_frame *f)
{
	const __u8 *d = f->l2.eth->h_dest;
	const __u8 *s = f->l2.eth->h_source;

	if (f->ip) {
		return jhash_3words(bpf_ntohl(f->ip->saddr), bpf_ntohl(f->ip->daddr),
				    ((__u32)f->sport << 16) | f->dport, f->ip->protocol);
	}
	return jhash_3words(((__u32)d[0] << 24) | ((__u32)d[1] << 16) | ((__u32)d[2] << 8) | d[3],
			    ((__u32)d[4] << 24) | ((__u32)d[5] << 16) | ((__u32)s[0] << 8) | s[1],
			    ((__u32)s[2] << 24) | ((__u32)s[3] << 16) | ((__u32)s[4] << 8) | s[5],
			    bpf_ntohs(f->l2.proto));
}

#endif /* XDPNET_PORT_FRAME_H */
