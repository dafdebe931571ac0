// Attaching programs to interfaces: XDP (link or netlink) and TC (tcx links).
//
// Native (driver) XDP is the default. Generic (skb) XDP runs after the kernel
// has built an skb and costs most of XDP's advantage, so it is never chosen
// silently: the caller asks for it, or explicitly allows falling back to it.

import { BpfError, native } from './native.js';
import { BpfLink, LinkType } from './link.js';
import type { BpfProgram } from './program.js';

export type XdpMode = 'native' | 'generic';

/** uapi XDP_FLAGS_*. */
const XDP_FLAGS = { UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, REPLACE: 16 } as const;
const MODE_FLAGS: Record<XdpMode, number> = { native: XDP_FLAGS.DRV_MODE, generic: XDP_FLAGS.SKB_MODE };

export interface XdpAttachOptions {
  /** Default 'native'. */
  mode?: XdpMode;
  /** With mode 'native': use generic mode if the driver has no native XDP. Default false. */
  allowGenericFallback?: boolean;
  /** Pin the link here so the program stays attached after this process exits. */
  pinPath?: string;
}

export interface XdpLinkAttachment {
  link: BpfLink;
  mode: XdpMode;
}

function validIfindex(ifindex: number): number {
  if (!Number.isInteger(ifindex) || ifindex < 1) throw new RangeError(`ifindex must be a positive integer, got ${ifindex}`);
  return ifindex;
}

/** Pins a fresh link; if pinning fails, the attachment is undone so nothing is left half-made. */
function pinOrUndo(link: BpfLink, pinPath: string | undefined): void {
  if (pinPath === undefined) return;
  try {
    link.pin(pinPath);
  } catch (err) {
    link.detach();
    link.close();
    throw err;
  }
}

/** The kernel's answer when a driver has no native XDP support. */
function nativeUnsupported(err: unknown): boolean {
  return err instanceof BpfError && err.code === 'EOPNOTSUPP';
}

/** Attaches through a BPF link (kernel >= 5.9). The link owns the attachment. */
export function attachXdp(program: BpfProgram, ifindex: number, options: XdpAttachOptions = {}): XdpLinkAttachment {
  validIfindex(ifindex);
  let mode = options.mode ?? 'native';
  let link: BpfLink;
  try {
    link = new BpfLink(program.handle.attachXdpLink(ifindex, MODE_FLAGS[mode]));
  } catch (err) {
    if (mode !== 'native' || !options.allowGenericFallback || !nativeUnsupported(err)) throw err;
    mode = 'generic';
    link = new BpfLink(program.handle.attachXdpLink(ifindex, MODE_FLAGS[mode]));
  }
  pinOrUndo(link, options.pinPath);
  return { link, mode };
}

export interface XdpNetlinkOptions {
  mode?: XdpMode;
  allowGenericFallback?: boolean;
  /** Only replace this program (XDP_FLAGS_REPLACE), failing if another is attached. */
  replacing?: BpfProgram;
  /** Fail with EBUSY instead of replacing whatever is attached. */
  onlyIfNone?: boolean;
}

/**
 * Attaches through netlink, for kernels or setups where links are not
 * supported. The attachment outlives the process with no pin; detach with
 * detachXdpNetlink. Returns the mode actually used.
 */
export function attachXdpNetlink(program: BpfProgram, ifindex: number, options: XdpNetlinkOptions = {}): XdpMode {
  validIfindex(ifindex);
  const attach = (mode: XdpMode): void => {
    let flags = MODE_FLAGS[mode];
    if (options.onlyIfNone) flags |= XDP_FLAGS.UPDATE_IF_NOEXIST;
    if (options.replacing) flags |= XDP_FLAGS.REPLACE;
    program.handle.attachXdpNetlink(ifindex, flags, options.replacing?.handle.fd ?? 0);
  };
  const mode = options.mode ?? 'native';
  try {
    attach(mode);
    return mode;
  } catch (err) {
    if (mode !== 'native' || !options.allowGenericFallback || !nativeUnsupported(err)) throw err;
    attach('generic');
    return 'generic';
  }
}

export function detachXdpNetlink(ifindex: number, mode: XdpMode): void {
  native().detachXdpNetlink(validIfindex(ifindex), MODE_FLAGS[mode]);
}

export interface XdpAttachmentInfo {
  mode: XdpMode | 'offload' | 'multi';
  programId: number;
  programName: string | undefined;
  /** Set when the program is held by a BPF link (pinned or owned by a process). */
  linkId: number | undefined;
}

const ATTACHED_MODES: Record<number, XdpAttachmentInfo['mode']> = { 1: 'native', 2: 'generic', 3: 'offload', 4: 'multi' };

/** What XDP program is attached to an interface, if any, and whether a link holds it. */
export function queryXdp(ifindex: number): XdpAttachmentInfo | undefined {
  const q = native().queryXdp(validIfindex(ifindex));
  const mode = ATTACHED_MODES[q.attachMode];
  if (!mode) return undefined;
  const programId = q.progId || q.drvProgId || q.skbProgId || q.hwProgId;
  const link = native()
    .listLinks()
    .find((l) => l.type === LinkType.XDP && l.ifindex === ifindex && l.progId === programId);
  return { mode, programId, programName: native().programInfoById(programId)?.name, linkId: link?.id };
}

export type TcDirection = 'ingress' | 'egress';
/** uapi BPF_TCX_INGRESS / BPF_TCX_EGRESS (libbpf 1.1's headers predate them). */
const TCX_ATTACH_TYPE: Record<TcDirection, number> = { ingress: 46, egress: 47 };

/**
 * Attaches a TC (sched_cls) program with a tcx link (kernel >= 6.6), for what
 * XDP cannot do: egress hooks, and bpf_clone_redirect for flooding.
 */
export function attachTc(program: BpfProgram, ifindex: number, direction: TcDirection, pinPath?: string): BpfLink {
  const link = new BpfLink(program.handle.attachTcx(validIfindex(ifindex), TCX_ATTACH_TYPE[direction]));
  pinOrUndo(link, pinPath);
  return link;
}
