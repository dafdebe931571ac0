// The node's BPF dataplane: what xdpnetd loads, pins and attaches, and how a
// restarted daemon adopts it.
//
// Everything lives under the bpffs root (default /sys/fs/bpf/xdpnet):
//   <map name>              every map any object declares (pinned-maps.ts),
//                           shared by all of them: xdpnet_reasons, the overlay tables…
//   links/xdp_<ifname>      the XDP link of an interface: xdp_underlay on the
//                           underlay, xdp_external on physical-network interfaces
//                           (the external NICs: SNAT's way back, ARP and ping
//                           for the routers' external IPs), xdp_port on VM ports
//   links/tc_<ifname>       the TC ingress (tcx) link: tc_underlay_flood on the
//                           underlay, tc_port_flood on VM ports
// Pinned links keep the programs attached while the daemon is stopped or
// restarting, so forwarding never stops for a daemon restart. On start the
// daemon reuses the pinned maps, opens the pinned links and swaps its freshly
// loaded programs in atomically through them (hook-links.ts): an xdp_guard
// link an older daemon left on a physical-network interface becomes
// xdp_external through that same link. The VM ports' links are attached and
// detached by the tables (port-programs.ts). An underlay or external NIC
// deleted and created again under its name (a driver reload, a bond rebuilt)
// gets its programs and its xdpnet_tx_ports slot back from
// repairInterfaces(), which the daemon calls on link events; the tables then
// follow the new ifindex in their next full pass.
//
// Load-time settings: vtep_ip and underlay_mtu for every object that declares
// them; xdp_port also gets the SNAT port range; xdp_external the
// drop_unsolicited and verify_ipv4_checksum settings. The external NICs go
// into xdpnet_tx_ports (xdp_port redirects SNAT'd packets into them). The
// conntrack table (xdpnet_snat_ct, ~270 MB at its default size) is loaded at
// the configured size on a node with an external NIC and at a token size on
// any other, where nothing uses it (pinned-maps.ts applies the size to every
// object that declares the map).
//
// Why a restart replaces every program instead of adopting the attached one
// when it is the same: every map, device maps included, is now one map
// shared through its pin, so the old and the new programs already use the
// same maps and their state. What remains to prove "the same" is the code
// and the load-time settings (.rodata: vtep_ip, underlay_mtu), which the
// program tag does not cover. Reading the attached program's frozen .rodata
// and map ids would be cheap, but the tag of what this daemon would run is
// only known once its object is loaded, so the verifier runs either way; all
// that adopting saves is one bpf_link_update per hook, which is atomic and
// loses no frame. Against that, a wrong "same" would leave a changed setting
// (a new VTEP IP) silently unapplied, and the daemon would have to run
// programs it did not load (opened by id) on the ports it attaches later.
// So replacement stays: always correct, and just as hitless.

import { mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_GEN_MAP, advanceGeneration } from './cache-generation.js';
import { DEFAULT_BPFFS_ROOT, ensureBpffs } from './bpffs.js';
import { encode, ipv4 } from './codec.js';
import { type AttachmentStatus, type HookLogger, type PinnedHook, detachHook, ensureHook, hookStatus } from './hook-links.js';
import { InterfaceIndex } from './interface-index.js';
import { SNAT_CT_MAP_NAME } from './layouts.js';
import { REPO_ROOT } from './native.js';
import { txPortWrite } from './overlay-encode.js';
import { type MapFillStatus, PinnedMaps, declaredSettings } from './pinned-maps.js';
import { PortPrograms } from './port-programs.js';
import type { BpfProgram } from './program.js';
import { REASON_MAP_NAME, type ReasonCount, readReasonCounters } from './reasons.js';
import type { RodataValue } from './object.js';

export type { AttachmentStatus } from './hook-links.js';
export type { MapFillStatus } from './pinned-maps.js';

