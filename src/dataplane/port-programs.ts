// The programs on VM ports: tc_port_flood at TC ingress and xdp_port at XDP,
// each through a link pinned at links/tc_<interface> and links/xdp_<interface>.
//
// Attach order: TC first, then XDP. xdp_port hands broadcast and unknown
// frames to the stack with XDP_PASS for tc_port_flood to copy; with XDP and
// no TC they would reach the host's stack instead of the network. A port
// whose XDP attach fails loses the TC link this call made, so a port is
// either fully set up or left as it was.
//
// Idempotent, and restart-safe: links a previous daemon pinned are adopted
// (adopt(), at start) and their programs swapped atomically, never detached
// and attached again (hook-links.ts).

import { readdirSync } from 'node:fs';
import { DataplaneError } from '../reconciler/dataplane.js';
import {
  type AttachmentStatus,
  type Hook,
  type HookLogger,
  type PinnedHook,
  adoptPinned,
  detachHook,
  ensureHook,
  hookPinPath,
  hookStatus,
  parseHookPinName,
  runs,
} from './hook-links.js';
import type { InterfaceIndex } from './interface-index.js';
import { BpfLink } from './link.js';
import { BpfError, native } from './native.js';
import type { BpfProgram } from './program.js';

interface PortLinks {
  tc?: PinnedHook | undefined;
  xdp?: PinnedHook | undefined;
}

export interface PortProgramsOptions {
  linksDir: string;
  /** The programs with their full names (the kernel keeps 15 characters). */
  xdp: { program: BpfProgram; name: string };
  tc: { program: BpfProgram; name: string };
  /** The node's own interfaces (underlay, physical networks): never a VM port. */
  reserved: ReadonlySet<string>;
  logger: HookLogger;
}

export class PortPrograms {
  private readonly ports = new Map<string, PortLinks>();

  constructor(private readonly options: PortProgramsOptions) {}

  /**
   * At start: adopts every port link a previous daemon pinned whose interface
   * still exists with the ifindex the link holds; removes the pins of the others.
   */
  adopt(interfaces: InterfaceIndex): void {
    const { linksDir, reserved, logger } = this.options;
    for (const file of readdirSync(linksDir)) {
      const pin = parseHookPinName(file);
      if (!pin || reserved.has(pin.interfaceName)) continue;
      const ifindex = interfaces.ifindexOf(pin.interfaceName);
      if (ifindex === undefined) {
        logger.warn({ interface: pin.interfaceName, hook: pin.hook }, 'link pin for an interface that is gone; removed');
        dropPin(hookPinPath(linksDir, pin.hook, pin.interfaceName));
        continue;
      }
      if (!this.holdsPortProgram(hookPinPath(linksDir, pin.hook, pin.interfaceName), pin.hook)) continue;
      const adopted = adoptPinned({ ...this.hookOptions(pin.hook, pin.interfaceName, ifindex), current: undefined });
      if (!adopted) continue;
      const links = this.ports.get(pin.interfaceName) ?? {};
      links[pin.hook] = adopted;
      this.ports.set(pin.interfaceName, links);
    }
  }

  /**
   * Whether a pinned link runs a port program (by name: the adopted one is
   * an older build). Anything else (xdp_guard on an interface the
   * configuration no longer names) is detached and its pin removed: the
   * node no longer owns that interface.
   */
  private holdsPortProgram(pinPath: string, hook: Hook): boolean {
    const link = BpfLink.openPinned(pinPath);
    try {
      const name = native().programInfoById(link.info().progId)?.name;
      if (name === this.options[hook].program.name) return true;
      this.options.logger.warn({ pin: pinPath, program: name ?? null }, 'pinned link of a program that is no port program; detached');
    } finally {
      link.close();
    }
    dropPin(pinPath, { detach: true });
    return false;
  }

  isReserved(interfaceName: string): boolean {
    return this.options.reserved.has(interfaceName);
  }

