import { describe, expect, it } from 'vitest';
import { PinBoard } from '../src/pins.js';
import type { Message } from '../src/protocol.js';
import { RoomTimeline } from '../src/room-timeline.js';
import { msg } from './support/messages.js';

const pinEvent = (room: number, seq: number, action: 'pin' | 'unpin', target: number, actor = 'bob'): Message =>
  msg(room, seq, { kind: 'system', sender_id: actor, body: `${actor} ${action}ned ${target}`, system: { action, actor, users: [], name: null, seq: target } });

describe('RoomTimeline.clear: a chat cleared for me', () => {
  it('drops held messages up to the cleared seq, moves the cursor past them and never holds them again', () => {
    const t = new RoomTimeline(7, 0);
    t.store([msg(7, 1), msg(7, 2), msg(7, 3)]);
    expect(t.clear(2)).toBe(true);
    expect(t.messages().map((m) => m.seq)).toEqual([3]);
    expect(t.clearedSeq).toBe(2);
    expect(t.hasOlder).toBe(false);
    // A late duplicate push of a cleared message is ignored; what comes after is delivered.
    const outcome = t.store([msg(7, 1), msg(7, 4)]);
    expect(outcome.delivered.map((m) => m.seq)).toEqual([4]);
    expect(t.messages().map((m) => m.seq)).toEqual([3, 4]);
    expect(t.clear(2)).toBe(false);
  });

  it('jumps the cursor when the clear is ahead of what is held, so sync resumes after it without a gap', () => {
    // Another device cleared up to 10 while this one held up to 5: sync now returns from 11 on.
    const t = new RoomTimeline(7, 5);
    t.clear(10);
    expect(t.cursor).toBe(10);
    const outcome = t.store([msg(7, 11)]);
    expect(outcome.gap).toBe(false);
    expect(outcome.delivered.map((m) => m.seq)).toEqual([11]);
  });
});

describe('PinBoard: a room\'s pins follow its pin and unpin messages', () => {
  const held = new Map<number, Message>([
    [1, msg(7, 1, { body: 'the agenda' })],
    [2, msg(7, 2)],
  ]);
  const lookup = (seq: number): Message | undefined => held.get(seq);

  it('changes nothing for rooms whose pins were never loaded, or for other messages', () => {
    const board = new PinBoard();
    expect(board.apply(pinEvent(7, 3, 'pin', 1), lookup)).toBe('none');
    board.set(7, []);
    expect(board.apply(msg(7, 3), lookup)).toBe('none');
    expect(board.get(7)).toEqual([]);
  });

  it('adds a pinned held message first, by whom and when, once; an unpin removes it', () => {
    const board = new PinBoard();
    board.set(7, []);
    expect(board.apply(pinEvent(7, 3, 'pin', 2), lookup)).toBe('changed');
    const pin = pinEvent(7, 4, 'pin', 1, 'carol');
    expect(board.apply(pin, lookup)).toBe('changed');
    expect(board.get(7)?.map((p) => [p.message.seq, p.pinned_by, p.pinned_at_ms])).toEqual([
      [1, 'carol', pin.created_at_ms],
      [2, 'bob', pinEvent(7, 3, 'pin', 2).created_at_ms],
    ]);
    expect(board.apply(pin, lookup)).toBe('none'); // the same pin again (a push after a sync)
    expect(board.apply(pinEvent(7, 5, 'unpin', 1), lookup)).toBe('changed');
    expect(board.get(7)?.map((p) => p.message.seq)).toEqual([2]);
    expect(board.apply(pinEvent(7, 6, 'unpin', 1), lookup)).toBe('none');
  });

  it('asks for the list again when the pinned message is not held', () => {
    const board = new PinBoard();
    board.set(7, []);
    expect(board.apply(pinEvent(7, 9, 'pin', 8), lookup)).toBe('reload');
  });

  it('shows the new copy of a pinned message that changed, and forgets rooms', () => {
    const board = new PinBoard();
    board.set(7, [{ message: msg(7, 1), pinned_by: 'bob', pinned_at_ms: 1 }]);
    expect(board.update(msg(7, 1, { hidden: true, body: '' }))).toBe(true);
    expect(board.get(7)?.[0]?.message.hidden).toBe(true);
    expect(board.update(msg(7, 2))).toBe(false);
    board.forget(7);
    expect(board.get(7)).toBeUndefined();
  });
});
