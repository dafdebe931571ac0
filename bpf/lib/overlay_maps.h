/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The VXLAN overlay's maps and the structs they hold: no logic here.
 *
 * Shared by xdp_port, xdp_underlay and tc_flood. Every object declares them
 * under the same names; the daemon pins each map once and every later object
 * reuses the pinned map (as with xdpnet_reasons). Each struct is mirrored by a
 * codec in src/dataplane/layouts.ts, checked against this BTF by
 * test/bpf/layouts.test.ts.
 *
 * Byte order is stated per field: "host" fields are plain integers the daemon
 * writes in its own byte order; "network" fields are compared with or copied
 * to packet headers as they are. A VNI is always a host-order __u32 (24 bits
 * used). Padding fields must be zero: hash and LPM keys compare bytes.
 *
 * Where the daemon's logical tables (src/reconciler/tables.ts) go:
 *   localPorts  -> xdpnet_ports (ifindex -> port, with its first fixed IPs)
 *                  + xdpnet_port_src (port security: the rest of its sources)
 *                  + xdpnet_tx_ports (ifindex, so frames can be redirected into it)
 *   networks    -> xdpnet_networks
 *   fdb         -> xdpnet_fdb
 *   arp         -> xdpnet_arp
 *   floodList   -> xdpnet_flood
 *   (node)      -> xdpnet_nexthops: underlay next hop per remote VTEP, resolved by
 *                  the daemon from the kernel's routes and neighbours;
 *                  the underlay interface also goes into xdpnet_tx_ports.
 *
 * Not a table: xdpnet_port_stats (port_stats.h), the per-port counters, one
 * slot per port (port_info.stats_slot). The programs count into it; the daemon
 * gives each port a slot, zeroes it when it does, and reads it.
 *
 * The per-frame path is built around what a lookup costs: a hash map lookup
 * is several kernel calls (hash, bucket walk, key compare) and, with live
 * traffic, cache misses in each, while an array lookup is inlined by the
 * verifier into a few instructions. So what xdp_port needs for every frame
 * of a port is in that port's one xdpnet_ports entry (its fixed IPs, its
 * counter slot, its network's state), what delivering into a local port
 * needs is in its MAC's xdpnet_fdb entry (a copy of the port's state), and
 * the counters are an array. The daemon keeps the copies right
 * (src/dataplane/overlay-tables.ts); an entry another writer makes without
 * them still works, with a lookup more (port_state.h).
 */
#ifndef XDPNET_OVERLAY_MAPS_H
#define XDPNET_OVERLAY_MAPS_H

#include "cache_gen.h"
#include "common.h"

/* --- xdpnet_ports: ifindex (host order) -> the VM port behind that interface. */

#define PORT_F_ADMIN_UP 0x01
#define PORT_F_PORT_SECURITY 0x02
/* xdpnet_port_src holds sources of this port (allowed address pairs, fixed IPs beyond fixed_ip[]). */
#define PORT_F_SRC_LPM 0x04

/*
 * Fixed IPs carried in the port's own entry: port security checks them
 * without a lookup. Neutron ports have one IPv4 fixed IP per subnet, mostly
 * one or two; more go to xdpnet_port_src.
 */
#define PORT_FIXED_IPS 4

/* port_info.net_flags */
#define PORT_NET_F_PRESENT 0x01  /* the port's network is in xdpnet_networks */
#define PORT_NET_F_ADMIN_UP 0x02 /* and its admin state is up (NETWORK_F_ADMIN_UP) */

