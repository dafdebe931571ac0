// The programs scenarios put under test, loaded on demand and closed together.

import { join } from 'node:path';
import { encode, u32 } from '../../src/dataplane/codec.js';
import { type BpfProgram, type LoadedObject, loadObject } from '../../src/dataplane/index.js';
import { macBytes } from '../../test/helpers/frames.js';
import { objectPath, withObjectDir } from './layouts.js';
import { Overlay } from './overlay.js';
import { Routed, type RouterInterfaces } from './routed.js';
import { type ConntrackFill, Gateway } from './snat.js';
import type { BenchNet, LinkName } from './topology.js';

export class Programs {
  private overlayLoaded: Overlay | undefined;
  private routedLoaded: Routed | undefined;
  private gatewayLoaded: Gateway | undefined;
  private gatewayNewLoaded: Gateway | undefined;
  private readonly objects: LoadedObject[] = [];
  private readonly programs: BpfProgram[] = [];

  private otherBuild: Programs | undefined;

  /** `pinSuffix`: the other build's programs pin their gateway's maps apart from ours. */
  constructor(
    private readonly net: BenchNet,
    private readonly pinSuffix = '',
  ) {}

  /** `load` run on the programs of the build in `dir` (--compare-with), which have maps of their own. */
  async other<T>(dir: string, load: (other: Programs) => Promise<T>): Promise<T> {
    this.otherBuild ??= new Programs(this.net, '-other');
    const other = this.otherBuild;
    return withObjectDir(dir, () => load(other));
  }

  /** ifindex of a host-side interface (in its own namespace). */
  ifindex(link: LinkName): number {
    return this.net.ifindex.host[link];
  }

  /** xdp_port and xdp_underlay, filled for the `port` and `ul` interfaces. */
  async overlay(): Promise<Overlay> {
    this.overlayLoaded ??= await Overlay.load({ port: this.ifindex('port'), underlay: this.ifindex('ul') });
    return this.overlayLoaded;
  }

  /** xdp_port routing between the green (`port`) and orange (`port2`) VMs (routed.ts). */
  async routed(): Promise<Routed> {
    this.routedLoaded ??= await Routed.load(this.routerInterfaces());
    return this.routedLoaded;
  }

  /** xdp_port and xdp_external of the gateway node, one connection established (snat.ts). */
  async gateway(): Promise<Gateway> {
    this.gatewayLoaded ??= await Gateway.load(this.routerInterfaces(), join(this.net.bpffsDir, `gateway${this.pinSuffix}`));
    return this.gatewayLoaded;
  }

  /** xdp_port of another gateway node, its connection table for the new-connection scenario alone (snat.ts). */
  async gatewayNew(): Promise<Gateway> {
    this.gatewayNewLoaded ??= await Gateway.load(this.routerInterfaces());
    return this.gatewayNewLoaded;
  }

  /** xdp_floor sending frames out of `out` with these MACs. */
  async floor(out: LinkName, mac: { dst: string; src: string }): Promise<BpfProgram> {
    const ifindex = this.ifindex(out);
    const obj = await this.track(
      loadObject(objectPath('bench/xdp_floor'), { rodata: { out_ifindex: ifindex, dst_mac: macBytes(mac.dst), src_mac: macBytes(mac.src) } }),
    );
    const tx = obj.map('floor_tx');
    try {
      tx.update(encode(u32, ifindex), encode(u32, ifindex));
    } finally {
      tx.close();
    }
    return this.program(obj, 'xdp_floor');
  }

  /** xdp_pass: into the kernel's stack. */
  async pass(): Promise<BpfProgram> {
    return this.program(await this.track(loadObject(objectPath('bench/xdp_pass'))), 'xdp_pass');
  }

  /**
   * Our programs' reason counters so far, non-zero only: to say where frames
   * went. The overlay's programs under their names; the others prefixed
   * with their world (`routed/xdp_port`, `snat/xdp_external`, ...).
   */
  reasons(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    if (this.overlayLoaded) Object.assign(out, this.overlayLoaded.reasons());
    if (this.routedLoaded) out['routed/xdp_port'] = this.routedLoaded.reasons();
    const prefixed = (world: string, r: Record<string, Record<string, number>>) => {
      for (const [program, counts] of Object.entries(r)) out[`${world}/${program}`] = counts;
    };
    if (this.gatewayLoaded) prefixed('snat', this.gatewayLoaded.reasons());
    if (this.gatewayNewLoaded) prefixed('snat-new', this.gatewayNewLoaded.reasons());
    return out;
  }

  /** How full the new-connection scenario's connection table is (if loaded). */
  conntrackNew(): ConntrackFill | undefined {
    return this.gatewayNewLoaded?.conntrack();
  }

  close(): void {
    for (const p of this.programs) p.close();
    for (const o of this.objects) o.close();
    this.overlayLoaded?.close();
    this.routedLoaded?.close();
    this.gatewayLoaded?.close();
    this.gatewayNewLoaded?.close();
    this.otherBuild?.close();
  }

  private routerInterfaces(): RouterInterfaces {
    return { green: this.ifindex('port'), orange: this.ifindex('port2'), external: this.ifindex('ext') };
  }

  private async track(loading: Promise<LoadedObject>): Promise<LoadedObject> {
    const obj = await loading;
    this.objects.push(obj);
    return obj;
  }

  private program(obj: LoadedObject, name: string): BpfProgram {
    const p = obj.program(name);
    this.programs.push(p);
    return p;
  }
}
