// The signed-in session kept by the browser until its token expires: localStorage when "keep me signed in" is
// ticked (every tab and the room popups share it), sessionStorage otherwise (this tab and the popups it opens).

import type { LoginResult } from '@sendjay/client';

const KEY = 'sendjay.session';

/** The stored session when its token is still valid. */
export function loadSession(): LoginResult | null {
  for (const storage of [localStorage, sessionStorage]) {
    const raw = storage.getItem(KEY);
    if (raw === null) continue;
    try {
      const login = JSON.parse(raw) as LoginResult;
      if (typeof login.token === 'string' && login.expires_at * 1000 > Date.now() + 30_000) return login;
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

/** Forgets the session in both storages. */
export function clearSession(): void {
  localStorage.removeItem(KEY);
  sessionStorage.removeItem(KEY);
}
