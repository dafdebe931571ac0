// What the CLI says when something fails, and with which exit code.
//
//   0  success
//   1  the daemon refused the request, could not be reached, or a file could not be used
//   2  the command line itself is wrong (unknown option, malformed --fixed-ip, ...)
//
// The daemon's message already names the field and the reason ("port.mac_address:
// ..."), so it is printed as is, after its status code name; only failures to
// reach the daemon get a hint, because there the gRPC text alone
// ("No connection established") does not say what to do.

import * as grpc from '@grpc/grpc-js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line is wrong in a way commander cannot see (e.g. `set` with nothing to change). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure the CLI has already put into words (unreadable file, interrupted stream, ...). */
export class CliError extends Error {
  override name = 'CliError';
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'details' in err;
}

/** "INVALID_ARGUMENT" for 3, and so on. */
export function statusName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? `STATUS_${code}`;
}

/** How the daemon was addressed, for messages: "socket /run/xdpnet/xdpnetd.sock" or "address host:9650 (mutual TLS)". */
export type Endpoint = string;

const CONNECT_ERRORS: Record<string, string> = {
  ENOENT: 'no such socket',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
};

/**
 * grpc-js words a failed connect as "No connection established. Last error:
 * Error: connect ENOENT /run/...sock. Resolution note: "; keep what matters.
 */
export function connectProblem(details: string): string {
  const errno = /\bconnect (E[A-Z]+)\b/.exec(details)?.[1];
  if (errno) return `${errno} (${CONNECT_ERRORS[errno] ?? 'cannot connect'})`;
  return details
    .replace(/\.?\s*Resolution note:.*$/s, '')
    .replace(/^No connection established\. Last error: (Error: )?/, '')
    .trim();
}

/** The message for a failed call (without the "xdpnet: " prefix). */
export function describeServiceError(err: grpc.ServiceError, endpoint: Endpoint, timeoutSeconds: number): string {
  const name = statusName(err.code);
  if (err.code === grpc.status.UNAVAILABLE) {
    const problem = connectProblem(err.details) || name;
    const hints = ['is xdpnetd running? check: systemctl status xdpnetd'];
    if (/EACCES/.test(problem)) hints.unshift("the API socket is mode 0600, owned by the daemon's user: run as root (e.g. with sudo)");
    return `cannot reach xdpnetd on ${endpoint}: ${problem}\n${hints.map((h) => `  ${h}`).join('\n')}`;
  }
  if (err.code === grpc.status.DEADLINE_EXCEEDED) {
    return `${name}: no answer from xdpnetd on ${endpoint} within ${timeoutSeconds} s (--timeout to wait longer)`;
  }
  return `${name}: ${err.details}`;
}
