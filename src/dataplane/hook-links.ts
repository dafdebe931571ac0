// One program on one hook of one interface, held by a link pinned in bpffs.
//
// The pin keeps the program attached while the daemon is stopped; the next
// daemon opens it instead of attaching again, so a restart never leaves the
// interface without its program. Rules, in order:
//   - a link that still holds this hook of this ifindex is kept; if its
//     program is not the one this daemon loaded, the program is swapped
//     through the link (atomic: no frame meets an empty hook);
//   - a pin whose link holds nothing (interface deleted: the kernel leaves
//     the link defunct) or another ifindex (interface recreated under the
//     same name) is removed, and the program attached anew and pinned.
// The program is swapped even when its code is unchanged: the program tag
// covers the instructions only, not the load-time settings (.rodata: vtep_ip,
// underlay_mtu) nor which maps it uses, so equal tags do not mean equal
// programs (why comparing more is not worth it: node.ts).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataplaneError } from '../reconciler/dataplane.js';
import { attachTc, attachXdp } from './attach.js';
import { BpfLink, LinkType } from './link.js';
import { BpfError, native } from './native.js';
import type { BpfProgram } from './program.js';

/** XDP (native, generic only as a logged fallback) or TC ingress (tcx). */
export type Hook = 'xdp' | 'tc';

/** uapi BPF_TCX_INGRESS. */
const TCX_INGRESS = 46;
/** uapi XDP_ATTACHED_* as the API names hooks. */
const XDP_MODES: Record<number, string> = { 1: 'native', 2: 'generic', 3: 'offload', 4: 'multi' };

export interface HookLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PinnedHook {
  hook: Hook;
  interfaceName: string;
  /** The ifindex the link was made for (a defunct link no longer says). */
  ifindex: number;
  link: BpfLink;
  pinPath: string;
  /** The program this daemon made the link run, by its full name (the kernel keeps 15 characters). */
  program: { id: number; name: string };
}

/** What the node status reports for one attachment. */
export interface AttachmentStatus {
  interfaceName: string;
  ifindex: number;
  programName: string;
  programId: number;
  hook: string;
  linkId: number;
  pinPath: string;
}

/** links/<hook>_<interface>: one pin per hook and interface. */
export function hookPinPath(linksDir: string, hook: Hook, interfaceName: string): string {
  return join(linksDir, `${hook}_${interfaceName}`);
}

/** The inverse of hookPinPath's file name; undefined for a name that is no hook pin. */
export function parseHookPinName(file: string): { hook: Hook; interfaceName: string } | undefined {
  const m = /^(xdp|tc)_(.+)$/.exec(file);
  return m ? { hook: m[1] as Hook, interfaceName: m[2]! } : undefined;
}

/** Whether the link still holds `hook` on `ifindex` (a defunct link reports ifindex 0). */
export function holds(link: BpfLink, hook: Hook, ifindex: number): boolean {
  const info = link.info();
  if (info.ifindex !== ifindex) return false;
  return hook === 'xdp' ? info.type === LinkType.XDP : info.type === LinkType.TCX && info.attachType === TCX_INGRESS;
}

/** Whether `hook` on `ifindex` runs exactly `program` through this link. */
export function runs(h: PinnedHook, program: BpfProgram, ifindex: number): boolean {
  return holds(h.link, h.hook, ifindex) && h.link.info().progId === program.id;
}

export interface EnsureOptions {
  hook: Hook;
  interfaceName: string;
  ifindex: number;
  program: BpfProgram;
  /** The program's full (ELF) name; default the kernel's, cut to 15 characters. */
  programName?: string;
  linksDir: string;
  logger: HookLogger;
  /** A link this daemon already holds for this hook and interface. */
  current?: PinnedHook | undefined;
}

/** Makes `program` the one on the hook, keeping a link that already holds it (see the rules above). */
export function ensureHook(opts: EnsureOptions): PinnedHook {
  const { hook, interfaceName, ifindex, program } = opts;
  const pinPath = hookPinPath(opts.linksDir, hook, interfaceName);
  const current = opts.current;
  if (current) {
    if (holds(current.link, hook, ifindex)) {
      swapIfOther(current.link, opts);
      return { ...current, program: ran(opts) };
    }
    opts.logger.warn({ interface: interfaceName, hook, link: current.link.info().id, ifindex }, 'link lost its interface (deleted or recreated); attaching anew');
    release(current.link, current.pinPath);
  }
  return adoptPinned(opts) ?? { hook, interfaceName, ifindex, link: attachNew(opts, pinPath), pinPath, program: ran(opts) };
}

