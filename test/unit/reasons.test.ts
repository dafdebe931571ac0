// The reason codes have one source (proto/xdpnet/v1/reasons.proto); the C
// header and the TypeScript table are generated from it. This checks the
// generated files in the tree agree with the proto as it is now (a stale
// build would not) and that the codes are sane.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { REASONS, REASON_MAX } from '../../src/gen/reasons.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';

const proto = new protobuf.Root().loadSync(join(REPO_ROOT, 'proto/xdpnet/v1/reasons.proto')).lookupEnum('xdpnet.v1.Reason');
const header = readFileSync(join(REPO_ROOT, 'bpf/lib/gen/reasons.h'), 'utf8');

describe('reason codes', () => {
  it('the TypeScript table holds every proto value but UNSPECIFIED, with the same code', () => {
    const fromProto = Object.entries(proto.values).filter(([n]) => n !== 'REASON_UNSPECIFIED');
    expect(REASONS.map((r) => [r.name, r.code])).toEqual(fromProto);
  });

  it('the C header defines every reason with the same code', () => {
    const defined = new Map([...header.matchAll(/^\t(REASON_[A-Z0-9_]+) = (\d+),$/gm)].map((m) => [m[1], Number(m[2])]));
    for (const r of REASONS) expect(defined.get(r.name), r.name).toBe(r.code);
    expect(defined.size).toBe(REASONS.length + 1); // + UNSPECIFIED
    expect(header).toContain(`#define REASON_MAX ${REASON_MAX}`);
  });

  it('codes are unique, in range, and categorised by their prefix', () => {
    expect(new Set(REASONS.map((r) => r.code)).size).toBe(REASONS.length);
    for (const r of REASONS) {
      expect(r.code).toBeGreaterThan(0);
      expect(r.code).toBeLessThan(REASON_MAX);
      const prefix = r.name.split('_')[1];
      expect({ FWD: 'forwarded', PASS: 'passed', DROP: 'dropped' }[prefix ?? '']).toBe(r.category);
      expect(r.description.length).toBeGreaterThan(10);
    }
  });
});
