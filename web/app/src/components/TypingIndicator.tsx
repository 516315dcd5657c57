import { useEffect, useState } from 'preact/hooks';
import type { SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';

/** A typing push counts for this long (senders repeat it every 3 s while typing). */
const SHOWN_MS = 4000;

/** "bob is typing…" under the messages. */
export function TypingIndicator(props: { client: SendjayClient; roomId: number }) {
  const [who, setWho] = useState<string | null>(null);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = props.client.on('typing', (push) => {
      if (push.room_id !== props.roomId) return;
      setWho(push.user_id);
      clearTimeout(timer);
      timer = setTimeout(() => setWho(null), SHOWN_MS);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [props.client, props.roomId]);
  return (
    <p class="typing" aria-live="polite">
      {who === null ? '' : t.typing(who)}
    </p>
  );
}
