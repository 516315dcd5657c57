import { describe, expect, it } from 'vitest';
import { RoomTimeline } from '../src/room-timeline.js';
import { msg } from './support/messages.js';


describe('RoomTimeline', () => {
  it('delivers in-order messages once and advances the cursor', () => {
    const t = new RoomTimeline(7, 0);
    expect(t.store([msg(7, 1)]).delivered.map((m) => m.seq)).toEqual([1]);
    expect(t.store([msg(7, 2), msg(7, 3)]).delivered.map((m) => m.seq)).toEqual([2, 3]);
    expect(t.cursor).toBe(3);
  });

  it('ignores duplicates (push after reply, resent send) without delivering again', () => {
    const t = new RoomTimeline(7, 0);
    t.store([msg(7, 1)]);
    const again = t.store([msg(7, 1)]);
    expect(again.delivered).toEqual([]);
    expect(again.changed).toBe(false);
    expect(t.messages()).toHaveLength(1);
  });

  it('detects a gap, holds the later message back, and delivers everything in seq order once filled', () => {
    const t = new RoomTimeline(7, 10);
    const early = t.store([msg(7, 13)]);
    expect(early.gap).toBe(true);
    expect(early.delivered).toEqual([]);
    expect(t.cursor).toBe(10);
    const partial = t.store([msg(7, 11)]);
    expect(partial.delivered.map((m) => m.seq)).toEqual([11]);
    expect(partial.gap).toBe(true);
    const filled = t.store([msg(7, 12), msg(7, 13)]);
    expect(filled.delivered.map((m) => m.seq)).toEqual([12, 13]);
    expect(filled.gap).toBe(false);
    expect(t.cursor).toBe(13);
  });

  it('never delivers history below the starting point as new', () => {
    const t = new RoomTimeline(7, 50);
    const page = t.storeOlder([msg(7, 50), msg(7, 49), msg(7, 48)], true);
    expect(page.delivered).toEqual([]);
    expect(page.changed).toBe(true);
    expect(t.lowestSeq).toBe(48);
    expect(t.hasOlder).toBe(true);
    t.storeOlder([msg(7, 47)], false);
    expect(t.hasOlder).toBe(false);
    expect(t.messages().map((m) => m.seq)).toEqual([47, 48, 49, 50]);
  });

  it('ignores messages of other rooms', () => {
    const t = new RoomTimeline(7, 0);
    expect(t.store([msg(8, 1)]).delivered).toEqual([]);
    expect(t.messages()).toEqual([]);
  });

  it('revokes a message and the quotes of it; a stale copy does not un-revoke it', () => {
    const t = new RoomTimeline(7, 0);
    t.store([msg(7, 1), msg(7, 2, { reply_to: { seq: 1, sender_id: 'bob', kind: 'text', preview: 'm1', revoked: false } })]);
    expect(t.revoke(1)).toBe(true);
    expect(t.get(1)).toMatchObject({ revoked: true, body: '' });
    expect(t.get(2)?.reply_to).toMatchObject({ revoked: true, preview: '' });
    t.store([msg(7, 1)]);
    expect(t.get(1)?.revoked).toBe(true);
  });

  it('hides a message for me', () => {
    const t = new RoomTimeline(7, 0);
    t.store([msg(7, 1)]);
    expect(t.hide(1)).toBe(true);
    expect(t.get(1)).toMatchObject({ hidden: true, body: '' });
    expect(t.hide(9)).toBe(false);
  });

  it('does not let a stray old duplicate punch a hole into the window; history pages extend it', () => {
    const t = new RoomTimeline(7, 0);
    t.store(Array.from({ length: 300 }, (_, i) => msg(7, i + 1)));
    t.trim(100); // holds 201..300
    expect(t.store([msg(7, 50)]).changed).toBe(false);
    expect(t.lowestSeq).toBe(201);
    t.storeOlder([msg(7, 199), msg(7, 200), msg(7, 198)], true); // any order
    expect(t.messages().map((m) => m.seq).slice(0, 4)).toEqual([198, 199, 200, 201]);
  });

  it('trims old messages below the cursor to bound memory', () => {
    const t = new RoomTimeline(7, 0);
    t.store(Array.from({ length: 500 }, (_, i) => msg(7, i + 1)));
    expect(t.trim(200)).toBe(true);
    expect(t.messages()).toHaveLength(200);
    expect(t.lowestSeq).toBe(301);
    expect(t.hasOlder).toBe(true);
    expect(t.cursor).toBe(500);
  });

  it('replaces a held message with a newer edit, never with an older copy, and leaves unheld ones alone', () => {
    const t = new RoomTimeline(7, 0);
    t.store([msg(7, 1), msg(7, 2)]);
    const second = msg(7, 1, { body: 'second', edited_at_ms: 2, change_seq: 2 });
    expect(t.replace(msg(7, 1, { body: 'first', edited_at_ms: 1, change_seq: 1 }))).toBe(true);
    expect(t.replace(second)).toBe(true);
    // A late push of the first edit (or a sync page older than the push) does not take the second back.
    expect(t.replace(msg(7, 1, { body: 'first', edited_at_ms: 1, change_seq: 1 }))).toBe(false);
    expect(t.replace(second)).toBe(false);
    expect(t.get(1)?.body).toBe('second');
    // Not held: left to its message push or a sync, never delivered through an edit.
    expect(t.replace(msg(7, 3, { body: 'edited', change_seq: 3 }))).toBe(false);
    expect(t.get(3)).toBeUndefined();
    // A revoke (higher change) wins over an edit, and an edit copy never un-revokes.
    expect(t.replace(msg(7, 1, { body: '', revoked: true, change_seq: 4 }))).toBe(true);
    expect(t.replace(msg(7, 1, { body: 'third', change_seq: 5 }))).toBe(false);
    expect(t.get(1)).toMatchObject({ revoked: true, body: '' });
    t.changedTo(4);
    t.changedTo(2);
    expect(t.changeCursor).toBe(4);
  });

  it('applies reaction pushes newer than the held copy: counts, mine, first-use order, gone at zero', () => {
    const t = new RoomTimeline(7, 0);
    t.store([msg(7, 1, { change_seq: 0 })]);
    const push = (user_id: string, emoji: string, on: boolean, count: number, change_seq: number) =>
      ({ event: 'reaction', room_id: 7, seq: 1, user_id, emoji, on, count, change_seq }) as const;
    expect(t.react(push('bob', '👍', true, 1, 1), 'alice')).toBe(true);
    expect(t.react(push('alice', '🎉', true, 1, 2), 'alice')).toBe(true);
    expect(t.react(push('alice', '👍', true, 2, 3), 'alice')).toBe(true);
    expect(t.get(1)?.reactions).toEqual([
      { emoji: '👍', count: 2, mine: true },
      { emoji: '🎉', count: 1, mine: true },
    ]);
    // A late or repeated push changes nothing.
    expect(t.react(push('bob', '👍', true, 1, 1), 'alice')).toBe(false);
    expect(t.react(push('alice', '🎉', false, 0, 4), 'alice')).toBe(true);
    expect(t.get(1)?.reactions).toEqual([{ emoji: '👍', count: 2, mine: true }]);
    expect(t.get(1)?.change_seq).toBe(4);
    // Not held: nothing to apply it to.
    expect(t.react({ ...push('bob', '👍', true, 1, 9), seq: 2 }, 'alice')).toBe(false);
  });
});
