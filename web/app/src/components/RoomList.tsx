import { useLayoutEffect } from 'preact/hooks';
import type { RoomSummary } from '@sendjay/client';
import { t } from '../i18n.ts';
import { messagePreview, shortTime } from '../message-text.ts';
import { roomName } from '../room-name.ts';

/** The rooms, most recently active first, with unread badges and the last message. */
export function RoomList(props: { rooms: RoomSummary[]; selected: number | null; onOpen: (roomId: number) => void }) {
  // User Timing of each render + commit (docs/benchmarks.md reads it: a 300-room list must take ≤ 50 ms).
  const started = performance.now();
  useLayoutEffect(() => {
    performance.measure(`sendjay:room-list:${props.rooms.length}`, { start: started });
  });
  if (props.rooms.length === 0) return <p class="empty">{t.noRooms}</p>;
  return (
    <ul class="room-list" aria-label={t.rooms}>
      {props.rooms.map((room) => (
        <RoomListItem key={room.room_id} room={room} selected={room.room_id === props.selected} onOpen={props.onOpen} />
      ))}
    </ul>
  );
}

/** One room of the list. */
function RoomListItem(props: { room: RoomSummary; selected: boolean; onOpen: (roomId: number) => void }) {
  const { room } = props;
  const name = roomName(room);
  const preview = room.last_message === null ? '' : messagePreview(room.last_message);
  return (
    <li>
      <button
        type="button"
        class={props.selected ? 'room selected' : 'room'}
        aria-current={props.selected ? 'true' : undefined}
        data-room-id={room.room_id}
        onClick={() => props.onOpen(room.room_id)}
      >
        <span class="room-name">
          {room.channel === true && (
            <span class="channel-mark" aria-label={t.channel} title={t.channel}>
              #{' '}
            </span>
          )}
          {name}
          {!room.notifications && <span class="muted-mark" aria-label={t.muted} title={t.muted}>🔕</span>}
        </span>
        <span class="room-time">{room.last_activity_ms > 0 ? shortTime(room.last_activity_ms) : ''}</span>
        <span class="room-preview">{preview}</span>
        {room.unread > 0 && (
          <span class="badge" aria-label={t.unread(room.unread)}>
            {room.unread > 999 ? '999+' : room.unread}
          </span>
        )}
      </button>
    </li>
  );
}
