/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Source NAT of a packet leaving through a router's external gateway: the
 * VM's address and port (TCP, UDP) or echo identifier (ICMP) become the
 * router's external IP and a port of its own, the same for every packet of
 * the connection (conntrack_maps.h). The reverse is snat_reverse.h.
 *
 * Which packets may open a connection (as Linux's conntrack, which does not
 * pick up TCP mid-stream when nf_conntrack_tcp_loose is off):
 *   TCP   a SYN without ACK (and without RST);
 *   UDP   any datagram;
 *   ICMP  an echo request.
 * Anything else without a connection is dropped (REASON_DROP_SNAT_NO_STATE),
 * and so is what SNAT cannot translate: fragments (no ports to see) and
 * protocols other than these three.
 *
 * A new connection's external port: the first of up to SNAT_PORT_TRIES
 * candidates in [snat_port_min, snat_port_max] whose IN key (conntrack_maps.h)
 * can be inserted with BPF_NOEXIST. The candidates are random; a range no
 * larger than the number of tries is scanned whole from a random start
 * instead, so that "no port left" is exact there. Then the OUT key is
 * inserted; if another CPU has just created the same connection, its port is
 * taken and the one claimed here given back.
 *
 * A SYN to a connection that has seen a FIN or RST in either direction opens
 * a new connection (a new port, as Linux does for a tuple reused after
 * TIME_WAIT): the old one is deleted first.
 */
#ifndef XDPNET_SNAT_H
#define XDPNET_SNAT_H

#include "common.h"
#include "config.h"
#include "conntrack.h"
#include "conntrack_cache.h"
#include "conntrack_maps.h"
#include "mac.h"
#include "nat_rewrite.h"
#include "parse.h"

/*
 * The external ports (or echo identifiers) SNAT hands out, both included:
 * load-time settings, declared here and defined by the program with
 * SNAT_CONFIG() after its own settings. A setting's place in .rodata follows
 * its definition, so the program's own keep their offsets (vtep_ip first).
 */
extern const volatile __u16 cfg_snat_port_min;
extern const volatile __u16 cfg_snat_port_max;
#define SNAT_CONFIG()                                  \
	DECLARE_CONFIG(__u16, snat_port_min, 1024); \
	DECLARE_CONFIG(__u16, snat_port_max, 65535)

#define SNAT_PORT_TRIES 16

/* What a packet from a VM says about its connection. */
struct nat_out {
	struct nat_key key; /* its OUT key */
	__u64 bits;         /* the NAT_F_* bits it carries */
	bool opens;         /* it may open a connection */
};

/*
 * The OUT key of the unfragmented IPv4 packet `ip` (IHL 5) under zone
 * `ext_ip`, and what it carries. Returns 0, or -REASON_DROP_*: what SNAT
 * cannot translate.
 */
static __always_inline int snat_out_parse(struct iphdr *ip, void *end, __be32 ext_ip, struct nat_out *out)
{
	void *l4 = ip + 1;

	out->key.saddr = ip->saddr;
	out->key.daddr = ip->daddr;
	out->key.proto = ip->protocol;
	out->key.dir = NAT_DIR_OUT;
	out->key.zone = ext_ip;
	out->bits = 0;
	switch (ip->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		out->key.sport = tcp->source;
		out->key.dport = tcp->dest;
		out->bits = nat_tcp_bits(tcp, false);
		out->opens = tcp->syn && !tcp->ack && !tcp->rst;
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		out->key.sport = udp->source;
		out->key.dport = udp->dest;
		out->opens = true;
		return 0;
	}
	case IPPROTO_ICMP: {
		struct icmp_hdr *icmp = l4;

		if ((void *)(icmp + 1) > end)
			return -REASON_DROP_TRUNCATED_L4;
		/* Echo replies, errors (about what?), timestamps...: nothing from a VM behind SNAT. */
		if (icmp->type != ICMP_ECHO)
			return -REASON_DROP_SNAT_NO_STATE;
		out->key.sport = icmp->echo_id;
		out->key.dport = 0;
		out->opens = true;
		return 0;
	}
	default:
		return -REASON_DROP_SNAT_PROTOCOL;
	}
}

/*
 * For a TCP SYN that found the connection `conn` under `key`: if either half
 * has seen a FIN or RST, deletes the connection (OUT, then IN, as the
 * collector does) and returns true; the SYN opens a new one. An IN half
 * that is another connection's is left alone.
 */
static __always_inline bool snat_reopens(const struct nat_key *key, const struct nat_conn *conn)
{
	struct nat_key partner, back;
	struct nat_conn *other;
	bool closing = (conn->flags & NAT_F_CLOSING) != 0;

	nat_partner_key(key, conn, &partner);
	other = bpf_map_lookup_elem(&xdpnet_snat_ct, &partner);
	if (other) {
		nat_partner_key(&partner, other, &back);
		if (nat_key_equal(&back, key))
			closing = closing || (other->flags & NAT_F_CLOSING);
		else
			other = NULL;
	}
	if (!closing)
		return false;
	bpf_map_delete_elem(&xdpnet_snat_ct, key);
	if (other)
		bpf_map_delete_elem(&xdpnet_snat_ct, &partner);
	nat_ct_changed();
	return true;
}

