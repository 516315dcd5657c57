import { useEffect, useState } from 'preact/hooks';
import type { Channel, SendjayClient, UserProfile } from '@sendjay/client';
import { t } from '../i18n.ts';

/** "Channels": the public channels open to the user, found by name and joined with one click, and a form for a new one. */
export function ChannelsScreen(props: { client: SendjayClient; onBack: () => void; onOpenRoom: (roomId: number) => void }) {
  const { client, onOpenRoom } = props;
  const [query, setQuery] = useState('');
  const [shown, setShown] = useState<{ channels: Channel[]; hasMore: boolean } | null>(null);
  const [me, setMe] = useState<UserProfile | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = (text: string, held: Channel[]) => {
    const last = held[held.length - 1];
    const args: { query?: string; after?: { name: string; room_id: number }; limit: number } = { limit: 50 };
    if (text !== '') args.query = text;
    if (last !== undefined) args.after = { name: last.name, room_id: last.room_id };
    client.request('list_channels', args).then(
      (r) => setShown({ channels: [...held, ...r.channels], hasMore: r.has_more }),
      (e: unknown) => setError(String(e)),
    );
  };

  useEffect(() => {
    load('', []);
    client.request('get_users', { user_ids: [client.userId] }).then(
      (r) => setMe(r.users[0] ?? null),
      () => undefined,
    );
    // Loaded once when the screen opens; searching and joining reload it.
  }, [client]);

  const join = (channel: Channel) => {
    client.request('join_channel', { room_id: channel.room_id }).then(
      () => onOpenRoom(channel.room_id),
      (e: unknown) => setError(String(e)),
    );
  };

  return (
    <section class="channels-screen" aria-labelledby="channels-title">
      <header class="room-header">
        <button type="button" class="link back" onClick={props.onBack} aria-label={t.back}>
          ←
        </button>
        <h2 id="channels-title">{t.channels}</h2>
      </header>
      <NewChannelForm client={client} unit={me?.unit_id ?? null} unitName={me?.unit_name ?? ''} onCreated={onOpenRoom} onError={setError} />
      <form
        class="channel-search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          load(query.trim(), []);
        }}
      >
        <input aria-label={t.findChannel} placeholder={t.findChannel} value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <button type="submit">{t.search}</button>
      </form>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {shown !== null && shown.channels.length === 0 && <p class="empty">{t.noChannels}</p>}
      {shown !== null && shown.channels.length > 0 && (
        <ul class="saved-list channel-list" aria-label={t.channelDirectory}>
          {shown.channels.map((c) => (
            <li key={c.room_id} class="saved-item channel-item">
              <p class="body">
                <strong>{c.name}</strong>
              </p>
              <p class="saved-meta">
                {t.channelMembers(c.member_count)} · {c.unit_id === null ? t.wholeCompany : c.unit_id}
              </p>
              {c.joined ? (
                <button type="button" class="link" onClick={() => onOpenRoom(c.room_id)}>
                  {t.openChat}
                </button>
              ) : (
                <button type="button" class="link" onClick={() => join(c)}>
                  {t.joinChannel}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {shown?.hasMore === true && (
        <button type="button" class="secondary" onClick={() => load(query.trim(), shown.channels)}>
          {t.loadMore}
        </button>
      )}
    </section>
  );
}

/** The "New channel" form: a name, and whether the whole company or only the user's unit may find it. */
function NewChannelForm(props: {
  client: SendjayClient;
  unit: string | null;
  unitName: string;
  onCreated: (roomId: number) => void;
  onError: (message: string) => void;
}) {
  const [name, setName] = useState('');
  const [toUnit, setToUnit] = useState(false);
  const create = (e: Event) => {
    e.preventDefault();
    if (name.trim() === '') return;
    const args: { name: string; unit_id?: string } = { name: name.trim() };
    if (toUnit && props.unit !== null) args.unit_id = props.unit;
    props.client.request('create_channel', args).then(
      (r) => props.onCreated(r.room.room_id),
      (err: unknown) => props.onError(String(err)),
    );
  };
  return (
    <form class="new-channel" aria-label={t.newChannel} onSubmit={create}>
      <input aria-label={t.channelName} placeholder={t.channelName} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <select aria-label={t.channelOpenTo} value={toUnit ? 'unit' : 'company'} onChange={(e) => setToUnit(e.currentTarget.value === 'unit')}>
        <option value="company">{t.wholeCompany}</option>
        {props.unit !== null && <option value="unit">{t.myUnit(props.unitName || props.unit)}</option>}
      </select>
      <button type="submit">{t.createChannel}</button>
    </form>
  );
}
