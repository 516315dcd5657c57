// What a room is called on screen: the user's own nickname for it, else its name, else the name the server made from
// its members for this user (`display_name`, §6.7), else (older servers) the other person of a 1:1 room.

import type { RoomSummary } from '@sendjay/client';

/** The display name of a room. */
export function roomName(room: RoomSummary | undefined): string {
  if (room === undefined) return '';
  // Nickname and name first: a rename is applied locally from its system message before display_name catches up.
  return room.nickname || room.name || room.display_name || room.peer_id || `#${room.room_id}`;
}
