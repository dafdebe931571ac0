// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_sink: the far end of every benchmark path (bench/dataplane/), attached
 * to the peers of the interfaces frames leave by. It counts each frame that
 * is what the scenario must deliver (destination MAC and length as
 * expected) and drops it; anything else (a wrong frame, the kernel's own
 * chatter) is counted apart, so a path cannot score with the wrong output.
 *
 * Being there also makes a veth accept XDP_REDIRECTed frames at all: veth
 * drops them unless its peer runs XDP (or has GRO on).
 */
#include "lib/common.h"
#include "lib/mac.h"

/* ifindexes in the sink's own namespace are small: it is created empty. */
#define SINK_MAX_IFINDEX 64

/* Shared with bench/dataplane/sink.ts. */
struct sink_expect {
	__u8 dst_mac[ETH_ALEN];
	__u16 len; /* host: whole frame, bytes */
};

/* Host byte order. */
struct sink_counters {
	__u64 delivered; /* frames as expected */
	__u64 other;     /* anything else */
};

/* ifindex -> what arrives there; written by the benchmark before each run. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SINK_MAX_IFINDEX);
	__type(key, __u32);
	__type(value, struct sink_expect);
} sink_expect SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SINK_MAX_IFINDEX);
	__type(key, __u32);
	__type(value, struct sink_counters);
} sink_counters SEC(".maps");

SEC("xdp")
int xdp_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 ifindex = ctx->ingress_ifindex;
	struct sink_counters *count = bpf_map_lookup_elem(&sink_counters, &ifindex);
	struct sink_expect *want = bpf_map_lookup_elem(&sink_expect, &ifindex);
	struct ethhdr *eth = data;

	if (!count || !want)
		return XDP_DROP;
	if ((void *)(eth + 1) <= data_end && data_end - data == want->len &&
	    mac_equal(eth->h_dest, want->dst_mac))
		count->delivered += 1;
	else
		count->other += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
