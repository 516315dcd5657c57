import { useState } from 'preact/hooks';
import { t } from '../i18n.ts';

/**
 * "Clear chat" in the room header: asks first, since it deletes the whole chat for the user (up to now; the other
 * members keep theirs), then calls `onClear`.
 */
export function ClearChatButton(props: { onClear: () => void }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="link" onClick={() => setAsking(true)}>
        {t.clearChat}
      </button>
    );
  }
  return (
    <div class="clear-chat-confirm" role="alertdialog" aria-label={t.clearChat}>
      <p>{t.clearChatConfirm}</p>
      <button
        type="button"
        class="danger"
        onClick={() => {
          setAsking(false);
          props.onClear();
        }}
      >
        {t.clearChat}
      </button>
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        {t.cancel}
      </button>
    </div>
  );
}
