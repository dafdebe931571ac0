// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_external: XDP on an external (provider) NIC of a gateway node, where
 * the routers' external IPs and the floating IPs are reached (packet walk 4,
 * the way back, and packet walk 5). It validates every frame as xdp_guard
 * does (it takes the guard's place on this interface) and then:
 *
 *   ARP request for an external IP held
 *   here (xdpnet_ext_addrs, this NIC)      -> answered with the NIC's MAC (external_arp.h)
 *   IPv4 to such an address, untagged:
 *     IPv4 options                         -> dropped
 *     a floating IP                        -> translated to the fixed IP (1:1) and
 *                                             routed to the VM, wherever it runs
 *                                             (fip_ingress.h); without its
 *                                             translation, as unsolicited below
 *     ICMP echo request                    -> answered from that address (the router's, as
 *                                             a Neutron router answers on its gateway port)
 *     a reply of a SNAT connection, or an
 *     ICMP error about one                 -> translated back (snat_reverse.h), routed to
 *                                             the VM (external_deliver.h): into its local
 *                                             port or VXLAN-encapsulated to its VTEP
 *     anything else (unsolicited)          -> to the kernel, or dropped with the
 *                                             drop_unsolicited setting
 *   everything else (the node's own traffic on this NIC, other addresses,
 *   fragments)                             -> to the kernel, untouched
 *
 * Replies of a fragmented kind reach the kernel as fragments and are lost
 * there: the fast path does not reassemble (REASON_PASS_IPV4_FRAGMENT counts
 * them).
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/deliver.h"
#include "lib/external_cache.h"
#include "lib/external_arp.h"
#include "lib/external_deliver.h"
#include "lib/fip.h"
#include "lib/fip_ingress.h"
#include "lib/host_ingress.h"
#include "lib/icmp.h"
#include "lib/snat_maps.h"
#include "lib/snat_reverse.h"
#include "lib/verdict.h"

/* This node's VTEP IPv4 in network byte order (set it as a 4-byte buffer): the outer source. */
DECLARE_CONFIG(__be32, vtep_ip, 0);
/* The largest outer IPv4 packet the underlay carries. */
DECLARE_CONFIG(__u32, underlay_mtu, 1500);
/*
 * What becomes of a packet to an external IP that belongs to no connection:
 * off (default), the kernel gets it (which drops or answers it as it does
 * for any address it does not hold); on, it is dropped here.
 */
DECLARE_CONFIG(bool, drop_unsolicited, false);

static __always_inline outcome_t unsolicited(void)
{
	if (CONFIG(drop_unsolicited))
		return drop(REASON_DROP_EXTERNAL_UNSOLICITED);
	return pass(REASON_PASS_EXTERNAL_UNSOLICITED);
}

/* A ping to the external IP: answered from it, back out of the NIC. */
static __always_inline outcome_t echo_reply(struct xdp_md *ctx, struct iphdr *ip, const struct ext_addr *addr)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;
	struct icmp_hdr *icmp = (void *)(ip + 1);

	if (!ipv4_is_single_host(ip->saddr))
		return drop(REASON_DROP_TO_ROUTER);
	/* Verifier: host_ingress checked the ICMP header on its own copy of the pointer. */
	if ((void *)(eth + 1) > end || (void *)(icmp + 1) > end)
		return drop(REASON_DROP_TRUNCATED_L4);
	icmp_echo_reply(eth, ip, icmp, addr->mac);
	return outcome(XDP_TX, REASON_FWD_ICMP_ECHO_REPLY);
}

/*
 * The IPv4 packet `ip` (IHL 5, untagged) to the external IP of `addr`, whose
 * router is `router` (NULL: none); `stamp`: its cache stamp (lookup_cache.h).
 */
