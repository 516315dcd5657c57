import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n.ts';

/**
 * The box that replaces a message's text (a file's caption, which may be emptied) while its sender edits it: Enter (outside an IME composition, so Korean
 * input is never cut mid-syllable) or "Save edit" saves, Escape or "Cancel" leaves the message as it was. A refused
 * edit (the edit window passed, the message was revoked) stays open with the server's reason.
 */
export function MessageEditor(props: { body: string; captionOnly: boolean; onSave: (body: string) => Promise<void>; onCancel: () => void }) {
  const [text, setText] = useState(props.body);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    box.current?.focus();
  }, []);
  const save = () => {
    if (saving) return;
    if (text === props.body) {
      props.onCancel();
      return;
    }
    setSaving(true);
    setError(null);
    props.onSave(text).then(
      () => setSaving(false),
      (e: unknown) => {
        setSaving(false);
        setError(e instanceof Error ? e.message : String(e));
      },
    );
  };
  return (
    <form
      class="message-editor"
      aria-label={t.editLabel}
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <textarea
        ref={box}
        value={text}
        rows={Math.min(6, text.split('\n').length + 1)}
        aria-label={t.editLabel}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') props.onCancel();
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
            e.preventDefault();
            save();
          }
        }}
      />
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={saving || (!props.captionOnly && text.trim() === '')}>
        {t.editSave}
      </button>
      <button type="button" class="secondary" onClick={props.onCancel}>
        {t.cancel}
      </button>
    </form>
  );
}
