/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-CPU caches in front of the hash maps every frame of a path looks up.
 *
 * Why: a hash map lookup is several kernel calls (hash, bucket walk, key
 * compare), each return paying this machine's return-stack mitigation, and
 * with live traffic a cache miss or two; together the port and FDB lookups
 * were 45% of an encapsulated frame's cost (perf, live frames). An array
 * lookup is inlined by the verifier. So each CPU keeps, in a per-CPU array,
 * direct-mapped copies of the entries it looked up last, and a frame whose
 * entry is there reads the copy.
 *
 * Why a copy is right: it carries the generation (cache_gen.h) it was made
 * under, read *before* the lookup it copies, and is used only while that is
 * still the generation. Whoever changes a cached map writes a new generation
 * after the change; a copy made before the change has the old one, and a
 * copy made from a lookup that may have seen the old entry has a generation
 * read before the change too. A frame that read the generation just before
 * the change is forwarded as it would have been a moment earlier, as with
 * any map update racing a frame. Only the CPU that owns a slot writes it
 * (XDP runs a frame to its end on one CPU), so a copy is never read half
 * written. Misses (not there, another key in the slot, an old generation)
 * look the map up and fill the slot: the cost of the plain lookup and a copy.
 *
 * What these functions return is always the slot's copy, on a miss too
 * (filled first): one kind of pointer for the verifier, whose paths would
 * otherwise double with each cache (a pointer into the cache and one into
 * the map are states it cannot merge). It is good until the next lookup of
 * the same cache on this CPU: each cache serves one lookup per frame (the
 * ingress port; the frame's own destination MAC). Lookups of the same maps
 * elsewhere on a frame's path stay plain.
 */
#ifndef XDPNET_LOOKUP_CACHE_H
#define XDPNET_LOOKUP_CACHE_H

#include "cache_gen.h"
#include "common.h"
#include "mac.h"
#include "overlay_maps.h"

/* The stamp a copy made now carries (the generation + 1: a zeroed slot, 0, is never valid). */
static __always_inline __u64 cache_stamp(void)
{
	__u32 zero = 0;
	__u64 *gen = bpf_map_lookup_elem(&xdpnet_cache_gen, &zero);

	return gen ? *gen + 1 : 0;
}

/*
 * --- xdpnet_port_cache: xdpnet_ports by ifindex, slot ifindex % slots. A
 * node's ports have distinct ifindexes from one range, so two share a slot
 * only when they are PORT_CACHE_SLOTS apart.
 */
#define PORT_CACHE_SLOTS 1024

struct port_cache_slot {
	__u64 stamp;
	__u32 ifindex; /* host */
	__u32 pad;
	struct port_info port;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PORT_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct port_cache_slot);
} xdpnet_port_cache SEC(".maps");

/* A copy of xdpnet_ports' entry for `ifindex`; NULL: none. */
static __always_inline struct port_info *port_lookup_cached(__u32 ifindex, __u64 stamp)
{
	__u32 slot = ifindex & (PORT_CACHE_SLOTS - 1);
	struct port_cache_slot *c = bpf_map_lookup_elem(&xdpnet_port_cache, &slot);
	struct port_info *port;

	if (!c)
		return NULL; /* cannot happen: the slot is within the array */
	if (c->stamp == stamp && c->ifindex == ifindex && stamp)
		return &c->port;
	c->stamp = 0;
	c->ifindex = ifindex;
	port = bpf_map_lookup_elem(&xdpnet_ports, &c->ifindex);
	if (!port)
		return NULL;
	c->port = *port;
	c->stamp = stamp;
	return &c->port;
}

/*
 * --- xdpnet_fdb_cache: xdpnet_fdb by (VNI, MAC), in a slot chosen by a
 * multiplicative hash of both (a few inlined instructions, unlike the map's
 * jhash call).
 */
#define FDB_CACHE_BITS 11

struct fdb_cache_slot {
	__u64 stamp;
	struct fdb_key key;
	__u32 pad;
	struct fdb_entry entry;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << FDB_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct fdb_cache_slot);
} xdpnet_fdb_cache SEC(".maps");

static __always_inline __u32 fdb_cache_slot_of(__u32 vni, const __u8 *mac)
{
	const __u16 *w = (const __u16 *)mac; /* 2-byte aligned: mac.h */
	__u32 h = (vni ^ ((__u32)w[0] << 16 | w[1])) * 0x9E3779B1u;

	h = (h ^ w[2]) * 0x85EBCA77u;
	return h >> (32 - FDB_CACHE_BITS);
}

/* A copy of xdpnet_fdb's entry for (`vni`, `mac`); NULL: none. */
static __always_inline struct fdb_entry *fdb_lookup_cached(__u32 vni, const __u8 *mac, __u64 stamp)
{
	__u32 slot = fdb_cache_slot_of(vni, mac);
	struct fdb_cache_slot *c = bpf_map_lookup_elem(&xdpnet_fdb_cache, &slot);
	struct fdb_entry *fdb;

	if (!c)
		return NULL; /* cannot happen: the slot is within the array */
	if (c->stamp == stamp && c->key.vni == vni && mac_equal(c->key.mac, mac) && stamp)
		return &c->entry;
	/* The slot's key is the lookup's (no key on the stack, which is short): invalid until filled. */
	c->stamp = 0;
	c->key.vni = vni;
	mac_copy(c->key.mac, mac);
	c->key.pad[0] = 0;
	c->key.pad[1] = 0;
	fdb = bpf_map_lookup_elem(&xdpnet_fdb, &c->key);
	if (!fdb)
		return NULL;
	c->entry = *fdb;
	c->stamp = stamp;
	return &c->entry;
}

#endif /* XDPNET_LOOKUP_CACHE_H */
