// The life of the WebSocket session of the tab that holds it: connect, confirm, serve, and on every close decide
// (close-codes.ts) between ending with a reason and reconnecting through the router (§12, §13.1) with backoff.

import { backoffDelayMs, decideOnClose, type EndReason } from './close-codes.js';
import { fixedToken, RENEW_MARGIN_MS, type TokenSource } from './credentials.js';
import { CLOSE_ABNORMAL, CLOSE_HEARTBEAT_LOST, Connection, type ConnectionOptions, type RawPush } from './connection.js';
import { RequestTimeoutError, RouterError, SessionEndedError } from './errors.js';
import type { LaunchMode, NodeAddress } from './protocol.js';
import type { RouterApi } from './router.js';
import type { ConnectionState, Transport, TransportListener } from './transport.js';

/** What a socket session needs. */
export interface SocketSessionOptions {
  /** A fixed access token (tests, tools); `credentials` wins when both are given. */
  token?: string;
  /** The device's renewable tokens: renewed before expiry while this tab holds the connection, and after a 4002. */
  credentials?: TokenSource;
  router: RouterApi;
  /** The node named by the login reply; used for the first connection only (later ones ask the router). */
  node?: NodeAddress;
  launch?: LaunchMode;
  connection?: ConnectionOptions;
  /** A connection that lasted this long resets the backoff (§13.1: a minute). */
  stableAfterMs?: number;
  /** Random source of the backoff jitter (tests make it deterministic). */
  random?: () => number;
  /** Base of the exponential backoff (0.5 s). */
  backoffBaseMs?: number;
}

/** The WebSocket session held by this tab. */
export class SocketSession implements Transport {
  private current: ConnectionState = { status: 'connecting', since: Date.now() };
  private readonly listeners = new Set<TransportListener>();
  private connection: Connection | undefined;
  private launch: LaunchMode;
  private nextNode: NodeAddress | undefined;
  private attempt = 0;
  private connectedAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private evictedReason: string | undefined;
  private stopped = false;
  private started = false;
  private generation = 0;
  private renewTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly tokens: TokenSource;

  constructor(private readonly options: SocketSessionOptions) {
    this.launch = options.launch ?? 'manual';
    this.nextNode = options.node;
    this.tokens = options.credentials ?? fixedToken(options.token ?? '');
  }

  get state(): ConnectionState {
    return this.current;
  }

  get holdsConnection(): boolean {
    return true;
  }

  subscribe(listener: TransportListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.connect();
  }

