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
 * The local port on `ifindex` if it belongs to network `vni` and is up, for
 * the caller to count the frame on it (port_stats.h). Else NULL with
 * `*reason` set: -REASON_DROP_UNKNOWN_DESTINATION (the FDB and the port
 * table disagree) or -REASON_DROP_PORT_DOWN.
 */
static __always_inline struct port_info *local_port_accepts(__u32 vni, __u32 ifindex, int *reason)
{
	struct port_info *port = bpf_map_lookup_elem(&xdpnet_ports, &ifindex);

	if (!port || port->vni != vni) {
		*reason = -REASON_DROP_UNKNOWN_DESTINATION;
		return NULL;
	}
	if (!(port->flags & PORT_F_ADMIN_UP)) {
		*reason = -REASON_DROP_PORT_DOWN;
		return NULL;
	}
	return port;
}

#endif /* XDPNET_FDB_H */
