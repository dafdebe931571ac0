/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ARP for the external addresses this node holds (xdpnet_ext_addrs): the
 * kernel does not own them, so nothing else would answer, and the external
 * network's routers could not reach a router's external IP. A request for
 * one, arriving untagged on the NIC the address is reached through, is
 * answered with the MAC the entry names (the NIC's); everything else is left
 * as it was (arp.h's rules: requests only, no gratuitous ARP, not to the
 * requester's own MAC).
 */
#ifndef XDPNET_EXTERNAL_ARP_H
#define XDPNET_EXTERNAL_ARP_H

#include "common.h"
#include "arp.h"
#include "mac.h"
#include "parse.h"
#include "snat_maps.h"

/* True if the frame has been turned into the reply (send it back: XDP_TX). */
static __always_inline bool external_arp_respond(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;
	struct arp_ipv4 *arp = (void *)(eth + 1);
	struct ext_addr *addr;

	if ((void *)(arp + 1) > end || eth->h_proto != bpf_htons(ETH_P_ARP))
		return false;
	/* parse_arp (host_ingress.h) has checked it is IPv4 over Ethernet. */
	if (arp->op != bpf_htons(ARPOP_REQUEST) || arp->sender_ip == arp->target_ip)
		return false;
	addr = bpf_map_lookup_elem(&xdpnet_ext_addrs, &arp->target_ip);
	if (!addr || addr->ifindex != ctx->ingress_ifindex || mac_equal(addr->mac, arp->sender_mac))
		return false;
	arp_make_reply(eth, arp, addr->mac);
	return true;
}

#endif /* XDPNET_EXTERNAL_ARP_H */
