/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Includes and small definitions every xdpnet BPF program needs. */
#ifndef XDPNET_COMMON_H
#define XDPNET_COMMON_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "gen/reasons.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * A function kept out of line (a BPF-to-BPF call) because it is off the
 * common path: inlined, its code would sit between the common path's
 * instructions and add to its register pressure (route.h says what it
 * saves). Unused by some objects that include its header.
 */
#define __out_of_line __attribute__((noinline, unused))

/*
 * ICMP header. linux/icmp.h includes linux/if.h, which drags in glibc's
 * socket headers that the BPF target cannot compile, so it is defined here.
 */
struct icmp_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 echo_id;
	__be16 echo_sequence;
};

#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11

/* 802.1ad (QinQ) outer tag; linux/if_ether.h has it, but older copies do not. */
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

#endif /* XDPNET_COMMON_H */
