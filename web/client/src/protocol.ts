// The typed shape of sendjay protocol v1 (docs/protocol.md §5–§8): requests, answers, objects and pushes.
//
// Every int64 of the protocol is a JavaScript `number` here: room ids, seqs, timestamps and sizes stay below
// 2^53 (see README.md, "int64 decision"), and the codec refuses any decoded integer that is not a safe integer.

/** A message of a room (§6.7). */
export interface Message {
  room_id: number;
  seq: number;
  client_msg_id: string;
  sender_id: string;
  kind: MessageKind;
  body: string;
  created_at_ms: number;
  reply_to: Quote | null;
  file: FileInfo | null;
  system: SystemEvent | null;
  forwarded: boolean;
  revoked: boolean;
  hidden: boolean;
  /** User ids the body mentions as `@id` (§4; absent from older nodes). */
  mentions?: string[];
  /** When the sender last edited it (`edit_message`, §6.9); null when never (absent from older nodes). */
  edited_at_ms?: number | null;
  /** The room's change counter at the message's latest edit or revoke; 0 when never (§6.6). A copy with a lower one is older. */
  change_seq?: number;
  /** Emoji members reacted with, in first-use order, with counts and whether the viewer is among them (§6.18; absent from older nodes). */
  reactions?: Reaction[];
}

/** One emoji on a message, as the viewer sees it (§6.18). */
export interface Reaction {
  emoji: string;
  count: number;
  mine: boolean;
}

/** A member reacted to a message or took it back (§7 `reaction`): the emoji's count now. */
export interface ReactionEvent {
  event: 'reaction';
  room_id: number;
  seq: number;
  user_id: string;
  emoji: string;
  on: boolean;
  count: number;
  change_seq: number;
}

/** The kinds a message may have; unknown kinds are shown as system notices. */
export type MessageKind = 'text' | 'image' | 'file' | 'file_link' | 'system' | (string & {});

/** The quoted message of a reply, as it is now (§6.7). */
export interface Quote {
  seq: number;
  sender_id: string;
  kind: string;
  preview: string;
  revoked: boolean;
}

/** Metadata of an uploaded file (§6.7). */
export interface FileInfo {
  file_id: string;
  name: string;
  size: number;
  mime: string;
  width?: number | null;
  height?: number | null;
  /** Set by the server: when the bytes go (§19.4). */
  expires_at_ms?: number;
  /** Set by the server: the bytes are gone, downloads answer 410 — show "expired". */
  expired?: boolean;
}

/** What a system message records (§6.7). */
export interface SystemEvent {
  action: 'create' | 'invite' | 'leave' | 'remove' | 'rename' | 'pin' | 'unpin' | 'room_options' | 'join' | (string & {});
  actor: string;
  users: string[];
  name: string | null;
  /** The message pinned or unpinned, for `pin` and `unpin` (§6.17; absent from older nodes). */
  seq?: number | null;
  /** For `room_options`: whether the member list is hidden now (§6.8 `set_room_options`). */
  members_hidden?: boolean;
}

/** One room of the caller, as the room list shows it (§6.7). */
export interface RoomSummary {
  room_id: number;
  kind: 'direct' | 'group';
  name: string;
  last_seq: number;
  last_read_seq: number;
  unread: number;
  last_activity_ms: number;
  last_message: Message | null;
  nickname: string;
  notifications: boolean;
  member_count: number;
  peer_id: string | null;
  /** The user cleared the chat up to this seq (§6.17): never show messages at or below it (absent from older nodes). */
  cleared_seq?: number;
  /** What to call the room for this user, computed by the server from nickname, name or members (absent from older nodes). */
  display_name?: string;
  /** Group rooms: the member list is hidden from members other than the creator and admins (absent from older nodes). */
  members_hidden?: boolean;
  /** Who created the room; null when not recorded (absent from older nodes). */
  created_by?: string | null;
  /** The room's change counter: edits and revokes so far (§6.6; absent from older nodes). */
  change_seq?: number;
  /** A public channel (§6.19): listed in `list_channels`, joined with `join_channel` (absent from older nodes). */
  channel?: boolean;
}

