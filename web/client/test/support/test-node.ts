// A small in-process sendjay node for unit tests: a real WebSocket server (`ws`) on an ephemeral loopback port that
// speaks the MessagePack frames of docs/protocol.md with an in-memory model of rooms, seqs and idempotent sends.
// Tests script faults on it (lost pushes, closes with codes, commits whose reply never leaves). The real cluster is
// exercised by cluster.integration.test.ts.

import { decode, encode } from '@msgpack/msgpack';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import type { Message, RoomSummary } from '../../src/protocol.js';
import type { LoginResult } from '../../src/protocol.js';
import type { FetchLike } from '../../src/router.js';
import { msg } from './messages.js';

type Args = Record<string, unknown>;

interface Room {
  id: number;
  members: Set<string>;
  messages: Message[];
  read: Map<string, number>;
}

/** What a test can do to the next requests. */
export interface Faults {
  /** Pushes of `message` are not sent (as if Redis lost them). */
  dropMessagePushes: boolean;
  /** The next N sends answer database_unavailable without storing. */
  failSends: number;
  /** The next send is committed, then the socket is dropped before the reply. */
  dropAfterCommit: boolean;
  /** Requests are not answered at all (a hung node). */
  silent: boolean;
  /** Sends to these rooms answer not_member. */
  notMemberRooms: Set<number>;
}

/** A connected client as the test node sees it. */
export interface Peer {
  user: string;
  socket: WebSocket;
  url: string;
}

/** The in-process node. */
export class TestNode {
  readonly rooms = new Map<number, Room>();
  readonly peers: Peer[] = [];
  /** Every connection ever accepted (user + launch mode). */
  readonly connections: { user: string; launch: string }[] = [];
  /** Every request received, by op. */
  readonly requests: { user: string; op: string; args: Args | undefined }[] = [];
  readonly faults: Faults = { dropMessagePushes: false, failSends: 0, dropAfterCommit: false, silent: false, notMemberRooms: new Set() };
  /** Calls of the router's /v1/assign made through `fetch`. */
  assignCalls = 0;
  private server!: WebSocketServer;
  private port = 0;

