/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The reverse of SNAT (snat.h), for a packet that arrived on the external
 * NIC addressed to a router's external IP: which connection it belongs to,
 * and its translation back to the VM's side. xdp_external decides what to do
 * with it (external_deliver.h delivers it).
 *
 * A packet belongs to a connection when its own IN key is in xdpnet_snat_ct:
 *   TCP, UDP              (source, destination, ports);
 *   ICMP echo reply       (source, destination, 0, identifier);
 *   ICMP error (destination unreachable, time exceeded, parameter problem)
 *                         the IN key of the packet it quotes, which must be
 *                         one SNAT sent: IPv4 without options, not a later
 *                         fragment, from this external IP, TCP/UDP or an
 *                         echo request, with its first 8 bytes of L4 header.
 * Its translation: the destination (address, port or identifier) becomes
 * the VM's; for an ICMP error, the outer destination and the quoted packet's
 * source (address, port or identifier) become the VM's, and every checksum
 * that covers them is kept right: the quoted IPv4 header's, the quoted L4
 * checksum where the quote includes it (an ICMP error quotes at least 8
 * bytes: a UDP or echo checksum always, a TCP one when 18 bytes or more are
 * quoted), and the ICMP checksum over all of it.
 */
#ifndef XDPNET_SNAT_REVERSE_H
#define XDPNET_SNAT_REVERSE_H

#include "common.h"
#include "conntrack.h"
#include "conntrack_cache.h"
#include "conntrack_maps.h"
#include "nat_rewrite.h"

#define ICMP_PARAMETER_PROBLEM 12

/* A packet from outside and its connection. */
struct nat_in {
	struct nat_key key;    /* the IN key the connection was found under */
	const struct nat_conn *conn; /* NULL: no connection; else the table's entry, or this CPU's copy of it */
	__u64 bits;            /* the NAT_F_* bits the packet carries (not for an error) */
	bool icmp_error;       /* it is an ICMP error about the connection */
};

static __always_inline bool icmp_type_translated_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETER_PROBLEM;
}

/*
 * The IN key of the packet quoted by the ICMP error `icmp` in `ip` (IHL 5,
 * ending at ip_end). Returns 0 or -REASON_DROP_MALFORMED_ICMP_ERROR.
 */
static __always_inline int snat_icmp_error_key(const struct iphdr *ip, const struct icmp_hdr *icmp, void *ip_end,
					       void *end, struct nat_key *key)
{
	const struct iphdr *inner = (const void *)(icmp + 1);
	const struct udphdr *ports = (const void *)(inner + 1); /* TCP and UDP both start with the ports */
	const struct icmp_hdr *echo = (const void *)(inner + 1);

	/* The quote's first 8 bytes of L4 must be in the packet (ip_end) and, for the verifier, in the frame. */
	if ((void *)(ports + 1) > ip_end || (void *)(ports + 1) > end)
		return -REASON_DROP_MALFORMED_ICMP_ERROR;
	if (inner->version != 4 || inner->ihl != 5 || (inner->frag_off & bpf_htons(0x1fff)) ||
	    inner->saddr != ip->daddr)
		return -REASON_DROP_MALFORMED_ICMP_ERROR;
	key->saddr = inner->daddr;
	key->daddr = inner->saddr;
	key->proto = inner->protocol;
	key->dir = NAT_DIR_IN;
	key->zone = ip->daddr;
	switch (inner->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		key->sport = ports->dest;
		key->dport = ports->source;
		return 0;
	case IPPROTO_ICMP:
		if (echo->type != ICMP_ECHO)
			return -REASON_DROP_MALFORMED_ICMP_ERROR;
		key->sport = 0;
		key->dport = echo->echo_id;
		return 0;
	default:
		return -REASON_DROP_MALFORMED_ICMP_ERROR;
	}
}

/*
 * Finds the connection of the unfragmented IPv4 packet `ip` (IHL 5, its L4
 * header complete: host_ingress.h) addressed to an external IP. Returns 0
 * with in->conn set or NULL (unsolicited), or -REASON_DROP_*. A packet that
 * is not an error records what it carries (nat_touch).
 */