/** A channel in the directory (§6.19 `list_channels`). */
export interface Channel {
  room_id: number;
  name: string;
  /** The organisation unit it is open to (and the units below it); null: the whole company. */
  unit_id: string | null;
  member_count: number;
  /** Whether the user is a member. */
  joined: boolean;
  created_by: string | null;
}

/** A pinned message of a room (§6.17 `list_pins`). */
export interface Pin {
  message: Message;
  pinned_by: string;
  pinned_at_ms: number;
}

/** A message named by its room and seq. */
export interface MessageRef {
  room_id: number;
  seq: number;
}

/** How many members have not read one message (§6.7). */
export interface SeqCount {
  seq: number;
  unread: number;
}

/** A member of a room with its read cursor (§6.7). */
export interface RoomMember {
  user_id: string;
  name: string;
  last_read_seq: number;
  retired: boolean;
}

/** A unit of the organisation tree (§6.7). */
export interface OrgUnit {
  id: string;
  parent_id: string | null;
  name: string;
  depth: number;
  sort_order: number;
  child_count: number;
  member_count: number;
}

/** A person of the directory (§6.7). */
export interface UserProfile {
  user_id: string;
  name: string;
  unit_id: string | null;
  unit_name: string;
  nickname: string;
  job: string;
  phone: string;
  absence_code: string;
  absence_text: string;
  absence_from: string | null;
  absence_to: string | null;
  role: 'user' | 'admin';
  retired: boolean;
}

/** Who is connected where (§6.7). */
export interface PresenceInfo {
  user_id: string;
  web: boolean;
  mobile: boolean;
  mobile_installed: boolean;
}

/** The user's stored notification and launch settings (§6.7). */
export interface Settings {
  notifications_off: boolean;
  sound_off: boolean;
  /** Mobile: notifications without vibration (absent from older nodes). */
  vibration_off?: boolean;
  hide_body: boolean;
  hide_sender: boolean;
  web_standalone: boolean;
  /** Notifications are delivered from `HH:MM` (in `time_zone`)… (null: always). */
  notify_from: string | null;
  /** …until `HH:MM` (wrapping past midnight when earlier; equal: the whole day). */
  notify_to: string | null;
  /** IANA time zone name, or '' for the device's own. */
  time_zone: string;
}

/** Who delivers a device's pushes when none of its sessions is connected (§6.16). */
export type PushProvider = 'web_push' | 'fcm';

/** Arguments of `push_subscribe`: a browser's Web Push subscription (`PushSubscription.toJSON()`) or an FCM token. */
export type PushSubscribeArgs =
  | { provider: 'web_push'; endpoint: string; p256dh: string; auth: string }
  | { provider: 'fcm'; token: string };

/** The answer of `push_config`: what this server can push through. */
export interface PushConfig {
  /** The VAPID public key, base64url (no padding) of the 65-byte uncompressed P-256 point; '' = no Web Push. */
  web_push_key: string;
  /** The server can push through Firebase Cloud Messaging (the Android app). */
  fcm: boolean;
}

/** A Web Push payload for a new message (the JSON text a service worker reads with `event.data.json()`). */
export interface WebPushMessage {
  kind: 'message';
  room_id: number;
  seq: number;
  /** '' for direct and unnamed rooms. */
  room_name: string;
  /** Absent when the user's settings hide the sender. */
  sender_name?: string;
  /** A preview (≤ 200 characters; a short label for images and files); absent when the settings hide the body. */
  body?: string;
  /** The message mentions the user. */
  mention: boolean;
  sent_at_ms: number;
}

/** A Web Push payload saying the user read the room on another device: close its notification. */
export interface WebPushClear {
  kind: 'clear';
  room_id: number;
  last_read_seq: number;
}

/** Every Web Push payload (unknown kinds may come from newer servers: ignore them). */
export type WebPushPayload = WebPushMessage | WebPushClear;

/** A per-room cursor of `sync` (§6.6). */
export interface SyncCursor {
  room_id: number;
  seq: number;
}

/** The highest `change_seq` held of a room, for `sync` (§6.6). */
export interface ChangeCursor {
  room_id: number;
  change_seq: number;
}

/** Extra keys of `send` for files, images, file links and replies (§6.9). */
export interface SendExtras {
  kind?: 'text' | 'image' | 'file' | 'file_link';
  file?: FileInfo;
  file_link?: { room_id: number; seq: number };
  reply_to?: number;
}

