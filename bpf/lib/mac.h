/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Comparing and copying MAC addresses wherever they are (packet, map value,
 * stack), as three 16-bit words: every MAC the programs touch sits at an even
 * offset (the Ethernet header at the frame's start, ARP's fields after it,
 * struct members), and XDP and TC frames start 2-byte aligned. Byte by byte
 * would be twice the loads and stores on every frame. A MAC in a local
 * variable of its own needs __attribute__((aligned(2))): the verifier refuses
 * a misaligned stack access (when the program loads, never at run time).
 */
#ifndef XDPNET_MAC_H
#define XDPNET_MAC_H

#include "common.h"

static __always_inline bool mac_equal(const __u8 *a, const __u8 *b)
{
	const __u16 *x = (const __u16 *)a;
	const __u16 *y = (const __u16 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
}

static __always_inline void mac_copy(__u8 *dst, const __u8 *src)
{
	__u16 *d = (__u16 *)dst;
	const __u16 *s = (const __u16 *)src;

	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
}

#endif /* XDPNET_MAC_H */
