import { useState } from 'preact/hooks';
import type { SendjayClient, UserProfile } from '@sendjay/client';
import { t } from '../i18n.ts';
import { OrgTree } from './OrgTree.tsx';

/**
 * People search (name or id, Korean or English) and the organisation tree: picking someone opens the 1:1 chat;
 * ticking several search results makes a group.
 */
export function PeoplePicker(props: { client: SendjayClient; onOpened: (roomId: number) => void; onClose: () => void }) {
  const [query, setQuery] = useState('');
  const [people, setPeople] = useState<UserProfile[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const [groupName, setGroupName] = useState('');

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

  const createGroup = async () => {
    try {
      const r = await props.client.request('create_group', groupName.trim() === '' ? { user_ids: picked } : { name: groupName.trim(), user_ids: picked });
      props.onOpened(r.room.room_id);
    } catch (err) {
      setError(String(err));
    }
  };
  const toggle = (id: string, on: boolean) => setPicked(on ? [...picked, id] : picked.filter((p) => p !== id));

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
            <input
              type="checkbox"
              aria-label={`${t.createGroup}: ${u.name}`}
              checked={picked.includes(u.user_id)}
              onChange={(e) => toggle(u.user_id, e.currentTarget.checked)}
            />
            <button type="button" class="person" onClick={() => void open(u)}>
              <span class="room-name">{u.name}</span> <span class="room-preview">{u.user_id} · {u.unit_name}</span>
            </button>
          </li>
        ))}
      </ul>
      <OrgTree client={props.client} onPick={(u) => void open(u)} />
      {picked.length > 0 && (
        <div class="create-group">
          <span>{t.selected(picked.length)}</span>
          <input aria-label={t.groupName} placeholder={t.groupName} value={groupName} onInput={(e) => setGroupName(e.currentTarget.value)} />
          <button type="button" onClick={() => void createGroup()}>
            {t.createGroup}
          </button>
        </div>
      )}
    </div>
  );
}
