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
#include "lib/common.h"
#include "lib/config.h"
#include "lib/csum.h"
#include "lib/parse.h"
#include "lib/verdict.h"

/* Off where the NIC already verifies IPv4 checksums and the cycles matter. */
DECLARE_CONFIG(bool, verify_ipv4_checksum, true);

static __always_inline outcome_t guard(struct xdp_md *ctx)
{
	struct hdr_cursor cursor;
	struct l2_info l2;
	struct arp_ipv4 *arp;
	struct iphdr *ip;
	int ret;

	cursor_init(&cursor, ctx);
	ret = parse_ethernet(&cursor, &l2);
	if (ret < 0)
		return drop_from(ret);
	if (mac_is_multicast(l2.eth->h_source))
		return drop(REASON_DROP_INVALID_SOURCE_MAC);

	if (l2.proto == bpf_htons(ETH_P_ARP)) {
		ret = parse_arp(&cursor, &arp);
		return ret < 0 ? drop_from(ret) : pass(REASON_PASS_HOST);
	}
	if (l2.proto != bpf_htons(ETH_P_IP))
		return pass(REASON_PASS_OTHER_ETHERTYPE);

	ret = parse_ipv4(&cursor, &ip);
	if (ret < 0)
		return drop_from(ret);
	if (CONFIG(verify_ipv4_checksum) && !ipv4_checksum_ok(ip, cursor.end))
		return drop(REASON_DROP_BAD_IPV4_CHECKSUM);
	if (ipv4_is_fragment(ip))
		return pass(REASON_PASS_IPV4_FRAGMENT);

	ret = parse_l4(&cursor, ip->protocol);
	if (ret < 0)
		return drop_from(ret);
	return pass(REASON_PASS_HOST);
}

SEC("xdp")
int xdp_guard(struct xdp_md *ctx)
{
	return finish(ctx, guard(ctx));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
