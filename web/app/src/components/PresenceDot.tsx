import { useEffect, useState } from 'preact/hooks';
import type { PresenceInfo, SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';

/**
 * A dot for each place a person is connected (web, mobile), grey when offline; the label says it in words. The
 * person is watched while the dot is on screen (§6.13 `watch_presence`): changes arrive as pushes, no polling.
 */
export function PresenceDot(props: { client: SendjayClient; userId: string }) {
  const { client, userId } = props;
  const [info, setInfo] = useState<PresenceInfo | null>(() => client.presenceOf(userId) ?? null);
  useEffect(() => {
    const off = client.on('presence', (p) => {
      if (p.user_id === userId) setInfo(p);
    });
    const release = client.watchPresence(userId);
    setInfo(client.presenceOf(userId) ?? null);
    return () => {
      off();
      release();
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
