// One room's messages as the client holds them, with the gap-free cursor of docs/protocol.md §9.
//
// The cursor is the highest seq such that every message from the room's starting point up to it is held. A message
// is *delivered* (handed to the app as new) exactly once, when the cursor passes it, so the app sees each room's new
// messages once and in seq order, whatever order pushes, replies and sync pages bring them in. Older pages loaded
// with `history` lie below the starting point: they fill the window but are never delivered as new.

import type { Message, ReactionEvent } from './protocol.js';

/** What storing some messages did. */
export interface StoreOutcome {
  /** Messages that became deliverable, in seq order (each is reported once in the timeline's life). */
  delivered: Message[];
  /** True when a message above cursor + 1 is held: pushes were lost or reordered, a sync is needed. */
  gap: boolean;
  /** True when the held window changed (new, replaced or older messages). */
  changed: boolean;
}

/** The held messages and cursor of one room. */
export class RoomTimeline {
  private readonly bySeq = new Map<number, Message>();
  /** `messages()` as last computed; dropped on every change (a render per push must not sort 10 000 messages). */
  private sorted: Message[] | undefined;
  private cursorSeq: number;
  /** The lowest seq held (older pages extend it downwards); Infinity when nothing is held. */
  private lowest = Number.POSITIVE_INFINITY;
  /** Whether messages below `lowest` exist on the server (unknown until a page says so). */
  hasOlder = true;
  /** The user cleared the room up to this seq (§6.17): such messages are never held again. */
  private clearedUpTo = 0;
  /** Every change (edit, revoke) of held messages up to this `change_seq` is applied; only sync pages move it (§6.6). */
  private changesUpTo = 0;

  constructor(
    readonly roomId: number,
    startCursor: number,
  ) {
    this.cursorSeq = startCursor;
    if (startCursor === 0) this.hasOlder = false;
  }

  /** The highest seq held without gaps from the starting point. */
  get cursor(): number {
    return this.cursorSeq;
  }

  /** The highest seq held at all (above the cursor when there is a gap). */
  get highestHeld(): number {
    let max = this.cursorSeq;
    for (const seq of this.bySeq.keys()) if (seq > max) max = seq;
    return max;
  }

  /** True when some message above cursor + 1 is held. */
  get hasGap(): boolean {
    return this.highestHeld > this.cursorSeq;
  }

  /** The held message with `seq`, if any. */
  get(seq: number): Message | undefined {
    return this.bySeq.get(seq);
  }

