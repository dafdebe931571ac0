/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A per-CPU cache of the SNAT connections this CPU's packets passed last
 * (xdpnet_snat_ct, conntrack_maps.h), in front of its lookup: the lookup of
 * an LRU hash with a 20-byte key was a third of a translated packet's
 * program time, both ways (perf, live frames; jhash, bucket walk, compare).
 *
 * A copy may stand in for the lookup only when the packet would write
 * nothing to the connection (nat_touch, conntrack.h): every NAT_F_* bit it
 * carries already set in the copy, and the copy's time fresh. Bits are only
 * ever set and the time only moves forward, so the entry in the table then
 * needs no write either; one packet per second per CPU takes the lookup and
 * refreshes both. A TCP SYN leaving never uses a copy (snat.h: it may reopen
 * a closed connection).
 *
 * When a copy is right: it carries two stamps, read before the lookup it
 * copies, and is used only while both are current:
 *   - the cache generation (cache_gen.h), which the daemon moves after its
 *     own writes of the table (the collector's deletions: CACHED_MAPS);
 *   - xdpnet_ct_gen, which the programs move after their own writes (a new
 *     connection and what the LRU evicts for it, a reopened connection, a
 *     half re-created or dropped: nat_ct_changed). Atomically incremented,
 *     so no value comes back.
 * A connection changed or gone after a copy's stamps were read moved one of
 * them, so the copy is no longer used. Only the owning CPU writes a slot.
 */
#ifndef XDPNET_CONNTRACK_CACHE_H
#define XDPNET_CONNTRACK_CACHE_H

#include "common.h"
#include "conntrack.h"
#include "conntrack_maps.h"
#include "lookup_cache.h"

#define NAT_CACHE_BITS 10

struct nat_cache_slot {
	__u64 stamp;    /* the cache generation's (cache_stamp) */
	__u64 ct_stamp; /* xdpnet_ct_gen's */
	struct nat_key key;
	__u32 pad;
	struct nat_conn conn;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << NAT_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct nat_cache_slot);
} xdpnet_nat_cache SEC(".maps");

/* A probe's slot and the stamps read with it: what nat_cache_keep() needs to keep the lookup's result. */
struct nat_cache_ref {
	struct nat_cache_slot *slot;
	__u64 stamp;
	__u64 ct_stamp;
};

static __always_inline __u32 nat_cache_slot_of(const struct nat_key *key)
{
	__u32 h = (key->saddr ^ key->zone) * 0x9E3779B1u;

	h = (h ^ key->daddr ^ ((__u32)key->sport << 16 | key->dport)) * 0x85EBCA77u;
	h = (h ^ key->proto ^ (__u32)key->dir << 8) * 0x9E3779B1u;
	return h >> (32 - NAT_CACHE_BITS);
}

/*
 * This CPU's copy of the connection under `key`, if it has a current one to
 * which a packet carrying `bits` would write nothing; else NULL (look it up,
 * then nat_cache_keep). Fills `ref` either way.
 */
static __always_inline const struct nat_conn *nat_cache_probe(const struct nat_key *key, __u64 bits,
								struct nat_cache_ref *ref)
{
	__u32 slot = nat_cache_slot_of(key);
	struct nat_cache_slot *c = bpf_map_lookup_elem(&xdpnet_nat_cache, &slot);

	ref->slot = c;
	ref->stamp = cache_stamp();
	ref->ct_stamp = nat_ct_generation();
	if (!c || !ref->stamp || c->stamp != ref->stamp || c->ct_stamp != ref->ct_stamp || !nat_key_equal(&c->key, key))
		return NULL;
	if ((c->conn.flags & bits) != bits || nat_now() - c->conn.last_seen_ns > NAT_REFRESH_NS)
		return NULL;
	return &c->conn;
}

/* Keeps `conn`, found under `key` after the probe that filled `ref` (and touched), for this CPU's next packets. */
static __always_inline void nat_cache_keep(const struct nat_cache_ref *ref, const struct nat_key *key,
					   const struct nat_conn *conn)
{
	struct nat_cache_slot *c = ref->slot;

	if (!c)
		return;
	c->stamp = 0;
	c->key = *key;
	c->conn = *conn;
	c->ct_stamp = ref->ct_stamp;
	c->stamp = ref->stamp;
}

#endif /* XDPNET_CONNTRACK_CACHE_H */
