/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where a MAC of a network lives (xdpnet_fdb), and whether a local port may
 * take a frame of that network.
 */
#ifndef XDPNET_FDB_H
#define XDPNET_FDB_H

#include "common.h"
#include "mac.h"
#include "overlay_maps.h"

static __always_inline struct fdb_entry *fdb_lookup(__u32 vni, const __u8 *mac)
{
	struct fdb_key key = { .vni = vni };

	mac_copy(key.mac, mac);
	return bpf_map_lookup_elem(&xdpnet_fdb, &key);
}

/*
 * Returns 0 if the local port on `ifindex` belongs to network `vni` and is
 * up; else -REASON_DROP_UNKNOWN_DESTINATION (the FDB and the port table
 * disagree) or -REASON_DROP_PORT_DOWN.
 */
static __always_inline int local_port_accepts(__u32 vni, __u32 ifindex)
{
	struct port_info *port = bpf_map_lookup_elem(&xdpnet_ports, &ifindex);

	if (!port || port->vni != vni)
		return -REASON_DROP_UNKNOWN_DESTINATION;
	if (!(port->flags & PORT_F_ADMIN_UP))
		return -REASON_DROP_PORT_DOWN;
	return 0;
}

#endif /* XDPNET_FDB_H */
