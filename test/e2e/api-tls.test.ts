// The API over TCP with mutual TLS, on a real daemon (fake dataplane). The
// certificates come from test/helpers/tls.ts (openssl in a temp dir). The
// daemon listens on 127.0.0.1:0; the port it bound is read from its
// "xdpnetd started" log line (listening: ["unix:…", "tcp:127.0.0.1:NNNNN"]).
// A client with a certificate of the trusted CA gets in; one without a
// certificate, one with another CA's certificate, one that does not trust
// the server and a plaintext one do not, and create nothing. No root needed.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, unary } from '../../src/api/client.js';
import { grpcPackage } from '../../src/api/proto.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import type { XdpNetClient } from '../../src/gen/proto/xdpnet/v1/XdpNet.js';
import { type Api, api, listAll, rejectionOf, stateView, vxlanNetwork } from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';
import { type TestPki, makeTestPki } from '../helpers/tls.js';

let pki: TestPki;
let dir: string;
let daemon: TestDaemon | undefined;
let overSocket: Api;
let address: string;
const clients: grpc.Client[] = [];

/** The TCP address the daemon says it listens on, from its start-up log line. */
function tcpListening(logs: string): string | undefined {
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; listening?: string[] };
    if (entry.msg !== 'xdpnetd started') continue;
    const tcp = entry.listening?.find((l) => l.startsWith('tcp:'));
    if (tcp) return tcp.slice('tcp:'.length);
  }
  return undefined;
}

function tlsClient(credentials: grpc.ChannelCredentials): XdpNetClient {
  const Client = grpcPackage().xdpnet.v1.XdpNet;
  const client = new Client(address, credentials);
  clients.push(client);
  return client;
}

const deadline = () => ({ deadline: Date.now() + 10_000 });

beforeAll(async () => {
  pki = makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'xdpnetd-tls-'));
  daemon = await TestDaemon.start({
    dir,
    config: {
      api: {
        socket: join(dir, 'xdpnetd.sock'),
        tcp: { address: '127.0.0.1:0', tls: { cert_file: pki.server.cert, key_file: pki.server.key, ca_file: pki.ca.cert } },
      },
    },
  });
  await daemon.waitServing();
  overSocket = api(daemon.client());
  const tcp = tcpListening(daemon.logs);
  if (!tcp) throw new Error(`no tcp address in the daemon's start-up log:\n${daemon.logs}`);
  address = tcp;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await daemon?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  pki?.cleanup();
});

describe('mutual TLS', () => {
  it('binds a real port for 127.0.0.1:0 and reports it in the log and in GetNodeStatus', async () => {
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const port = Number(address.split(':')[1]);
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65_536);
    const status = await overSocket.nodeStatus();
    expect(status.config?.listen).toEqual([`unix:${join(dir, 'xdpnetd.sock')}`, `tcp:${address}`]);
  });

  it('a client with a certificate of the trusted CA creates a network over TCP', async () => {
    const client = connect({ address, tls: { caFile: pki.ca.cert, certFile: pki.client.cert, keyFile: pki.client.key } });
    clients.push(client);
    const input = vxlanNetwork();
    const created = await unary<pb.Network__Output>((cb) => client.createNetwork({ network: input }, deadline(), cb));
    expect(created).toMatchObject({ id: input.id, segmentationId: input.segmentationId, mtu: 1450 });
    // The same state is seen over the unix socket.
    const listed = await listAll<pb.Network__Output>(overSocket.listNetworks, 'networks');
    expect(listed.map((n) => n.id)).toContain(input.id);
    // And read back over TLS.
    const got = await unary<pb.Network__Output>((cb) => client.getNetwork({ id: input.id! }, deadline(), cb));
    expect(got.revision).toBe(created.revision);
  });

  const refused: [string, () => grpc.ChannelCredentials][] = [
    ['without a client certificate', () => grpc.credentials.createSsl(readFileSync(pki.ca.cert))],
    [
      "with a certificate of another CA",
      () => grpc.credentials.createSsl(readFileSync(pki.ca.cert), readFileSync(pki.otherClient.key), readFileSync(pki.otherClient.cert)),
    ],
    [
      'that does not trust the server',
      () => grpc.credentials.createSsl(readFileSync(pki.otherCa.cert), readFileSync(pki.client.key), readFileSync(pki.client.cert)),
    ],
    ['in plaintext', () => grpc.credentials.createInsecure()],
  ];

  for (const [what, credentials] of refused) {
    it(`a client ${what} gets no answer and creates nothing`, async () => {
      const before = await stateView(overSocket);
      const client = tlsClient(credentials());
      const input = vxlanNetwork();
      const err = await rejectionOf(unary((cb) => client.createNetwork({ network: input }, deadline(), cb)));
      // The connection fails (UNAVAILABLE); never an answer from the API.
      expect(grpc.status[err.code], err.details).toBe('UNAVAILABLE');
      const read = await rejectionOf(unary((cb) => client.getNodeStatus({}, deadline(), cb)));
      expect(grpc.status[read.code], read.details).toBe('UNAVAILABLE');
      const after = await stateView(overSocket);
      expect(after).toEqual(before);
      expect(after.networks.some((n) => n.id === input.id)).toBe(false);
    });
  }

  it('the trusted client still works after the refused ones', async () => {
    const client = connect({ address, tls: { caFile: pki.ca.cert, certFile: pki.client.cert, keyFile: pki.client.key } });
    clients.push(client);
    const status = await unary<pb.NodeStatus__Output>((cb) => client.getNodeStatus({}, deadline(), cb));
    expect(status.ready).toBe(true);
  });
});