struct port_info {
	__u32 vni;           /* host: the port's network */
	__u8 mac[ETH_ALEN];  /* the port's MAC */
	__u8 flags;          /* PORT_F_* */
	__u8 fixed_ip_count; /* host: used entries of fixed_ip, 0..PORT_FIXED_IPS */
	__u32 stats_slot;    /* host: the port's counters in xdpnet_port_stats; 0: none */
	/*
	 * The port's network as xdpnet_networks has it (its mtu, and net_flags),
	 * copied here by the daemon whenever it writes either: what the programs
	 * check for every frame of the port, without a lookup of the network.
	 * PRESENT clear: no copy (the network is not there, or a writer other
	 * than the daemon made the entry); the programs then look it up
	 * (port_state.h).
	 */
	__u16 net_mtu;       /* host: network_info.mtu */
	__u8 net_flags;      /* PORT_NET_F_* */
	__u8 pad;            /* zero */
	/* network: the port's first fixed IPs (with its own MAC), unused ones zero */
	__be32 fixed_ip[PORT_FIXED_IPS];
	/*
	 * The port's UUID. The programs never read it; it lets a restarted
	 * daemon read the table back exactly (its full pass compares what it
	 * wants with what is really in the map).
	 */
	__u8 port_id[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* ifindex, host */
	__type(value, struct port_info);
} xdpnet_ports SEC(".maps");

/*
 * --- xdpnet_networks: VNI (host order) -> network. Every port of the network
 * carries a copy of its mtu and admin state (port_info.net_*), which the
 * daemon rewrites whenever it writes or deletes the network's entry.
 */

#define NETWORK_F_ADMIN_UP 0x01

struct network_info {
	__u32 mtu;   /* host: largest L3 packet (IPv4 total length) a port may send */
	__u32 flags; /* host: NETWORK_F_* */
	/* The network's UUID: for the daemon only, as port_info.port_id. */
	__u8 network_id[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* VNI, host */
	__type(value, struct network_info);
} xdpnet_networks SEC(".maps");

/*
 * --- xdpnet_port_src: port security, the (MAC, IPv4 prefix) pairs a port may
 * send from beyond the fixed IPs in its port_info: one entry per allowed
 * address pair (its MAC or the port's, its CIDR) and per fixed IP that did
 * not fit in port_info.fixed_ip (port MAC, /32). Looked up only for a port
 * with PORT_F_SRC_LPM, with the frame's own source MAC and IPv4 and prefixlen
 * 128, so overlapping pairs with different MACs all work: the MAC is part of
 * the exact-match prefix.
 */
#define PORT_SRC_PREFIX_BITS 96 /* ifindex (32) + mac (48) + pad (16) */

#define PORT_SRC_FIXED_IP 1
#define PORT_SRC_ALLOWED_PAIR 2

struct port_src_key {
	__u32 prefixlen;    /* host: PORT_SRC_PREFIX_BITS + CIDR prefix length */
	__u32 ifindex;      /* host; always matched in full */
	__u8 mac[ETH_ALEN]; /* always matched in full */
	__u8 pad[2];        /* zero */
	__be32 ip;          /* network */
};

struct port_src_value {
	__u32 kind; /* host: PORT_SRC_FIXED_IP or PORT_SRC_ALLOWED_PAIR (informational) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct port_src_key);
	__type(value, struct port_src_value);
} xdpnet_port_src SEC(".maps");

/*
 * --- xdpnet_nexthops: remote VTEP IPv4 (network order) -> the underlay next
 * hop the encapsulated packet leaves through: outer Ethernet addresses and the
 * interface. The daemon resolves it (route to the VTEP, neighbour of its
 * gateway) and keeps it fresh; a VTEP without an entry is not encapsulated to.
 */
struct vtep_nexthop {
	__u8 dst_mac[ETH_ALEN]; /* the gateway's (or the VTEP's, on-link) MAC */
	__u8 src_mac[ETH_ALEN]; /* the underlay interface's MAC */
	__u32 ifindex;          /* host: the underlay interface */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __be32); /* remote VTEP, network */
	__type(value, struct vtep_nexthop);
} xdpnet_nexthops SEC(".maps");

/*
 * --- xdpnet_fdb: (VNI, MAC) -> where that MAC lives (L2 population). A local
 * MAC's entry carries a copy of its port's state (below): the daemon rewrites
 * it whenever it writes the port's entry, and clears it before a port of
 * another network takes the interface, so that a copy, when there, is right.
 * A remote MAC's entry likewise carries a copy of its VTEP's next hop, and a
 * router MAC's a copy of its router, of its external side and of its
 * gateway's MACs (src/dataplane/fdb-copies.ts keeps them all). Each saves
 * the fast path a hash lookup per frame.
 */

#define FDB_LOCAL 1  /* a port of this node: ifindex */
#define FDB_REMOTE 2 /* a port behind another VTEP: vtep_ip */
#define FDB_ROUTER 3 /* a router's MAC: routed on this node (router_id) */

struct fdb_key {
	__u32 vni;          /* host */
	__u8 mac[ETH_ALEN];
	__u8 pad[2];        /* zero */
};

struct fdb_entry {
	__u32 kind;          /* host: FDB_* */
	__u32 ifindex;       /* host: FDB_LOCAL only, else 0 */
	__be32 vtep_ip;      /* network: FDB_REMOTE only, else 0 */
	__u8 router_id[16];  /* FDB_ROUTER only (UUID bytes), else zero */
	/*
	 * FDB_LOCAL only, else zero: the port on ifindex as its xdpnet_ports
	 * entry has it, copied here by the daemon whenever it writes either, so
	 * that delivering into the port needs no lookup of it. port_present is 1
	 * when ifindex is a port of this entry's network (its entry has this
	 * VNI), and the rest is that entry's; 0: no copy (no such port, or a
	 * writer other than the daemon), and the programs look the port up
	 * (port_state.h).
	 */
	__u32 port_stats_slot; /* host: port_info.stats_slot */
	__u8 port_present;
	__u8 port_flags;       /* port_info.flags */
	__u8 port_net_flags;   /* port_info.net_flags */
	/*
	 * FDB_REMOTE only, else zero: 1 when `nexthop` is a copy of the VTEP's
	 * xdpnet_nexthops entry, which the daemon writes into every remote MAC
	 * of that VTEP whenever it writes or deletes the entry, so that
	 * encapsulating to a remote MAC needs no lookup of its next hop. 0: no
	 * copy (none resolved, or a writer other than the daemon), and the
	 * programs look the next hop up (deliver.h).
	 */
	__u8 nexthop_present;
	struct vtep_nexthop nexthop;
	/*
	 * FDB_LOCAL, with port_present: the port's copy of its network's MTU
	 * (port_info.net_mtu, meaningful when port_net_flags has
	 * PORT_NET_F_PRESENT), so that routing into the port needs no lookup of
	 * the network either. Else zero.
	 */
	__u16 port_net_mtu;    /* host */
	/*
	 * FDB_ROUTER only, else zero: 1 when router_flags and router_mac are a
	 * copy of the router's xdpnet_routers entry, which the daemon writes
	 * into every FDB_ROUTER entry of that router whenever it writes or
	 * deletes the router's entry (and list repairs), so that routing needs
	 * no lookup of the router. 0: no copy (no such router, or a writer
	 * other than the daemon), and the programs look the router up (route.h).
	 */
	__u8 router_present;
	__u8 router_flags;         /* router_info.flags */
	__u8 router_mac[ETH_ALEN]; /* router_info.mac */
	/*
	 * FDB_ROUTER only, else zero: 1 when the snat_* fields below are a copy
	 * of the router's xdpnet_snat entry (snat_maps.h: what the programs read
	 * of it), kept like the router's copy (the daemon rewrites it with every
	 * write or delete of that entry), so that routing out through the
	 * router's external gateway needs no lookup of it. 0: no copy (no
	 * entry, or a writer other than the daemon), and the programs look it
	 * up (external_route.h).
	 */
	__u8 snat_present;
	__u8 snat_flags;           /* snat_info.flags */
	__u8 snat_network_type;    /* snat_info.network_type */
	__u8 pad[3];               /* zero */
	__be32 snat_external_ip;   /* network: snat_info.external_ip */
	__u32 snat_ifindex;        /* host: snat_info.ifindex */
	__u32 snat_mtu;            /* host: snat_info.mtu */
	__be32 snat_nexthop;       /* network: snat_info.nexthop (the external subnet's gateway; 0: none) */
	/*
	 * With snat_present, FDB_ROUTER only, else zero: 1 when ext_nh_* are a
	 * copy of xdpnet_ext_nexthops' entry for (snat_ifindex, snat_nexthop)
	 * (snat_maps.h), which the daemon rewrites with every write or delete of
	 * that entry, so that a packet routed out to the external subnet's
	 * gateway needs no lookup of its MACs. 0: no copy (no entry: the
	 * programs look it up, and record the miss), or another next hop.
	 */
	__u8 ext_nh_present;
	__u8 ext_nh_dst_mac[ETH_ALEN]; /* ext_nexthop.dst_mac */
	__u8 ext_nh_src_mac[ETH_ALEN]; /* ext_nexthop.src_mac */
	__u8 pad2[3];                  /* zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fdb_key);
	__type(value, struct fdb_entry);
} xdpnet_fdb SEC(".maps");

/*
 * --- xdpnet_arp: (VNI, IPv4) -> MAC, for the ARP responder (ports and
 * router interfaces) and the router (the neighbour's MAC). An entry carries
 * a copy of its MAC's xdpnet_fdb entry on the same network, which the
 * daemon rewrites after every write or delete of that entry (as it keeps
 * the fdb entries' own copies: src/dataplane/arp-copies.ts), so that a
 * routed packet finds where its neighbour lives without an FDB lookup.
 */

struct arp_key {
	__u32 vni; /* host */
	__be32 ip; /* network */
};

struct arp_entry {
	__u8 mac[ETH_ALEN];
	/*
	 * 1: `fdb` is a copy of xdpnet_fdb's entry for (this VNI, mac). 0: no
	 * copy (no such entry, or a writer other than the daemon): the
	 * programs look it up (route.h).
	 */
	__u8 fdb_present;
	__u8 pad;            /* zero */
	struct fdb_entry fdb; /* all zero without a copy */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct arp_key);
	__type(value, struct arp_entry);
} xdpnet_arp SEC(".maps");

/*
 * --- xdpnet_flood: VNI (host order) -> head-end replication list. One value
 * per network, replaced whole by one map update, so a reader never sees half
 * a list. The limits are the daemon's to enforce (a network needing more
 * cannot be flooded to completely and must show an error).
 */
#define FLOOD_MAX_LOCAL 64
#define FLOOD_MAX_REMOTE 256

struct flood_list {
	__u32 local_count;                       /* host: used slots of local_ifindex */
	__u32 remote_count;                      /* host: used slots of remote_vtep */
	__u32 local_ifindex[FLOOD_MAX_LOCAL];    /* host: this node's ports on the network */
	__be32 remote_vtep[FLOOD_MAX_REMOTE];    /* network: other VTEPs with ports on it, never our own */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* 1 KiB values: allocate what is used */
	__type(key, __u32); /* VNI, host */
	__type(value, struct flood_list);
} xdpnet_flood SEC(".maps");


/*
 * --- xdpnet_tx_ports: every interface an XDP program may redirect into (local
 * ports, the underlay), for bpf_redirect_map's bulk transmit. Key and value
 * are both the ifindex (host order); the kernel refuses an ifindex that does
 * not exist.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} xdpnet_tx_ports SEC(".maps");

#endif /* XDPNET_OVERLAY_MAPS_H */