export interface NodeDataplaneOptions {
  /** Directory for xdpnet's pins; must be on a bpffs (mounted if missing). */
  bpffsRoot: string;
  /** This node's VTEP IPv4 (the outer source of what it encapsulates, the destination it decapsulates). */
  vtepIp: string;
  /** The interface the VTEP IP lives on. */
  underlayInterface: string;
  /** Physical network name -> its interface (config physical_networks): xdp_external on each. */
  physicalNetworks?: Readonly<Record<string, string>>;
  /** More physical-network interfaces, by interface name only (no physical network names them): xdp_external too. */
  physicalInterfaces?: readonly string[];
  /** SNAT's settings; defaults: the objects' own (the whole port range, the conntrack table's declared size). */
  snat?: NodeSnatOptions;
  /** Directory of the compiled BPF objects. */
  objectDir?: string;
  logger: HookLogger;
}

export interface NodeSnatOptions {
  /** The external ports (and ICMP echo identifiers) SNAT hands out, both included. */
  portMin?: number;
  portMax?: number;
  /** Connections the conntrack table holds on a node with an external NIC (two map entries each). */
  conntrackMax?: number;
  /** Drop packets to an external IP that belong to no connection instead of passing them to the kernel. */
  dropUnsolicited?: boolean;
  /** Check the IPv4 header checksum of what arrives on the external NICs. */
  verifyIpv4Checksum?: boolean;
}

/** What repairInterfaces() did: the node interfaces it attached the programs to again, and those that do not exist now. */
export interface InterfaceRepair {
  reattached: string[];
  absent: string[];
}

/** An external NIC: a physical-network interface running xdp_external. */
export interface ExternalInterface {
  name: string;
  /** Its ifindex now: repairInterfaces() follows an interface recreated under the name. */
  ifindex: number;
  /** The physical networks mapped to it (none if given by interface name only). */
  physicalNetworks: string[];
}

/** Objects and the programs the node takes from each. */
const UNDERLAY = { file: 'xdp_underlay.bpf.o', xdp: 'xdp_underlay' };
const FLOOD = { file: 'tc_flood.bpf.o', port: 'tc_port_flood', underlay: 'tc_underlay_flood' };
const PORT = { file: 'xdp_port.bpf.o', xdp: 'xdp_port' };
const EXTERNAL = { file: 'xdp_external.bpf.o', xdp: 'xdp_external' };
/** How often the node writes a new cache generation regardless of its own changes (the bound on a foreign write going unseen). */
export const CACHE_GENERATION_PERIOD_MS = 1000;

/** xdpnet_snat_ct's max_entries on a node with no external NIC: nothing creates connections there. */
export const TOKEN_CONNTRACK_ENTRIES = 1024;

/** The bpffs mount a root lives on: /sys/fs/bpf for anything below it, else the root itself. */
function bpffsMountFor(root: string): string {
  return root === DEFAULT_BPFFS_ROOT || root.startsWith(`${DEFAULT_BPFFS_ROOT}/`) ? DEFAULT_BPFFS_ROOT : root;
}

export class NodeDataplane {
  private constructor(
    private readonly options: NodeDataplaneOptions,
    /** Every pinned map, by name. */
    readonly maps: PinnedMaps,
    /** Interface names <-> ifindexes of this namespace. */
    readonly interfaces: InterfaceIndex,
    /** The VM ports' programs. */
    readonly ports: PortPrograms,
    /** The underlay's ifindex now (it is in xdpnet_tx_ports, and no VM port); repairInterfaces() follows a recreated one. */
    private underlayIndex: number,
    /** The underlay's MTU at start (the programs' underlay_mtu setting). */
    readonly underlayMtu: number,
    /** The node's own attachments: underlay TC and XDP, then the physical networks' XDP. */
    private readonly hooks: PinnedHook[],
    private readonly programs: BpfProgram[],
    /** The external NICs, by interface name (xdp_external on each, in xdpnet_tx_ports). */
    readonly externalInterfaces: ReadonlyMap<string, ExternalInterface>,
    /** xdp_external as loaded (what the external NICs run), if the node has any: frames the daemon sends go through it. */
    readonly externalProgram: BpfProgram | undefined,
    /** What the underlay runs, to attach again to a recreated underlay. */
    private readonly underlayPrograms: { tc: BpfProgram; xdp: BpfProgram },
  ) {
    // A new cache generation now (whatever the programs cached before this start is dropped)
    // and every second: changes written past our handles are seen within that (cache-generation.ts).
    const generation = maps.require(CACHE_GEN_MAP);
    advanceGeneration(generation);
    this.cacheTicker = setInterval(() => advanceGeneration(generation), CACHE_GENERATION_PERIOD_MS);
    this.cacheTicker.unref();
  }

