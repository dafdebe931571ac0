/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A per-CPU cache of what routing a packet looks up: the router's route for
 * the destination (xdpnet_routes, a longest-prefix match: the costliest
 * lookup of a routed frame) and the neighbour it leads to (xdpnet_arp, whose
 * entry carries its MAC's FDB entry). Made, stamped and trusted as
 * lookup_cache.h says; one copy per (router, destination address), in a
 * slot chosen by a multiplicative hash of both.
 *
 * Only found routes are copied: a destination without one is answered with
 * an ICMP error, no fast path. A neighbour is copied with its route, or its
 * absence (the packet is then dropped, as without the cache, until a
 * change of xdpnet_arp drops the copy).
 */
#ifndef XDPNET_ROUTE_CACHE_H
#define XDPNET_ROUTE_CACHE_H

#include "cache_gen.h"
#include "common.h"
#include "lookup_cache.h"
#include "overlay_maps.h"
#include "router_maps.h"

#define ROUTE_CACHE_BITS 10

#define ROUTE_CACHE_F_NEIGHBOR_PRESENT 0x01 /* the route's neighbour (connected, next hop) was found: `neigh` is its copy */

struct route_cache_slot {
	__u64 stamp;
	/* The copy's router and destination (key.ip), as the LPM lookup is made with them: the key it is made with. */
	struct route_key key;
	__u32 flags; /* ROUTE_CACHE_F_* */
	struct route_entry route;
	struct arp_entry neigh;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << ROUTE_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct route_cache_slot);
} xdpnet_route_cache SEC(".maps");

/* The router's route for `daddr`: longest prefix first, only among its own routes. */
static __always_inline struct route_entry *route_lookup(const __u8 *router_id, __be32 daddr)
{
	struct route_key key = { .prefixlen = ROUTE_PREFIX_BITS + 32, .ip = daddr };

	__builtin_memcpy(key.router_id, router_id, ROUTER_ID_LEN);
	return bpf_map_lookup_elem(&xdpnet_routes, &key);
}

static __always_inline struct arp_entry *neighbor_lookup(__u32 vni, __be32 ip)
{
	struct arp_key key = { .vni = vni, .ip = ip };

	return bpf_map_lookup_elem(&xdpnet_arp, &key);
}

/* Where `route` leads a packet to `daddr`: the neighbour's address, or 0 for a route without one (external). */
static __always_inline __be32 route_target(const struct route_entry *route, __be32 daddr)
{
	switch (route->kind) {
	case ROUTE_CONNECTED:
		return daddr;
	case ROUTE_NEXTHOP:
		return route->nexthop;
	default:
		return 0;
	}
}

/* A multiplicative hash of a router id and an address, to `bits` bits: the slot of a cache keyed by both. */
static __always_inline __u32 router_ip_slot(const __u8 *router_id, __be32 ip, __u32 bits)
{
	const __u32 *w = (const __u32 *)router_id; /* 4-byte aligned in every caller's struct */
	__u32 h = (ip ^ w[0]) * 0x9E3779B1u;

	h = (h ^ w[3]) * 0x85EBCA77u;
	return h >> (32 - bits);
}

static __always_inline bool router_id_equal(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a; /* 4-byte aligned, as above */
	const __u32 *y = (const __u32 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

/*
 * Copies of the router's route for `daddr` (NULL: none) and, for a route
 * with a neighbour (connected, next hop), of that neighbour's xdpnet_arp
 * entry on the route's network (NULL: none), made now or under the current
 * generation. Good until the next call on this CPU.
 */
static __always_inline struct route_entry *route_and_neighbor(const __u8 *router_id, __be32 daddr, __u64 stamp,
							     struct arp_entry **neigh)
{
	__u32 slot = router_ip_slot(router_id, daddr, ROUTE_CACHE_BITS);
	struct route_cache_slot *c = bpf_map_lookup_elem(&xdpnet_route_cache, &slot);
	struct arp_entry *found;
	struct route_entry *route;
	__be32 target;

	*neigh = NULL;
	if (!c)
		return NULL; /* cannot happen: the slot is within the array */
	if (!(stamp && c->stamp == stamp && c->key.ip == daddr && router_id_equal(c->key.router_id, router_id))) {
		/* The slot's key is the lookup's (no key on the stack, which is short): invalid until filled. */
		c->stamp = 0;
		c->key.prefixlen = ROUTE_PREFIX_BITS + 32;
		__builtin_memcpy(c->key.router_id, router_id, ROUTER_ID_LEN);
		c->key.ip = daddr;
		route = bpf_map_lookup_elem(&xdpnet_routes, &c->key);
		if (!route)
			return NULL;
		c->route = *route;
		c->flags = 0;
		target = route_target(route, daddr);
		if (target) {
			found = neighbor_lookup(route->vni, target);
			if (found) {
				c->neigh = *found;
				c->flags = ROUTE_CACHE_F_NEIGHBOR_PRESENT;
			}
		}
		c->stamp = stamp;
	}
	if (c->flags & ROUTE_CACHE_F_NEIGHBOR_PRESENT) {
		/* Verifier: a branch, not a select clang would make pointer arithmetic it refuses. */
		asm volatile("" ::: "memory");
		*neigh = &c->neigh;
	}
	return &c->route;
}

#endif /* XDPNET_ROUTE_CACHE_H */
