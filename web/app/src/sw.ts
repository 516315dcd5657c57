// The service worker (built by vite.sw.config.ts into dist/sw.js, registered with scope `/`): notifications while
// no tab of the messenger is connected (Web Push, docs/protocol.md §6.16). A `message` push shows one notification
// per room (tag room-<id>: a newer message replaces the older one); `clear` closes it (read on another device); a
// click focuses a window of the app and opens the room there, or opens a new window on the room. It has no fetch
// handler: the app loads from the network as before.

import { pushAction, type PushTexts } from '@sendjay/client';

declare const self: ServiceWorkerGlobalScope;

/** The language of the worker: the browser's (the page's `?lang=` is not known here). */
const texts: PushTexts = self.navigator.language.toLowerCase().startsWith('ko')
  ? { appName: 'sendjay', newMessage: '새 메시지' }
  : { appName: 'sendjay', newMessage: 'New message' };

self.addEventListener('install', () => {
  void self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('push', (event) => {
  event.waitUntil(onPush(event.data));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data as { room_id?: unknown } | null;
  const roomId = typeof data?.room_id === 'number' ? data.room_id : null;
  event.waitUntil(openApp(roomId));
});

async function onPush(data: PushMessageData | null): Promise<void> {
  let payload: unknown = null;
  try {
    payload = data?.json();
  } catch {
    // not JSON: ignored below
  }
  const action = pushAction(payload, texts);
  if (action.action === 'show') {
    await self.registration.showNotification(action.title, action.options);
  } else if (action.action === 'close') {
    for (const n of await self.registration.getNotifications({ tag: action.tag })) n.close();
  }
}

/** Focuses a window of the app (not a single-room popup) and shows the room there; else opens one. */
async function openApp(roomId: number | null): Promise<void> {
  const path = roomId === null ? '/' : `/rooms/${roomId}`;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const main = windows.find((w) => new URL(w.url).origin === self.location.origin && !new URL(w.url).searchParams.has('popup'));
  if (main !== undefined) {
    await main.focus();
    // The page routes itself (no reload): App.tsx listens for this message.
    main.postMessage({ type: 'open_room', room_id: roomId });
    return;
  }
  await self.clients.openWindow(path);
}