  private readonly cacheTicker: NodeJS.Timeout;

  /** The underlay's ifindex (in xdpnet_tx_ports, never a VM port's). */
  get underlayIfindex(): number {
    return this.underlayIndex;
  }

  private repairing: Promise<InterfaceRepair> | undefined;

  /**
   * Attaches the node's own programs again, and moves their xdpnet_tx_ports
   * slots, on every node interface (the underlay, the external NICs) that was
   * deleted and created again under its name: another ifindex, the kernel's
   * links to the old one defunct. Calls made while one runs share it. An
   * interface that does not exist now is `absent` (nothing to attach to:
   * what would leave through it is dropped, counted, until it comes back).
   */
  repairInterfaces(): Promise<InterfaceRepair> {
    this.repairing ??= this.repairInterfacesNow().finally(() => {
      this.repairing = undefined;
    });
    return this.repairing;
  }

  private async repairInterfacesNow(): Promise<InterfaceRepair> {
    const result: InterfaceRepair = { reattached: [], absent: [] };
    const underlay = this.options.underlayInterface;
    const outcome = await this.reattach(underlay, this.underlayIndex, [
      { hook: 'tc', program: this.underlayPrograms.tc, programName: FLOOD.underlay },
      { hook: 'xdp', program: this.underlayPrograms.xdp, programName: UNDERLAY.xdp },
    ]);
    if (outcome === 'absent') result.absent.push(underlay);
    else if (outcome !== 'kept') {
      result.reattached.push(underlay);
      if (outcome.mtu !== this.underlayMtu) {
        this.options.logger.warn(
          { interface: underlay, mtu: outcome.mtu, programsMtu: this.underlayMtu },
          'the recreated underlay has another MTU; the programs keep the one they were loaded with until xdpnetd restarts',
        );
      }
      this.underlayIndex = outcome.index;
    }
    for (const ext of this.externalInterfaces.values()) {
      if (!this.externalProgram) break;
      const r = await this.reattach(ext.name, ext.ifindex, [{ hook: 'xdp', program: this.externalProgram, programName: EXTERNAL.xdp }]);
      if (r === 'absent') result.absent.push(ext.name);
      else if (r !== 'kept') {
        result.reattached.push(ext.name);
        ext.ifindex = r.index;
      }
    }
    return result;
  }

  /**
   * The programs `hooks` on interface `name` (our slot in xdpnet_tx_ports at
   * `oldIndex`), attached again if the interface now has another ifindex or
   * a hook lost its link; 'kept' if nothing had to be done.
   */
  private async reattach(
    name: string,
    oldIndex: number,
    hooks: readonly { hook: 'tc' | 'xdp'; program: BpfProgram; programName: string }[],
  ): Promise<'kept' | 'absent' | { index: number; mtu: number }> {
    const { bpffsRoot, logger } = this.options;
    const link = await this.interfaces.lookupLink(name);
    if (!link) return 'absent';
    const held = this.hooks.filter((h) => h.interfaceName === name);
    if (held.length !== hooks.length) return 'kept'; // closed: nothing of ours to move
    if (link.index === oldIndex && held.every((h) => h.link.info().ifindex === link.index)) return 'kept';

    // The slot first: the programs redirect into the interface through it.
    const tx = txPortWrite(link.index);
    const txPorts = this.maps.require(tx.map);
    txPorts.update(tx.key, tx.value);
    if (link.index !== oldIndex) txPorts.delete(txPortWrite(oldIndex).key);
    // In the order of the start (TC before XDP: XDP passes flooded frames up to TC).
    for (const { hook, program, programName } of hooks) {
      const i = this.hooks.findIndex((h) => h.interfaceName === name && h.hook === hook);
      this.hooks[i] = ensureHook({ hook, interfaceName: name, ifindex: link.index, program, programName, linksDir: join(bpffsRoot, 'links'), logger, current: this.hooks[i] });
    }
    logger.warn({ interface: name, ifindex: link.index, was: oldIndex }, 'node interface recreated: its programs are attached again');
    return { index: link.index, mtu: link.mtu };
  }

