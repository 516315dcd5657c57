import { useState } from 'preact/hooks';
import type { Message, SearchAllFilters, SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';
import { messagePreview, shortTime } from '../message-text.ts';
import { roomName } from '../room-name.ts';
import { MatchHighlight } from './MatchHighlight.tsx';

/** A local calendar day (`YYYY-MM-DD` of a date input) as ms at its start, or at the start of the next day. */
function dayStartMs(day: string, next: boolean): number | undefined {
  if (day === '') return undefined;
  const [y, m, d] = day.split('-').map(Number);
  if (y === undefined || m === undefined || d === undefined) return undefined;
  return new Date(y, m - 1, d + (next ? 1 : 0)).getTime();
}

/** "Search all chats": a text in every room the user is in, narrowed by chat, sender and dates, a page at a time. */
export function SearchScreen(props: { client: SendjayClient; onBack: () => void; onOpenRoom: (roomId: number) => void }) {
  const { client } = props;
  const [query, setQuery] = useState('');
  const [roomId, setRoomId] = useState('');
  const [sender, setSender] = useState('');
  const [fromDay, setFromDay] = useState('');
  const [toDay, setToDay] = useState('');
  const [shown, setShown] = useState<{ text: string; filters: SearchAllFilters; messages: Message[]; next: string | undefined } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // A page may end early, even empty, with a cursor (the server bounds each request's work, §6.11): an empty one
  // is followed at once, a few times, so the user sees results or the end rather than an empty list.
  const run = (text: string, filters: SearchAllFilters, held: Message[], followed = 0) => {
    setBusy(true);
    setError(null);
    client.searchAll(text, filters).then(
      (page) => {
        if (page.messages.length === 0 && page.nextCursor !== undefined && followed < 5) {
          run(text, { ...filters, cursor: page.nextCursor }, held, followed + 1);
          return;
        }
        setShown({ text, filters, messages: [...held, ...page.messages], next: page.nextCursor });
        setBusy(false);
      },
      (e: unknown) => {
        setError(String(e));
        setBusy(false);
      },
    );
  };

  const search = (e: Event) => {
    e.preventDefault();
    const text = query.trim();
    if (text === '') return;
    const filters: SearchAllFilters = {};
    if (roomId !== '') filters.roomIds = [Number(roomId)];
    if (sender.trim() !== '') filters.senderId = sender.trim();
    const after = dayStartMs(fromDay, false);
    const before = dayStartMs(toDay, true);
    if (after !== undefined) filters.afterMs = after;
    if (before !== undefined) filters.beforeMs = before;
    run(text, filters, []);
  };

  const loadMore = () => {
    if (shown?.next === undefined) return;
    run(shown.text, { ...shown.filters, cursor: shown.next }, shown.messages);
  };

  return (
    <section class="search-screen" aria-labelledby="search-title">
      <header class="room-header">
        <button type="button" class="link back" onClick={props.onBack} aria-label={t.back}>
          ←
        </button>
        <h2 id="search-title">{t.searchAllChats}</h2>
      </header>
      <form class="search-all-form" role="search" onSubmit={search}>
        <input aria-label={t.searchAllChats} placeholder={t.searchAllChats} value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <select aria-label={t.searchInChat} value={roomId} onChange={(e) => setRoomId(e.currentTarget.value)}>
          <option value="">{t.allChats}</option>
          {client.rooms().map((r) => (
            <option key={r.room_id} value={String(r.room_id)}>
              {roomName(r)}
            </option>
          ))}
        </select>
        <input aria-label={t.searchFrom} placeholder={t.searchFrom} value={sender} onInput={(e) => setSender(e.currentTarget.value)} />
        <label>
          {t.searchSince} <input type="date" value={fromDay} onInput={(e) => setFromDay(e.currentTarget.value)} />
        </label>
        <label>
          {t.searchUntil} <input type="date" value={toDay} onInput={(e) => setToDay(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>
          {t.search}
        </button>
      </form>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {shown !== null && shown.messages.length === 0 && <p class="empty">{shown.next === undefined ? t.noResults : t.noResultsYet}</p>}
      {shown !== null && shown.messages.length > 0 && (
        <ul class="saved-list search-all-results" aria-label={t.searchResults}>
          {shown.messages.map((m) => (
            <li key={`${m.room_id}:${m.seq}`} class="saved-item">
              <p class="saved-meta">
                <span class="sender">{m.sender_id}</span> · <span class="saved-room">{roomName(client.room(m.room_id))}</span> ·{' '}
                <time>{shortTime(m.created_at_ms)}</time>
              </p>
              <p class="body">
                <MatchHighlight text={messagePreview(m)} match={shown.text} />
              </p>
              <button type="button" class="link" onClick={() => props.onOpenRoom(m.room_id)}>
                {t.openChat}
              </button>
            </li>
          ))}
        </ul>
      )}
      {shown?.next !== undefined && (
        <button type="button" class="secondary" onClick={loadMore} disabled={busy}>
          {t.loadMore}
        </button>
      )}
    </section>
  );
}
