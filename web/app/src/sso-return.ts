// The end of a single sign-on (docs/protocol.md §2.9): the router sends the browser back to `/#sso=<handoff>`
// or `/#sso_error=<code>`. Read once when the app loads, and the fragment is cleared at once, so the one-time
// handoff neither stays in the address bar nor in the history (it is worthless after one use anyway).

/** What the fragment said: a handoff to exchange, an error code to explain, or nothing. */
export type SsoReturn = { handoff: string } | { error: string } | null;

function take(): SsoReturn {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const handoff = params.get('sso');
  const error = params.get('sso_error');
  if (handoff === null && error === null) return null;
  history.replaceState(history.state, '', location.pathname + location.search);
  if (handoff !== null && handoff !== '') return { handoff };
  return { error: error ?? 'sso_failed' };
}

/** The sign-on result this page load came back with (taken from the URL at start). */
export const ssoReturn: SsoReturn = take();
