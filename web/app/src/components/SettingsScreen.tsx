import { useEffect, useState } from 'preact/hooks';
import type { SendjayClient, Settings } from '@sendjay/client';
import { t } from '../i18n.ts';
import { ChangePasswordForm } from './ChangePasswordForm.tsx';
import { NotifyWhenClosedSwitch } from './NotifyWhenClosedSwitch.tsx';

/** The zones the browser knows (IANA names), for the time zone setting. */
const zones: readonly string[] = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
/** This device's zone. */
const deviceZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The stored notification settings (shared with the user's other devices). */
export function SettingsScreen(props: { client: SendjayClient; onBack: () => void; onPasswordChanged: () => void }) {
  const { client } = props;
  const [settings, setSettings] = useState<Settings | null>(null);
  const [status, setStatus] = useState('');
  const [permission, setPermission] = useState(typeof Notification === 'undefined' ? 'denied' : Notification.permission);

  useEffect(() => {
    client.getSettings().then(setSettings, (e: unknown) => setStatus(String(e)));
  }, [client]);

  if (settings === null) return <section class="settings" aria-busy="true">{status}</section>;

  const save = async (e: Event) => {
    e.preventDefault();
    try {
      const saved = await client.setSettings({
        notifications_off: settings.notifications_off,
        hide_body: settings.hide_body,
        hide_sender: settings.hide_sender,
        notify_from: settings.notify_from ?? '',
        notify_to: settings.notify_to ?? '',
        time_zone: settings.time_zone,
      });
      setSettings(saved);
      setStatus(t.saved);
    } catch (err) {
      setStatus(String(err));
    }
  };
  const toggle = (key: 'notifications_off' | 'hide_body' | 'hide_sender') => (e: Event) =>
    setSettings({ ...settings, [key]: (e.currentTarget as HTMLInputElement).checked });

  return (
    <section class="settings" aria-labelledby="settings-title">
      <header class="room-header">
        <button type="button" class="link back" onClick={props.onBack} aria-label={t.back}>
          ←
        </button>
        <h2 id="settings-title">{t.settings}</h2>
      </header>
      <form onSubmit={save}>
        <label class="check">
          <input type="checkbox" checked={settings.notifications_off} onChange={toggle('notifications_off')} />
          {t.notificationsOff}
        </label>
        <label class="check">
          <input type="checkbox" checked={settings.hide_body} onChange={toggle('hide_body')} />
          {t.hideBody}
        </label>
        <label class="check">
          <input type="checkbox" checked={settings.hide_sender} onChange={toggle('hide_sender')} />
          {t.hideSender}
        </label>
        <label>
          {t.notifyFrom}
          <input type="time" value={settings.notify_from ?? ''} onInput={(e) => setSettings({ ...settings, notify_from: e.currentTarget.value })} />
        </label>
        <label>
          {t.notifyTo}
          <input type="time" value={settings.notify_to ?? ''} onInput={(e) => setSettings({ ...settings, notify_to: e.currentTarget.value })} />
        </label>
        <p class="room-preview">{t.notifyHoursHint}</p>
        <label>
          {t.timeZone}
          <select value={settings.time_zone} onChange={(e) => setSettings({ ...settings, time_zone: e.currentTarget.value })}>
            <option value="">{t.deviceTimeZone(deviceZone)}</option>
            {zones.map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </label>
        {permission !== 'granted' && typeof Notification !== 'undefined' && (
          <button type="button" class="secondary" onClick={() => void Notification.requestPermission().then(setPermission)}>
            {t.allowNotifications}
          </button>
        )}
        <button type="submit">{t.save}</button>
        <p role="status">{status}</p>
      </form>
      <NotifyWhenClosedSwitch client={client} />
      <ChangePasswordForm userId={client.userId} onChanged={props.onPasswordChanged} />
    </section>
  );
}
