// Notifications while no tab is open (Web Push, docs/protocol.md §6.16) in headless Chromium: the service worker at
// /sw.js is registered at start; pushes are delivered to it through CDP (`ServiceWorker.deliverPushMessage`: there
// is no push service in this closed network) and must show one notification per room (tag room-<id>, collapsed),
// the neutral text when the body is hidden, and close on `clear` and when the room is read here. The settings
// switch "Notify me when sendjay is closed" appears when the server has a VAPID key; subscribing fails in headless
// Chromium (no push service), which must show the error, not break the page. The page keeps its real CSP here.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { launchBrowser, signIn, startCluster, stopCluster } from './harness.mjs';

let cluster;
let chrome;

before(async () => {
  // A VAPID key of this run (the node reads the raw 32-byte private scalar, base64url): push_config offers Web Push.
  const vapid = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' }).d;
  cluster = startCluster({ env: { SENDJAY_VAPID_PRIVATE_KEY: vapid }, stateSuffix: '-push' });
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  if (cluster !== undefined) stopCluster(cluster.stateDir);
});

/** Polls `probe()` until `check(value)` holds (no waitForFunction: it is eval'd, and the CSP forbids eval). */
async function until(probe, check, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  let value;
  while (Date.now() < deadline) {
    value = await probe();
    if (check(value)) return value;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
}

/** A browser context allowed to show notifications, its page, and the page errors collected so far. */
async function notifyingPage() {
  const origin = new URL(cluster.ROUTER_URL).origin;
  const context = await chrome.browser.newContext({ baseURL: cluster.ROUTER_URL, locale: 'en-US', viewport: { width: 1100, height: 760 } });
  context.setDefaultTimeout(15_000);
  await context.grantPermissions(['notifications'], { origin });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { origin, context, page, problems };
}

/** The notifications the service worker shows now. */
const shown = (page) =>
  page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return (await reg.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
  });

