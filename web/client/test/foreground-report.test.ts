import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SendjayClient } from '../src/client.js';
import type { WebSocketConstructor } from '../src/connection.js';
import { ForegroundReport, ForegroundUnion, type VisibilitySource } from '../src/foreground-report.js';
import { MemoryOutboxStore } from '../src/outbox-store.js';
import type { BroadcastChannelLike } from '../src/tabs.js';
import { InProcessLocks } from './support/locks.js';
import { TestNode, loginFor, until } from './support/test-node.js';

const WS = WebSocket as unknown as WebSocketConstructor;

/** A tab's visibility the test flips. */
class FakeVisibility implements VisibilitySource {
  private readonly listeners = new Set<() => void>();
  constructor(private shown = false) {}
  visible(): boolean {
    return this.shown;
  }
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(shown: boolean): void {
    this.shown = shown;
    for (const l of this.listeners) l();
  }
}

describe('ForegroundUnion: the session is in the foreground while any tab is', () => {
  let connection: string | undefined;
  let sent: boolean[];
  let union: ForegroundUnion;
  beforeEach(() => {
    connection = 'c1';
    sent = [];
    union = new ForegroundUnion({
      connectionId: () => connection,
      send: (foreground) => {
        sent.push(foreground);
        return Promise.resolve();
      },
    });
  });

  it('sends the union over the tabs, only when it changes', () => {
    union.report('a', false);
    expect(sent).toEqual([]); // a new connection is in the background already
    union.report('b', true);
    union.report('a', true);
    union.report('b', true);
    expect(sent).toEqual([true]);
    union.report('b', false);
    expect(sent).toEqual([true]); // a is still visible
    union.report('a', false);
    expect(sent).toEqual([true, false]);
    union.report('a', true);
    union.drop('a'); // the visible tab closed
    expect(sent).toEqual([true, false, true, false]);
  });

  it('sends nothing while offline and the union again on every new connection', () => {
    connection = undefined;
    union.report('a', true);
    expect(sent).toEqual([]);
    connection = 'c1';
    union.flush();
    union.flush();
    expect(sent).toEqual([true]);
    connection = 'c2'; // reconnected: the server forgot
    union.flush();
    expect(sent).toEqual([true, true]);
    union.report('a', false);
    connection = 'c3'; // in the background, as a new connection starts: nothing to say
    union.flush();
    expect(sent).toEqual([true, true, false]);
  });

  it('ignores failures (an older server without set_foreground)', async () => {
    const failing = new ForegroundUnion({ connectionId: () => 'c1', send: () => Promise.reject(new Error('unknown_op')) });
    failing.report('a', true);
    await new Promise((r) => setTimeout(r, 0));
    expect(failing.foreground).toBe(true);
  });
});

describe('ForegroundReport: one tab follows its visibility source', () => {
  it('reports at start, on each change and on demand; set() overrides the source', () => {
    const source = new FakeVisibility(true);
    const reports: boolean[] = [];
    const report = new ForegroundReport(source, (v) => reports.push(v));
    source.set(false);
    report.update();
    report.set(true);
    source.set(false);
    report.set(undefined);
    report.close();
    source.set(true);
    expect(reports).toEqual([true, false, false, true, true, false]);
  });
});

describe('SendjayClient: set_foreground through the leader tab', () => {
  let node: TestNode;
  let locks: InProcessLocks;
  const tabs: SendjayClient[] = [];
  beforeEach(async () => {
    node = await TestNode.start();
    node.addRoom(7, ['alice', 'bob'], 0);
    locks = new InProcessLocks();
  });
  afterEach(async () => {
    for (const t of tabs.splice(0)) t.close();
    await node.stop();
  });

  const openTab = (name: string, visibility: FakeVisibility, shared = true): SendjayClient => {
    const client = new SendjayClient({
      login: loginFor('alice', node),
      outbox: new MemoryOutboxStore(),
      router: { fetch: node.fetch },
      connection: { WebSocket: WS },
      tabs: shared ? { locks, tabId: name, openChannel: (n) => new BroadcastChannel(n) as unknown as BroadcastChannelLike } : false,
      visibility,
    });
    client.start();
    tabs.push(client);
    return client;
  };
  const reported = (): unknown[] => node.requests.filter((r) => r.op === 'set_foreground').map((r) => r.args?.['foreground']);
  const settle = () => new Promise((r) => setTimeout(r, 50));

  it('the leader sends the union of its tabs on change, and again after a reconnect', async () => {
    const seenA = new FakeVisibility(false);
    const seenB = new FakeVisibility(false);
    const a = openTab('a', seenA);
    await until(() => a.state.status === 'online');
    const b = openTab('b', seenB);
    await until(() => b.state.status === 'online');
    await settle();
    expect(reported()).toEqual([]); // both hidden: a new session is in the background anyway
    seenB.set(true); // the follower is visible: its report travels through the leader
    await until(() => reported().length === 1);
    seenA.set(true);
    seenB.set(false);
    await settle();
    expect(reported()).toEqual([true]); // a is visible now: still in the foreground, nothing new to say
    seenA.set(false);
    await until(() => reported().length === 2);
    expect(reported()).toEqual([true, false]);
    seenB.set(true);
    await until(() => reported().length === 3);
    expect(node.connections).toHaveLength(1); // one socket for both tabs; unknown_op answers were ignored

    node.crash(); // the new connection starts in the background: the union is sent again
    await until(() => reported().length === 4, 8000, 'set_foreground after the reconnect');
    await settle();
    expect(reported()).toEqual([true, false, true, true]);
    expect(node.connections).toHaveLength(2);

    b.close(); // the visible follower goes: the leader is alone and hidden
    tabs.splice(tabs.indexOf(b), 1);
    await until(() => reported().length === 5);
    expect(reported()).toEqual([true, false, true, true, false]);
  });

  it('a tab with its own socket reports its own visibility the same way; setForeground overrides it', async () => {
    const seen = new FakeVisibility(true);
    const c = openTab('solo', seen, false);
    await until(() => reported().length === 1);
    seen.set(true);
    c.setForeground(false);
    await until(() => reported().length === 2);
    c.setForeground(undefined);
    await until(() => reported().length === 3);
    expect(reported()).toEqual([true, false, true]);
    expect(c.foreground).toBe(true);
  });
});
