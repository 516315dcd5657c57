import { useEffect, useState } from 'preact/hooks';
import type { SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';
import { currentPushSubscription, PushSetupError, pushSupported, turnOffPush, turnOnPush } from '../web-push.ts';

/**
 * "Notify me when sendjay is closed": Web Push for this browser. Shown only when the browser can do it and the
 * server has a Web Push key (`push_config`; an error, e.g. an older server, hides it too). Acts at once.
 */
export function NotifyWhenClosedSwitch(props: { client: SendjayClient }) {
  const { client } = props;
  const [key, setKey] = useState<string | null>(null);
  const [on, setOn] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  useEffect(() => {
    if (!pushSupported()) return;
    let cancelled = false;
    client.pushConfig().then(
      async (config) => {
        const subscribed = config.web_push_key !== '' && (await currentPushSubscription().catch(() => null)) !== null;
        if (cancelled) return;
        setOn(subscribed);
        setKey(config.web_push_key);
      },
      () => undefined, // no push_config here: nothing to offer
    );
    return () => {
      cancelled = true;
    };
  }, [client]);

  if (key === null || key === '') return null;

  const toggle = async (wanted: boolean) => {
    setBusy(true);
    setError('');
    try {
      if (wanted) await turnOnPush(client, key);
      else await turnOffPush(client);
      setOn(wanted);
    } catch (e) {
      if (!wanted) setOn(false); // the browser's subscription is gone either way
      else if (e instanceof PushSetupError && e.reason === 'blocked') setError(t.pushBlocked);
      else setError(t.pushFailed(e instanceof Error ? e.message : String(e)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="push-switch">
      <label class="check">
        <input
          type="checkbox"
          role="switch"
          checked={on}
          disabled={busy}
          aria-describedby="push-switch-hint"
          onChange={(e) => void toggle(e.currentTarget.checked)}
        />
        {t.notifyWhenClosed}
      </label>
      <p id="push-switch-hint" class="room-preview">
        {t.notifyWhenClosedHint}
      </p>
      {error !== '' && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </div>
  );
}
