/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A router's external side (Neutron's router gateway): its maps and the
 * structs they hold, no logic here. The connections SNAT records are in
 * conntrack_maps.h; the programs are external_route.h (outbound, in xdp_port)
 * and xdp_external (inbound, on the external NIC).
 *
 * Conventions as in overlay_maps.h: byte order stated per field ("host":
 * written by the daemon in its own order; "network": compared with or copied
 * to packet headers as it is), padding zero. Every struct is mirrored by a
 * codec in src/dataplane/layouts.ts, checked against this BTF by
 * test/bpf/layouts.test.ts; src/dataplane/snat-encode.ts writes them.
 *
 * Where the daemon's logical tables (src/reconciler/tables.ts) go:
 *   snat    -> xdpnet_snat: router -> its external side, on every node that
 *              has the router (the gateway node's entry is the one with
 *              SNAT_F_GATEWAY_LOCAL and the external NIC's ifindex);
 *              and, on the gateway node only,
 *              xdpnet_ext_addrs: the router's external IP -> the router
 *              (what xdp_external answers ARP for and translates back)
 *   (node)  -> xdpnet_ext_nexthops: (external NIC, next hop) -> MACs,
 *              resolved by the daemon from the kernel's neighbours as for
 *              the underlay (src/dataplane/nexthops.ts): the external
 *              subnet's gateway and static routes' next hops in advance,
 *              on-link destinations when xdpnet_ext_nh_miss asks for them.
 * The external NIC also goes into xdpnet_tx_ports (overlay_maps.h), so that
 * xdp_port can redirect into it.
 */
#ifndef XDPNET_SNAT_MAPS_H
#define XDPNET_SNAT_MAPS_H

#include "cache_gen.h"
#include "common.h"
#include "router_maps.h"

/* --- xdpnet_snat: router id (struct router_key) -> the router's external side. */

/* SNAT is enabled on the router (Neutron's enable_snat). */
#define SNAT_F_ENABLED 0x01
/* This node is the router's gateway node: ifindex and mtu are set. */
#define SNAT_F_GATEWAY_LOCAL 0x02

/* The external network's type (network_type); only FLAT is forwarded (untagged frames). */
#define SNAT_NET_FLAT 1
#define SNAT_NET_VLAN 2
#define SNAT_NET_VXLAN 3

#define SNAT_PHYSNET_LEN 64 /* Neutron's limit on a physical network's name */

struct snat_info {
	/* What the programs read. */
	__be32 external_ip; /* network: the router's address on the external network, the SNAT source */
	__u32 ifindex;      /* host: SNAT_F_GATEWAY_LOCAL: the external NIC; else 0 */
	__u32 mtu;          /* host: SNAT_F_GATEWAY_LOCAL: the largest IPv4 packet sent out of it; else 0 */
	__u8 flags;         /* SNAT_F_* */
	__u8 network_type;  /* SNAT_NET_* */
	/* For the daemon only (its table reads back exactly), unread by the programs. */
	__u8 prefixlen;             /* the external subnet's prefix length */
	__u8 pad;                   /* zero */
	__u32 segmentation_id;      /* host: VLAN id, VNI, or 0 (flat) */
	__be32 nexthop;             /* network: the external subnet's gateway; 0: none (routes carry the next hop used) */
	__be32 gateway_vtep;        /* network: the gateway node's VTEP */
	__u8 external_network_id[16];
	__u8 physical_network[SNAT_PHYSNET_LEN]; /* the name, zero-padded; all zero: none (VXLAN) */
};

/*
 * What the programs read of a router's snat_info: from the copy its
 * FDB_ROUTER entries carry (overlay_maps.h) or from its entry here.
 */
struct snat_side {
	__be32 external_ip; /* network */
	__u32 ifindex;      /* host */
	__u32 mtu;          /* host */
	__u8 flags;         /* SNAT_F_* */
	__u8 network_type;  /* SNAT_NET_* */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* as xdpnet_routers */
	__type(key, struct router_key);
	__type(value, struct snat_info);
} xdpnet_snat SEC(".maps");

/*
 * --- xdpnet_ext_addrs: an external IPv4 address (network order) held on this
 * node -> whose it is. xdp_external answers ARP for it on `ifindex` with
 * `mac`, and looks up the connections of `router_id` for packets to it (a
 * gateway address) or its translation (a floating IP: fip_maps.h).
 * External addresses are unique on a node (one external network per
 * physical network): the daemon refuses two holders of one address.
 */
#define EXT_ADDR_GATEWAY 1  /* a router's gateway address: SNAT */
#define EXT_ADDR_FLOATING 2 /* a floating IP of `router_id`: 1:1 (xdpnet_fip_in, fip_maps.h) */

struct ext_addr {
	__u8 router_id[ROUTER_ID_LEN];
	__u32 ifindex;      /* host: the external NIC the address is reached through */
	__u8 mac[ETH_ALEN]; /* what ARP answers with: the NIC's MAC */
	__u8 kind;          /* EXT_ADDR_* */
	__u8 pad;           /* zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* room for the floating IPs to come */
	__type(key, __be32);        /* the address, network */
	__type(value, struct ext_addr);
} xdpnet_ext_addrs SEC(".maps");

/*
 * --- xdpnet_ext_nexthops: (external NIC, next hop IPv4) -> the Ethernet
 * addresses a packet to that next hop leaves with. The next hop is the
 * route's (the external subnet's gateway, a static route's next hop) or, for
 * an on-link route, the destination itself.
 */
struct ext_nexthop_key {
	__u32 ifindex; /* host */
	__be32 ip;     /* network */
};

struct ext_nexthop {
	__u8 dst_mac[ETH_ALEN]; /* the next hop's */
	__u8 src_mac[ETH_ALEN]; /* the external NIC's */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ext_nexthop_key);
	__type(value, struct ext_nexthop);
} xdpnet_ext_nexthops SEC(".maps");

/*
 * --- xdpnet_ext_nh_miss: next hops a packet needed but xdpnet_ext_nexthops
 * did not have -> when (host, CLOCK_MONOTONIC ns). The programs write it, at
 * most once a second per next hop; the daemon resolves what it finds (it
 * cannot know every on-link destination in advance) and deletes the key. An
 * LRU map: what the daemon never reads ages out by itself.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ext_nexthop_key);
	__type(value, __u64);
} xdpnet_ext_nh_miss SEC(".maps");

#endif /* XDPNET_SNAT_MAPS_H */
