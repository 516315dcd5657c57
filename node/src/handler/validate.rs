//! Argument checks that need no database: each failure is `bad_args` with a message saying what to fix.

use sendjay_common::ids;
use sendjay_common::protocol::{
    ChangeCursor, FileInfo, MessageKind, ProfilePatch, RoomCursor, MAX_FILE_BYTES,
    MAX_FILE_ID_BYTES, MAX_FILE_NAME_BYTES, MAX_MIME_BYTES, MAX_SEARCH_QUERY_CHARS, MAX_TEXT_BYTES,
};

use super::bad_args;
use crate::error::NodeError;

/// A user id named in the arguments.
pub(crate) fn user_id(id: &str, field: &str) -> Result<(), NodeError> {
    ids::validate_user_id(id).map_err(|e| bad_args(format!("{field}: {e}")))
}

/// A list of user ids: at most `max`, each well formed.
pub(crate) fn user_ids(list: &[String], field: &str, max: usize) -> Result<(), NodeError> {
    if list.len() > max {
        return Err(bad_args(format!(
            "{field}: at most {max} user ids per request"
        )));
    }
    list.iter().try_for_each(|id| user_id(id, field))
}

/// A short single-line text (room name, nickname, profile field): at most `max_chars` characters, no control
/// characters.
pub(crate) fn line(text: &str, field: &str, max_chars: usize) -> Result<(), NodeError> {
    sendjay_common::profile::check_line(text, field, max_chars).map_err(bad_args)
}

/// A message body: at most `MAX_TEXT_BYTES`, no NUL; `required` bodies must not be empty or only whitespace.
pub(crate) fn body(text: &str, required: bool) -> Result<(), NodeError> {
    if required && text.trim().is_empty() {
        return Err(bad_args("body must not be empty"));
    }
    if text.contains('\0') {
        return Err(bad_args("body must not contain NUL characters"));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(bad_args(format!(
            "body is {} bytes; the limit is {MAX_TEXT_BYTES}",
            text.len()
        )));
    }
    Ok(())
}

/// File metadata of an `image` or `file` message.
pub(crate) fn file(f: &FileInfo, kind: MessageKind) -> Result<(), NodeError> {
    let id_ok = !f.file_id.is_empty()
        && f.file_id.len() <= MAX_FILE_ID_BYTES
        && f.file_id.bytes().all(|b| b.is_ascii_graphic());
    if !id_ok {
        return Err(bad_args(format!(
            "file.file_id must be 1 to {MAX_FILE_ID_BYTES} printable ASCII characters"
        )));
    }
    let name_ok = !f.name.is_empty()
        && f.name.len() <= MAX_FILE_NAME_BYTES
        && f.name != "."
        && f.name != ".."
        && !f
            .name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if !name_ok {
        return Err(bad_args(format!(
            "file.name must be 1 to {MAX_FILE_NAME_BYTES} bytes without /, \\ or control characters"
        )));
    }
    if f.size < 1 || f.size > MAX_FILE_BYTES {
        return Err(bad_args(format!(
            "file.size must be 1 to {MAX_FILE_BYTES} bytes"
        )));
    }
    if !mime_ok(&f.mime) {
        return Err(bad_args(
            "file.mime must be a lowercase type/subtype such as image/png or application/pdf",
        ));
    }
    match kind {
        MessageKind::Image => {
            if !f.mime.starts_with("image/") {
                return Err(bad_args(
                    "an image needs an image/* mime type; send it as a file",
                ));
            }
            let dim = |d: Option<u32>| d.is_none_or(|d| (1..=100_000).contains(&d));
            if f.width.is_some() != f.height.is_some() || !dim(f.width) || !dim(f.height) {
                return Err(bad_args(
                    "file.width and file.height go together, each 1 to 100000 pixels",
                ));
            }
        }
        _ => {
            if f.width.is_some() || f.height.is_some() {
                return Err(bad_args("file.width and file.height are for images only"));
            }
        }
    }
    Ok(())
}

