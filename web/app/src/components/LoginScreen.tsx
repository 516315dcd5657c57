import { useState } from 'preact/hooks';
import { RouterApi, type LoginResult } from '@sendjay/client';
import { t } from '../i18n.ts';
import { deviceIdFor } from '../session-store.ts';

/** The sign-in form: user id and password, device `web`. */
export function LoginScreen(props: { notice: string | null; onSignedIn: (login: LoginResult, remember: boolean) => void }) {
  const [userId, setUserId] = useState('');
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

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
