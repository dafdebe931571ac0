// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_pass: the benchmark's entry into the kernel's own path (Linux bridge +
 * vxlan device, as Neutron's linuxbridge agent builds it). Frames it passes
 * in a live-frames BPF_PROG_RUN are turned into skbs and received by the
 * stack as if they had arrived on the ingress interface. A program of its
 * own, rather than the generator passing the frame itself, so the kernel
 * path pays for the same tail call as every other scenario.
 */
#include "lib/common.h"

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
