// Preact hooks that re-render a component when the client reports a change.

import { useEffect, useState } from 'preact/hooks';
import type { ClientEvents, SendjayClient } from '@sendjay/client';

/** Re-renders on every `event` of the client (the value is a change counter). */
export function useClientEvent<E extends keyof ClientEvents>(
  client: SendjayClient,
  event: E,
  filter?: (payload: ClientEvents[E]) => boolean,
): number {
  const [version, setVersion] = useState(0);
  useEffect(
    () =>
      client.on(event, (payload) => {
        if (filter === undefined || filter(payload)) setVersion((v) => v + 1);
      }),
    [client, event],
  );
  return version;
}

/** True while the window is visible and focused (where "read" means read). */
export function useWatching(): boolean {
  const [watching, setWatching] = useState(isWatching());
  useEffect(() => {
    const update = () => setWatching(isWatching());
    document.addEventListener('visibilitychange', update);
    window.addEventListener('focus', update);
    window.addEventListener('blur', update);
    return () => {
      document.removeEventListener('visibilitychange', update);
      window.removeEventListener('focus', update);
      window.removeEventListener('blur', update);
    };
  }, []);
  return watching;
}

/** The window is visible and has the focus now. */
export function isWatching(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}