static __always_inline outcome_t to_external_ip(struct xdp_md *ctx, struct iphdr *ip, const struct ext_addr *addr,
						const struct router_info *router, __u64 stamp)
{
	void *end = (void *)(long)ctx->data_end;
	struct underlay_config ul = { .vtep_ip = CONFIG(vtep_ip), .mtu = CONFIG(underlay_mtu) };
	struct icmp_hdr *icmp = (void *)(ip + 1);
	struct vm_target t = {};
	struct nat_in in = {};
	__u16 sport = 0, dport = 0;
	outcome_t result;
	int ret;

	if (ip->protocol == IPPROTO_ICMP) {
		/* Verifier: host_ingress checked the ICMP header on its own copy of the pointer. */
		if ((void *)(icmp + 1) > end)
			return drop(REASON_DROP_TRUNCATED_L4);
		if (icmp->type == ICMP_ECHO)
			return echo_reply(ctx, ip, addr);
	}
	ret = snat_in_lookup(ip, end, &in);
	if (ret < 0)
		return drop_from(ret);
	if (!in.conn)
		return unsolicited();

	t.stamp = stamp;
	t.router = router;
	t.vni = in.conn->vni;
	t.vm_mac = in.conn->vm_mac;
	if (ext_to_vm_check(ctx, ip, addr, &t, &result))
		return result;
	ret = snat_reverse_rewrite(ip, end, &in);
	if (ret < 0)
		return drop_from(ret);
	if (in.icmp_error) {
		return ext_to_vm_deliver(ctx, ip, &t, 0, 0, &ul, REASON_FWD_SNAT_ICMP_ERROR_LOCAL,
					 REASON_FWD_SNAT_ICMP_ERROR_ENCAP);
	}
	if (ip->protocol != IPPROTO_ICMP) {
		/* The flow hash's ports, as the VM's node will see them: the translated ones. */
		sport = bpf_ntohs(in.key.sport);
		dport = bpf_ntohs(in.conn->vm_port);
	}
	return ext_to_vm_deliver(ctx, ip, &t, sport, dport, &ul, REASON_FWD_SNAT_REPLY_LOCAL,
				 REASON_FWD_SNAT_REPLY_ENCAP);
}

/* As to_external_ip, to the floating IP of `addr`. */
static __always_inline outcome_t to_floating_ip(struct xdp_md *ctx, struct iphdr *ip, const struct ext_addr *addr,
						const struct router_info *router, __u64 stamp)
{
	struct underlay_config ul = { .vtep_ip = CONFIG(vtep_ip), .mtu = CONFIG(underlay_mtu) };
	struct fip_in *fip = fip_in_lookup(addr->router_id, ip->daddr);

	/* Written before the address and deleted after it: only an association half made or half undone. */
	if (!fip)
		return unsolicited();
	return fip_ingress(ctx, ip, addr, router, fip, &ul, stamp);
}

static __always_inline outcome_t external(struct xdp_md *ctx)
{
	struct host_ipv4 pkt;
	struct router_info *router;
	struct ext_addr *addr;
	outcome_t result;
	__u64 stamp;

	if (host_ingress(ctx, &pkt, &result)) {
		/* Of what host_ingress decides, only ARP goes to the kernel as PASS_HOST. */
		if (outcome_reason(result) == REASON_PASS_HOST && external_arp_respond(ctx))
			return outcome(XDP_TX, REASON_FWD_EXTERNAL_ARP_REPLY);
		return result;
	}
	stamp = cache_stamp();
	addr = ext_addr_lookup_cached(pkt.ip->daddr, stamp, &router);
	if (!addr || addr->ifindex != ctx->ingress_ifindex)
		return pass(REASON_PASS_HOST);
	/* A flat external network is untagged: a tagged frame is some other network's. */
	if ((void *)pkt.ip != (void *)(long)ctx->data + sizeof(struct ethhdr))
		return pass(REASON_PASS_HOST);
	if (pkt.ip->ihl != 5)
		return drop(REASON_DROP_IPV4_OPTIONS);
	if (addr->kind == EXT_ADDR_FLOATING)
		return to_floating_ip(ctx, pkt.ip, addr, router, stamp);
	return to_external_ip(ctx, pkt.ip, addr, router, stamp);
}

SEC("xdp")
int xdp_external(struct xdp_md *ctx)
{
	return finish(ctx, external(ctx));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
