// Codecs for every struct that C (bpf/lib/*_maps.h) and TypeScript share.
//
// The C headers are the source of truth; each codec here names the C struct it
// mirrors, and test/bpf/layouts.test.ts checks all of SHARED_LAYOUTS against
// the BTF of the compiled objects. Add every new shared struct to that list.

import { type Codec, type StructLayout, be16, bytes, ipv4, mac, struct, u8, u16, u32, u64, uuid } from './codec.js';

/** bpf/lib/reason_maps.h: value of the per-CPU `xdpnet_reasons` array. */
export const reasonCounters = struct<ReasonCounters>('reason_counters', {
  packets: u64,
  bytes: u64,
});
export interface ReasonCounters {
  packets: bigint;
  bytes: bigint;
}


// ---------------------------------------------------------------------------
// The VXLAN overlay: bpf/lib/overlay_maps.h. Keys and values of the maps the
// daemon fills from the reconciler's tables (which table goes where is in the
// header's comment). Field names are the C names (the BTF check compares
// them). Byte order as in C: `u32` fields are host order (VNIs,
// ifindexes, counts, flags), `ipv4`/`be32` fields network order.

/** A fixed-length C array (`T x[n]`); shorter arrays are written zero-filled. */
function array<T>(element: Codec<T>, n: number, zero: T): Codec<T[]> {
  return {
    size: element.size * n,
    align: element.align,
    cTypes: element.cTypes.map((t) => `${t}[${n}]`),
    read: (b, o) => Array.from({ length: n }, (_, i) => element.read(b, o + i * element.size)),
    write: (b, o, v) => {
      if (v.length > n) throw new RangeError(`${v.length} elements do not fit in a ${n}-element array`);
      for (let i = 0; i < n; i++) element.write(b, o + i * element.size, i < v.length ? v[i]! : zero);
    },
  };
}

/** xdpnet_ports value (key: ifindex, `u32`). */
export const PORT_F_ADMIN_UP = 0x01;
export const PORT_F_PORT_SECURITY = 0x02;
/** xdpnet_port_src holds sources of the port (allowed address pairs, fixed IPs beyond fixed_ip). */
export const PORT_F_SRC_LPM = 0x04;
/** port_info.net_flags: the network is in xdpnet_networks, and is up. */
export const PORT_NET_F_PRESENT = 0x01;
export const PORT_NET_F_ADMIN_UP = 0x02;
/** Fixed IPs port_info carries itself (the rest go to xdpnet_port_src). */
export const PORT_FIXED_IPS = 4;
export const portInfo = struct<PortInfo>('port_info', {
  vni: u32,
  mac,
  flags: u8,
  fixed_ip_count: u8,
  stats_slot: u32,
  net_mtu: u16,
  net_flags: u8,
  pad: u8,
  fixed_ip: array(ipv4, PORT_FIXED_IPS, '0.0.0.0'),
  port_id: uuid,
});
export interface PortInfo {
  vni: number;
  mac: string;
  /** PORT_F_* */
  flags: number;
  /** Used entries of fixed_ip. */
  fixed_ip_count: number;
  /** The port's slot in xdpnet_port_stats; 0: not counted. */
  stats_slot: number;
  /** The network's MTU and PORT_NET_F_* as xdpnet_networks has them (0/0 while it has not). */
  net_mtu: number;
  net_flags: number;
  pad: number;
  /** Up to PORT_FIXED_IPS; the rest is written as 0.0.0.0. */
  fixed_ip: string[];
  /** For the daemon only: read back on restart. */
  port_id: string;
}

/** xdpnet_networks value (key: VNI, `u32`). */
export const NETWORK_F_ADMIN_UP = 0x01;
export const networkInfo = struct<NetworkInfo>('network_info', { mtu: u32, flags: u32, network_id: uuid });
export interface NetworkInfo {
  /** Largest L3 packet (IPv4 total length) a port may send. */
  mtu: number;
  /** NETWORK_F_* */
  flags: number;
  /** For the daemon only: read back on restart. */
  network_id: string;
}

/** xdpnet_port_src (LPM trie) key: prefixlen = PORT_SRC_PREFIX_BITS + CIDR length. */
export const PORT_SRC_PREFIX_BITS = 96;
export const PORT_SRC_FIXED_IP = 1;
export const PORT_SRC_ALLOWED_PAIR = 2;
export const portSrcKey = struct<PortSrcKey>('port_src_key', {
  prefixlen: u32,
  ifindex: u32,
  mac,
  pad: bytes(2),
  ip: ipv4,
});
export interface PortSrcKey {
  prefixlen: number;
  ifindex: number;
  mac: string;
  pad: Buffer;
  /** Network address of the CIDR (host bits zero). */
  ip: string;
}
export const portSrcValue = struct<PortSrcValue>('port_src_value', { kind: u32 });
export interface PortSrcValue {
  /** PORT_SRC_FIXED_IP or PORT_SRC_ALLOWED_PAIR (informational). */
  kind: number;
}

