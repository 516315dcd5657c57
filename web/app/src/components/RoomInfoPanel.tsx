import { useEffect, useState } from 'preact/hooks';
import type { RoomMember, RoomSummary, SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';

/**
 * A room's members and what can be done to the room: rename, your nickname, invite, remove, leave; and for the
 * room's creator and admins, hiding the member list (§6.8 `set_room_options`). While it is hidden, others see a note
 * instead of the list (the server answers them only themselves).
 */
export function RoomInfoPanel(props: { client: SendjayClient; room: RoomSummary; onLeft: () => void; onClose: () => void }) {
  const { client, room } = props;
  const [members, setMembers] = useState<RoomMember[]>([]);
  const [name, setName] = useState(room.name);
  const [nickname, setNickname] = useState(room.nickname);
  const [invitee, setInvitee] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  // Only admins may remove active members (§6.8); anyone may remove a retired one. Known once the profile is read.
  const [admin, setAdmin] = useState(false);
  const fail = (e: unknown) => setError(e instanceof Error ? e.message : String(e));
  const done = () => setVersion((v) => v + 1);

  useEffect(() => {
    client.request('room_members', { room_id: room.room_id, limit: 200 }).then((r) => setMembers(r.members), fail);
  }, [client, room.room_id, version, room.members_hidden]);
  useEffect(() => {
    client.request('get_users', { user_ids: [client.userId] }).then(
      (r) => setAdmin(r.users[0]?.role === 'admin'),
      () => undefined, // not known: only retired members get a Remove button
    );
  }, [client]);

  const group = room.kind === 'group';
  const mayHide = group && (admin || (room.created_by ?? null) === client.userId);
  const hidden = room.members_hidden === true;
  const setHidden = (on: boolean) =>
    void client.request('set_room_options', { room_id: room.room_id, members_hidden: on }).then(done, fail);
  return (
    <aside class="room-info" aria-label={t.roomInfo}>
      <header class="room-header">
        <h3>{t.roomInfo}</h3>
        <span class="spacer" />
        <button type="button" class="link" onClick={props.onClose}>
          {t.close}
        </button>
      </header>
      {error !== null && <p class="error" role="alert">{error}</p>}
      {group && (
        <form onSubmit={(e) => (e.preventDefault(), void client.request('rename_room', { room_id: room.room_id, name }).then(done, fail))}>
          <label>
            {t.roomNameLabel}
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit">{t.rename}</button>
        </form>
      )}
      <form onSubmit={(e) => (e.preventDefault(), void client.request('set_room_prefs', { room_id: room.room_id, nickname }).then(done, fail))}>
        <label>
          {t.myNickname}
          <input value={nickname} onInput={(e) => setNickname(e.currentTarget.value)} />
        </label>
        <button type="submit">{t.save}</button>
      </form>
      {group && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const ids = invitee.split(/[\s,]+/).filter((s) => s !== '');
            if (ids.length > 0) void client.request('invite', { room_id: room.room_id, user_ids: ids }).then(() => (setInvitee(''), done()), fail);
          }}
        >
          <label>
            {t.invite}
            <input value={invitee} placeholder={t.userId} onInput={(e) => setInvitee(e.currentTarget.value)} />
          </label>
          <button type="submit">{t.invite}</button>
        </form>
      )}
      {mayHide && (
        <label class="check">
          <input type="checkbox" role="switch" checked={hidden} onChange={(e) => setHidden(e.currentTarget.checked)} />
          {t.hideMembers}
        </label>
      )}
      <h4>{t.memberList}</h4>
      {hidden && !mayHide && <p class="room-preview">{t.membersHiddenNote}</p>}
      <ul class="members">
        {members.map((m) => (
          <li key={m.user_id}>
            {m.name} <span class="room-preview">{m.user_id}</span>
            {group && m.user_id !== client.userId && (admin || m.retired) && (
              <button type="button" class="link" onClick={() => void client.request('remove_member', { room_id: room.room_id, user_id: m.user_id }).then(done, fail)}>
                {t.remove}
              </button>
            )}
          </li>
        ))}
      </ul>
      {group && (
        <button type="button" class="secondary" onClick={() => void client.request('leave', { room_id: room.room_id }).then(props.onLeft, fail)}>
          {t.leave}
        </button>
      )}
    </aside>
  );
}
