// An in-process lock manager with the semantics of the Web Locks API's exclusive `request` (first come, first
// served; the lock is held until the callback's promise settles; a queued request can be aborted). Node has no
// `navigator.locks`; browsers use the real one.

import type { LockManagerLike } from '../../src/tabs.js';

interface Waiter {
  callback: (lock: unknown) => Promise<void>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Exclusive locks by name, shared by the "tabs" of one test. */
export class InProcessLocks implements LockManagerLike {
  private readonly held = new Set<string>();
  private readonly queues = new Map<string, Waiter[]>();

  request(name: string, options: { signal?: AbortSignal }, callback: (lock: unknown) => Promise<void>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { callback, resolve, reject };
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      queue.push(waiter);
      options.signal?.addEventListener('abort', () => {
        const i = queue.indexOf(waiter);
        if (i >= 0) {
          queue.splice(i, 1);
          reject(new Error('AbortError'));
        }
      });
      this.grant(name);
    });
  }

  private grant(name: string): void {
    if (this.held.has(name)) return;
    const waiter = this.queues.get(name)?.shift();
    if (waiter === undefined) return;
    this.held.add(name);
    waiter
      .callback({ name })
      .then(waiter.resolve, waiter.reject)
      .finally(() => {
        this.held.delete(name);
        this.grant(name);
      });
  }
}