test('pushes to the service worker: one notification per room, hidden body, cleared on clear and when read here', async (t) => {
  const { origin, context, page, problems } = await notifyingPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|service ?worker/i.test(m.text())) problems.push(m.text());
  });

  const response = await page.goto('/sw.js');
  assert.equal(response.status(), 200, 'the router serves /sw.js');
  assert.match(response.headers()['content-type'] ?? '', /javascript/);

  await signIn(page, 'alice');
  const state = await until(
    () => page.evaluate(async () => (await navigator.serviceWorker.getRegistration('/sw.js'))?.active?.state ?? null),
    (s) => s === 'activated',
    'the service worker to be active',
  );
  assert.equal(state, 'activated');

  // The registration id, from CDP.
  const cdp = await context.newCDPSession(page);
  const registrations = new Map();
  const activated = new Set(); // registration ids with an activated version
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const v of versions) if (v.status === 'activated') activated.add(v.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  const registrationId = await until(() => Promise.resolve(registrations.get(`${origin}/`)), (id) => id !== undefined, 'the registration of scope /');
  await until(() => Promise.resolve(activated.has(registrationId)), (v) => v, 'CDP to see the activated version');
  const deliver = (payload) => cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data: JSON.stringify(payload) });

  // A room of alice's list (its id from the list), not on screen.
  const roomId = Number(await page.locator('.room', { hasText: 'General' }).first().getAttribute('data-room-id'));
  assert.ok(Number.isSafeInteger(roomId) && roomId > 0, `room id ${roomId}`);
  const tag = `room-${roomId}`;
  const base = { kind: 'message', room_id: roomId, room_name: 'General', mention: false, sent_at_ms: Date.now() };

  // Delivers `payload` until `check(shown)` holds. CDP's delivery loses a push now and then (seen in about 3 of 20
  // runs, at any point of the test, not only the first push: the same push delivered again is shown, and so is every
  // later one; the cause is not established, a delivery racing the worker's idle stop is the suspect). Every payload
  // here is idempotent (one notification per tag), so it is delivered again after 3 s, at most 3 times, and each
  // repeat is said in the output, so that a worker that really drops pushes still fails.
  let repeats = 0;
  const deliverUntil = async (payload, check, what) => {
    for (let attempt = 1; ; attempt += 1) {
      await deliver(payload);
      try {
        return await until(() => shown(page), check, what, attempt < 3 ? 3_000 : 10_000);
      } catch (e) {
        if (attempt === 3) throw e;
        repeats += 1;
        t.diagnostic(`${what}: nothing within 3 s of delivery ${attempt}; delivered again`);
      }
    }
  };

  const first = { ...base, seq: 101, sender_name: 'Dave Kim', body: 'lunch at noon?' };
  let list = await deliverUntil(first, (l) => l.length === 1, 'the first notification');
  assert.deepEqual(list[0], { title: 'Dave Kim · General', body: 'lunch at noon?', tag, data: { room_id: roomId, seq: 101 } });

  list = await deliverUntil({ ...base, seq: 102, sender_name: 'Dave Kim', body: 'or 1pm' }, (l) => l.length >= 1 && l[0].body === 'or 1pm', 'the second message to replace the first');
  assert.equal(list.length, 1, 'one notification per room');
  assert.deepEqual(list[0].data, { room_id: roomId, seq: 102 });

  // The user's settings hide body and sender: the server leaves both out.
  list = await deliverUntil({ ...base, room_name: '', seq: 103 }, (l) => l.length >= 1 && l[0].body === 'New message', 'the neutral notification');
  assert.deepEqual(list, [{ title: 'sendjay', body: 'New message', tag, data: { room_id: roomId, seq: 103 } }]);

  // Read on another device.
  await deliverUntil({ kind: 'clear', room_id: roomId, last_read_seq: 103 }, (l) => l.length === 0, 'clear to close the notification');

  // Read here: opening the room (which marks it read) closes its notification.
  await deliverUntil({ ...base, seq: 104, sender_name: 'Dave Kim', body: 'still there?' }, (l) => l.length === 1, 'the notification before opening the room');
  await page.locator('.room', { hasText: 'General' }).first().click();
  await page.locator('#room-title', { hasText: 'General' }).waitFor();
  await until(() => shown(page), (l) => l.length === 0, 'the notification to close when the room is opened');
  assert.ok(repeats <= 2, `CDP lost ${repeats} of 5 pushes: more than its usual rate, look at the worker`);

  // Malformed and unknown payloads show nothing and break nothing.
  await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data: 'not json' });
  await deliver({ kind: 'something_new', room_id: roomId });
  await page.waitForTimeout(300);
  assert.deepEqual(await shown(page), []);

  assert.deepEqual(problems, [], 'no page error and no CSP or service worker error');
  await context.close();
});

test('settings: "Notify me when sendjay is closed" is offered with the server key; a failed subscribe says so', async (t) => {
  const { context, page, problems } = await notifyingPage();
  await signIn(page, 'dave');
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByRole('button', { name: 'Save', exact: true }).waitFor();
  const toggle = page.getByRole('switch', { name: 'Notify me when sendjay is closed' });
  try {
    await toggle.waitFor({ timeout: 5_000 });
  } catch {
    // push_config is not answered (a node without §6.16) or the key is '': nothing is offered, the page works.
    t.diagnostic('the switch is hidden: this node does not offer Web Push (push_config unknown or no key)');
    assert.equal(await toggle.count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
    return;
  }
  assert.equal(await toggle.isChecked(), false);
  await toggle.click();
  // Headless Chromium has no push service: subscribe fails and the page says so. Should a push service be there,
  // the switch stays on instead.
  const outcome = await until(
    async () => ((await page.getByRole('alert').count()) > 0 ? 'error' : (await toggle.isChecked()) && (await toggle.isEnabled()) ? 'on' : null),
    (v) => v !== null,
    'an error or the switch on',
  );
  t.diagnostic(`the switch is offered; turning it on: ${outcome === 'error' ? await page.getByRole('alert').innerText() : 'on'}`);
  if (outcome === 'error') {
    assert.match(await page.getByRole('alert').innerText(), /Could not turn on notifications for when sendjay is closed/);
    assert.equal(await toggle.isChecked(), false);
  } else {
    await toggle.click();
    await until(() => toggle.isChecked(), (v) => v === false, 'the switch off again');
  }
  assert.deepEqual(problems, []);
  await context.close();
});
