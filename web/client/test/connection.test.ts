import { encode } from '@msgpack/msgpack';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE_HEARTBEAT_LOST, CLOSE_PROTOCOL_VIOLATION, Connection, type RawPush, type WebSocketConstructor } from '../src/connection.js';
import { ConnectionClosedError, RequestTimeoutError, ServerError } from '../src/errors.js';
import { TestNode, until } from './support/test-node.js';

const WS = WebSocket as unknown as WebSocketConstructor;

describe('Connection', () => {
  let node: TestNode;
  let pushes: RawPush[];
  let closes: number[];
  beforeEach(async () => {
    node = await TestNode.start();
    node.addRoom(7, ['alice', 'bob'], 3);
    pushes = [];
    closes = [];
  });
  afterEach(() => node.stop());

  const open = (opts: Partial<{ requestTimeoutMs: number; heartbeatIntervalMs: number; heartbeatTimeoutMs: number }> = {}): Connection =>
    new Connection(node.url, 'alice', 'auto', (p) => pushes.push(p), (c) => closes.push(c), { WebSocket: WS, ...opts });

  it('puts the token in the subprotocol (never the URL) and the launch mode in the query', async () => {
    const c = open();
    await c.opened;
    await until(() => node.peers.length === 1);
    expect(node.connections).toEqual([{ user: 'alice', launch: 'auto' }]);
    expect(node.peers[0]?.url).toBe('/v1/ws?launch=auto');
    c.close();
  });

  it('matches pipelined answers to their requests', async () => {
    const c = open();
    await c.opened;
    const [a, b, h] = await Promise.all([
      c.request('ping', undefined),
      c.request('mark_read', { room_id: 7, seq: 2 }),
      c.request('history', { room_id: 7, limit: 2 }),
    ]);
    expect(a.op).toBe('ping');
    expect(b).toEqual({ op: 'mark_read', room_id: 7, last_read_seq: 2, unread: 1 });
    expect(h.messages.map((m) => m.seq)).toEqual([3, 2]);
    c.close();
  });

  it('turns error answers into ServerError with the protocol code', async () => {
    const c = open();
    await c.opened;
    const err = await c.request('history', { room_id: 99 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).code).toBe('not_found');
    expect((err as ServerError).retryable).toBe(false);
    c.close();
  });

  it('gives an error with nil id to the oldest request waiting (§5.2)', async () => {
    const c = open();
    await c.opened;
    node.faults.silent = true;
    const first = c.request('ping', undefined).catch((e: unknown) => e);
    const second = c.request('ping', undefined, 300).catch((e: unknown) => e);
    await until(() => node.requests.length === 2);
    node.peers[0]?.socket.send(encode({ kind: 'error', id: null, code: 'bad_frame', message: 'x' }));
    expect(((await first) as ServerError).code).toBe('bad_frame');
    expect(await second).toBeInstanceOf(RequestTimeoutError);
    c.close();
  });

  it('times out a request without an answer, and drops a late answer', async () => {
    const c = open({ requestTimeoutMs: 100 });
    await c.opened;
    node.faults.silent = true;
    const err = await c.request('ping', undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    node.peers[0]?.socket.send(encode({ kind: 'reply', id: 1, result: { op: 'ping', server_time_ms: 1 } }));
    node.faults.silent = false;
    expect((await c.request('ping', undefined)).op).toBe('ping');
    c.close();
  });

  it('hands pushes on and fails pending requests with the close code', async () => {
    const c = open();
    await c.opened;
    node.push('alice', { event: 'typing', room_id: 7, user_id: 'bob' });
    await until(() => pushes.length === 1);
    expect(pushes[0]).toEqual({ event: 'typing', room_id: 7, user_id: 'bob' });
    node.faults.silent = true;
    const pending = c.request('ping', undefined).catch((e: unknown) => e);
    await until(() => node.requests.length === 1);
    node.closeUser('alice', 4005, 'evicted: newer login');
    const err = await pending;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as ConnectionClosedError).closeCode).toBe(4005);
    expect(closes).toEqual([4005]);
  });

  it('declares the connection dead when the heartbeat ping gets no answer', async () => {
    const c = open({ heartbeatIntervalMs: 100, heartbeatTimeoutMs: 150 });
    await c.opened;
    node.faults.silent = true;
    await until(() => closes.length === 1, 3000, 'heartbeat close');
    expect(closes).toEqual([CLOSE_HEARTBEAT_LOST]);
    expect(node.requests.some((r) => r.op === 'ping')).toBe(true);
  });

  it('keeps a connection that answers its heartbeats', async () => {
    const c = open({ heartbeatIntervalMs: 50, heartbeatTimeoutMs: 100 });
    await c.opened;
    await new Promise((r) => setTimeout(r, 400));
    expect(closes).toEqual([]);
    expect(node.requests.filter((r) => r.op === 'ping').length).toBeGreaterThan(2);
    c.close();
  });

  it('drops the connection on a frame that breaks the protocol (an integer beyond 2^53)', async () => {
    const c = open();
    await c.opened;
    node.peers[0]?.socket.send(encode({ kind: 'push', push: { event: 'read', room_id: 2n ** 60n } }, { useBigInt64: true }));
    await until(() => closes.length === 1);
    expect(closes).toEqual([CLOSE_PROTOCOL_VIOLATION]);
    expect(pushes).toEqual([]);
  });
});
