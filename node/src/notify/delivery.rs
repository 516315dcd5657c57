//! One push to one device, tried again on `429` and `5xx` with backoff and `Retry-After`, and what came of it.

use std::future::Future;
use std::time::Duration;

/// Attempts per push before the worker gives up (the job is acknowledged anyway: delivery was attempted).
pub const MAX_ATTEMPTS: u32 = 5;
/// First backoff; doubled per attempt, with full jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two attempts, also for a push service's `Retry-After`.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// What one HTTP attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The push service took it.
    Delivered,
    /// The subscription or token no longer exists (Web Push 404/410, FCM UNREGISTERED): remove it.
    Gone,
    /// Busy or failing (429, 5xx, no connection): try again, after `after` when the service said so.
    Retry {
        /// The service's `Retry-After`.
        after: Option<Duration>,
        /// What happened, for the log.
        why: String,
    },
    /// Refused for good (another 4xx, bad keys): trying again would fail again.
    Failed(String),
}

/// How a push ended after its retries (the `result` label of the pushes metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken by the push service.
    Delivered,
    /// The device is gone; its subscription must be removed.
    Gone,
    /// Refused for good.
    Failed(String),
    /// Still busy or failing after [`MAX_ATTEMPTS`].
    GaveUp(String),
}

impl Outcome {
    /// The metrics label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Gone => "gone",
            Outcome::Failed(_) => "failed",
            Outcome::GaveUp(_) => "gave_up",
        }
    }
}

/// The wait before attempt `n + 1` (n ≥ 1): the service's `Retry-After` if given, else full-jitter backoff.
pub fn wait_before_retry(n: u32, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(after) => after.min(MAX_WAIT),
        None => {
            let ceiling = BASE_BACKOFF
                .saturating_mul(1 << (n - 1).min(10))
                .min(MAX_WAIT);
            Duration::from_millis(rand::random_range(0..=ceiling.as_millis() as u64))
        }
    }
}

/// Runs `attempt` until it is delivered, gone or failed for good, at most [`MAX_ATTEMPTS`] times.
pub async fn with_retries<F, Fut>(mut attempt: F) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut last = String::new();
    for n in 1..=MAX_ATTEMPTS {
        match attempt().await {
            Attempt::Delivered => return Outcome::Delivered,
            Attempt::Gone => return Outcome::Gone,
            Attempt::Failed(why) => return Outcome::Failed(why),
            Attempt::Retry { after, why } => {
                last = why;
                if n < MAX_ATTEMPTS {
                    tokio::time::sleep(wait_before_retry(n, after)).await;
                }
            }
        }
    }
    Outcome::GaveUp(last)
}

/// Reads a `Retry-After` header: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    Some(if at > now {
        Duration::try_from(at - now).unwrap_or_default()
    } else {
        Duration::ZERO
    })
}

/// The `Retry-After` of a push service's answer, if it sent a readable one.
pub fn retry_after_of(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// How a push service's HTTP status is handled.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &str) -> Attempt {
    match status {
        200..=299 => Attempt::Delivered,
        404 | 410 => Attempt::Gone,
        429 | 500..=599 => Attempt::Retry {
            after: retry_after,
            why: format!("HTTP {status}"),
        },
        _ => Attempt::Failed(format!(
            "HTTP {status}: {}",
            body.chars().take(200).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn statuses_map_to_what_the_worker_does() {
        assert_eq!(classify(201, None, ""), Attempt::Delivered);
        assert_eq!(classify(410, None, ""), Attempt::Gone);
        assert_eq!(classify(404, None, ""), Attempt::Gone);
        assert!(matches!(
            classify(429, Some(Duration::from_secs(3)), ""),
            Attempt::Retry { after: Some(a), .. } if a == Duration::from_secs(3)
        ));
        assert!(matches!(
            classify(503, None, ""),
            Attempt::Retry { after: None, .. }
        ));
        assert!(matches!(classify(400, None, "bad"), Attempt::Failed(_)));
    }

    #[test]
    fn waits_follow_retry_after_and_stay_bounded() {
        assert_eq!(
            wait_before_retry(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            wait_before_retry(1, Some(Duration::from_secs(3600))),
            MAX_WAIT
        );
        for n in 1..20 {
            assert!(wait_before_retry(n, None) <= MAX_WAIT);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_service_is_tried_until_it_takes_the_push() {
        let mut calls = 0;
        let outcome = with_retries(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Attempt::Retry {
                        after: Some(Duration::from_secs(1)),
                        why: "429".into(),
                    }
                } else {
                    Attempt::Delivered
                }
            }
        })
        .await;
        assert_eq!((outcome, calls), (Outcome::Delivered, 3));
        let mut calls = 0;
        let outcome = with_retries(|| {
            calls += 1;
            async {
                Attempt::Retry {
                    after: None,
                    why: "HTTP 503".into(),
                }
            }
        })
        .await;
        assert_eq!(
            (outcome, calls),
            (Outcome::GaveUp("HTTP 503".into()), MAX_ATTEMPTS)
        );
    }
}
