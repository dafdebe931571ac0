// The node's BPF dataplane: what xdpnetd loads, pins and attaches, and how a
// restarted daemon adopts it.
//
// Everything lives under the bpffs root (default /sys/fs/bpf/xdpnet):
//   xdpnet_reasons          the per-CPU reason counters, shared by every program
//   links/xdp_<ifname>      one pinned XDP link per interface the node owns
// Pinned links keep the programs attached while the daemon is stopped or
// restarting, so forwarding never stops for a daemon restart. On start the
// daemon reuses the pinned maps, opens the pinned links and, where the program
// it just loaded differs from the attached one (an upgrade), swaps it in
// atomically through the link.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BPFFS_ROOT, ensureBpffs } from './bpffs.js';
import { type LoadedObject, loadObject } from './object.js';
import type { BpfProgram } from './program.js';
import { BpfLink, LinkType } from './link.js';
import { attachXdp, queryXdp } from './attach.js';
import { type BpfMap } from './maps.js';
import { BpfError, REPO_ROOT, native } from './native.js';
import { REASON_MAP_NAME, type ReasonCount, readReasonCounters } from './reasons.js';
import { RtNetlink } from './rtnetlink.js';

export interface NodeDataplaneOptions {
  /** Directory for xdpnet's pins; must be on a bpffs (mounted if missing). */
  bpffsRoot: string;
  /** Interfaces whose ingress the node's programs own: the underlay, then physical networks. */
  interfaces: readonly string[];
  /** Directory of the compiled BPF objects. */
  objectDir?: string;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface AttachmentStatus {
  interfaceName: string;
  ifindex: number;
  programName: string;
  programId: number;
  hook: string;
  linkId: number;
  pinPath: string;
}

export interface MapFillStatus {
  name: string;
  entries: number;
  maxEntries: number;
}

const GUARD_OBJECT = 'xdp_guard.bpf.o';
const GUARD_PROGRAM = 'xdp_guard';

/** The bpffs mount a root lives on: /sys/fs/bpf for anything below it, else the root itself. */
function bpffsMountFor(root: string): string {
  return root === DEFAULT_BPFFS_ROOT || root.startsWith(`${DEFAULT_BPFFS_ROOT}/`) ? DEFAULT_BPFFS_ROOT : root;
}

export class NodeDataplane {
  private constructor(
    private readonly options: NodeDataplaneOptions,
    private readonly reasons: BpfMap,
    private readonly attachments: Map<string, { ifindex: number; link: BpfLink; pinPath: string }>,
  ) {}

  static async start(options: NodeDataplaneOptions): Promise<NodeDataplane> {
    ensureBpffs(bpffsMountFor(options.bpffsRoot));
    mkdirSync(join(options.bpffsRoot, 'links'), { recursive: true, mode: 0o700 });
    const objectDir = options.objectDir ?? join(REPO_ROOT, 'bpf/build');

    const guard = await loadObject(join(objectDir, GUARD_OBJECT), {
      maps: { [REASON_MAP_NAME]: { pinPath: join(options.bpffsRoot, REASON_MAP_NAME) } },
    });
    const attachments = new Map<string, { ifindex: number; link: BpfLink; pinPath: string }>();
    let reasons: BpfMap | undefined;
    try {
      reasons = guard.map(REASON_MAP_NAME);
      const program = guard.program(GUARD_PROGRAM);
      try {
        const rt = RtNetlink.open();
        try {
          for (const name of options.interfaces) {
            const link = await rt.linkByName(name);
            if (!link) throw new Error(`interface ${name} (from the configuration) does not exist`);
            attachments.set(name, adoptOrAttach(name, link.index, program, options));
          }
        } finally {
          rt.close();
        }
      } finally {
        program.close();
      }
    } catch (err) {
      reasons?.close();
      for (const a of attachments.values()) a.link.close();
      throw err;
    } finally {
      guard.close();
    }
    return new NodeDataplane(options, reasons, attachments);
  }

  reasonCounters(): ReasonCount[] {
    return readReasonCounters(this.reasons);
  }

  attached(): AttachmentStatus[] {
    return [...this.attachments].map(([name, a]) => {
      const info = a.link.info();
      const query = queryXdp(a.ifindex);
      return {
        interfaceName: name,
        ifindex: a.ifindex,
        programName: native().programInfoById(info.progId)?.name ?? '',
        programId: info.progId,
        hook: query?.mode ?? 'detached',
        linkId: info.id,
        pinPath: a.pinPath,
      };
    });
  }

  mapFill(): MapFillStatus[] {
    const { name, maxEntries } = this.reasons.info;
    // An array map is always full: every slot exists, zeroed or not.
    return [{ name, entries: maxEntries, maxEntries }];
  }

  /** Closes handles. Programs stay attached and maps stay pinned: forwarding goes on. */
  close(): void {
    this.reasons.close();
    for (const a of this.attachments.values()) a.link.close();
    this.attachments.clear();
  }

  /** Detaches every program and removes every pin: the node stops forwarding. */
  teardown(): void {
    for (const a of this.attachments.values()) {
      a.link.detach();
      a.link.unpin();
    }
    this.close();
    native().unpin(join(this.options.bpffsRoot, REASON_MAP_NAME));
  }
}

/**
 * Adopts the pinned link on an interface if it is still attached there
 * (replacing its program when the freshly loaded one differs), else attaches
 * anew and pins. A pin left by an interface that was deleted is replaced.
 */
function adoptOrAttach(
  name: string,
  ifindex: number,
  program: BpfProgram,
  options: NodeDataplaneOptions,
): { ifindex: number; link: BpfLink; pinPath: string } {
  const pinPath = join(options.bpffsRoot, 'links', `xdp_${name}`);
  if (existsSync(pinPath)) {
    const link = BpfLink.openPinned(pinPath);
    const info = link.info();
    if (info.type === LinkType.XDP && info.ifindex === ifindex) {
      const current = native().programInfoById(info.progId);
      if (current?.tag !== program.info.tag) {
        link.replaceProgram(program);
        options.logger.info({ interface: name, from: info.progId, to: program.id }, 'replaced attached program');
      } else {
        options.logger.info({ interface: name, program: info.progId, link: info.id }, 'adopted attached program');
      }
      return { ifindex, link, pinPath };
    }
    // The interface was recreated (new ifindex) or the link is defunct.
    options.logger.warn({ interface: name, pinned: info }, 'stale XDP link pin; attaching anew');
    link.unpin();
    link.close();
  }
  try {
    const { link } = attachXdp(program, ifindex, { pinPath });
    options.logger.info({ interface: name, program: program.id, link: link.info().id }, 'attached program');
    return { ifindex, link, pinPath };
  } catch (err) {
    if (err instanceof BpfError && err.code === 'EBUSY') {
      throw new Error(`interface ${name}: another XDP program is attached (not by xdpnet); detach it first`, { cause: err });
    }
    throw err;
  }
}
