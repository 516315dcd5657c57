import { describe, expect, it } from 'vitest';
import { backoffDelayMs, decideOnClose } from '../src/close-codes.js';

describe('close codes', () => {
  it.each([
    [4001, 'auth_failed'],
    [4002, 'token_expired'],
    [4003, 'token_revoked'],
    [4004, 'user_unavailable'],
    [4005, 'evicted'],
    [4010, 'logged_out'],
    [4011, 'already_running'],
  ])('%i ends the session with %s (no reconnect loop)', (code, reason) => {
    expect(decideOnClose(code)).toEqual({ kind: 'end', reason });
  });

  it.each([4006, 4008])('%i goes back to the router at once', (code) => {
    expect(decideOnClose(code)).toEqual({ kind: 'reconnect', immediate: true });
  });

  it.each([1000, 1002, 1006, 1009, 1011, 4007, 4009, 4900])('%i reconnects with backoff', (code) => {
    expect(decideOnClose(code)).toEqual({ kind: 'reconnect', immediate: false });
  });

  it('backs off exponentially with full jitter, capped at 30 s', () => {
    expect(backoffDelayMs(0, () => 0.999)).toBe(499);
    expect(backoffDelayMs(3, () => 0.5)).toBe(2000);
    expect(backoffDelayMs(20, () => 0.999)).toBe(29_970);
    expect(backoffDelayMs(5, () => 0)).toBe(0);
  });
});
