// What a closed connection means (docs/protocol.md §13): reconnect by ourselves, via the router, or end the session.

/** Why a session ended for good; the app shows a message per reason and waits for the user. */
export type EndReason =
  | 'auth_failed' // 4001: log in again
  | 'token_expired' // 4002: log in again
  | 'token_revoked' // 4003: authentication was reset (reset_passkey): log in again
  | 'user_unavailable' // 4004: the account is retired or unknown
  | 'evicted' // 4005: signed in elsewhere (a newer web login)
  | 'logged_out' // 4010: this session logged out
  | 'already_running' // 4011: launch=auto found a session running: offer "use the messenger here"
  | 'closed'; // the app called close()

/** The decision for one close code. */
export type CloseDecision = { kind: 'end'; reason: EndReason } | { kind: 'reconnect'; immediate: boolean };

const TERMINAL: ReadonlyMap<number, EndReason> = new Map([
  [4001, 'auth_failed'],
  [4002, 'token_expired'],
  [4003, 'token_revoked'],
  [4004, 'user_unavailable'],
  [4005, 'evicted'],
  [4010, 'logged_out'],
  [4011, 'already_running'],
]);

/** Decides what to do after a close with `code`: 4006 and 4008 go back to the router at once, others back off. */
export function decideOnClose(code: number): CloseDecision {
  const reason = TERMINAL.get(code);
  if (reason !== undefined) return { kind: 'end', reason };
  return { kind: 'reconnect', immediate: code === 4006 || code === 4008 };
}

/** Exponential backoff with full jitter (§13.1): a delay in [0, min(cap, base × 2^attempt)]. */
export function backoffDelayMs(attempt: number, random: () => number = Math.random, baseMs = 500, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
