/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ICMP a router sends (RFC 792, RFC 1812 4.3), built in the frame that
 * caused it and sent back out of the port it came from (XDP_TX): the echo
 * reply for a ping to one of the router's addresses, and the errors about a
 * packet it does not forward.
 *
 * Both take an untagged Ethernet frame with an IPv4 header of 20 bytes (no
 * options): route.h routes nothing else.
 *
 * What an error looks like, field by field:
 *   Ethernet  to the sender's MAC (the frame's source), from the router's MAC
 *   IPv4      IHL 5, TOS 0xc0 (precedence internetwork control, RFC 1812
 *             4.3.2.5, as Linux sends its errors), ID 0 with DF set (atomic,
 *             RFC 6864 4.1; 70 bytes at most never need fragmenting), TTL 64,
 *             from the router's address on the sender's network, to the
 *             sender's address
 *   ICMP      type, code; the 4 "unused" bytes zero, except the next-hop MTU
 *             in the low 16 bits for fragmentation needed (RFC 1191);
 *             then the offending packet's IPv4 header and first 8 bytes of
 *             payload as received (RFC 792), fewer if it has fewer
 * There is no rate limit (Linux has icmp_ratelimit): an error only ever goes
 * back to the port that caused it, at most 70 bytes for each frame it sent.
 */
#ifndef XDPNET_ICMP_H
#define XDPNET_ICMP_H

#include "common.h"
#include "csum.h"
#include "mac.h"

/* Codes of ICMP_DEST_UNREACH and ICMP_TIME_EXCEEDED used here. */
#define ICMP_NET_UNREACH 0
#define ICMP_FRAG_NEEDED 4
#define ICMP_EXC_TTL 0

/* RFC 1812 4.3.2.5: precedence 6 (internetwork control). */
#define ICMP_ERROR_TOS 0xc0
#define ICMP_TTL 64

/* What an error quotes at most: the IPv4 header (no options here) and 8 bytes of payload. */
#define ICMP_QUOTE_MAX ((__u32)sizeof(struct iphdr) + 8)

/*
 * An address that names a single host (RFC 1812 4.3.2.7): not in 0.0.0.0/8
 * ("this network"), loopback, multicast, class E or the broadcast address.
 */
static __always_inline bool ipv4_is_single_host(__be32 addr)
{
	__u32 a = bpf_ntohl(addr);

	return (a >> 24) != 0 && (a >> 24) != 127 && a < 0xe0000000;
}

/* Error messages, and types Linux does not know (> 18): never answered with an error. */
static __always_inline bool icmp_type_is_error(__u8 type)
{
	return type > 18 || type == ICMP_DEST_UNREACH || type == 4 /* source quench */ || type == 5 /* redirect */ ||
	       type == ICMP_TIME_EXCEEDED || type == 12 /* parameter problem */;
}

/*
 * Whether an error may be sent about `ip` (RFC 1812 4.3.2.7, as Linux's
 * icmp_send): not about an ICMP error, not about a fragment other than the
 * first, and only between addresses that each name one host. An ICMP header
 * that is not in the frame (a first fragment cut short) counts as an error's.
 */
static __always_inline bool icmp_error_allowed(const struct iphdr *ip, const void *end)
{
	const struct icmp_hdr *icmp = (const void *)(ip + 1);

	if (!ipv4_is_single_host(ip->saddr) || !ipv4_is_single_host(ip->daddr))
		return false;
	if (ip->frag_off & bpf_htons(0x1fff)) /* IP_OFFSET: not the first fragment */
		return false;
	if (ip->protocol == IPPROTO_ICMP && ((const void *)(icmp + 1) > end || icmp_type_is_error(icmp->type)))
		return false;
	return true;
}

/*
 * Turns the ICMP echo request at `icmp` into its reply, in place and at the
 * same length: type 0 (code, identifier, sequence and data kept), addresses
 * swapped, TTL 64, the Ethernet addresses from `src_mac` back to the sender.
 * Both checksums are updated incrementally (RFC 1624); swapping the addresses
 * leaves the IPv4 one as it was (the same words, summed).
 */
static __always_inline void icmp_echo_reply(struct ethhdr *eth, struct iphdr *ip, struct icmp_hdr *icmp,
					    const __u8 *src_mac)
{
	__be32 addr = ip->saddr;
	__be16 *ttl_word = (__be16 *)&ip->ttl; /* TTL and protocol: one checksum word */
	__be16 old_ttl_word = *ttl_word;

	/* Only the type byte of the (type, code) word changes: 8 -> 0. */
	icmp->type = ICMP_ECHOREPLY;
	csum_replace2(&icmp->checksum, bpf_htons(ICMP_ECHO << 8), bpf_htons(ICMP_ECHOREPLY << 8));

	ip->saddr = ip->daddr;
	ip->daddr = addr;
	ip->ttl = ICMP_TTL;
	csum_replace2(&ip->check, old_ttl_word, *ttl_word);

	mac_copy(eth->h_dest, eth->h_source);
	mac_copy(eth->h_source, src_mac);
}

