// Errors the client raises, each saying whose fault it is and what to do next.

import type { ErrorCode } from './protocol.js';
import { RETRYABLE_CODES } from './protocol.js';

/** The node answered a request with an `error` frame (§8); `code` is the protocol code. */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  constructor(
    readonly code: ErrorCode,
    readonly serverMessage: string,
    readonly op: string,
  ) {
    super(`${op}: ${code}: ${serverMessage}`);
  }
  /** True when the same request may succeed later (§8: database_unavailable, internal). */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }
}

/** No answer arrived in time; the request may or may not have been executed. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(
    readonly op: string,
    readonly timeoutMs: number,
  ) {
    super(`${op}: no answer within ${timeoutMs} ms: the connection is being checked, retry after it is back`);
  }
}

/** The connection closed (or was never open) before the answer arrived; the request may or may not have run. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
  constructor(
    readonly op: string,
    readonly closeCode?: number,
  ) {
    super(`${op}: the connection closed before an answer${closeCode === undefined ? '' : ` (code ${closeCode})`}: retry once it is back online`);
  }
}

/** The session has ended for good (evicted, logged out, token refused …): nothing is sent until a new login. */
export class SessionEndedError extends Error {
  override readonly name = 'SessionEndedError';
  constructor(
    readonly op: string,
    readonly reason: string,
  ) {
    super(`${op}: the session has ended (${reason}): sign in again`);
  }
}

/** The server sent something that breaks the protocol (a bad frame, an integer beyond 2^53 …): a server or client bug. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** The router refused a login or assignment (§2): `code` is its `error` field, `status` the HTTP status. */
export class RouterError extends Error {
  override readonly name = 'RouterError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** True for failures worth retrying with backoff (503 no_nodes, 5xx, network errors = status 0). */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}
