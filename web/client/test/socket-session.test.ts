import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { WebSocketConstructor } from '../src/connection.js';
import { RouterApi } from '../src/router.js';
import { SocketSession } from '../src/socket-session.js';
import type { ConnectionState } from '../src/transport.js';
import { TestNode, until } from './support/test-node.js';

const WS = WebSocket as unknown as WebSocketConstructor;

describe('SocketSession: reconnect decisions', () => {
  let node: TestNode;
  let session: SocketSession;
  let states: ConnectionState[];
  beforeEach(async () => {
    node = await TestNode.start();
    states = [];
  });
  afterEach(async () => {
    session.close();
    await node.stop();
  });

  const start = (launch: 'manual' | 'auto' = 'manual', backoff: { random?: () => number; backoffBaseMs?: number } = {}): SocketSession => {
    session = new SocketSession({
      token: 'alice',
      router: new RouterApi({ baseUrl: 'http://router.test', fetch: node.fetch }),
      node: { id: 'n-test', url: node.url },
      launch,
      connection: { WebSocket: WS },
      backoffBaseMs: 50,
      ...backoff,
    });
    session.subscribe({ push: () => undefined, state: (s) => states.push(s) });
    session.start();
    return session;
  };

  it('is online only after the first answer, and the first connection uses the login node', async () => {
    start();
    await until(() => session.state.status === 'online');
    expect(states.map((s) => s.status)).toEqual(['online']);
    expect(node.assignCalls).toBe(0);
    expect(node.requests[0]?.op).toBe('ping');
  });

  it.each([
    [4001, 'auth_failed'],
    [4002, 'token_expired'],
    [4003, 'token_revoked'],
    [4004, 'user_unavailable'],
    [4010, 'logged_out'],
    [4011, 'already_running'],
  ])('close %i ends with %s and never reconnects by itself', async (code, reason) => {
    start();
    await until(() => session.state.status === 'online');
    node.closeUser('alice', code);
    await until(() => session.state.status === 'ended');
    expect(session.state).toMatchObject({ status: 'ended', reason, closeCode: code });
    await new Promise((r) => setTimeout(r, 300));
    expect(node.connections).toHaveLength(1);
    expect(node.assignCalls).toBe(0);
  });

  it('an eviction shows the push reason ("signed in elsewhere") and stays ended', async () => {
    start();
    await until(() => session.state.status === 'online');
    node.push('alice', { event: 'evicted', reason: 'signed in again on another web device' });
    node.closeUser('alice', 4005, 'evicted: newer login');
    await until(() => session.state.status === 'ended');
    expect(session.state).toMatchObject({ reason: 'evicted', message: 'signed in again on another web device' });
    await expect(session.request('ping', undefined)).rejects.toThrow(/session has ended/);
    await new Promise((r) => setTimeout(r, 300));
    expect(node.connections).toHaveLength(1);
  });

  it('after already_running (launch=auto), useHere connects with launch=manual', async () => {
    start('auto');
    await until(() => session.state.status === 'online');
    node.closeUser('alice', 4011, 'already_running: a session runs');
    await until(() => session.state.status === 'ended');
    session.useHere();
    await until(() => session.state.status === 'online');
    expect(node.connections.map((c) => c.launch)).toEqual(['auto', 'manual']);
  });

  it('4006 asks the router again at once', async () => {
    start();
    await until(() => session.state.status === 'online');
    node.closeUser('alice', 4006, 'wrong_node: n-other');
    await until(() => node.connections.length === 2 && session.state.status === 'online');
    expect(node.assignCalls).toBe(1);
    const statuses = states.map((s) => s.status);
    expect(statuses).toEqual(['online', 'reconnecting', 'online']);
  });

  it('a lost socket reconnects with backoff through the router; `since` marks the start of the outage', async () => {
    start();
    await until(() => session.state.status === 'online');
    const before = Date.now();
    node.crash();
    // From the recorded states: a zero-jitter backoff can be back online before a poll sees `reconnecting`.
    const reconnecting = () => states.find((s): s is Extract<ConnectionState, { status: 'reconnecting' }> => s.status === 'reconnecting');
    await until(() => reconnecting() !== undefined);
    const lost = reconnecting() as Extract<ConnectionState, { status: 'reconnecting' }>;
    expect(lost.since).toBeGreaterThanOrEqual(before);
    expect(lost.lastCloseCode).toBe(1006);
    await until(() => session.state.status === 'online');
    expect(node.assignCalls).toBe(1);
  });

  it('a `reconnect` push (drain) moves after after_ms through the router', async () => {
    start();
    await until(() => session.state.status === 'online');
    const t0 = Date.now();
    node.push('alice', { event: 'reconnect', after_ms: 200, reason: 'node draining' });
    await until(() => node.connections.length === 2 && session.state.status === 'online');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(node.assignCalls).toBe(1);
  });

  it('requests made while reconnecting wait for the new connection', async () => {
    // No jitter: the first retry waits the whole 500 ms, so the request below is surely made while reconnecting.
    start('manual', { random: () => 1, backoffBaseMs: 500 });
    await until(() => session.state.status === 'online');
    node.crash();
    await until(() => session.state.status === 'reconnecting');
    expect(node.connections).toHaveLength(1);
    const result = (await session.request('ping', undefined, 5000)) as { op: string };
    expect(result.op).toBe('ping');
  });

  it('a router 401 during reconnect ends the session (log in again) instead of looping', async () => {
    session = new SocketSession({
      token: 'alice',
      router: new RouterApi({ fetch: () => Promise.resolve({ status: 401, ok: false, text: () => Promise.resolve('{"error":"invalid_token","message":"expired"}') }) }),
      connection: { WebSocket: WS },
    });
    session.start();
    await until(() => session.state.status === 'ended');
    expect(session.state).toMatchObject({ reason: 'auth_failed' });
  });
});
