/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading and keeping the SNAT connection table (conntrack_maps.h): a
 * packet's key, the other direction's key, and what a packet of a known
 * connection records: its TCP flags and, at most once a second, the time.
 * Creating connections (and claiming their ports) is snat.h's.
 */
#ifndef XDPNET_CONNTRACK_H
#define XDPNET_CONNTRACK_H

#include "common.h"
#include "conntrack_maps.h"

/*
 * How stale last_seen_ns may get before a packet writes it again: writing
 * it on every packet would bounce the entry's cache line between the CPUs
 * of a busy connection, and the collector's timeouts are seconds at least.
 */
#define NAT_REFRESH_NS 1000000000ULL

/*
 * The tick (jiffies) of the last clock read on this object's programs, and
 * what it read. The coarse clock moves only at a tick, so within one the
 * value read then is the value a read now would give. A global, not a
 * per-CPU map: reading it is a load, with no lookup. CPUs race to write it
 * once a tick; a reader that sees the new tick before the new time gets the
 * time one tick old, which the refresh interval does not notice.
 */
__u64 nat_clock_jiffies = 0;
__u64 nat_clock_ns = 0;

/*
 * The tick-granular CLOCK_MONOTONIC (a tick is far below the refresh
 * interval), read at most once a tick: bpf_jiffies64() is inlined by the
 * verifier into a load, where bpf_ktime_get_coarse_ns() is a call that was
 * a tenth of a translated packet's cost (perf, live frames).
 */
static __always_inline __u64 nat_now(void)
{
	__u64 tick = bpf_jiffies64();
	__u64 now;

	if (tick == *(volatile __u64 *)&nat_clock_jiffies)
		return *(volatile __u64 *)&nat_clock_ns;
	now = bpf_ktime_get_coarse_ns();
	*(volatile __u64 *)&nat_clock_ns = now;
	*(volatile __u64 *)&nat_clock_jiffies = tick;
	return now;
}

/* The key of the other direction of the connection `conn` found under `key`. */
static __always_inline void nat_partner_key(const struct nat_key *key, const struct nat_conn *conn, struct nat_key *partner)
{
	partner->proto = key->proto;
	partner->pad[0] = 0;
	partner->pad[1] = 0;
	partner->zone = key->zone;
	if (key->dir == NAT_DIR_OUT) {
		partner->dir = NAT_DIR_IN;
		partner->saddr = key->daddr;
		partner->daddr = key->zone;
		partner->sport = key->dport;
		partner->dport = conn->ext_port;
	} else {
		partner->dir = NAT_DIR_OUT;
		partner->saddr = conn->vm_ip;
		partner->daddr = key->saddr;
		partner->sport = conn->vm_port;
		partner->dport = key->sport;
	}
}

static __always_inline bool nat_key_equal(const struct nat_key *a, const struct nat_key *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport && a->dport == b->dport &&
	       a->proto == b->proto && a->dir == b->dir && a->zone == b->zone;
}

/*
 * Makes sure the other half of the connection under `key` exists and is
 * this connection's: re-created from `conn` if it is missing (evicted), and
 * `key` deleted if the other half now belongs to another connection (this
 * half was left behind by an eviction and its port, or its tuple, has been
 * taken since). Returns false in that last case: the connection is gone.
 */
static __always_inline bool nat_keep_partner(const struct nat_key *key, const struct nat_conn *conn, __u64 now)
{
	struct nat_key partner, back;
	struct nat_conn *other;
	struct nat_conn rebuilt;

	nat_partner_key(key, conn, &partner);
	other = bpf_map_lookup_elem(&xdpnet_snat_ct, &partner);
	if (!other) {
		rebuilt = *conn;
		rebuilt.last_seen_ns = now;
		rebuilt.flags = 0; /* what that direction saw went with it */
		/* NOEXIST: another CPU may have re-created it meanwhile. */
		bpf_map_update_elem(&xdpnet_snat_ct, &partner, &rebuilt, BPF_NOEXIST);
		nat_ct_changed();
		return true;
	}
	nat_partner_key(&partner, other, &back);
	if (nat_key_equal(&back, key))
		return true;
	bpf_map_delete_elem(&xdpnet_snat_ct, key);
	nat_ct_changed();
	return false;
}

/*
 * A packet of the connection `conn` (found under `key`) passes: records the
 * NAT_F_* bits it carries and, when the stored time is stale, the time (and
 * then checks the other half: nat_keep_partner). Returns false if the
 * connection turned out to be gone; the packet then has no state.
 */
static __always_inline bool nat_touch(const struct nat_key *key, struct nat_conn *conn, __u64 bits)
{
	__u64 now;

	/* A bit once set stays: only the first packet that carries it writes (atomically: other CPUs set others). */
	if ((conn->flags & bits) != bits)
		__sync_fetch_and_or(&conn->flags, bits);
	now = nat_now();
	if (now - conn->last_seen_ns <= NAT_REFRESH_NS)
		return true;
	/* Racy with another CPU doing the same: either time is right. */
	conn->last_seen_ns = now;
	return nat_keep_partner(key, conn, now);
}

/* The NAT_F_TCP_* bits a TCP header carries; `in`: it came from outside. */
static __always_inline __u64 nat_tcp_bits(const struct tcphdr *tcp, bool in)
{
	__u64 bits = 0;

	if (tcp->syn) {
		bits |= NAT_F_TCP_SYN;
		if (in && tcp->ack)
			bits |= NAT_F_TCP_ESTABLISHED;
	}
	if (tcp->fin)
		bits |= NAT_F_TCP_FIN;
	if (tcp->rst)
		bits |= NAT_F_TCP_RST;
	return bits;
}

#endif /* XDPNET_CONNTRACK_H */
