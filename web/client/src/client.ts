// The client the screens use: rooms, messages, read counts, typing, the unsent queue and the connection state, on
// top of a Transport (this tab's socket or the leader tab's). It applies the delivery rules of docs/protocol.md §9:
// per-room gap-free cursors, sync after every (re)connect and on gaps, de-duplication by (room_id, seq), and the
// outbox resent in order with the same client_msg_id.

import { backoffDelayMs } from './close-codes.js';
import type { ConnectionOptions, RawPush } from './connection.js';
import { ConnectionClosedError, RequestTimeoutError, ServerError, SessionEndedError } from './errors.js';
import { Emitter } from './emitter.js';
import { FilesApi } from './files.js';
import { documentVisibility, ForegroundReport, ForegroundUnion, type VisibilitySource } from './foreground-report.js';
import { newClientMsgId } from './ids.js';
import { MemoryOutboxStore, byCreation, type OutboxEntry, type OutboxStore } from './outbox-store.js';
import { PinBoard } from './pins.js';
import { PresenceWatch } from './presence-watch.js';
import type {
  AbsenceEvent,
  LaunchMode,
  LoginResult,
  Message,
  OpArgs,
  OpName,
  OpResult,
  Pin,
  PresenceInfo,
  Push,
  PushConfig,
  PushProvider,
  PushSubscribeArgs,
  RoomSummary,
  SearchAllFilters,
  SendExtras,
  Settings,
} from './protocol.js';
import { Credentials } from './credentials.js';
import { RoomTimeline } from './room-timeline.js';
import { RouterApi, type RouterOptions } from './router.js';
import { SocketSession } from './socket-session.js';
import { TabCoordinator, type TabOptions } from './tabs.js';
import type { ConnectionState, Transport } from './transport.js';

/** Options of a SendjayClient. */
export interface ClientOptions {
  /** The login reply (tokens, user, first node). Keep it (e.g. localStorage) until `refresh_expires_at` to skip the login. */
  login: LoginResult;
  /** Called with each renewed token pair (§2.5): store it in place of the login (the old refresh token is used up). */
  onRenewed?: (login: LoginResult) => void;
  /** Router API options (`baseUrl` for tests; same-origin relative URLs by default). */
  router?: RouterOptions;
  /** `manual` (default) or `auto` (embedded portal start: never evicts, ends with already_running instead). */
  launch?: LaunchMode;
  /** Where unsent messages live: `IndexedDbOutboxStore` in browsers; in-memory by default. */
  outbox?: OutboxStore;
  /** Share one WebSocket between the tabs of this user (default in browsers when Web Locks exist); false = own socket. */
  tabs?: TabOptions | false;
  /** WebSocket implementation and timings. */
  connection?: ConnectionOptions;
  /** Messages per `sync` page (≤ 200, §4). */
  syncLimit?: number;
  /** How long a request waits for its answer (30 s). */
  requestTimeoutMs?: number;
  /** Server-error attempts of one send before it is marked failed (10). */
  maxSendAttempts?: number;
  /** Sync this often while online, to converge without traffic (§9 advice; default 5 min, 0 = never). */
  periodicSyncMs?: number;
  /** A transport of your own (tests); replaces `tabs`/`connection`. */
  transport?: Transport;
  /**
   * Where this tab's visibility comes from, for `set_foreground` (§6.16: no pushes to the user's devices while a
   * session is in the foreground): `document.visibilityState` by default; false = only what `setForeground` says.
   */
  visibility?: VisibilitySource | false;
}

/** A `read` push: a member's read cursor moved. */
export type ReadEvent = Extract<Push, { event: 'read' }>;
/** A `typing` push. */
export type TypingEvent = Extract<Push, { event: 'typing' }>;

/** The events of a SendjayClient and their payloads. */
export interface ClientEvents {
  /** The connection state changed. */
  state: ConnectionState;
  /** The room list changed (order, unread, preview, names): read `client.rooms()`. */
  rooms: readonly RoomSummary[];
  /** A new message, delivered exactly once per (room, seq), in seq order within each room. */
  message: Message;
  /** A room's held messages or read counts changed: re-read `client.messages(roomId)` / `client.unreadCount`. */
  room: { roomId: number };
  /** A member's read cursor moved (live "not read by N"). */
  read: ReadEvent;
  /** Someone is typing (your own typing pushes are filtered out). */
  typing: TypingEvent;
  /** Your settings changed (on another device, or by `setSettings`). */
  settings: Settings;
  /** A watched person's presence is known or changed (`watchPresence`). */
  presence: PresenceInfo;
  /** A watched person's absence status changed (`watchPresence`). */
  absence: AbsenceEvent;
  /** The unsent queue changed: read `client.outbox()`. */
  outbox: readonly OutboxEntry[];
  /** A room's pinned messages changed (or were loaded): read `client.pins(roomId)`. */
  pins: { roomId: number };
  /** A message was saved or unsaved (here or on another device). */
  saved: { roomId: number; seq: number; saved: boolean };
}