  /** Makes sure both programs run on `ifindex` (see the order above). */
  attach(interfaceName: string, ifindex: number): void {
    if (this.options.reserved.has(interfaceName)) {
      throw new DataplaneError('INTERNAL', `interface ${interfaceName} is one of this node's own (underlay or physical network); it cannot be a VM port`);
    }
    const links = this.ports.get(interfaceName) ?? {};
    this.ports.set(interfaceName, links);
    const tcBefore = links.tc;
    const tcWasThere = tcBefore !== undefined && runs(tcBefore, this.options.tc.program, ifindex);
    links.tc = undefined;
    links.tc = ensureHook({ ...this.hookOptions('tc', interfaceName, ifindex), current: tcBefore });
    const xdpBefore = links.xdp;
    links.xdp = undefined;
    try {
      links.xdp = ensureHook({ ...this.hookOptions('xdp', interfaceName, ifindex), current: xdpBefore });
    } catch (err) {
      if (!tcWasThere) {
        detachHook(links.tc);
        links.tc = undefined;
      }
      if (!links.tc) this.ports.delete(interfaceName);
      throw err;
    }
  }

  /**
   * Detaches both programs (XDP first) and removes their pins, also pins no
   * handle of this daemon knows. Returns the ifindex the links were made for, if any.
   */
  detach(interfaceName: string): number | undefined {
    // The node's own links share the pin names: never a port's to remove.
    if (this.isReserved(interfaceName)) return undefined;
    const links = this.ports.get(interfaceName) ?? {};
    this.ports.delete(interfaceName);
    const ifindex = links.xdp?.ifindex ?? links.tc?.ifindex;
    for (const hook of ['xdp', 'tc'] as const) {
      const h = links[hook];
      if (h) detachHook(h);
      else dropPin(hookPinPath(this.options.linksDir, hook, interfaceName), { detach: true });
    }
    return ifindex;
  }

  /** The ifindex both programs run on, each through its link; undefined if either is missing. */
  attachedIfindex(interfaceName: string): number | undefined {
    const links = this.ports.get(interfaceName);
    if (!links?.xdp || !links.tc) return undefined;
    const ifindex = links.xdp.ifindex;
    return runs(links.xdp, this.options.xdp.program, ifindex) && runs(links.tc, this.options.tc.program, ifindex) ? ifindex : undefined;
  }

  /** The ifindex this daemon last attached (or adopted) the port's links for, live or not. */
  recordedIfindex(interfaceName: string): number | undefined {
    const links = this.ports.get(interfaceName);
    return links?.xdp?.ifindex ?? links?.tc?.ifindex;
  }

  /** Interfaces holding at least one of our port links. */
  names(): string[] {
    return [...this.ports.keys()];
  }

  statuses(): AttachmentStatus[] {
    const out: AttachmentStatus[] = [];
    for (const links of this.ports.values()) {
      if (links.tc) out.push(hookStatus(links.tc));
      if (links.xdp) out.push(hookStatus(links.xdp));
    }
    return out;
  }

  /** Closes handles; the pinned links keep the programs attached. */
  close(): void {
    for (const links of this.ports.values()) {
      links.tc?.link.close();
      links.xdp?.link.close();
    }
    this.ports.clear();
  }

  /** Detaches every port's programs and removes their pins, also pins no handle knows. */
  teardown(): void {
    for (const name of [...this.ports.keys()]) this.detach(name);
    for (const file of readdirSync(this.options.linksDir)) {
      const pin = parseHookPinName(file);
      if (pin && !this.options.reserved.has(pin.interfaceName)) this.detach(pin.interfaceName);
    }
  }

  private hookOptions(hook: Hook, interfaceName: string, ifindex: number) {
    const { linksDir, logger } = this.options;
    const { program, name } = this.options[hook];
    return { hook, interfaceName, ifindex, program, programName: name, linksDir, logger };
  }
}

/** Removes a pin no handle of ours knows; with `detach`, detaches its link first. */
function dropPin(pinPath: string, opts: { detach?: boolean } = {}): void {
  let link: BpfLink;
  try {
    link = BpfLink.openPinned(pinPath);
  } catch (err) {
    if (err instanceof BpfError && err.code === 'ENOENT') return;
    throw err;
  }
  try {
    if (opts.detach && link.info().ifindex !== 0) link.detach();
  } finally {
    link.close();
    try {
      native().unpin(pinPath);
    } catch (err) {
      if (!(err instanceof BpfError && err.code === 'ENOENT')) throw err;
    }
  }
}
