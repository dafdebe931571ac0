/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ARP responder (Neutron l2population's arp_responder): an ARP request
 * for an address in the network's xdpnet_arp table is answered in place and
 * sent back to the VM, so it never crosses the overlay.
 *
 * Not answered (the caller floods them instead):
 * - anything but a request;
 * - a target the table does not know;
 * - a gratuitous ARP (sender IP == target IP): an announcement, meant for all;
 * - a request whose answer would be the requester's own MAC (e.g. a VM's
 *   duplicate address probe for its own IP): answering would report a
 *   conflict that does not exist.
 */
#ifndef XDPNET_ARP_H
#define XDPNET_ARP_H

#include "common.h"
#include "mac.h"
#include "overlay_maps.h"
#include "parse.h"

#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2

/*
 * Rewrites a request into the reply "target_ip is at mac": to the requester
 * (its sender hardware address, RFC 826), from `mac`. Any VLAN tags and
 * trailing padding stay as they were, so the length does not change.
 */
static __always_inline void arp_make_reply(struct ethhdr *eth, struct arp_ipv4 *arp, const __u8 *mac)
{
	__be32 asked = arp->target_ip;

	mac_copy(eth->h_dest, arp->sender_mac);
	mac_copy(eth->h_source, mac);
	arp->op = bpf_htons(ARPOP_REPLY);
	mac_copy(arp->target_mac, arp->sender_mac);
	arp->target_ip = arp->sender_ip;
	mac_copy(arp->sender_mac, mac);
	arp->sender_ip = asked;
}

/*
 * True if the frame has been turned into the reply (send it back: XDP_TX).
 * Out of line: ARP is a frame in thousands, and its code inlined would sit
 * in the middle of every other frame's path (see route_frame in route.h).
 */
static __out_of_line bool arp_respond(__u32 vni, struct ethhdr *eth, struct arp_ipv4 *arp)
{
	struct arp_key key = { .vni = vni, .ip = arp->target_ip };
	struct arp_entry *entry;

	if (arp->op != bpf_htons(ARPOP_REQUEST) || arp->sender_ip == arp->target_ip)
		return false;
	entry = bpf_map_lookup_elem(&xdpnet_arp, &key);
	if (!entry || mac_equal(entry->mac, arp->sender_mac))
		return false;
	arp_make_reply(eth, arp, entry->mac);
	return true;
}

#endif /* XDPNET_ARP_H */
