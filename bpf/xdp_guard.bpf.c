// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_guard: the ingress sanity filter.
 *
 * Validates every header the fast path relies on (Ethernet and VLAN tags, ARP,
 * IPv4, the TCP/UDP/ICMP header) and drops malformed frames with a counted
 * reason; every well-formed frame goes on to the kernel, counted too. Its
 * parsing is the one every xdpnet program shares, and it can be attached on
 * its own to any interface to count and filter garbage before the stack sees it.
 */
#include "lib/host_ingress.h"

static __always_inline outcome_t guard(struct xdp_md *ctx)
{
	struct host_ipv4 pkt;
	outcome_t result;

	if (host_ingress(ctx, &pkt, &result))
		return result;
	return pass(REASON_PASS_HOST);
}

SEC("xdp")
int xdp_guard(struct xdp_md *ctx)
{
	return finish(ctx, guard(ctx));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
