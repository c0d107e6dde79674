//! The retry policy (CONTRACT §5.2–§5.4, §6.4) as a pure function of the failure, the attempt
//! number and the kind of request, plus the client-side leaky bucket of §5.3.

use crate::error::BitrixError;
use std::time::Duration;
use tokio::time::Instant;

/// Whether a request may be repeated after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Reads are repeated after any transient failure.
    Read,
    /// Writes are repeated only when the request certainly did not run: refused by the rate or
    /// operating limit, or the connection never opened. After a timeout, a 5xx or a garbled
    /// body the write may have been applied, so the error goes back to the caller (which checks,
    /// e.g. by `originId`, before re-sending; §6.4).
    Write,
}

/// Timing knobs of the policy (from [`crate::ClientOptions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// First back-off delay; attempt n waits `base × 1.5ⁿ`, with ±25 % jitter, capped.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Least wait after 429 `OPERATION_TIME_LIMIT` (jssdk uses 10 s).
    pub operating_min_wait: Duration,
    /// Most wait after 429 `OPERATION_TIME_LIMIT` (baskets expire after 10 minutes).
    pub operating_max_wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryDecision {
    RetryAfter(Duration),
    GiveUp,
}

impl RetryPolicy {
    /// What to do after `attempt` (0-based) failed with `err`.
    /// `operating_wait` is the time until the method's `operating_reset_at`, when known.
    /// `jitter` is a number in [0, 1), passed in so tests are deterministic.
    pub fn decide(
        &self,
        err: &BitrixError,
        attempt: u32,
        kind: RequestKind,
        operating_wait: Option<Duration>,
        jitter: f64,
    ) -> RetryDecision {
        if attempt >= self.max_retries {
            return RetryDecision::GiveUp;
        }
        let backoff = RetryDecision::RetryAfter(self.backoff(attempt, jitter));
        match err {
            BitrixError::Api {
                code, http_status, ..
            } => match code.as_str() {
                // Refused before the method ran: safe for writes too.
                "QUERY_LIMIT_EXCEEDED" => backoff,
                "OPERATION_TIME_LIMIT" => {
                    let wait = operating_wait
                        .unwrap_or(Duration::ZERO)
                        .max(self.operating_min_wait)
                        .min(self.operating_max_wait);
                    RetryDecision::RetryAfter(wait)
                }
                // Blocked by hand by Bitrix24 support: waiting seconds will not help.
                "OVERLOAD_LIMIT" => RetryDecision::GiveUp,
                "INTERNAL_SERVER_ERROR" | "ERROR_UNEXPECTED_ANSWER"
                    if kind == RequestKind::Read =>
                {
                    backoff
                }
                "" if kind == RequestKind::Read && (500..=599).contains(http_status) => backoff,
                _ => RetryDecision::GiveUp,
            },
            BitrixError::Network { not_sent: true, .. } => backoff,
            BitrixError::Network { .. }
            | BitrixError::Timeout
            | BitrixError::MalformedResponse { .. }
                if kind == RequestKind::Read =>
            {
                backoff
            }
            _ => RetryDecision::GiveUp,
        }
    }

    fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let factor = 1.5f64.powi(attempt.min(60) as i32);
        let raw = self.base_delay.as_secs_f64() * factor;
        let capped = raw.min(self.max_delay.as_secs_f64());
        let jittered = capped * (0.75 + 0.5 * jitter.clamp(0.0, 1.0));
        Duration::from_secs_f64(jittered.min(self.max_delay.as_secs_f64()))
    }
}

/// A client-side leaky bucket mirroring the portal's (§5.3): every request adds 1, the level
/// drains by `drain_per_second`, and a request waits while it would take the level above capacity.
#[derive(Debug, Clone)]
pub(crate) struct LeakyBucket {
    capacity: f64,
    drain_per_second: f64,
    level: f64,
    last: Option<Instant>,
}

impl LeakyBucket {
    pub(crate) fn new(capacity: f64, drain_per_second: f64) -> Self {
        LeakyBucket {
            capacity: capacity.max(1.0),
            drain_per_second: drain_per_second.max(0.001),
            level: 0.0,
            last: None,
        }
    }

    /// Drains the level up to `now` (or up to the last reservation, if that lies ahead) and
    /// returns the instant the level refers to.
    fn drain_to(&mut self, now: Instant) -> Instant {
        let at = match self.last {
            Some(last) if last > now => last,
            Some(last) => {
                let elapsed = now.duration_since(last).as_secs_f64();
                self.level = (self.level - elapsed * self.drain_per_second).max(0.0);
                now
            }
            None => now,
        };
        self.last = Some(at);
        at
    }

