// Presence pushes for the people on screen (docs/protocol.md §6.13 `watch_presence`): screens ask to watch a user
// and let go when they stop showing them; this keeps one watched set per tab (counting how many screens show each
// person), sends it whole after each change (batched into one request per turn of the event loop) and again on
// every new connection, and holds the latest state of each watched person.

import type { PresenceInfo } from './protocol.js';

/** The most users one connection may watch (§17). */
export const MAX_WATCHED = 500;

/** What the watch needs from the client: one request and a place to announce changes. */
export interface PresenceWatchHost {
  watch(userIds: string[]): Promise<PresenceInfo[]>;
  changed(info: PresenceInfo): void;
}

/** The watched people of one tab and their latest presence. */
export class PresenceWatch {
  private readonly counts = new Map<string, number>();
  private readonly latest = new Map<string, PresenceInfo>();
  private scheduled = false;
  private online = false;

  constructor(private readonly host: PresenceWatchHost) {}

  /** Starts watching `userId` (counted: each call needs its own release); returns the release. */
  add(userId: string): () => void {
    const before = this.counts.get(userId) ?? 0;
    this.counts.set(userId, before + 1);
    if (before === 0) this.schedule();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.counts.get(userId) ?? 1) - 1;
      if (n > 0) {
        this.counts.set(userId, n);
        return;
      }
      this.counts.delete(userId);
      this.latest.delete(userId);
      this.schedule();
    };
  }

  /** The latest known presence of a watched user. */
  get(userId: string): PresenceInfo | undefined {
    return this.latest.get(userId);
  }

  /** A new connection is online (watches end with a connection) or the connection went away. */
  setOnline(online: boolean): void {
    this.online = online;
    if (online) this.schedule();
  }

  /** A `presence` push: the watched user's device classes now. */
  pushed(userId: string, web: boolean, mobile: boolean): void {
    const known = this.latest.get(userId);
    if (!this.counts.has(userId)) return;
    const info: PresenceInfo = { user_id: userId, web, mobile, mobile_installed: known?.mobile_installed ?? false };
    this.latest.set(userId, info);
    this.host.changed(info);
  }

  private schedule(): void {
    if (this.scheduled || !this.online) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.send();
    });
  }

  private async send(): Promise<void> {
    const ids = [...this.counts.keys()].slice(0, MAX_WATCHED);
    let users: PresenceInfo[];
    try {
      users = await this.host.watch(ids);
    } catch {
      return; // offline or refused: the next connection sends the set again
    }
    for (const info of users) {
      if (!this.counts.has(info.user_id)) continue;
      this.latest.set(info.user_id, info);
      this.host.changed(info);
    }
  }
}
