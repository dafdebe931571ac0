// A client of xdpnetd's API: the generated stub, connected over the unix
// socket or over TCP with mutual TLS, and a promise wrapper for unary calls.
//
//   const client = connect({ socket: '/run/xdpnet/xdpnetd.sock' });
//   const net = await unary<pb.Network__Output>((cb) => client.createNetwork({ network }, cb));

import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { XdpNetClient } from '../gen/proto/xdpnet/v1/XdpNet.js';
import { grpcPackage } from './proto.js';

export const DEFAULT_SOCKET = '/run/xdpnet/xdpnetd.sock';

export type Target =
  | { socket: string }
  | { address: string; tls: { caFile: string; certFile: string; keyFile: string } };

export function connect(target: Target): XdpNetClient {
  const Client = grpcPackage().xdpnet.v1.XdpNet;
  if ('socket' in target) return new Client(`unix:${target.socket}`, grpc.credentials.createInsecure());
  const { caFile, certFile, keyFile } = target.tls;
  return new Client(
    target.address,
    grpc.credentials.createSsl(readFileSync(caFile), readFileSync(keyFile), readFileSync(certFile)),
  );
}

/** Runs one unary call as a promise; rejects with the grpc ServiceError (code, details, metadata). */
export function unary<Res>(start: (callback: grpc.requestCallback<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    start((err, response) => (err ? reject(err) : resolve(response as Res)));
  });
}

/** Waits until the channel is connected (or the deadline passes). */
export function waitForReady(client: grpc.Client, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
  });
}