/** The sendjay client of one signed-in user in one tab. */
export class SendjayClient {
  /** The signed-in user. */
  readonly userId: string;
  /** The nodes' file API (§19): uploads with progress, signed URLs, downloads. */
  readonly files: FilesApi;
  /** This device's tokens, renewed by the tab that holds the connection (§2.5). */
  readonly credentials: Credentials;
  private readonly transport: Transport;
  private readonly store: OutboxStore;
  private readonly events = new Emitter<ClientEvents>();
  private readonly summaries = new Map<number, RoomSummary>();
  private readonly timelines = new Map<number, RoomTimeline>();
  private readonly counts = new Map<number, Map<number, number>>();
  private readonly openRooms = new Set<number>();
  private readonly countRefresh = new Map<number, ReturnType<typeof setTimeout>>();
  private outboxEntries: OutboxEntry[] = [];
  private readonly pinBoard = new PinBoard();
  /** `room:seq` of the messages known to be saved (from `listSaved`, saves and `saved` pushes). */
  private readonly savedKeys = new Set<string>();
  /** client_msg_ids of own messages already held: never shown as pending again, even if a stale list says so. */
  private readonly ownDelivered = new Set<string>();
  private syncedConnection: string | undefined;
  private syncRunning: Promise<void> | undefined;
  private syncAgain = false;
  private gapRetry: ReturnType<typeof setTimeout> | undefined;
  private gapRetries = 0;
  private flushing = false;
  private flushAgain = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryAttempt = 0;
  private readonly unsubscribe: () => void;
  private readonly syncLimit: number;
  private readonly requestTimeoutMs: number;
  private readonly maxSendAttempts: number;
  private lastCreatedAt = 0;
  private readonly periodicSync: ReturnType<typeof setInterval> | undefined;
  private readonly onVisible: (() => void) | undefined;
  private readonly routerOptions: RouterOptions | undefined;
  /** This tab's foreground state as sent on the transport (the leader tab unites the tabs' states, tabs.ts). */
  private readonly foregroundUnion = new ForegroundUnion({
    connectionId: () => (this.transport.state.status === 'online' ? this.transport.state.connectionId : undefined),
    send: (foreground) => this.transport.request('set_foreground', { foreground }, 10_000),
  });
  private readonly foregroundReport: ForegroundReport;
  private readonly presenceWatch = new PresenceWatch({
    watch: async (ids) => (await this.request('watch_presence', { user_ids: ids })).users,
    changed: (info) => this.events.emit('presence', info),
  });

  constructor(options: ClientOptions) {
    this.routerOptions = options.router;
    this.userId = options.login.user_id;
    this.store = options.outbox ?? new MemoryOutboxStore();
    this.syncLimit = options.syncLimit ?? 200;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxSendAttempts = options.maxSendAttempts ?? 10;
    this.credentials = new Credentials(options.login, new RouterApi(options.router), options.onRenewed);
    this.files = new FilesApi({ token: () => this.credentials.token(), node: options.login.node, router: new RouterApi(options.router) });
    // A tab taking the socket over from a closed leader tab continues the running session: launch=manual, since an
    // `auto` connection could be refused (4011) by the old tab's session the node has not released yet (§11).
    const socket = (context: { handover: boolean } = { handover: false }): SocketSession =>
      new SocketSession({
        credentials: this.credentials,
        router: new RouterApi(options.router),
        node: context.handover ? undefined : options.login.node,
        launch: context.handover ? 'manual' : options.launch,
        connection: options.connection,
      });
    if (options.transport !== undefined) this.transport = options.transport;
    else if (options.tabs === false || (options.tabs === undefined && !TabCoordinator.available()))
      this.transport = socket();
    else this.transport = new TabCoordinator(this.userId, socket, options.tabs ?? {});
    this.unsubscribe = this.transport.subscribe({
      push: (push) => this.onPush(push),
      state: (state) => this.onState(state),
    });
    if (this.transport instanceof TabCoordinator) this.transport.onOutboxChanged(() => void this.outboxChanged());
    const visibility = options.visibility === false ? undefined : (options.visibility ?? documentVisibility());
    this.foregroundReport = new ForegroundReport(visibility, (visible) => this.foregroundUnion.report('tab', visible));
    const every = options.periodicSyncMs ?? 300_000;
    const syncIfOnline = (): void => {
      if (this.transport.state.status === 'online') void this.runSync().catch(() => undefined);
    };
    if (every > 0) this.periodicSync = setInterval(syncIfOnline, every);
    // Back in the foreground: sync, as pushes can be lost without any sign (§9 advice).
    const doc = (globalThis as { document?: { visibilityState: string; addEventListener(t: string, l: () => void): void } }).document;
    if (doc !== undefined) {
      this.onVisible = () => {
        if (doc.visibilityState === 'visible') syncIfOnline();
      };
      doc.addEventListener('visibilitychange', this.onVisible);
    }
  }

  /** Starts connecting (and loads the persisted outbox). */
  start(): void {
    void this.reloadOutbox();
    this.transport.start();
    if (this.transport.state.status === 'online') this.onState(this.transport.state);
  }

  /** Registers a listener; returns the function that removes it. */
  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** The connection state now. */
  get state(): ConnectionState {
    return this.transport.state;
  }

  /** True when this tab holds the shared WebSocket. */
  get holdsConnection(): boolean {
    return this.transport.holdsConnection;
  }

  // ---- rooms ---------------------------------------------------------------------------------------------------

  /** The rooms, most recently active first (§6.2 order). */
  rooms(): RoomSummary[] {
    return [...this.summaries.values()].sort(
      (a, b) => b.last_activity_ms - a.last_activity_ms || b.room_id - a.room_id,
    );
  }

  /** One room's summary. */
  room(roomId: number): RoomSummary | undefined {
    return this.summaries.get(roomId);
  }

  /** The sum of unread over all rooms (for the tab title). */
  totalUnread(): number {
    let total = 0;
    for (const r of this.summaries.values()) total += r.unread;
    return total;
  }

  /** The held messages of a room in seq order (hidden ones included, flagged: do not display them). */
  messages(roomId: number): readonly Message[] {
    return this.timelines.get(roomId)?.messages() ?? [];
  }