/** Arguments of `send` (§6.4, §6.9). */
export interface SendArgs extends SendExtras {
  room_id: number;
  client_msg_id: string;
  body: string;
}

/** Every operation of §6 with its args and result. `args: undefined` = the op takes no args. */
/** The filters of `SendjayClient.searchAll` (§6.11 `search_all`); each one narrows the search. */
export interface SearchAllFilters {
  /** Only these rooms (each one the user is in); absent: all of them. */
  roomIds?: number[];
  /** Only this user's messages. */
  senderId?: string;
  /** Only messages sent at or after this time (ms since 1970). */
  afterMs?: number;
  /** Only messages sent before this time. */
  beforeMs?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  /** Page size, 1 … 500 (default 50). */
  limit?: number;
}

export interface Ops {
  ping: { args: undefined; result: { op: 'ping'; server_time_ms: number } };
  list_rooms: { args: undefined; result: { op: 'list_rooms'; rooms: RoomSummary[] } };
  history: {
    args: { room_id: number; before_seq?: number; limit?: number };
    result: { op: 'history'; room_id: number; messages: Message[]; has_more: boolean };
  };
  send: { args: SendArgs; result: { op: 'send'; message: Message; duplicate: boolean } };
  mark_read: {
    args: { room_id: number; seq?: number };
    result: { op: 'mark_read'; room_id: number; last_read_seq: number; unread: number };
  };
  sync: {
    args: { cursors?: SyncCursor[]; limit?: number; changes?: ChangeCursor[] };
    /** `updates`: held messages (at or below the cursor) changed after the change cursor (absent from older nodes). */
    result: { op: 'sync'; messages: Message[]; rooms: RoomSummary[]; has_more: boolean; updates?: Message[] };
  };
  open_direct: { args: { user_id: string }; result: { op: 'open_direct'; room: RoomSummary; created: boolean } };
  create_group: {
    args: { name?: string; user_ids: string[] };
    /** `existing`: a group room with exactly these members was returned instead of a new one (absent from older nodes). */
    result: { op: 'create_group'; room: RoomSummary; existing?: boolean };
  };
  create_channel: { args: { name: string; unit_id?: string }; result: { op: 'create_channel'; room: RoomSummary } };
  list_channels: {
    args: { query?: string; after?: { name: string; room_id: number }; limit?: number };
    result: { op: 'list_channels'; channels: Channel[]; has_more: boolean };
  };
  join_channel: { args: { room_id: number }; result: { op: 'join_channel'; room: RoomSummary; joined: boolean } };
  invite: {
    args: { room_id: number; user_ids: string[] };
    result: { op: 'invite'; room_id: number; added: string[]; message: Message };
  };
  leave: { args: { room_id: number }; result: { op: 'leave'; room_id: number } };
  remove_member: {
    args: { room_id: number; user_id: string };
    result: { op: 'remove_member'; room_id: number; user_id: string; message: Message };
  };
  rename_room: {
    args: { room_id: number; name: string };
    result: { op: 'rename_room'; room_id: number; name: string; message: Message };
  };
  set_room_options: {
    args: { room_id: number; members_hidden: boolean };
    result: { op: 'set_room_options'; room_id: number; members_hidden: boolean; message: Message };
  };
  set_room_prefs: {
    args: { room_id: number; nickname?: string; notifications?: boolean };
    result: { op: 'set_room_prefs'; room_id: number; nickname: string; notifications: boolean };
  };
  room_members: {
    args: { room_id: number; after?: string; limit?: number };
    result: { op: 'room_members'; room_id: number; members: RoomMember[]; has_more: boolean };
  };
  forward: {
    args: { room_id: number; seq: number; to_room_id: number; client_msg_id: string };
    result: { op: 'forward'; message: Message; duplicate: boolean };
  };
  revoke: { args: { room_id: number; seq: number }; result: { op: 'revoke'; room_id: number; seq: number } };
  add_reaction: { args: { room_id: number; seq: number; emoji: string }; result: { op: 'add_reaction'; message: Message; changed: boolean } };
  remove_reaction: { args: { room_id: number; seq: number; emoji: string }; result: { op: 'remove_reaction'; message: Message; changed: boolean } };
  reactors: {
    args: { room_id: number; seq: number; emoji: string };
    result: { op: 'reactors'; room_id: number; seq: number; emoji: string; user_ids: string[]; count: number };
  };
  edit_message: {
    args: { room_id: number; seq: number; body: string };
    result: { op: 'edit_message'; message: Message; edited: boolean };
  };
  delete_for_me: {
    args: { room_id: number; seq: number };
    result: { op: 'delete_for_me'; room_id: number; seq: number };
  };
  open_room: {
    args: { room_id: number; limit?: number };
    result: {
      op: 'open_room';
      room: RoomSummary;
      messages: Message[];
      unread_counts: SeqCount[];
      has_more: boolean;
    };
  };
  unread_counts: {
    args: { room_id: number; seqs: number[] };
    result: { op: 'unread_counts'; room_id: number; counts: SeqCount[] };
  };
  unread_members: {
    args: { room_id: number; seq: number };
    result: { op: 'unread_members'; room_id: number; seq: number; user_ids: string[] };
  };
  search: {
    args: {
      room_id: number;
      query?: string;
      sender_id?: string;
      kind?: 'image' | 'file' | 'link';
      before_seq?: number;
      limit?: number;
    };
    result: { op: 'search'; room_id: number; messages: Message[]; has_more: boolean };
  };
  search_all: {
    args: {
      query: string;
      room_ids?: number[];
      sender_id?: string;
      after_ms?: number;
      before_ms?: number;
      cursor?: string;
      limit?: number;
    };
    result: { op: 'search_all'; messages: Message[]; has_more: boolean; next_cursor?: string };
  };
  org_units: { args: { parent_id?: string }; result: { op: 'org_units'; parent_id: string | null; units: OrgUnit[] } };
  unit_members: {
    args: { unit_id: string; after?: string; limit?: number };
    result: { op: 'unit_members'; unit_id: string; users: UserProfile[]; has_more: boolean };
  };
  search_users: { args: { query: string; limit?: number }; result: { op: 'search_users'; users: UserProfile[] } };
  get_users: { args: { user_ids: string[] }; result: { op: 'get_users'; users: UserProfile[] } };
  update_profile: {
    args: {
      nickname?: string;
      job?: string;
      phone?: string;
      absence_text?: string;
      absence_code?: string;
      absence_from?: string;
      absence_to?: string;
    };
    result: { op: 'update_profile'; user: UserProfile };
  };
  presence: { args: { user_ids: string[] }; result: { op: 'presence'; users: PresenceInfo[] } };
  watch_presence: { args: { user_ids: string[] }; result: { op: 'watch_presence'; users: PresenceInfo[] } };
  set_mobile_installed: { args: { installed: boolean }; result: { op: 'set_mobile_installed'; installed: boolean } };
  typing: { args: { room_id: number }; result: { op: 'typing'; room_id: number } };
  get_settings: { args: undefined; result: { op: 'get_settings'; settings: Settings } };
  set_settings: {
    args: Partial<Omit<Settings, 'notify_from' | 'notify_to'>> & { notify_from?: string; notify_to?: string };
    result: { op: 'set_settings'; settings: Settings };
  };
  push_config: { args: undefined; result: { op: 'push_config' } & PushConfig };
  push_subscribe: { args: PushSubscribeArgs; result: { op: 'push_subscribe'; provider: PushProvider } };
  push_unsubscribe: { args: undefined; result: { op: 'push_unsubscribe'; removed: boolean } };
  set_foreground: { args: { foreground: boolean }; result: { op: 'set_foreground'; foreground: boolean } };
  reset_passkey: { args: { user_id?: string }; result: { op: 'reset_passkey'; user_id: string } };
  logout: { args: undefined; result: { op: 'logout' } };
  retire_user: { args: { user_id: string }; result: { op: 'retire_user'; user_id: string; retired_at_ms: number } };
  clear_room: { args: { room_id: number }; result: { op: 'clear_room'; room_id: number; cleared_seq: number } };
  save_message: { args: MessageRef; result: { op: 'save_message'; room_id: number; seq: number; saved: boolean } };
  unsave_message: { args: MessageRef; result: { op: 'unsave_message'; room_id: number; seq: number; saved: boolean } };
  list_saved: {
    args: { before?: MessageRef; limit?: number };
    result: { op: 'list_saved'; messages: Message[]; has_more: boolean };
  };
  pin_message: {
    args: MessageRef;
    result: { op: 'pin_message'; room_id: number; seq: number; pinned: boolean; message: Message | null };
  };
  unpin_message: {
    args: MessageRef;
    result: { op: 'unpin_message'; room_id: number; seq: number; pinned: boolean; message: Message | null };
  };
  list_pins: { args: { room_id: number }; result: { op: 'list_pins'; room_id: number; pins: Pin[] } };
}

