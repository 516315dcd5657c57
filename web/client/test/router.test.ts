import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouterError } from '../src/errors.js';
import { RouterApi } from '../src/router.js';

// A loopback HTTP server answering /v1/login and /v1/assign as docs/protocol.md §2 says.
describe('RouterApi', () => {
  let server: Server;
  let base = '';
  const seen: { method: string; url: string; auth: string | undefined; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
        const send = (status: number, json: unknown): void => {
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(json));
        };
        if (req.url === '/v1/login') {
          const { user_id, password } = JSON.parse(body) as { user_id: string; password: string };
          if (user_id === 'retired') return send(403, { error: 'user_retired', message: 'retired' });
          if (user_id === 'busy') return send(503, { error: 'no_nodes', message: 'no node is alive' });
          if (password !== 'sendjay') return send(401, { error: 'invalid_credentials', message: 'wrong password' });
          return send(200, { token: 'jwt', user_id, device: 'web', expires_at: 2_000_000_000, node: { id: 'n-1', url: 'ws://127.0.0.1:1/v1/ws' } });
        }
        if (req.url === '/v1/auth/methods') return send(200, { password: true, sso: { label: 'Example Corp', start: '/v1/sso/start' } });
        if (req.url === '/v1/sso/exchange') {
          const { handoff } = JSON.parse(body) as { handoff: string };
          if (handoff !== 'h1') return send(401, { error: 'invalid_handoff', message: 'start the sign-in again' });
          return send(200, { token: 'jwt', user_id: 'alice', device: 'web', expires_at: 2_000_000_000, node: { id: 'n-1', url: 'ws://127.0.0.1:1/v1/ws' } });
        }
        if (req.url === '/v1/assign') {
          if (req.headers.authorization !== 'Bearer jwt') return send(401, { error: 'invalid_token', message: 'log in again' });
          return send(200, { node: { id: 'n-2', url: 'ws://127.0.0.1:2/v1/ws' } });
        }
        res.writeHead(502);
        res.end('<html>bad gateway</html>');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('logs in with device web and returns the token and node', async () => {
    const login = await new RouterApi({ baseUrl: base }).login('alice', 'sendjay');
    expect(login).toMatchObject({ token: 'jwt', user_id: 'alice', device: 'web', node: { id: 'n-1' } });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/v1/login' });
    expect(JSON.parse(seen.at(-1)?.body ?? '{}')).toEqual({ user_id: 'alice', password: 'sendjay', device: 'web' });
  });

  it.each([
    ['alice', 'wrong', 401, 'invalid_credentials', false],
    ['retired', 'sendjay', 403, 'user_retired', false],
    ['busy', 'sendjay', 503, 'no_nodes', true],
  ])('login %s/%s → %i %s', async (user, password, status, code, retryable) => {
    const err = await new RouterApi({ baseUrl: base }).login(user, password).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterError);
    expect(err).toMatchObject({ status, code, retryable });
  });

  it('assigns with the token as a Bearer header; 401 says log in again', async () => {
    const api = new RouterApi({ baseUrl: base });
    expect(await api.assign('jwt')).toEqual({ id: 'n-2', url: 'ws://127.0.0.1:2/v1/ws' });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/v1/assign', auth: 'Bearer jwt' });
    await expect(api.assign('old')).rejects.toMatchObject({ status: 401, code: 'invalid_token' });
  });

  it('lists the sign-in methods and trades a single sign-on handoff for a session (§2.9)', async () => {
    const api = new RouterApi({ baseUrl: base });
    expect(await api.authMethods()).toEqual({ password: true, sso: { label: 'Example Corp', start: '/v1/sso/start' } });
    expect(api.ssoStartUrl('/v1/sso/start')).toBe(`${base.replace(/\/$/, '')}/v1/sso/start?device=web`);
    expect(await api.ssoExchange('h1')).toMatchObject({ token: 'jwt', user_id: 'alice' });
    expect(JSON.parse(seen.at(-1)?.body ?? '{}')).toEqual({ handoff: 'h1' });
    await api.ssoExchange('h1', 'phone-1').catch(() => undefined);
    expect(JSON.parse(seen.at(-1)?.body ?? '{}')).toEqual({ handoff: 'h1', device_id: 'phone-1' });
    await expect(api.ssoExchange('used')).rejects.toMatchObject({ status: 401, code: 'invalid_handoff', retryable: false });
  });

  it('reports an unreachable router as retryable (status 0) and a non-JSON error page by its status', async () => {
    const down = await new RouterApi({ baseUrl: 'http://127.0.0.1:9' }).login('a', 'b').catch((e: unknown) => e);
    expect(down).toMatchObject({ status: 0, code: 'network', retryable: true });
    const odd = new RouterApi({ baseUrl: base, fetch: (_u, init) => globalThis.fetch(`${base}elsewhere`, init) });
    await expect(odd.assign('jwt')).rejects.toMatchObject({ status: 502, code: 'http_502' });
  });
});
