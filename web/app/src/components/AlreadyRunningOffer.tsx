import { t } from '../i18n.ts';

/** Shown after 4011 (`launch=auto` found the messenger running): offers to take it over here (launch=manual). */
export function AlreadyRunningOffer(props: { onUseHere: () => void }) {
  return (
    <main class="ended" aria-labelledby="running-title">
      <h1 id="running-title">{t.alreadyRunning}</h1>
      <p>{t.alreadyRunningBody}</p>
      <div class="actions">
        <button type="button" onClick={props.onUseHere}>
          {t.useHere}
        </button>
      </div>
    </main>
  );
}
