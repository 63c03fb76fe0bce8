//! The spacing a request's [`RateLimitKey`] asks of the host: one schedule
//! per key, shared by every source that sends with that key, so calls of one
//! account to one API count together against its per-second budget wherever
//! they come from (two sources, two plugins, a child process).
//!
//! GCRA with a burst of one: each request reserves the next slot
//! `1/per_second * (1 + margin)` after the previous one and sleeps (through
//! [`HostServices::sleep`], so cancellation cuts the wait short) until it.
//! Calls are therefore spaced evenly, which is what per-second gateway
//! counters tolerate best. Time is the services' own clock
//! ([`HostServices::now_unix_ms`]), so a virtual-time test host spaces in
//! virtual time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::{HostServices, RateLimitKey, TransportError, TransportErrorKind};

/// Default extra spacing between calls: 2% (20 ms of slack per one-second
/// window at any rate). See [`RateLimiter::with_spacing_margin`].
pub const DEFAULT_SPACING_MARGIN: f64 = 0.02;

/// One budget's schedule.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// The next free slot, microseconds since the epoch.
    next_slot_us: i64,
    /// The lowest rate any request named for this key: two senders that
    /// disagree (one configured lower) are both held to the lower one.
    per_second: f64,
}

/// Spaces requests per [`RateLimitKey::key`]. One per run, shared by all
/// the services handed to plugins.
#[derive(Debug)]
pub struct RateLimiter {
    spacing_margin: f64,
    budgets: Mutex<HashMap<String, Budget>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// A limiter with the [`DEFAULT_SPACING_MARGIN`].
    pub fn new() -> Self {
        Self { spacing_margin: DEFAULT_SPACING_MARGIN, budgets: Mutex::new(HashMap::new()) }
    }

    /// Spaces calls `1/per_second * (1 + margin)` apart. The margin absorbs
    /// latency jitter: calls leave evenly spaced but arrive a few ms apart
    /// either way, and a server counting a sliding one-second window refuses
    /// the call that lands less than one second after the call `per_second`
    /// slots before it. With margin `m` that earlier call may arrive up to
    /// `m` seconds late (20 ms at 2%) before anything is refused, at any
    /// rate. Negative or non-finite values mean 0.
    pub fn with_spacing_margin(mut self, margin: f64) -> Self {
        self.spacing_margin = if margin.is_finite() && margin > 0.0 { margin } else { 0.0 };
        self
    }

