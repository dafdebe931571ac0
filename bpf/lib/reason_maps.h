/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The reason counters: one per-CPU slot per reason code (gen/reasons.h).
 * Shared with user space (src/dataplane/layouts.ts, checked against BTF).
 * Every program object declares this map under the same name; the loader
 * pins it once and every later object reuses the pinned map, so the node has
 * one set of counters whatever the number of programs.
 */
#ifndef XDPNET_REASON_MAPS_H
#define XDPNET_REASON_MAPS_H

#include "common.h"

/* Host byte order. */
struct reason_counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_MAX);
	__type(key, __u32); /* enum xdpnet_reason */
	__type(value, struct reason_counters);
} xdpnet_reasons SEC(".maps");

#endif /* XDPNET_REASON_MAPS_H */
