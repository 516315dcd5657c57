import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SendjayClient } from '../src/client.js';
import type { WebSocketConstructor } from '../src/connection.js';
import { MemoryOutboxStore } from '../src/outbox-store.js';
import type { Message } from '../src/protocol.js';
import { InProcessLocks } from './support/locks.js';
import { TestNode, loginFor, until } from './support/test-node.js';

const WS = WebSocket as unknown as WebSocketConstructor;

describe('tabs: one WebSocket per user, leader election and hand-over', () => {
  let node: TestNode;
  let locks: InProcessLocks;
  let store: MemoryOutboxStore;
  const tabs: SendjayClient[] = [];
  beforeEach(async () => {
    node = await TestNode.start();
    node.addRoom(7, ['alice', 'bob'], 2);
    locks = new InProcessLocks();
    store = new MemoryOutboxStore(); // stands for the IndexedDB the tabs of an origin share
  });
  afterEach(async () => {
    for (const t of tabs.splice(0)) t.close();
    await node.stop();
  });

  const openTab = (name: string, launch: 'manual' | 'auto' = 'manual'): { client: SendjayClient; delivered: Message[] } => {
    const client = new SendjayClient({
      login: loginFor('alice', node),
      launch,
      outbox: store,
      router: { fetch: node.fetch },
      connection: { WebSocket: WS },
      tabs: { locks, tabId: name, openChannel: (n) => new BroadcastChannel(n) as unknown as import('../src/tabs.js').BroadcastChannelLike },
    });
    const delivered: Message[] = [];
    client.on('message', (m) => delivered.push(m));
    client.start();
    tabs.push(client);
    return { client, delivered };
  };

  it('two tabs share one connection; the second sees state, pushes and answers through the first', async () => {
    const a = openTab('a');
    await until(() => a.client.state.status === 'online');
    const b = openTab('b');
    await until(() => b.client.state.status === 'online' && b.client.rooms().length === 1, 5000, 'tab b online');
    expect(a.client.holdsConnection).toBe(true);
    expect(b.client.holdsConnection).toBe(false);
    expect(node.connections).toHaveLength(1); // the second tab did not open (and evict) another session
    expect(node.peers).toHaveLength(1);
    // a request of tab b travels through tab a's socket
    const history = await b.client.request('history', { room_id: 7 });
    expect(history.messages.map((m) => m.seq)).toEqual([2, 1]);
    // pushes reach both tabs, each delivers once
    node.post(7, 'bob', 'to both');
    await until(() => a.delivered.length === 1 && b.delivered.length === 1);
    expect(b.delivered[0]?.body).toBe('to both');
    // a send from tab b goes out once, by the leader
    await b.client.send(7, 'from b');
    await until(() => node.stored(7).length === 4);
    await until(() => a.delivered.length === 2 && b.delivered.length === 2);
    expect(node.requests.filter((r) => r.op === 'send')).toHaveLength(1);
    expect(node.connections).toHaveLength(1);
  });

  it('when the leader tab closes, the other tab takes the lock, connects, syncs and resends the shared queue once', async () => {
    const a = openTab('a');
    await until(() => a.client.state.status === 'online');
    const b = openTab('b');
    await until(() => b.client.state.status === 'online' && b.client.rooms().length === 1);
    // messages written while the leader is going away stay in the shared store
    node.faults.silent = true;
    await b.client.send(7, 'pending during hand-over');
    await until(() => node.requests.some((r) => r.op === 'send'));
    a.client.close();
    tabs.splice(tabs.indexOf(a.client), 1);
    node.faults.silent = false;
    node.faults.dropMessagePushes = true;
    node.post(7, 'bob', 'missed during hand-over');
    node.faults.dropMessagePushes = false;
    await until(() => b.client.holdsConnection && b.client.state.status === 'online', 8000, 'tab b takes over');
    await until(() => node.stored(7).filter((m) => m.body === 'pending during hand-over').length === 1, 8000, 'resent');
    await until(() => b.delivered.length === 2, 8000, 'synced');
    expect(b.delivered.map((m) => m.body).sort()).toEqual(['missed during hand-over', 'pending during hand-over']);
    expect(b.delivered.map((m) => m.seq)).toEqual([3, 4]);
    expect(node.stored(7).filter((m) => m.body === 'pending during hand-over')).toHaveLength(1);
    expect(await store.list()).toEqual([]);
    expect(node.peers).toHaveLength(1);
  });

  it('a request made before the tab holds the lock (a reload: the old page lets go a moment later) is answered, not failed', async () => {
    // The lock is held by a page that is going away and says nothing (no bye, no state), as on a reload.
    let releaseOldPage = (): void => undefined;
    void locks.request('sendjay-leader-alice', {}, () => new Promise<void>((r) => (releaseOldPage = r)));
    const b = openTab('b');
    const answer = b.client.request('history', { room_id: 7 });
    await new Promise((r) => setTimeout(r, 100));
    releaseOldPage();
    const history = await answer;
    expect(history.messages.map((m) => m.seq)).toEqual([2, 1]);
    expect(b.client.holdsConnection).toBe(true);
    expect(node.requests.filter((r) => r.op === 'history')).toHaveLength(1);
  });

  it('the ended state (eviction) reaches every tab, and useHere from a follower reconnects through the leader', async () => {
    const a = openTab('a');
    await until(() => a.client.state.status === 'online');
    const b = openTab('b');
    await until(() => b.client.state.status === 'online');
    node.closeUser('alice', 4005, 'evicted');
    await until(() => a.client.state.status === 'ended' && b.client.state.status === 'ended');
    expect(b.client.state).toMatchObject({ reason: 'evicted' });
    b.client.useHere();
    await until(() => a.client.state.status === 'online' && b.client.state.status === 'online');
    expect(node.connections.map((c) => c.launch)).toEqual(['manual', 'manual']);
  });

  it('a tab started with launch=auto that takes over from a closed leader connects with launch=manual (no 4011 on itself)', async () => {
    const a = openTab('a', 'auto');
    await until(() => a.client.state.status === 'online');
    const b = openTab('b', 'auto');
    await until(() => b.client.state.status === 'online');
    a.client.close();
    tabs.splice(tabs.indexOf(a.client), 1);
    await until(() => b.client.holdsConnection && b.client.state.status === 'online');
    expect(node.connections.map((c) => c.launch)).toEqual(['auto', 'manual']);
    expect(node.assignCalls).toBe(1); // the new leader asked the router where to go
  });
});
