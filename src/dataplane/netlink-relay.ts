// The rtnetlink multicast socket, held in a child process that relays every
// datagram it receives to this one.
//
// Why a child: netlink@0.3.0 aborts the whole process when its socket
// overflows. A multicast socket that falls behind gets ENOBUFS, which epoll
// reports as EPOLLERR; libuv then calls the package's poll callback with an
// error status, and that callback builds its exception with a NULL syscall
// name (Napi::String::New(env, NULL) throws inside a libuv callback:
// std::terminate). The package offers no way to set NETLINK_NO_ENOBUFS
// either. An overflow is a normal event for a subscriber (a routing daemon
// flapping a full table, an ARP storm), so the socket lives where that abort
// costs a respawn and a resync instead of the daemon.
//
// The child is a dozen lines of plain JavaScript (RELAY_SOURCE, run with
// `node -e`), so it runs the same from src/ under vitest and from dist/ once
// built; it does no parsing: datagrams travel as Buffers over the IPC channel
// (advanced serialization) and are decoded here. It starts in the network
// namespace of this process (fork/exec keeps it) and exits when the channel
// closes, so it never outlives its parent.

import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';

/** The relay child. argv: [netlink package path, JSON group list, receive buffer bytes]. */
const RELAY_SOURCE = `'use strict';
const [netlinkPath, groupsJson, rcvbuf] = process.argv.slice(1);
const { RawNetlinkSocket } = require(netlinkPath);
const sock = new RawNetlinkSocket(0 /* NETLINK_ROUTE */, { recvBufferSize: Number(rcvbuf) });
for (const group of JSON.parse(groupsJson)) sock.addMembership(group);
sock.on('message', (msg) => process.send(msg));
sock.on('error', (err) => {
  process.stderr.write('netlink socket error: ' + (err && (err.code || err.message)) + '\\n');
  process.exit(3);
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, recvBufferSize: sock.getRecvBufferSize() });
`;

/** How much of the child's stderr is kept for the exit report. */
const STDERR_TAIL = 2048;

export interface RelayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of the child's stderr (an abort prints its reason there). */
  stderr: string;
}

export interface RelayHandlers {
  /** One datagram: one or more netlink messages, back to back. */
  onDatagram(datagram: Buffer): void;
  /** The child died on its own (never called after `close()`). */
  onExit(exit: RelayExit): void;
}

export class NetlinkRelay {
  private closed = false;
  private stderrTail = '';

  private constructor(
    private readonly child: ChildProcess,
    /** The socket's SO_RCVBUF as the kernel set it (twice the request, capped by net.core.rmem_max). */
    readonly recvBufferSize: number,
  ) {}

  /** The child's pid: for diagnostics, and for tests that pause it to force an overflow. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /**
   * Starts a relay subscribed to `groups` (RTNLGRP_* numbers) and resolves once
   * the memberships are in place: every notification sent after that moment
   * reaches `handlers.onDatagram`.
   */
  static start(groups: readonly number[], recvBufferSize: number, handlers: RelayHandlers): Promise<NetlinkRelay> {
    const netlinkPath = createRequire(import.meta.url).resolve('netlink');
    const child = spawn(process.execPath, ['-e', RELAY_SOURCE, netlinkPath, JSON.stringify(groups), String(recvBufferSize)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    return new Promise((resolve, reject) => {
      let relay: NetlinkRelay | undefined;
      let tail = '';
      child.stderr?.setEncoding('utf8').on('data', (s: string) => {
        tail = (tail + s).slice(-STDERR_TAIL);
        if (relay) relay.stderrTail = tail;
      });
      child.on('message', (msg: unknown) => {
        if (relay) {
          if (msg instanceof Uint8Array) handlers.onDatagram(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength));
          return;
        }
        const hello = msg as { ready?: boolean; recvBufferSize?: number };
        if (hello.ready !== true) return;
        relay = new NetlinkRelay(child, hello.recvBufferSize ?? 0);
        relay.stderrTail = tail;
        resolve(relay);
      });
      child.once('error', (err) => {
        if (!relay) reject(err);
      });
      // 'close' (not 'exit'): stderr is complete by then.
      child.once('close', (code, signal) => {
        if (!relay) {
          reject(new Error(`the netlink relay exited before subscribing (code ${code}, signal ${signal}): ${tail.trim()}`));
          return;
        }
        if (!relay.closed) handlers.onExit({ code, signal, stderr: relay.stderrTail });
      });
    });
  }

  /** Stops the child. Afterwards nothing of the relay keeps the event loop alive. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.child.connected) this.child.disconnect();
    this.child.kill('SIGKILL');
    this.child.stderr?.destroy();
    this.child.unref();
  }
}
