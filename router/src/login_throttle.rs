//! Login throttling: guessing passwords costs the guesser, not the victim.
//!
//! Two layers. Each router keeps an in-memory `governor` limit of login attempts per source address (any
//! outcome), a cheap first line that also protects the argon2 CPU before PostgreSQL or Redis are asked. All
//! routers share failure counters in Redis, fixed windows made by `INCR` + `EXPIRE` (one small script per
//! key):
//!
//! * per **(user, source)** pair — the tight limit. Someone guessing alice's password from one address is
//!   stopped after a few tries, while alice, from her own address, is not affected by it;
//! * per **user**, from every source — a much higher ceiling, so a guesser spread over many addresses is
//!   stopped too. It is the one an attacker could use to lock alice out, which is why it is high: it takes
//!   that many failures inside one window, from many addresses, and lasts one window;
//! * per **source**, over every user — stops one address spraying a password over many accounts. Offices
//!   behind one NAT share an address, so it is generous as well.
//!
//! While any of them is over its limit the answer is `429 too_many_attempts` with `Retry-After`, even for the
//! right password (otherwise the limit would tell the guesser when a guess was right). A successful login
//! clears its pair counter.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use fred::prelude::*;
use fred::types::scripts::Script;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sendjay_common::keys::KeySchema;

use crate::config::RouterConfig;
use crate::error::RouterError;

/// Counts one failure in a fixed window: the window starts with the first failure and lasts `ARGV[1]`
/// seconds. Returns the count and the seconds left in the window.
const COUNT_FAILURE: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"#;

/// Whether a login may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Allowed,
    /// Refuse with 429; retry after this many seconds (at least 1).
    Throttled {
        /// Seconds until a retry can succeed.
        retry_after: u64,
        /// Which limit: `router_source`, `user_source`, `user` or `source`.
        limit: &'static str,
    },
}

/// The login limits of one router.
pub struct LoginThrottle {
    local: DefaultKeyedRateLimiter<IpAddr>,
    redis: Client,
    keys: KeySchema,
    count: Script,
    window_secs: u64,
    max_user_source: u64,
    max_user: u64,
    max_source: u64,
}

impl LoginThrottle {
    /// Limits from the router's settings, counting in `redis` under `keys`.
    pub fn new(config: &RouterConfig, redis: Client, keys: KeySchema) -> LoginThrottle {
        let per_min = NonZeroU32::new(config.login_attempts_per_source_per_min.max(1))
            .unwrap_or(NonZeroU32::MIN);
        LoginThrottle {
            local: RateLimiter::keyed(Quota::per_minute(per_min)),
            redis,
            keys,
            count: Script::from_lua(COUNT_FAILURE),
            window_secs: config.login_window_secs,
            max_user_source: config.login_max_failures_per_user_source,
            max_user: config.login_max_failures_per_user,
            max_source: config.login_max_failures_per_source,
        }
    }

    fn key(&self, kind: &str, part: &str) -> String {
        format!("{}:login:{kind}:{{{part}}}", self.keys.prefix())
    }

    fn keys_of(&self, user: &str, source: IpAddr) -> [(String, u64, &'static str); 3] {
        [
            (
                self.key("us", &format!("{user}|{source}")),
                self.max_user_source,
                "user_source",
            ),
            (self.key("u", user), self.max_user, "user"),
            (
                self.key("s", &source.to_string()),
                self.max_source,
                "source",
            ),
        ]
    }

    /// The per-router limit on attempts from `source` (checked before the request body is read).
    pub fn check_local(&self, source: IpAddr) -> Verdict {
        match self.local.check_key(&source) {
            Ok(()) => Verdict::Allowed,
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Verdict::Throttled {
                    retry_after: ceil_secs(wait),
                    limit: "router_source",
                }
            }
        }
    }

    /// The shared failure limits for `user` from `source`.
    pub async fn check(&self, user: &str, source: IpAddr) -> Result<Verdict, RouterError> {
        let mut verdict = Verdict::Allowed;
        for (key, max, limit) in self.keys_of(user, source) {
            let failures: Option<u64> = self.redis.get(&key).await?;
            if failures.unwrap_or(0) < max {
                continue;
            }
            let ttl: i64 = self.redis.ttl(&key).await?;
            let retry_after = if ttl > 0 { ttl as u64 } else { 1 };
            match verdict {
                Verdict::Throttled {
                    retry_after: longest,
                    ..
                } if longest >= retry_after => {}
                _ => verdict = Verdict::Throttled { retry_after, limit },
            }
        }
        Ok(verdict)
    }

    /// Counts a wrong password (or unknown user) for `user` from `source`.
    pub async fn failed(&self, user: &str, source: IpAddr) -> Result<(), RouterError> {
        for (key, _, _) in self.keys_of(user, source) {
            let _: (i64, i64) = self
                .count
                .evalsha_with_reload(&self.redis, vec![key], vec![self.window_secs.to_string()])
                .await?;
        }
        Ok(())
    }

    /// Clears the pair counter after a successful login.
    pub async fn succeeded(&self, user: &str, source: IpAddr) -> Result<(), RouterError> {
        let [(pair, _, _), ..] = self.keys_of(user, source);
        let _: i64 = self.redis.del(pair).await?;
        Ok(())
    }
}

fn ceil_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
        assert_eq!(ceil_secs(Duration::ZERO), 1);
    }
}
