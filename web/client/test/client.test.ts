import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SendjayClient } from '../src/client.js';
import type { WebSocketConstructor } from '../src/connection.js';
import { MemoryOutboxStore } from '../src/outbox-store.js';
import type { Message } from '../src/protocol.js';
import { msg } from './support/messages.js';
import { TestNode, loginFor, until } from './support/test-node.js';

const WS = WebSocket as unknown as WebSocketConstructor;

describe('SendjayClient: sync, gaps, de-duplication', () => {
  let node: TestNode;
  let client: SendjayClient;
  let delivered: Message[];
  beforeEach(async () => {
    node = await TestNode.start();
    node.addRoom(7, ['alice', 'bob'], 5);
    node.addRoom(8, ['alice', 'carol'], 0);
    delivered = [];
  });
  afterEach(async () => {
    client.close();
    await node.stop();
  });

  const start = (store = new MemoryOutboxStore()): SendjayClient => {
    client = new SendjayClient({ login: loginFor('alice', node), tabs: false, outbox: store, router: { fetch: node.fetch }, connection: { WebSocket: WS } });
    client.on('message', (m) => delivered.push(m));
    client.start();
    return client;
  };

  it('syncs after connecting: room list with unread and preview, rooms start at their newest message', async () => {
    start();
    await until(() => client.rooms().length === 2, 5000, 'rooms');
    expect(client.state.status).toBe('online');
    const r7 = client.room(7);
    expect(r7).toMatchObject({ last_seq: 5, unread: 5 });
    expect(r7?.last_message?.body).toBe('seed 5');
    expect(client.totalUnread()).toBe(5);
    expect(delivered).toEqual([]); // history is not "new"
    expect(node.requests.find((r) => r.op === 'sync')).toBeDefined();
  });

  it('delivers pushed messages once, in order, and updates the room list', async () => {
    start();
    await until(() => client.rooms().length === 2);
    node.post(8, 'carol', 'hello');
    node.post(8, 'carol', 'again');
    await until(() => delivered.length === 2);
    expect(delivered.map((m) => [m.room_id, m.seq, m.body])).toEqual([
      [8, 1, 'hello'],
      [8, 2, 'again'],
    ]);
    expect(client.rooms()[0]?.room_id).toBe(8);
    expect(client.room(8)).toMatchObject({ last_seq: 2, unread: 2 });
    expect(client.messages(8).map((m) => m.seq)).toEqual([1, 2]);
  });

  it('renames a room in the room list from the rename system message, without a sync', async () => {
    start();
    await until(() => client.rooms().length === 2);
    const syncsBefore = node.requests.filter((r) => r.op === 'sync').length;
    const rename = msg(8, 1, { kind: 'system', sender_id: 'carol', body: 'carol renamed the chat', system: { action: 'rename', actor: 'carol', users: [], name: 'Project Y' } });
    node.push('alice', { event: 'message', message: rename });
    await until(() => delivered.length === 1, 5000, 'the rename message');
    expect(client.room(8)?.name).toBe('Project Y');
    expect(client.rooms().find((r) => r.room_id === 8)?.name).toBe('Project Y');
    expect(node.requests.filter((r) => r.op === 'sync').length).toBe(syncsBefore);
  });

  it('applies a room_options system message to the room list: the member list is hidden, without a sync', async () => {
    start();
    await until(() => client.rooms().length === 2);
    const syncsBefore = node.requests.filter((r) => r.op === 'sync').length;
    const hide = msg(8, 1, {
      kind: 'system',
      sender_id: 'carol',
      body: 'carol hid the member list',
      system: { action: 'room_options', actor: 'carol', users: [], name: null, members_hidden: true },
    });
    node.push('alice', { event: 'message', message: hide });
    await until(() => delivered.length === 1, 5000, 'the room_options message');
    expect(client.room(8)?.members_hidden).toBe(true);
    expect(node.requests.filter((r) => r.op === 'sync').length).toBe(syncsBefore);
  });

  it('fills a gap of lost pushes with sync and still delivers each message once in seq order', async () => {
    start();
    await until(() => client.rooms().length === 2);
    node.faults.dropMessagePushes = true;
    node.post(7, 'bob', 'lost 6');
    node.post(7, 'bob', 'lost 7');
    node.faults.dropMessagePushes = false;
    const syncsBefore = node.requests.filter((r) => r.op === 'sync').length;
    node.post(7, 'bob', 'seen 8'); // seq 8 > cursor 5 + 1: a gap
    await until(() => delivered.length === 3, 5000, 'gap filled');
    expect(delivered.map((m) => m.seq)).toEqual([6, 7, 8]);
    expect(node.requests.filter((r) => r.op === 'sync').length).toBeGreaterThan(syncsBefore);
    // a duplicate push of something held changes nothing
    node.push('alice', { event: 'message', message: node.stored(7)[6] });
    await new Promise((r) => setTimeout(r, 100));
    expect(delivered.map((m) => m.seq)).toEqual([6, 7, 8]);
  });

  it('converges without traffic: a periodic sync fetches messages whose pushes were all lost', async () => {
    client = new SendjayClient({ login: loginFor('alice', node), tabs: false, router: { fetch: node.fetch }, connection: { WebSocket: WS }, periodicSyncMs: 200 });
    client.on('message', (m) => delivered.push(m));
    client.start();
    await until(() => client.rooms().length === 2);
    node.faults.dropMessagePushes = true;
    node.post(8, 'carol', 'silent');
    await until(() => delivered.length === 1, 3000, 'periodic sync');
    expect(delivered[0]?.body).toBe('silent');
  });

  it('looks again when a sync could not fill a gap yet (a push ahead of a commit still in progress)', async () => {
    start();
    await until(() => client.rooms().length === 2);
    // seq 7 is pushed before seq 6 is visible to sync
    node.push('alice', { event: 'message', message: { ...node.stored(7)[0], seq: 7, client_msg_id: 'early', body: 'early' } });
    await new Promise((r) => setTimeout(r, 150));
    expect(delivered).toEqual([]);
    node.faults.dropMessagePushes = true;
    node.post(7, 'bob', 'six');
    node.post(7, 'bob', 'seven');
    await until(() => delivered.length === 2, 5000, 'gap filled by a later sync');
    expect(delivered.map((m) => m.seq)).toEqual([6, 7]);
  });

  it('pages sync until has_more is false', async () => {
    start();
    await until(() => client.rooms().length === 2);
    node.faults.dropMessagePushes = true;
    for (let i = 0; i < 450; i++) node.post(7, 'bob', `bulk ${i}`);
    node.faults.dropMessagePushes = false;
    await client.sync();
    expect(delivered.map((m) => m.seq)).toEqual(Array.from({ length: 450 }, (_, i) => i + 6));
  });

  it('opens a room (newest page + read counts), loads older pages, marks read', async () => {
    start();
    await until(() => client.rooms().length === 2);
    await client.openRoom(7, 3);
    expect(client.messages(7).map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(client.room(7)?.unread).toBe(0);
    expect(client.unreadCount(7, 5)).toBe(0); // bob sent it, alice has read it
    expect(client.hasOlder(7)).toBe(true);
    expect(await client.loadOlder(7, 3)).toBe(false);
    expect(client.messages(7).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(delivered).toEqual([]);
    node.post(7, 'bob', 'new');
    await until(() => client.room(7)?.unread === 1);
    await client.markRead(7);
    expect(client.room(7)?.unread).toBe(0);
  });

  it('updates "not read by N" live: a read push in an open room refreshes the counts of the window', async () => {
    start();
    await until(() => client.rooms().length === 2);
    await client.request('send', { room_id: 7, client_msg_id: 'mine-1', body: 'read me' });
    await client.openRoom(7);
    expect(client.unreadCount(7, 6)).toBe(1); // bob has not read alice's message
    let roomEvents = 0;
    client.on('room', ({ roomId }) => {
      if (roomId === 7) roomEvents++;
    });
    const reads: number[] = [];
    client.on('read', (p) => reads.push(p.last_read_seq));
    node.rooms.get(7)?.read.set('bob', 6);
    node.push('alice', { event: 'read', room_id: 7, user_id: 'bob', last_read_seq: 6 });
    await until(() => client.unreadCount(7, 6) === 0, 3000, 'count refreshed');
    expect(reads).toEqual([6]);
    expect(roomEvents).toBeGreaterThan(0);
    expect(node.requests.some((r) => r.op === 'unread_counts')).toBe(true);
    // a closed room is not refreshed any more
    client.closeRoom(7);
    const before = node.requests.filter((r) => r.op === 'unread_counts').length;
    node.push('alice', { event: 'read', room_id: 7, user_id: 'bob', last_read_seq: 6 });
    await new Promise((r) => setTimeout(r, 500));
    expect(node.requests.filter((r) => r.op === 'unread_counts').length).toBe(before);
  });

  it('passes typing of others on, not its own, and applies revoked / hidden pushes', async () => {
    start();
    await until(() => client.rooms().length === 2);
    await client.openRoom(7);
    const typing: string[] = [];
    client.on('typing', (p) => typing.push(p.user_id));
    node.push('alice', { event: 'typing', room_id: 7, user_id: 'alice' });
    node.push('alice', { event: 'typing', room_id: 7, user_id: 'bob' });
    node.push('alice', { event: 'revoked', room_id: 7, seq: 5 });
    node.push('alice', { event: 'hidden', room_id: 7, seq: 4 });
    await until(() => typing.length === 1 && client.messages(7).find((m) => m.seq === 4)?.hidden === true);
    expect(typing).toEqual(['bob']);
    expect(client.messages(7).find((m) => m.seq === 5)).toMatchObject({ revoked: true, body: '' });
    expect(client.room(7)?.last_message).toMatchObject({ seq: 5, revoked: true, body: '' });
  });

  it('reconnects after a crash and syncs what it missed', async () => {
    start();
    await until(() => client.rooms().length === 2);
    // The push of this message is lost with the socket; only the sync after reconnecting can bring it. (Posting
    // after the crash raced the reconnect: a full-jitter backoff can be back online within a millisecond.)
    node.faults.dropMessagePushes = true;
    node.post(8, 'carol', 'while away');
    node.crash();
    node.faults.dropMessagePushes = false;
    await until(() => delivered.length === 1, 8000, 'synced after reconnect');
    expect(delivered[0]?.body).toBe('while away');
    expect(client.state.status).toBe('online');
    expect(node.assignCalls).toBeGreaterThanOrEqual(1); // the reconnect went through the router
  });
});

describe('SendjayClient: the unsent queue', () => {
  let node: TestNode;
  let client: SendjayClient;
  let delivered: Message[];
  beforeEach(async () => {
    node = await TestNode.start();
    node.addRoom(7, ['alice', 'bob'], 0);
    node.addRoom(8, ['alice', 'bob'], 0);
    delivered = [];
  });
  afterEach(async () => {
    client.close();
    await node.stop();
  });

  const start = (store: MemoryOutboxStore, maxSendAttempts = 10): SendjayClient => {
    client = new SendjayClient({ login: loginFor('alice', node), tabs: false, outbox: store, router: { fetch: node.fetch }, connection: { WebSocket: WS }, maxSendAttempts });
    client.on('message', (m) => delivered.push(m));
    client.start();
    return client;
  };

  it('gives each message its client_msg_id at creation, sends in order, delivers once', async () => {
    const store = new MemoryOutboxStore();
    start(store);
    const a = await client.send(7, 'one');
    const b = await client.send(7, 'two');
    const c = await client.send(8, 'three');
    expect(a.client_msg_id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set([a.client_msg_id, b.client_msg_id, c.client_msg_id]).size).toBe(3);
    await until(() => delivered.length === 3);
    expect(node.stored(7).map((m) => [m.body, m.client_msg_id])).toEqual([
      ['one', a.client_msg_id],
      ['two', b.client_msg_id],
    ]);
    expect(await store.list()).toEqual([]);
    await until(() => client.outbox().length === 0);
    expect(delivered.filter((m) => m.room_id === 7).map((m) => m.body)).toEqual(['one', 'two']);
  });

  it('keeps messages written offline and sends them in order after connecting (a reload keeps them)', async () => {
    const store = new MemoryOutboxStore();
    // written in an earlier page life: only in the store
    await store.put({ client_msg_id: 'id-1', room_id: 7, body: 'first', extras: {}, created_at_ms: 1, status: 'pending', last_error: null, attempts: 0 });
    await store.put({ client_msg_id: 'id-2', room_id: 7, body: 'second', extras: {}, created_at_ms: 2, status: 'pending', last_error: null, attempts: 0 });
    start(store);
    await until(() => node.stored(7).length === 2);
    expect(node.stored(7).map((m) => m.client_msg_id)).toEqual(['id-1', 'id-2']);
    await until(() => delivered.length === 2);
  });

  it('resends with the same client_msg_id when the reply was lost; the server stores it once', async () => {
    const store = new MemoryOutboxStore();
    start(store);
    await until(() => client.state.status === 'online');
    node.faults.dropAfterCommit = true; // committed, then the socket drops before the reply
    const entry = await client.send(7, 'exactly once');
    await until(() => (node.requests.filter((r) => r.op === 'send').length >= 2), 8000, 'resend');
    await until(() => delivered.length === 1);
    const sends = node.requests.filter((r) => r.op === 'send');
    expect(sends.every((s) => s.args?.['client_msg_id'] === entry.client_msg_id)).toBe(true);
    expect(node.stored(7)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(delivered.map((m) => m.body)).toEqual(['exactly once']);
    expect(await store.list()).toEqual([]);
  });

  it('retries database_unavailable with the same id and keeps the room order', async () => {
    const store = new MemoryOutboxStore();
    start(store);
    await until(() => client.state.status === 'online');
    node.faults.failSends = 2;
    await client.send(7, 'a');
    await client.send(7, 'b');
    await until(() => node.stored(7).length === 2, 10_000, 'retried sends');
    expect(node.stored(7).map((m) => m.body)).toEqual(['a', 'b']);
  });

  it('marks permanent failures failed, goes on with the others, and offers retry and discard', async () => {
    const store = new MemoryOutboxStore();
    start(store);
    await until(() => client.state.status === 'online');
    node.faults.notMemberRooms.add(8);
    const bad = await client.send(8, 'nope');
    await client.send(7, 'fine');
    await until(() => node.stored(7).length === 1);
    await until(() => client.outbox().some((e) => e.status === 'failed'));
    expect(client.outbox()).toMatchObject([{ client_msg_id: bad.client_msg_id, status: 'failed', last_error: 'not_member' }]);
    node.faults.notMemberRooms.clear();
    await client.retry(bad.client_msg_id);
    await until(() => node.stored(8).length === 1);
    expect(node.stored(8)[0]?.client_msg_id).toBe(bad.client_msg_id);
    node.faults.notMemberRooms.add(8);
    const other = await client.send(8, 'discard me');
    await until(() => client.outbox().some((e) => e.status === 'failed'));
    await client.discard(other.client_msg_id);
    expect(client.outbox()).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  it('caps retries of a send that keeps failing on the server', async () => {
    const store = new MemoryOutboxStore();
    start(store, 2);
    await until(() => client.state.status === 'online');
    node.faults.failSends = 100;
    await client.send(7, 'stuck');
    await until(() => client.outbox().some((e) => e.status === 'failed'), 10_000, 'failed after cap');
    expect(client.outbox()[0]).toMatchObject({ status: 'failed', last_error: 'database_unavailable', attempts: 2 });
  });
});
