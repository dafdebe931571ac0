// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_floor: the least an XDP forwarder does, as the benchmark's floor
 * (bench/dataplane/): rewrite both MAC addresses and redirect through a
 * DEVMAP_HASH keyed by ifindex, the same bulk-transmit path xdp_port and
 * xdp_underlay take (xdpnet_tx_ports). No lookup, no parsing beyond the
 * Ethernet header, so what our programs cost above it is their own work.
 */
#include "lib/common.h"
#include "lib/config.h"

/* Where frames go (host order), and the MACs they get; set at load time. */
DECLARE_CONFIG(__u32, out_ifindex, 0);
const volatile __u8 cfg_dst_mac[ETH_ALEN] = {};
const volatile __u8 cfg_src_mac[ETH_ALEN] = {};

/* Key and value: an ifindex, host order (as xdpnet_tx_ports). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} floor_tx SEC(".maps");

SEC("xdp")
int xdp_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int i;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	/*
	 * Byte by byte through the volatile globals: mac_copy() would need the
	 * volatile cast away, and clang then folds the {} initialiser into the
	 * code instead of reading what the loader wrote.
	 */
#pragma unroll
	for (i = 0; i < ETH_ALEN; i++) {
		eth->h_dest[i] = cfg_dst_mac[i];
		eth->h_source[i] = cfg_src_mac[i];
	}
	return bpf_redirect_map(&floor_tx, CONFIG(out_ifindex), 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
