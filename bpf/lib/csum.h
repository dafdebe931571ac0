/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksum (RFC 1071) verification and incremental update (RFC 1624). */
#ifndef XDPNET_CSUM_H
#define XDPNET_CSUM_H

#include "common.h"

/* Fold a 32-bit one's-complement sum into 16 bits (not inverted). */
static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/*
 * The one's-complement sum, not folded, of `words` 16-bit words at `p`, each
 * taken as it sits in memory: the sum is byte-order independent (RFC 1071
 * 2(B)), so folding it and storing it back as is gives a network-order
 * checksum. `p` must be 2-byte aligned and readable for 2 * `words` bytes;
 * with a constant `words` the loop unrolls.
 */
static __always_inline __u32 csum_words(const void *p, const int words)
{
	const __u16 *word = p;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < words; i++)
		sum += word[i];
	return sum;
}

/* The checksum of a 20-byte IPv4 header (no options) whose checksum field is 0. */
static __always_inline __sum16 ipv4_checksum20(const struct iphdr *ip)
{
	return (__sum16)~csum_fold32(csum_words(ip, sizeof(*ip) / 2));
}

/*
 * As ipv4_checksum_ok, for a header known to have no options (IHL 5) and to
 * lie within the packet: ten words, no loop over the IHL.
 */
static __always_inline bool ipv4_checksum_ok20(const struct iphdr *ip)
{
	return csum_fold32(csum_words(ip, sizeof(*ip) / 2)) == 0xffff;
}

/*
 * True when the IPv4 header checksum verifies: the one's-complement sum over
 * the whole header, checksum field included, is 0xffff.
 */
static __always_inline bool ipv4_checksum_ok(const struct iphdr *ip, const void *end)
{
	const __u16 *word = (const __u16 *)ip;
	__u32 words = ip->ihl * 2;
	__u32 sum = 0;

	/*
	 * Nearly every header has no options: its ten words summed unrolled,
	 * with one bound check instead of a loop checking each word.
	 */
	if (words == 10 && (const void *)(ip + 1) <= end)
		return ipv4_checksum_ok20(ip);

	/* 60 bytes (IHL 15) is the largest IPv4 header: at most 30 words. */
	for (__u32 i = 0; i < 30; i++) {
		if (i >= words)
			break;
		/*
		 * Verifier workaround: without the barrier clang hoists this
		 * bound check out of the loop as "i < (end - ip) / 2", which the
		 * verifier cannot relate to the packet pointer it then reads.
		 */
		barrier_var(word);
		if ((const void *)(word + 1) > end)
			return false;
		sum += *word;
		word++;
	}
	return csum_fold32(sum) == 0xffff;
}

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from
 * `from` to `to`. Works on network-order values as they sit in the packet.
 */
static __always_inline void csum_replace2(__sum16 *checksum, __be16 from, __be16 to)
{
	__u32 sum = (__u16)~*checksum;

	sum += (__u16)~from;
	sum += to;
	*checksum = (__sum16)~csum_fold32(sum);
}

/*
 * The TTL one lower (0 wraps to 255, as a byte would), written as the
 * TTL/protocol word it is the first byte of; returns that word after, and
 * sets `*before` to it before.
 * Why not ip->ttl--: the checksum update then reads the word back, a 16-bit
 * load of a byte just stored, which the CPU cannot forward from the store
 * and stalls on (a tenth of a routed frame's program time, perf).
 */
static __always_inline __be16 ipv4_ttl_decrement(struct iphdr *ip, __be16 *before)
{
	__be16 *word = (__be16 *)&ip->ttl;
	__be16 old = *word;
	const __u16 ttl = bpf_htons(0xff00); /* the TTL's byte of the word, as it sits in memory */
	__be16 new = (old & ~ttl) | ((old - bpf_htons(0x0100)) & ttl);

	*word = new;
	*before = old;
	return new;
}

/* As csum_replace2, for a 32-bit field (an IPv4 address). */
static __always_inline void csum_replace4(__sum16 *checksum, __be32 from, __be32 to)
{
	__u32 sum = (__u16)~*checksum;

	sum += (__u16)~(from & 0xffff);
	sum += (__u16)~(from >> 16);
	sum += to & 0xffff;
	sum += to >> 16;
	*checksum = (__sum16)~csum_fold32(sum);
}

#endif /* XDPNET_CSUM_H */
