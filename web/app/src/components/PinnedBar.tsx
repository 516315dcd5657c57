import { useState } from 'preact/hooks';
import type { SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';
import { messagePreview, shortTime } from '../message-text.ts';
import { useClientEvent } from '../use-client.ts';

/**
 * The room's pinned messages: a bar with the newest pin and how many there are; opened, the list of every pin with
 * who pinned it and an Unpin button. It follows pins made by anyone, live and after reconnects (the client applies
 * the room's pin and unpin messages).
 */
export function PinnedBar(props: { client: SendjayClient; roomId: number; onError: (text: string) => void }) {
  const { client, roomId } = props;
  const [open, setOpen] = useState(false);
  useClientEvent(client, 'pins', (p) => p.roomId === roomId);
  const pins = client.pins(roomId) ?? [];
  if (pins.length === 0) return null;
  const newest = pins[0];
  return (
    <div class="pinned-bar" role="region" aria-label={t.pinnedMessages(pins.length)}>
      <button type="button" class="link pinned-summary" aria-expanded={open} onClick={() => setOpen(!open)}>
        📌 {t.pinnedMessages(pins.length)}
        {newest !== undefined && <span class="pinned-preview"> · {messagePreview(newest.message)}</span>}
      </button>
      {open && (
        <ul class="pinned-list">
          {pins.map((p) => (
            <li key={p.message.seq} class="pinned-item">
              <span class="sender">{p.message.sender_id}</span> <span class="pinned-text">{messagePreview(p.message)}</span>{' '}
              <span class="pinned-by">
                ({t.pinnedBy(p.pinned_by)}, {shortTime(p.pinned_at_ms)})
              </span>{' '}
              <button
                type="button"
                class="link"
                onClick={() => void client.unpinMessage(roomId, p.message.seq).catch((e: unknown) => props.onError(String(e)))}
              >
                {t.unpinMessage}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
