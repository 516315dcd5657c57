// Notifications while no tab of the messenger is open (Web Push through the service worker src/sw.ts, §6.16):
// registering the worker, turning the subscription on and off, and closing a room's notification once it is read.

import { roomTag, webPushKeyBytes, type SendjayClient } from '@sendjay/client';

/** The service worker's URL: at the root, so its scope is the whole app. */
const WORKER_URL = '/sw.js';

/** The browser can show notifications from a service worker and subscribe to pushes. */
export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && typeof PushManager !== 'undefined' && typeof Notification !== 'undefined';
}

/** Registers the service worker (once per page load; the browser keeps it and checks for updates). */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register(WORKER_URL).catch(() => undefined); // no worker: no pushes, the app works
}

/** The active registration, or null when there is none (yet). */
async function registration(): Promise<ServiceWorkerRegistration | null> {
  if (!('serviceWorker' in navigator)) return null;
  return (await navigator.serviceWorker.getRegistration(WORKER_URL)) ?? null;
}

/** This browser's push subscription, if any. */
export async function currentPushSubscription(): Promise<PushSubscription | null> {
  const reg = await registration();
  return reg === null ? null : reg.pushManager.getSubscription();
}

/** Why turning pushes on failed. */
export class PushSetupError extends Error {
  constructor(
    readonly reason: 'blocked' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'PushSetupError';
  }
}

/**
 * Asks for permission, subscribes this browser with the server's VAPID key and hands the subscription to the
 * server. Throws PushSetupError (`blocked`: permission refused; `failed`: the browser or the server refused).
 */
export async function turnOnPush(client: SendjayClient, webPushKey: string): Promise<void> {
  const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  if (permission !== 'granted') throw new PushSetupError('blocked', 'notifications are not allowed');
  let subscription: PushSubscription;
  try {
    await navigator.serviceWorker.register(WORKER_URL);
    const reg = await navigator.serviceWorker.ready;
    subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: webPushKeyBytes(webPushKey) });
  } catch (e) {
    throw new PushSetupError('failed', e instanceof Error ? e.message : String(e));
  }
  const json = subscription.toJSON();
  const p256dh = json.keys?.['p256dh'];
  const auth = json.keys?.['auth'];
  try {
    if (json.endpoint === undefined || p256dh === undefined || auth === undefined) throw new Error('the browser gave no keys');
    await client.pushSubscribe({ provider: 'web_push', endpoint: json.endpoint, p256dh, auth });
  } catch (e) {
    await subscription.unsubscribe().catch(() => false);
    throw new PushSetupError('failed', e instanceof Error ? e.message : String(e));
  }
}

/** Ends this browser's subscription and tells the server to stop pushing here. */
export async function turnOffPush(client: SendjayClient): Promise<void> {
  const subscription = await currentPushSubscription();
  await subscription?.unsubscribe().catch(() => false);
  await client.pushUnsubscribe();
}

/** Closes the notifications of a room (the user read it here); the page's own notifications close themselves. */
export async function closeRoomNotifications(roomId: number): Promise<void> {
  const reg = await registration();
  if (reg === null) return;
  for (const n of await reg.getNotifications({ tag: roomTag(roomId) })) n.close();
}

/** Calls `open(roomId)` when a click on a pushed notification asks this window to show a room (src/sw.ts). */
export function onNotificationOpensRoom(open: (roomId: number) => void): () => void {
  if (!('serviceWorker' in navigator)) return () => undefined;
  const listener = (e: MessageEvent) => {
    const data = e.data as { type?: unknown; room_id?: unknown } | null;
    if (data?.type === 'open_room' && typeof data.room_id === 'number') open(data.room_id);
  };
  navigator.serviceWorker.addEventListener('message', listener);
  return () => navigator.serviceWorker.removeEventListener('message', listener);
}
