/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-port traffic counters (the API's GetPortCounters): the map, its value,
 * and the two updates the programs make.
 *
 * Direction is the switch port's, as for the host-side interface's own
 * counters (`ip -s link show tapX`) and Open vSwitch's interface statistics:
 *
 *   rx_packets, rx_bytes  frames the port received FROM the VM: every frame
 *                         xdp_port sees on a known port, whatever became of it
 *                         (forwarded, answered, flooded or dropped), at the
 *                         length it arrived with (before any encapsulation);
 *   tx_packets, tx_bytes  frames the fast path handed to the port's interface
 *                         TO the VM: xdp_port's local redirect, xdp_underlay's
 *                         decapsulation, each flood copy of tc_port_flood and
 *                         tc_underlay_flood, and an ARP reply xdp_port sends
 *                         back (XDP_TX); at the length the VM gets. A frame the
 *                         driver fails to transmit after that is in the
 *                         interface's own tx_dropped, not here;
 *   dropped_packets       frames from the VM the fast path discarded whole
 *                         (xdp_port, or tc_port_flood on the flood path): a
 *                         subset of rx_packets. Flood copies that could not be
 *                         sent are not drops of the port's (REASON_DROP_FLOOD_PARTIAL
 *                         counts them); frames on their way TO a port that are
 *                         dropped count against the port or underlay they came from.
 *
 * (libvirt and Ceilometer name the same counters from the guest's side, with
 * rx and tx swapped.)
 *
 * A frame is counted on the ingress port at one exit per program and on a
 * destination port where it is handed over, each through the port's slot in
 * port_info.stats_slot (overlay_maps.h): the programs have the port's
 * port_info at hand on both sides already, and an array slot is found
 * without a hash lookup. The daemon gives every port a slot of its own when
 * it adds it, zeroed first, so a port (or an ifindex reused by another port)
 * starts from zero, and takes it back when it removes the port. Slot 0 is
 * nobody's: a port_info with stats_slot 0 (or one past the array) is not
 * counted, never dropped for it.
 *
 * The map is shared like the overlay maps (overlay_maps.h): every object
 * declares it under the same name and the daemon pins it once, at
 * <bpffs root>/xdpnet_port_stats. The kernel keeps only 15 characters of a
 * map name: bpftool shows it as "xdpnet_port_sta"; libbpf and the pin use the
 * full name. struct port_stats is mirrored by src/dataplane/layouts.ts
 * (checked against BTF by test/bpf/layouts.test.ts); user space reads it with
 * src/dataplane/port-counters.ts.
 */
#ifndef XDPNET_PORT_STATS_H
#define XDPNET_PORT_STATS_H

#include "common.h"
#include "overlay_maps.h"

/* Slots 1..PORT_STATS_SLOTS-1, one per port: as many as xdpnet_ports holds ports. */
#define PORT_STATS_SLOTS (4096 + 1)

/* Host byte order. Per CPU: user space sums the slots. */
struct port_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 dropped_packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PORT_STATS_SLOTS);
	__type(key, __u32); /* port_info.stats_slot, host */
	__type(value, struct port_stats);
} xdpnet_port_stats SEC(".maps");

/* The counters in `slot`, or NULL when it is nobody's. */
static __always_inline struct port_stats *port_stats_in(__u32 slot)
{
	/* Slot 0 is nobody's; past the array the lookup itself says NULL. */
	if (!slot)
		return NULL;
	return bpf_map_lookup_elem(&xdpnet_port_stats, &slot);
}

/* The counters of `port`, or NULL when it has no slot. */
static __always_inline struct port_stats *port_stats_of(const struct port_info *port)
{
	return port_stats_in(port->stats_slot);
}

/* One frame of `bytes` handed to the port counting in `slot` (port_info.stats_slot or its copy). */
static __always_inline void port_stats_tx(__u32 slot, __u64 bytes)
{
	struct port_stats *stats = port_stats_in(slot);

	if (stats) {
		/* Per-CPU slot: no other CPU writes it, plain adds are enough. */
		stats->tx_packets += 1;
		stats->tx_bytes += bytes;
	}
}

#endif /* XDPNET_PORT_STATS_H */
