// One WebSocket for all tabs of a user (docs/protocol.md §11: one web session per user, so a second tab must not
// open its own and evict the first). The tab that holds a Web Lock is the leader: it owns the SocketSession and
// relays requests, answers, pushes and state over a BroadcastChannel. The other tabs are followers whose requests
// travel through the leader. When the leader closes, its lock is released, the next tab in the lock's queue becomes
// leader and connects; its client then syncs from its own cursors and resends the shared (IndexedDB) outbox.

import type { RawPush } from './connection.js';
import { ConnectionClosedError, RequestTimeoutError, ServerError, SessionEndedError } from './errors.js';
import { ForegroundUnion } from './foreground-report.js';
import { MAX_WATCHED } from './presence-watch.js';
import type { ConnectionState, Transport, TransportListener } from './transport.js';

/** The part of `navigator.locks` used (injectable: Node has no Web Locks). */
export interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: (lock: unknown) => Promise<void>): Promise<unknown>;
}

/** The part of BroadcastChannel used (Node 20 and browsers have it). */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((ev: { data: unknown }) => void) | null;
  close(): void;
}

/** Options of the tab coordination. */
export interface TabOptions {
  /** The lock manager; `navigator.locks` by default. */
  locks?: LockManagerLike;
  /** Opens a channel by name; `new BroadcastChannel(name)` by default. */
  openChannel?: (name: string) => BroadcastChannelLike;
  /** This tab's id (random by default). */
  tabId?: string;
}

type TabMessage =
  | { t: 'hello'; from: string }
  | { t: 'state'; state: ConnectionState }
  | { t: 'push'; push: RawPush }
  | { t: 'req'; from: string; rid: number; op: string; args: unknown; timeoutMs: number }
  | { t: 'ans'; to: string; rid: number; ok: true; result: unknown }
  | { t: 'ans'; to: string; rid: number; ok: false; error: WireError }
  | { t: 'outbox' }
  | { t: 'use_here' }
  | { t: 'gone'; from: string }
  | { t: 'bye' };

interface WireError {
  name: string;
  message: string;
  op: string;
  code?: string;
  serverMessage?: string;
  reason?: string;
  closeCode?: number;
  timeoutMs?: number;
}

interface ProxyPending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
  op: string;
  args: unknown;
  timeoutMs: number;
  /** A live leader may have received it: if that leader goes, the request may or may not have run. */
  reachedLeader: boolean;
}

/** A Transport shared by the tabs of one user: leader holds the socket, followers proxy. */
export class TabCoordinator implements Transport {
  private readonly tabId: string;
  private readonly channel: BroadcastChannelLike;
  private readonly locks: LockManagerLike;
  private readonly listeners = new Set<TransportListener>();
  private readonly outboxListeners = new Set<() => void>();
  private readonly proxied = new Map<number, ProxyPending>();
  private readonly abort = new AbortController();
  private session: Transport | undefined;
  private releaseLock: (() => void) | undefined;
  private current: ConnectionState = { status: 'connecting', since: Date.now() };
  private nextRid = 1;
  private started = false;
  private closed = false;
  /** Another tab led before this one: taking over continues that session (launch=manual, never 4011 on ourselves). */
  private sawLeader = false;
  /** A leader answered since this tab started or since the last leader said bye. */
  private leaderKnown = false;
  /** As leader: the people each tab watches (`watch_presence` sets one connection's set, so it gets the union). */
  private readonly watchedByTab = new Map<string, string[]>();
  /** As leader: the session is in the foreground while any tab is (each tab's `set_foreground` is united here). */
  private readonly foreground = new ForegroundUnion({
    connectionId: () => {
      const state = this.session?.state;
      return state?.status === 'online' ? state.connectionId : undefined;
    },
    send: (foreground) => this.session?.request('set_foreground', { foreground }, 10_000) ?? Promise.resolve(),
  });

