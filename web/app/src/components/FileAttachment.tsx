import { useState } from 'preact/hooks';
import type { FileInfo, SendjayClient } from '@sendjay/client';
import { FileError } from '@sendjay/client';
import { fileSize } from '../file-size.ts';
import { t } from '../i18n.ts';

/** A file in a message: its name and size as a download link, or "expired" once its bytes are gone. */
export function FileAttachment(props: { client: SendjayClient; file: FileInfo }) {
  const { client, file } = props;
  const [error, setError] = useState<string | null>(null);
  if (file.expired === true) {
    return (
      <p class="file-attachment expired">
        <span class="file-name">{file.name}</span> <span class="file-size">{fileSize(file.size)}</span> <span class="file-state">{t.fileExpired}</span>
      </p>
    );
  }
  const download = () => {
    setError(null);
    // A fresh signed URL: the node answers with Content-Disposition: attachment and the file's name.
    client.files.info(file.file_id).then(
      (info) => {
        const a = document.createElement('a');
        a.href = info.url;
        a.download = file.name;
        a.rel = 'noopener';
        document.body.appendChild(a);
        a.click();
        a.remove();
      },
      (e: unknown) => setError(e instanceof FileError && e.code === 'file_expired' ? t.fileExpired : t.uploadError(e instanceof FileError ? e.code : 'network')),
    );
  };
  return (
    <p class="file-attachment">
      <button type="button" class="link file-download" onClick={download} aria-label={`${t.download} ${file.name}`}>
        <span class="file-name">{file.name}</span>
      </button>{' '}
      <span class="file-size">{fileSize(file.size)}</span>
      {error !== null && (
        <span class="error" role="alert">
          {' '}
          {error}
        </span>
      )}
    </p>
  );
}
