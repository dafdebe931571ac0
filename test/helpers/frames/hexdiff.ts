// Readable first-difference report for assertion messages:
//   expect(actual.equals(expected), hexdiff(expected, actual)).toBe(true)
import { parseFrame, type LayerName } from './parse.js';

// Field start offsets within each header, to name the byte that differs.
const FIELDS: Record<LayerName, [number, string][]> = {
  eth: [[0, 'dst'], [6, 'src'], [12, 'ethertype'], [14, 'payload']],
  vlan: [[0, 'tpid'], [2, 'tci'], [4, 'ethertype'], [6, 'payload']],
  arp: [[0, 'htype'], [2, 'ptype'], [4, 'hlen'], [5, 'plen'], [6, 'op'], [8, 'senderMac'], [14, 'senderIp'], [18, 'targetMac'], [24, 'targetIp'], [28, 'padding']],
  ipv4: [[0, 'version/ihl'], [1, 'tos'], [2, 'totalLength'], [4, 'id'], [6, 'flags/fragOffset'], [8, 'ttl'], [9, 'protocol'], [10, 'checksum'], [12, 'src'], [16, 'dst'], [20, 'options/payload']],
  udp: [[0, 'sport'], [2, 'dport'], [4, 'length'], [6, 'checksum'], [8, 'payload']],
  tcp: [[0, 'sport'], [2, 'dport'], [4, 'seq'], [8, 'ack'], [12, 'dataOffset'], [13, 'flags'], [14, 'window'], [16, 'checksum'], [18, 'urgent'], [20, 'options/payload']],
  icmp: [[0, 'type'], [1, 'code'], [2, 'checksum'], [4, 'id/rest'], [6, 'seq/mtu'], [8, 'payload']],
  vxlan: [[0, 'flags'], [1, 'reserved'], [4, 'vni'], [7, 'reserved'], [8, 'payload']],
};

/** Where byte `pos` of `frame` falls, e.g. "ipv4.ttl (ipv4+8)"; '' if unknown. */
export function describeOffset(frame: Uint8Array, pos: number): string {
  let layers;
  try {
    layers = parseFrame(frame).layers;
  } catch {
    return '';
  }
  const layer = layers.filter((l) => l.offset <= pos).pop();
  if (!layer) return '';
  const rel = pos - layer.offset;
  const field = FIELDS[layer.name].filter(([o]) => o <= rel).pop()?.[1];
  return `${layer.name}.${field} (${layer.name}+${rel})`;
}

const hex = (b: Uint8Array, from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => (from + i < b.length ? b[from + i]!.toString(16).padStart(2, '0') : '  '));

/**
 * '' when equal; otherwise the lengths, the first differing byte with the
 * expected frame's layer/field there, and up to `maxRows` 16-byte rows that
 * differ, with the differing bytes marked.
 */
export function hexdiff(expected: Uint8Array, actual: Uint8Array, maxRows = 4): string {
  const n = Math.max(expected.length, actual.length);
  const differs = (i: number) => i >= expected.length || i >= actual.length || expected[i] !== actual[i];
  let first = -1;
  for (let i = 0; i < n && first < 0; i++) if (differs(i)) first = i;
  if (first < 0) return '';

  let count = 0;
  for (let i = 0; i < n; i++) if (differs(i)) count++;
  const where = describeOffset(expected, first);
  const lines = [
    `frames differ: expected ${expected.length} bytes, actual ${actual.length}; ${count} byte(s) differ`,
    `first difference at byte ${first} (0x${first.toString(16)})${where ? ` in ${where}` : ''}`,
  ];
  let rows = 0;
  for (let row = first - (first % 16); row < n && rows < maxRows; row += 16) {
    const end = Math.min(row + 16, n);
    const marks = Array.from({ length: end - row }, (_, i) => (differs(row + i) ? '^^' : '  '));
    if (!marks.includes('^^')) continue;
    const off = row.toString(16).padStart(4, '0');
    lines.push(`  ${off}  expected ${hex(expected, row, end).join(' ')}`);
    lines.push(`        actual   ${hex(actual, row, end).join(' ')}`);
    lines.push(`                 ${marks.join(' ').trimEnd()}`);
    rows++;
  }
  return lines.join('\n');
}
