import { useState } from 'preact/hooks';
import type { Message, SendjayClient } from '@sendjay/client';
import { newClientMsgId } from '@sendjay/client';
import { t } from '../i18n.ts';
import { messagePreview } from '../message-text.ts';
import { roomName } from '../room-name.ts';

/**
 * "Forward to…": the user's other rooms, most recently active first; picking one copies the message there
 * (§6.9 `forward`: same kind, body and file, no new upload). One client_msg_id per dialog, so a double click or a
 * retry after a lost answer is answered as a duplicate instead of making a second copy.
 */
export function ForwardPicker(props: { client: SendjayClient; roomId: number; message: Message; onClose: () => void; onDone: (text: string) => void }) {
  const { client, roomId, message } = props;
  const [clientMsgId] = useState(() => newClientMsgId());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const targets = client.rooms().filter((r) => r.room_id !== roomId);

  const forward = async (toRoomId: number) => {
    setBusy(true);
    try {
      await client.request('forward', { room_id: roomId, seq: message.seq, to_room_id: toRoomId, client_msg_id: clientMsgId });
      props.onDone(t.forwardedTo(roomName(client.room(toRoomId))));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };

  return (
    <div class="forward-picker" role="dialog" aria-labelledby="forward-title">
      <h3 id="forward-title">{t.forwardTo}</h3>
      <p class="room-preview">{messagePreview(message)}</p>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <ul class="forward-targets">
        {targets.map((r) => (
          <li key={r.room_id}>
            <button type="button" class="person" disabled={busy} onClick={() => void forward(r.room_id)}>
              {roomName(r)}
            </button>
          </li>
        ))}
      </ul>
      <button type="button" class="secondary" onClick={props.onClose}>
        {t.close}
      </button>
    </div>
  );
}