  /** The interface a physical network is mapped to here (whatever it is), or undefined. */
  physicalInterfaceOf(physicalNetwork: string): string | undefined {
    const map = this.options.physicalNetworks ?? {};
    return Object.hasOwn(map, physicalNetwork) ? map[physicalNetwork] : undefined;
  }

  /** The underlay interface's name. */
  get underlayInterface(): string {
    return this.options.underlayInterface;
  }

  static async start(options: NodeDataplaneOptions): Promise<NodeDataplane> {
    const { bpffsRoot, logger } = options;
    ensureBpffs(bpffsMountFor(bpffsRoot));
    const linksDir = join(bpffsRoot, 'links');
    mkdirSync(linksDir, { recursive: true, mode: 0o700 });
    const objectDir = options.objectDir ?? join(REPO_ROOT, 'bpf/build');

    const interfaces = await InterfaceIndex.open();
    const programs: BpfProgram[] = [];
    const hooks: PinnedHook[] = [];
    let maps: PinnedMaps | undefined;
    let ports: PortPrograms | undefined;
    try {
      const underlay = await interfaces.lookupLink(options.underlayInterface);
      if (!underlay) throw new Error(`interface ${options.underlayInterface} (underlay_interface) does not exist`);

      // The physical networks' interfaces, each once, with the physical networks mapped to it.
      const byInterface = new Map<string, string[]>();
      for (const name of options.physicalInterfaces ?? []) if (!byInterface.has(name)) byInterface.set(name, []);
      for (const [physnet, name] of Object.entries(options.physicalNetworks ?? {})) {
        const names = byInterface.get(name) ?? [];
        names.push(physnet);
        byInterface.set(name, names);
      }
      if (byInterface.delete(underlay.name)) {
        logger.info({ interface: underlay.name }, 'physical network on the underlay interface: xdp_underlay guards it; it can be no external NIC (no SNAT through it)');
      }

      const snat = options.snat ?? {};
      const conntrackEntries = byInterface.size > 0 ? (snat.conntrackMax === undefined ? undefined : 2 * snat.conntrackMax) : TOKEN_CONNTRACK_ENTRIES;
      maps = new PinnedMaps(bpffsRoot, {
        maxEntries: conntrackEntries === undefined ? {} : { [SNAT_CT_MAP_NAME]: conntrackEntries },
        logger,
      });
      const pinned = maps;
      // Each object gets those of these it declares: a setting added to a program needs no change here.
      const settings: Record<string, RodataValue> = {
        vtep_ip: encode(ipv4, options.vtepIp),
        underlay_mtu: underlay.mtu,
        ...(snat.portMin === undefined ? {} : { snat_port_min: snat.portMin }),
        ...(snat.portMax === undefined ? {} : { snat_port_max: snat.portMax }),
      };
      // Only xdp_external's: the other objects that validate IPv4 (xdp_underlay) keep their own defaults.
      const externalSettings: Record<string, RodataValue> = {
        ...settings,
        ...(snat.dropUnsolicited === undefined ? {} : { drop_unsolicited: snat.dropUnsolicited }),
        ...(snat.verifyIpv4Checksum === undefined ? {} : { verify_ipv4_checksum: snat.verifyIpv4Checksum }),
      };
      const load = async (file: string, names: string[], given = settings): Promise<BpfProgram[]> => {
        const path = join(objectDir, file);
        const obj = await pinned.load(path, declaredSettings(path, given));
        try {
          return names.map((name) => {
            const program = obj.program(name);
            programs.push(program);
            return program;
          });
        } finally {
          obj.close();
        }
      };
      // A map an earlier build pinned and this one dropped: gone, whichever objects this node loads.
      maps.removeUndeclared([UNDERLAY, FLOOD, PORT, EXTERNAL].map((o) => join(objectDir, o.file)));
      const [xdpUnderlay] = await load(UNDERLAY.file, [UNDERLAY.xdp]);
      const [tcPort, tcUnderlay] = await load(FLOOD.file, [FLOOD.port, FLOOD.underlay]);
      const [xdpPort] = await load(PORT.file, [PORT.xdp]);

      // Encapsulated frames are redirected out of the underlay through xdpnet_tx_ports.
      const tx = txPortWrite(underlay.index);
      maps.require(tx.map).update(tx.key, tx.value);
      // TC first: xdp_underlay passes flooded frames up to tc_underlay_flood.
      const attach = (hook: 'xdp' | 'tc', interfaceName: string, ifindex: number, program: BpfProgram, programName: string) =>
        hooks.push(ensureHook({ hook, interfaceName, ifindex, program, programName, linksDir, logger }));
      attach('tc', underlay.name, underlay.index, tcUnderlay!, FLOOD.underlay);
      // An xdp_guard link left by an older daemon becomes xdp_underlay through the same link.
      attach('xdp', underlay.name, underlay.index, xdpUnderlay!, UNDERLAY.xdp);

      const externals = new Map<string, ExternalInterface>();
      let xdpExternal: BpfProgram | undefined;
      if (byInterface.size > 0) {
        [xdpExternal] = await load(EXTERNAL.file, [EXTERNAL.xdp], externalSettings);
        for (const [name, physicalNetworks] of byInterface) {
          const link = await interfaces.lookupLink(name);
          if (!link) throw new Error(`interface ${name} (from physical_networks) does not exist`);
          // Before the program: SNAT'd packets are redirected into it through this slot.
          const nicTx = txPortWrite(link.index);
          maps.require(nicTx.map).update(nicTx.key, nicTx.value);
          attach('xdp', name, link.index, xdpExternal!, EXTERNAL.xdp);
          externals.set(name, { name, ifindex: link.index, physicalNetworks });
        }
      }

      ports = new PortPrograms({
        linksDir,
        xdp: { program: xdpPort!, name: PORT.xdp },
        tc: { program: tcPort!, name: FLOOD.port },
        reserved: new Set([underlay.name, ...externals.keys()]),
        logger,
      });
      ports.adopt(interfaces);
      return new NodeDataplane(options, maps, interfaces, ports, underlay.index, underlay.mtu, hooks, programs, externals, xdpExternal, {
        tc: tcUnderlay!,
        xdp: xdpUnderlay!,
      });
    } catch (err) {
      // Attachments made so far stay (pinned): the next start adopts them.
      ports?.close();
      for (const h of hooks) h.link.close();
      for (const p of programs) p.close();
      maps?.close();
      interfaces.close();
      throw err;
    }
  }

