/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Floating IPs (packet walk 5): their maps and the structs they hold, no
 * logic here (fip.h translates, fip_ingress.h and external_route.h use it).
 *
 * A floating IP is a 1:1, stateless translation between an address of the
 * external network and a VM's fixed IP behind one router: every packet is
 * translated by these entries alone, no connection is recorded. So a map
 * write is all an association (or disassociation) changes, and it touches
 * that floating IP only.
 *
 * Conventions as in overlay_maps.h: byte order stated per field ("host":
 * written by the daemon in its own order; "network": compared with or copied
 * to packet headers as it is), padding zero. Every struct is mirrored by a
 * codec in src/dataplane/layouts.ts, checked against this BTF by
 * test/bpf/layouts.test.ts; src/dataplane/fip-encode.ts writes them.
 *
 * Both keys hold the router: tenants overlap, so a fixed IP names nothing
 * without its router, and a floating IP is found through its xdpnet_ext_addrs
 * entry, which names the router (the pair is checked that way too).
 *
 * Where the daemon's logical tables (src/reconciler/tables.ts) go, on every
 * node that has the router (the programs read them on its gateway node only:
 * elsewhere the traffic is tunnelled there first, tunnel_gateway.h):
 *   floatingIps     -> xdpnet_fip_in: (router, floating IP) -> the VM's side;
 *                      and, on the router's gateway node of a flat external
 *                      network only, xdpnet_ext_addrs (snat_maps.h): the
 *                      floating IP -> {router, external NIC, its MAC,
 *                      EXT_ADDR_FLOATING}: what xdp_external answers ARP for
 *                      and translates inbound
 *   fixedToFloating -> xdpnet_fip_out: (router, fixed IP) -> the floating IP
 */
#ifndef XDPNET_FIP_MAPS_H
#define XDPNET_FIP_MAPS_H

#include "cache_gen.h"
#include "common.h"
#include "router_maps.h"

/* The key of both maps. */
struct fip_key {
	__u8 router_id[ROUTER_ID_LEN]; /* the router that carries the floating IP */
	__be32 ip;                     /* network: xdpnet_fip_in the floating IP, xdpnet_fip_out the fixed IP */
};

/* The router's gateway node is this node (as SNAT_F_GATEWAY_LOCAL). */
#define FIP_F_GATEWAY_LOCAL 0x01

/* --- xdpnet_fip_in: (router, floating IP) -> the VM it stands for. */
struct fip_in {
	/* What the programs read. */
	__be32 fixed_ip; /* network: the destination inbound packets get */
	__u32 vni;       /* host: the port's network; the VM's MAC is its xdpnet_arp entry there */
	/* For the daemon only (its table reads back exactly), unread by the programs. */
	__be32 gateway_vtep; /* network: the router's gateway node */
	__u8 flags;          /* FIP_F_* */
	__u8 pad[3];         /* zero */
	__u8 port_id[16];
	__u8 floating_network_id[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* as xdpnet_ext_addrs, which holds them too on the gateway node */
	__type(key, struct fip_key);
	__type(value, struct fip_in);
} xdpnet_fip_in SEC(".maps");

/* --- xdpnet_fip_out: (router, fixed IP) -> the floating IP it leaves with. */
struct fip_out {
	__be32 floating_ip;           /* network: the source outbound packets get */
	__u8 floating_network_id[16]; /* for the daemon only */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fip_key);
	__type(value, struct fip_out);
} xdpnet_fip_out SEC(".maps");

#endif /* XDPNET_FIP_MAPS_H */
