// The router's HTTP API (docs/protocol.md §2): log in, and ask which node to connect to.
//
// URLs are relative by default (`/v1/login`), because the web app is served by the router itself (same origin, no
// CORS). Tests and other embeddings pass `baseUrl` (e.g. `http://127.0.0.1:8080`).

import { RouterError } from './errors.js';
import type { AuthMethods, Device, LoginResult, NodeAddress } from './protocol.js';

/** A `fetch` function (the global one by default; injectable for tests). */
export type FetchLike = (input: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<{
  status: number;
  ok: boolean;
  text(): Promise<string>;
}>;

/** Options of the router API. */
export interface RouterOptions {
  /** Prefix of `/v1/login` and `/v1/assign`; empty (same origin) by default. */
  baseUrl?: string;
  /** The fetch implementation; `globalThis.fetch` by default. */
  fetch?: FetchLike;
}

/** Calls the router's `/v1/login` and `/v1/assign`. */
export class RouterApi {
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;

  constructor(options: RouterOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Logs in with a password (§2.1); rejects with a RouterError (`invalid_credentials`, `user_retired`, `no_nodes` …). */
  async login(userId: string, password: string, device: Device = 'web', deviceId?: string): Promise<LoginResult> {
    const body = await this.call('/v1/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: userId, password, device, ...(deviceId === undefined ? {} : { device_id: deviceId }) }),
    });
    return body as unknown as LoginResult;
  }

  /** Which sign-in methods the router offers (§2.9): show "Sign in with <label>" when `sso` is not null. */
  async authMethods(): Promise<AuthMethods> {
    const body = await this.call('/v1/auth/methods', { method: 'GET', headers: {} });
    const sso = body['sso'];
    if (typeof sso === 'object' && sso !== null) {
      const { label, start } = sso as Record<string, unknown>;
      if (typeof label === 'string' && typeof start === 'string') return { password: body['password'] === true, sso: { label, start } };
    }
    return { password: body['password'] === true, sso: null };
  }

  /** The URL that starts a single sign-on (§2.9), for a browser navigation (not a fetch). */
  ssoStartUrl(start: string, device: Device = 'web'): string {
    return `${this.baseUrl}${start}?device=${device}`;
  }

  /**
   * Trades the one-time handoff of `/#sso=<handoff>` for a session (§2.9): the same answer as `login`; rejects
   * with a RouterError (`invalid_handoff` when it is used or over 60 s old: start the sign-in again).
   */
  async ssoExchange(handoff: string, deviceId?: string): Promise<LoginResult> {
    const body = await this.call('/v1/sso/exchange', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(deviceId === undefined ? { handoff } : { handoff, device_id: deviceId }),
    });
    return body as unknown as LoginResult;
  }

  /** Trades a refresh token for a new token pair (§2.5); a 401 (`refresh_revoked`, `refresh_reused` …) means "sign in again". */
  async refresh(refreshToken: string): Promise<LoginResult> {
    const body = await this.call('/v1/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    return body as unknown as LoginResult;
  }

  /** Ends this device's sign-in (§2.6). */
  async logout(refreshToken: string): Promise<void> {
    await this.call('/v1/logout', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
  }

  /** Changes the password (§2.7): every session of the user ends, this one too; log in again with the new one. */
  async changePassword(userId: string, password: string, newPassword: string): Promise<void> {
    await this.call('/v1/password', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: userId, password, new_password: newPassword }),
    });
  }

  /** Asks which node holds the user of `token` now (§2.2); a 401 means "log in again". */
  async assign(token: string): Promise<NodeAddress> {
    const body = await this.call('/v1/assign', { method: 'GET', headers: { Authorization: `Bearer ${token}` } });
    const node = body['node'];
    if (typeof node !== 'object' || node === null) throw new RouterError(502, 'bad_response', 'the router answered /v1/assign without a node');
    return node as NodeAddress;
  }

  private async call(path: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<Record<string, unknown>> {
    let response;
    try {
      response = await this.fetchImpl(this.baseUrl + path, init);
    } catch (e) {
      throw new RouterError(0, 'network', `the router at ${this.baseUrl || 'this origin'} is unreachable (${(e as Error).message}): check the network and retry`);
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
    } catch {
      // a non-JSON body (a proxy's error page): reported below with the status
    }
    if (!response.ok) {
      const code = typeof body['error'] === 'string' ? body['error'] : `http_${response.status}`;
      const message = typeof body['message'] === 'string' ? body['message'] : `the router answered ${response.status} on ${path}`;
      throw new RouterError(response.status, code, message);
    }
    return body;
  }
}