/*
 * Creates the connection of `out` (from the VM with MAC `vm_mac` on network
 * `vni`): claims an external port and inserts both keys. Returns 1 and the
 * port in *ext_port; 0 and the port if another CPU created it first; or
 * -REASON_DROP_SNAT_PORTS_EXHAUSTED.
 */
static __always_inline int snat_claim(const struct nat_out *out, __u32 vni, const __u8 *vm_mac, __be16 *ext_port)
{
	__u32 lo = CONFIG(snat_port_min), hi = CONFIG(snat_port_max);
	struct nat_conn conn = {};
	struct nat_key in = {};
	struct nat_conn *existing;
	__u32 range, start, off;
	int i;

	if (hi < lo)
		return -REASON_DROP_SNAT_PORTS_EXHAUSTED;
	range = hi - lo + 1;
	conn.last_seen_ns = nat_now();
	conn.vm_ip = out->key.saddr;
	conn.vm_port = out->key.sport;
	conn.vni = vni;
	mac_copy(conn.vm_mac, vm_mac);
	in.saddr = out->key.daddr;
	in.daddr = out->key.zone;
	in.sport = out->key.dport;
	in.proto = out->key.proto;
	in.dir = NAT_DIR_IN;
	in.zone = out->key.zone;

	start = bpf_get_prandom_u32();
	for (i = 0; i < SNAT_PORT_TRIES; i++) {
		if (range <= SNAT_PORT_TRIES)
			off = (start + i) % range;
		else
			off = ((__u64)bpf_get_prandom_u32() * range) >> 32; /* uniform in [0, range) */
		conn.ext_port = bpf_htons(lo + off);
		in.dport = conn.ext_port;
		/* The claim: it fails (EEXIST) while the port is another connection's to this remote end. */
		if (bpf_map_update_elem(&xdpnet_snat_ct, &in, &conn, BPF_NOEXIST) == 0)
			goto claimed;
	}
	return -REASON_DROP_SNAT_PORTS_EXHAUSTED;

claimed:
	conn.flags = out->bits;
	if (bpf_map_update_elem(&xdpnet_snat_ct, &out->key, &conn, BPF_NOEXIST) == 0) {
		*ext_port = conn.ext_port;
		return 1;
	}
	/* Another CPU created this very connection meanwhile (a SYN retransmitted on another queue). */
	bpf_map_delete_elem(&xdpnet_snat_ct, &in);
	existing = bpf_map_lookup_elem(&xdpnet_snat_ct, &out->key);
	if (!existing)
		return -REASON_DROP_SNAT_PORTS_EXHAUSTED;
	*ext_port = existing->ext_port;
	return 0;
}

/*
 * snat_claim(), then the move of xdpnet_ct_gen its writes call for: even a
 * claim that failed may have evicted a connection (an LRU map makes room
 * before it knows whether the key is new).
 */
static __always_inline int snat_create(const struct nat_out *out, __u32 vni, const __u8 *vm_mac, __be16 *ext_port)
{
	int ret = snat_claim(out, vni, vm_mac, ext_port);

	nat_ct_changed();
	return ret;
}

/*
 * SNAT of the IPv4 packet `ip` (IHL 5, checksum verified), sent by the VM
 * with MAC `vm_mac` on network `vni`, leaving from the external IP
 * `ext_ip`: source translated, TTL one lower, checksums updated. Returns 1
 * for a new connection, 0 for a known one, or -REASON_DROP_* with the packet
 * unchanged.
 */
static __always_inline int snat_egress(struct xdp_md *ctx, struct iphdr *ip, __u32 vni, const __u8 *vm_mac,
				       __be32 ext_ip)
{
	void *end = (void *)(long)ctx->data_end;
	struct nat_out out = {};
	const struct nat_conn *cached;
	struct nat_cache_ref ref;
	struct nat_conn *conn;
	__be16 ext_port;
	int ret, err;

	if (ipv4_is_fragment(ip))
		return -REASON_DROP_SNAT_FRAGMENT;
	err = snat_out_parse(ip, end, ext_ip, &out);
	if (err < 0)
		return err;

	/* A TCP SYN goes to the table: it may reopen a closed connection. */
	cached = nat_cache_probe(&out.key, out.bits, &ref);
	if (cached && !(out.opens && out.key.proto == IPPROTO_TCP)) {
		ext_port = cached->ext_port;
		ret = 0;
		goto translate;
	}
	conn = bpf_map_lookup_elem(&xdpnet_snat_ct, &out.key);
	if (conn && out.opens && out.key.proto == IPPROTO_TCP && snat_reopens(&out.key, conn))
		conn = NULL;
	if (conn && !nat_touch(&out.key, conn, out.bits))
		conn = NULL;
	if (conn) {
		nat_cache_keep(&ref, &out.key, conn);
		ext_port = conn->ext_port;
		ret = 0;
	} else {
		if (!out.opens)
			return -REASON_DROP_SNAT_NO_STATE;
		ret = snat_create(&out, vni, vm_mac, &ext_port);
		if (ret < 0)
			return ret;
	}

translate:
	err = nat_rewrite_source(ip, end, ext_ip, ext_port);
	if (err < 0)
		return err;
	return ret;
}

#endif /* XDPNET_SNAT_H */
