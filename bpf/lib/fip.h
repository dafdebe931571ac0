/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The 1:1 translation of a floating IP (fip_maps.h): one address of the
 * packet replaced, ports and echo identifiers kept, every checksum that
 * covers the address kept right (incrementally, nat_rewrite.h):
 *
 *   outbound (from the VM)   source:      fixed IP    -> floating IP
 *   inbound  (to the VM)     destination: floating IP -> fixed IP
 *
 *   IPv4       the header checksum (with the TTL, where it is decremented)
 *   TCP, UDP   the L4 checksum, through the pseudo-header; a UDP checksum of
 *              0 (none) stays 0, a computed 0 is sent as 0xffff
 *   ICMP       no pseudo-header: nothing, except in an error (destination
 *              unreachable, time exceeded, parameter problem: the types
 *              snat_reverse.h translates), whose quoted packet went the other
 *              way and gets the other way's translation: its destination
 *              (outbound) or its source (inbound), with the quoted IPv4
 *              checksum, the quoted UDP checksum, the quoted TCP checksum
 *              where 18 bytes or more are quoted, and the ICMP checksum over
 *              all of it. Other ICMP (echo, timestamps, redirects) keeps its
 *              body as it is.
 *
 * Dropped instead of translated:
 *   a fragment                  (FIP_FRAGMENT) xdp_external hands inbound
 *                               fragments to the kernel before it looks at
 *                               addresses (host_ingress.h), so a fragmented
 *                               datagram could only ever pass one way
 *   neither TCP, UDP nor ICMP   (FIP_PROTOCOL) some protocols checksum the
 *                               addresses in ways not handled here (DCCP,
 *                               UDP-Lite): better dropped than sent corrupt
 *   an ICMP error whose quote is not the other direction's packet: cut short
 *   of an IPv4 header without options and 8 bytes of L4, a later fragment,
 *   a protocol other than TCP, UDP, ICMP, or not from (inbound) / to
 *   (outbound) the translated address   (FIP_MALFORMED_ICMP_ERROR)
 *
 * No connection state: each packet is translated by the map entries alone,
 * so an association takes effect with its map writes and leaves nothing
 * behind when it goes. It also means a floating IP takes every packet of
 * its fixed IP, the VM's SNAT connections opened before the association
 * included (their replies still come back through SNAT; what the VM sends
 * on them leaves from the floating IP). Linux's conntrack would keep those
 * on SNAT until they end; not keeping them saves a connection lookup on
 * every floating IP packet.
 */
#ifndef XDPNET_FIP_H
#define XDPNET_FIP_H

#include "common.h"
#include "fip_maps.h"
#include "nat_rewrite.h"
#include "parse.h"

#define FIP_ICMP_PARAMETER_PROBLEM 12

/* What fip_check() found: a packet whose L4 is left alone but for the checksum, or an ICMP error to translate inside. */
#define FIP_PLAIN 0
#define FIP_ICMP_ERROR 1

static __always_inline struct fip_out *fip_out_lookup(const __u8 *router_id, __be32 fixed_ip)
{
	struct fip_key key = { .ip = fixed_ip };

	__builtin_memcpy(key.router_id, router_id, ROUTER_ID_LEN);
	return bpf_map_lookup_elem(&xdpnet_fip_out, &key);
}

static __always_inline struct fip_in *fip_in_lookup(const __u8 *router_id, __be32 floating_ip)
{
	struct fip_key key = { .ip = floating_ip };

	__builtin_memcpy(key.router_id, router_id, ROUTER_ID_LEN);
	return bpf_map_lookup_elem(&xdpnet_fip_in, &key);
}

static __always_inline bool fip_icmp_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == FIP_ICMP_PARAMETER_PROBLEM;
}

/*
 * Whether the IPv4 packet `ip` (IHL 5, within the frame) can be translated,
 * outbound or inbound: its source (outbound) or destination (inbound) is the
 * address `from` that is to be replaced. Returns FIP_PLAIN, FIP_ICMP_ERROR,
 * or -REASON_DROP_*. Nothing is changed: the caller may still decide
 * otherwise.
 */
