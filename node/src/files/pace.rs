//! A node-wide pace for file bytes (`SENDJAY_FILES_MAX_MB_PER_SEC`): uploads and downloads together move at
//! most that many MB/s through one node, so a burst of transfers leaves CPU for chat on a small machine
//! (docs/benchmarks.md, files-mixed: unpaced transfers took both cores and chat p99 rose 7–30×). 0 = unpaced.
//!
//! One shared "next free moment": every chunk books its share of time after the previous one and waits until
//! then; up to [`BURST`] worth of bytes pass at once after an idle spell, so small files are not delayed.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How much idle time a pace lets a transfer catch up on at once.
pub const BURST: Duration = Duration::from_millis(50);

/// The node's pace for file bytes.
pub struct Pace {
    secs_per_byte: f64,
    next: Mutex<Instant>,
}

impl Pace {
    /// A pace of `mb_per_sec` (10^6 bytes per second); `None` for 0 (unpaced).
    pub fn new(mb_per_sec: f64) -> Option<Pace> {
        (mb_per_sec > 0.0).then(|| Pace {
            secs_per_byte: 1.0 / (mb_per_sec * 1_000_000.0),
            next: Mutex::new(Instant::now()),
        })
    }

    /// Waits until `bytes` more may move.
    pub async fn take(&self, bytes: usize) {
        let cost = Duration::from_secs_f64(bytes as f64 * self.secs_per_byte);
        let wait = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = (*next).max(now.checked_sub(BURST).unwrap_or(now));
            *next = start + cost;
            next.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_move_at_the_pace() {
        assert!(Pace::new(0.0).is_none());
        let pace = Pace::new(10.0).unwrap();
        let started = Instant::now();
        // 3 MB at 10 MB/s: 0.3 s, less the 50 ms burst.
        for _ in 0..30 {
            pace.take(100_000).await;
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(240) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
}
