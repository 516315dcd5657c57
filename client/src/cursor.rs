//! The gap-free cursor a client keeps per room (docs/protocol.md §9): the highest seq it holds with nothing
//! missing below it, and the seqs it holds above that. Pushes from two nodes may pass each other, so a push
//! alone must not move the cursor over a gap, or the next `sync` would skip the missing message.

use std::collections::{BTreeMap, BTreeSet};

use sendjay_common::protocol::{ChangeCursor, RoomCursor, RoomSummary};

/// What a client holds of one room.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeldCursor {
    /// Every seq up to this one is held.
    pub seq: i64,
    ahead: BTreeSet<i64>,
    /// Every change (edit, revoke) of held messages up to this `change_seq` is applied; only `sync` moves it, so
    /// a lost `edited` or `revoked` push is never skipped over.
    pub change_seq: i64,
}

impl HeldCursor {
    /// A cursor holding everything up to `seq`.
    pub fn at(seq: i64) -> HeldCursor {
        HeldCursor {
            seq,
            ahead: BTreeSet::new(),
            change_seq: 0,
        }
    }

    /// Notes `seq` as held and moves the cursor over every seq now held without a gap.
    pub fn hold(&mut self, seq: i64) {
        if seq <= self.seq {
            return;
        }
        self.ahead.insert(seq);
        self.close_up();
    }

    /// A sync page is complete from the cursor up to `seq`, its last message in this room.
    pub fn synced_to(&mut self, seq: i64) {
        self.seq = self.seq.max(seq);
        self.ahead = self.ahead.split_off(&(self.seq + 1));
        self.close_up();
    }

    fn close_up(&mut self) {
        while self.ahead.remove(&(self.seq + 1)) {
            self.seq += 1;
        }
    }

    /// Whether `seq` is already held (at or below the cursor, or seen above it).
    pub fn holds(&self, seq: i64) -> bool {
        seq <= self.seq || self.ahead.contains(&seq)
    }

    /// Whether seqs above the cursor are held with a gap below them (a `sync` fills it).
    pub fn has_gap(&self) -> bool {
        !self.ahead.is_empty()
    }
}

/// The cursors of every room a client follows: what `sync` is asked from, and the de-duplication of messages
/// that arrive both as a push and in a sync page.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoomCursors {
    rooms: BTreeMap<i64, HeldCursor>,
}

impl RoomCursors {
    /// No rooms yet.
    pub fn new() -> RoomCursors {
        RoomCursors::default()
    }

    /// Starts following rooms the client did not know, at their newest message (a fresh client shows history on
    /// demand, not everything since the beginning); rooms already followed keep their cursor.
    pub fn follow(&mut self, rooms: &[RoomSummary]) {
        for room in rooms {
            self.rooms
                .entry(room.room_id)
                .or_insert_with(|| HeldCursor {
                    change_seq: room.change_seq,
                    ..HeldCursor::at(room.last_seq)
                });
        }
    }

    /// Notes a message as held; false when it was held already (a duplicate to drop). A room not followed yet
    /// starts just below the message (its history is fetched on demand, not synced from the beginning).
    pub fn hold(&mut self, room_id: i64, seq: i64) -> bool {
        let cursor = self
            .rooms
            .entry(room_id)
            .or_insert_with(|| HeldCursor::at(seq - 1));
        if cursor.holds(seq) {
            return false;
        }
        cursor.hold(seq);
        true
    }

    /// A complete `sync` page for a room ended at `seq`.
    pub fn synced_to(&mut self, room_id: i64, seq: i64) {
        self.rooms.entry(room_id).or_default().synced_to(seq);
    }

    /// A `sync` page brought the changes of a room up to `change_seq`.
    pub fn changed_to(&mut self, room_id: i64, change_seq: i64) {
        if let Some(cursor) = self.rooms.get_mut(&room_id) {
            cursor.change_seq = cursor.change_seq.max(change_seq);
        }
    }

