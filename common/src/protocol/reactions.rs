//! Reactions: an emoji per user per message, counted per emoji (docs/protocol.md §6.18).
//!
//! A reaction changes a message every member holds, so it takes the room's next `change_seq` like an edit: the
//! `reaction` push is the fast path, `sync`'s `updates` the one that cannot be lost. Who reacted is asked for
//! separately (`reactors`): a message of a large room may hold thousands of reactions, and its copy in every
//! history page carries only the counts and whether the caller is among them.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// Most different emoji one message may hold.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 20;

/// Longest reaction in bytes (an emoji with skin tone and joiners is up to ~30 bytes of UTF-8).
pub const MAX_REACTION_BYTES: usize = 64;

/// Most user ids one `reactors` answer names.
pub const MAX_REACTORS: usize = 1000;

/// One emoji on a message, as the caller sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// How many members reacted with it.
    pub count: i64,
    /// Whether the caller is one of them.
    pub mine: bool,
}

/// Arguments of `add_reaction` and `remove_reaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionArgs {
    /// The room.
    pub room_id: i64,
    /// The message.
    pub seq: i64,
    /// The emoji: 1 to `MAX_REACTION_BYTES` bytes, no whitespace or control characters.
    pub emoji: String,
}

/// Checks a reaction's text: short, and nothing that is not a visible symbol (no spaces, controls or `U+0000`).
pub fn check_reaction(emoji: &str) -> Result<(), String> {
    if emoji.is_empty() || emoji.len() > MAX_REACTION_BYTES {
        return Err(format!(
            "emoji is {} bytes; it must be 1 to {MAX_REACTION_BYTES}",
            emoji.len()
        ));
    }
    if emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("emoji must not contain spaces or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_are_short_visible_symbols() {
        for ok in ["👍", "👍🏽", "👨\u{200d}👩\u{200d}👧", "+1", "🇰🇷"] {
            assert!(check_reaction(ok).is_ok(), "{ok}");
        }
        for bad in ["", " ", "👍 ", "a\u{0}", "\n", &"x".repeat(65)] {
            assert!(check_reaction(bad).is_err(), "{bad:?}");
        }
    }
}
