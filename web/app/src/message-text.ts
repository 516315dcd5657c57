// How a message reads as one line (room list preview, notifications, quotes) and system messages as sentences.

import type { Message } from '@sendjay/client';
import { t } from './i18n.ts';

/** A system message as a sentence ("alice invited bob"). */
export function systemText(message: Message): string {
  const s = message.system;
  if (s === null) return message.body;
  const users = s.users.join(', ');
  switch (s.action) {
    case 'create':
      return t.system.create(s.actor);
    case 'invite':
      return t.system.invite(s.actor, users);
    case 'leave':
      return t.system.leave(s.actor);
    case 'remove':
      return t.system.remove(s.actor, users);
    case 'rename':
      return t.system.rename(s.actor, s.name ?? '');
    case 'pin':
      return t.system.pin(s.actor);
    case 'unpin':
      return t.system.unpin(s.actor);
    case 'join':
      return t.system.join(s.actor);
    default:
      return message.body;
  }
}

/** One line for a message. */
export function messagePreview(message: Message): string {
  if (message.revoked) return t.revokedMessage;
  if (message.kind === 'system') return systemText(message);
  if (message.file !== null) return message.file.name;
  return message.body.replace(/\s+/g, ' ').slice(0, 120);
}

// One formatter each, made once: toLocaleTimeString() builds a new Intl formatter per call (slow in long lists).
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFormat = new Intl.DateTimeFormat();

/** "14:05" today, else the date. */
export function shortTime(ms: number): string {
  const d = new Date(ms);
  const today = new Date();
  const sameDay = d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  return sameDay ? timeFormat.format(d) : dateFormat.format(d);
}
