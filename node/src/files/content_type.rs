//! What an upload really is: the type is sniffed from its first bytes, never taken on the client's word.
//!
//! * Bytes of a recognised format (images, video, audio, archives, PDF, office documents, …) get the sniffed
//!   type, whatever was claimed: a claim that disagrees is corrected, and the answer says which type was
//!   stored.
//! * A claim of `image/*`, `video/*` or `audio/*` for bytes that are not a recognised media format is refused
//!   (`content_type_mismatch`): a browser would otherwise be invited to render them inline.
//! * Anything else keeps its claimed type if it is well formed, else `application/octet-stream`.
//!
//! Only the raster images we thumbnail (JPEG, PNG, GIF, WebP) and video are ever served inline; everything else
//! is `Content-Disposition: attachment` with `X-Content-Type-Options: nosniff`, so an uploaded HTML or SVG file
//! never runs in the app's origin.

/// How many leading bytes the sniffer looks at.
pub const SNIFF_BYTES: usize = 8192;

/// Images that get thumbnails and are shown inline.
pub const INLINE_IMAGES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The type to store for bytes starting with `head` and claimed to be `claimed`; `Err` names the refusal.
pub fn decide(head: &[u8], claimed: Option<&str>) -> Result<String, String> {
    let claimed = claimed
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|c| well_formed(c));
    let media =
        |m: &str| m.starts_with("image/") || m.starts_with("video/") || m.starts_with("audio/");
    if let Some(kind) = infer::get(head) {
        let sniffed = kind.mime_type();
        // A recognised binary format corrects any claim; sniffed text (HTML, scripts) never passes as media.
        if media(sniffed) || !sniffed.starts_with("text/") || !claimed.as_deref().is_some_and(media)
        {
            return Ok(sniffed.to_owned());
        }
    }
    match claimed {
        Some(c) if c.starts_with("image/") || c.starts_with("video/") || c.starts_with("audio/") => {
            Err(format!(
                "the body is not a recognised {} format though Content-Type says {c}; send it with its real type (or application/octet-stream)",
                c.split('/').next().unwrap_or("media")
            ))
        }
        Some(c) => Ok(c),
        None => Ok("application/octet-stream".into()),
    }
}

/// Whether the type may be shown inline (`<img>`, `<video>`); everything else is an attachment.
pub fn inline(mime: &str) -> bool {
    INLINE_IMAGES.contains(&mime) || mime.starts_with("video/")
}

/// `type/subtype` of lowercase letters, digits and `!#$&^_.+-`, at most 127 bytes (protocol §6.7).
fn well_formed(mime: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&^_.+-".contains(&b))
    };
    mime.len() <= 127 && mime.split_once('/').is_some_and(|(t, s)| ok(t) && ok(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn sniffed_type_wins() {
        assert_eq!(decide(PNG, Some("application/pdf")).unwrap(), "image/png");
        assert_eq!(
            decide(b"%PDF-1.7\n", Some("image/png")).unwrap(),
            "application/pdf"
        );
        assert!(decide(b"<html><script>", Some("image/png")).is_err());
        assert!(decide(b"plain words", Some("video/mp4")).is_err());
        assert_eq!(
            decide(b"<html>", Some("text/html; charset=utf-8")).unwrap(),
            "text/html"
        );
        assert_eq!(
            decide(b"x", Some("Not A Type")).unwrap(),
            "application/octet-stream"
        );
        assert_eq!(decide(b"x", None).unwrap(), "application/octet-stream");
        assert!(inline("image/png") && inline("video/mp4"));
        assert!(!inline("image/svg+xml") && !inline("text/html"));
    }
}
