import { useEffect, useState } from 'preact/hooks';
import { RouterApi, type AuthMethods, type LoginResult } from '@sendjay/client';
import { t } from '../i18n.ts';
import { deviceIdFor } from '../session-store.ts';
import { ssoReturn } from '../sso-return.ts';

/** Whether this page load still has a single sign-on handoff to exchange (once per load). */
let handoffPending = ssoReturn !== null && 'handoff' in ssoReturn;

/**
 * The sign-in form: user id and password, device `web`; and "Sign in with <label>" when the router offers single
 * sign-on (§2.9), whose return (`#sso=` / `#sso_error=`) is handled here.
 */
export function LoginScreen(props: { notice: string | null; onSignedIn: (login: LoginResult, remember: boolean) => void }) {
  const [userId, setUserId] = useState('');
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(() =>
    ssoReturn !== null && 'error' in ssoReturn && !handoffPending ? (t.ssoErrors[ssoReturn.error] ?? ssoReturn.error) : null,
  );
  const [methods, setMethods] = useState<AuthMethods | null>(null);

  useEffect(() => {
    const api = new RouterApi();
    api.authMethods().then(setMethods, () => setMethods(null));
    if (ssoReturn !== null && 'handoff' in ssoReturn && handoffPending) {
      handoffPending = false;
      setBusy(true);
      api.ssoExchange(ssoReturn.handoff, deviceIdFor(remember)).then(
        (login) => props.onSignedIn(login, remember),
        (err: unknown) => {
          setError(err instanceof Error ? err.message : String(err));
          setBusy(false);
        },
      );
    }
  }, []); // once per mount: the handoff is single use

  const startSso = (start: string) => {
    setBusy(true);
    location.assign(new RouterApi().ssoStartUrl(start, 'web'));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const login = await new RouterApi().login(userId.trim(), password, 'web', deviceIdFor(remember));
      props.onSignedIn(login, remember);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <main class="login" aria-labelledby="login-title">
      <form class="login-form" onSubmit={submit}>
        <h1 id="login-title">{t.appName}</h1>
        {props.notice !== null && (
          <p class="notice" role="status">
            {props.notice}
          </p>
        )}
        {methods !== null && methods.sso !== null && (
          <>
            <button type="button" class="sso" disabled={busy} onClick={() => startSso(methods.sso?.start ?? '/v1/sso/start')}>
              {t.ssoSignIn(methods.sso.label)}
            </button>
            <p class="sso-or">{t.ssoOr}</p>
          </>
        )}
        <label>
          {t.userId}
          <input
            name="user_id"
            autocomplete="username"
            required
            value={userId}
            onInput={(e) => setUserId(e.currentTarget.value)}
          />
        </label>
        <label>
          {t.password}
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.currentTarget.checked)} />
          {t.rememberMe}
        </label>
        {error !== null && (
          <p class="error" role="alert">
            {t.loginFailed}: {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? t.signingIn : t.signIn}
        </button>
      </form>
    </main>
  );
}
