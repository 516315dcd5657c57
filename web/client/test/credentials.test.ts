import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { WebSocketConstructor } from '../src/connection.js';
import { Credentials } from '../src/credentials.js';
import type { LoginResult } from '../src/protocol.js';
import { RouterApi, type FetchLike } from '../src/router.js';
import { SocketSession } from '../src/socket-session.js';
import { TestNode, loginFor, until } from './support/test-node.js';

const WS = WebSocket as unknown as WebSocketConstructor;

/** A router that renews `refresh-N` into `refresh-N+1` (and refuses used ones as the real router does). */
function refreshingRouter(node: TestNode | undefined, answer: (refresh: string) => { status: number; body: unknown }): { fetch: FetchLike; calls: string[] } {
  const calls: string[] = [];
  const fetch: FetchLike = (input, init) => {
    if (input.endsWith('/v1/refresh')) {
      const refresh = (JSON.parse(init?.body ?? '{}') as { refresh_token: string }).refresh_token;
      calls.push(refresh);
      const { status, body } = answer(refresh);
      return Promise.resolve({ status, ok: status < 300, text: () => Promise.resolve(JSON.stringify(body)) });
    }
    if (node === undefined) return Promise.reject(new Error('no node'));
    return node.fetch(input, init);
  };
  return { fetch, calls };
}

function renewed(login: LoginResult, refresh: string): LoginResult {
  const n = Number(refresh.split('-')[1] ?? '0') + 1;
  return { ...login, refresh_token: `refresh-${n}`, expires_at: Math.floor(Date.now() / 1000) + 3600 };
}

describe('Credentials', () => {
  it('renews an expiring token once even when asked twice at once, and reports the new pair', async () => {
    const login: LoginResult = { ...loginFor('alice', { url: 'ws://x' } as TestNode), refresh_token: 'refresh-1', expires_at: Math.floor(Date.now() / 1000) + 10 };
    const router = refreshingRouter(undefined, (r) => ({ status: 200, body: renewed(login, r) }));
    const stored: LoginResult[] = [];
    const credentials = new Credentials(login, new RouterApi({ fetch: router.fetch }), (l) => stored.push(l));
    const [a, b] = await Promise.all([credentials.fresh(), credentials.fresh()]);
    expect([a, b]).toEqual(['alice', 'alice']);
    expect(router.calls).toEqual(['refresh-1']);
    expect(stored.map((l) => l.refresh_token)).toEqual(['refresh-2']);
    // Valid for an hour now: no renewal.
    await credentials.fresh();
    expect(router.calls).toHaveLength(1);
    await credentials.renew();
    expect(router.calls).toEqual(['refresh-1', 'refresh-2']);
  });

  it('a token far from expiry is used as it is; without a refresh token nothing is renewed', async () => {
    const login = loginFor('alice', { url: 'ws://x' } as TestNode);
    const router = refreshingRouter(undefined, () => ({ status: 500, body: {} }));
    const credentials = new Credentials(login, new RouterApi({ fetch: router.fetch }));
    expect(credentials.renewable).toBe(false);
    await expect(credentials.fresh()).resolves.toBe('alice');
    await expect(credentials.renew()).rejects.toMatchObject({ status: 401 });
    expect(router.calls).toHaveLength(0);
  });
});

describe('SocketSession with renewable credentials', () => {
  let node: TestNode;
  let session: SocketSession | undefined;
  beforeEach(async () => {
    node = await TestNode.start();
  });
  afterEach(async () => {
    session?.close();
    await node.stop();
  });

  it('a 4002 close renews the token and reconnects instead of ending', async () => {
    const login: LoginResult = { ...loginFor('alice', node), refresh_token: 'refresh-1' };
    const router = refreshingRouter(node, (r) => ({ status: 200, body: renewed(login, r) }));
    const credentials = new Credentials(login, new RouterApi({ baseUrl: 'http://router.test', fetch: router.fetch }));
    session = new SocketSession({ credentials, router: new RouterApi({ baseUrl: 'http://router.test', fetch: router.fetch }), node: login.node, connection: { WebSocket: WS }, backoffBaseMs: 50 });
    session.start();
    await until(() => session?.state.status === 'online');
    node.closeUser('alice', 4002);
    await until(() => router.calls.length === 1 && session?.state.status === 'online');
    expect(credentials.current.refresh_token).toBe('refresh-2');
    expect(node.connections).toHaveLength(2);
  });

  it('a 4002 close ends the session when the sign-in has ended (refresh refused)', async () => {
    const login: LoginResult = { ...loginFor('alice', node), refresh_token: 'refresh-1' };
    const router = refreshingRouter(node, () => ({ status: 401, body: { error: 'refresh_revoked', message: 'this sign-in was ended (logout); sign in again' } }));
    const credentials = new Credentials(login, new RouterApi({ fetch: router.fetch }));
    session = new SocketSession({ credentials, router: new RouterApi({ fetch: router.fetch }), node: login.node, connection: { WebSocket: WS }, backoffBaseMs: 50 });
    session.start();
    await until(() => session?.state.status === 'online');
    node.closeUser('alice', 4002);
    await until(() => session?.state.status === 'ended');
    expect(session.state).toMatchObject({ status: 'ended', reason: 'token_expired', closeCode: 4002 });
    expect(router.calls).toEqual(['refresh-1']);
  });
});
