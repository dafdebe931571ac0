// BPF links: the kernel object that keeps a program attached to a hook.
//
// A link pinned in bpffs keeps the program attached after the process that
// made it exits (even by SIGKILL); a new process adopts it by opening the pin.

import { type NativeLink, type NativeLinkInfo, native } from './native.js';
import type { BpfProgram } from './program.js';

/** uapi enum bpf_link_type values xdpnet creates. */
export const LinkType = { XDP: 6, TCX: 11 } as const;

export class BpfLink {
  private pinnedAt: string | undefined;

  constructor(private readonly handle: NativeLink) {}

  static openPinned(path: string): BpfLink {
    const link = new BpfLink(native().openPinnedLink(path));
    link.pinnedAt = path;
    return link;
  }

  info(): NativeLinkInfo {
    return this.handle.info();
  }

  get pinPath(): string | undefined {
    return this.pinnedAt;
  }

  pin(path: string): void {
    this.handle.pin(path);
    this.pinnedAt = path;
  }

  /** Removes the bpffs pin; the link lives on while this handle is open. */
  unpin(): void {
    if (this.pinnedAt === undefined) return;
    native().unpin(this.pinnedAt);
    this.pinnedAt = undefined;
  }

  /** Atomically swaps the attached program (no window without a program). */
  replaceProgram(program: BpfProgram): void {
    this.handle.updateProgram(program.handle.fd);
  }

  /** Detaches the program from its hook now, whoever else holds the link. */
  detach(): void {
    this.handle.detach();
  }

  close(): void {
    this.handle.close();
  }
}
