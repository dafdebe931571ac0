// Gratuitous ARP for the external IPs a node starts to hold, so that the
// external network's routers and hosts update what their ARP caches say of
// an address that moved here (a router's gateway moved to this node, a NIC
// was replaced): without it they would keep sending to the old MAC until
// their entry went stale.
//
// How the frame gets onto the wire, without an external binary (iputils'
// arping is not installed by `make deps`) and without native code of our own
// (Node has no AF_PACKET): through the program that owns the NIC. The daemon
// runs xdp_external once with BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES on
// a frame "arriving" on the NIC: an ARP request for the external IP whose
// sender hardware address is the broadcast address. xdp_external answers it
// as it answers every request for an address in xdpnet_ext_addrs
// (external_arp.h, XDP_TX), and a live-frames XDP_TX transmits the answer
// out of that NIC. The answer is addressed to the request's sender, so it
// goes out as
//
//   Ethernet ff:ff:ff:ff:ff:ff <- NIC MAC, ARP reply: <external IP> is-at <NIC MAC>
//   (target 0.0.0.0 / ff:ff:ff:ff:ff:ff)
//
// a broadcast ARP reply, which every Linux (and RFC 826) receiver uses to
// update an existing cache entry for the sender address; hosts with no entry
// ignore it, as they ignore any gratuitous ARP unless told to accept them
// (arp_accept). It is counted like any of xdp_external's ARP replies
// (REASON_FWD_EXTERNAL_ARP_REPLY), and it is exactly the answer a real
// request would get, from the same code: nothing else can announce an
// address xdp_external would not answer for. (RFC 5227's announcement is a
// request with sender = target; xdp_external never answers one of those.)
//
// A receiver ignores an update within its lock time of the previous one
// (Linux: locktime, 1 s), so each announcement is sent three times
// (now, after 1 s, after 3 s). A node without external NICs has no
// xdp_external: nothing is sent.

import { encode, ipv4, mac as macCodec } from './codec.js';
import type { BpfProgram } from './program.js';
import { TEST_RUN_LIVE_FRAMES } from './program.js';

export interface AnnouncerLogger {
  debug?(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** When each announcement is sent, in ms after the address appears. */
export const ANNOUNCE_SCHEDULE_MS: readonly number[] = [0, 1_000, 3_000];

const ETH_P_ARP = 0x0806;
const BROADCAST = 'ff:ff:ff:ff:ff:ff';

/**
 * The frame given to xdp_external: an ARP request for `ip`, arriving from
 * the NIC's own MAC (a unicast source, as xdp_external requires), whose
 * sender hardware address is the broadcast address (where the answer goes).
 */
export function announcementRequest(ip: string, nicMac: string): Buffer {
  const frame = Buffer.alloc(42);
  macCodec.write(frame, 0, nicMac); // destination: the NIC
  macCodec.write(frame, 6, nicMac); // source: unicast, or xdp_external drops it
  frame.writeUInt16BE(ETH_P_ARP, 12);
  frame.writeUInt16BE(1, 14); // Ethernet
  frame.writeUInt16BE(0x0800, 16); // IPv4
  frame.writeUInt8(6, 18);
  frame.writeUInt8(4, 19);
  frame.writeUInt16BE(1, 20); // request
  macCodec.write(frame, 22, BROADCAST); // sender MAC: where the answer goes
  // sender IP 0.0.0.0 (bytes 28..31), target MAC zero (32..37)
  encode(ipv4, ip).copy(frame, 38);
  return frame;
}

export class ExternalAnnouncer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Announcements sent (each frame counts), for tests and diagnostics. */
  sent = 0;

  constructor(
    private readonly program: BpfProgram | undefined,
    private readonly logger: AnnouncerLogger,
    private readonly schedule: readonly number[] = ANNOUNCE_SCHEDULE_MS,
  ) {}

  /** Announces that `ip` is reached at `nicMac` through the NIC `ifindex`, on the schedule above. */
  announce(ifindex: number, ip: string, nicMac: string): void {
    if (this.closed || !this.program) return;
    this.logger.info({ ip, ifindex, mac: nicMac }, 'external IP held here: announcing it (gratuitous ARP)');
    for (const delay of this.schedule) {
      if (delay === 0) {
        this.send(ifindex, ip, nicMac);
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.send(ifindex, ip, nicMac);
      }, delay);
      timer.unref();
      this.timers.add(timer);
    }
  }

  /** Stops what is scheduled. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private send(ifindex: number, ip: string, nicMac: string): void {
    if (this.closed || !this.program) return;
    try {
      // The kernel refuses an output buffer in live mode: no headroom at all.
      const frame = announcementRequest(ip, nicMac);
      this.program.testRun(frame, { ingressIfindex: ifindex, flags: TEST_RUN_LIVE_FRAMES, repeat: 1, headroom: -frame.length });
      this.sent++;
    } catch (err) {
      // The NIC went away, or its driver cannot transmit XDP frames: the address still works, only unannounced.
      this.logger.warn({ err, ip, ifindex }, 'could not announce an external IP (gratuitous ARP)');
    }
  }
}