/** xdpnet_fdb key and value. */
/** xdpnet_nexthops value (key: remote VTEP, `ipv4`). */
export const vtepNexthop = struct<VtepNexthop>('vtep_nexthop', { dst_mac: mac, src_mac: mac, ifindex: u32 });
export interface VtepNexthop {
  dst_mac: string;
  src_mac: string;
  ifindex: number;
}

export const FDB_LOCAL = 1;
export const FDB_REMOTE = 2;
export const FDB_ROUTER = 3;
export const fdbKey = struct<FdbKey>('fdb_key', { vni: u32, mac, pad: bytes(2) });
export interface FdbKey {
  vni: number;
  mac: string;
  pad: Buffer;
}
export const fdbEntry = struct<FdbEntry>('fdb_entry', {
  kind: u32,
  ifindex: u32,
  vtep_ip: ipv4,
  router_id: bytes(16),
  port_stats_slot: u32,
  port_present: u8,
  port_flags: u8,
  port_net_flags: u8,
  nexthop_present: u8,
  nexthop: vtepNexthop,
  port_net_mtu: u16,
  router_present: u8,
  router_flags: u8,
  router_mac: mac,
  snat_present: u8,
  snat_flags: u8,
  snat_network_type: u8,
  pad: bytes(3),
  snat_external_ip: ipv4,
  snat_ifindex: u32,
  snat_mtu: u32,
  snat_nexthop: ipv4,
  ext_nh_present: u8,
  ext_nh_dst_mac: mac,
  ext_nh_src_mac: mac,
  pad2: bytes(3),
});
export interface FdbEntry {
  /** FDB_* */
  kind: number;
  /** FDB_LOCAL: the port's interface; else 0. */
  ifindex: number;
  /** FDB_REMOTE: the VTEP; else 0.0.0.0. */
  vtep_ip: string;
  /** FDB_ROUTER: the router's UUID as 16 bytes; else zero. */
  router_id: Buffer;
  /**
   * FDB_LOCAL: a copy of the port on `ifindex` (port_present 1 when its
   * xdpnet_ports entry has this entry's VNI; then its stats_slot, flags and
   * net_flags); else zero.
   */
  port_stats_slot: number;
  port_present: number;
  port_flags: number;
  port_net_flags: number;
  /** FDB_REMOTE: 1 when `nexthop` is a copy of the VTEP's xdpnet_nexthops entry; else 0. */
  nexthop_present: number;
  /** FDB_REMOTE: that copy (all zero without one); else all zero. */
  nexthop: VtepNexthop;
  /** FDB_LOCAL with port_present: the port's net_mtu (its copy of its network's MTU); else 0. */
  port_net_mtu: number;
  /**
   * FDB_ROUTER: 1 when router_flags and router_mac are a copy of the
   * router's xdpnet_routers entry; else 0 (and they are zero).
   */
  router_present: number;
  router_flags: number;
  router_mac: string;
  /**
   * FDB_ROUTER: 1 when the snat_* fields are a copy of the router's
   * xdpnet_snat entry (what the programs read of it); else 0 (and they are
   * zero).
   */
  snat_present: number;
  snat_flags: number;
  snat_network_type: number;
  /** Zero. */
  pad: Buffer;
  snat_external_ip: string;
  snat_ifindex: number;
  snat_mtu: number;
  /** The external subnet's gateway (snat_info.nexthop; 0.0.0.0: none). */
  snat_nexthop: string;
  /**
   * FDB_ROUTER with snat_present: 1 when ext_nh_* are a copy of
   * xdpnet_ext_nexthops' entry for (snat_ifindex, snat_nexthop); else 0
   * (and they are zero).
   */
  ext_nh_present: number;
  ext_nh_dst_mac: string;
  ext_nh_src_mac: string;
  /** Zero. */
  pad2: Buffer;
}

