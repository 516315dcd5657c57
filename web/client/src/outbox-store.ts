// Where unsent messages are kept: an interface, an in-memory implementation (tests, no persistence) and an
// IndexedDB one (browsers: survives a reload and is shared by every tab of the origin).

import type { SendExtras } from './protocol.js';

/** The state of an unsent message. `pending` waits to be (re)sent; `failed` needs the user (retry or discard). */
export type OutboxStatus = 'pending' | 'failed';

/** One message the user wrote that the server has not acknowledged yet. */
export interface OutboxEntry {
  /** Chosen at creation and never changed: resends reuse it, so the server stores the message once. */
  client_msg_id: string;
  room_id: number;
  body: string;
  extras: SendExtras;
  /** Creation order (ms, made unique and increasing per store): resends go in this order per room. */
  created_at_ms: number;
  status: OutboxStatus;
  /** The protocol error code (or `timeout`, `closed`) of the last attempt. */
  last_error: string | null;
  attempts: number;
}

/** Persistence of the outbox. All methods are atomic per entry. */
export interface OutboxStore {
  /** Every entry, oldest first. */
  list(): Promise<OutboxEntry[]>;
  /** Adds or replaces an entry (by client_msg_id). */
  put(entry: OutboxEntry): Promise<void>;
  /** Removes an entry; removing an absent one is fine. */
  remove(clientMsgId: string): Promise<void>;
}

/** An outbox kept in memory (tests; several in-process "tabs" may share one instance). */
export class MemoryOutboxStore implements OutboxStore {
  private readonly entries = new Map<string, OutboxEntry>();

  list(): Promise<OutboxEntry[]> {
    return Promise.resolve([...this.entries.values()].map((e) => ({ ...e })).sort(byCreation));
  }

  put(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.client_msg_id, { ...entry });
    return Promise.resolve();
  }

  remove(clientMsgId: string): Promise<void> {
    this.entries.delete(clientMsgId);
    return Promise.resolve();
  }
}

/** Oldest first, ties broken by id so the order is total. */
export function byCreation(a: OutboxEntry, b: OutboxEntry): number {
  return a.created_at_ms - b.created_at_ms || (a.client_msg_id < b.client_msg_id ? -1 : a.client_msg_id > b.client_msg_id ? 1 : 0);
}

/** The IndexedDB factory (`globalThis.indexedDB` in browsers, `fake-indexeddb` in tests). */
export type IdbFactoryLike = IDBFactory;

/** An outbox in IndexedDB, one database per user (`sendjay-outbox-<user>`), shared by the tabs of the origin. */
export class IndexedDbOutboxStore implements OutboxStore {
  private readonly db: Promise<IDBDatabase>;

  constructor(userId: string, factory: IdbFactoryLike = globalThis.indexedDB) {
    this.db = new Promise((resolve, reject) => {
      const open = factory.open(`sendjay-outbox-${userId}`, 1);
      open.onupgradeneeded = () => {
        open.result.createObjectStore('outbox', { keyPath: 'client_msg_id' });
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(new Error(`IndexedDB could not be opened (${open.error?.message ?? 'unknown'}): unsent messages are not kept across reloads; allow site storage`));
    });
  }

  async list(): Promise<OutboxEntry[]> {
    const all = await this.run<OutboxEntry[]>('readonly', (store) => store.getAll() as IDBRequest<OutboxEntry[]>);
    return all.sort(byCreation);
  }

  async put(entry: OutboxEntry): Promise<void> {
    await this.run('readwrite', (store) => store.put(entry));
  }

  async remove(clientMsgId: string): Promise<void> {
    await this.run('readwrite', (store) => store.delete(clientMsgId));
  }

  /** Closes the database (tests, logout). */
  async close(): Promise<void> {
    (await this.db).close();
  }

  private async run<T>(mode: IDBTransactionMode, action: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.db;
    return new Promise((resolve, reject) => {
      const tx = db.transaction('outbox', mode);
      const request = action(tx.objectStore('outbox'));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(new Error(`IndexedDB ${mode} failed: ${tx.error?.message ?? 'unknown'}`));
      tx.onabort = () => reject(new Error(`IndexedDB ${mode} aborted: ${tx.error?.message ?? 'unknown'}`));
    });
  }
}