  /** Keeps only the newest `keep` held messages of a room (the app calls it when the user is back at the bottom). */
  trimRoom(roomId: number, keep: number): void {
    if (this.timelines.get(roomId)?.trim(keep) === true) this.events.emit('room', { roomId });
  }

  /** Who is connected (web/mobile) now, once; to follow changes use `watchPresence`. */
  async presence(userIds: string[]): Promise<PresenceInfo[]> {
    return (await this.request('presence', { user_ids: userIds })).users;
  }

  /**
   * Follows `userId`'s presence (§6.13 `watch_presence`): `presence` events carry the state when known and each
   * change; the watch is renewed on every new connection. Returns the release (call it when the person leaves the
   * screen). Read the latest with `presenceOf`.
   */
  watchPresence(userId: string): () => void {
    return this.presenceWatch.add(userId);
  }

  /** The latest known presence of a watched person. */
  presenceOf(userId: string): PresenceInfo | undefined {
    return this.presenceWatch.get(userId);
  }

  /** Whether older messages than those held exist (infinite scroll upwards). */
  hasOlder(roomId: number): boolean {
    return this.timelines.get(roomId)?.hasOlder ?? true;
  }

  /** "Not read by N" of a held message, when known (from open_room / unread_counts). */
  unreadCount(roomId: number, seq: number): number | undefined {
    return this.counts.get(roomId)?.get(seq);
  }

  /** Opens a room: marks it read, loads the newest page and its read counts (§6.10). Keep it open until `closeRoom`. */
  async openRoom(roomId: number, limit = 50): Promise<void> {
    this.openRooms.add(roomId);
    const result = await this.request('open_room', { room_id: roomId, limit });
    this.putSummary(result.room);
    const timeline = this.timeline(roomId, result.room.last_seq);
    timeline.clear(result.room.cleared_seq ?? 0);
    this.deliver(timeline, timeline.storeOlder(result.messages, result.has_more));
    this.setCounts(roomId, result.unread_counts);
    this.events.emit('room', { roomId });
    this.emitRooms();
  }

  /** The room is no longer on screen: stop live count refreshes and keep only its newest messages in memory. */
  closeRoom(roomId: number): void {
    this.openRooms.delete(roomId);
    const t = this.timelines.get(roomId);
    if (t?.trim(200) === true) this.events.emit('room', { roomId });
  }

  /** Loads the page before the oldest held message; resolves with whether even older ones exist. */
  async loadOlder(roomId: number, limit = 50): Promise<boolean> {
    const timeline = this.timeline(roomId, this.summaries.get(roomId)?.last_seq ?? 0);
    const before = timeline.lowestSeq;
    const result = await this.request('history', before === undefined ? { room_id: roomId, limit } : { room_id: roomId, before_seq: before, limit });
    this.deliver(timeline, timeline.storeOlder(result.messages, result.has_more));
    if (result.messages.length === 0) timeline.hasOlder = false;
    this.events.emit('room', { roomId });
    if (this.openRooms.has(roomId)) this.scheduleCountRefresh(roomId);
    return timeline.hasOlder;
  }

  /** Moves the read cursor (whole room when `seq` is omitted) and updates the badge. */
  async markRead(roomId: number, seq?: number): Promise<void> {
    const result = await this.request('mark_read', seq === undefined ? { room_id: roomId } : { room_id: roomId, seq });
    const summary = this.summaries.get(roomId);
    if (summary !== undefined) {
      this.putSummary({ ...summary, last_read_seq: Math.max(summary.last_read_seq, result.last_read_seq), unread: result.unread });
      this.emitRooms();
    }
  }

  /** Refreshes "not read by N" for the given seqs (default: the newest 200 held) of a room. */
  async refreshUnreadCounts(roomId: number, seqs?: number[]): Promise<void> {
    const wanted = seqs ?? this.messages(roomId).filter((m) => !m.hidden).slice(-200).map((m) => m.seq);
    if (wanted.length === 0) return;
    const result = await this.request('unread_counts', { room_id: roomId, seqs: wanted.slice(0, 200) });
    this.setCounts(roomId, result.counts);
    this.events.emit('room', { roomId });
  }

  /** Tells the room's members that the user is typing (call at most every 3 s while typing, §6.13). */
  async typing(roomId: number): Promise<void> {
    await this.request('typing', { room_id: roomId });
  }

  // ---- sending ---------------------------------------------------------------------------------------------------

  /**
   * Queues a message: it gets its client_msg_id now, is persisted in the outbox, and is sent (and resent after
   * reconnects, with the same id) until the server acknowledges it. Resolves with the queued entry once persisted;
   * the stored message then arrives through the `message` event (with the same client_msg_id).
   */
  async send(roomId: number, body: string, extras: SendExtras = {}): Promise<OutboxEntry> {
    const now = Math.max(Date.now(), this.lastCreatedAt + 1);
    this.lastCreatedAt = now;
    const entry: OutboxEntry = {
      client_msg_id: newClientMsgId(),
      room_id: roomId,
      body,
      extras,
      created_at_ms: now,
      status: 'pending',
      last_error: null,
      attempts: 0,
    };
    await this.store.put(entry);
    await this.outboxChanged(true);
    return entry;
  }

  /** The unsent messages (pending and failed), oldest first; `roomId` filters one room. */
  outbox(roomId?: number): OutboxEntry[] {
    return this.outboxEntries.filter((e) => (roomId === undefined || e.room_id === roomId) && !this.ownDelivered.has(e.client_msg_id));
  }

  /** Sends a failed message again (same client_msg_id). */
  async retry(clientMsgId: string): Promise<void> {
    const entry = (await this.store.list()).find((e) => e.client_msg_id === clientMsgId);
    if (entry === undefined) return;
    await this.store.put({ ...entry, status: 'pending', attempts: 0, last_error: null });
    await this.outboxChanged(true);
  }

