import { useState } from 'preact/hooks';
import type { SendjayClient, UserProfile } from '@sendjay/client';
import { t } from '../i18n.ts';

/** People search (name or id, Korean or English): picking someone opens the 1:1 chat with them. */
export function PeoplePicker(props: { client: SendjayClient; onOpened: (roomId: number) => void; onClose: () => void }) {
  const [query, setQuery] = useState('');
  const [people, setPeople] = useState<UserProfile[]>([]);
  const [error, setError] = useState<string | null>(null);

  const search = async (e: Event) => {
    e.preventDefault();
    if (query.trim() === '') return;
    try {
      const r = await props.client.request('search_users', { query: query.trim(), limit: 20 });
      setPeople(r.users.filter((u) => u.user_id !== props.client.userId));
    } catch (err) {
      setError(String(err));
    }
  };
  const open = async (user: UserProfile) => {
    try {
      const r = await props.client.request('open_direct', { user_id: user.user_id });
      props.onOpened(r.room.room_id);
    } catch (err) {
      setError(String(err));
    }
  };

  return (
    <div class="people-picker" role="dialog" aria-labelledby="people-title">
      <h2 id="people-title">{t.newChat}</h2>
      <form onSubmit={search}>
        <input aria-label={t.searchPeople} placeholder={t.searchPeople} value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <button type="submit">{t.searchPeople}</button>
        <button type="button" class="secondary" onClick={props.onClose}>
          {t.close}
        </button>
      </form>
      {error !== null && <p class="error" role="alert">{error}</p>}
      <ul class="people">
        {people.map((u) => (
          <li key={u.user_id}>
            <button type="button" class="person" onClick={() => void open(u)}>
              <span class="room-name">{u.name}</span> <span class="room-preview">{u.user_id} · {u.unit_name}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
