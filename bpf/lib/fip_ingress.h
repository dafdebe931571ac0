/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A packet from the external network to a floating IP held on this node
 * (xdp_external: an EXT_ADDR_FLOATING entry of xdpnet_ext_addrs, on the NIC
 * it came in on), packet walk 5: its destination becomes the VM's fixed IP
 * and it is routed to the VM, wherever the VM runs. In order:
 *
 *   (the caller: no xdpnet_fip_in entry    -> as unsolicited: the daemon writes
 *    for the router and address              it before the address and deletes
 *                                            it after, so only an association
 *                                            half made or half undone gets there)
 *   fip.h's checks (fragments cannot come here: xdp_external hands them to the
 *   kernel first)                           -> FIP_PROTOCOL, FIP_MALFORMED_ICMP_ERROR
 *   the fixed IP without an ARP entry on
 *   its network                            -> dropped (NO_NEIGHBOR): the router
 *                                            finds the VM as for any routed packet
 *   the router's checks (external_deliver.h): router up, TTL (time exceeded back
 *   out, from the floating IP), the VM's network, its MTU (fragmentation needed
 *   back out), its MAC in the FDB
 *   then translated (fip.h; TTL - 1) and into the VM's local port or
 *   VXLAN-encapsulated to its VTEP: FWD_FIP_IN_* (ICMP errors: FWD_FIP_ICMP_ERROR_*).
 *
 * Anything the VM is sent reaches it: echo requests too (a floating IP is the
 * VM's address; xdp_external answers pings only for a router's own gateway
 * IP), and with no connection needed (1:1, stateless).
 */
#ifndef XDPNET_FIP_INGRESS_H
#define XDPNET_FIP_INGRESS_H

#include "common.h"
#include "deliver.h"
#include "external_deliver.h"
#include "fip.h"
#include "fip_maps.h"
#include "overlay_maps.h"
#include "snat_maps.h"
#include "verdict.h"

/*
 * The IPv4 packet `ip` (untagged, IHL 5, unfragmented, its L4 header
 * complete: host_ingress.h) to the floating IP of `addr`, which `fip`
 * translates, behind `router` (NULL: none). `ul` is for a VM behind another
 * VTEP; `stamp` is the packet's cache stamp (lookup_cache.h).
 */
static __always_inline outcome_t fip_ingress(struct xdp_md *ctx, struct iphdr *ip, const struct ext_addr *addr,
					     const struct router_info *router, const struct fip_in *fip,
					     const struct underlay_config *ul, __u64 stamp)
{
	void *end = (void *)(long)ctx->data_end;
	struct arp_key neigh_key = { .vni = fip->vni, .ip = fip->fixed_ip };
	struct udphdr *ports = (void *)(ip + 1); /* TCP and UDP both start with the ports */
	struct vm_target t = {};
	struct arp_entry *neigh;
	__u16 sport = 0, dport = 0;
	outcome_t result;
	int kind, ret;

	kind = fip_check(ip, end, false, ip->daddr);
	if (kind < 0)
		return drop_from(kind);
	neigh = bpf_map_lookup_elem(&xdpnet_arp, &neigh_key);
	if (!neigh)
		return drop(REASON_DROP_NO_NEIGHBOR);
	t.stamp = stamp;
	t.router = router;
	t.vni = fip->vni;
	t.vm_mac = neigh->mac;
	if (neigh->fdb_present)
		t.fdb = &neigh->fdb;
	if (ext_to_vm_check(ctx, ip, addr, &t, &result))
		return result;
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		/* Verifier: fip_check checked the header on its own pointer. The ports stay as they are. */
		if ((void *)(ports + 1) > end)
			return drop(REASON_DROP_TRUNCATED_L4);
		sport = bpf_ntohs(ports->source);
		dport = bpf_ntohs(ports->dest);
	}
	ret = fip_rewrite(ip, end, false, fip->fixed_ip, kind, true);
	if (ret < 0)
		return drop_from(ret);
	if (kind == FIP_ICMP_ERROR)
		return ext_to_vm_deliver(ctx, ip, &t, 0, 0, ul, REASON_FWD_FIP_ICMP_ERROR_LOCAL,
					 REASON_FWD_FIP_ICMP_ERROR_ENCAP);
	return ext_to_vm_deliver(ctx, ip, &t, sport, dport, ul, REASON_FWD_FIP_IN_LOCAL, REASON_FWD_FIP_IN_ENCAP);
}

#endif /* XDPNET_FIP_INGRESS_H */