/** xdpnet_arp key and value. */
export const arpKey = struct<ArpKey>('arp_key', { vni: u32, ip: ipv4 });
export interface ArpKey {
  vni: number;
  ip: string;
}
export const arpEntry = struct<ArpEntry>('arp_entry', { mac, fdb_present: u8, pad: u8, fdb: fdbEntry });
export interface ArpEntry {
  mac: string;
  /** 1 when `fdb` is a copy of xdpnet_fdb's entry for (this key's VNI, mac); else 0 (and `fdb` is all zero). */
  fdb_present: number;
  pad: number;
  fdb: FdbEntry;
}

/** xdpnet_flood value (key: VNI, `u32`). */
export const FLOOD_MAX_LOCAL = 64;
export const FLOOD_MAX_REMOTE = 256;
export const floodList = struct<FloodList>('flood_list', {
  local_count: u32,
  remote_count: u32,
  local_ifindex: array(u32, FLOOD_MAX_LOCAL, 0),
  remote_vtep: array(ipv4, FLOOD_MAX_REMOTE, '0.0.0.0'),
});
export interface FloodList {
  local_count: number;
  remote_count: number;
  /** Up to FLOOD_MAX_LOCAL; the rest is written as 0. */
  local_ifindex: number[];
  /** Up to FLOOD_MAX_REMOTE; the rest is written as 0.0.0.0. */
  remote_vtep: string[];
}

export const OVERLAY_LAYOUTS: readonly StructLayout[] = [
  portInfo,
  networkInfo,
  portSrcKey,
  portSrcValue,
  fdbKey,
  fdbEntry,
  arpKey,
  arpEntry,
  floodList,
  vtepNexthop,
];

// ---------------------------------------------------------------------------
// Per-port counters: bpf/lib/port_stats.h (which says what each counts).

/** Name of the per-port counter map; pinned at <bpffs root>/xdpnet_port_stats. */
export const PORT_STATS_MAP_NAME = 'xdpnet_port_stats';
/** Its slots (port_stats.h PORT_STATS_SLOTS): slot 0 is nobody's, 1.. one per port. */
export const PORT_STATS_SLOTS = 4096 + 1;

/** Value of the per-CPU array `xdpnet_port_stats` (key: port_info.stats_slot, `u32`). Directions are the switch port's: rx = from the VM. */
export const portStats = struct<PortStats>('port_stats', {
  rx_packets: u64,
  rx_bytes: u64,
  tx_packets: u64,
  tx_bytes: u64,
  dropped_packets: u64,
});
export interface PortStats {
  /** Frames received from the VM, whatever became of them. */
  rx_packets: bigint;
  rx_bytes: bigint;
  /** Frames handed to the port's interface for the VM. */
  tx_packets: bigint;
  tx_bytes: bigint;
  /** Frames from the VM the fast path discarded (a subset of rx_packets). */
  dropped_packets: bigint;
}

// ---------------------------------------------------------------------------
// Distributed routing: bpf/lib/router_maps.h (which says which table goes
// where). Conventions as for the overlay above.

/** xdpnet_routers key. */
export const routerKey = struct<RouterKey>('router_key', { router_id: uuid });
export interface RouterKey {
  router_id: string;
}
/** xdpnet_routers value. */
export const ROUTER_F_ADMIN_UP = 0x01;
export const routerInfo = struct<RouterInfo>('router_info', { mac, flags: u8, pad: u8 });
export interface RouterInfo {
  /** The router's MAC, the same on every network. */
  mac: string;
  /** ROUTER_F_* */
  flags: number;
  pad: number;
}

/** xdpnet_router_ifaces key: one interface per network per router. */
export const routerIfaceKey = struct<RouterIfaceKey>('router_iface_key', { router_id: uuid, vni: u32 });
export interface RouterIfaceKey {
  router_id: string;
  vni: number;
}
/** xdpnet_router_ifaces value. */
export const routerIface = struct<RouterIface>('router_iface', { ip: ipv4, mac, prefixlen: u8, pad: u8, subnet_id: uuid });
export interface RouterIface {
  /** The router's address on the subnet. */
  ip: string;
  mac: string;
  /** The subnet's prefix length (for the daemon). */
  prefixlen: number;
  pad: number;
  /** For the daemon only: its table is keyed by subnet. */
  subnet_id: string;
}

