/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a frame needs to know of a port and of the port's network, from the
 * copies the daemon keeps where the frame's path has them at hand (a port's
 * network in its xdpnet_ports entry, a local MAC's port in its xdpnet_fdb
 * entry: overlay_maps.h) or, where an entry carries no copy, from the maps
 * the copies are made of.
 *
 * A copy is what the daemon last wrote of the original, so it is right when
 * it is there; an entry without one (a writer other than the daemon, a port
 * whose network was not there yet) costs a lookup, never a wrong decision.
 */
#ifndef XDPNET_PORT_STATE_H
#define XDPNET_PORT_STATE_H

#include "common.h"
#include "overlay_maps.h"

/* A port's network: what a frame from or to the port is checked against. */
struct port_network {
	__u32 mtu; /* host: network_info.mtu */
	bool up;
};

/*
 * The network `vni` of a port whose entry has `net_flags` and `net_mtu`
 * (port_info.net_*, or their copies in an FDB entry). Returns 0, or
 * -REASON_DROP_UNKNOWN_VNI when xdpnet_networks does not have it.
 */
static __always_inline int port_network_of(__u32 vni, __u8 net_flags, __u16 net_mtu, struct port_network *net)
{
	struct network_info *info;

	if (net_flags & PORT_NET_F_PRESENT) {
		net->mtu = net_mtu;
		net->up = net_flags & PORT_NET_F_ADMIN_UP;
		return 0;
	}
	info = bpf_map_lookup_elem(&xdpnet_networks, &vni);
	if (!info)
		return -REASON_DROP_UNKNOWN_VNI;
	net->mtu = info->mtu;
	net->up = info->flags & NETWORK_F_ADMIN_UP;
	return 0;
}

/* The port an FDB_LOCAL entry names, as delivering into it needs it. */
struct local_port {
	__u32 stats_slot; /* port_info.stats_slot */
	__u8 flags;       /* port_info.flags */
	__u8 net_flags;   /* port_info.net_flags */
	__u16 net_mtu;    /* port_info.net_mtu (with PORT_NET_F_PRESENT in net_flags) */
};

/*
 * The port on the interface of `fdb`, an FDB_LOCAL entry of network `vni`.
 * Returns 0, or -REASON_DROP_UNKNOWN_DESTINATION when that interface is no
 * port of the network (the FDB and the port table disagree: the port is
 * gone, or on another network now).
 */
static __always_inline int local_port_of(const struct fdb_entry *fdb, __u32 vni, struct local_port *lp)
{
	struct port_info *port;
	__u32 ifindex;

	if (fdb->port_present) {
		lp->stats_slot = fdb->port_stats_slot;
		lp->flags = fdb->port_flags;
		lp->net_flags = fdb->port_net_flags;
		lp->net_mtu = fdb->port_net_mtu;
		return 0;
	}
	ifindex = fdb->ifindex;
	port = bpf_map_lookup_elem(&xdpnet_ports, &ifindex);
	if (!port || port->vni != vni)
		return -REASON_DROP_UNKNOWN_DESTINATION;
	lp->stats_slot = port->stats_slot;
	lp->flags = port->flags;
	lp->net_flags = port->net_flags;
	lp->net_mtu = port->net_mtu;
	return 0;
}

#endif /* XDPNET_PORT_STATE_H */