/**
 * Opens the pin a previous daemon left for this hook and interface: kept if
 * its link still holds the hook on `ifindex` (with `program` swapped in),
 * else removed. Undefined when there is nothing to adopt.
 */
export function adoptPinned(opts: EnsureOptions): PinnedHook | undefined {
  const { hook, interfaceName, ifindex } = opts;
  const pinPath = hookPinPath(opts.linksDir, hook, interfaceName);
  if (!existsSync(pinPath)) return undefined;
  const link = BpfLink.openPinned(pinPath);
  if (holds(link, hook, ifindex)) {
    if (!swapIfOther(link, opts)) opts.logger.info({ interface: interfaceName, hook, link: link.info().id }, 'adopted attached program');
    return { hook, interfaceName, ifindex, link, pinPath, program: ran(opts) };
  }
  const info = link.info();
  opts.logger.warn({ interface: interfaceName, hook, link: info.id, linkIfindex: info.ifindex, ifindex }, 'stale link pin (interface gone or recreated); removed');
  release(link, pinPath);
  return undefined;
}

function ran(opts: EnsureOptions): PinnedHook['program'] {
  return { id: opts.program.id, name: opts.programName ?? opts.program.name };
}

/** Swaps `program` in through the link unless it already runs it; true if swapped. */
function swapIfOther(link: BpfLink, opts: EnsureOptions): boolean {
  const info = link.info();
  if (info.progId === opts.program.id) return false;
  link.replaceProgram(opts.program);
  opts.logger.info(
    { interface: opts.interfaceName, hook: opts.hook, link: info.id, from: info.progId, to: opts.program.id },
    'adopted attached link; replaced its program atomically',
  );
  return true;
}

/** Detaches (if still attached), removes the pin and closes. */
export function detachHook(h: PinnedHook): void {
  if (h.link.info().ifindex !== 0) h.link.detach();
  release(h.link, h.pinPath);
}

/** Drops our pin (if it is still there) and our handle; a live link stays attached only while someone else holds it. */
function release(link: BpfLink, pinPath: string): void {
  try {
    native().unpin(pinPath);
  } catch (err) {
    if (!(err instanceof BpfError && err.code === 'ENOENT')) throw err;
  }
  link.close();
}

function attachNew(opts: EnsureOptions, pinPath: string): BpfLink {
  const { hook, interfaceName, ifindex, program, logger } = opts;
  try {
    if (hook === 'tc') {
      const link = attachTc(program, ifindex, 'ingress', pinPath);
      logger.info({ interface: interfaceName, hook, program: program.id, link: link.info().id }, 'attached program');
      return link;
    }
    const { link, mode } = attachXdp(program, ifindex, { pinPath, allowGenericFallback: true });
    const log = mode === 'native' ? logger.info.bind(logger) : logger.warn.bind(logger);
    log({ interface: interfaceName, hook, mode, program: program.id, link: link.info().id }, mode === 'native' ? 'attached program' : 'attached program in generic mode: the driver refused native XDP');
    return link;
  } catch (err) {
    if (hook === 'xdp' && err instanceof BpfError && err.code === 'EBUSY') {
      throw new DataplaneError('UNAVAILABLE', `interface ${interfaceName}: another XDP program is attached (not by xdpnet); detach it first`, { cause: err });
    }
    if (err instanceof BpfError && (err.code === 'ENODEV' || err.code === 'ENXIO')) {
      throw new DataplaneError('UNAVAILABLE', `interface ${interfaceName} (ifindex ${ifindex}) went away while attaching ${program.name}`, { cause: err });
    }
    throw err;
  }
}

/** The status line of one attachment, read from the kernel now. */
export function hookStatus(h: PinnedHook): AttachmentStatus {
  const info = h.link.info();
  let hook = 'detached';
  if (info.ifindex !== 0) hook = h.hook === 'tc' ? 'tcx-ingress' : (XDP_MODES[native().queryXdp(info.ifindex).attachMode] ?? 'detached');
  return {
    interfaceName: h.interfaceName,
    ifindex: h.ifindex,
    programName: info.progId === h.program.id ? h.program.name : (native().programInfoById(info.progId)?.name ?? ''),
    programId: info.progId,
    hook,
    linkId: info.id,
    pinPath: h.pinPath,
  };
}
