/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Handlers do not return bare XDP actions: they return an outcome, an XDP
 * action together with the reason for it, and the program's single exit,
 * finish(), counts the reason and returns the action. That way every frame
 * is counted exactly once and no path can forget to count.
 *
 * Parsers and other helpers that can fail return a negative reason code
 * (-REASON_DROP_*); drop_from() turns that into an outcome.
 */
#ifndef XDPNET_VERDICT_H
#define XDPNET_VERDICT_H

#include "common.h"
#include "reason_maps.h"

/* XDP action in the low byte, reason code in the bits above. */
typedef __u32 outcome_t;

static __always_inline outcome_t outcome(__u32 action, enum xdpnet_reason reason)
{
	return ((__u32)reason << 8) | (action & 0xff);
}

static __always_inline __u32 outcome_action(outcome_t result)
{
	return result & 0xff;
}

static __always_inline __u32 outcome_reason(outcome_t result)
{
	return result >> 8;
}

static __always_inline outcome_t pass(enum xdpnet_reason reason)
{
	return outcome(XDP_PASS, reason);
}

static __always_inline outcome_t drop(enum xdpnet_reason reason)
{
	return outcome(XDP_DROP, reason);
}

/* For a helper's negative return (-REASON_*), the drop it stands for. */
static __always_inline outcome_t drop_from(int negative_reason)
{
	return drop((enum xdpnet_reason)(-negative_reason));
}

/* Counts one frame of `bytes` under `reason` (both exits below use it). */
static __always_inline void count_reason(__u32 reason, __u64 bytes)
{
	struct reason_counters *counters;

	counters = bpf_map_lookup_elem(&xdpnet_reasons, &reason);
	if (counters) {
		/* Per-CPU slot: no other CPU writes it, plain adds are enough. */
		counters->packets += 1;
		counters->bytes += bytes;
	}
}

/* The single exit of every XDP program: count the frame under its reason. */
static __always_inline int finish(struct xdp_md *ctx, outcome_t result)
{
	count_reason(outcome_reason(result), ctx->data_end - ctx->data);
	return outcome_action(result);
}

#endif /* XDPNET_VERDICT_H */
