// Classic pcap writer and a tshark wrapper, used to cross-check frames.ts
// against an independent decoder (and to dump frames for manual inspection).
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const LINKTYPE_ETHERNET = 1;

/**
 * Classic libpcap file (not pcapng): little-endian, microsecond timestamps,
 * LINKTYPE_ETHERNET. Packet i is stamped i µs after the epoch so output is
 * deterministic.
 */
export function pcapBytes(frames: readonly Uint8Array[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0); // magic: µs resolution
  header.writeUInt16LE(2, 4); // version 2.4
  header.writeUInt16LE(4, 6);
  // thiszone, sigfigs = 0
  header.writeUInt32LE(262144, 16); // snaplen
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const parts: Buffer[] = [header];
  frames.forEach((frame, i) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(0, 0); // ts_sec
    rec.writeUInt32LE(i, 4); // ts_usec
    rec.writeUInt32LE(frame.length, 8); // incl_len
    rec.writeUInt32LE(frame.length, 12); // orig_len
    parts.push(rec, Buffer.from(frame));
  });
  return Buffer.concat(parts);
}

export async function writePcap(path: string, frames: readonly Uint8Array[]): Promise<void> {
  await writeFile(path, pcapBytes(frames));
}

let available: boolean | undefined;
export function tsharkAvailable(): boolean {
  available ??= spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
  return available;
}

/** tshark -T json value: field values are strings, subtrees are objects, repeats are arrays. */
export type TsharkValue = string | TsharkValue[] | { [key: string]: TsharkValue };
export interface TsharkPacket {
  _source: { layers: Record<string, TsharkValue> };
}

// Checksum validation is off by default in tshark (offload makes captured
// checksums unreliable); we want it on. Names checked with
// `tshark -G defaultprefs | grep -i checksum` (tshark 4.0). ICMP is always checked.
const CHECKSUM_PREFS = ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE', 'tcp.check_checksum:TRUE'];

/**
 * Decode frames with tshark and return its JSON. `--no-duplicate-keys` turns a
 * protocol seen twice (VXLAN's inner eth/ip) into an array [outer, inner]
 * instead of JSON with duplicate keys, of which JSON.parse would keep one.
 */
export async function tsharkDecode(frames: readonly Uint8Array[], extraArgs: readonly string[] = []): Promise<TsharkPacket[]> {
  const dir = await mkdtemp(join(tmpdir(), 'xdpnet-pcap-'));
  try {
    const file = join(dir, 'frames.pcap');
    await writePcap(file, frames);
    const args = ['-r', file, '-n', '-T', 'json', '--no-duplicate-keys', ...CHECKSUM_PREFS.flatMap((p) => ['-o', p]), ...extraArgs];
    const { stdout } = await promisify(execFile)('tshark', args, { maxBuffer: 64 << 20 });
    return JSON.parse(stdout) as TsharkPacket[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * All values of a field anywhere in a packet's tree, in document order
 * (outer before inner), e.g. tsharkField(pkt, 'ip.checksum.status') → ['1', '1'].
 */
export function tsharkField(pkt: TsharkPacket, name: string): string[] {
  const out: string[] = [];
  const walk = (v: TsharkValue, key?: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (typeof v === 'string') {
      if (key === name) out.push(v);
    } else for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(pkt._source.layers);
  return out;
}