  useHere(): void {
    if (this.current.status !== 'ended' || this.stopped) return;
    this.launch = 'manual';
    this.evictedReason = undefined;
    this.attempt = 0;
    this.setState({ status: 'connecting', since: Date.now() });
    void this.connect();
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.renewTimer !== undefined) clearTimeout(this.renewTimer);
    this.connection?.close(1000, 'tab closing');
    this.connection = undefined;
    if (this.current.status !== 'ended') this.end('closed', null, 'the client was closed');
  }

  async request(op: string, args: unknown, timeoutMs = 30_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.current.status === 'ended') throw new SessionEndedError(op, this.current.reason);
      const connection = this.connection;
      if (this.current.status === 'online' && connection !== undefined && connection.isOpen) {
        return connection.requestRaw(op, args, Math.max(1, deadline - Date.now()));
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new RequestTimeoutError(op, timeoutMs);
      await this.waitForChange(left);
    }
  }

  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const remove = this.subscribe({ push: () => undefined, state: () => done() });
      function done(): void {
        clearTimeout(timer);
        remove();
        resolve();
      }
    });
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    let node = this.nextNode;
    this.nextNode = undefined;
    let token: string;
    try {
      token = await this.tokens.fresh();
      if (node === undefined) {
        try {
          node = await this.options.router.assign(token);
        } catch (e) {
          // An access token the router no longer accepts (expired while offline): renew once and ask again.
          if (!(e instanceof RouterError && e.status === 401 && this.tokens.renewable)) throw e;
          token = await this.tokens.renew();
          node = await this.options.router.assign(token);
        }
      }
    } catch (e) {
      if (generation !== this.generation || this.stopped) return;
      if (e instanceof RouterError && e.status === 401) {
        this.end('auth_failed', null, `the router refused the token (${e.message}): log in again`);
        return;
      }
      if (e instanceof RouterError && e.status === 403) {
        this.end('user_unavailable', null, e.message);
        return;
      }
      this.lost(CLOSE_ABNORMAL);
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    const connection = new Connection(
      node.url,
      token,
      this.launch,
      (push) => this.onPush(connection, push),
      (code, reason) => this.onClose(connection, code, reason),
      this.options.connection,
    );
    this.connection = connection;
    try {
      await connection.opened;
      // The upgrade does not mean the session was accepted (§3.3): the first answer confirms it.
      await connection.requestRaw('ping', undefined);
    } catch (e) {
      if (e instanceof RequestTimeoutError) connection.close(CLOSE_HEARTBEAT_LOST, 'no answer to the first ping');
      return; // onClose decides
    }
    if (this.connection !== connection || !connection.isOpen) return;
    this.connectedAt = Date.now();
    this.scheduleRenewal();
    this.setState({ status: 'online', since: Date.now(), connectionId: `${node.id}/${Date.now()}/${generation}` });
  }

  private onPush(connection: Connection, push: RawPush): void {
    if (connection !== this.connection) return;
    if (push.event === 'evicted') this.evictedReason = typeof push['reason'] === 'string' ? push['reason'] : 'signed in elsewhere';
    if (push.event === 'reconnect') {
      const after = typeof push['after_ms'] === 'number' ? push['after_ms'] : 0;
      // Drain (§12): keep serving until after_ms, then move through the router.
      setTimeout(() => {
        if (this.connection === connection && connection.isOpen) connection.close(1000, 'moving to another node');
      }, after);
    }
    for (const l of this.listeners) l.push(push);
  }

  private onClose(connection: Connection, code: number, reason: string): void {
    if (connection !== this.connection) return;
    this.connection = undefined;
    if (this.stopped) return;
    const decision = decideOnClose(code);
    if (code === 4002 && this.tokens.renewable) {
      // The access token expired: renew it and reconnect; only an ended sign-in ends the session.
      void this.renewThenReconnect(code);
      return;
    }
    if (decision.kind === 'end') {
      const message = decision.reason === 'evicted' && this.evictedReason !== undefined ? this.evictedReason : reason;
      this.end(decision.reason, code, message);
      return;
    }
    if (this.connectedAt > 0 && Date.now() - this.connectedAt >= (this.options.stableAfterMs ?? 60_000)) this.attempt = 0;
    this.connectedAt = 0;
    if ((decision.immediate || code === 1000) && this.attempt === 0) {
      // 4006, 4008 or our own move after a `reconnect` push: straight back to the router (once; a node that keeps
      // refusing is retried with backoff like any other failure).
      this.lost(code, 0);
      return;
    }
    this.lost(code);
  }

  private async renewThenReconnect(code: number): Promise<void> {
    try {
      await this.tokens.renew();
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof RouterError && e.status >= 400 && e.status < 500 && e.status !== 429) {
        this.end('token_expired', code, `${e.message}`);
        return;
      }
      this.lost(code);
      return;
    }
    if (!this.stopped) this.lost(code, 0);
  }

  /** Renews the access token a minute before it expires while this tab holds the connection: the file API and
   * the next reconnect then always have a valid one. A failed renewal is retried at the next connect. */
  private scheduleRenewal(): void {
    if (this.renewTimer !== undefined) clearTimeout(this.renewTimer);
    this.renewTimer = undefined;
    const expires = this.tokens.expiresAtMs();
    if (!this.tokens.renewable || expires === null || this.stopped) return;
    const delay = Math.max(1_000, expires - Date.now() - RENEW_MARGIN_MS);
    this.renewTimer = setTimeout(() => {
      this.renewTimer = undefined;
      if (this.stopped) return;
      void this.tokens.fresh().then(
        () => this.scheduleRenewal(),
        () => undefined,
      );
    }, Math.min(delay, 2 ** 31 - 1));
  }

  /** Schedules the next connection attempt, keeping the `since` of a reconnect streak. */
  private lost(code: number, delayMs?: number): void {
    const since = this.current.status === 'reconnecting' ? this.current.since : Date.now();
    const attempt = this.attempt++;
    this.setState({ status: 'reconnecting', since, attempt, lastCloseCode: code });
    const delay = delayMs ?? backoffDelayMs(attempt, this.options.random, this.options.backoffBaseMs);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
  }

  private end(reason: EndReason, closeCode: number | null, message: string): void {
    this.setState({ status: 'ended', since: Date.now(), reason, closeCode, message });
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    for (const l of [...this.listeners]) l.state(state);
  }
}