/** xdpnet_routes (LPM trie) key: prefixlen = ROUTE_PREFIX_BITS + the route's prefix length. */
export const ROUTE_PREFIX_BITS = 128;
export const ROUTE_CONNECTED = 1;
export const ROUTE_NEXTHOP = 2;
export const ROUTE_EXTERNAL = 3;
export const ROUTE_F_GATEWAY_LOCAL = 0x01;
export const routeKey = struct<RouteKey>('route_key', { prefixlen: u32, router_id: uuid, ip: ipv4 });
export interface RouteKey {
  prefixlen: number;
  router_id: string;
  /** The prefix (host bits zero). */
  ip: string;
}
/** xdpnet_routes value. */
export const routeEntry = struct<RouteEntry>('route_entry', {
  kind: u32,
  vni: u32,
  nexthop: ipv4,
  gateway_vtep: ipv4,
  flags: u32,
  subnet_id: bytes(16),
});
export interface RouteEntry {
  /** ROUTE_* */
  kind: number;
  /** CONNECTED, NEXTHOP: the network to deliver on; else 0. */
  vni: number;
  /** NEXTHOP, EXTERNAL (0.0.0.0: on-link); else 0.0.0.0. */
  nexthop: string;
  /** EXTERNAL: the gateway node's VTEP; else 0.0.0.0. */
  gateway_vtep: string;
  /** ROUTE_F_*, EXTERNAL only. */
  flags: number;
  /** CONNECTED: the subnet's UUID bytes; else zero. */
  subnet_id: Buffer;
}

export const ROUTER_LAYOUTS: readonly StructLayout[] = [routerKey, routerInfo, routerIfaceKey, routerIface, routeKey, routeEntry];

// ---------------------------------------------------------------------------
// SNAT: a router's external side (bpf/lib/snat_maps.h) and the connection
// table (bpf/lib/conntrack_maps.h, which states the garbage collector's
// contract). Conventions as above; `be16` fields are ports as on the wire.

export const SNAT_MAP_NAME = 'xdpnet_snat';
export const EXT_ADDRS_MAP_NAME = 'xdpnet_ext_addrs';
export const EXT_NEXTHOPS_MAP_NAME = 'xdpnet_ext_nexthops';
export const EXT_NH_MISS_MAP_NAME = 'xdpnet_ext_nh_miss';
export const SNAT_CT_MAP_NAME = 'xdpnet_snat_ct';

/** xdpnet_snat value (key: routerKey). */
export const SNAT_F_ENABLED = 0x01;
export const SNAT_F_GATEWAY_LOCAL = 0x02;
export const SNAT_NET_FLAT = 1;
export const SNAT_NET_VLAN = 2;
export const SNAT_NET_VXLAN = 3;
export const SNAT_PHYSNET_LEN = 64;
export const snatInfo = struct<SnatInfo>('snat_info', {
  external_ip: ipv4,
  ifindex: u32,
  mtu: u32,
  flags: u8,
  network_type: u8,
  prefixlen: u8,
  pad: u8,
  segmentation_id: u32,
  nexthop: ipv4,
  gateway_vtep: ipv4,
  external_network_id: uuid,
  physical_network: bytes(SNAT_PHYSNET_LEN),
});
export interface SnatInfo {
  /** The router's external IP: the SNAT source. */
  external_ip: string;
  /** SNAT_F_GATEWAY_LOCAL: the external NIC; else 0. */
  ifindex: number;
  /** SNAT_F_GATEWAY_LOCAL: the largest IPv4 packet sent out of it; else 0. */
  mtu: number;
  /** SNAT_F_* */
  flags: number;
  /** SNAT_NET_* */
  network_type: number;
  /** For the daemon: the external subnet's prefix length. */
  prefixlen: number;
  pad: number;
  /** For the daemon: VLAN id, VNI or 0. */
  segmentation_id: number;
  /** For the daemon: the external subnet's gateway (0.0.0.0: none). */
  nexthop: string;
  /** For the daemon: the gateway node's VTEP. */
  gateway_vtep: string;
  external_network_id: string;
  /** For the daemon: the physical network's name, zero-padded (all zero: none). */
  physical_network: Buffer;
}

/** xdpnet_ext_addrs value (key: the address, `ipv4`). */
export const EXT_ADDR_GATEWAY = 1;
export const EXT_ADDR_FLOATING = 2;
export const extAddr = struct<ExtAddr>('ext_addr', { router_id: uuid, ifindex: u32, mac, kind: u8, pad: u8 });
export interface ExtAddr {
  router_id: string;
  /** The external NIC the address is reached through. */
  ifindex: number;
  /** What ARP answers with: the NIC's MAC. */
  mac: string;
  /** EXT_ADDR_* */
  kind: number;
  pad: number;
}