    /// Reserves the next slot of `limit`'s budget at `now_us` and says how
    /// long to wait for it and the interval in force, or `None` when the
    /// rate is no limit (not positive, not finite). Pure bookkeeping.
    fn reserve(&self, limit: &RateLimitKey, now_us: i64) -> Option<(i64, i64)> {
        if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
            return None;
        }
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        let budget =
            budgets.entry(limit.key.clone()).or_insert(Budget { next_slot_us: now_us, per_second: limit.per_second });
        budget.per_second = budget.per_second.min(limit.per_second);
        let interval_us = (1_000_000.0 / budget.per_second * (1.0 + self.spacing_margin)).ceil() as i64;
        let slot = budget.next_slot_us.max(now_us);
        budget.next_slot_us = slot + interval_us;
        Some((slot - now_us, interval_us))
    }

    /// A call that left at `left_us`, later than its slot: the next slot is
    /// at least an interval after it.
    fn left_late(&self, key: &str, left_us: i64, interval_us: i64) {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(budget) = budgets.get_mut(key) {
            budget.next_slot_us = budget.next_slot_us.max(left_us + interval_us);
        }
    }

    /// Waits for the next slot of `limit`'s budget on `services`' clock.
    /// Returns how long it waited, or a `Cancelled` transport error when
    /// the services were cancelled meanwhile (the request must not be sent).
    pub fn acquire(&self, services: &dyn HostServices, limit: &RateLimitKey) -> Result<Duration, TransportError> {
        let now_us = services.now_unix_ms().saturating_mul(1000);
        let Some((wait_us, interval_us)) = self.reserve(limit, now_us) else {
            return Ok(Duration::ZERO);
        };
        if wait_us <= 0 {
            return Ok(Duration::ZERO);
        }
        let wait = Duration::from_micros(wait_us as u64);
        services.sleep(wait);
        if services.is_cancelled() {
            return Err(TransportError {
                kind: TransportErrorKind::Cancelled,
                message: "the scan was cancelled while the request waited for its rate limit".into(),
            });
        }
        // A late wake-up (a loaded machine) must not bring the next call
        // closer than the interval: the gateway counts arrivals, not slots.
        // Within the clock's millisecond resolution a call is on time.
        let left_us = services.now_unix_ms().saturating_mul(1000);
        if left_us - (now_us + wait_us) > 1000 {
            self.left_late(&limit.key, left_us, interval_us);
        }
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HttpRequest, HttpResponse, LogLevel};
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

    /// Virtual time: `sleep` moves the clock (plus `late_ms`, a loaded machine).
    #[derive(Default)]
    struct Clock {
        now_ms: AtomicI64,
        late_ms: i64,
        cancelled: AtomicBool,
    }

    impl HostServices for Clock {
        fn http(&self, _: &HttpRequest) -> Result<HttpResponse, TransportError> {
            unreachable!("the limiter sends nothing")
        }
        fn log(&self, _: LogLevel, _: &str, _: &str) {}
        fn now_unix_ms(&self) -> i64 {
            self.now_ms.load(Ordering::SeqCst)
        }
        fn is_cancelled(&self) -> bool {
            self.cancelled.load(Ordering::SeqCst)
        }
        fn sleep(&self, duration: Duration) {
            let ms = duration.as_micros().div_ceil(1000) as i64 + self.late_ms;
            self.now_ms.fetch_add(ms, Ordering::SeqCst);
        }
    }

    fn key(key: &str, per_second: f64) -> RateLimitKey {
        RateLimitKey::new(key, per_second)
    }

    /// Each row: requests made at one instant (t = 0, nothing waited yet)
    /// and the wait each is told, in ms.
    #[test]
    fn reservations_space_requests_per_key() {
        let a10 = key("cas/List/acct-a", 10.0);
        let cases: &[(&str, f64, &[RateLimitKey], &[i64])] = &[
            ("one budget: 100 ms apart", 0.0, &[a10.clone(), a10.clone(), a10.clone()], &[0, 100, 200]),
            ("the margin widens every interval", 0.02, &[a10.clone(), a10.clone(), a10.clone()], &[0, 102, 204]),
            (
                "another account is another budget",
                0.0,
                &[a10.clone(), key("cas/List/acct-b", 10.0), a10.clone()],
                &[0, 0, 100],
            ),
            ("the lower rate of one key wins", 0.0, &[key("k", 2.0), key("k", 10.0), key("k", 10.0)], &[0, 500, 1000]),
            ("no rate, no wait", 0.0, &[key("k", 0.0), key("k", f64::NAN), key("k", -1.0)], &[0, 0, 0]),
            ("100 per second", 0.0, &[key("k", 100.0), key("k", 100.0)], &[0, 10]),
        ];
        for (what, margin, requests, waits_ms) in cases {
            let limiter = RateLimiter::new().with_spacing_margin(*margin);
            let waits: Vec<i64> =
                requests.iter().map(|r| limiter.reserve(r, 0).map_or(0, |(wait, _)| wait / 1000)).collect();
            assert_eq!(&waits, waits_ms, "{what}");
        }
    }

    #[test]
    fn acquire_spaces_calls_on_the_services_clock() {
        let clock = Clock::default();
        let limiter = RateLimiter::new().with_spacing_margin(0.0);
        let mut left = Vec::new();
        for _ in 0..21 {
            limiter.acquire(&clock, &key("k", 10.0)).unwrap();
            left.push(clock.now_unix_ms());
        }
        assert!(left.windows(2).all(|w| w[1] - w[0] == 100), "{left:?}");
    }

    #[test]
    fn a_late_wake_up_pushes_the_next_slot_back() {
        let clock = Clock { late_ms: 30, ..Clock::default() };
        let limiter = RateLimiter::new().with_spacing_margin(0.0);
        let mut left = Vec::new();
        for _ in 0..3 {
            limiter.acquire(&clock, &key("k", 10.0)).unwrap();
            left.push(clock.now_unix_ms());
        }
        // Slots at 0, 100, 200; the late wake-ups leave at 0, 130 and then a
        // full interval after that, not 30 ms after it.
        assert_eq!(left, [0, 130, 260]);
    }

    #[test]
    fn cancellation_while_waiting_is_an_error_and_sends_nothing() {
        let clock = Clock::default();
        let limiter = RateLimiter::new();
        limiter.acquire(&clock, &key("k", 1.0)).unwrap();
        clock.cancelled.store(true, Ordering::SeqCst);
        let error = limiter.acquire(&clock, &key("k", 1.0)).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Cancelled);
    }

    #[test]
    fn requests_without_a_budget_keep_their_old_wire_form() {
        let old = r#"{"method":"GET","url":"https://a.test/","headers":[],"timeout_ms":null}"#;
        let request: HttpRequest = serde_json::from_str(old).unwrap();
        assert_eq!(request.rate_limit, None);
        assert!(!serde_json::to_string(&request).unwrap().contains("rate_limit"));
        let limited = HttpRequest { rate_limit: Some(key("k", 10.0)), ..request };
        let wire = serde_json::to_string(&limited).unwrap();
        assert!(wire.contains(r#""rate_limit":{"key":"k","per_second":10.0}"#), "{wire}");
        assert_eq!(serde_json::from_str::<HttpRequest>(&wire).unwrap(), limited);
    }
}
