//! The rules of a user's directory fields, shared by the node (`update_profile`) and the router's HR import, so
//! that a value the import writes is always one `update_profile` would accept and the other way round.

use crate::protocol::{ProfilePatch, MAX_PROFILE_CHARS};

/// Checks every field present in `patch`; the error names the field and what is wrong with it.
pub fn check_profile(patch: &ProfilePatch) -> Result<(), String> {
    for (value, field) in [
        (&patch.nickname, "nickname"),
        (&patch.job, "job"),
        (&patch.phone, "phone"),
        (&patch.absence_text, "absence_text"),
    ] {
        if let Some(v) = value {
            check_line(v, field, MAX_PROFILE_CHARS)?;
        }
    }
    if let Some(code) = &patch.absence_code {
        if !is_absence_code(code) {
            return Err("absence_code must be \"\" or up to 16 characters a-z 0-9 _ -".into());
        }
    }
    for (value, field) in [
        (&patch.absence_from, "absence_from"),
        (&patch.absence_to, "absence_to"),
    ] {
        match value.as_deref() {
            None | Some("") => {}
            Some(d) if is_date(d) => {}
            Some(_) => return Err(format!("{field} must be YYYY-MM-DD or \"\"")),
        }
    }
    if let (Some(from), Some(to)) = (patch.absence_from.as_deref(), patch.absence_to.as_deref()) {
        if !from.is_empty() && !to.is_empty() && from > to {
            return Err("absence_from must not be after absence_to".into());
        }
    }
    Ok(())
}

/// A short single-line text (names, profile fields): at most `max_chars` characters, no control characters.
pub fn check_line(text: &str, field: &str, max_chars: usize) -> Result<(), String> {
    if text.chars().count() > max_chars {
        return Err(format!("{field}: at most {max_chars} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{field}: control characters (newlines, tabs, NUL …) are not allowed"
        ));
    }
    Ok(())
}

/// `""` or 1–16 characters of `a-z 0-9 _ -`.
pub fn is_absence_code(code: &str) -> bool {
    code.len() <= 16
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The shape `YYYY-MM-DD` (PostgreSQL refuses impossible dates such as 2024-02-30 later).
pub fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_the_directory_shows_and_names_the_bad_field() {
        let mut p = ProfilePatch {
            nickname: Some("on leave".into()),
            absence_code: Some("dayoff".into()),
            absence_from: Some("2026-08-15".into()),
            absence_to: Some("2026-08-23".into()),
            ..ProfilePatch::default()
        };
        assert_eq!(check_profile(&p), Ok(()));
        p.absence_to = Some("2026-08-01".into());
        assert!(check_profile(&p).unwrap_err().contains("absence_from"));
        p.absence_to = Some("".into());
        p.absence_code = Some("Day Off".into());
        assert!(check_profile(&p).unwrap_err().contains("absence_code"));
        p.absence_code = None;
        p.job = Some("a\nb".into());
        assert!(check_profile(&p).unwrap_err().starts_with("job:"));
        p.job = Some("x".repeat(MAX_PROFILE_CHARS + 1));
        assert!(check_profile(&p).unwrap_err().contains("at most 100"));
        assert!(!is_date("2026-8-15") && is_date("2026-08-15"));
    }
}
