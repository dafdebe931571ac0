// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_sink: the far end of every benchmark path (bench/dataplane/), attached
 * to the peers of the interfaces frames leave by. It counts each frame that
 * is what the scenario must deliver (destination MAC and length as
 * expected, and where the scenario says so, four bytes at an offset: the
 * translated address of a NAT, the decremented TTL and its checksum of a
 * router) and drops it; anything else (a wrong frame, the kernel's own
 * chatter) is counted apart, so a path cannot score with the wrong output.
 *
 * Being there also makes a veth accept XDP_REDIRECTed frames at all: veth
 * drops them unless its peer runs XDP (or has GRO on).
 */
#include "lib/common.h"
#include "lib/mac.h"

/* ifindexes in the sink's own namespace are small: it is created empty. */
#define SINK_MAX_IFINDEX 64

/* Largest match_off + 4. */
#define SINK_MATCH_END 128

/* Shared with bench/dataplane/sink.ts. */
struct sink_expect {
	__u8 dst_mac[ETH_ALEN];
	__u16 len;       /* host: whole frame, bytes */
	__u8 match[4];   /* the bytes at match_off, as on the wire */
	__u16 match_off; /* host: 0, nothing more to match; else 6..SINK_MATCH_END - 4 */
	__u16 pad;
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

/* The four bytes at want->match_off are want->match (true when there is nothing to match). */
static __always_inline bool match_ok(void *data, void *data_end, const struct sink_expect *want)
{
	__u32 off = want->match_off;
	__u8 *at;
	int i;

	if (!off)
		return true;
	if (off > SINK_MATCH_END - 4)
		return false;
	at = data + off;
	if ((void *)(at + 4) > data_end)
		return false;
#pragma unroll
	for (i = 0; i < 4; i++)
		if (at[i] != want->match[i])
			return false;
	return true;
}

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
	    mac_equal(eth->h_dest, want->dst_mac) && match_ok(data, data_end, want))
		count->delivered += 1;
	else
		count->other += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
