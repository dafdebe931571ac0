/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdpnet_cache_gen: the generation of the maps the programs cache
 * (lookup_cache.h). One u64 (host order). Whoever changes an entry of a
 * cached map writes a new generation after the change, and every CPU's
 * cached copies from before it stop being used on its next frame.
 *
 * Declared next to the cached maps (overlay_maps.h, router_maps.h, ...) so
 * that every object declaring one of them declares this too, and whoever
 * writes them through that object has the generation at hand: the daemon's
 * map handles write it after every change of a cached map
 * (src/dataplane/cache-generation.ts), and once a second anyway, which
 * bounds how long a change written past the daemon (another tool) can go
 * unseen.
 *
 * A generation is never written twice: the daemon writes CLOCK_MONOTONIC
 * in ns (later than any earlier one, whichever process wrote it), so a
 * copy made under one generation cannot become valid again.
 */
#ifndef XDPNET_CACHE_GEN_H
#define XDPNET_CACHE_GEN_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xdpnet_cache_gen SEC(".maps");

#endif /* XDPNET_CACHE_GEN_H */