/** The name of an operation. */
export type OpName = keyof Ops;
/** The args of an operation (`undefined` when it takes none). */
export type OpArgs<O extends OpName> = Ops[O]['args'];
/** The reply `result` of an operation. */
export type OpResult<O extends OpName> = Ops[O]['result'];

/** Every push of §7, by its `event`. */
export type Push =
  | { event: 'message'; message: Message }
  | { event: 'read'; room_id: number; user_id: string; last_read_seq: number }
  | { event: 'evicted'; reason: string }
  | { event: 'reconnect'; after_ms: number; reason: string }
  | { event: 'sync_needed'; reason: string }
  | { event: 'revoked'; room_id: number; seq: number }
  | { event: 'hidden'; room_id: number; seq: number }
  | { event: 'edited'; message: Message }
  | ReactionEvent
  | { event: 'typing'; room_id: number; user_id: string }
  | { event: 'presence'; user_id: string; web: boolean; mobile: boolean }
  | AbsenceEvent
  | { event: 'room_prefs'; room_id: number; nickname: string; notifications: boolean }
  | { event: 'settings'; settings: Settings }
  | { event: 'room_cleared'; room_id: number; cleared_seq: number }
  | { event: 'saved'; room_id: number; seq: number; saved: boolean };

/** A watched person's absence status changed (`watchPresence`): the status now. */
export interface AbsenceEvent {
  event: 'absence';
  user_id: string;
  absence_code: string;
  absence_text: string;
  absence_from: string | null;
  absence_to: string | null;
}

