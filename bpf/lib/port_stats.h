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
 * destination port where it is handed over: one lookup per side. Entries are
 * created by the programs on first use, only for an ifindex just found in
 * xdpnet_ports, so the map never holds more keys than there are ports. The
 * daemon deletes a port's key when it adds or removes the port, so a port
 * (or an ifindex reused by another port) starts from zero.
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

/* Host byte order. Per CPU: user space sums the slots. */
struct port_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 dropped_packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096); /* as xdpnet_ports: at most one entry per port */
	__type(key, __u32);        /* ifindex, host */
	__type(value, struct port_stats);
} xdpnet_port_stats SEC(".maps");

/*
 * The counters of the port on `ifindex`, created (zero on every CPU) on first
 * use. Call it only with an ifindex just found in xdpnet_ports. NULL when the
 * map is full (stale keys the daemon has not deleted yet): the frame is then
 * not counted, never dropped for it.
 */
static __always_inline struct port_stats *port_stats_of(__u32 ifindex)
{
	struct port_stats *stats = bpf_map_lookup_elem(&xdpnet_port_stats, &ifindex);

	if (!stats) {
		/* Zero on every CPU: the kernel zeroes the slots of the other CPUs. */
		struct port_stats zero = {};

		/* NOEXIST: another CPU may have created it meanwhile; its counts must stay. */
		bpf_map_update_elem(&xdpnet_port_stats, &ifindex, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&xdpnet_port_stats, &ifindex);
	}
	return stats;
}

/* One frame of `bytes` handed to the port on `ifindex` (known to xdpnet_ports). */
static __always_inline void port_stats_tx(__u32 ifindex, __u64 bytes)
{
	struct port_stats *stats = port_stats_of(ifindex);

	if (stats) {
		/* Per-CPU slot: no other CPU writes it, plain adds are enough. */
		stats->tx_packets += 1;
		stats->tx_bytes += bytes;
	}
}

#endif /* XDPNET_PORT_STATS_H */