static __always_inline int snat_in_lookup(struct iphdr *ip, void *end, struct nat_in *in)
{
	void *ip_end = (void *)ip + bpf_ntohs(ip->tot_len);
	struct nat_cache_ref ref;
	struct nat_conn *conn;
	void *l4 = ip + 1;
	int ret;

	in->conn = NULL;
	in->icmp_error = false;
	in->bits = NAT_F_REPLIED;
	in->key.saddr = ip->saddr;
	in->key.daddr = ip->daddr;
	in->key.proto = ip->protocol;
	in->key.dir = NAT_DIR_IN;
	in->key.zone = ip->daddr;
	switch (ip->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		in->key.sport = tcp->source;
		in->key.dport = tcp->dest;
		in->bits |= nat_tcp_bits(tcp, true);
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		in->key.sport = udp->source;
		in->key.dport = udp->dest;
		break;
	}
	case IPPROTO_ICMP: {
		struct icmp_hdr *icmp = l4;

		if ((void *)(icmp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		if (icmp_type_translated_error(icmp->type)) {
			ret = snat_icmp_error_key(ip, icmp, ip_end, end, &in->key);
			if (ret < 0)
				return ret;
			in->icmp_error = true;
			in->conn = bpf_map_lookup_elem(&xdpnet_snat_ct, &in->key);
			return 0;
		}
		if (icmp->type != ICMP_ECHOREPLY)
			return 0;
		in->key.sport = 0;
		in->key.dport = icmp->echo_id;
		break;
	}
	default:
		return 0;
	}
	in->conn = nat_cache_probe(&in->key, in->bits, &ref);
	if (in->conn)
		return 0;
	conn = bpf_map_lookup_elem(&xdpnet_snat_ct, &in->key);
	if (conn && !nat_touch(&in->key, conn, in->bits))
		conn = NULL;
	if (conn)
		nat_cache_keep(&ref, &in->key, conn);
	in->conn = conn;
	return 0;
}

/*
 * The quoted packet of the ICMP error in `ip` (snat_icmp_error_key found
 * it) gets the VM's address and port (or identifier) as its source, with
 * its checksums; returns what that changed in the ICMP checksum, or
 * -REASON_DROP_MALFORMED_ICMP_ERROR.
 */
static __always_inline long snat_rewrite_quote(struct iphdr *ip, void *end, const struct nat_conn *conn)
{
	void *ip_end = (void *)ip + bpf_ntohs(ip->tot_len);
	struct icmp_hdr *icmp = (void *)(ip + 1);
	struct iphdr *inner = (void *)(icmp + 1);
	struct tcphdr *tcp = (void *)(inner + 1);
	struct udphdr *udp = (void *)(inner + 1);
	struct icmp_hdr *echo = (void *)(inner + 1);
	__u32 d_addr, d_port, d_icmp;
	__sum16 old;

	/* Verifier: snat_icmp_error_key checked these bounds on its own pointers. */
	if ((void *)(udp + 1) > ip_end || (void *)(udp + 1) > end)
		return -REASON_DROP_MALFORMED_ICMP_ERROR;

	d_addr = csum_delta4(inner->saddr, conn->vm_ip);
	old = inner->check;
	inner->saddr = conn->vm_ip;
	csum_apply(&inner->check, d_addr);
	d_icmp = d_addr + csum_delta2(old, inner->check);

	switch (inner->protocol) {
	case IPPROTO_TCP:
		d_port = csum_delta2(tcp->source, conn->vm_port);
		tcp->source = conn->vm_port;
		d_icmp += d_port;
		/* The checksum (bytes 16..17) only if quoted: RFC 792 asks for 8 bytes, RFC 1812 routers quote more. */
		if ((void *)&tcp->urg_ptr <= ip_end && (void *)&tcp->urg_ptr <= end) {
			old = tcp->check;
			csum_apply(&tcp->check, d_addr + d_port);
			d_icmp += csum_delta2(old, tcp->check);
		}
		break;
	case IPPROTO_UDP:
		d_port = csum_delta2(udp->source, conn->vm_port);
		udp->source = conn->vm_port;
		d_icmp += d_port;
		old = udp->check;
		csum_apply_udp(&udp->check, d_addr + d_port);
		d_icmp += csum_delta2(old, udp->check);
		break;
	default: /* an echo request (snat_icmp_error_key) */
		d_port = csum_delta2(echo->echo_id, conn->vm_port);
		echo->echo_id = conn->vm_port;
		d_icmp += d_port;
		old = echo->checksum;
		csum_apply(&echo->checksum, d_port);
		d_icmp += csum_delta2(old, echo->checksum);
		break;
	}
	return d_icmp;
}

/*
 * Translates the packet `ip` of the connection `in` back to the VM's side:
 * the destination, and for an ICMP error the packet it quotes; TTL one
 * lower. Returns 0 or -REASON_DROP_*.
 */
static __always_inline int snat_reverse_rewrite(struct iphdr *ip, void *end, const struct nat_in *in)
{
	const struct nat_conn *conn = in->conn;
	struct icmp_hdr *icmp = (void *)(ip + 1);
	__u32 d_addr;
	long d_icmp;

	if (!in->icmp_error)
		return nat_rewrite_dest(ip, end, conn->vm_ip, conn->vm_port);
	d_icmp = snat_rewrite_quote(ip, end, conn);
	if (d_icmp < 0)
		return d_icmp;
	/* Verifier: the quote lies beyond the ICMP header, checked in snat_rewrite_quote. */
	if ((void *)(icmp + 1) > end)
		return -REASON_DROP_MALFORMED_ICMP_ERROR;
	csum_apply(&icmp->checksum, (__u32)d_icmp);
	/* No pseudo-header in ICMP: the outer destination counts in the IPv4 checksum only. */
	d_addr = csum_delta4(ip->daddr, conn->vm_ip);
	ip->daddr = conn->vm_ip;
	csum_apply(&ip->check, d_addr + ipv4_ttl_delta(ip));
	return 0;
}

#endif /* XDPNET_SNAT_REVERSE_H */