  /** Drops an unsent message. */
  async discard(clientMsgId: string): Promise<void> {
    await this.store.remove(clientMsgId);
    await this.outboxChanged(true);
  }

  // ---- keeping: clear chat, saved and pinned messages (§6.17) -------------------------------------------------------

  /** Clears the chat for this user only, up to its newest message (other members keep theirs); it is read too. */
  /** Edits the caller's own message (§6.9 `edit_message`): the held copy changes at once; members get an `edited` push. */
  async editMessage(roomId: number, seq: number, body: string): Promise<Message> {
    return (await this.request('edit_message', { room_id: roomId, seq, body })).message;
  }

  /** Reacts to a message with `emoji` (§6.18), or takes the reaction back with `on = false`; the held copy follows. */
  async react(roomId: number, seq: number, emoji: string, on = true): Promise<Message> {
    return (await this.request(on ? 'add_reaction' : 'remove_reaction', { room_id: roomId, seq, emoji })).message;
  }

  /** Who reacted to a message with `emoji`, first reactor first (at most 1 000), and how many in all. */
  async reactors(roomId: number, seq: number, emoji: string): Promise<{ userIds: string[]; count: number }> {
    const r = await this.request('reactors', { room_id: roomId, seq, emoji });
    return { userIds: r.user_ids, count: r.count };
  }

  async clearRoom(roomId: number): Promise<number> {
    return (await this.request('clear_room', { room_id: roomId })).cleared_seq;
  }

  /** Adds a message to the user's saved messages. */
  async saveMessage(roomId: number, seq: number): Promise<void> {
    await this.request('save_message', { room_id: roomId, seq });
  }

  /** Removes a message from the user's saved messages. */
  async unsaveMessage(roomId: number, seq: number): Promise<void> {
    await this.request('unsave_message', { room_id: roomId, seq });
  }

  /** Whether the message is saved, as far as this client has seen (`listSaved`, saves, `saved` pushes). */
  isSaved(roomId: number, seq: number): boolean {
    return this.savedKeys.has(savedKey(roomId, seq));
  }

  /**
   * A page of the user's messages containing `query` across all their rooms (or `filters.roomIds`), newest first
   * (§6.11 `search_all`). Pass the returned `nextCursor` as `filters.cursor` for the next page; it is absent on
   * the last one.
   */
  async searchAll(query: string, filters: SearchAllFilters = {}): Promise<{ messages: Message[]; nextCursor: string | undefined }> {
    const args: OpArgs<'search_all'> = { query, limit: filters.limit ?? 50 };
    if (filters.roomIds !== undefined) args.room_ids = filters.roomIds;
    if (filters.senderId !== undefined) args.sender_id = filters.senderId;
    if (filters.afterMs !== undefined) args.after_ms = filters.afterMs;
    if (filters.beforeMs !== undefined) args.before_ms = filters.beforeMs;
    if (filters.cursor !== undefined) args.cursor = filters.cursor;
    const result = await this.request('search_all', args);
    return { messages: result.messages, nextCursor: result.next_cursor };
  }

  /** A page of saved messages, most recently saved first; `after` is the last message of the previous page. */
  async listSaved(after?: Message, limit = 50): Promise<{ messages: Message[]; hasMore: boolean }> {
    const result = await this.request(
      'list_saved',
      after === undefined ? { limit } : { before: { room_id: after.room_id, seq: after.seq }, limit },
    );
    return { messages: result.messages, hasMore: result.has_more };
  }

  /** A room's pinned messages, most recently pinned first; undefined until `loadPins`. */
  pins(roomId: number): readonly Pin[] | undefined {
    return this.pinBoard.get(roomId);
  }

  /** Loads a room's pins; afterwards they follow the room's pin and unpin messages by themselves. */
  async loadPins(roomId: number): Promise<readonly Pin[]> {
    const result = await this.request('list_pins', { room_id: roomId });
    this.pinBoard.set(roomId, result.pins);
    this.events.emit('pins', { roomId });
    return result.pins;
  }

  /** Pins a message for everyone in the room (at most 50 per room: `forbidden` beyond). */
  async pinMessage(roomId: number, seq: number): Promise<void> {
    await this.request('pin_message', { room_id: roomId, seq });
  }

  /** Unpins a message of the room. */
  async unpinMessage(roomId: number, seq: number): Promise<void> {
    await this.request('unpin_message', { room_id: roomId, seq });
  }

  // ---- everything else -------------------------------------------------------------------------------------------

  /**
   * Any operation of §6, typed: resolves with its result, rejects with ServerError (with `.code`),
   * RequestTimeoutError, ConnectionClosedError or SessionEndedError. Room changes it causes also arrive as pushes.
   */
  async request<O extends OpName>(op: O, args: OpArgs<O>, timeoutMs = this.requestTimeoutMs): Promise<OpResult<O>> {
    const result = (await this.transport.request(op, args, timeoutMs)) as OpResult<O>;
    this.absorb(op, result);
    return result;
  }

  /** Settings as stored. */
  async getSettings(): Promise<Settings> {
    return (await this.request('get_settings', undefined)).settings;
  }

  /** Changes settings (absent keys keep their value). */
  async setSettings(changes: OpArgs<'set_settings'>): Promise<Settings> {
    const settings = (await this.request('set_settings', changes)).settings;
    this.events.emit('settings', settings);
    return settings;
  }

