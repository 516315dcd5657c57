import { useState } from 'preact/hooks';
import { RouterApi, RouterError } from '@sendjay/client';
import { t } from '../i18n.ts';

/** Settings → change password (docs/protocol.md §2.7): every session of the user ends, this one too. */
export function ChangePasswordForm(props: { userId: string; onChanged: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (next !== again) {
      setStatus(t.passwordsDiffer);
      return;
    }
    setBusy(true);
    setStatus('');
    try {
      await new RouterApi().changePassword(props.userId, current, next);
      props.onChanged();
    } catch (err) {
      setStatus(err instanceof RouterError ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <form class="change-password" aria-labelledby="change-password-title" onSubmit={submit}>
      <h3 id="change-password-title">{t.changePassword}</h3>
      <label>
        {t.currentPassword}
        <input type="password" name="current_password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </label>
      <label>
        {t.newPassword}
        <input type="password" name="new_password" autocomplete="new-password" minLength={8} required value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </label>
      <label>
        {t.newPasswordAgain}
        <input type="password" name="new_password_again" autocomplete="new-password" minLength={8} required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
      </label>
      <p class="hint">{t.changePasswordHint}</p>
      <button type="submit" disabled={busy}>
        {t.changePassword}
      </button>
      <p role="status">{status}</p>
    </form>
  );
}
