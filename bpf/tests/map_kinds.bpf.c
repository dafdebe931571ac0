// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One map of each kind the dataplane uses, and a program that touches them,
 * so tests can exercise every map operation of the addon on real kernel maps.
 * Never loaded by the daemon.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct test_key {
	__u32 id;
	__u8 mac[6];
	__u16 pad;
};

struct test_value {
	__u64 count;
	__u32 flags;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct test_key);
	__type(value, struct test_value);
} test_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} test_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} test_percpu SEC(".maps");

struct lpm_v4_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
} test_lpm SEC(".maps");

/* A load-time setting of each size the loader encodes. */
const volatile __u8 cfg_small = 1;
const volatile __u32 cfg_word = 2;
const volatile __u64 cfg_wide = 3;

/* Counts runs in test_array[0] and returns XDP_PASS, or XDP_DROP when cfg_word is 0. */
SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *runs = bpf_map_lookup_elem(&test_array, &zero);

	if (runs)
		__sync_fetch_and_add(runs, cfg_small + cfg_wide);
	return cfg_word ? XDP_PASS : XDP_DROP;
}

/* TC counterpart for tcx attach tests: counts in test_array[1], lets everything through. */
SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__u32 one = 1;
	__u64 *runs = bpf_map_lookup_elem(&test_array, &one);

	if (runs)
		__sync_fetch_and_add(runs, 1);
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