  /** What the server can push through (§6.16); `web_push_key` is '' when it has no Web Push. */
  async pushConfig(): Promise<PushConfig> {
    const result = await this.request('push_config', undefined);
    return { web_push_key: result.web_push_key, fcm: result.fcm };
  }

  /** Where this device class gets its pushes while none of its sessions is connected (replaces the previous one). */
  async pushSubscribe(subscription: PushSubscribeArgs): Promise<PushProvider> {
    return (await this.request('push_subscribe', subscription)).provider;
  }

  /** No more pushes to this device class; resolves with whether a subscription was stored. */
  async pushUnsubscribe(): Promise<boolean> {
    return (await this.request('push_unsubscribe', undefined)).removed;
  }

  /**
   * Says whether the user is looking at this tab, in place of the visibility source (`undefined`: follow it again).
   * The session is in the foreground while any of its tabs is; `set_foreground` goes out only on change and after
   * every (re)connect, and its errors (older servers) are ignored.
   */
  setForeground(foreground: boolean | undefined): void {
    this.foregroundReport.set(foreground);
  }

  /** Whether this tab counts as in the foreground now. */
  get foreground(): boolean {
    return this.foregroundReport.visible;
  }

  /** Ends this device's sign-in (close 4010 follows: state `ended` / `logged_out`). Discard the tokens afterwards.
   * Offline, the router's `/v1/logout` ends the sign-in instead (the refresh token would otherwise stay valid). */
  async logout(): Promise<void> {
    try {
      await this.request('logout', undefined, 5_000);
    } catch (e) {
      const refresh = this.credentials.current.refresh_token;
      if (typeof refresh !== 'string' || refresh === '') throw e;
      await new RouterApi(this.routerOptions).logout(refresh);
    }
  }

  /** After `ended` with `evicted` or `already_running`: take the session over here (launch=manual). */
  useHere(): void {
    this.transport.useHere();
  }

  /** Runs a sync now (e.g. when the app returns to the foreground). */
  sync(): Promise<void> {
    return this.runSync();
  }

