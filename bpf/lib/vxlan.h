/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * VXLAN (RFC 7348) headers and the outer header we write.
 *
 * What an encapsulated frame looks like on the wire, field by field:
 *   outer Ethernet  dst/src from the VTEP's underlay next hop (xdpnet_nexthops),
 *                   type IPv4, no VLAN tag
 *   outer IPv4      version 4, IHL 5, TOS 0, ID 0, DF set, TTL 64, protocol UDP,
 *                   checksum computed, source = our VTEP IP, destination = the remote VTEP
 *   UDP             source port hashed from the inner flow into 49152..65535,
 *                   destination 4789, checksum 0 (allowed over IPv4, RFC 7348 §5)
 *   VXLAN           flags 0x08 (I: VNI valid), VNI, reserved fields zero
 *
 * DF: Linux's vxlan device has a `df` option (unset, set, inherit) whose
 * default is `unset`; we always set DF, as `ip link add ... type vxlan df set`
 * does (and Open vSwitch by default). We never send an outer packet larger
 * than the underlay MTU, and a fragment could not be decapsulated anyway
 * (xdp_underlay hands fragments to the kernel, which has no VXLAN socket), so
 * a too-small link on the way is better reported (ICMP fragmentation needed,
 * to our VTEP IP) than silently fragmented. With DF set the datagram is
 * atomic and an ID of 0 is allowed (RFC 6864 §4.1).
 *
 * TTL 64 is what Linux vxlan uses for unicast remotes (the route's default
 * hop limit). TOS 0: ECN is not propagated (RFC 6040 compatibility mode,
 * outer Not-ECT), so congestion on the underlay shows as loss.
 *
 * Source port, as Linux's udp_flow_src_port() maps a flow hash into
 * [min, max): port = min + ((hash ^ (hash << 16)) * (max - min)) >> 32, with
 * min 49152 and max 65536 (RFC 7348 §5 recommends the dynamic range), i.e.
 * 49152 + ((hash ^ (hash << 16)) >> 18). The flow hash is port_frame_hash()
 * (port_frame.h).
 */
#ifndef XDPNET_VXLAN_H
#define XDPNET_VXLAN_H

#include "common.h"
#include "csum.h"
#include "mac.h"
#include "overlay_maps.h"

#define VXLAN_PORT 4789
#define VXLAN_FLAG_I 0x08 /* the VNI field is valid */
#define VXLAN_SRC_PORT_MIN 49152
#define VXLAN_OUTER_TTL 64

struct vxlanhdr {
	__u8 flags;
	__u8 reserved1[3];
	__be32 vni; /* VNI in the high 24 bits, low byte reserved */
};

/*
 * Everything put in front of the inner frame. Packed (the IPv4 header follows
 * the 14-byte Ethernet header), but 2-byte aligned: it starts where the frame
 * does, so every 16-bit field, and each half of a 32-bit one, is written with
 * one store rather than byte by byte.
 */
struct vxlan_outer {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	struct vxlanhdr vxlan;
} __attribute__((packed, aligned(2)));

/* 50: what encapsulation adds to the inner frame. */
#define VXLAN_OVERHEAD ((__u32)sizeof(struct vxlan_outer))
/* 36: outer IPv4 + UDP + VXLAN, i.e. outer IPv4 total length = inner frame + this. */
#define VXLAN_IP_OVERHEAD ((__u32)(sizeof(struct iphdr) + sizeof(struct udphdr) + sizeof(struct vxlanhdr)))

static __always_inline __u32 vxlan_vni(const struct vxlanhdr *vxlan)
{
	return bpf_ntohl(vxlan->vni) >> 8;
}

static __always_inline __be16 vxlan_src_port(__u32 flow_hash)
{
	/* Linux obfuscates the hash so that the port does not leak it. */
	flow_hash ^= flow_hash << 16;
	return bpf_htons(VXLAN_SRC_PORT_MIN + (flow_hash >> 18));
}

/*
 * Fills the outer headers for an inner frame of inner_len bytes, wherever
 * `outer` is (the packet or the stack). The IPv4 checksum is summed from the
 * field values rather than read back from the packed header.
 */
static __always_inline void vxlan_outer_fill(struct vxlan_outer *outer, const struct vtep_nexthop *nh,
					     __be32 saddr, __be32 daddr, __u32 vni, __be16 sport,
					     __u32 inner_len)
{
	__u16 ip_len = VXLAN_IP_OVERHEAD + inner_len;
	__u16 udp_len = ip_len - sizeof(struct iphdr);
	__u32 src = bpf_ntohl(saddr);
	__u32 dst = bpf_ntohl(daddr);
	__u32 sum;

	mac_copy(outer->eth.h_dest, nh->dst_mac);
	mac_copy(outer->eth.h_source, nh->src_mac);
	outer->eth.h_proto = bpf_htons(ETH_P_IP);

	outer->ip.version = 4;
	outer->ip.ihl = 5;
	outer->ip.tos = 0;
	outer->ip.tot_len = bpf_htons(ip_len);
	outer->ip.id = 0;
	outer->ip.frag_off = bpf_htons(0x4000); /* IP_DF */
	outer->ip.ttl = VXLAN_OUTER_TTL;
	outer->ip.protocol = IPPROTO_UDP;
	outer->ip.saddr = saddr;
	outer->ip.daddr = daddr;
	/* RFC 1071 over the ten 16-bit words of the header, checksum word as 0. */
	sum = 0x4500 + ip_len + 0x4000 + ((VXLAN_OUTER_TTL << 8) | IPPROTO_UDP) + (src >> 16) +
	      (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
	outer->ip.check = bpf_htons((__u16)~csum_fold32(sum));

	outer->udp.source = sport;
	outer->udp.dest = bpf_htons(VXLAN_PORT);
	outer->udp.len = bpf_htons(udp_len);
	outer->udp.check = 0;

	outer->vxlan.flags = VXLAN_FLAG_I;
	outer->vxlan.reserved1[0] = 0;
	outer->vxlan.reserved1[1] = 0;
	outer->vxlan.reserved1[2] = 0;
	outer->vxlan.vni = bpf_htonl(vni << 8);
}

#endif /* XDPNET_VXLAN_H */