/*
 * Replaces the frame with the ICMP error `type`/`code` about the IPv4 packet
 * in it (`mtu`: the next-hop MTU of fragmentation needed, else 0), from
 * (`src_mac`, `saddr`) back to its sender. The caller has checked
 * icmp_error_allowed(). Returns 0, or -REASON_DROP_RESIZE_FAILED (no headroom).
 * Every packet pointer is invalid afterwards.
 *
 * The quoted bytes do not move: 28 bytes of headroom in front of the frame
 * put them (at offset 14) right after the new 42 bytes of headers; the tail
 * beyond them is cut.
 */
static __always_inline int icmp_send_error(struct xdp_md *ctx, __u8 type, __u8 code, __u16 mtu, __be32 saddr,
					   const __u8 *src_mac)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *old_ip = (void *)(eth + 1);
	__u32 frame_len = data_end - data;
	/* Words, so that csum_words reads it aligned; zero past the quote, which pads an odd length. */
	__u16 quote[ICMP_QUOTE_MAX / 2] = {};
	const __u32 headers = sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct icmp_hdr);
	__u8 dst_mac[ETH_ALEN] __attribute__((aligned(2))); /* mac.h copies 16-bit words */
	struct icmp_hdr icmp = {};
	struct iphdr ip = {};
	__u32 quote_len, new_len;

	if ((void *)(old_ip + 1) > data_end)
		return -REASON_DROP_TRUNCATED_IPV4;
	quote_len = bpf_ntohs(old_ip->tot_len);
	if (quote_len > ICMP_QUOTE_MAX)
		quote_len = ICMP_QUOTE_MAX;
	/* parse_ipv4 has checked it; the verifier needs the bounds for the load below. */
	if (quote_len < sizeof(struct iphdr) || sizeof(struct ethhdr) + quote_len > frame_len)
		return -REASON_DROP_MALFORMED_IPV4;
	if (bpf_xdp_load_bytes(ctx, sizeof(struct ethhdr), quote, quote_len))
		return -REASON_DROP_MALFORMED_IPV4;
	mac_copy(dst_mac, eth->h_source);

	ip.version = 4;
	ip.ihl = 5;
	ip.tos = ICMP_ERROR_TOS;
	ip.tot_len = bpf_htons(sizeof(struct iphdr) + sizeof(struct icmp_hdr) + quote_len);
	ip.frag_off = bpf_htons(0x4000); /* IP_DF */
	ip.ttl = ICMP_TTL;
	ip.protocol = IPPROTO_ICMP;
	ip.saddr = saddr;
	ip.daddr = old_ip->saddr;
	ip.check = ipv4_checksum20(&ip);

	icmp.type = type;
	icmp.code = code;
	icmp.echo_sequence = bpf_htons(mtu); /* the low half of the "unused" word: RFC 1191's next-hop MTU */
	icmp.checksum = (__sum16)~csum_fold32(csum_words(&icmp, sizeof(icmp) / 2) +
					      csum_words(quote, ICMP_QUOTE_MAX / 2));

	if (bpf_xdp_adjust_head(ctx, -(int)(headers - sizeof(struct ethhdr))))
		return -REASON_DROP_RESIZE_FAILED;
	/* The frame is now frame_len + 28 bytes; the error is headers + quote_len (never more). */
	new_len = headers + quote_len;
	if (frame_len + headers - sizeof(struct ethhdr) > new_len &&
	    bpf_xdp_adjust_tail(ctx, -(int)(frame_len + headers - sizeof(struct ethhdr) - new_len)))
		return -REASON_DROP_RESIZE_FAILED;

	/* adjust_head/tail invalidated every packet pointer: derive them again. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + headers > data_end)
		return -REASON_DROP_RESIZE_FAILED;
	eth = data;
	mac_copy(eth->h_dest, dst_mac);
	mac_copy(eth->h_source, src_mac);
	eth->h_proto = bpf_htons(ETH_P_IP);
	__builtin_memcpy(data + sizeof(struct ethhdr), &ip, sizeof(ip));
	__builtin_memcpy(data + sizeof(struct ethhdr) + sizeof(ip), &icmp, sizeof(icmp));
	return 0;
}

#endif /* XDPNET_ICMP_H */
