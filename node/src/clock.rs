//! Wall-clock time as the protocol writes it (Unix milliseconds), below every module that stamps or measures
//! messages, so that metrics and handlers do not import each other for it.

/// The current time in Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
