/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdp_port's per-CPU cache of where a VM's frame goes, by (network,
 * destination MAC, IPv4 source and destination; 0 for a frame without them).
 *
 * A slot holds the destination MAC's FDB entry, which is all a switched
 * frame needs, and, once a routed frame has been routed through it, what
 * routing decided: for a tenant network, the neighbour's FDB entry, its
 * network, that network's MTU and the two MACs; out through the router's
 * external gateway on this node, the external NIC, its MTU, the next hop's
 * MACs and the translation (the source's floating IP, or SNAT to the
 * router's external IP). The next frame of the flow then takes one lookup
 * to its delivery instead of three or four (the FDB entry of the router's
 * MAC, the route and its neighbour, the source's floating IP), and none of
 * the router's checks: a routed frame 76 -> 44 ns, a SNAT one 121 -> 89 ns
 * of program time (BPF_PROG_RUN, bench --compare-with against the build
 * before this cache). The connection of a translated frame is still looked
 * up per frame (conntrack.h): connections come and go without the daemon.
 *
 * Made, stamped and trusted as lookup_cache.h says. The routing part is
 * made under the stamp of the FDB part (read before either), so it is
 * dropped with it; what it copies comes from the maps CACHED_MAPS lists
 * (src/dataplane/cache-generation.ts). What depends on the packet itself
 * is checked per frame (route_cached_ok in route.h): a frame that fails a
 * check is routed the whole way, which gives it its exact outcome.
 */
#ifndef XDPNET_FLOW_CACHE_H
#define XDPNET_FLOW_CACHE_H

#include "cache_gen.h"
#include "common.h"
#include "fip_maps.h"
#include "mac.h"
#include "overlay_maps.h"

#define FLOW_CACHE_BITS 11

struct flow_key {
	struct fdb_key fdb; /* the destination MAC's FDB key: the lookup is made with it */
	__be32 saddr;       /* network: the IPv4 source (a floating IP is the source's); 0: none */
	__be32 daddr;       /* network: the IPv4 destination; 0: none */
};

/* What routing decided for a flow: only where a routed frame is delivered (to a local port or a remote one). */
struct flow_route {
	struct fdb_entry fdb;      /* the neighbour's FDB entry: FDB_LOCAL or FDB_REMOTE */
	__u32 vni;                 /* host: the neighbour's network */
	__u32 mtu;                 /* host: that network's MTU */
	__u8 router_mac[ETH_ALEN]; /* the new source MAC */
	__u8 neigh_mac[ETH_ALEN];  /* the new destination MAC */
};

/* What routing decided for a flow out through the router's external gateway on this node (external_route.h). */
struct flow_external {
	struct fip_out fip;      /* the source's floating IP, when `has_fip` */
	__be32 external_ip;      /* network: the router's, SNAT's new source (no floating IP) */
	__u32 ifindex;           /* host: the external NIC */
	__u32 mtu;               /* host: the external network's MTU */
	__u8 nh_dst[ETH_ALEN];   /* the next hop's MAC */
	__u8 nh_src[ETH_ALEN];   /* the external NIC's */
	__u8 has_fip;
	__u8 pad[3];
};

#define FLOW_NOT_ROUTED 0 /* no routing decision kept */
#define FLOW_ROUTED 1     /* `route`: to a tenant network */
#define FLOW_EXTERNAL 2   /* `external`: out of the external NIC, translated */

struct flow_cache_slot {
	__u64 stamp;
	struct flow_key key;
	struct fdb_entry fdb; /* the destination MAC's */
	__u32 routed;         /* FLOW_*: what routing decided under this stamp, if anything */
	union {
		struct flow_route route;
		struct flow_external external;
	};
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << FLOW_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct flow_cache_slot);
} xdpnet_flow_cache SEC(".maps");

static __always_inline __u32 flow_cache_slot_of(__u32 vni, const __u8 *mac, __be32 saddr, __be32 daddr)
{
	const __u16 *w = (const __u16 *)mac; /* 2-byte aligned: mac.h */
	__u32 h = (vni ^ ((__u32)w[0] << 16 | w[1])) * 0x9E3779B1u;

	h = (h ^ w[2] ^ daddr) * 0x85EBCA77u;
	h = (h ^ saddr) * 0x9E3779B1u;
	return h >> (32 - FLOW_CACHE_BITS);
}

/*
 * The slot of (`vni`, `mac`, `saddr`, `daddr`), its FDB part a copy of
 * xdpnet_fdb's entry for (`vni`, `mac`), its routing part set only if a
 * frame of this flow was routed under this stamp; NULL: no FDB entry.
 */
static __always_inline struct flow_cache_slot *flow_lookup_cached(__u32 vni, const __u8 *mac, __be32 saddr, __be32 daddr,
								  __u64 stamp)
{
	__u32 slot = flow_cache_slot_of(vni, mac, saddr, daddr);
	struct flow_cache_slot *c = bpf_map_lookup_elem(&xdpnet_flow_cache, &slot);
	struct fdb_entry *fdb;

	if (!c)
		return NULL; /* cannot happen: the slot is within the array */
	if (c->stamp == stamp && c->key.daddr == daddr && c->key.saddr == saddr && c->key.fdb.vni == vni &&
	    mac_equal(c->key.fdb.mac, mac) && stamp)
		return c;
	/* The slot's key is the lookup's (no key on the stack, which is short): invalid until filled. */
	c->stamp = 0;
	c->routed = FLOW_NOT_ROUTED;
	c->key.fdb.vni = vni;
	mac_copy(c->key.fdb.mac, mac);
	c->key.fdb.pad[0] = 0;
	c->key.fdb.pad[1] = 0;
	c->key.saddr = saddr;
	c->key.daddr = daddr;
	fdb = bpf_map_lookup_elem(&xdpnet_fdb, &c->key.fdb);
	if (!fdb)
		return NULL;
	c->fdb = *fdb;
	c->stamp = stamp;
	return c;
}

#endif /* XDPNET_FLOW_CACHE_H */
