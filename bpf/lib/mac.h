/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Comparing and copying MAC addresses wherever they are (packet, map value, stack). */
#ifndef XDPNET_MAC_H
#define XDPNET_MAC_H

#include "common.h"

static __always_inline bool mac_equal(const __u8 *a, const __u8 *b)
{
	/* Byte by byte: the addresses may sit at any alignment. */
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		(a[5] ^ b[5])) == 0;
}

static __always_inline void mac_copy(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, ETH_ALEN);
}

#endif /* XDPNET_MAC_H */
