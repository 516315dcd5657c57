// The signed-in session kept by the browser: localStorage when "keep me signed in" is ticked (every tab and the
// room popups share it), sessionStorage otherwise (this tab and the popups it opens). It lasts as long as its
// refresh token (docs/protocol.md §2.8); the connection-holding tab stores each renewed pair (updateSession) and
// the other tabs pick it up from the `storage` event.

import type { LoginResult } from '@sendjay/client';

const KEY = 'sendjay.session';
const DEVICE_KEY = 'sendjay.device_id';

/** Whether a stored session can still sign in: its refresh token (or, without one, its access token) is valid. */
function usable(login: LoginResult): boolean {
  const until = typeof login.refresh_token === 'string' && login.refresh_token !== '' ? login.refresh_expires_at : login.expires_at;
  return typeof login.token === 'string' && until * 1000 > Date.now() + 30_000;
}

/** The stored session when it can still sign in. */
export function loadSession(): LoginResult | null {
  for (const storage of [localStorage, sessionStorage]) {
    const raw = storage.getItem(KEY);
    if (raw === null) continue;
    try {
      const login = JSON.parse(raw) as LoginResult;
      if (usable(login)) return login;
    } catch {
      // A damaged entry is dropped below.
    }
    storage.removeItem(KEY);
  }
  return null;
}

/** Keeps the session (see the file comment for where). */
export function saveSession(login: LoginResult, remember: boolean): void {
  clearSession();
  (remember ? localStorage : sessionStorage).setItem(KEY, JSON.stringify(login));
}

/** Replaces the stored session with a renewed token pair, in the storage that holds it. */
export function updateSession(login: LoginResult): void {
  for (const storage of [localStorage, sessionStorage]) {
    if (storage.getItem(KEY) !== null) storage.setItem(KEY, JSON.stringify(login));
  }
}

/** Forgets the session in both storages. */
export function clearSession(): void {
  localStorage.removeItem(KEY);
  sessionStorage.removeItem(KEY);
}

/** This browser's installation id for sign-ins (§2.1): kept with the session's storage, so a tab that does not
 * keep its sign-in gets its own (its sign-in must not replace a remembered one). */
export function deviceIdFor(remember: boolean): string {
  const storage = remember ? localStorage : sessionStorage;
  let id = storage.getItem(DEVICE_KEY);
  if (id === null || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
    id = `web-${crypto.randomUUID()}`;
    storage.setItem(DEVICE_KEY, id);
  }
  return id;
}

/** Whether `event` (a `storage` event) changed the stored session. */
export function isSessionChange(event: StorageEvent): boolean {
  return event.key === KEY;
}
