//! The HTTP `Range` header (RFC 9110 §14): one byte range, so videos seek and large downloads resume.
//! Several ranges in one request are answered with the whole file (allowed by the RFC; no client needs them).

/// What to send for a `Range` header and a file of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No (usable) range: the whole file, 200.
    Whole,
    /// Bytes `start..end` (end exclusive), 206.
    Part {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// The range lies outside the file: 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Interprets `header` (e.g. `bytes=0-1023`, `bytes=1000-`, `bytes=-500`) for a file of `size` bytes.
pub fn parse(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parsed(last) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if size == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Part {
                start: size.saturating_sub(n),
                end: size,
            },
            None => RangeAnswer::Whole,
        },
        // bytes=A-: from A to the end.
        (false, true) => match parsed(first) {
            Some(a) if a < size => RangeAnswer::Part {
                start: a,
                end: size,
            },
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        // bytes=A-B, B inclusive and clamped to the file.
        (false, false) => match (parsed(first), parsed(last)) {
            (Some(a), Some(b)) if a <= b && a < size => RangeAnswer::Part {
                start: a,
                end: b.saturating_add(1).min(size),
            },
            (Some(a), Some(b)) if a <= b => RangeAnswer::Unsatisfiable,
            _ => RangeAnswer::Whole,
        },
        (true, true) => RangeAnswer::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn ranges() {
        assert_eq!(parse(None, 10), Whole);
        assert_eq!(parse(Some("bytes=0-3"), 10), Part { start: 0, end: 4 });
        assert_eq!(parse(Some("bytes=5-"), 10), Part { start: 5, end: 10 });
        assert_eq!(parse(Some("bytes=-3"), 10), Part { start: 7, end: 10 });
        assert_eq!(parse(Some("bytes=-30"), 10), Part { start: 0, end: 10 });
        assert_eq!(parse(Some("bytes=8-100"), 10), Part { start: 8, end: 10 });
        assert_eq!(parse(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse(Some("bytes=10-12"), 10), Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse(Some("bytes=4-2"), 10), Whole);
        assert_eq!(parse(Some("bytes=0-1,4-5"), 10), Whole);
        assert_eq!(parse(Some("items=0-1"), 10), Whole);
        assert_eq!(parse(Some("bytes=x-1"), 10), Whole);
    }
}