  /** Stops this client (tab closing): the socket, if held here, goes to another tab. */
  close(): void {
    this.unsubscribe();
    this.foregroundReport.close();
    if (this.periodicSync !== undefined) clearInterval(this.periodicSync);
    const doc = (globalThis as { document?: { removeEventListener(t: string, l: () => void): void } }).document;
    if (this.onVisible !== undefined) doc?.removeEventListener('visibilitychange', this.onVisible);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.gapRetry !== undefined) clearTimeout(this.gapRetry);
    for (const t of this.countRefresh.values()) clearTimeout(t);
    this.transport.close();
  }

  // ---- internals -------------------------------------------------------------------------------------------------

  private onState(state: ConnectionState): void {
    this.events.emit('state', state);
    if (state.status !== 'online') this.presenceWatch.setOnline(false);
    if (state.status === 'online') this.foregroundUnion.flush(); // a new connection starts in the background
    if (state.status === 'online' && state.connectionId !== this.syncedConnection) {
      this.syncedConnection = state.connectionId;
      this.presenceWatch.setOnline(true);
      void this.runSync()
        .catch(() => undefined)
        .then(() => this.flushOutbox());
    }
  }

  private onPush(raw: RawPush): void {
    const push = raw as Push;
    switch (push.event) {
      case 'message':
        this.onMessage(push.message);
        break;
      case 'sync_needed':
        void this.runSync().catch(() => undefined);
        break;
      case 'read':
        this.onRead(push);
        break;
      case 'edited':
        this.onEdited(push.message);
        break;
      case 'reaction': {
        const t = this.timelines.get(push.room_id);
        if (t?.react(push, this.userId) === true) this.events.emit('room', { roomId: push.room_id });
        break;
      }
      case 'revoked':
      case 'hidden':
        this.onRevokedOrHidden(push.event, push.room_id, push.seq);
        break;
      case 'typing':
        if (push.user_id !== this.userId) this.events.emit('typing', push);
        break;
      case 'presence':
        this.presenceWatch.pushed(push.user_id, push.web, push.mobile);
        break;
      case 'absence':
        this.events.emit('absence', push);
        break;
      case 'room_prefs': {
        const s = this.summaries.get(push.room_id);
        if (s !== undefined) {
          this.putSummary({ ...s, nickname: push.nickname, notifications: push.notifications });
          this.emitRooms();
        }
        break;
      }
      case 'settings':
        this.events.emit('settings', push.settings);
        break;
      case 'room_cleared':
        this.applyCleared(push.room_id, push.cleared_seq);
        break;
      case 'saved':
        this.setSaved(push.room_id, push.seq, push.saved);
        break;
      default:
        break; // evicted / reconnect are the transport's; unknown events are ignored (§3.4)
    }
  }

  private onMessage(message: Message): void {
    const known = this.timelines.has(message.room_id) || this.summaries.has(message.room_id);
    const timeline = this.timeline(message.room_id, known ? (this.summaries.get(message.room_id)?.last_seq ?? 0) : message.seq - 1);
    const outcome = timeline.store([message]);
    this.deliver(timeline, outcome);
    if (outcome.changed) this.events.emit('room', { roomId: message.room_id });
    // Removed from the room, or left it on another device: a sync drops it from the list (it is no longer ours).
    const e = message.system;
    const leftUs = e !== null && ((e.action === 'remove' && e.users.includes(this.userId)) || (e.action === 'leave' && e.actor === this.userId));
    // Members changed in a room named after its members: a sync brings the server's new display_name.
    const s = this.summaries.get(message.room_id);
    const renamed = e !== null && ['invite', 'leave', 'remove'].includes(e.action) && s !== undefined && s.display_name !== undefined && s.name === '' && s.nickname === '';
    if (outcome.gap || leftUs || renamed || !this.summaries.has(message.room_id)) void this.runSync().catch(() => undefined);
  }

  private onRead(push: ReadEvent): void {
    const s = this.summaries.get(push.room_id);
    if (push.user_id === this.userId && s !== undefined && push.last_read_seq > s.last_read_seq) {
      this.putSummary({ ...s, last_read_seq: push.last_read_seq, unread: Math.max(s.last_seq - push.last_read_seq, 0) });
      this.emitRooms();
    }
    this.events.emit('read', push);
    if (this.openRooms.has(push.room_id)) this.scheduleCountRefresh(push.room_id);
  }

  private onRevokedOrHidden(event: 'revoked' | 'hidden', roomId: number, seq: number): void {
    const t = this.timelines.get(roomId);
    const touched = t !== undefined && (event === 'revoked' ? t.revoke(seq) : t.hide(seq));
    const s = this.summaries.get(roomId);
    if (s?.last_message?.seq === seq) {
      const flag = event === 'revoked' ? { revoked: true } : { hidden: true };
      this.putSummary({ ...s, last_message: { ...s.last_message, ...flag, body: '', file: null } });
      this.emitRooms();
    }
    if (touched) this.events.emit('room', { roomId });
    const copy = t?.get(seq);
    if (copy !== undefined && this.pinBoard.update(copy)) this.events.emit('pins', { roomId });
  }

  /** A message changed (edited): replace the held copy, the room list's preview and its pin when they are older. */
  private onEdited(message: Message): void {
    const t = this.timelines.get(message.room_id);
    const touched = t?.replace(message) ?? false;
    const s = this.summaries.get(message.room_id);
    const preview = s?.last_message;
    if (s !== undefined && preview != null && preview.seq === message.seq && (preview.change_seq ?? 0) < (message.change_seq ?? 0)) {
      this.putSummary({ ...s, last_message: { ...message, body: message.body.slice(0, 200) } });
      this.emitRooms();
    }
    if (touched) this.events.emit('room', { roomId: message.room_id });
    const copy = t?.get(message.seq);
    if (copy !== undefined && this.pinBoard.update(copy)) this.events.emit('pins', { roomId: message.room_id });
  }

  /** The user cleared a room up to `seq`: drop the held messages, the preview, and the unread count. */
  private applyCleared(roomId: number, seq: number): void {
    const s = this.summaries.get(roomId);
    const changed = this.timeline(roomId, s?.last_seq ?? seq).clear(seq);
    if (s !== undefined && seq > (s.cleared_seq ?? 0)) {
      const lastRead = Math.max(s.last_read_seq, Math.min(seq, s.last_seq));
      const preview = s.last_message !== null && s.last_message.seq <= seq ? null : s.last_message;
      this.putSummary({ ...s, cleared_seq: seq, last_message: preview, last_read_seq: lastRead, unread: Math.max(s.last_seq - lastRead, 0) });
      this.emitRooms();
    }
    if (changed) this.events.emit('room', { roomId });
  }

  private setSaved(roomId: number, seq: number, saved: boolean): void {
    const key = savedKey(roomId, seq);
    if (saved === this.savedKeys.has(key)) return;
    if (saved) this.savedKeys.add(key);
    else this.savedKeys.delete(key);
    this.events.emit('saved', { roomId, seq, saved });
  }

  /** Follows the pins of a room from its pin and unpin system messages. */
  private applyPin(m: Message): void {
    const change = this.pinBoard.apply(m, (seq) => this.timelines.get(m.room_id)?.get(seq));
    if (change === 'changed') this.events.emit('pins', { roomId: m.room_id });
    if (change === 'reload') void this.loadPins(m.room_id).catch(() => undefined);
  }

  /** Hands newly contiguous messages to the app and updates the room list. */
  private deliver(timeline: RoomTimeline, outcome: { delivered: Message[] }): void {
    if (outcome.delivered.length === 0) return;
    let summary = this.summaries.get(timeline.roomId);
    for (const m of outcome.delivered) {
      if (summary !== undefined && m.seq > summary.last_seq) {
        const own = m.sender_id === this.userId && m.kind !== 'system';
        const lastRead = own ? Math.max(summary.last_read_seq, m.seq) : summary.last_read_seq;
        summary = {
          ...summary,
          last_seq: m.seq,
          last_message: m,
          last_activity_ms: Math.max(summary.last_activity_ms, m.created_at_ms),
          last_read_seq: lastRead,
          unread: Math.max(m.seq - lastRead, 0),
        };
        // A rename is applied from its system message: the list shows the new name without fetching the rooms again.
        if (m.system?.action === 'rename' && m.system.name !== null) summary = { ...summary, name: m.system.name };
        if (m.system?.action === 'room_options' && m.system.members_hidden !== undefined) summary = { ...summary, members_hidden: m.system.members_hidden };
      }
      this.dropFromOutboxView(m);
      this.applyPin(m);
      this.events.emit('message', m);
    }
    if (summary !== undefined) {
      this.putSummary(summary);
      this.emitRooms();
    }
    if (this.openRooms.has(timeline.roomId)) this.scheduleCountRefresh(timeline.roomId);
  }

  /** Results of requests that carry messages or rooms are folded in as pushes would be. */
  private absorb(op: OpName, result: unknown): void {
    const r = result as Record<string, unknown>;
    if (op === 'send' || op === 'forward' || op === 'invite' || op === 'remove_member' || op === 'rename_room' || op === 'set_room_options') {
      const m = r['message'] as Message | undefined;
      if (m !== undefined) this.onMessage(m);
    }
    if (op === 'open_direct' || op === 'create_group' || op === 'create_channel' || op === 'join_channel') {
      const room = r['room'] as RoomSummary;
      if (!this.summaries.has(room.room_id)) {
        this.putSummary(room);
        this.timeline(room.room_id, room.last_seq > 0 && room.kind === 'group' ? room.last_seq - 1 : room.last_seq);
        this.emitRooms();
        void this.runSync().catch(() => undefined);
      }
    }
    if (op === 'set_room_prefs') {
      const s = this.summaries.get(r['room_id'] as number);
      if (s !== undefined) {
        this.putSummary({ ...s, nickname: r['nickname'] as string, notifications: r['notifications'] as boolean });
        this.emitRooms();
      }
    }
    if (op === 'clear_room') this.applyCleared(r['room_id'] as number, r['cleared_seq'] as number);
    if (op === 'save_message' || op === 'unsave_message') this.setSaved(r['room_id'] as number, r['seq'] as number, r['saved'] as boolean);
    if (op === 'list_saved') for (const m of r['messages'] as Message[]) this.setSaved(m.room_id, m.seq, true);
    if (op === 'pin_message' || op === 'unpin_message') {
      const m = r['message'] as Message | null;
      if (m !== null) this.onMessage(m);
    }
    if (op === 'delete_for_me') this.onRevokedOrHidden('hidden', r['room_id'] as number, r['seq'] as number);
    if (op === 'revoke') this.onRevokedOrHidden('revoked', r['room_id'] as number, r['seq'] as number);
    if (op === 'edit_message' || op === 'add_reaction' || op === 'remove_reaction') this.onEdited(r['message'] as Message);
    if (op === 'leave') {
      void this.runSync().catch(() => undefined);
    }
  }

  private timeline(roomId: number, startCursor: number): RoomTimeline {
    let t = this.timelines.get(roomId);
    if (t === undefined) {
      t = new RoomTimeline(roomId, startCursor);
      // Whatever the timeline loads from now on is at least as new as the room list's change counter (§6.6).
      t.changedTo(this.summaries.get(roomId)?.change_seq ?? 0);
      this.timelines.set(roomId, t);
    }
    return t;
  }

  /** §9 step 3: sync pages until has_more is false. One at a time; a request during a sync runs another after it. */
  private runSync(): Promise<void> {
    if (this.syncRunning !== undefined) {
      this.syncAgain = true;
      return this.syncRunning;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.syncAgain = false;
          await this.syncPages();
        } while (this.syncAgain);
      } finally {
        this.syncRunning = undefined;
      }
      this.retryIfGapRemains();
    };
    this.syncRunning = run();
    return this.syncRunning;
  }

  /**
   * A gap can outlive a sync: a message pushed right after its commit may be ahead of an earlier seq still being
   * committed (§9: sync sees seq N only after every seq below it). Look again shortly, a few times.
   */
  private retryIfGapRemains(): void {
    const gap = [...this.timelines.values()].some((t) => t.hasGap);
    if (!gap) {
      this.gapRetries = 0;
      return;
    }
    if (this.gapRetry !== undefined || this.gapRetries >= 5) return;
    this.gapRetries += 1;
    this.gapRetry = setTimeout(() => {
      this.gapRetry = undefined;
      void this.runSync().catch(() => undefined);
    }, 500 * this.gapRetries);
  }

  private async syncPages(): Promise<void> {
    const cursorsOf = (): { room_id: number; seq: number; change_seq: number }[] =>
      [...this.timelines.values()].map((t) => ({ room_id: t.roomId, seq: t.cursor, change_seq: t.changeCursor }));
    let cursors = cursorsOf();
    const knownBefore = new Set([...this.timelines.keys(), ...this.summaries.keys()]);
    for (;;) {
      const chunks = cursors.length > 0 ? chunk(cursors, 1000) : [[]];
      let more = false;
      let rooms: RoomSummary[] = [];
      for (const part of chunks) {
        const args = {
          cursors: part.map((c) => ({ room_id: c.room_id, seq: c.seq })),
          changes: part.map((c) => ({ room_id: c.room_id, change_seq: c.change_seq })),
          limit: this.syncLimit,
        };
        const result = await this.request('sync', part.length > 0 ? args : { limit: this.syncLimit });
        rooms = result.rooms;
        const byRoom = new Map<number, Message[]>();
        for (const m of result.messages) {
          const list = byRoom.get(m.room_id) ?? [];
          list.push(m);
          byRoom.set(m.room_id, list);
        }
        this.applyRooms(rooms, knownBefore);
        for (const [roomId, list] of byRoom) {
          const t = this.timeline(roomId, list[0] === undefined ? 0 : list[0].seq - 1);
          const outcome = t.store(list);
          this.deliver(t, outcome);
          if (outcome.changed) this.events.emit('room', { roomId });
        }
        // Held messages changed while we were away (edits, revokes), in change order per room.
        for (const m of result.updates ?? []) {
          const t = this.timelines.get(m.room_id);
          t?.changedTo(m.change_seq ?? 0);
          this.onEdited(m);
        }
        more ||= result.has_more;
      }
      if (!more) break;
      const next = cursorsOf();
      if (JSON.stringify(next) === JSON.stringify(cursors)) break; // no progress: a page the cursors cannot pass
      cursors = next;
    }
  }

  /** §9 step 4/5: the room list of a sync is the truth: new rooms start at their newest message, gone ones go. */
  private applyRooms(rooms: RoomSummary[], knownBefore: ReadonlySet<number>): void {
    const present = new Set<number>();
    for (const room of rooms) {
      present.add(room.room_id);
      const held = this.summaries.get(room.room_id);
      // Keep what pushes brought if it is newer than this page's summary.
      const merged = held !== undefined && held.last_seq > room.last_seq ? { ...room, last_seq: held.last_seq, last_message: held.last_message, last_activity_ms: held.last_activity_ms, unread: Math.max(held.last_seq - room.last_read_seq, 0) } : room;
      this.putSummary(merged);
      const t = this.timelines.get(room.room_id) ?? this.timeline(room.room_id, room.last_seq);
      if ((room.cleared_seq ?? 0) > t.clearedSeq && t.clear(room.cleared_seq ?? 0)) this.events.emit('room', { roomId: room.room_id });
    }
    // Only rooms known when the sync was sent can be judged gone: one joined meanwhile is not in this page yet.
    for (const id of [...this.summaries.keys()]) {
      if (!present.has(id) && knownBefore.has(id)) {
        this.summaries.delete(id);
        this.timelines.delete(id);
        this.counts.delete(id);
        this.pinBoard.forget(id);
      }
    }
    for (const id of [...this.timelines.keys()]) if (!present.has(id) && knownBefore.has(id)) this.timelines.delete(id);
    this.emitRooms();
  }

  private putSummary(room: RoomSummary): void {
    this.summaries.set(room.room_id, room);
  }

  private emitRooms(): void {
    this.events.emit('rooms', this.rooms());
  }

  private setCounts(roomId: number, counts: { seq: number; unread: number }[]): void {
    let map = this.counts.get(roomId);
    if (map === undefined) {
      map = new Map();
      this.counts.set(roomId, map);
    }
    for (const c of counts) map.set(c.seq, c.unread);
  }

  private scheduleCountRefresh(roomId: number): void {
    if (this.countRefresh.has(roomId)) return;
    this.countRefresh.set(
      roomId,
      setTimeout(() => {
        this.countRefresh.delete(roomId);
        if (this.openRooms.has(roomId)) void this.refreshUnreadCounts(roomId).catch(() => undefined);
      }, 300),
    );
  }

  // ---- outbox ----------------------------------------------------------------------------------------------------

  private async reloadOutbox(): Promise<void> {
    this.outboxEntries = await this.store.list();
    this.events.emit('outbox', this.outbox());
  }

  /** The outbox changed (here or in another tab): refresh the view, tell the other tabs, send if we hold the socket. */
  private async outboxChanged(local = false): Promise<void> {
    await this.reloadOutbox();
    if (local && this.transport instanceof TabCoordinator) this.transport.announceOutboxChanged();
    void this.flushOutbox();
  }

  private dropFromOutboxView(m: Message): void {
    if (m.sender_id !== this.userId) return;
    this.ownDelivered.add(m.client_msg_id);
    const before = this.outboxEntries.length;
    this.outboxEntries = this.outboxEntries.filter((e) => !(e.client_msg_id === m.client_msg_id && e.room_id === m.room_id));
    if (this.outboxEntries.length !== before) this.events.emit('outbox', this.outbox());
  }

  /**
   * Sends the pending entries, oldest first, one at a time (so each room's messages keep their order), only in the
   * tab that holds the socket. Retryable failures (database_unavailable, internal, timeout, closed) stop the pass and
   * retry with backoff; permanent ones mark the entry failed and the pass goes on.
   */
  private async flushOutbox(): Promise<void> {
    if (!this.transport.holdsConnection || this.transport.state.status !== 'online') return;
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        const retryLater = await this.flushPass();
        if (retryLater) {
          this.scheduleRetry();
          break;
        }
        this.retryAttempt = 0;
      } while (this.flushAgain);
    } finally {
      this.flushing = false;
    }
  }

  /** One pass over the outbox; true when something must be retried later. */
  private async flushPass(): Promise<boolean> {
    const entries = (await this.store.list()).sort(byCreation);
    const blockedRooms = new Set<number>();
    let retryLater = false;
    for (const entry of entries) {
      if (entry.status !== 'pending' || blockedRooms.has(entry.room_id)) continue;
      if (this.transport.state.status !== 'online') return false; // the next connection flushes again
      try {
        await this.request('send', { ...entry.extras, room_id: entry.room_id, client_msg_id: entry.client_msg_id, body: entry.body });
        await this.store.remove(entry.client_msg_id);
      } catch (e) {
        if (e instanceof SessionEndedError) return false;
        const retryable = e instanceof RequestTimeoutError || e instanceof ConnectionClosedError || (e instanceof ServerError && e.retryable);
        const code = e instanceof ServerError ? e.code : e instanceof RequestTimeoutError ? 'timeout' : e instanceof ConnectionClosedError ? 'closed' : 'internal';
        const attempts = entry.attempts + (e instanceof ServerError ? 1 : 0);
        if (retryable && attempts < this.maxSendAttempts) {
          await this.store.put({ ...entry, attempts, last_error: code });
          blockedRooms.add(entry.room_id); // later messages of this room wait: order is kept
          retryLater = true;
        } else {
          await this.store.put({ ...entry, attempts, status: 'failed', last_error: code });
        }
      }
    }
    await this.reloadOutbox();
    if (this.transport instanceof TabCoordinator) this.transport.announceOutboxChanged();
    return retryLater;
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    // §8: 1 s, 2 s, 4 s … up to 30 s (with jitter on the upper half).
    const ceiling = Math.min(30_000, 1000 * 2 ** this.retryAttempt++);
    const delay = ceiling / 2 + backoffDelayMs(0, Math.random, ceiling / 2, ceiling / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flushOutbox();
    }, delay);
  }
}

function savedKey(roomId: number, seq: number): string {
  return `${roomId}:${seq}`;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}


