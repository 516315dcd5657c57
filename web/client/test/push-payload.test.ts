import { describe, expect, it } from 'vitest';
import { pushAction, roomTag, webPushKeyBytes } from '../src/push-payload.js';
import type { WebPushPayload } from '../src/protocol.js';

const texts = { appName: 'sendjay', newMessage: 'New message' };
const message = (extra: Partial<Extract<WebPushPayload, { kind: 'message' }>> = {}): WebPushPayload => ({
  kind: 'message',
  room_id: 12,
  seq: 40,
  room_name: 'Design',
  sender_name: 'Dave Kim',
  body: 'the mock-ups are in',
  mention: false,
  sent_at_ms: 1_700_000_000_000,
  ...extra,
});

describe('pushAction: what a Web Push payload shows', () => {
  it('a message: sender · room, the preview, one notification per room', () => {
    expect(pushAction(message(), texts)).toEqual({
      action: 'show',
      title: 'Dave Kim · Design',
      options: { body: 'the mock-ups are in', tag: 'room-12', renotify: true, data: { room_id: 12, seq: 40 } },
    });
    expect(roomTag(12)).toBe('room-12');
  });

  it('a direct room has no name: the sender alone; a hidden sender leaves the room name', () => {
    expect(pushAction(message({ room_name: '' }), texts)).toMatchObject({ title: 'Dave Kim' });
    const hidden: Record<string, unknown> = { ...message() };
    delete hidden['sender_name'];
    expect(pushAction(hidden, texts)).toMatchObject({ title: 'Design' });
  });

  it('hidden sender in a direct room: the app name; hidden body: the neutral text', () => {
    const p = { kind: 'message', room_id: 3, seq: 1, room_name: '', mention: true, sent_at_ms: 1 };
    expect(pushAction(p, texts)).toEqual({
      action: 'show',
      title: 'sendjay',
      options: { body: 'New message', tag: 'room-3', renotify: true, data: { room_id: 3, seq: 1 } },
    });
  });

  it('clear closes the room notification; unknown or malformed payloads are ignored', () => {
    expect(pushAction({ kind: 'clear', room_id: 12, last_read_seq: 40 }, texts)).toEqual({ action: 'close', tag: 'room-12', last_read_seq: 40 });
    expect(pushAction({ kind: 'call', room_id: 12 }, texts)).toEqual({ action: 'ignore' });
    expect(pushAction({ kind: 'message', room_id: '12' }, texts)).toEqual({ action: 'ignore' });
    expect(pushAction(null, texts)).toEqual({ action: 'ignore' });
    expect(pushAction('text', texts)).toEqual({ action: 'ignore' });
  });
});

describe('webPushKeyBytes', () => {
  it('decodes a base64url key of 65 bytes (0x04 first), padded or not', () => {
    const raw = new Uint8Array(65).map((_, i) => (i === 0 ? 4 : (i * 37) % 256));
    const b64url = Buffer.from(raw).toString('base64url');
    expect([...webPushKeyBytes(b64url)]).toEqual([...raw]);
    expect([...webPushKeyBytes(b64url + '=')]).toEqual([...raw]);
  });

  it('refuses anything else', () => {
    expect(() => webPushKeyBytes('')).toThrow();
    expect(() => webPushKeyBytes('not base64!')).toThrow();
    expect(() => webPushKeyBytes(Buffer.from(new Uint8Array(32)).toString('base64url'))).toThrow();
    expect(() => webPushKeyBytes(Buffer.from(new Uint8Array(65)).toString('base64url'))).toThrow(); // no 0x04
  });
});
