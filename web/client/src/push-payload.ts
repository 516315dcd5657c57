// What a Web Push payload (docs/protocol.md §6.16) shows: the service worker of the app turns each push into a
// notification, or closes one, with these pure functions (also used by the page to close a room's notification).

import type { WebPushPayload } from './protocol.js';

/** The words a notification needs, in the user's language. */
export interface PushTexts {
  /** The title when neither the room's nor the sender's name may be shown. */
  appName: string;
  /** The body when the message text may not be shown. */
  newMessage: string;
}

/** What to do for one push. */
export type PushAction =
  | {
      action: 'show';
      title: string;
      options: { body: string; tag: string; renotify: boolean; data: { room_id: number; seq: number } };
    }
  | { action: 'close'; tag: string; last_read_seq: number }
  | { action: 'ignore' };

/** The tag of a room's notification: one per room, a newer message replaces the older one. */
export function roomTag(roomId: number): string {
  return `room-${roomId}`;
}

/** The notification a push payload asks for (unknown kinds and malformed payloads are ignored). */
export function pushAction(payload: unknown, texts: PushTexts): PushAction {
  if (typeof payload !== 'object' || payload === null) return { action: 'ignore' };
  const p = payload as Partial<WebPushPayload> & Record<string, unknown>;
  if (typeof p.room_id !== 'number' || !Number.isSafeInteger(p.room_id)) return { action: 'ignore' };
  if (p.kind === 'clear') {
    const lastRead = typeof p['last_read_seq'] === 'number' ? p['last_read_seq'] : 0;
    return { action: 'close', tag: roomTag(p.room_id), last_read_seq: lastRead };
  }
  if (p.kind !== 'message') return { action: 'ignore' };
  const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
  const room = text(p['room_name']);
  const sender = text(p['sender_name']);
  const title = sender !== '' && room !== '' ? `${sender} · ${room}` : sender !== '' ? sender : room !== '' ? room : texts.appName;
  const body = text(p['body']);
  const seq = typeof p['seq'] === 'number' ? p['seq'] : 0;
  return {
    action: 'show',
    title,
    options: { body: body !== '' ? body : texts.newMessage, tag: roomTag(p.room_id), renotify: true, data: { room_id: p.room_id, seq } },
  };
}

/**
 * The bytes of a VAPID public key (`push_config.web_push_key`: base64url of the 65-byte uncompressed P-256 point)
 * for `pushManager.subscribe({applicationServerKey})`; throws on anything else.
 */
export function webPushKeyBytes(key: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(key)) throw new Error('the Web Push key is not base64url');
  const base64 = key.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  if (bytes.length !== 65 || bytes[0] !== 4) throw new Error('the Web Push key is not an uncompressed P-256 point');
  return bytes;
}
