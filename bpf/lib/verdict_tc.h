/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * verdict.h for TC programs: the same outcome (action + reason) and a single
 * exit counting the reason in xdpnet_reasons, with TC actions.
 *
 * Only actions that mean the same under cls_bpf (direct action) and tcx are
 * used: TC_ACT_OK (TCX_PASS) and TC_ACT_SHOT (TCX_DROP). TC_ACT_STOLEN would
 * read as TCX_NEXT under tcx, letting the frame through.
 */
#ifndef XDPNET_VERDICT_TC_H
#define XDPNET_VERDICT_TC_H

#include <linux/pkt_cls.h>

#include "common.h"
#include "verdict.h"

static __always_inline outcome_t tc_pass(enum xdpnet_reason reason)
{
	return outcome(TC_ACT_OK, reason);
}

static __always_inline outcome_t tc_drop(enum xdpnet_reason reason)
{
	return outcome(TC_ACT_SHOT, reason);
}

static __always_inline outcome_t tc_drop_from(int negative_reason)
{
	return tc_drop((enum xdpnet_reason)(-negative_reason));
}

/*
 * The original of a frame whose copies have been sent (`partial`: some could
 * not be): it has nowhere left to go. (Redirecting it as the last copy would
 * save one clone, but BPF_PROG_RUN does not carry out a redirect, and the
 * flood path is rare.)
 */
static __always_inline outcome_t tc_replicated(bool partial)
{
	return outcome(TC_ACT_SHOT, partial ? REASON_DROP_FLOOD_PARTIAL : REASON_FWD_FLOOD);
}

/*
 * Whether the frame was discarded whole: TC_ACT_SHOT, and not the original
 * of copies that were sent (the only outcomes tc_replicated makes).
 */
static __always_inline bool tc_discarded(outcome_t result)
{
	__u32 reason = outcome_reason(result);

	return outcome_action(result) == TC_ACT_SHOT && reason != REASON_FWD_FLOOD &&
	       reason != REASON_DROP_FLOOD_PARTIAL;
}

/*
 * The single exit of a TC program. `bytes` is the frame's length as it
 * arrived: the program may have turned it into something else by now.
 */
static __always_inline int finish_tc(__u32 bytes, outcome_t result)
{
	count_reason(outcome_reason(result), bytes);
	return outcome_action(result);
}

#endif /* XDPNET_VERDICT_TC_H */