/** xdpnet_ext_nexthops key (also xdpnet_ext_nh_miss's, whose value is a `u64` CLOCK_MONOTONIC ns). */
export const extNexthopKey = struct<ExtNexthopKey>('ext_nexthop_key', { ifindex: u32, ip: ipv4 });
export interface ExtNexthopKey {
  ifindex: number;
  ip: string;
}
/** xdpnet_ext_nexthops value. */
export const extNexthop = struct<ExtNexthop>('ext_nexthop', { dst_mac: mac, src_mac: mac });
export interface ExtNexthop {
  dst_mac: string;
  src_mac: string;
}

/** xdpnet_snat_ct key: one per direction of a connection. */
export const NAT_DIR_OUT = 1;
export const NAT_DIR_IN = 2;
export const natKey = struct<NatKey>('nat_key', {
  saddr: ipv4,
  daddr: ipv4,
  sport: be16,
  dport: be16,
  proto: u8,
  dir: u8,
  pad: bytes(2),
  zone: ipv4,
});
export interface NatKey {
  saddr: string;
  daddr: string;
  /** TCP/UDP port; ICMP echo: OUT the identifier, IN 0. */
  sport: number;
  /** TCP/UDP port; ICMP echo: OUT 0, IN the identifier. */
  dport: number;
  proto: number;
  /** NAT_DIR_* */
  dir: number;
  pad: Buffer;
  /** The router's external IP. */
  zone: string;
}
/** xdpnet_snat_ct value. */
export const NAT_F_REPLIED = 0x01;
export const NAT_F_TCP_SYN = 0x02;
export const NAT_F_TCP_ESTABLISHED = 0x04;
export const NAT_F_TCP_FIN = 0x08;
export const NAT_F_TCP_RST = 0x10;
export const natConn = struct<NatConn>('nat_conn', {
  last_seen_ns: u64,
  flags: u64,
  vm_ip: ipv4,
  vm_port: be16,
  ext_port: be16,
  vni: u32,
  vm_mac: mac,
  pad: bytes(2),
});
export interface NatConn {
  /** CLOCK_MONOTONIC ns (process.hrtime.bigint()'s clock), up to about a second behind. */
  last_seen_ns: bigint;
  /** NAT_F_* seen in this entry's direction. */
  flags: bigint;
  vm_ip: string;
  vm_port: number;
  ext_port: number;
  vni: number;
  vm_mac: string;
  pad: Buffer;
}

export const SNAT_LAYOUTS: readonly StructLayout[] = [snatInfo, extAddr, extNexthopKey, extNexthop, natKey, natConn];

// ---------------------------------------------------------------------------
// Floating IPs: bpf/lib/fip_maps.h (which says which table goes where; the
// floating IP's xdpnet_ext_addrs entry is an extAddr of kind EXT_ADDR_FLOATING).

export const FIP_IN_MAP_NAME = 'xdpnet_fip_in';
export const FIP_OUT_MAP_NAME = 'xdpnet_fip_out';

/** Key of xdpnet_fip_in (ip: the floating IP) and xdpnet_fip_out (ip: the fixed IP). */
export const fipKey = struct<FipKey>('fip_key', { router_id: uuid, ip: ipv4 });
export interface FipKey {
  /** The router that carries the floating IP. */
  router_id: string;
  ip: string;
}
/** xdpnet_fip_in value. */
export const FIP_F_GATEWAY_LOCAL = 0x01;
export const fipIn = struct<FipIn>('fip_in', {
  fixed_ip: ipv4,
  vni: u32,
  gateway_vtep: ipv4,
  flags: u8,
  pad: bytes(3),
  port_id: uuid,
  floating_network_id: uuid,
});
export interface FipIn {
  /** The destination inbound packets get. */
  fixed_ip: string;
  /** The port's network. */
  vni: number;
  /** For the daemon: the router's gateway node. */
  gateway_vtep: string;
  /** FIP_F_* (for the daemon). */
  flags: number;
  pad: Buffer;
  /** For the daemon. */
  port_id: string;
  /** For the daemon. */
  floating_network_id: string;
}
/** xdpnet_fip_out value. */
export const fipOut = struct<FipOut>('fip_out', { floating_ip: ipv4, floating_network_id: uuid });
export interface FipOut {
  /** The source outbound packets get. */
  floating_ip: string;
  /** For the daemon. */
  floating_network_id: string;
}

export const FIP_LAYOUTS: readonly StructLayout[] = [fipKey, fipIn, fipOut];

export const SHARED_LAYOUTS: readonly StructLayout[] = [
  reasonCounters,
  ...OVERLAY_LAYOUTS,
  portStats,
  ...ROUTER_LAYOUTS,
  ...SNAT_LAYOUTS,
  ...FIP_LAYOUTS,
];
