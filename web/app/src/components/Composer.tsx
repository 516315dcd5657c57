import { useRef } from 'preact/hooks';
import { t } from '../i18n.ts';

/** How often "typing" is sent while the user types (§6.13: at most every 3 s). */
const TYPING_EVERY_MS = 3000;

/**
 * The message box. Enter sends, Shift+Enter is a newline. While an IME composes (Korean), Enter only commits the
 * syllable: `isComposing` (or keyCode 229, which some browsers report on the Enter that ends a composition) never
 * sends, so the last syllable is neither lost nor sent twice.
 */
export function Composer(props: { onSend: (body: string) => void; onFiles: (files: File[]) => void; onTyping: () => void; quote: string | null; onCancelQuote: () => void }) {
  const lastTyping = useRef(0);
  const box = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const takeFiles = (list: FileList | null | undefined): boolean => {
    const files = list === null || list === undefined ? [] : [...list];
    if (files.length > 0) props.onFiles(files);
    return files.length > 0;
  };

  const send = () => {
    const el = box.current;
    if (el === null || el.value.trim() === '') return;
    props.onSend(el.value);
    el.value = '';
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Enter' || e.shiftKey) return;
    if (e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    send();
  };

  // Uncontrolled on purpose: re-rendering the value during an IME composition would break the composition.
  const onInput = () => {
    const now = Date.now();
    if (now - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = now;
      props.onTyping();
    }
  };

  return (
    <form
      class="composer"
      onDragOver={(e) => e.dataTransfer?.types.includes('Files') === true && e.preventDefault()}
      onDrop={(e) => {
        if (takeFiles(e.dataTransfer?.files)) e.preventDefault();
      }}
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {props.quote !== null && (
        <div class="quote-bar">
          <span>{props.quote}</span>
          <button type="button" class="link" onClick={props.onCancelQuote}>
            {t.cancel}
          </button>
        </div>
      )}
      <textarea
        ref={box}
        rows={2}
        aria-label={t.messageLabel}
        placeholder={t.composerHint}
        onInput={onInput}
        onKeyDown={onKeyDown}
        onPaste={(e) => {
          // A pasted image (a screenshot) is uploaded; pasted text goes into the box as usual.
          if (takeFiles(e.clipboardData?.files)) e.preventDefault();
        }}
      />
      <input
        ref={picker}
        type="file"
        multiple
        hidden
        aria-label={t.attachFile}
        onChange={(e) => {
          takeFiles(e.currentTarget.files);
          e.currentTarget.value = '';
        }}
      />
      <button type="button" class="secondary attach" onClick={() => picker.current?.click()}>
        {t.attachFile}
      </button>
      <button type="submit">{t.send}</button>
    </form>
  );
}