static __always_inline int fip_check(const struct iphdr *ip, void *end, bool outbound, __be32 from)
{
	void *ip_end = (void *)ip + bpf_ntohs(ip->tot_len);
	const struct icmp_hdr *icmp = (const void *)(ip + 1);
	const struct iphdr *inner = (const void *)(icmp + 1);
	const struct udphdr *ports = (const void *)(inner + 1); /* the quote's first 8 bytes of L4 */

	if (ipv4_is_fragment(ip))
		return -REASON_DROP_FIP_FRAGMENT;
	switch (ip->protocol) {
	case IPPROTO_TCP:
		if ((void *)((struct tcphdr *)(ip + 1) + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		return FIP_PLAIN;
	case IPPROTO_UDP:
		if ((void *)((struct udphdr *)(ip + 1) + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		return FIP_PLAIN;
	case IPPROTO_ICMP:
		if ((void *)(icmp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		if (!fip_icmp_is_error(icmp->type))
			return FIP_PLAIN;
		/* Within the IPv4 packet (ip_end) and, for the verifier, the frame. */
		if ((void *)(ports + 1) > ip_end || (void *)(ports + 1) > end)
			return -REASON_DROP_FIP_MALFORMED_ICMP_ERROR;
		if (inner->version != 4 || inner->ihl != 5 || (inner->frag_off & bpf_htons(0x1fff)))
			return -REASON_DROP_FIP_MALFORMED_ICMP_ERROR;
		/* The quote went the other way: to the VM's address (outbound), from the floating IP (inbound). */
		if ((outbound ? inner->daddr : inner->saddr) != from)
			return -REASON_DROP_FIP_MALFORMED_ICMP_ERROR;
		if (inner->protocol != IPPROTO_TCP && inner->protocol != IPPROTO_UDP && inner->protocol != IPPROTO_ICMP)
			return -REASON_DROP_FIP_MALFORMED_ICMP_ERROR;
		return FIP_ICMP_ERROR;
	default:
		return -REASON_DROP_FIP_PROTOCOL;
	}
}

/*
 * The quoted packet of the ICMP error in `ip` (fip_check: FIP_ICMP_ERROR)
 * gets `to` as its destination (outbound) or source (inbound), with its
 * checksums; returns what that changed in the ICMP checksum, or
 * -REASON_DROP_FIP_MALFORMED_ICMP_ERROR.
 */
static __always_inline long fip_rewrite_quote(struct iphdr *ip, void *end, bool outbound, __be32 to)
{
	void *ip_end = (void *)ip + bpf_ntohs(ip->tot_len);
	struct icmp_hdr *icmp = (void *)(ip + 1);
	struct iphdr *inner = (void *)(icmp + 1);
	struct tcphdr *tcp = (void *)(inner + 1);
	struct udphdr *udp = (void *)(inner + 1);
	__be32 *field;
	__u32 d_addr, d_icmp;
	__sum16 old;

	/* Verifier: fip_check checked these bounds on its own pointers. */
	if ((void *)(udp + 1) > ip_end || (void *)(udp + 1) > end)
		return -REASON_DROP_FIP_MALFORMED_ICMP_ERROR;
	field = outbound ? &inner->daddr : &inner->saddr;
	d_addr = csum_delta4(*field, to);
	old = inner->check;
	*field = to;
	csum_apply(&inner->check, d_addr);
	d_icmp = d_addr + csum_delta2(old, inner->check);

	switch (inner->protocol) {
	case IPPROTO_TCP:
		/* The checksum (bytes 16..17) only if quoted, as snat_reverse.h. */
		if ((void *)&tcp->urg_ptr <= ip_end && (void *)&tcp->urg_ptr <= end) {
			old = tcp->check;
			csum_apply(&tcp->check, d_addr);
			d_icmp += csum_delta2(old, tcp->check);
		}
		break;
	case IPPROTO_UDP:
		old = udp->check;
		csum_apply_udp(&udp->check, d_addr);
		d_icmp += csum_delta2(old, udp->check);
		break;
	default: /* ICMP: no pseudo-header, the quoted ICMP checksum does not cover the address */
		break;
	}
	return d_icmp;
}

/*
 * Translates the packet `ip` that fip_check() accepted as `kind`: its
 * source (outbound) or destination becomes `to`, and an error's quote the
 * other way; `ttl`: the TTL one lower as well (once per routed hop: a
 * hairpin translates twice and decrements once). Returns 0, or -REASON_DROP_*
 * with the packet unchanged.
 */
static __always_inline int fip_rewrite(struct iphdr *ip, void *end, bool outbound, __be32 to, int kind, bool ttl)
{
	__be32 *field = outbound ? &ip->saddr : &ip->daddr;
	__u32 d_addr = csum_delta4(*field, to);
	__u32 d_ttl = 0;
	long d_icmp;

	switch (ip->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = (void *)(ip + 1);

		if ((void *)(tcp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		csum_apply(&tcp->check, d_addr);
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = (void *)(ip + 1);

		if ((void *)(udp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		csum_apply_udp(&udp->check, d_addr);
		break;
	}
	case IPPROTO_ICMP: {
		struct icmp_hdr *icmp = (void *)(ip + 1);

		if (kind != FIP_ICMP_ERROR)
			break;
		if ((void *)(icmp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		d_icmp = fip_rewrite_quote(ip, end, outbound, to);
		if (d_icmp < 0)
			return d_icmp;
		csum_apply(&icmp->checksum, (__u32)d_icmp);
		break;
	}
	default:
		return -REASON_DROP_FIP_PROTOCOL;
	}
	*field = to;
	if (ttl)
		d_ttl = ipv4_ttl_delta(ip);
	csum_apply(&ip->check, d_addr + d_ttl);
	return 0;
}

/* A VM's packet out through its floating IP `fip`: checked and translated, TTL one lower. 0 or -REASON_DROP_*. */
static __always_inline int fip_egress(struct iphdr *ip, void *end, const struct fip_out *fip)
{
	int kind = fip_check(ip, end, true, ip->saddr);

	if (kind < 0)
		return kind;
	return fip_rewrite(ip, end, true, fip->floating_ip, kind, true);
}

#endif /* XDPNET_FIP_H */
