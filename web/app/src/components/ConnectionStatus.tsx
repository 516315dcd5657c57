import { useEffect, useState } from 'preact/hooks';
import type { ConnectionState } from '@sendjay/client';
import { t } from '../i18n.ts';

/** How long a reconnect stays invisible: short ones (a drain, a killed node) should not flash a banner. */
const QUIET_MS = 2000;

/** "Reconnecting…" — only once the connection has been away for 2 s. */
export function ConnectionStatus(props: { state: ConnectionState }) {
  const { state } = props;
  const [, setTick] = useState(0);
  const away = state.status === 'reconnecting' || state.status === 'connecting';
  useEffect(() => {
    if (!away) return;
    const left = state.since + QUIET_MS - Date.now();
    const timer = setTimeout(() => setTick((n) => n + 1), Math.max(0, left) + 20);
    return () => clearTimeout(timer);
  }, [away, state.since]);
  const show = away && Date.now() - state.since >= QUIET_MS;
  return (
    <div class="connection-status" role="status" aria-live="polite">
      {show ? (state.status === 'reconnecting' ? t.reconnecting : t.connecting) : ''}
    </div>
  );
}
