/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SNAT connection table: its map and the structs it holds, no logic here
 * (conntrack.h reads and writes it; snat.h creates connections).
 *
 * A connection is two entries of xdpnet_snat_ct, one per direction, so that
 * a packet of either direction finds it with one lookup of its own headers:
 *
 *   OUT  (zone, VM address:port -> remote address:port, protocol)
 *        what the VM sends, before translation; zone is the router's
 *        external IP, because tenants overlap and the external IP names the
 *        router (each router has its own);
 *   IN   (zone, remote address:port -> external IP:external port, protocol)
 *        what comes back, before translation. Inserting it with BPF_NOEXIST
 *        is how an external port is claimed: two connections to the same
 *        remote address and port never share one, while connections to
 *        different remote ends may (RFC 4787's address-and-port-dependent
 *        mapping).
 *
 * ICMP echo has no ports: its identifier stands in for the VM's port on the
 * OUT side (sport) and for the external port on the IN side (dport); the
 * remote "port" (dport of OUT, sport of IN) is 0. An ICMP error is looked up
 * by the packet it quotes (the VM's packet as sent out, so under its IN key).
 *
 * Both values hold the whole connection (the VM's address, port, MAC and
 * network, the external port), so either entry can rebuild the other: the
 * programs re-create a missing partner when they refresh an entry
 * (conntrack.h), which repairs what LRU eviction takes when the map is full.
 * Each entry has its own last_seen_ns and flags: a program writes only the
 * entry of the direction it saw, so the two directions never contend for
 * one cache line.
 *
 * Sizes: 2^21 entries by default, a little over 1,000,000 connections (two
 * entries each; the kernel's LRU may evict up to 128 entries per CPU before
 * the map is full). An LRU map is always preallocated: 112 bytes an entry
 * (key and value rounded up to 8 bytes, 48 of the kernel's own) and 16 a
 * bucket, ~270 MB at the default size. Only a gateway node uses the map:
 * elsewhere the daemon is to load it with a small max_entries (a load-time
 * override, as every map of an object allows).
 *
 * --- The garbage collector's contract. Expiry is the daemon's: the programs
 * delete only a TCP connection a new SYN reopens after a FIN or RST (snat.h)
 * and a half whose partner has become another connection's (conntrack.h).
 *
 * Time: last_seen_ns is CLOCK_MONOTONIC in ns (bpf_ktime_get_coarse_ns, so a
 * tick behind at most), the clock of process.hrtime.bigint(). A program
 * writes it when a packet of its direction passes and the stored value is
 * more than NAT_REFRESH_NS old, so it is up to a second (plus a tick) behind.
 *
 * State: combine both entries of a connection: idle = now - max(last_seen_ns
 * of both); flags = OUT.flags | IN.flags. Suggested timeouts (the daemon's
 * policy, as Linux's nf_conntrack defaults):
 *   TCP, NAT_F_TCP_RST or NAT_F_TCP_FIN         closing      10 s (RST) / 120 s (FIN)
 *   TCP, NAT_F_TCP_ESTABLISHED                  established  5 days (or shorter)
 *   TCP, otherwise                              opening      120 s
 *   UDP, NAT_F_REPLIED                          replied      180 s
 *   UDP, otherwise                              unreplied    30 s
 *   ICMP                                                     30 s
 *
 * Deletion: the daemon walks the map, and for each OUT entry computes the IN
 * key (nat_partner_key in conntrack.h; snat-encode.ts has the same), reads
 * it, and when the connection has expired deletes both keys: OUT first, then
 * IN, so that the external port is claimable again only once no OUT entry
 * maps to it. An entry whose partner is missing (a half left by eviction or
 * a crash) is deleted once idle past the longest timeout of its protocol. A
 * packet that refreshes one half between the two deletes re-creates the
 * other; the next walk sees the connection as alive, which it is.
 *
 * Everything a router's connections need is keyed by its external IP (zone):
 * when a router loses or changes its external IP, the daemon deletes every
 * entry of the old zone.
 */
#ifndef XDPNET_CONNTRACK_MAPS_H
#define XDPNET_CONNTRACK_MAPS_H

#include "common.h"

#define NAT_DIR_OUT 1 /* the VM's side: from the VM, before translation */
#define NAT_DIR_IN 2  /* the outside: to the external IP, before translation */

struct nat_key {
	__be32 saddr; /* network */
	__be32 daddr; /* network */
	__be16 sport; /* network: TCP/UDP source port; ICMP echo: OUT the identifier, IN 0 */
	__be16 dport; /* network: TCP/UDP destination port; ICMP echo: OUT 0, IN the identifier */
	__u8 proto;   /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	__u8 dir;     /* NAT_DIR_*: the two keys of a connection never collide */
	__u8 pad[2];  /* zero */
	__be32 zone;  /* network: the router's external IP (IN: also daddr) */
};

/* IN only: a packet came back. */
#define NAT_F_REPLIED 0x01
/* This direction carried a TCP SYN. */
#define NAT_F_TCP_SYN 0x02
/* IN only: the TCP handshake was answered (a SYN with ACK came back). */
#define NAT_F_TCP_ESTABLISHED 0x04
/* This direction carried a TCP FIN. */
#define NAT_F_TCP_FIN 0x08
/* This direction carried a TCP RST. */
#define NAT_F_TCP_RST 0x10

/* Never cleared, only set (atomically): a reopened TCP connection is a new one (conntrack.h). */
#define NAT_F_CLOSING (NAT_F_TCP_FIN | NAT_F_TCP_RST)

struct nat_conn {
	__u64 last_seen_ns;    /* host: CLOCK_MONOTONIC ns, see above */
	/* host: NAT_F_*, of this entry's direction. 64 bits: clang's BPF target has atomic OR for no narrower word. */
	__u64 flags;
	__be32 vm_ip;          /* network: the VM's address (the OUT source, the IN translation) */
	__be16 vm_port;        /* network: the VM's port or echo identifier */
	__be16 ext_port;       /* network: the external port or echo identifier */
	__u32 vni;             /* host: the VM's network */
	__u8 vm_mac[ETH_ALEN]; /* the MAC the VM sent from: the reply's destination */
	__u8 pad[2];           /* zero */
};

#define NAT_CT_MAX_ENTRIES (1 << 21)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NAT_CT_MAX_ENTRIES);
	__type(key, struct nat_key);
	__type(value, struct nat_conn);
} xdpnet_snat_ct SEC(".maps");

/*
 * How many times the programs have written xdpnet_snat_ct (conntrack_cache.h):
 * moved after each write, so that no CPU keeps using its copy of a
 * connection a program changed, deleted or evicted. One u64 at key 0.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xdpnet_ct_gen SEC(".maps");

static __always_inline __u64 nat_ct_generation(void)
{
	__u32 zero = 0;
	__u64 *gen = bpf_map_lookup_elem(&xdpnet_ct_gen, &zero);

	return gen ? *gen : 0;
}

/* After a program's write of xdpnet_snat_ct, LRU evictions included: every CPU's copies are dropped. */
static __always_inline void nat_ct_changed(void)
{
	__u32 zero = 0;
	__u64 *gen = bpf_map_lookup_elem(&xdpnet_ct_gen, &zero);

	if (gen)
		__sync_fetch_and_add(gen, 1);
}

#endif /* XDPNET_CONNTRACK_MAPS_H */
