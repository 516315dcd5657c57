// What a room is called on screen: the user's own nickname for it, else its name, else (1:1) the other person.

import type { RoomSummary } from '@sendjay/client';

/** The display name of a room. */
export function roomName(room: RoomSummary | undefined): string {
  if (room === undefined) return '';
  return room.nickname || room.name || room.peer_id || `#${room.room_id}`;
}
