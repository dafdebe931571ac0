// Where the daemon is and how to talk to it, from the global options.
//
// The unix socket is the normal way on a node; TCP is for reaching another
// node and is mutual TLS only (the daemon refuses clients without a
// certificate), so --address without all three TLS files is a usage error
// rather than a confusing handshake failure later.

import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { connect, DEFAULT_SOCKET, type Target } from '../api/client.js';
import type { XdpNetClient } from '../gen/proto/xdpnet/v1/XdpNet.js';
import { CliError, type Endpoint, UsageError } from './errors.js';

export interface ConnectionOptions {
  socket?: string;
  address?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Seconds. */
  timeout: number;
}

export interface ResolvedTarget {
  target: Target;
  /** For messages. */
  endpoint: Endpoint;
}

/** --socket, else $XDPNET_SOCKET, else the default path; or --address with TLS. */
export function resolveTarget(opts: ConnectionOptions, env: NodeJS.ProcessEnv): ResolvedTarget {
  if (opts.address !== undefined) {
    if (opts.socket !== undefined) throw new UsageError('--socket and --address are alternatives: give one');
    const missing = (['tlsCa', 'tlsCert', 'tlsKey'] as const)
      .filter((k) => !opts[k])
      .map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (missing.length) {
      throw new UsageError(`--address needs ${missing.join(', ')}: the daemon's TCP API is mutual TLS only`);
    }
    return {
      target: { address: opts.address, tls: { caFile: opts.tlsCa!, certFile: opts.tlsCert!, keyFile: opts.tlsKey! } },
      endpoint: `address ${opts.address} (mutual TLS)`,
    };
  }
  const socket = opts.socket ?? (env['XDPNET_SOCKET'] || DEFAULT_SOCKET);
  return { target: { socket }, endpoint: `socket ${socket}` };
}

/** A connected client; TLS files are read here, so a missing one is named rather than thrown as ENOENT. */
export function openClient(resolved: ResolvedTarget): XdpNetClient {
  if ('tls' in resolved.target) {
    const files = resolved.target.tls;
    for (const [option, file] of [
      ['--tls-ca', files.caFile],
      ['--tls-cert', files.certFile],
      ['--tls-key', files.keyFile],
    ] as const) {
      try {
        readFileSync(file);
      } catch (err) {
        throw new CliError(`cannot read ${option} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    try {
      return connect(resolved.target);
    } catch (err) {
      // e.g. "PEM routines::no start line": a file that is not a PEM certificate or key.
      throw new CliError(`cannot use the TLS files (--tls-ca, --tls-cert, --tls-key): ${(err as Error).message}`);
    }
  }
  return connect(resolved.target);
}

/** Call options with a deadline `timeout` seconds from now (taken per call, so paging gets a fresh one each page). */
export function callOptions(timeoutSeconds: number): grpc.CallOptions {
  return { deadline: Date.now() + timeoutSeconds * 1000 };
}
