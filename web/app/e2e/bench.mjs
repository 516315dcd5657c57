// Web client benchmarks (docs/benchmarks.md, "Web client"): initial JS gzipped, first screen interactive, a
// 300-room list render, the scroll frame times of a 10 000-message room, and the JS heap while an open room receives
// an hour's worth of messages at 10/s (36 000, sent faster than that by sendjay-chat as live pushes), in headless
// Chromium against a private local cluster (started and stopped here). Big rooms are written straight into the
// cluster's PostgreSQL (this is a benchmark fixture, not a test of the write path). Prints one JSON line per figure.
//
//   cd web/app && npm run build && node e2e/bench.mjs      (debug binaries; SENDJAY_E2E_PROFILE=release for release)

import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchBrowser, newPerson, openRoom, ROOT, signIn, startCluster, stopCluster } from './harness.mjs';

const ROOMS = 300;
const BIG = 10_000;
/** An hour at 10 messages/s. */
const HOUR = Number(process.env.SENDJAY_BENCH_HOUR_MESSAGES ?? 36_000);
const PROFILE = process.env.SENDJAY_E2E_PROFILE ?? 'debug';

function sql(cluster, text) {
  return execFileSync(join(cluster.PG_BIN, 'psql'), [cluster.DATABASE_URL, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', text], { encoding: 'utf8' });
}

function report(name, value, unit, extra = {}) {
  console.log(JSON.stringify({ name, value, unit, ...extra }));
}

const dist = join(ROOT, 'web/app/dist/assets');
let js = 0;
for (const f of readdirSync(dist)) if (f.endsWith('.js')) js += gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
report('initial JS, gzipped', Math.round(js / 102.4) / 10, 'KB', { target: '<= 150' });

// The hour of messages comes from one connection as fast as it is acknowledged: lift the per-connection limit.
/** The sendjay-chat process sending the hour of messages (killed, with its shell, at the end). */
let chat;
const cluster = startCluster({ env: { SENDJAY_REQUESTS_PER_SEC: '1000000', SENDJAY_REQUEST_BURST: '1000000' } });
const chrome = await launchBrowser();
try {
  sql(
    cluster,
    `WITH r AS (INSERT INTO rooms (kind, name, last_seq, last_activity)
                SELECT 'group', 'Bench room ' || i, 1, now() - make_interval(secs => i) FROM generate_series(1, ${ROOMS}) i RETURNING id)
     , m AS (INSERT INTO room_members (room_id, user_id) SELECT id, u FROM r, unnest(ARRAY['alice', 'dave']) u)
     INSERT INTO messages (room_id, seq, sender_id, client_msg_id, body) SELECT id, 1, 'dave', 'bench-' || id, 'hello from the bench' FROM r;`,
  );
  sql(
    cluster,
    `WITH r AS (INSERT INTO rooms (kind, name, last_seq) VALUES ('group', 'Bench 10k', ${BIG}) RETURNING id)
     , m AS (INSERT INTO room_members (room_id, user_id, last_read_seq) SELECT id, u, ${BIG} FROM r, unnest(ARRAY['alice', 'dave']) u)
     INSERT INTO messages (room_id, seq, sender_id, client_msg_id, body)
       SELECT id, s, CASE WHEN s % 3 = 0 THEN 'alice' ELSE 'dave' END, 'big-' || s,
              'message ' || s || CASE WHEN s % 5 = 0 THEN E'\\na second line to vary the height' ELSE '' END
       FROM r, generate_series(1, ${BIG}) s;`,
  );

  const context = await newPerson(chrome.browser, cluster);
  const page = await context.newPage();
  // Login screen: navigation start → the user id field is on screen.
  await page.goto('/');
  await page.getByLabel('User ID').waitFor();
  const loginReady = await page.evaluate(() => performance.now());
  report('login screen interactive (navigation start → form)', Math.round(loginReady), 'ms', { target: '<= 1000' });
  await signIn(page, 'alice');

  // Remembered session: navigation start → the room list (302 rooms) is on screen.
  await context.addInitScript(() => {
    new MutationObserver((_, obs) => {
      if (document.querySelector('.room') !== null) {
        window.__roomsAt = performance.now();
        obs.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  const fresh = await context.newPage();
  await fresh.goto('/');
  await fresh.waitForFunction(() => window.__roomsAt !== undefined);
  report('first screen interactive (remembered session → room list)', Math.round(await fresh.evaluate(() => window.__roomsAt)), 'ms', { target: '<= 1000' });
  await fresh.waitForFunction((n) => document.querySelectorAll('.room').length >= n, ROOMS);
  const renders = await fresh.evaluate(() =>
    performance.getEntriesByType('measure').filter((m) => m.name.startsWith('sendjay:room-list:')).map((m) => ({ rooms: Number(m.name.split(':')[2]), ms: m.duration })),
  );
  const big = renders.filter((r) => r.rooms >= ROOMS);
  report(`${ROOMS}-room list render + commit (max of ${big.length} renders)`, Math.round(Math.max(...big.map((r) => r.ms)) * 10) / 10, 'ms', { target: '<= 50' });
  await fresh.close();

  // The 10 000-message room: load all history by scrolling up, then scroll through it frame by frame.
  await openRoom(page, 'Bench 10k');
  const loadStart = Date.now();
  while ((await page.locator('.history-edge').innerText()) !== 'This is the beginning of the chat') {
    await page.locator('.message-scroller').evaluate((el) => (el.scrollTop = 0));
    await page.waitForTimeout(50);
    if (Date.now() - loadStart > 240_000) throw new Error('loading 10 000 messages took over 4 minutes');
  }
  const held = await page.evaluate(() => document.querySelector('.rows').style.height);
  const inDom = await page.locator('.message-scroller .row').count();
  report('10 000-message room: rows in the DOM', inDom, 'rows', { listHeight: held });
  const frames = await page.locator('.message-scroller').evaluate(
    (el) =>
      new Promise((resolve) => {
        el.scrollTop = 0;
        const times = [];
        let last = performance.now();
        const step = (now) => {
          times.push(now - last);
          last = now;
          el.scrollTop += 120;
          if (times.length < 600 && el.scrollTop + el.clientHeight < el.scrollHeight) requestAnimationFrame(step);
          else resolve(times.slice(1));
        };
        requestAnimationFrame(step);
      }),
  );
  frames.sort((a, b) => a - b);
  const pct = (p) => Math.round(frames[Math.min(frames.length - 1, Math.floor(frames.length * p))] * 10) / 10;
  report('10 000-message room: frame time while scrolling 120 px/frame', pct(0.5), 'ms p50', { p95: pct(0.95), max: pct(1), frames: frames.length, target: '<= 16' });
  const heap = await page.evaluate(() => performance.memory?.usedJSHeapSize ?? null);
  if (heap !== null) report('JS heap with the 10 000-message room loaded', Math.round(heap / 1048576), 'MB');

  // An hour of 10 messages/s in an open room: dave (sendjay-chat) sends HOUR messages, alice's page shows them.
  sql(cluster, `WITH r AS (INSERT INTO rooms (kind, name) VALUES ('group', 'Bench live') RETURNING id)
                INSERT INTO room_members (room_id, user_id) SELECT id, u FROM r, unnest(ARRAY['alice', 'dave']) u;`);
  await page.reload();
  await page.locator('.room').first().waitFor();
  await openRoom(page, 'Bench live');
  const cdp = await page.context().newCDPSession(page);
  const heapNow = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    return Math.round((await cdp.send('Runtime.getHeapUsage')).usedSize / 1048576);
  };
  const heapBefore = await heapNow();
  // Through a shell pipe: sendjay-chat reads /dev/stdin, which cannot be opened on the socket node gives a child.
  const lines = [];
  for (let i = 1; i <= HOUR; i++) lines.push(`live ${i}${i % 5 === 0 ? ' with a longer tail to vary the row height a little' : ''}`);
  const linesFile = join(cluster.stateDir, 'bench-live.txt');
  writeFileSync(linesFile, `${lines.join('\n')}\n`);
  chat = spawn(
    'bash',
    ['-c', '(cat "$0"; sleep 1800) | "$1" --router "$2" --user dave --room "Bench live"', linesFile, join(ROOT, `target/${PROFILE}/sendjay-chat`), cluster.ROUTER_URL],
    { detached: true, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const samples = [];
  const started = Date.now();
  let shown = 0;
  while (shown < HOUR) {
    await page.waitForTimeout(5000);
    const last = await page.locator('.message-scroller .rows .body').last().innerText().catch(() => '');
    shown = Number(/^live (\d+)/.exec(last)?.[1] ?? 0);
    const mb = await heapNow();
    samples.push(mb);
    console.error(`[bench] hour of messages: ${shown}/${HOUR} shown, heap ${mb} MB, ${Math.round((Date.now() - started) / 1000)} s`);
    if (Date.now() - started > 20 * 60_000) throw new Error(`only ${shown} of ${HOUR} messages arrived in 20 minutes`);
  }
  const rows = await page.locator('.message-scroller .row').count();
  const seconds = (Date.now() - started) / 1000;
  report(`JS heap after an hour-equivalent (${HOUR} messages at 10/s) in an open room, after GC`, await heapNow(), 'MB', {
    before: heapBefore,
    maxSampled: Math.max(...samples),
    rowsInDom: rows,
    deliveredPerSec: Math.round(HOUR / seconds),
    target: '<= 100',
  });
} finally {
  if (chat !== undefined) process.kill(-chat.pid, 'SIGTERM');
  await chrome.close();
  stopCluster(cluster.stateDir);
}
