//! The per-connection request rate limit: a token bucket of a few bytes kept in the connection's own future.
//!
//! Why not `governor`: its keyed limiter keeps a map the node would have to clean up, and a direct limiter per
//! connection carries a clock and a shared atomic state behind an allocation; an idle connection's memory is
//! what sets how many sessions a node holds, so the bucket here is two numbers (24 bytes) updated only when a
//! frame arrives — no timer, no allocation.

use std::time::Duration;

use tokio::time::Instant;

/// A connection's request budget: `burst` tokens at most, refilled at `per_sec`.
#[derive(Debug)]
pub struct RequestBudget {
    /// Tokens left, in thousandths of a request.
    milli_tokens: u64,
    /// When the tokens were last counted.
    counted_at: Instant,
}

impl RequestBudget {
    /// A full bucket.
    pub fn new(burst: u32, now: Instant) -> RequestBudget {
        RequestBudget {
            milli_tokens: u64::from(burst) * 1000,
            counted_at: now,
        }
    }

    /// Takes one request's token; when there is none, returns how long to wait until there is.
    pub fn take(&mut self, per_sec: u32, burst: u32, now: Instant) -> Result<(), Duration> {
        let per_sec = u64::from(per_sec.max(1));
        let capacity = u64::from(burst.max(1)) * 1000;
        let elapsed_micros = now.saturating_duration_since(self.counted_at).as_micros();
        // per_sec tokens a second = per_sec thousandths a millisecond = per_sec milli-tokens per 1000 µs.
        let refill =
            (elapsed_micros.saturating_mul(u128::from(per_sec)) / 1000).min(u128::from(capacity));
        self.milli_tokens = (self.milli_tokens + refill as u64).min(capacity);
        self.counted_at = now;
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            return Ok(());
        }
        let missing = 1000 - self.milli_tokens;
        // missing milli-tokens at per_sec milli-tokens per millisecond, rounded up.
        Err(Duration::from_micros((missing * 1000).div_ceil(per_sec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_admits_the_burst_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut budget = RequestBudget::new(3, start);
        for _ in 0..3 {
            assert_eq!(budget.take(10, 3, start), Ok(()));
        }
        let wait = budget.take(10, 3, start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert!(budget
            .take(10, 3, start + Duration::from_millis(50))
            .is_err());
        assert_eq!(
            budget.take(10, 3, start + Duration::from_millis(100)),
            Ok(())
        );
        // A long idle time refills only up to the burst.
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(budget.take(10, 3, later), Ok(()));
        }
        assert!(budget.take(10, 3, later).is_err());
    }
}
