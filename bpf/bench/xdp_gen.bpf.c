// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_gen: the dataplane benchmark's traffic generator (bench/dataplane/).
 * BPF_PROG_RUN runs it on every generated frame; it puts the frame back as
 * the benchmark built it, then tail-calls the program under test (slot 0 of
 * gen_target), which decides the frame's fate exactly as if it had been
 * attached to the ingress interface.
 *
 * Why a restore at all: with BPF_F_TEST_XDP_LIVE_FRAMES the kernel copies
 * the frame into each page of its page pool once and then recycles the
 * pages, resetting data/data_end but not the bytes, so a program that
 * rewrote headers (MACs, TTL, NAT) would be handed its own output again.
 * Without live frames (the ns/packet runs) the kernel resets nothing, not
 * even the frame's start, so an encapsulation would be stacked on the
 * previous one.
 *
 * The restore costs the same in every scenario of a direction (same frame),
 * so it shifts every rate alike; bench/dataplane/ reports its cost alone.
 */
#include "lib/common.h"

/* Largest frame the generator carries (bytes). */
#define GEN_FRAME_MAX 256

/* Shared with bench/dataplane/generator.ts. Host byte order. */
struct gen_frame {
	__u32 len;                  /* bytes of `bytes` in use, 1..GEN_FRAME_MAX */
	__u8 bytes[GEN_FRAME_MAX];  /* the frame, as it goes on the wire */
};

/*
 * A map value rather than a read-only global: bpf_xdp_store_bytes() took
 * its source as writable memory until kernels in 2025, and a map value is
 * acceptable either way.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_frame);
} gen_frame SEC(".maps");

/* Slot 0: the program under test. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gen_target SEC(".maps");

#define GEN_ERR_RESTORE 0   /* the frame could not be put back */
#define GEN_ERR_NO_TARGET 1 /* slot 0 empty: nothing under test */
#define GEN_ERR_MAX 2

/* Per-CPU failure counters (host order); the benchmark requires them to stay 0. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GEN_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} gen_errors SEC(".maps");

static __always_inline int fail(__u32 error)
{
	__u64 *count = bpf_map_lookup_elem(&gen_errors, &error);

	if (count)
		*count += 1;
	return XDP_DROP;
}

SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct gen_frame *frame = bpf_map_lookup_elem(&gen_frame, &zero);
	__u32 len;
	int delta;

	if (!frame)
		return fail(GEN_ERR_RESTORE);
	len = frame->len;
	/* Verifier: bpf_xdp_store_bytes() wants a size it can prove within the value. */
	if (len == 0 || len > GEN_FRAME_MAX)
		return fail(GEN_ERR_RESTORE);

	/*
	 * Only needed without live frames: give the frame back its length by
	 * moving its start (encapsulation and decapsulation move only the
	 * start). The frame may then sit elsewhere in its buffer than the first
	 * time; only the headroom left differs.
	 */
	delta = (int)(ctx->data_end - ctx->data) - (int)len;
	if (delta && bpf_xdp_adjust_head(ctx, delta))
		return fail(GEN_ERR_RESTORE);
	if (bpf_xdp_store_bytes(ctx, 0, frame->bytes, len))
		return fail(GEN_ERR_RESTORE);

	bpf_tail_call(ctx, &gen_target, 0);
	return fail(GEN_ERR_NO_TARGET);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