    /// Reserves room for one request at `now`; returns how long to wait before sending it.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let at = self.drain_to(now);
        let over = self.level + 1.0 - self.capacity;
        let extra = if over > 0.0 {
            Duration::from_secs_f64(over / self.drain_per_second)
        } else {
            Duration::ZERO
        };
        // At `at + extra` the level has drained to `capacity - 1`; the request fills it up.
        self.level = (self.level - extra.as_secs_f64() * self.drain_per_second).max(0.0) + 1.0;
        let send_at = at + extra;
        self.last = Some(send_at);
        send_at.duration_since(now)
    }

    /// The portal said the bucket is full (503 `QUERY_LIMIT_EXCEEDED`): believe it.
    pub(crate) fn mark_full(&mut self, now: Instant) {
        self.drain_to(now);
        self.level = self.level.max(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            operating_min_wait: Duration::from_secs(10),
            operating_max_wait: Duration::from_secs(600),
        }
    }

    fn api(code: &str, status: u16) -> BitrixError {
        BitrixError::Api {
            code: code.into(),
            description: String::new(),
            http_status: status,
        }
    }

    fn net(not_sent: bool) -> BitrixError {
        BitrixError::Network {
            message: "x".into(),
            not_sent,
        }
    }

    fn malformed() -> BitrixError {
        BitrixError::MalformedResponse {
            http_status: 500,
            reason: "HTML page".into(),
        }
    }

    use RequestKind::{Read, Write};

    #[rstest]
    #[case::rate_limit_read(api("QUERY_LIMIT_EXCEEDED", 503), Read, true)]
    #[case::rate_limit_write(api("QUERY_LIMIT_EXCEEDED", 503), Write, true)]
    #[case::operating_limit_write(api("OPERATION_TIME_LIMIT", 429), Write, true)]
    #[case::overload(api("OVERLOAD_LIMIT", 503), Read, false)]
    #[case::server_error_read(api("INTERNAL_SERVER_ERROR", 500), Read, true)]
    #[case::server_error_write(api("INTERNAL_SERVER_ERROR", 500), Write, false)]
    #[case::bare_502_read(api("", 502), Read, true)]
    #[case::html_read(malformed(), Read, true)]
    #[case::html_write(malformed(), Write, false)]
    #[case::timeout_read(BitrixError::Timeout, Read, true)]
    #[case::timeout_write(BitrixError::Timeout, Write, false)]
    #[case::reset_read(net(false), Read, true)]
    #[case::reset_write(net(false), Write, false)]
    #[case::refused_write(net(true), Write, true)]
    #[case::no_auth(api("NO_AUTH_FOUND", 401), Read, false)]
    #[case::expired(api("expired_token", 401), Read, false)]
    #[case::scope(api("insufficient_scope", 403), Read, false)]
    #[case::free_plan(api("ACCESS_DENIED", 403), Read, false)]
    #[case::not_found(api("NOT_FOUND", 400), Read, false)]
    #[case::invalid_arg(api("INVALID_ARG_VALUE", 400), Read, false)]
    #[case::numeric(api("100", 400), Read, false)]
    #[case::redirect(BitrixError::Redirected { new_host: "b".into() }, Read, false)]
    fn retry_table(#[case] err: BitrixError, #[case] kind: RequestKind, #[case] retries: bool) {
        let d = policy().decide(&err, 0, kind, None, 0.5);
        assert_eq!(
            matches!(d, RetryDecision::RetryAfter(_)),
            retries,
            "{err:?} {kind:?}: {d:?}"
        );
    }

    #[test]
    fn backoff_grows_by_half_and_is_capped_and_stops_after_max_retries() {
        let p = policy();
        let wait = |n| match p.decide(&api("QUERY_LIMIT_EXCEEDED", 503), n, Read, None, 0.5) {
            RetryDecision::RetryAfter(d) => d,
            RetryDecision::GiveUp => Duration::MAX,
        };
        assert_eq!(wait(0), Duration::from_secs(1));
        assert_eq!(wait(1), Duration::from_millis(1500));
        assert_eq!(wait(2), Duration::from_millis(2250));
        let p = RetryPolicy {
            max_retries: 50,
            ..policy()
        };
        let d = p.decide(&api("QUERY_LIMIT_EXCEEDED", 503), 40, Read, None, 0.99);
        assert_eq!(d, RetryDecision::RetryAfter(Duration::from_secs(30)));
        assert_eq!(wait(5), Duration::MAX, "the sixth failure gives up");
    }

    #[test]
    fn jitter_spreads_the_delay_by_a_quarter_each_way() {
        let p = policy();
        let lo = p.decide(&BitrixError::Timeout, 0, Read, None, 0.0);
        let hi = p.decide(&BitrixError::Timeout, 0, Read, None, 1.0);
        assert_eq!(lo, RetryDecision::RetryAfter(Duration::from_millis(750)));
        assert_eq!(hi, RetryDecision::RetryAfter(Duration::from_millis(1250)));
    }

    #[test]
    fn operating_limit_waits_until_reset_but_at_least_the_minimum() {
        let p = policy();
        let err = api("OPERATION_TIME_LIMIT", 429);
        let d = |w| p.decide(&err, 0, Read, w, 0.5);
        assert_eq!(d(None), RetryDecision::RetryAfter(Duration::from_secs(10)));
        assert_eq!(
            d(Some(Duration::from_secs(3))),
            RetryDecision::RetryAfter(Duration::from_secs(10))
        );
        assert_eq!(
            d(Some(Duration::from_secs(95))),
            RetryDecision::RetryAfter(Duration::from_secs(95))
        );
        assert_eq!(
            d(Some(Duration::from_secs(5000))),
            RetryDecision::RetryAfter(Duration::from_secs(600))
        );
    }

    #[test]
    fn bucket_lets_a_burst_of_capacity_through_then_paces_at_the_drain_rate() {
        let t0 = Instant::now();
        let mut b = LeakyBucket::new(50.0, 2.0);
        for _ in 0..50 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
        assert_eq!(b.reserve(t0), Duration::from_millis(500));
        assert_eq!(b.reserve(t0), Duration::from_millis(1000));
        // Ten seconds later twenty requests' worth has drained (minus the two above).
        let later = t0 + Duration::from_secs(11);
        for _ in 0..20 {
            assert_eq!(b.reserve(later), Duration::ZERO);
        }
        assert!(b.reserve(later) > Duration::ZERO);
    }

    #[test]
    fn a_refusal_from_the_portal_fills_the_local_bucket() {
        let t0 = Instant::now();
        let mut b = LeakyBucket::new(50.0, 2.0);
        b.mark_full(t0);
        assert_eq!(b.reserve(t0), Duration::from_millis(500));
    }
}
