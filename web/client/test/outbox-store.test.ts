import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { IndexedDbOutboxStore, MemoryOutboxStore, type OutboxEntry, type OutboxStore } from '../src/outbox-store.js';

const entry = (id: string, created: number, room = 7): OutboxEntry => ({
  client_msg_id: id,
  room_id: room,
  body: `body ${id} 한글`,
  extras: { reply_to: 3 },
  created_at_ms: created,
  status: 'pending',
  last_error: null,
  attempts: 0,
});

async function exercise(store: OutboxStore): Promise<void> {
  await store.put(entry('b', 2));
  await store.put(entry('a', 1));
  await store.put(entry('c', 2));
  expect((await store.list()).map((e) => e.client_msg_id)).toEqual(['a', 'b', 'c']);
  await store.put({ ...entry('b', 2), status: 'failed', last_error: 'not_member' });
  expect((await store.list())[1]).toMatchObject({ client_msg_id: 'b', status: 'failed', last_error: 'not_member', extras: { reply_to: 3 } });
  await store.remove('a');
  await store.remove('missing');
  expect((await store.list()).map((e) => e.client_msg_id)).toEqual(['b', 'c']);
}

describe('outbox stores', () => {
  it('memory store keeps entries in creation order', async () => {
    await exercise(new MemoryOutboxStore());
  });

  it('IndexedDB store keeps entries in creation order and across re-opening (a page reload)', async () => {
    const factory = new IDBFactory();
    const first = new IndexedDbOutboxStore('alice', factory);
    await exercise(first);
    await first.close();
    const reopened = new IndexedDbOutboxStore('alice', factory);
    expect((await reopened.list()).map((e) => e.client_msg_id)).toEqual(['b', 'c']);
    expect((await reopened.list())[0]?.body).toBe('body b 한글');
    const otherUser = new IndexedDbOutboxStore('dave', factory);
    expect(await otherUser.list()).toEqual([]);
    await reopened.close();
    await otherUser.close();
  });
});
