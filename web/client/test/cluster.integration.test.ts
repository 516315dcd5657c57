// Against a REAL local cluster (deploy/local/cluster.sh: private PostgreSQL and Redis, a router, two nodes, all on
// loopback ports): alice and dave log in through the router, chat both ways, one node is killed with SIGKILL in the
// middle of the conversation, and afterwards each side holds every message exactly once, in seq order, and the
// server stored each exactly once. Skips (saying why) only when the debug binaries are not built; scripts/test.sh
// builds them first.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SendjayClient } from '../src/client.js';
import type { WebSocketConstructor } from '../src/connection.js';
import { MemoryOutboxStore } from '../src/outbox-store.js';
import type { LoginResult, Message, PresenceInfo } from '../src/protocol.js';
import { RouterApi } from '../src/router.js';
import type { BroadcastChannelLike } from '../src/tabs.js';
import { InProcessLocks } from './support/locks.js';
import { until } from './support/test-node.js';

const run = promisify(execFile);
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..'); // Node 18 has no import.meta.dirname
const BIN = join(ROOT, 'target/debug');
const missing = ['sendjay-node', 'sendjay-router'].filter((b) => !existsSync(join(BIN, b)));
if (missing.length > 0) {
  console.warn(
    `SKIPPED cluster integration test: ${missing.join(', ')} not found in ${BIN}. Build them with ` +
      '`CARGO_TARGET_DIR=target cargo build -p sendjay-node -p sendjay-router -p sendjay-loadtest` (scripts/test.sh does).',
  );
}
const WS = WebSocket as unknown as WebSocketConstructor;

