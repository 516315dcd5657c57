import { useState } from 'preact/hooks';
import type { Message, SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';
import { messagePreview, shortTime } from '../message-text.ts';

/** Search in one room (text in Korean or English, or one member's messages by `from:user`). */
export function RoomSearch(props: { client: SendjayClient; roomId: number; onClose: () => void }) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<Message[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const search = (e: Event) => {
    e.preventDefault();
    const q = query.trim();
    if (q === '') return;
    const from = /^from:(\S+)$/.exec(q);
    const args = from !== null ? { room_id: props.roomId, sender_id: from[1]!, limit: 50 } : { room_id: props.roomId, query: q, limit: 50 };
    props.client.request('search', args).then(
      (r) => setResults(r.messages),
      (err: unknown) => setError(String(err)),
    );
  };

  return (
    <div class="room-search" role="search">
      <form onSubmit={search}>
        <input aria-label={t.searchInRoom} placeholder={t.searchInRoom} value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <button type="submit">{t.search}</button>
        <button type="button" class="secondary" onClick={props.onClose}>
          {t.close}
        </button>
      </form>
      {error !== null && <p class="error" role="alert">{error}</p>}
      {results !== null && (
        <ul class="search-results" aria-label={t.search}>
          {results.length === 0 && <li>{t.noResults}</li>}
          {results.map((m) => (
            <li key={m.seq}>
              <span class="sender">{m.sender_id}</span> {messagePreview(m)} <time>{shortTime(m.created_at_ms)}</time>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