fn mime_ok(mime: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&^_.+-".contains(&b))
    };
    mime.len() <= MAX_MIME_BYTES
        && mime
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s))
}

/// A search text: 1 to `MAX_SEARCH_QUERY_CHARS` characters, not only whitespace, no control characters.
pub(crate) fn query(text: &str) -> Result<(), NodeError> {
    if text.trim().is_empty() {
        return Err(bad_args("query must not be empty"));
    }
    line(text, "query", MAX_SEARCH_QUERY_CHARS)
}

/// The caller's profile changes.
pub(crate) fn profile(p: &ProfilePatch) -> Result<(), NodeError> {
    sendjay_common::profile::check_profile(p).map_err(bad_args)
}

/// `sync` cursors name each room at most once (two cursors for one room would return its messages twice).
pub(crate) fn distinct_cursor_rooms(cursors: &[RoomCursor]) -> Result<(), NodeError> {
    distinct_rooms("cursors", cursors.iter().map(|c| c.room_id).collect())
}

/// `sync` change cursors name each room at most once (a repeat would return its changes twice).
pub(crate) fn distinct_change_rooms(changes: &[ChangeCursor]) -> Result<(), NodeError> {
    distinct_rooms("changes", changes.iter().map(|c| c.room_id).collect())
}

fn distinct_rooms(key: &str, mut rooms: Vec<i64>) -> Result<(), NodeError> {
    rooms.sort_unstable();
    match rooms.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(bad_args(format!(
            "{key}: room {} is named more than once; send one cursor per room",
            pair[0]
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, mime: &str) -> FileInfo {
        FileInfo {
            file_id: "f-1".into(),
            name: name.into(),
            size: 10,
            mime: mime.into(),
            width: None,
            height: None,
            ..Default::default()
        }
    }

    #[test]
    fn file_metadata_rules() {
        assert!(file(&f("보고서.pdf", "application/pdf"), MessageKind::File).is_ok());
        assert!(file(&f("a.png", "image/png"), MessageKind::Image).is_ok());
        assert!(file(&f("a.pdf", "application/pdf"), MessageKind::Image).is_err());
        assert!(file(&f("../x", "text/plain"), MessageKind::File).is_err());
        assert!(file(&f("", "text/plain"), MessageKind::File).is_err());
        assert!(file(&f("a", "Text/Plain"), MessageKind::File).is_err());
        assert!(file(&f("a", "textplain"), MessageKind::File).is_err());
        let mut big = f("a", "text/plain");
        big.size = 0;
        assert!(file(&big, MessageKind::File).is_err());
        let mut img = f("a.png", "image/png");
        img.width = Some(10);
        assert!(
            file(&img, MessageKind::Image).is_err(),
            "width without height"
        );
        img.height = Some(20);
        assert!(file(&img, MessageKind::Image).is_ok());
        assert!(
            file(&img, MessageKind::File).is_err(),
            "dimensions only for images"
        );
    }

    #[test]
    fn profile_rules() {
        let ok = ProfilePatch {
            absence_code: Some("dayoff".into()),
            absence_from: Some("2024-08-15".into()),
            absence_to: Some("2024-08-23".into()),
            ..Default::default()
        };
        assert!(profile(&ok).is_ok());
        let backwards = ProfilePatch {
            absence_from: Some("2024-08-23".into()),
            absence_to: Some("2024-08-15".into()),
            ..Default::default()
        };
        assert!(profile(&backwards).is_err());
        let bad_code = ProfilePatch {
            absence_code: Some("Day Off".into()),
            ..Default::default()
        };
        assert!(profile(&bad_code).is_err());
        let bad_date = ProfilePatch {
            absence_to: Some("15/08/2024".into()),
            ..Default::default()
        };
        assert!(profile(&bad_date).is_err());
        assert!(line("a\nb", "x", 10).is_err());
        assert!(line(&"가".repeat(11), "x", 10).is_err());
    }
}