  get logger(): HookLogger {
    return this.options.logger;
  }

  reasonCounters(): ReasonCount[] {
    return readReasonCounters(this.maps.require(REASON_MAP_NAME));
  }

  /** Every attachment: the underlay's TC and XDP, the external NICs', each VM port's. */
  attached(): AttachmentStatus[] {
    return [...this.hooks.map(hookStatus), ...this.ports.statuses()];
  }

  /** Every pinned map's use. */
  mapFill(): MapFillStatus[] {
    return this.maps.fill();
  }

  /** Closes handles. Programs stay attached and maps stay pinned: forwarding goes on. */
  close(): void {
    clearInterval(this.cacheTicker);
    this.ports.close();
    for (const h of this.hooks) h.link.close();
    this.hooks.length = 0;
    for (const p of this.programs) p.close();
    this.programs.length = 0;
    this.maps.close();
    this.interfaces.close();
  }

  /** Detaches every program and removes every pin: the node stops forwarding. */
  teardown(): void {
    this.ports.teardown();
    // XDP before TC (the reverse of attach), physical networks first.
    for (const h of [...this.hooks].reverse()) detachHook(h);
    this.hooks.length = 0;
    this.maps.unpinAll();
    this.close();
    removeIfEmpty(join(this.options.bpffsRoot, 'links'));
    removeIfEmpty(this.options.bpffsRoot);
  }
}

/** rmdir unless something else lives there (another user's pins) or it is a mount point. */
function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch (err) {
    if (!['ENOENT', 'ENOTEMPTY', 'EBUSY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
}
