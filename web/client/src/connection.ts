// One WebSocket to one node (docs/protocol.md §3–§5, §10): token in the subprotocol, request ids, answers matched
// to their requests with timeouts, pushes handed on, and an application-level heartbeat. A Connection lives once:
// when it closes, the session (session.ts) decides whether and where to open the next one.

import { decodeFrame, encodeRequest } from './codec.js';
import { ConnectionClosedError, ProtocolError, RequestTimeoutError, ServerError } from './errors.js';
import type { LaunchMode, OpArgs, OpName, OpResult, ServerFrame } from './protocol.js';

/** The part of the browser's WebSocket the client uses (the `ws` package matches it in Node). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor (`globalThis.WebSocket` in browsers, `ws` in Node). */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** Timings of a connection. */
export interface ConnectionOptions {
  /** The WebSocket implementation; `globalThis.WebSocket` by default. */
  WebSocket?: WebSocketConstructor;
  /** How long a request may wait for its answer (default 30 s). */
  requestTimeoutMs?: number;
  /** How often the client checks the node with a `ping` request when idle (§10: ~25 s). */
  heartbeatIntervalMs?: number;
  /** A `ping` unanswered this long means a dead connection (§10: ~10 s). */
  heartbeatTimeoutMs?: number;
}

/** Close code the client reports for a connection it gave up on itself (no answer to its heartbeat). */
export const CLOSE_HEARTBEAT_LOST = 4900;
/** Close code the client reports for a connection it dropped because a frame broke the protocol. */
export const CLOSE_PROTOCOL_VIOLATION = 4901;
/** Close code reported when the socket could not be opened or dropped without a close frame. */
export const CLOSE_ABNORMAL = 1006;

interface Pending {
  op: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** A push as decoded: `event` plus its keys. */
export type RawPush = { event: string } & Record<string, unknown>;

/** One WebSocket session with a node. */
export class Connection {
  private readonly socket: WebSocketLike;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastFrameAt = Date.now();
  private rejectOpened: ((e: Error) => void) | undefined;
  private readonly requestTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly heartbeatTimeoutMs: number;

  /** Resolves when the WebSocket is open (the session itself is confirmed by the first answer, §3.3). */
  readonly opened: Promise<void>;

  constructor(
    url: string,
    token: string,
    launch: LaunchMode,
    private readonly onPush: (push: RawPush) => void,
    private readonly onClose: (code: number, reason: string) => void,
    options: ConnectionOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 25_000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000;
    const Ctor = options.WebSocket ?? (globalThis as unknown as { WebSocket: WebSocketConstructor }).WebSocket;
    const target = `${url}${url.includes('?') ? '&' : '?'}launch=${launch}`;
    this.socket = new Ctor(target, ['sendjay.v1', `sendjay.token.${token}`]);
    this.socket.binaryType = 'arraybuffer';
    this.opened = new Promise((resolve, reject) => {
      this.rejectOpened = reject;
      this.socket.onopen = () => {
        this.startHeartbeat();
        resolve();
      };
      this.socket.onerror = () => reject(new ConnectionClosedError('connect', CLOSE_ABNORMAL));
    });
    this.opened.catch(() => undefined);
    this.socket.onmessage = (ev) => this.receive(ev.data);
    this.socket.onclose = (ev) => this.finish(ev.code || CLOSE_ABNORMAL, ev.reason ?? '');
  }

  /** True until the connection has closed. */
  get isOpen(): boolean {
    return !this.closed;
  }

  /** Sends one request and resolves with its `result`, or rejects with ServerError / RequestTimeoutError / ConnectionClosedError. */
  request<O extends OpName>(op: O, args: OpArgs<O>, timeoutMs = this.requestTimeoutMs): Promise<OpResult<O>> {
    return this.requestRaw(op, args, timeoutMs) as Promise<OpResult<O>>;
  }

  /** As `request`, untyped: used to relay requests of other tabs. */
  requestRaw(op: string, args: unknown, timeoutMs = this.requestTimeoutMs): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectionClosedError(op));
    const id = this.nextId++;
    const bytes = encodeRequest(args === undefined ? { id, op } : { id, op, args });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeoutError(op, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { op, resolve, reject, timer });
      try {
        this.socket.send(bytes);
      } catch {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new ConnectionClosedError(op));
      }
    });
  }

  /** Closes the connection (1000 by default); pending requests fail with ConnectionClosedError. */
  close(code = 1000, reason = 'client closing'): void {
    if (this.closed) return;
    try {
      // Browsers only let a client close with 1000 or 3000–4999.
      this.socket.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason);
    } catch {
      // already closing
    }
    this.finish(code, reason);
  }

  private receive(data: unknown): void {
    this.lastFrameAt = Date.now();
    let frame: ServerFrame;
    try {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
      if (bytes === undefined) throw new ProtocolError('the node sent a text frame');
      frame = decodeFrame(bytes);
    } catch (e) {
      // A frame we cannot trust: drop the connection; the session reconnects and syncs (nothing is lost).
      console.error(`sendjay: ${(e as Error).message}; reconnecting`);
      this.close(CLOSE_PROTOCOL_VIOLATION, 'protocol error');
      return;
    }
    if (frame.kind === 'push') {
      this.onPush(frame.push);
      return;
    }
    // An error without id answers the oldest request still waiting (§5.2).
    const id = frame.id ?? (this.pending.size > 0 ? Math.min(...this.pending.keys()) : undefined);
    if (id === undefined) return;
    const waiting = this.pending.get(id);
    if (waiting === undefined) return; // timed out earlier
    this.pending.delete(id);
    clearTimeout(waiting.timer);
    if (frame.kind === 'reply') waiting.resolve(frame.result);
    else waiting.reject(new ServerError(frame.code, frame.message, waiting.op));
  }

  private startHeartbeat(): void {
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastFrameAt < this.heartbeatIntervalMs / 2) return; // heard from the node recently
      this.requestRaw('ping', undefined, this.heartbeatTimeoutMs).catch((e: unknown) => {
        // Answers queue behind a slow request (§5.2): only silence of the whole connection counts.
        if (e instanceof RequestTimeoutError && Date.now() - this.lastFrameAt >= this.heartbeatTimeoutMs) {
          this.close(CLOSE_HEARTBEAT_LOST, 'no answer to the heartbeat');
        }
      });
    }, this.heartbeatIntervalMs);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.socket.onmessage = null;
    this.socket.onclose = null;
    this.socket.onopen = null;
    this.socket.onerror = null;
    for (const [, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new ConnectionClosedError(waiting.op, code));
    }
    this.pending.clear();
    this.rejectOpened?.(new ConnectionClosedError('connect', code)); // no effect once opened
    this.onClose(code, reason);
  }
}
