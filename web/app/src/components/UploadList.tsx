import { t } from '../i18n.ts';

/** One upload of the composer: running (with progress) or failed (with the documented reason). */
export interface Upload {
  id: number;
  name: string;
  sent: number;
  total: number;
  error: string | null;
}

/** The uploads under the message list: progress bars, and failures with what to do. */
export function UploadList(props: { uploads: Upload[]; onDismiss: (id: number) => void }) {
  if (props.uploads.length === 0) return null;
  return (
    <ul class="upload-list" aria-label={t.files}>
      {props.uploads.map((u) => {
        const pct = u.total > 0 ? Math.floor((u.sent * 100) / u.total) : 0;
        return u.error === null ? (
          <li key={u.id} class="upload">
            <span>{t.uploading(u.name, pct)}</span> <progress max={100} value={pct} aria-label={u.name} />
          </li>
        ) : (
          <li key={u.id} class="upload failed" role="alert">
            {t.uploadFailed(u.name, u.error)}{' '}
            <button type="button" class="link" onClick={() => props.onDismiss(u.id)}>
              {t.dismiss}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
