import { t } from '../i18n.ts';

/** Shown after 4005 (a newer web login evicted this one): never a silent reconnect loop. */
export function SignedInElsewhere(props: { onUseHere: () => void; onSignOut: () => void }) {
  return (
    <main class="ended" aria-labelledby="ended-title">
      <h1 id="ended-title">{t.signedInElsewhere}</h1>
      <p>{t.signedInElsewhereBody}</p>
      <div class="actions">
        <button type="button" onClick={props.onUseHere}>
          {t.useHere}
        </button>
        <button type="button" class="secondary" onClick={props.onSignOut}>
          {t.signOut}
        </button>
      </div>
    </main>
  );
}