describe.skipIf(missing.length > 0)('real cluster: two users, a node killed mid-conversation', () => {
  const state = mkdtempSync(join(tmpdir(), 'sendjay-client-it-'));
  let env: Record<string, string> = {};
  const clients: SendjayClient[] = [];
  let passed = false;

  beforeAll(async () => {
    try {
      await run('bash', [join(ROOT, 'deploy/local/cluster.sh'), '--detach', '--fresh', '--no-build', '--debug', '--no-web', '--users', '0', '--state-dir', state], {
        cwd: ROOT,
        timeout: 170_000,
      });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`deploy/local/cluster.sh failed (logs in ${state}/logs): ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
    }
    env = Object.fromEntries(
      readFileSync(join(state, 'cluster.env'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => {
          const i = l.indexOf('=');
          return [l.slice(0, i), l.slice(i + 1).replace(/^'|'$/g, '').replace(/\\(.)/g, '$1')]; // printf %q quoting
        }),
    );
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    const stopped = await run('bash', [join(ROOT, 'deploy/local/stop.sh'), '--state-dir', state, '--purge'], { cwd: ROOT, timeout: 60_000 }).then(
      () => true,
      (e: unknown) => {
        console.error(`stopping the test cluster failed: ${String(e)}; stop it with: bash deploy/local/stop.sh --state-dir ${state} --purge`);
        return false;
      },
    );
    if (stopped && passed) rmSync(state, { recursive: true, force: true });
    else console.warn(`cluster logs kept in ${state}/logs`);
  }, 70_000);

  it('presence is pushed: two tabs of bob watch different people over one connection, each sees its own', async () => {
    const routerUrl = env['ROUTER_URL'];
    const router = new RouterApi({ baseUrl: routerUrl });
    const bobLogin = await router.login('bob', 'sendjay');
    const locks = new InProcessLocks();
    const tab = (): { client: SendjayClient; seen: PresenceInfo[] } => {
      const client = new SendjayClient({
        login: bobLogin,
        outbox: new MemoryOutboxStore(),
        router: { baseUrl: routerUrl },
        connection: { WebSocket: WS },
        tabs: { locks, openChannel: (n) => new BroadcastChannel(n) as unknown as BroadcastChannelLike },
      });
      const seen: PresenceInfo[] = [];
      client.on('presence', (p) => seen.push(p));
      clients.push(client);
      client.start();
      return { client, seen };
    };
    const first = tab();
    const second = tab();
    await until(() => first.client.state.status === 'online' && second.client.state.status === 'online', 20_000, "bob's tabs online");
    expect(first.client.holdsConnection !== second.client.holdsConnection, 'one tab holds the connection').toBe(true);
    const releaseCarol = first.client.watchPresence('carol');
    second.client.watchPresence('alice');
    await until(() => first.client.presenceOf('carol') !== undefined && second.client.presenceOf('alice') !== undefined, 10_000, 'the watch answers');
    expect(first.client.presenceOf('carol')).toMatchObject({ web: false, mobile: false });
    // carol and alice sign in on the web: each tab learns about its own person from a push, not a poll.
    const others = await Promise.all(['carol', 'alice'].map((u) => router.login(u, 'sendjay')));
    const started = others.map((login) => {
      const client = new SendjayClient({ login, tabs: false, router: { baseUrl: routerUrl }, connection: { WebSocket: WS } });
      clients.push(client);
      client.start();
      return client;
    });
    await until(() => first.client.presenceOf('carol')?.web === true && second.client.presenceOf('alice')?.web === true, 10_000, 'web presence pushed');
    expect(first.seen.some((p) => p.user_id === 'alice'), "the first tab does not watch alice").toBe(false);
    expect(second.seen.some((p) => p.user_id === 'carol'), "the second tab does not watch carol").toBe(false);
    // The first tab lets carol go; alice signs out: only the second tab hears of it.
    releaseCarol();
    const seenBefore = first.seen.length;
    started[1]?.close();
    await until(() => second.client.presenceOf('alice')?.web === false, 10_000, 'alice offline pushed');
    started[0]?.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(first.seen.slice(seenBefore), 'carol is no longer watched by the first tab').toEqual([]);
    expect(first.client.presenceOf('carol'), 'released: no longer held').toBeUndefined();
    for (const c of [first.client, second.client, ...started]) c.close();
  });

  it('loses and duplicates nothing across a SIGKILL of a node', async () => {
    const routerUrl = env['ROUTER_URL'];
    expect(routerUrl, 'cluster.env has ROUTER_URL').toBeTruthy();
    const router = new RouterApi({ baseUrl: routerUrl });
    const aliceLogin = await router.login('alice', 'sendjay');
    const daveLogin = await router.login('dave', 'sendjay');
    expect(aliceLogin.node.id).not.toBe(daveLogin.node.id); // the demo users are spread over both nodes

    const make = (login: LoginResult): { client: SendjayClient; delivered: Message[] } => {
      const client = new SendjayClient({ login, tabs: false, outbox: new MemoryOutboxStore(), router: { baseUrl: routerUrl }, connection: { WebSocket: WS }, requestTimeoutMs: 10_000 });
      const delivered: Message[] = [];
      client.on('message', (m) => delivered.push(m));
      clients.push(client);
      client.start();
      return { client, delivered };
    };
    const alice = make(aliceLogin);
    const dave = make(daveLogin);
    await until(() => alice.client.state.status === 'online' && dave.client.state.status === 'online', 20_000, 'both online');

    // a direct room of the two (both sessions are subscribed when it is created)
    const room = (await alice.client.request('open_direct', { user_id: 'dave' })).room.room_id;
    await until(() => dave.client.room(room) !== undefined || dave.delivered.length > 0, 3000).catch(() => dave.client.sync());

    const bodies: string[] = [];
    const say = async (who: { client: SendjayClient }, body: string): Promise<void> => {
      bodies.push(body);
      await who.client.send(room, body);
    };
    for (let i = 0; i < 5; i++) {
      await say(alice, `alice before ${i}`);
      await say(dave, `dave before ${i}`);
    }
    await until(() => count(alice.delivered, room) >= 10 && count(dave.delivered, room) >= 10, 20_000, 'first messages both ways');

    // kill -9 alice's node mid-conversation
    const nodeUrls = (env['NODE_URLS'] ?? '').split(' ');
    const alicePort = new URL(aliceLogin.node.url.replace(/^ws/, 'http')).port;
    const index = nodeUrls.findIndex((u) => u.endsWith(`:${alicePort}`));
    expect(index, `alice's node ${aliceLogin.node.url} is one of ${nodeUrls.join(', ')}`).toBeGreaterThanOrEqual(0);
    const pid = Number(readFileSync(join(state, 'pids', `node-${index + 1}.pid`), 'utf8').trim());
    expect(pid).toBeGreaterThan(1);
    const sending = (async () => {
      for (let i = 0; i < 5; i++) {
        await say(alice, `alice during ${i}`);
        await say(dave, `dave during ${i}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 120));
    process.kill(pid, 'SIGKILL');
    await sending;
    await until(() => !running(pid), 5000, `node process ${pid} gone after SIGKILL`);
    await until(() => alice.client.state.status !== 'online', 15_000, 'alice notices the dead node');
    for (let i = 0; i < 5; i++) {
      await say(alice, `alice after ${i}`);
      await say(dave, `dave after ${i}`);
    }

    // both converge: every message once, in seq order, nothing left unsent
    const total = bodies.length;
    await until(
      () => alice.client.state.status === 'online' && held(alice.client, room).length === total && held(dave.client, room).length === total && alice.client.outbox().length === 0 && dave.client.outbox().length === 0,
      90_000,
      'both sides hold every message after the reconnect',
    );
    for (const side of [alice, dave]) {
      const messages = held(side.client, room);
      expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect([...messages.map((m) => m.body)].sort()).toEqual([...bodies].sort());
      const deliveredSeqs = side.delivered.filter((m) => m.room_id === room).map((m) => m.seq);
      expect(new Set(deliveredSeqs).size).toBe(deliveredSeqs.length); // delivered once each
    }
    // the server stored each message once (the resends after the kill were idempotent)
    const page = await dave.client.request('history', { room_id: room, limit: 200 });
    const stored = page.messages.filter((m) => m.kind !== 'system').map((m) => m.body);
    expect(stored.length).toBe(total);
    expect(new Set(stored).size).toBe(total);
    // each side's own messages are in the order they were written
    for (const who of ['alice', 'dave']) {
      const mine = held(alice.client, room).filter((m) => m.sender_id === who).map((m) => m.body);
      expect(mine).toEqual(bodies.filter((b) => b.startsWith(who)));
    }
    passed = true;
  }, 150_000);
});

function count(list: Message[], room: number): number {
  return list.filter((m) => m.room_id === room).length;
}

function held(client: SendjayClient, room: number): Message[] {
  return client.messages(room).filter((m) => m.kind !== 'system' && !m.hidden);
}

/** True while `pid` exists and is not a zombie (a killed process may linger as one until it is reaped). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
