import type { Message } from '../../src/protocol.js';

/** A text message of `room_id`/`seq` for tests. */
export function msg(room_id: number, seq: number, extra: Partial<Message> = {}): Message {
  return {
    room_id,
    seq,
    client_msg_id: `c-${room_id}-${seq}`,
    sender_id: 'bob',
    kind: 'text',
    body: `m${seq}`,
    created_at_ms: 1_700_000_000_000 + seq,
    reply_to: null,
    file: null,
    system: null,
    forwarded: false,
    revoked: false,
    hidden: false,
    ...extra,
  };
}