/** The `event` name of a push. */
export type PushEvent = Push['event'];

/** A request frame (§5.1). */
export interface RequestFrame {
  id: number;
  op: string;
  args?: unknown;
}

/** A server frame (§5.2, §7) after decoding. Unknown push events come through as `{event: string}`. */
export type ServerFrame =
  | { kind: 'reply'; id: number; result: { op: string } & Record<string, unknown> }
  | { kind: 'error'; id: number | null; code: string; message: string }
  | { kind: 'push'; push: { event: string } & Record<string, unknown> };

/** The error codes of §8. Unknown codes are kept as strings. */
export type ErrorCode =
  | 'bad_frame'
  | 'frame_too_large'
  | 'unknown_op'
  | 'bad_args'
  | 'not_member'
  | 'not_found'
  | 'forbidden'
  | 'conflict'
  | 'database_unavailable'
  | 'internal'
  | 'rate_limited'
  | (string & {});

/** Codes after which the same request may succeed later (§8). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['database_unavailable', 'internal']);

/** The device class of a login (§11). The web client always logs in as `web`. */
export type Device = 'web' | 'mobile';

/** The reply of `POST /v1/login` (§2.1). */
export interface LoginResult {
  token: string;
  user_id: string;
  device: Device;
  /** When `token` expires, Unix seconds. */
  expires_at: number;
  node: NodeAddress;
  /** The installation's id; send it with the next login of this browser (§2.1). */
  device_id: string;
  /** Renews `token` once (§2.5); secret: it is the sign-in. */
  refresh_token: string;
  /** When the sign-in ends unless renewed, Unix seconds. */
  refresh_expires_at: number;
}

/** The sign-in methods a router offers (`GET /v1/auth/methods`, §2.9). */
export interface AuthMethods {
  password: boolean;
  /** Single sign-on with the company's OpenID provider; `null` when it is not configured. */
  sso: { label: string; start: string } | null;
}

/** A node the router assigned (§2.1, §2.2). */
export interface NodeAddress {
  id: string;
  url: string;
}

/** The launch mode of a connection (§11). */
export type LaunchMode = 'manual' | 'auto';
