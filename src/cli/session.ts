// One command's run: its global options, the connection (opened on first
// use, closed at the end), deadlines and output.
//
// Every action goes through `action()`, so connection handling, deadlines and
// error wording are the same for every command and no command can forget to
// close the channel (an open channel keeps the process alive).

import type * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import type { XdpNetClient } from '../gen/proto/xdpnet/v1/XdpNet.js';
import { callOptions, type ConnectionOptions, openClient, resolveTarget, type ResolvedTarget } from './connection.js';
import { CliError, describeServiceError, isServiceError } from './errors.js';
import { type Column, type Format, Printer, type Writer } from './output.js';

export interface Io {
  stdout: Writer;
  stderr: Writer;
  env: NodeJS.ProcessEnv;
  /** Called with a cleanup that stops a long-running command (watch) on Ctrl-C / SIGTERM; returns the unregister. */
  onInterrupt(stop: () => void): () => void;
}

export interface GlobalOptions extends ConnectionOptions {
  output: Format;
  column: string[];
}

/** A failed call, already in words; keeps the gRPC code for callers that branch on it. */
export class ApiError extends CliError {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly code: grpc.status,
  ) {
    super(message);
  }
}

export class Session {
  private client_: XdpNetClient | undefined;
  private resolved_: ResolvedTarget | undefined;

  constructor(
    readonly io: Io,
    readonly globals: GlobalOptions,
  ) {}

  private get resolved(): ResolvedTarget {
    this.resolved_ ??= resolveTarget(this.globals, this.io.env);
    return this.resolved_;
  }

  /** The daemon's client, connected on first use. */
  get client(): XdpNetClient {
    this.client_ ??= openClient(this.resolved);
    return this.client_;
  }

  /** A gRPC failure in words ("INVALID_ARGUMENT: port.mac_address: ..."), with a hint when the daemon is unreachable. */
  describe(err: grpc.ServiceError): ApiError {
    return new ApiError(describeServiceError(err, this.resolved.endpoint, this.globals.timeout), err.code);
  }

  /** One unary call with the --timeout deadline; a gRPC failure becomes an ApiError. */
  async call<Res>(start: (options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => unknown): Promise<Res> {
    const options = callOptions(this.globals.timeout);
    try {
      return await new Promise<Res>((resolve, reject) => {
        start(options, (err, response) => (err ? reject(err) : resolve(response as Res)));
      });
    } catch (err) {
      throw isServiceError(err) ? this.describe(err) : err;
    }
  }

  /** A printer for this view in the -o/-c chosen; fails on an unknown -c before any call is made. */
  printer<T>(view: readonly Column<T>[]): Printer<T> {
    return Printer.for(this.io.stdout, { format: this.globals.output, columns: this.globals.column }, view);
  }

  /** A note for people (paging hints, empty results): stderr, so stdout stays parseable. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  close(): void {
    this.client_?.close();
    this.client_ = undefined;
  }
}

/**
 * Wraps a command's work as a commander action: builds the session from the
 * global options (commander hands the Command as the last argument), runs,
 * and closes the connection whatever happens.
 */
export function action<Args extends unknown[]>(
  io: Io,
  work: (session: Session, ...args: Args) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const globals = command.optsWithGlobals() as Omit<GlobalOptions, 'column'> & { column?: string[] };
    const session = new Session(io, { ...globals, column: globals.column ?? [] });
    try {
      await work(session, ...(args.slice(0, -1) as Args));
    } finally {
      session.close();
    }
  };
}
