import { useEffect, useState } from 'preact/hooks';
import type { PresenceInfo, SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';

/** How often presence is asked again while the person is on screen (§6.13: presence is polled, not pushed). */
const POLL_MS = 30_000;

/** A dot for each place a person is connected (web, mobile), grey when offline; the label says it in words. */
export function PresenceDot(props: { client: SendjayClient; userId: string }) {
  const { client, userId } = props;
  const [info, setInfo] = useState<PresenceInfo | null>(null);
  useEffect(() => {
    let cancelled = false;
    const ask = () =>
      client.presence([userId]).then(
        (users) => !cancelled && setInfo(users[0] ?? null),
        () => undefined, // offline or reconnecting: keep the last answer, ask again at the next tick
      );
    void ask();
    const timer = setInterval(() => void ask(), POLL_MS);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [client, userId]);
  if (info === null) return null;
  const label = t.presence(info.web, info.mobile);
  return (
    <span class="presence" role="img" aria-label={label} title={label} data-web={String(info.web)} data-mobile={String(info.mobile)}>
      {info.web && <span class="presence-dot web" />}
      {info.mobile && <span class="presence-dot mobile" />}
      {!info.web && !info.mobile && <span class="presence-dot" />}
    </span>
  );
}
