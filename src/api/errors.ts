// Turning failures into gRPC statuses, in one place.
//
// A model Rejection becomes its own code with the message "field: reason" and
// the field in the trailer `xdpnet-field`, so scripts need not parse text.
// Anything else is a bug or an environment failure: INTERNAL, logged in full,
// with only a short message to the client.

import * as grpc from '@grpc/grpc-js';
import { Rejection } from '../model/types.js';

export const FIELD_TRAILER = 'xdpnet-field';

export interface Logger {
  error(obj: object, msg: string): void;
}

export function toServiceError(err: unknown, method: string, logger: Logger): Partial<grpc.ServiceError> {
  if (err instanceof Rejection) {
    const metadata = new grpc.Metadata();
    metadata.set(FIELD_TRAILER, err.field);
    return { code: grpc.status[err.code], details: err.message, metadata };
  }
  if (isServiceError(err)) return err;
  logger.error({ err, method }, 'request failed');
  return { code: grpc.status.INTERNAL, details: `${method}: internal error: ${(err as Error)?.message ?? String(err)}` };
}

/** An error that already carries a gRPC status (e.g. UNIMPLEMENTED from the dataplane). */
export class StatusError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
  }
}

function isServiceError(err: unknown): err is Partial<grpc.ServiceError> {
  return err instanceof StatusError;
}

/**
 * Wraps an async unary handler: resolves to the callback, maps errors.
 * Handlers never throw into grpc-js.
 */
export function unary<Req, Res>(
  method: string,
  logger: Logger,
  handler: (request: Req) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handler(call.request))
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(toServiceError(err, method, logger)),
      );
  };
}
