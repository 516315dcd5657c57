import { useEffect, useState } from 'preact/hooks';
import type { Message, SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';
import { messagePreview, shortTime } from '../message-text.ts';
import { roomName } from '../room-name.ts';
import { useClientEvent } from '../use-client.ts';

/** The user's saved messages, most recently saved first, a page at a time, each with its chat and an Unsave button. */
export function SavedScreen(props: { client: SendjayClient; onBack: () => void; onOpenRoom: (roomId: number) => void }) {
  const { client } = props;
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const savedVersion = useClientEvent(client, 'saved');

  // Loaded again when a message is saved or unsaved (here or on another device): the list is the server's.
  useEffect(() => {
    let cancelled = false;
    client.listSaved().then(
      (page) => {
        if (cancelled) return;
        setMessages(page.messages);
        setHasMore(page.hasMore);
      },
      (e: unknown) => !cancelled && setError(String(e)),
    );
    return () => {
      cancelled = true;
    };
  }, [client, savedVersion]);

  const loadMore = () => {
    const last = messages?.[messages.length - 1];
    if (last === undefined) return;
    client.listSaved(last).then(
      (page) => {
        setMessages((held) => [...(held ?? []), ...page.messages]);
        setHasMore(page.hasMore);
      },
      (e: unknown) => setError(String(e)),
    );
  };

  return (
    <section class="saved-screen" aria-labelledby="saved-title">
      <header class="room-header">
        <button type="button" class="link back" onClick={props.onBack} aria-label={t.back}>
          ←
        </button>
        <h2 id="saved-title">{t.savedMessages}</h2>
      </header>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {messages !== null && messages.length === 0 && <p class="empty">{t.noSavedMessages}</p>}
      {messages !== null && messages.length > 0 && (
        <ul class="saved-list">
          {messages.map((m) => (
            <li key={`${m.room_id}:${m.seq}`} class="saved-item">
              <p class="saved-meta">
                <span class="sender">{m.sender_id}</span> · <span class="saved-room">{roomName(client.room(m.room_id))}</span> ·{' '}
                <time>{shortTime(m.created_at_ms)}</time>
              </p>
              <p class={m.revoked ? 'body revoked' : 'body'}>{messagePreview(m)}</p>
              <button type="button" class="link" onClick={() => props.onOpenRoom(m.room_id)}>
                {t.openChat}
              </button>{' '}
              <button type="button" class="link" onClick={() => void client.unsaveMessage(m.room_id, m.seq).catch((e: unknown) => setError(String(e)))}>
                {t.unsaveMessage}
              </button>
            </li>
          ))}
        </ul>
      )}
      {hasMore && (
        <button type="button" class="secondary" onClick={loadMore}>
          {t.loadMore}
        </button>
      )}
    </section>
  );
}
