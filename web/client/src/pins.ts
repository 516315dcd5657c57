// The pinned messages of the rooms the client has looked at (docs/protocol.md §6.17).
//
// A room's pins are loaded once with `list_pins`; after that they follow the room's `pin` and `unpin` system
// messages, which arrive by push or by sync like every other message (each once, by seq), so the bar in the room
// stays right after a reconnect without asking again. A pin of a message the client does not hold needs the list
// again, since the system message carries only the seq.

import type { Message, Pin } from './protocol.js';

/** What applying a system message to the pins did. */
export type PinChange = 'changed' | 'reload' | 'none';

/** Pins by room, for the rooms whose pins were loaded. */
export class PinBoard {
  private readonly byRoom = new Map<number, Pin[]>();

  /** The pins of a room, most recently pinned first; undefined until loaded. */
  get(roomId: number): readonly Pin[] | undefined {
    return this.byRoom.get(roomId);
  }

  /** Replaces a room's pins with a `list_pins` answer. */
  set(roomId: number, pins: readonly Pin[]): void {
    this.byRoom.set(roomId, [...pins]);
  }

  /** Forgets a room (left, or gone from the room list). */
  forget(roomId: number): void {
    this.byRoom.delete(roomId);
  }

  /**
   * Applies a delivered message: a `pin` adds the pinned message (from `held`, or `reload` when it is not held), an
   * `unpin` removes it. Other messages, and rooms whose pins were never loaded, change nothing.
   */
  apply(message: Message, held: (seq: number) => Message | undefined): PinChange {
    const event = message.system;
    const seq = event?.seq;
    if (message.kind !== 'system' || event === null || event === undefined || typeof seq !== 'number') return 'none';
    if (event.action !== 'pin' && event.action !== 'unpin') return 'none';
    const pins = this.byRoom.get(message.room_id);
    if (pins === undefined) return 'none';
    const rest = pins.filter((p) => p.message.seq !== seq);
    if (event.action === 'unpin') {
      this.byRoom.set(message.room_id, rest);
      return rest.length !== pins.length ? 'changed' : 'none';
    }
    if (rest.length !== pins.length) return 'none'; // already shown
    const pinned = held(seq);
    if (pinned === undefined) return 'reload';
    this.byRoom.set(message.room_id, [{ message: pinned, pinned_by: event.actor, pinned_at_ms: message.created_at_ms }, ...rest]);
    return 'changed';
  }

  /** A held pinned message changed (revoked, hidden): show the new copy. Returns true when it is pinned. */
  update(message: Message): boolean {
    const pins = this.byRoom.get(message.room_id);
    if (pins === undefined || !pins.some((p) => p.message.seq === message.seq)) return false;
    this.byRoom.set(
      message.room_id,
      pins.map((p) => (p.message.seq === message.seq ? { ...p, message } : p)),
    );
    return true;
  }
}
