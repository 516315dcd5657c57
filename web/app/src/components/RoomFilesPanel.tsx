import { useEffect, useState } from 'preact/hooks';
import type { Message, SendjayClient } from '@sendjay/client';
import { fileSize } from '../file-size.ts';
import { t } from '../i18n.ts';
import { shortTime } from '../message-text.ts';
import { FileAttachment } from './FileAttachment.tsx';

/** The room's files and images (search §6.11 with kind image and file): name, size, until when kept, state. */
export function RoomFilesPanel(props: { client: SendjayClient; roomId: number; onClose: () => void }) {
  const { client, roomId } = props;
  const [files, setFiles] = useState<Message[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    Promise.all([client.request('search', { room_id: roomId, kind: 'image', limit: 100 }), client.request('search', { room_id: roomId, kind: 'file', limit: 100 })]).then(
      ([images, others]) => !cancelled && setFiles([...images.messages, ...others.messages].sort((a, b) => b.seq - a.seq)),
      (e: unknown) => !cancelled && setError(String(e)),
    );
    return () => {
      cancelled = true;
    };
  }, [client, roomId]);
  return (
    <div class="room-files" role="region" aria-label={t.roomFiles}>
      <h3>{t.roomFiles}</h3>
      <button type="button" class="secondary" onClick={props.onClose}>
        {t.close}
      </button>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {files !== null && files.length === 0 && <p>{t.noFiles}</p>}
      {files !== null && files.length > 0 && (
        <ul class="room-file-list">
          {files.map((m) =>
            m.file === null ? null : (
              <li key={m.seq} class={m.file.expired === true ? 'room-file expired' : 'room-file'}>
                <FileAttachment client={client} file={m.file} />
                <span class="sender">{m.sender_id}</span> <time>{shortTime(m.created_at_ms)}</time>{' '}
                <span class="file-kind">{m.kind}</span> <span class="file-size">{fileSize(m.file.size)}</span>{' '}
                <span class="file-state">{m.file.expired === true ? t.fileExpired : t.available}</span>
                {m.file.expires_at_ms !== undefined && m.file.expired !== true && <span class="file-expiry"> ({t.expiresOn(new Date(m.file.expires_at_ms).toLocaleDateString())})</span>}
              </li>
            ),
          )}
        </ul>
      )}
    </div>
  );
}
