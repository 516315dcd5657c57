// The tokens of a signed-in device (docs/protocol.md §2.5–2.8): a short access token for the nodes and a refresh
// token that renews it. One renewal runs at a time (a refresh token works once: two at once would look like theft
// and end the sign-in), and every renewal is reported so the app can store the new pair for the next page load.

import { RouterError } from './errors.js';
import type { LoginResult } from './protocol.js';
import type { RouterApi } from './router.js';

/** Renew this long before the access token expires. */
export const RENEW_MARGIN_MS = 60_000;

/** Where the socket and the file API get their access token. */
export interface TokenSource {
  /** The current access token (possibly expired). */
  token(): string;
  /** An access token valid for at least a minute, renewed first when needed. */
  fresh(): Promise<string>;
  /** Renews now (after a 4002 close or a 401); rejects with a RouterError when the sign-in has ended. */
  renew(): Promise<string>;
  /** Whether this source can renew at all (a bare token cannot). */
  readonly renewable: boolean;
  /** When the access token expires (ms since the epoch), or null when unknown. */
  expiresAtMs(): number | null;
}

/** A token that is never renewed (tests, tools, and logins from routers without refresh tokens). */
export function fixedToken(token: string): TokenSource {
  return {
    token: () => token,
    fresh: () => Promise.resolve(token),
    renew: () => Promise.reject(new RouterError(401, 'refresh_unavailable', 'this session cannot renew its token: log in again')),
    renewable: false,
    expiresAtMs: () => null,
  };
}

/** The signed-in device's tokens, renewed through the router. */
export class Credentials implements TokenSource {
  private login: LoginResult;
  private renewing: Promise<string> | undefined;

  constructor(
    login: LoginResult,
    private readonly router: RouterApi,
    private readonly onRenewed: (login: LoginResult) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.login = login;
  }

  /** The latest login or refresh answer. */
  get current(): LoginResult {
    return this.login;
  }

  get renewable(): boolean {
    return typeof this.login.refresh_token === 'string' && this.login.refresh_token !== '';
  }

  token(): string {
    return this.login.token;
  }

  expiresAtMs(): number | null {
    return this.login.expires_at * 1000;
  }

  fresh(): Promise<string> {
    if (!this.renewable || this.login.expires_at * 1000 - this.now() > RENEW_MARGIN_MS) return Promise.resolve(this.login.token);
    return this.renew();
  }

  renew(): Promise<string> {
    if (!this.renewable) return fixedToken(this.login.token).renew();
    this.renewing ??= this.router
      .refresh(this.login.refresh_token)
      .then((renewed) => {
        this.login = renewed;
        this.onRenewed(renewed);
        return renewed.token;
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  /** Takes over a pair renewed elsewhere (another tab stored it): the old refresh token is used up. */
  adopt(login: LoginResult): void {
    if (login.user_id === this.login.user_id && login.refresh_token !== this.login.refresh_token) this.login = login;
  }
}
