import { useEffect, useState } from 'preact/hooks';
import type { FileInfo, SendjayClient } from '@sendjay/client';
import { FileError } from '@sendjay/client';
import { t } from '../i18n.ts';

/** Signed URLs by file id, reused until shortly before they expire (§19.3: 5 min by default). */
const signed = new Map<string, Promise<{ url: string; thumb: string | null; until: number }>>();

function signedUrls(client: SendjayClient, fileId: string): Promise<{ url: string; thumb: string | null; until: number }> {
  const held = signed.get(fileId);
  const fresh = held?.then((s) => s.until - Date.now() > 30_000);
  const load = () => {
    const p = client.files.info(fileId).then((i) => ({ url: i.url, thumb: i.thumbnail_url, until: i.urls_expire_at_ms }));
    p.catch(() => signed.delete(fileId));
    signed.set(fileId, p);
    return p;
  };
  if (held === undefined || fresh === undefined) return load();
  return fresh.then((ok) => (ok ? held : load()), load);
}

/** An image in a message: its thumbnail (signed URL); a click opens the full size in a dialog. */
export function ImageThumbnail(props: { client: SendjayClient; file: FileInfo }) {
  const { client, file } = props;
  const [thumb, setThumb] = useState<string | null>(null);
  const [full, setFull] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (file.expired === true) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A push can reach a member a moment before the node lets them read the file: try again a few times, except
    // when the file is gone for good.
    const load = (attempt: number): void => {
      signedUrls(client, file.file_id).then(
        (s) => !cancelled && setThumb(s.thumb ?? s.url),
        (e: unknown) => {
          if (cancelled) return;
          if ((e instanceof FileError && e.code === 'file_expired') || attempt >= 5) setFailed(true);
          else timer = setTimeout(() => load(attempt + 1), 500 * 2 ** attempt);
        },
      );
    };
    load(0);
    return () => {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [client, file.file_id, file.expired]);
  if (file.expired === true || failed) {
    return (
      <p class="image-thumbnail expired">
        <span class="file-name">{file.name}</span> <span class="file-state">{t.fileExpired}</span>
      </p>
    );
  }
  const open = () => void signedUrls(client, file.file_id).then((s) => setFull(s.url), () => setFailed(true));
  const w = file.width ?? 320;
  const h = file.height ?? 240;
  const scale = Math.min(1, 320 / Math.max(w, h));
  return (
    <>
      <button type="button" class="image-thumbnail" onClick={open} aria-label={t.openImage(file.name)}>
        {thumb !== null ? <img src={thumb} alt={file.name} width={Math.round(w * scale)} height={Math.round(h * scale)} /> : <span class="image-placeholder" style={{ width: `${Math.round(w * scale)}px`, height: `${Math.round(h * scale)}px` }} />}
      </button>
      {full !== null && (
        <div class="image-viewer" role="dialog" aria-label={file.name} onClick={() => setFull(null)}>
          <img src={full} alt={file.name} />
          <button type="button" onClick={() => setFull(null)}>
            {t.close}
          </button>
        </div>
      )}
    </>
  );
}
