// An independent client: gRPC C-core through Debian's python3-grpcio, with
// message classes built only from what the daemon's server reflection
// returns (fixtures/python-reflection-client.py). It lists services over
// reflection v1alpha and v1, fetches the file of xdpnet.v1.XdpNet, loads it
// into a protobuf DescriptorPool, and calls CreateNetwork, ListNetworks,
// health Check and a rejected CreateNetwork. Runs against a real daemon (fake
// dataplane). No root needed; skipped (saying why) where Debian's
// /usr/bin/python3 lacks grpc or protobuf.

import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '../../src/api/client.js';
import { grpcPackage } from '../../src/api/proto.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { nextVni, uniqueName } from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/python-reflection-client.py');

function pythonMissing(): string | null {
  try {
    execFileSync(PYTHON, ['-c', 'import grpc, google.protobuf'], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `${PYTHON} cannot import grpc and google.protobuf (apt-get install python3-grpcio python3-protobuf): ${(err as Error).message}`;
  }
}

const missing = pythonMissing();
if (missing) console.warn(`api-python-client: skipped: ${missing}`);

interface PythonOutput {
  services: { v1alpha: string[]; v1: string[] };
  files: string[];
  files_v1: string[];
  network_fields: Record<string, string> | null;
  descriptor: { load_error: string | null; repairs: string[] };
  service: { name: string; methods: string[] };
  create: Record<string, unknown>;
  list: Record<string, unknown>;
  health: Record<string, string>;
  rejection: { code: string; details: string; field: string | null } | null;
  unknown_symbol: { kind: string; error_code: number; error_message: string };
}

/** "segmentationId" → "segmentation_id"; applied to every key, recursively. */
function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeKeys(v)]),
  );
}

function runPython(args: object): Promise<PythonOutput> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, JSON.stringify(args)], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${SCRIPT} failed (${err.message}):\n${stderr}\n${stdout}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as PythonOutput);
      } catch (e) {
        reject(new Error(`${SCRIPT}: output is not JSON (${String(e)}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

describe.skipIf(missing !== null)('a Python (C-core) client built from server reflection', () => {
  let daemon: TestDaemon;
  let out: PythonOutput;
  const networkId = randomUUID();
  const vni = nextVni();
  const name = uniqueName('py-net');

  beforeAll(async () => {
    daemon = await TestDaemon.start();
    await daemon.waitServing();
    out = await runPython({ socket: daemon.socket, network_id: networkId, vni, name });
  }, 120_000);

  afterAll(async () => {
    await daemon?.cleanup();
  });

  it('lists xdpnet.v1.XdpNet over reflection v1alpha and v1', () => {
    expect(out.services.v1alpha).toContain('xdpnet.v1.XdpNet');
    expect(out.services.v1).toEqual(out.services.v1alpha);
  });

  it('lists grpc.health.v1.Health too, which the server also serves', () => {
    expect(out.services.v1alpha).toContain('grpc.health.v1.Health');
    expect(out.services.v1).toContain('grpc.health.v1.Health');
  });

  it('describes every method of service.proto, the same over v1 and v1alpha', () => {
    expect(out.service.name).toBe('xdpnet.v1.XdpNet');
    expect(out.service.methods).toEqual(Object.keys(grpcPackage().xdpnet.v1.XdpNet.service).sort());
    expect(out.service.methods).toContain('Watch');
    expect(out.files_v1).toEqual(out.files);
  });

  it('serves descriptors a protobuf DescriptorPool accepts as they are', () => {
    // A C++/upb pool refuses map entries not named <Field>Entry (NodeStatus.resource_counts).
    expect(out.descriptor).toEqual({ load_error: null, repairs: [] });
  });

  it('describes the proto as written: its file names and snake_case field names', () => {
    expect.soft(out.files).toContain('xdpnet/v1/service.proto');
    expect.soft(out.files).toContain('xdpnet/v1/resources.proto');
    // update_mask takes these names: reflection must show the same ones.
    expect.soft(out.network_fields).toMatchObject({ '4': 'segmentation_id', '5': 'physical_network', '8': 'admin_state_up' });
  });

  it('creates and lists a network with classes built from reflection: the VNI and the default MTU', async () => {
    const created = snakeKeys(out.create) as Record<string, unknown>;
    expect(created).toMatchObject({ id: networkId, name, type: 'NETWORK_TYPE_VXLAN', segmentation_id: vni, mtu: 1450, admin_state_up: true });
    expect(['RESOURCE_STATE_PENDING', 'RESOURCE_STATE_ACTIVE']).toContain((created.status as { state: string }).state);
    const list = snakeKeys(out.list) as { networks: Record<string, unknown>[]; next_page_token: string };
    expect(list.next_page_token).toBe('');
    expect(list.networks.filter((n) => n.id === networkId)).toEqual([
      expect.objectContaining({ segmentation_id: vni, mtu: 1450, revision: created.revision }),
    ]);
    // What the Python client created is what the TypeScript client reads.
    const client = daemon.client();
    const got = await unary<pb.Network__Output>((cb) => client.getNetwork({ id: networkId }, cb));
    expect(got).toMatchObject({ name, segmentationId: vni, mtu: 1450, revision: created.revision });
  });

  it('health Check answers SERVING for the server and for xdpnet.v1.XdpNet', () => {
    expect(out.health).toMatchObject({ server: 'SERVING', 'xdpnet.v1.XdpNet': 'SERVING' });
  });

  it('a rejected call carries the code, "field: reason" details and the xdpnet-field trailer', () => {
    expect(out.rejection).not.toBeNull();
    expect(out.rejection!.code).toBe('ALREADY_EXISTS');
    expect(out.rejection!.details.startsWith('network.id: ')).toBe(true);
    expect(out.rejection!.field).toBe('network.id');
  });

  it('reflection answers NOT_FOUND for a symbol it does not know', () => {
    expect(out.unknown_symbol).toMatchObject({ kind: 'error_response', error_code: 5 });
    expect(out.unknown_symbol.error_message).toContain('no.such.Symbol');
  });
});
