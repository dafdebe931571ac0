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
 * True when the IPv4 header checksum verifies: the one's-complement sum over
 * the whole header, checksum field included, is 0xffff.
 */
static __always_inline bool ipv4_checksum_ok(const struct iphdr *ip, const void *end)
{
	const __u16 *word = (const __u16 *)ip;
	__u32 words = ip->ihl * 2;
	__u32 sum = 0;

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
