// The programs scenarios put under test, loaded on demand and closed together.

import { encode, u32 } from '../../src/dataplane/codec.js';
import { type BpfProgram, type LoadedObject, loadObject } from '../../src/dataplane/index.js';
import { macBytes } from '../../test/helpers/frames.js';
import { objectPath } from './layouts.js';
import { Overlay } from './overlay.js';
import type { BenchNet, LinkName } from './topology.js';

export class Programs {
  private overlayLoaded: Overlay | undefined;
  private readonly objects: LoadedObject[] = [];
  private readonly programs: BpfProgram[] = [];

  constructor(private readonly net: BenchNet) {}

  /** ifindex of a node-side interface. */
  ifindex(link: LinkName): number {
    return this.net.ifindex.node[link];
  }

  /** xdp_port and xdp_underlay, filled for the `port` and `ul` interfaces. */
  async overlay(): Promise<Overlay> {
    this.overlayLoaded ??= await Overlay.load({ port: this.ifindex('port'), underlay: this.ifindex('ul') });
    return this.overlayLoaded;
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

  close(): void {
    for (const p of this.programs) p.close();
    for (const o of this.objects) o.close();
    this.overlayLoaded?.close();
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
