/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rewriting addresses and ports in place with every checksum kept right
 * (RFC 1624, incrementally: never re-summing a payload). A field change is a
 * one's-complement difference (csum_delta*), computed once and added to
 * every checksum that covers the field:
 *
 *   IPv4 header checksum   the addresses, the TTL
 *   TCP, UDP checksum      the ports, and the addresses through the
 *                          pseudo-header; a UDP checksum of 0 means "none"
 *                          and stays 0, and a computed 0 is sent as 0xffff
 *                          (RFC 768, Linux's CSUM_MANGLED_0)
 *   ICMP checksum          the echo identifier; for an error, every word
 *                          changed in the packet it quotes
 *
 * The callers have checked that the IPv4 header lies within the packet and
 * has no options (IHL 5); the L4 header is checked here.
 */
#ifndef XDPNET_NAT_REWRITE_H
#define XDPNET_NAT_REWRITE_H

#include "common.h"
#include "csum.h"

/* What replacing the 16-bit word `from` by `to` adds to a one's-complement sum. */
static __always_inline __u32 csum_delta2(__be16 from, __be16 to)
{
	return (__u16)~from + (__u32)(__u16)to;
}

/* As csum_delta2, for a 32-bit field (an IPv4 address): its two words. */
static __always_inline __u32 csum_delta4(__be32 from, __be32 to)
{
	return (__u16)~(from & 0xffff) + (__u16)~(from >> 16) + (to & 0xffff) + (to >> 16);
}

/* RFC 1624 eqn. 3 with the summed differences of every changed word: HC' = ~(~HC + delta). */
static __always_inline void csum_apply(__sum16 *check, __u32 delta)
{
	*check = (__sum16)~csum_fold32((__u16)~*check + delta);
}

/* As csum_apply, for a UDP checksum: 0 (none) stays 0, a result of 0 is sent as 0xffff. */
static __always_inline void csum_apply_udp(__sum16 *check, __u32 delta)
{
	if (!*check)
		return;
	csum_apply(check, delta);
	if (!*check)
		*check = (__sum16)0xffff;
}

/* The TTL/protocol word with the TTL one lower: its difference. */
static __always_inline __u32 ipv4_ttl_delta(struct iphdr *ip)
{
	__be16 old;
	__be16 new = ipv4_ttl_decrement(ip, &old);

	return csum_delta2(old, new);
}

/*
 * The port (or ICMP echo identifier) at `field` in the L4 header of the
 * packet `ip` becomes `port`: the L4 checksum gets that change and `d_addr`
 * (the pseudo-header's, for TCP and UDP). Returns 0, or
 * -REASON_DROP_TRUNCATED_L4 when the header the checksum is in is cut
 * short (nothing changed then).
 *
 * Each protocol's header is bounds-checked here, on the pointer that is
 * written through: the verifier follows nothing else.
 */
static __always_inline int l4_rewrite_port(struct iphdr *ip, void *end, bool source, __be16 port, __u32 d_addr)
{
	void *l4 = ip + 1;

	switch (ip->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = l4;
		__be16 *field = source ? &tcp->source : &tcp->dest;

		if ((void *)(tcp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		csum_apply(&tcp->check, d_addr + csum_delta2(*field, port));
		*field = port;
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = l4;
		__be16 *field = source ? &udp->source : &udp->dest;

		if ((void *)(udp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		csum_apply_udp(&udp->check, d_addr + csum_delta2(*field, port));
		*field = port;
		return 0;
	}
	case IPPROTO_ICMP: {
		struct icmp_hdr *icmp = l4;

		/* No pseudo-header: only the identifier counts. */
		if ((void *)(icmp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		csum_apply(&icmp->checksum, csum_delta2(icmp->echo_id, port));
		icmp->echo_id = port;
		return 0;
	}
	default:
		return -REASON_DROP_SNAT_PROTOCOL;
	}
}

/*
 * The forwarded packet's source (address and port, or echo identifier)
 * becomes (`addr`, `port`) and its TTL one lower. Returns 0 or -REASON_DROP_*
 * (the packet then unchanged).
 */
static __always_inline int nat_rewrite_source(struct iphdr *ip, void *end, __be32 addr, __be16 port)
{
	__u32 d_addr = csum_delta4(ip->saddr, addr);
	int ret;

	ret = l4_rewrite_port(ip, end, true, port, d_addr);
	if (ret < 0)
		return ret;
	ip->saddr = addr;
	csum_apply(&ip->check, d_addr + ipv4_ttl_delta(ip));
	return 0;
}

/* As nat_rewrite_source, for the destination (address and port, or echo identifier). */
static __always_inline int nat_rewrite_dest(struct iphdr *ip, void *end, __be32 addr, __be16 port)
{
	__u32 d_addr = csum_delta4(ip->daddr, addr);
	int ret;

	ret = l4_rewrite_port(ip, end, false, port, d_addr);
	if (ret < 0)
		return ret;
	ip->daddr = addr;
	csum_apply(&ip->check, d_addr + ipv4_ttl_delta(ip));
	return 0;
}

#endif /* XDPNET_NAT_REWRITE_H */
