// The gRPC server: the xdpnet.v1.XdpNet service, standard health checking and
// server reflection, on a unix socket (mode 0600) and, when configured, on TCP
// with mutual TLS.

import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { ApiContext } from './context.js';
import { grpcPackage, SERVICE_NAME } from './proto.js';
import { reflectionService } from './reflection.js';
import { resourceHandlers } from './handlers/resources.js';
import { routerActionHandlers } from './handlers/routers.js';
import { syncHandlers } from './handlers/sync.js';
import { type EndWatches, watchHandlers } from './handlers/watch.js';
import { nodeHandlers } from './handlers/node.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA that client certificates must chain to (mutual TLS). */
  caFile: string;
}

export interface ListenOptions {
  /** Unix socket path; created with mode 0600. */
  socket?: string;
  /** host:port for TCP; requires TLS files (clients must present a certificate). */
  tcp?: { address: string; tls: TlsFiles };
}

function serviceImplementation(ctx: ApiContext): { impl: grpc.UntypedServiceImplementation; endWatches: EndWatches } {
  const watch = watchHandlers(ctx);
  const impl = {
    ...resourceHandlers(ctx),
    ...routerActionHandlers(ctx),
    ...syncHandlers(ctx),
    ...watch.handlers,
    ...nodeHandlers(ctx),
  };
  // Every rpc of the proto must have a handler: a forgotten one would
  // otherwise answer UNIMPLEMENTED silently.
  const methods = Object.keys(grpcPackage().xdpnet.v1.XdpNet.service);
  const missing = methods.filter((m) => !(m in impl));
  if (missing.length) throw new Error(`API handlers missing for: ${missing.join(', ')}`);
  return { impl, endWatches: watch.endAll };
}

/** Fails if another process is listening on the socket; removes a stale socket file. */
async function claimSocket(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (!existsSync(path)) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${path}: another process is serving on this socket (is xdpnetd already running?)`);
  unlinkSync(path);
}

function bind(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(new Error(`bind ${address}: ${err.message}`)) : resolve(port)));
  });
}

export class ApiServer {
  private constructor(
    private readonly server: grpc.Server,
    private readonly health: HealthImplementation,
    private readonly endWatches: EndWatches,
    /** What it listens on, e.g. ["unix:/run/xdpnet/xdpnetd.sock", "tcp:0.0.0.0:9650"]. */
    readonly listening: readonly string[],
  ) {}

  static async start(ctx: ApiContext, listen: ListenOptions): Promise<ApiServer> {
    if (!listen.socket && !listen.tcp) throw new Error('nothing to listen on: configure a socket or a TCP address');
    const server = new grpc.Server();
    const pkg = grpcPackage();
    const { impl, endWatches } = serviceImplementation(ctx);
    server.addService(pkg.xdpnet.v1.XdpNet.service, impl);

    // NOT_SERVING until the first reconcile finishes (setServing).
    const health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
    health.addToServer(server);
    reflectionService().addToServer(server);

    const listening: string[] = [];
    try {
      if (listen.socket) {
        await claimSocket(listen.socket);
        // Created under a restrictive umask so the socket is never, even
        // briefly, reachable by other users; chmod makes 0600 explicit.
        const previous = process.umask(0o177);
        try {
          await bind(server, `unix:${listen.socket}`, grpc.ServerCredentials.createInsecure());
        } finally {
          process.umask(previous);
        }
        chmodSync(listen.socket, 0o600);
        listening.push(`unix:${listen.socket}`);
      }
      if (listen.tcp) {
        const { tls } = listen.tcp;
        const credentials = grpc.ServerCredentials.createSsl(
          readFileSync(tls.caFile),
          [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
          true, // require and verify a client certificate
        );
        const port = await bind(server, listen.tcp.address, credentials);
        listening.push(`tcp:${listen.tcp.address.replace(/:\d+$/, `:${port}`)}`);
      }
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
    return new ApiServer(server, health, endWatches, listening);
  }

  setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus(SERVICE_NAME, status);
  }

  /** Finishes calls in flight (up to graceMs), then closes every listener. */
  async stop(graceMs = 5_000): Promise<void> {
    this.setServing(false);
    this.endWatches();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
