/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Validation of frames arriving on an interface the node owns (the underlay,
 * an external NIC): every header the fast path relies on (Ethernet and VLAN
 * tags, ARP, IPv4, the TCP/UDP/ICMP header). Programs on such interfaces call
 * host_ingress() first; it decides every frame that is malformed or not IPv4
 * and hands back the rest, parsed, for the program to look into.
 *
 * Declares the load-time setting verify_ipv4_checksum for the object that
 * includes it.
 */
#ifndef XDPNET_HOST_INGRESS_H
#define XDPNET_HOST_INGRESS_H

#include "common.h"
#include "config.h"
#include "csum.h"
#include "parse.h"
#include "verdict.h"

/* Off where the NIC already verifies IPv4 checksums and the cycles matter. */
DECLARE_CONFIG(bool, verify_ipv4_checksum, true);

/* A well-formed, unfragmented IPv4 packet, parsed. */
struct host_ipv4 {
	struct hdr_cursor cursor; /* past the L4 header */
	struct iphdr *ip;
	void *l4;                 /* the TCP/UDP/ICMP header (checked complete) */
};

/*
 * True when the frame is decided (*result says how: malformed frames are
 * dropped, ARP, non-IPv4 and fragments passed to the kernel). False when it
 * is a well-formed, unfragmented IPv4 packet, parsed into *pkt.
 */
static __always_inline bool host_ingress(struct xdp_md *ctx, struct host_ipv4 *pkt, outcome_t *result)
{
	struct l2_info l2;
	struct arp_ipv4 *arp;
	int ret;

	cursor_init(&pkt->cursor, ctx);
	ret = parse_ethernet(&pkt->cursor, &l2);
	if (ret < 0)
		goto drop;
	if (mac_is_multicast(l2.eth->h_source)) {
		*result = drop(REASON_DROP_INVALID_SOURCE_MAC);
		return true;
	}

	if (l2.proto == bpf_htons(ETH_P_ARP)) {
		ret = parse_arp(&pkt->cursor, &arp);
		*result = ret < 0 ? drop_from(ret) : pass(REASON_PASS_HOST);
		return true;
	}
	if (l2.proto != bpf_htons(ETH_P_IP)) {
		*result = pass(REASON_PASS_OTHER_ETHERTYPE);
		return true;
	}

	ret = parse_ipv4(&pkt->cursor, &pkt->ip);
	if (ret < 0)
		goto drop;
	if (CONFIG(verify_ipv4_checksum) && !ipv4_checksum_ok(pkt->ip, pkt->cursor.end)) {
		*result = drop(REASON_DROP_BAD_IPV4_CHECKSUM);
		return true;
	}
	if (ipv4_is_fragment(pkt->ip)) {
		*result = pass(REASON_PASS_IPV4_FRAGMENT);
		return true;
	}
	pkt->l4 = pkt->cursor.pos;
	ret = parse_l4(&pkt->cursor, pkt->ip->protocol);
	if (ret < 0)
		goto drop;
	return false;

drop:
	*result = drop_from(ret);
	return true;
}

#endif /* XDPNET_HOST_INGRESS_H */
