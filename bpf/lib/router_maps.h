/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Distributed routing's maps and the structs they hold: no logic here (the
 * routing itself is route.h).
 *
 * Conventions as in overlay_maps.h: byte order stated per field, "host"
 * fields written by the daemon in its own order, "network" fields compared
 * with or copied to packet headers as they are, padding zero (hash and LPM
 * keys compare bytes). Every struct is mirrored by a codec in
 * src/dataplane/layouts.ts, checked against this BTF by
 * test/bpf/layouts.test.ts; src/dataplane/router-encode.ts turns the
 * reconciler's tables into these entries and back.
 *
 * A router is found through the FDB: a frame whose destination MAC is, on its
 * network, an FDB_ROUTER entry carries that entry's router id. The router id
 * (the UUID's 16 bytes) is part of every key below, so two routers routing
 * the same tenant addresses never see each other's entries.
 *
 * Where the daemon's logical tables (src/reconciler/tables.ts) go:
 *   routers          -> xdpnet_routers: router -> {MAC, admin state}
 *   routerInterfaces -> xdpnet_router_ifaces: (router, VNI) -> the router's
 *                       address on that network (the model allows one
 *                       interface per network per router, so the VNI names it)
 *   routes           -> xdpnet_routes: LPM on (router, destination)
 * The router's own addresses need no map of their own: they are in xdpnet_arp
 * with the router's MAC (the ARP responder answers for them), which is how
 * route.h recognises a packet for the router itself.
 */
#ifndef XDPNET_ROUTER_MAPS_H
#define XDPNET_ROUTER_MAPS_H

#include "cache_gen.h"
#include "common.h"

#define ROUTER_ID_LEN 16

/* --- xdpnet_routers: router id -> the router. */

#define ROUTER_F_ADMIN_UP 0x01

struct router_key {
	__u8 router_id[ROUTER_ID_LEN]; /* the UUID's bytes, as fdb_entry.router_id */
};

struct router_info {
	__u8 mac[ETH_ALEN]; /* the router's MAC, the same on every network: the routed frame's source */
	__u8 flags;         /* ROUTER_F_* */
	__u8 pad;           /* zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct router_key);
	__type(value, struct router_info);
} xdpnet_routers SEC(".maps");

/*
 * --- xdpnet_router_ifaces: (router, VNI) -> the router's interface on that
 * network. Read only to source the ICMP errors the router sends back to a
 * sender on that network (time exceeded, unreachable): a router answers from
 * its address on the sender's side.
 */
struct router_iface_key {
	__u8 router_id[ROUTER_ID_LEN];
	__u32 vni; /* host */
};

struct router_iface {
	__be32 ip;          /* network: the router's address on the subnet */
	__u8 mac[ETH_ALEN]; /* the router's MAC (as router_info.mac) */
	__u8 prefixlen;     /* the subnet's prefix length (for the daemon) */
	__u8 pad;           /* zero */
	/* The subnet's UUID: for the daemon only (its table is keyed by subnet), unread by the programs. */
	__u8 subnet_id[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct router_iface_key);
	__type(value, struct router_iface);
} xdpnet_router_ifaces SEC(".maps");

/*
 * --- xdpnet_routes: each router's routing table, one LPM trie for all of
 * them. The router id is always matched in full (it is the first 128 bits of
 * every prefix), then the destination's first n bits: looked up with
 * prefixlen ROUTE_PREFIX_BITS + 32 and the packet's destination.
 */
#define ROUTE_PREFIX_BITS 128 /* router_id */

/* On a subnet of the router: delivered to the destination's own MAC (xdpnet_arp on vni). */
#define ROUTE_CONNECTED 1
/* A static route via `nexthop`, a host on one of the router's subnets (vni). */
#define ROUTE_NEXTHOP 2
/*
 * Out through the router's external gateway (the external subnet, the
 * default route, static routes via the external subnet). Encoded in full
 * (nexthop, gateway_vtep, ROUTE_F_GATEWAY_LOCAL); not routed yet (SNAT).
 */
#define ROUTE_EXTERNAL 3

/* ROUTE_EXTERNAL: this node is the router's gateway node. */
#define ROUTE_F_GATEWAY_LOCAL 0x01

struct route_key {
	__u32 prefixlen;               /* host: ROUTE_PREFIX_BITS + the route's prefix length */
	__u8 router_id[ROUTER_ID_LEN]; /* always matched in full */
	__be32 ip;                     /* network: the prefix (host bits zero) */
};

struct route_entry {
	__u32 kind;          /* host: ROUTE_* */
	__u32 vni;           /* host: ROUTE_CONNECTED, ROUTE_NEXTHOP: the network to deliver on; else 0 */
	__be32 nexthop;      /* network: ROUTE_NEXTHOP, ROUTE_EXTERNAL (0: on-link); else 0 */
	__be32 gateway_vtep; /* network: ROUTE_EXTERNAL: the gateway node's VTEP; else 0 */
	__u32 flags;         /* host: ROUTE_F_*, ROUTE_EXTERNAL only */
	/* ROUTE_CONNECTED: the subnet's UUID, for the daemon only; else zero. */
	__u8 subnet_id[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__type(key, struct route_key);
	__type(value, struct route_entry);
} xdpnet_routes SEC(".maps");

#endif /* XDPNET_ROUTER_MAPS_H */
