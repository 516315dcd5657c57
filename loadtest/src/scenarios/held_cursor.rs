//! The gap-free cursor a client keeps per room (docs/protocol.md §9): the highest seq it holds with nothing
//! missing below it, and the seqs it holds above that. Pushes from two nodes may pass each other, so a push
//! alone must not move the cursor over a gap, or the next `sync` would skip the missing message.

use std::collections::BTreeSet;

/// What a client holds of one room.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeldCursor {
    /// Every seq up to this one is held.
    pub(crate) seq: i64,
    ahead: BTreeSet<i64>,
}

impl HeldCursor {
    /// A cursor holding everything up to `seq`.
    pub(crate) fn at(seq: i64) -> HeldCursor {
        HeldCursor {
            seq,
            ahead: BTreeSet::new(),
        }
    }

    /// Notes `seq` as held and moves the cursor over every seq now held without a gap.
    pub(crate) fn hold(&mut self, seq: i64) {
        if seq <= self.seq {
            return;
        }
        self.ahead.insert(seq);
        self.close_up();
    }

    /// A sync page is complete from the cursor up to `seq`, its last message in this room.
    pub(crate) fn synced_to(&mut self, seq: i64) {
        self.seq = self.seq.max(seq);
        self.ahead = self.ahead.split_off(&(self.seq + 1));
        self.close_up();
    }

    fn close_up(&mut self) {
        while self.ahead.remove(&(self.seq + 1)) {
            self.seq += 1;
        }
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
}