  static async start(): Promise<TestNode> {
    const node = new TestNode();
    node.server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => (protocols.has('sendjay.v1') ? 'sendjay.v1' : false) });
    await new Promise<void>((resolve) => node.server.once('listening', () => resolve()));
    node.port = (node.server.address() as AddressInfo).port;
    node.server.on('connection', (socket, request) => node.accept(socket, request.url ?? '', request.headers['sec-websocket-protocol'] ?? ''));
    return node;
  }

  /** The WebSocket URL of this node. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/ws`;
  }

  /** A router `fetch` that assigns every token to this node (and counts the calls). */
  readonly fetch: FetchLike = (input) => {
    if (input.endsWith('/v1/assign')) this.assignCalls += 1;
    return Promise.resolve({ status: 200, ok: true, text: () => Promise.resolve(JSON.stringify({ node: { id: 'n-test', url: this.url } })) });
  };

  /** Adds a group room with members and `count` messages from `bob`. */
  addRoom(id: number, members: string[], count = 0): void {
    const room: Room = { id, members: new Set(members), messages: [], read: new Map(members.map((m) => [m, 0])) };
    this.rooms.set(id, room);
    for (let i = 0; i < count; i++) this.store(room, 'bob', `seed-${id}-${i}`, `seed ${i + 1}`);
  }

  /** Stores a message from `sender` (and pushes it to the members' sessions unless pushes are dropped). */
  post(roomId: number, sender: string, body: string): Message {
    const room = this.rooms.get(roomId);
    if (room === undefined) throw new Error(`no room ${roomId}`);
    const m = this.store(room, sender, `srv-${roomId}-${room.messages.length + 1}`, body);
    this.pushMessage(room, m);
    return m;
  }

  /** Sends a push to every session of `user`. */
  push(user: string, push: Record<string, unknown>): void {
    for (const p of this.peers) if (p.user === user) p.socket.send(encode({ kind: 'push', push }));
  }

  /** Closes every session of `user` with `code`. */
  closeUser(user: string, code: number, reason = 'test'): void {
    for (const p of this.peers) if (p.user === user) p.socket.close(code, reason);
  }

  /** Drops every connection without a close frame (a crashed node). */
  crash(): void {
    for (const p of this.peers) p.socket.terminate();
  }

  /** Messages of a room as stored. */
  stored(roomId: number): Message[] {
    return this.rooms.get(roomId)?.messages ?? [];
  }

  async stop(): Promise<void> {
    for (const p of this.peers) p.socket.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: WebSocket, url: string, protocolHeader: string): void {
    const token = protocolHeader
      .split(',')
      .map((s) => s.trim())
      .find((s) => s.startsWith('sendjay.token.'));
    const user = token?.slice('sendjay.token.'.length) ?? '';
    const launch = new URL(url, 'http://x').searchParams.get('launch') ?? 'manual';
    this.connections.push({ user, launch });
    const peer: Peer = { user, socket, url };
    this.peers.push(peer);
    socket.on('close', () => this.peers.splice(this.peers.indexOf(peer), 1));
    socket.on('message', (data: Buffer) => this.handle(peer, data));
  }

  private handle(peer: Peer, data: Buffer): void {
    const frame = decode(data) as { id: number; op: string; args?: Args };
    this.requests.push({ user: peer.user, op: frame.op, args: frame.args });
    if (this.faults.silent) return;
    const reply = (result: Record<string, unknown>): void => peer.socket.send(encode({ kind: 'reply', id: frame.id, result: { op: frame.op, ...result } }));
    const error = (code: string): void => peer.socket.send(encode({ kind: 'error', id: frame.id, code, message: `test node: ${code}` }));
    const args = frame.args ?? {};
    switch (frame.op) {
      case 'ping':
        return reply({ server_time_ms: Date.now() });
      case 'sync': {
        const cursors = (args['cursors'] as { room_id: number; seq: number }[] | undefined) ?? [];
        const limit = (args['limit'] as number | undefined) ?? 500;
        const out: Message[] = [];
        let more = false;
        for (const c of [...cursors].sort((a, b) => a.room_id - b.room_id)) {
          const room = this.rooms.get(c.room_id);
          if (room === undefined || !room.members.has(peer.user)) continue;
          for (const m of room.messages) {
            if (m.seq <= c.seq) continue;
            if (out.length >= limit) {
              more = true;
              break;
            }
            out.push(m);
          }
        }
        return reply({ messages: out, rooms: this.summaries(peer.user), has_more: more });
      }
      case 'list_rooms':
        return reply({ rooms: this.summaries(peer.user) });
      case 'history': {
        const room = this.rooms.get(args['room_id'] as number);
        if (room === undefined) return error('not_found');
        const before = (args['before_seq'] as number | undefined) ?? Number.POSITIVE_INFINITY;
        const limit = (args['limit'] as number | undefined) ?? 50;
        const older = room.messages.filter((m) => m.seq < before).reverse();
        return reply({ room_id: room.id, messages: older.slice(0, limit), has_more: older.length > limit });
      }
      case 'open_room': {
        const room = this.rooms.get(args['room_id'] as number);
        if (room === undefined) return error('not_found');
        room.read.set(peer.user, room.messages.length);
        const limit = (args['limit'] as number | undefined) ?? 50;
        const newest = [...room.messages].reverse().slice(0, limit);
        return reply({
          room: this.summary(room, peer.user),
          messages: newest,
          unread_counts: newest.map((m) => ({ seq: m.seq, unread: this.unreadOf(room, m) })),
          has_more: room.messages.length > limit,
        });
      }
      case 'mark_read': {
        const room = this.rooms.get(args['room_id'] as number);
        if (room === undefined) return error('not_found');
        const seq = Math.min((args['seq'] as number | undefined) ?? room.messages.length, room.messages.length);
        const cursor = Math.max(room.read.get(peer.user) ?? 0, seq);
        room.read.set(peer.user, cursor);
        return reply({ room_id: room.id, last_read_seq: cursor, unread: room.messages.length - cursor });
      }
      case 'send': {
        const room = this.rooms.get(args['room_id'] as number);
        if (room === undefined) return error('not_found');
        if (this.faults.notMemberRooms.has(room.id) || !room.members.has(peer.user)) return error('not_member');
        if (this.faults.failSends > 0) {
          this.faults.failSends -= 1;
          return error('database_unavailable');
        }
        const cmid = args['client_msg_id'] as string;
        const existing = room.messages.find((m) => m.sender_id === peer.user && m.client_msg_id === cmid);
        if (existing !== undefined) {
          this.pushMessage(room, existing);
          return reply({ message: existing, duplicate: true });
        }
        const m = this.store(room, peer.user, cmid, args['body'] as string);
        if (this.faults.dropAfterCommit) {
          this.faults.dropAfterCommit = false;
          peer.socket.terminate();
          return;
        }
        this.pushMessage(room, m);
        return reply({ message: m, duplicate: false });
      }
      case 'unread_counts': {
        const room = this.rooms.get(args['room_id'] as number);
        if (room === undefined) return error('not_found');
        const seqs = [...new Set(args['seqs'] as number[])].sort((a, b) => a - b);
        const counts = seqs.flatMap((s) => {
          const m = room.messages[s - 1];
          return m === undefined ? [] : [{ seq: s, unread: this.unreadOf(room, m) }];
        });
        return reply({ room_id: room.id, counts });
      }
      case 'typing':
        return reply({ room_id: args['room_id'] });
      case 'logout':
        reply({});
        peer.socket.close(4010, 'logged_out: bye');
        return;
      default:
        return error('unknown_op');
    }
  }

  private store(room: Room, sender: string, cmid: string, body: string): Message {
    const m: Message = { ...msg(room.id, room.messages.length + 1), client_msg_id: cmid, sender_id: sender, body, created_at_ms: Date.now() };
    room.messages.push(m);
    room.read.set(sender, m.seq);
    return m;
  }

  private pushMessage(room: Room, m: Message): void {
    if (this.faults.dropMessagePushes) return;
    for (const p of this.peers) if (room.members.has(p.user)) p.socket.send(encode({ kind: 'push', push: { event: 'message', message: m } }));
  }

  private unreadOf(room: Room, m: Message): number {
    let n = 0;
    for (const u of room.members) if (u !== m.sender_id && (room.read.get(u) ?? 0) < m.seq) n++;
    return n;
  }

  private summary(room: Room, user: string): RoomSummary {
    const last = room.messages[room.messages.length - 1] ?? null;
    const read = room.read.get(user) ?? 0;
    return {
      room_id: room.id,
      kind: 'group',
      name: `room ${room.id}`,
      last_seq: room.messages.length,
      last_read_seq: read,
      unread: Math.max(room.messages.length - read, 0),
      last_activity_ms: last?.created_at_ms ?? 0,
      last_message: last,
      nickname: '',
      notifications: true,
      member_count: room.members.size,
      peer_id: null,
    };
  }

  private summaries(user: string): RoomSummary[] {
    return [...this.rooms.values()].filter((r) => r.members.has(user)).map((r) => this.summary(r, user));
  }
}

/** A LoginResult whose token is the user id (the test node reads it back from the subprotocol). */
export function loginFor(user: string, node: TestNode): LoginResult {
  const now = Math.floor(Date.now() / 1000);
  // No refresh token: these sessions never renew (credentials.test.ts covers renewal).
  return { token: user, user_id: user, device: 'web', expires_at: now + 3600, node: { id: 'n-test', url: node.url }, device_id: 'test-device', refresh_token: '', refresh_expires_at: now + 86_400 };
}

/** Waits until `check` is true (polling every 10 ms), or fails after `ms`. */
export async function until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