  /** True when Web Locks and BroadcastChannel exist here. */
  static available(): boolean {
    const nav = (globalThis as { navigator?: { locks?: unknown } }).navigator;
    return nav?.locks !== undefined && typeof (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel === 'function';
  }

  constructor(
    private readonly userId: string,
    private readonly createSession: (context: { handover: boolean }) => Transport,
    options: TabOptions,
  ) {
    this.tabId = options.tabId ?? Math.random().toString(36).slice(2);
    this.locks = options.locks ?? (globalThis as unknown as { navigator: { locks: LockManagerLike } }).navigator.locks;
    const open = options.openChannel ?? ((name: string) => new (globalThis as unknown as { BroadcastChannel: new (n: string) => BroadcastChannelLike }).BroadcastChannel(name));
    this.channel = open(`sendjay-tabs-${userId}`);
    this.channel.onmessage = (ev) => this.receive(ev.data as TabMessage);
  }

  get state(): ConnectionState {
    return this.current;
  }

  get holdsConnection(): boolean {
    return this.session !== undefined;
  }

  subscribe(listener: TransportListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` when another tab changed the shared outbox. */
  onOutboxChanged(listener: () => void): () => void {
    this.outboxListeners.add(listener);
    return () => this.outboxListeners.delete(listener);
  }

  /** Tells the other tabs that this tab changed the shared outbox. */
  announceOutboxChanged(): void {
    this.post({ t: 'outbox' });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.post({ t: 'hello', from: this.tabId });
    this.locks
      .request(`sendjay-leader-${this.userId}`, { signal: this.abort.signal }, () => {
        if (this.closed) return Promise.resolve();
        return new Promise<void>((release) => {
          this.releaseLock = release;
          this.becomeLeader();
        });
      })
      .catch(() => undefined); // aborted when this tab closes as a follower
  }

  async request(op: string, args: unknown, timeoutMs = 30_000): Promise<unknown> {
    if (this.session !== undefined) return this.lead(this.session, this.tabId, op, args, timeoutMs);
    if (this.closed) throw new SessionEndedError(op, 'closed');
    if (this.current.status === 'ended') throw new SessionEndedError(op, this.current.reason);
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proxied.delete(rid);
        reject(new RequestTimeoutError(op, timeoutMs));
      }, timeoutMs);
      this.proxied.set(rid, { resolve, reject, timer, op, args, timeoutMs, reachedLeader: this.leaderKnown });
      this.post({ t: 'req', from: this.tabId, rid, op, args, timeoutMs });
    });
  }

  useHere(): void {
    if (this.session !== undefined) this.session.useHere();
    else this.post({ t: 'use_here' });
  }

  close(): void {
    if (this.closed) return;
    if (this.session === undefined) this.post({ t: 'gone', from: this.tabId }); // the leader forgets this tab
    this.closed = true;
    this.abort.abort();
    if (this.session !== undefined) {
      const session = this.session;
      this.session = undefined;
      session.close();
      this.post({ t: 'bye' });
    }
    this.failProxied();
    this.releaseLock?.();
    this.channel.close();
  }

  private becomeLeader(): void {
    if (this.closed) {
      this.releaseLock?.();
      return;
    }
    const session = this.createSession({ handover: this.sawLeader });
    this.session = session;
    this.watchedByTab.clear(); // a new connection watches nothing: every tab sends its set again once online
    this.foreground.clear(); // likewise every tab reports its visibility again once online
    session.subscribe({
      push: (push) => {
        if (this.session !== session) return;
        this.post({ t: 'push', push });
        for (const l of this.listeners) l.push(push);
      },
      state: (state) => {
        if (this.session !== session) return;
        this.setState(state);
        this.post({ t: 'state', state });
        if (state.status === 'online') this.foreground.flush(); // a new connection starts in the background
      },
    });
    session.start();
    this.setState(session.state);
    this.post({ t: 'state', state: session.state });
    this.takeOverProxied(session);
  }

  /**
   * Requests this tab proxied before it became leader: those no leader can have seen (made before any leader
   * answered, e.g. right after a reload) go out on this tab's own socket; those a leader may have run fail with
   * ConnectionClosedError, whose meaning is "may or may not have run".
   */
  private takeOverProxied(session: Transport): void {
    for (const [rid, waiting] of this.proxied) {
      if (waiting.reachedLeader) continue;
      this.proxied.delete(rid);
      clearTimeout(waiting.timer);
      this.lead(session, this.tabId, waiting.op, waiting.args, waiting.timeoutMs).then(
        (result) => waiting.resolve(result),
        (error: Error) => waiting.reject(error),
      );
    }
    this.failProxied();
  }

  private receive(message: TabMessage): void {
    if (this.closed) return;
    const leader = this.session;
    switch (message.t) {
      case 'hello':
        if (leader !== undefined) this.post({ t: 'state', state: leader.state });
        break;
      case 'state':
        this.sawLeader = true;
        this.leaderKnown = true;
        // The leader answers our hello before it reads any later request of ours (one sender's messages keep
        // their order), so every request already posted will reach it.
        for (const waiting of this.proxied.values()) waiting.reachedLeader = true;
        if (leader === undefined) this.setState(message.state);
        break;
      case 'push':
        if (leader === undefined) for (const l of this.listeners) l.push(message.push);
        break;
      case 'req':
        if (leader !== undefined) this.serve(leader, message);
        break;
      case 'ans': {
        if (message.to !== this.tabId) break;
        const waiting = this.proxied.get(message.rid);
        if (waiting === undefined) break;
        this.proxied.delete(message.rid);
        clearTimeout(waiting.timer);
        if (message.ok) waiting.resolve(message.result);
        else waiting.reject(fromWire(message.error));
        break;
      }
      case 'outbox':
        for (const l of this.outboxListeners) l();
        break;
      case 'use_here':
        leader?.useHere();
        break;
      case 'gone':
        if (leader !== undefined) this.foreground.drop(message.from);
        break;
      case 'bye':
        if (leader === undefined) {
          // The leader tab closed: requests in flight through it are lost; the next leader reconnects.
          this.leaderKnown = false;
          this.failProxied();
          this.setState({ status: 'reconnecting', since: Date.now(), attempt: 0, lastCloseCode: null });
        }
        break;
    }
  }

  /**
   * Runs a request of tab `from` on the leader's socket; `watch_presence` sends the union of every tab's set;
   * `set_foreground` is answered here and the union of the tabs' states goes out only when it changes.
   */
  private async lead(session: Transport, from: string, op: string, args: unknown, timeoutMs: number): Promise<unknown> {
    if (op === 'set_foreground') {
      const foreground = (args as { foreground?: unknown }).foreground === true;
      this.foreground.report(from, foreground);
      return { op, foreground };
    }
    if (op !== 'watch_presence') return session.request(op, args, timeoutMs);
    const asked = (args as { user_ids: string[] }).user_ids;
    if (asked.length === 0) this.watchedByTab.delete(from);
    else this.watchedByTab.set(from, asked);
    const union = [...new Set([...asked, ...[...this.watchedByTab.values()].flat()])].slice(0, MAX_WATCHED);
    const result = (await session.request(op, { user_ids: union }, timeoutMs)) as { op: string; users: { user_id: string }[] };
    const mine = new Set(asked);
    return { ...result, users: result.users.filter((u) => mine.has(u.user_id)) };
  }

  private serve(leader: Transport, req: Extract<TabMessage, { t: 'req' }>): void {
    this.lead(leader, req.from, req.op, req.args, req.timeoutMs).then(
      (result) => this.post({ t: 'ans', to: req.from, rid: req.rid, ok: true, result }),
      (error: unknown) => this.post({ t: 'ans', to: req.from, rid: req.rid, ok: false, error: toWire(error, req.op) }),
    );
  }

  private failProxied(): void {
    for (const [, waiting] of this.proxied) {
      clearTimeout(waiting.timer);
      waiting.reject(new ConnectionClosedError(waiting.op));
    }
    this.proxied.clear();
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    for (const l of [...this.listeners]) l.state(state);
  }

  private post(message: TabMessage): void {
    if (this.closed && message.t !== 'bye') return;
    try {
      this.channel.postMessage(message);
    } catch {
      // channel closed
    }
  }
}

function toWire(error: unknown, op: string): WireError {
  if (error instanceof ServerError) return { name: error.name, message: error.message, op, code: error.code, serverMessage: error.serverMessage };
  if (error instanceof SessionEndedError) return { name: error.name, message: error.message, op, reason: error.reason };
  if (error instanceof RequestTimeoutError) return { name: error.name, message: error.message, op, timeoutMs: error.timeoutMs };
  if (error instanceof ConnectionClosedError) return { name: error.name, message: error.message, op, closeCode: error.closeCode };
  return { name: 'Error', message: error instanceof Error ? error.message : String(error), op };
}

function fromWire(e: WireError): Error {
  switch (e.name) {
    case 'ServerError':
      return new ServerError(e.code ?? 'internal', e.serverMessage ?? e.message, e.op);
    case 'SessionEndedError':
      return new SessionEndedError(e.op, e.reason ?? 'closed');
    case 'RequestTimeoutError':
      return new RequestTimeoutError(e.op, e.timeoutMs ?? 0);
    case 'ConnectionClosedError':
      return new ConnectionClosedError(e.op, e.closeCode);
    default:
      return new Error(e.message);
  }
}