    /// The gap-free cursor of a room (0 when not followed).
    pub fn seq(&self, room_id: i64) -> i64 {
        self.rooms.get(&room_id).map_or(0, |c| c.seq)
    }

    /// Whether the room has messages held above a gap.
    pub fn gap_in(&self, room_id: i64) -> bool {
        self.rooms.get(&room_id).is_some_and(HeldCursor::has_gap)
    }

    /// Drops the cursors of rooms missing from `rooms` (the caller is no longer a member).
    pub fn keep_only(&mut self, rooms: &[RoomSummary]) {
        self.rooms
            .retain(|id, _| rooms.iter().any(|r| r.room_id == *id));
    }

    /// Whether any room has messages held above a gap.
    pub fn has_gap(&self) -> bool {
        self.rooms.values().any(HeldCursor::has_gap)
    }

    /// Stops following a room (the user left it).
    pub fn forget(&mut self, room_id: i64) {
        self.rooms.remove(&room_id);
    }

    /// The cursors to send in `sync`, one per room (the node refuses a room named twice).
    pub fn to_sync(&self) -> Vec<RoomCursor> {
        self.rooms
            .iter()
            .map(|(&room_id, c)| RoomCursor {
                room_id,
                seq: c.seq,
            })
            .collect()
    }

    /// The change cursors to send in `sync` beside [`RoomCursors::to_sync`].
    pub fn to_changes(&self) -> Vec<ChangeCursor> {
        self.rooms
            .iter()
            .map(|(&room_id, c)| ChangeCursor {
                room_id,
                change_seq: c.change_seq,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_over_what_is_held() {
        let mut c = HeldCursor::at(10);
        c.hold(12);
        assert_eq!(c.seq, 10, "11 is missing");
        c.hold(11);
        assert_eq!((c.seq, c.ahead.len()), (12, 0));
        c.hold(9);
        c.hold(12);
        c.hold(15);
        assert_eq!((c.seq, c.ahead.len()), (12, 1));
        // A sync page up to 14 fills the gap; 15 then joins.
        c.synced_to(14);
        assert_eq!((c.seq, c.ahead.len()), (15, 0));
        c.hold(17);
        c.hold(16);
        assert_eq!((c.seq, c.ahead.len()), (17, 0));
    }

    #[test]
    fn room_cursors_drop_duplicates_and_keep_one_cursor_per_room() {
        let mut rooms = RoomCursors::new();
        assert!(
            rooms.hold(9, 40),
            "an unknown room starts below its first message"
        );
        assert!(!rooms.gap_in(9));
        rooms.keep_only(&[]);
        let summary = |room_id, last_seq| RoomSummary {
            room_id,
            last_seq,
            ..RoomSummary::default()
        };
        rooms.follow(&[summary(1, 5), summary(2, 0)]);
        assert!(!rooms.hold(1, 5), "held since follow");
        assert!(rooms.hold(1, 7));
        assert!(
            !rooms.hold(1, 7),
            "a push and a sync page carry the same message"
        );
        assert!(rooms.has_gap());
        rooms.follow(&[summary(1, 9)]);
        assert_eq!(rooms.seq(1), 5, "follow keeps a known room's cursor");
        rooms.synced_to(1, 7);
        assert!(!rooms.has_gap());
        let cursors = rooms.to_sync();
        assert_eq!(
            cursors,
            [
                RoomCursor { room_id: 1, seq: 7 },
                RoomCursor { room_id: 2, seq: 0 }
            ]
        );
    }

    #[test]
    fn change_cursors_start_at_the_room_list_and_only_move_up() {
        let mut rooms = RoomCursors::new();
        rooms.follow(&[RoomSummary {
            room_id: 3,
            last_seq: 9,
            change_seq: 4,
            ..RoomSummary::default()
        }]);
        rooms.changed_to(3, 6);
        rooms.changed_to(3, 5);
        rooms.changed_to(8, 2); // not followed: nothing to hold changes of
        assert_eq!(
            rooms.to_changes(),
            [ChangeCursor {
                room_id: 3,
                change_seq: 6
            }]
        );
    }
}
