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
 *
 * Optionally each frame is a new flow (the connection-rate scenarios): after
 * the restore the TCP/UDP ports at `vary_ports_off` are rewritten from a
 * counter that advances by one per frame, the remote (destination) port
 * fastest, 1..65535, the source port 1024..65535 once per 65535 frames, so
 * no 5-tuple repeats for 65535 * 64512 (about 4.2e9) frames and no remote
 * endpoint gets more than one connection per 65535 frames (a NAT's ports
 * are per remote endpoint). The L4 checksum at `vary_csum_off` is kept right
 * (incrementally; a UDP checksum of 0, "none", stays 0).
 */
#include "lib/common.h"
#include "lib/csum.h"

/* Largest frame the generator carries (bytes). */
#define GEN_FRAME_MAX 256

/* Shared with bench/dataplane/generator.ts. Host byte order. */
struct gen_frame {
	__u32 len;                  /* bytes of `bytes` in use, 1..GEN_FRAME_MAX */
	__u16 vary_ports_off;       /* offset of the TCP/UDP source port to vary per frame; 0: none */
	__u16 vary_csum_off;        /* offset of the L4 checksum over those ports; 0: none */
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

/* Frames varied so far (host order): what the next frame's ports are made of. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gen_seq SEC(".maps");

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

/* The next flow's ports into the restored frame (see the top). Returns 0, or -1. */
static __always_inline int vary(struct xdp_md *ctx, const struct gen_frame *frame)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 off = frame->vary_ports_off, csum_off = frame->vary_csum_off;
	__u32 zero = 0, *seq, n;
	__be16 *ports, sport, dport;
	__sum16 *check;

	seq = bpf_map_lookup_elem(&gen_seq, &zero);
	if (!seq)
		return -1;
	/*
	 * A plain increment: the generator runs on one CPU at a time (one
	 * BPF_PROG_RUN call after another), and a shared counter, unlike a
	 * per-CPU one, cannot repeat a flow when the caller moves to another CPU.
	 */
	n = (*seq)++;
	dport = bpf_htons(1 + n % 65535);
	sport = bpf_htons(1024 + (n / 65535) % 64512);

	if (off > GEN_FRAME_MAX - 4 || csum_off > GEN_FRAME_MAX - 2)
		return -1;
	ports = data + off;
	if ((void *)(ports + 2) > data_end)
		return -1;
	if (csum_off) {
		check = data + csum_off;
		if ((void *)(check + 1) > data_end)
			return -1;
		if (*check) {
			csum_replace2(check, ports[0], sport);
			csum_replace2(check, ports[1], dport);
			if (!*check)
				*check = 0xffff; /* 0 is "no checksum" to UDP; the same sum to TCP */
		}
	}
	ports[0] = sport;
	ports[1] = dport;
	return 0;
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
	if (frame->vary_ports_off && vary(ctx, frame))
		return fail(GEN_ERR_RESTORE);

	bpf_tail_call(ctx, &gen_target, 0);
	return fail(GEN_ERR_NO_TARGET);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
