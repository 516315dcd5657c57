//! `@user` mentions in a message body (docs/protocol.md §6.3): which users a message names.
//!
//! One function, used wherever a node builds a message (the send paths and every read), so each node and each read
//! derive the same list from the stored body; it is not a column of its own. A mention is `@` at the start or after
//! a character that cannot be part of an id (so `kim@example.com` names nobody), then the longest run of ASCII
//! letters, digits, `.`, `_` and `-`, without a trailing `.` or `-` (the end of a sentence). User ids with other
//! characters cannot be mentioned.

/// The most mentions one message carries; later ones are ignored.
pub const MAX_MENTIONS: usize = 50;

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The distinct user ids a body mentions, in order of first appearance, at most [`MAX_MENTIONS`].
pub fn parse(body: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (i, c) in body.char_indices() {
        let starts = c == '@' && !previous.is_some_and(|p| id_char(p) || p == '@');
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &body[i + 1..];
        let end = rest.find(|c: char| !id_char(c)).unwrap_or(rest.len());
        let id = rest[..end].trim_end_matches(['.', '-']);
        if !id.is_empty()
            && id.len() <= crate::ids::MAX_USER_ID_LEN
            && !found.iter().any(|f| f == id)
        {
            found.push(id.to_owned());
            if found.len() == MAX_MENTIONS {
                break;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn mentions_are_ids_after_an_at_sign_not_inside_words() {
        assert_eq!(parse("@dave look at this, @kim.j."), ["dave", "kim.j"]);
        assert_eq!(parse("회의 @bob-1 시작합니다 @bob-1"), ["bob-1"]);
        assert_eq!(parse("(@carol) and \"@E1234\""), ["carol", "E1234"]);
        assert!(parse("mail kim@example.com or @@x or @ alone or @.").is_empty());
        assert!(parse("").is_empty());
    }

    #[test]
    fn at_most_fifty_mentions() {
        let body: String = (0..80).map(|i| format!("@u{i} ")).collect();
        let found = parse(&body);
        assert_eq!(found.len(), super::MAX_MENTIONS);
        assert_eq!(found[0], "u0");
    }
}
