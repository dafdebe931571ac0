/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Port security (Neutron's anti-spoofing): what a port with port security on
 * may send.
 *
 * - IPv4: (Ethernet source MAC, source IPv4) must be one of the port's
 *   sources: a fixed IP with the port's MAC (port_info.fixed_ip, and
 *   xdpnet_port_src for those that did not fit), or inside an allowed address
 *   pair (CIDR) with its own MAC or the port's (xdpnet_port_src). Exception:
 *   a DHCP client with no address yet (0.0.0.0:68 -> 255.255.255.255:67) from
 *   the port's own MAC, as Neutron's base rules allow.
 * - ARP: the sender MAC must be the Ethernet source, and (sender MAC, sender
 *   IPv4) must be allowed as above. Exception: an ARP probe (sender IPv4
 *   0.0.0.0, RFC 5227) from the port's own MAC, which cannot poison a cache.
 * - Anything else (IPv6, LLDP, ...) is dropped: there is no IPv6 in the model
 *   yet, so its source cannot be checked.
 *
 * A source MAC that is the port's own with a bad IPv4 counts as an IP spoof;
 * any other MAC that is not allowed with that IPv4 counts as a MAC spoof.
 */
#ifndef XDPNET_PORT_SECURITY_H
#define XDPNET_PORT_SECURITY_H

#include "common.h"
#include "mac.h"
#include "overlay_maps.h"
#include "port_frame.h"

#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67

/*
 * Whether xdpnet_port_src lets the port on `ifindex` send from (mac, ip):
 * one LPM lookup. Out of line: only ports with allowed address pairs (or
 * many fixed IPs) get here, and only for a source that is not one of the
 * fixed IPs in their entry.
 */
static __out_of_line bool port_src_in_trie(__u32 ifindex, const __u8 *mac, __be32 ip)
{
	struct port_src_key key = {
		.prefixlen = PORT_SRC_PREFIX_BITS + 32,
		.ifindex = ifindex,
		.ip = ip,
	};

	mac_copy(key.mac, mac);
	return bpf_map_lookup_elem(&xdpnet_port_src, &key) != NULL;
}

/*
 * Whether the port on `ifindex` may send from (mac, ip). The fixed IPs in
 * port_info first, compared in place: the common case (a VM sending from
 * its own address) needs no lookup. Only a port with more sources
 * (PORT_F_SRC_LPM) has the trie looked into, once.
 */
static __always_inline bool port_src_allowed(__u32 ifindex, const struct port_info *port, bool own_mac,
					     const __u8 *mac, __be32 ip)
{
	__u32 count = port->fixed_ip_count;

	if (own_mac) {
#pragma unroll
		for (__u32 i = 0; i < PORT_FIXED_IPS; i++) {
			/* The count, not a zero entry, ends the list: 0.0.0.0 is no fixed IP. */
			if (i < count && port->fixed_ip[i] == ip)
				return true;
		}
	}
	return (port->flags & PORT_F_SRC_LPM) && port_src_in_trie(ifindex, mac, ip);
}

static __always_inline bool is_dhcp_discovery(const struct port_frame *f)
{
	return f->ip->saddr == 0 && f->ip->daddr == bpf_htonl(0xffffffff) &&
	       f->ip->protocol == IPPROTO_UDP && f->sport == DHCP_CLIENT_PORT &&
	       f->dport == DHCP_SERVER_PORT;
}

/* Returns 0 if the port may send the frame, else -REASON_DROP_*. */
static __always_inline int port_security_check(__u32 ifindex, const struct port_info *port,
					       const struct port_frame *f)
{
	const __u8 *src = f->l2.eth->h_source;
	bool own_mac = mac_equal(src, port->mac);

	if (f->arp) {
		if (!mac_equal(f->arp->sender_mac, src))
			return -REASON_DROP_SPOOFED_ARP;
		if (f->arp->sender_ip == 0 && own_mac)
			return 0;
		return port_src_allowed(ifindex, port, own_mac, src, f->arp->sender_ip) ? 0 : -REASON_DROP_SPOOFED_ARP;
	}
	if (f->ip) {
		if (port_src_allowed(ifindex, port, own_mac, src, f->ip->saddr))
			return 0;
		if (own_mac && is_dhcp_discovery(f))
			return 0;
		return own_mac ? -REASON_DROP_SPOOFED_IP : -REASON_DROP_SPOOFED_MAC;
	}
	return -REASON_DROP_PORT_SECURITY_ETHERTYPE;
}

#endif /* XDPNET_PORT_SECURITY_H */
