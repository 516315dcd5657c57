import type { OutboxEntry } from '@sendjay/client';
import { t } from '../i18n.ts';

/** A message the server has not acknowledged yet: "sending…", or "not sent" with retry and discard. */
export function PendingMessage(props: { entry: OutboxEntry; onRetry: () => void; onDiscard: () => void }) {
  const { entry } = props;
  const failed = entry.status === 'failed';
  return (
    <li class={failed ? 'message own pending failed' : 'message own pending'} data-client-msg-id={entry.client_msg_id}>
      <div class="bubble">
        <p class="body">{entry.body}</p>
        <p class="pending-state">
          {failed ? `${t.failed}${entry.last_error !== null ? ` (${entry.last_error})` : ''}` : t.pending}
        </p>
        {failed && (
          <span class="actions">
            <button type="button" class="link" onClick={props.onRetry}>
              {t.retry}
            </button>
            <button type="button" class="link" onClick={props.onDiscard}>
              {t.discard}
            </button>
          </span>
        )}
      </div>
    </li>
  );
}