  /** Held messages in seq order, including hidden ones (the app does not display those). */
  messages(): readonly Message[] {
    this.sorted ??= [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    return this.sorted;
  }

  /** The lowest seq held, or undefined. */
  get lowestSeq(): number | undefined {
    return Number.isFinite(this.lowest) ? this.lowest : undefined;
  }

  /**
   * Stores messages of this room (from a push, a send reply, a sync page or open_room) and advances the cursor.
   * A message already held is replaced by the newer copy (e.g. revoked) but never delivered again.
   */
  store(messages: readonly Message[]): StoreOutcome {
    let changed = false;
    for (const m of messages) {
      if (m.room_id !== this.roomId || m.seq <= this.clearedUpTo) continue;
      const held = this.bySeq.get(m.seq);
      // An old message not adjacent to the held window (a duplicate push of a trimmed one) would leave a hole in
      // the window: history brings it back when the user scrolls there.
      if (held === undefined && m.seq <= this.cursorSeq && this.bySeq.size > 0 && m.seq < this.lowest - 1) continue;
      if (held === undefined || !sameMessage(held, m)) {
        // A seq at or below the cursor that we never held is history below the starting point (or a trimmed
        // message): keep it for the window, but it is not new.
        this.bySeq.set(m.seq, held === undefined ? m : mergeFlags(held, m));
        changed = true;
      }
      if (m.seq < this.lowest) this.lowest = m.seq;
    }
    const delivered: Message[] = [];
    for (let next = this.bySeq.get(this.cursorSeq + 1); next !== undefined; next = this.bySeq.get(this.cursorSeq + 1)) {
      this.cursorSeq += 1;
      delivered.push(next);
    }
    if (changed) this.sorted = undefined;
    return { delivered, gap: this.hasGap, changed: changed || delivered.length > 0 };
  }

  /** Stores an older page from `history`/`open_room` (newest first or any order) and records whether more exist. */
  storeOlder(messages: readonly Message[], hasMore: boolean): StoreOutcome {
    const outcome = this.store([...messages].sort((a, b) => b.seq - a.seq)); // newest first: each one adjoins the window
    const pageLowest = messages.reduce((min, m) => Math.min(min, m.seq), Number.POSITIVE_INFINITY);
    if (pageLowest <= this.lowest) this.hasOlder = hasMore;
    return outcome;
  }

  /** Moves the starting point up to `seq` when nothing above the cursor is held (a room first seen in a room list). */
  startAt(seq: number): void {
    if (seq > this.cursorSeq && this.bySeq.size === 0) {
      this.cursorSeq = seq;
      this.hasOlder = seq > 0;
    }
  }

  /** The change cursor to send in `sync`. */
  get changeCursor(): number {
    return this.changesUpTo;
  }

  /** A sync page (or the room summary this timeline started from) brought every change up to `changeSeq`. */
  changedTo(changeSeq: number): void {
    if (changeSeq > this.changesUpTo) this.changesUpTo = changeSeq;
  }

  /**
   * Replaces a held message with a changed copy (an `edited` push, a sync update, an edit reply) unless the held one
   * is as new. A message not held is left alone: its message push or a sync brings it whole. Returns true when replaced.
   */
  replace(m: Message): boolean {
    const held = this.bySeq.get(m.seq);
    if (held === undefined || m.room_id !== this.roomId || m.seq <= this.clearedUpTo) return false;
    const merged = mergeFlags(held, m);
    if (merged === held || sameMessage(held, merged)) return false;
    this.bySeq.set(m.seq, merged);
    this.sorted = undefined;
    return true;
  }

  /**
   * Applies a `reaction` push to the held message: the emoji's count now, and `mine` when the reactor is `selfId`.
   * A push no newer than the held copy (by `change_seq`) is ignored. Returns true when the message changed.
   */
  react(push: ReactionEvent, selfId: string): boolean {
    const held = this.bySeq.get(push.seq);
    if (held === undefined || push.room_id !== this.roomId || push.change_seq <= (held.change_seq ?? 0) || held.revoked) return false;
    const reactions = [...(held.reactions ?? [])];
    const i = reactions.findIndex((r) => r.emoji === push.emoji);
    const old = i >= 0 ? reactions[i] : undefined;
    const mine = push.user_id === selfId ? push.on : (old?.mine ?? false);
    if (push.count <= 0) {
      if (i >= 0) reactions.splice(i, 1);
    } else if (old !== undefined) {
      reactions[i] = { emoji: push.emoji, count: push.count, mine };
    } else {
      reactions.push({ emoji: push.emoji, count: push.count, mine });
    }
    this.bySeq.set(push.seq, { ...held, reactions, change_seq: push.change_seq });
    this.sorted = undefined;
    return true;
  }

  /** Marks a message revoked (the `revoked` push): body and file dropped. Returns true when it was held. */
  revoke(seq: number): boolean {
    this.sorted = undefined;
    const m = this.bySeq.get(seq);
    let touched = false;
    if (m !== undefined) {
      this.bySeq.set(seq, { ...m, revoked: true, body: '', file: null });
      touched = true;
    }
    for (const [s, other] of this.bySeq) {
      if (other.reply_to?.seq === seq && !other.reply_to.revoked) {
        this.bySeq.set(s, { ...other, reply_to: { ...other.reply_to, revoked: true, preview: '' } });
        touched = true;
      }
    }
    return touched;
  }

  /** Marks a message hidden for this user (the `hidden` push / delete_for_me). */
  hide(seq: number): boolean {
    const m = this.bySeq.get(seq);
    if (m === undefined) return false;
    this.sorted = undefined;
    this.bySeq.set(seq, { ...m, hidden: true, body: '', file: null });
    return true;
  }

  /** The seq up to which the user cleared the room (0 when never). */
  get clearedSeq(): number {
    return this.clearedUpTo;
  }

  /**
   * The user cleared the room up to `seq` (the `room_cleared` push, a `clear_room` reply or a room summary): held
   * messages up to it go, and the cursor jumps past them, since neither sync nor history returns them any more.
   * Returns true when something changed.
   */
  clear(seq: number): boolean {
    if (seq <= this.clearedUpTo) return false;
    this.clearedUpTo = seq;
    let dropped = false;
    for (const s of [...this.bySeq.keys()]) {
      if (s <= seq) {
        this.bySeq.delete(s);
        dropped = true;
      }
    }
    this.sorted = undefined;
    this.lowest = this.bySeq.size > 0 ? Math.min(...this.bySeq.keys()) : Number.POSITIVE_INFINITY;
    if (this.cursorSeq < seq) this.cursorSeq = seq;
    this.hasOlder = false;
    return dropped;
  }

  /** Drops the oldest held messages below the cursor so at most `keep` remain (bounded memory in long sessions). */
  trim(keep: number): boolean {
    if (this.bySeq.size <= keep) return false;
    const seqs = [...this.bySeq.keys()].sort((a, b) => a - b);
    const drop = seqs.slice(0, seqs.length - keep).filter((s) => s <= this.cursorSeq);
    for (const s of drop) this.bySeq.delete(s);
    this.sorted = undefined;
    this.lowest = this.bySeq.size > 0 ? Math.min(...this.bySeq.keys()) : Number.POSITIVE_INFINITY;
    if (drop.length > 0) this.hasOlder = true;
    return drop.length > 0;
  }
}

function sameMessage(a: Message, b: Message): boolean {
  return (
    a.revoked === b.revoked &&
    a.hidden === b.hidden &&
    a.body === b.body &&
    a.reply_to?.revoked === b.reply_to?.revoked &&
    (a.edited_at_ms ?? null) === (b.edited_at_ms ?? null) &&
    (a.change_seq ?? 0) === (b.change_seq ?? 0)
  );
}

/**
 * A later copy never un-revokes or un-hides a message, nor takes back an edit (pushes may be older than what a sync
 * brought): of two copies, the one with the higher `change_seq` wins.
 */
function mergeFlags(held: Message, incoming: Message): Message {
  if (held.revoked && !incoming.revoked) return held;
  if (held.hidden && !incoming.hidden) return held;
  if ((incoming.change_seq ?? 0) < (held.change_seq ?? 0)) return held;
  return incoming;
}
