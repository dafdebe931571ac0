/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-CPU caches of what the external side looks up for every packet of a
 * connection: the external address a packet from outside is for
 * (xdpnet_ext_addrs) with its router (xdpnet_routers), on xdp_external; a
 * routed packet's floating IP, or that it has none (xdpnet_fip_out), on
 * the way out. Made, stamped and trusted as lookup_cache.h says.
 *
 * What is not cached: an address that is not ours (the packet is the host's,
 * no fast path), and connections (xdpnet_snat_ct changes with every new
 * connection and every eviction, which no generation follows).
 */
#ifndef XDPNET_EXTERNAL_CACHE_H
#define XDPNET_EXTERNAL_CACHE_H

#include "cache_gen.h"
#include "common.h"
#include "fip_maps.h"
#include "lookup_cache.h"
#include "route_cache.h"
#include "router_maps.h"
#include "snat_maps.h"

/*
 * --- xdpnet_ext_addr_cache: xdpnet_ext_addrs by address (ours only), with
 * the address's router (xdpnet_routers, by the entry's router_id), which
 * every packet to the address needs next: one slot for both.
 */
#define EXT_ADDR_CACHE_BITS 10

#define EXT_ADDR_CACHE_F_ROUTER 0x01 /* `router` is the copy of the address's router; clear: there is none */

struct ext_addr_cache_slot {
	__u64 stamp;
	__be32 ip;
	__u32 flags; /* EXT_ADDR_CACHE_F_* */
	struct ext_addr addr;
	struct router_info router;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << EXT_ADDR_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct ext_addr_cache_slot);
} xdpnet_ext_addr_cache SEC(".maps");

/*
 * A copy of xdpnet_ext_addrs' entry for `ip` (NULL: not one of ours) and,
 * in `*router`, of its router's xdpnet_routers entry (NULL: none).
 */
static __always_inline struct ext_addr *ext_addr_lookup_cached(__be32 ip, __u64 stamp, struct router_info **router)
{
	__u32 slot = (ip * 0x9E3779B1u) >> (32 - EXT_ADDR_CACHE_BITS);
	struct ext_addr_cache_slot *c = bpf_map_lookup_elem(&xdpnet_ext_addr_cache, &slot);
	struct router_info *found;
	struct ext_addr *addr;

	*router = NULL;
	if (!c)
		return NULL; /* cannot happen: the slot is within the array */
	if (!(stamp && c->stamp == stamp && c->ip == ip)) {
		c->stamp = 0; /* invalid until filled */
		addr = bpf_map_lookup_elem(&xdpnet_ext_addrs, &ip);
		if (!addr)
			return NULL;
		c->addr = *addr;
		c->flags = 0;
		found = bpf_map_lookup_elem(&xdpnet_routers, addr->router_id);
		if (found) {
			c->router = *found;
			c->flags = EXT_ADDR_CACHE_F_ROUTER;
		}
		c->ip = ip;
		c->stamp = stamp;
	}
	if (c->flags & EXT_ADDR_CACHE_F_ROUTER) {
		/* Verifier: a branch, not a select clang would make pointer arithmetic it refuses. */
		asm volatile("" ::: "memory");
		*router = &c->router;
	}
	return &c->addr;
}

/*
 * --- xdpnet_fip_out_cache: xdpnet_fip_out by (router, fixed IP), found or
 * not: most routed packets have no floating IP, and knowing that costs the
 * full lookup otherwise.
 */
#define FIP_OUT_CACHE_BITS 10

#define FIP_OUT_CACHE_F_PRESENT 0x01 /* `fip` is the entry's copy; clear: there is none */

struct fip_out_cache_slot {
	__u64 stamp;
	struct fip_key key; /* the copy's router and fixed IP, and the key it is looked up with */
	__u32 flags;        /* FIP_OUT_CACHE_F_* */
	struct fip_out fip;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << FIP_OUT_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct fip_out_cache_slot);
} xdpnet_fip_out_cache SEC(".maps");

/* A copy of xdpnet_fip_out's entry for (`router_id`, `fixed_ip`); NULL: none. */
static __always_inline struct fip_out *fip_out_lookup_cached(const __u8 *router_id, __be32 fixed_ip, __u64 stamp)
{
	__u32 slot = router_ip_slot(router_id, fixed_ip, FIP_OUT_CACHE_BITS);
	struct fip_out_cache_slot *c = bpf_map_lookup_elem(&xdpnet_fip_out_cache, &slot);
	struct fip_out *fip;

	if (!c)
		return NULL; /* cannot happen: the slot is within the array */
	if (!(stamp && c->stamp == stamp && c->key.ip == fixed_ip && router_id_equal(c->key.router_id, router_id))) {
		/* The slot's key is the lookup's (no key on the stack, which is short): invalid until filled. */
		c->stamp = 0;
		__builtin_memcpy(c->key.router_id, router_id, ROUTER_ID_LEN);
		c->key.ip = fixed_ip;
		fip = bpf_map_lookup_elem(&xdpnet_fip_out, &c->key);
		c->flags = 0;
		if (fip) {
			c->fip = *fip;
			c->flags = FIP_OUT_CACHE_F_PRESENT;
		}
		c->stamp = stamp;
	}
	if (!(c->flags & FIP_OUT_CACHE_F_PRESENT))
		return NULL;
	return &c->fip;
}

#endif /* XDPNET_EXTERNAL_CACHE_H */
