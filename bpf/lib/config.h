/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-node settings are load-time constants: `const volatile` globals in
 * .rodata that the loader writes before the verifier runs. The verifier then
 * sees them as known values and prunes the branches they disable, so a
 * setting costs nothing at run time and no per-node recompilation is needed.
 * `volatile` keeps clang from folding the default into the code.
 */
#ifndef XDPNET_CONFIG_H
#define XDPNET_CONFIG_H

#define DECLARE_CONFIG(type, name, default_value) \
	const volatile type cfg_##name = default_value

#define CONFIG(name) (cfg_##name)

#endif /* XDPNET_CONFIG_H */
