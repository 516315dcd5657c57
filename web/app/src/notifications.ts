// When a new message raises a desktop notification (Notification API), following the stored settings: off,
// notification hours, muted rooms (unless the message mentions you), hidden body or sender; never for your own messages or
// the room you are looking at.

import type { Message, RoomSummary, Settings } from '@sendjay/client';
import { t } from './i18n.ts';
import { messagePreview } from './message-text.ts';
import { roomName } from './room-name.ts';

/** What decides one notification. */
export interface NotifyContext {
  selfId: string;
  settings: Settings | null;
  room: RoomSummary | undefined;
  /** The room this window shows, if any. */
  openRoomId: number | null;
  /** The window is visible and focused. */
  watching: boolean;
  now: Date;
}

/** Minutes after midnight of `now` in `zone` (an IANA name; '' or an unknown name: this device's zone). */
export function minutesIn(zone: string, now: Date): number {
  if (zone !== '') {
    try {
      const parts = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
      const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? NaN);
      const minutes = part('hour') * 60 + part('minute');
      if (!Number.isNaN(minutes)) return minutes;
    } catch {
      // an unknown zone: fall through to the device's own
    }
  }
  return now.getHours() * 60 + now.getMinutes();
}

/**
 * True when notifications may be shown now: inside the user's notification hours `from`–`to` (the original
 * product's 알림시간; they may wrap midnight; equal or unset: always), read in the user's time zone.
 */
export function inNotificationHours(from: string | null, to: string | null, zone: string, now: Date): boolean {
  if (from === null || to === null || from === '' || to === '' || from === to) return true;
  const minutes = (s: string) => {
    const [h, m] = s.split(':');
    return Number(h) * 60 + Number(m);
  };
  const at = minutesIn(zone, now);
  const start = minutes(from);
  const end = minutes(to);
  return start < end ? at >= start && at < end : at >= start || at < end;
}

/** The notification for `message`, or null when none should be shown. */
export function notificationFor(message: Message, ctx: NotifyContext): { title: string; body: string } | null {
  if (message.sender_id === ctx.selfId || message.hidden || message.kind === 'system') return null;
  const settings = ctx.settings;
  if (settings?.notifications_off === true) return null;
  // A muted room stays quiet, except for a message that mentions you (@you).
  if (ctx.room?.notifications === false && !(message.mentions ?? []).includes(ctx.selfId)) return null;
  if (settings !== null && !inNotificationHours(settings.notify_from, settings.notify_to, settings.time_zone, ctx.now)) return null;
  if (ctx.watching && ctx.openRoomId === message.room_id) return null;
  const name = ctx.room === undefined ? t.appName : roomName(ctx.room);
  const title = settings?.hide_sender === true ? name : `${message.sender_id} · ${name}`;
  const body = settings?.hide_body === true ? t.unread(1) : messagePreview(message);
  return { title, body };
}

/** Shows a notification; clicking it focuses this window and calls `onClick`. */
export function showNotification(title: string, body: string, tag: string, onClick: () => void): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const n = new Notification(title, { body, tag });
  n.onclick = () => {
    window.focus();
    onClick();
    n.close();
  };
}
