//! The spacing a request's [`RateLimitKey`] asks of the host: one schedule
//! per key, shared by every source that sends with that key, so calls of one
//! account to one API count together against its per-second budget wherever
//! they come from (two sources, two plugins, a child process).
//!
//! Two rules, both per key:
//! - **Even spacing** (GCRA with a burst of one): each request reserves the
//!   next slot `1/per_second * (1 + margin)` after the previous one and
//!   sleeps until it, so calls leave evenly spaced.
//! - **The window**: a gateway that counts arrivals in a sliding one-second
//!   window refuses a call when `n = floor(per_second)` others arrived in
//!   the second before it. The host cannot see arrivals, but a request has
//!   arrived by the time its answer is back; so a request leaves only when
//!   fewer than `n` others are in flight or were answered within the last
//!   second (plus 2 ms for millisecond clocks). Then it cannot be refused
//!   for the budget, however late earlier calls arrived, and a late wake-up
//!   or a slow answer costs only its own lateness, once per window, instead
//!   of pushing the whole schedule back.
//!
//! Waits go through [`HostServices::sleep`], so cancellation cuts them
//! short; time is the services' own clock ([`HostServices::now_unix_ms`]),
//! so a virtual-time test host spaces in virtual time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use crate::{HostServices, HttpRequest, HttpResponse, RateLimitKey, TransportError, TransportErrorKind};

/// Default extra spacing between calls: none. The window rule keeps a
/// sliding-window counter from refusing anything (see the module docs), so
/// a margin would only slow every budget down.
/// See [`RateLimiter::with_spacing_margin`].
pub const DEFAULT_SPACING_MARGIN: f64 = 0.0;

/// The counting window, with 2 ms for clocks that read whole milliseconds
/// on both sides.
const WINDOW_US: i64 = 1_002_000;

/// How long a request waits before looking again when `n` are in flight.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(5);

/// One budget's schedule.
#[derive(Debug, Clone, Default)]
struct Budget {
    /// The next free slot, microseconds since the epoch.
    next_slot_us: i64,
    /// The lowest rate any request named for this key: two senders that
    /// disagree (one configured lower) are both held to the lower one.
    per_second: f64,
    /// Requests sent and not yet answered.
    in_flight: usize,
    /// When the latest answers came back, newest last (at most `n`).
    answered_us: VecDeque<i64>,
}

impl Budget {
    /// `n`: calls a one-second window may hold.
    fn window_calls(&self) -> usize {
        (self.per_second.floor() as usize).max(1)
    }

    /// When the window lets the next request leave; `None` while `n` are
    /// in flight (only an answer opens it).
    fn window_opens_us(&self) -> Option<i64> {
        let n = self.window_calls();
        let answered_allowed = n.checked_sub(self.in_flight + 1)?;
        Some(self.answered_us.iter().rev().nth(answered_allowed).map_or(i64::MIN, |answered| answered + WINDOW_US))
    }

    fn answered(&mut self, at_us: i64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.answered_us.push_back(at_us);
        while self.answered_us.len() > self.window_calls() {
            self.answered_us.pop_front();
        }
    }
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

fn cancelled() -> TransportError {
    TransportError {
        kind: TransportErrorKind::Cancelled,
        message: "the scan was cancelled while the request waited for its rate limit".into(),
    }
}

impl RateLimiter {
    /// A limiter with the [`DEFAULT_SPACING_MARGIN`].
    pub fn new() -> Self {
        Self { spacing_margin: DEFAULT_SPACING_MARGIN, budgets: Mutex::new(HashMap::new()) }
    }

    /// Spaces calls `1/per_second * (1 + margin)` apart, for servers that
    /// count otherwise than by a sliding window (a token bucket refuses a
    /// call that arrives less than `1/per_second` after the one before).
    /// Negative or non-finite values mean 0.
    pub fn with_spacing_margin(mut self, margin: f64) -> Self {
        self.spacing_margin = if margin.is_finite() && margin > 0.0 { margin } else { 0.0 };
        self
    }

    fn budgets(&self) -> std::sync::MutexGuard<'_, HashMap<String, Budget>> {
        self.budgets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves the next slot of `limit`'s budget at `now_us` and says how
    /// long to wait for it, or `None` when the rate is no limit (not
    /// positive, not finite). Pure bookkeeping.
    fn reserve(&self, limit: &RateLimitKey, now_us: i64) -> Option<i64> {
        if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
            return None;
        }
        let mut budgets = self.budgets();
        let budget = budgets.entry(limit.key.clone()).or_insert(Budget {
            next_slot_us: now_us,
            per_second: limit.per_second,
            ..Budget::default()
        });
        budget.per_second = budget.per_second.min(limit.per_second);
        let interval_us = (1_000_000.0 / budget.per_second * (1.0 + self.spacing_margin)).ceil() as i64;
        let slot = budget.next_slot_us.max(now_us);
        budget.next_slot_us = slot + interval_us;
        Some(slot - now_us)
    }

    /// Takes a place in the window of `key` if it is open at `now_us`;
    /// else says how long to wait before looking again.
    fn enter_window(&self, key: &str, now_us: i64) -> Result<(), Duration> {
        let mut budgets = self.budgets();
        let Some(budget) = budgets.get_mut(key) else { return Ok(()) };
        match budget.window_opens_us() {
            Some(opens) if opens <= now_us => {
                budget.in_flight += 1;
                Ok(())
            }
            Some(opens) => Err(Duration::from_micros((opens - now_us) as u64)),
            None => Err(IN_FLIGHT_POLL),
        }
    }

    fn answered(&self, key: &str, at_us: i64) {
        if let Some(budget) = self.budgets().get_mut(key) {
            budget.answered(at_us);
        }
    }

    /// Sends `request` with `send` once its budget lets it leave (at once
    /// when it names none), on `services`' clock, and notes when it was
    /// answered. A cancelled wait is a `Cancelled` transport error, and the
    /// request is not sent.
    pub fn send(
        &self,
        services: &dyn HostServices,
        request: &HttpRequest,
        send: impl FnOnce(&HttpRequest) -> Result<HttpResponse, TransportError>,
    ) -> Result<HttpResponse, TransportError> {
        let Some(limit) = &request.rate_limit else { return send(request) };
        let now_us = || services.now_unix_ms().saturating_mul(1000);
        let Some(wait_us) = self.reserve(limit, now_us()) else { return send(request) };
        if wait_us > 0 {
            services.sleep(Duration::from_micros(wait_us as u64));
        }
        loop {
            if services.is_cancelled() {
                return Err(cancelled());
            }
            match self.enter_window(&limit.key, now_us()) {
                Ok(()) => break,
                Err(wait) => services.sleep(wait),
            }
        }
        let answer = send(request);
        // Whatever the outcome: a request that timed out may have arrived.
        self.answered(&limit.key, now_us());
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogLevel;
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
            unreachable!("requests go through RateLimiter::send")
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

    /// Sends `count` requests of `limit` one after another, each answered
    /// `latency_ms` after it left; returns when each left.
    fn departures(
        clock: &Clock,
        limiter: &RateLimiter,
        limit: &RateLimitKey,
        count: usize,
        latency_ms: i64,
    ) -> Vec<i64> {
        let request = HttpRequest { rate_limit: Some(limit.clone()), ..HttpRequest::default() };
        let mut left = Vec::new();
        for _ in 0..count {
            limiter
                .send(clock, &request, |_| {
                    left.push(clock.now_unix_ms());
                    clock.now_ms.fetch_add(latency_ms, Ordering::SeqCst);
                    Ok(HttpResponse::default())
                })
                .unwrap();
        }
        left
    }

    /// Each row: requests made at one instant (t = 0, nothing waited yet)
    /// and the slot each is given, in ms.
    #[test]
    fn reservations_space_requests_per_key() {
        let a10 = key("cas/List/acct-a", 10.0);
        let cases: &[(&str, f64, &[RateLimitKey], &[i64])] = &[
            ("one budget: 100 ms apart", 0.0, &[a10.clone(), a10.clone(), a10.clone()], &[0, 100, 200]),
            ("a margin widens every interval", 0.02, &[a10.clone(), a10.clone(), a10.clone()], &[0, 102, 204]),
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
                requests.iter().map(|r| limiter.reserve(r, 0).map_or(0, |wait| wait / 1000)).collect();
            assert_eq!(&waits, waits_ms, "{what}");
        }
    }

    /// A row: what, answers kept (newest last, ms), requests in flight, the
    /// budget's rate, and when the window opens (ms; `None`: at an answer).
    type WindowCase = (&'static str, &'static [i64], usize, f64, Option<i64>);

    #[test]
    fn the_window_opens_a_second_after_the_nth_latest_answer() {
        let cases: &[WindowCase] = &[
            ("nothing sent yet", &[], 0, 10.0, Some(i64::MIN)),
            ("fewer than n answers", &[0, 100, 200], 0, 10.0, Some(i64::MIN)),
            ("n answers: a second after the oldest", &[0, 100, 200], 0, 3.0, Some(1_002)),
            ("one in flight: a second after the second oldest", &[0, 100, 200], 1, 3.0, Some(1_102)),
            ("n in flight: only an answer opens it", &[0, 100, 200], 3, 3.0, None),
            ("below one per second the window holds one", &[500], 0, 0.5, Some(1_502)),
        ];
        for (what, answered, in_flight, per_second, opens_ms) in cases {
            let budget = Budget {
                per_second: *per_second,
                in_flight: *in_flight,
                answered_us: answered.iter().map(|ms| ms * 1000).collect(),
                ..Budget::default()
            };
            let opens = budget.window_opens_us().map(|us| if us == i64::MIN { us } else { us / 1000 });
            assert_eq!(opens, *opens_ms, "{what}");
        }
    }

    /// Instant answers: calls leave evenly spaced, the window adding its
    /// 2 ms for millisecond clocks once a second.
    #[test]
    fn quick_answers_leave_calls_evenly_spaced() {
        let left = departures(&Clock::default(), &RateLimiter::new(), &key("k", 10.0), 21, 0);
        let gaps: Vec<i64> = left.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps[..9], [100; 9]);
        assert_eq!(gaps[9..], [102, 100, 100, 100, 100, 100, 100, 100, 100, 100, 102], "{left:?}");
    }

    /// Answers taking 30 ms: the eleventh call waits for the window (a
    /// second after the first answer), and only by that much, once per
    /// window; no two calls `n` apart leave less than a second apart.
    #[test]
    fn slow_answers_hold_the_window_not_the_schedule() {
        let left = departures(&Clock::default(), &RateLimiter::new(), &key("k", 10.0), 22, 30);
        assert_eq!(&left[..11], &[0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1_032]);
        assert_eq!(left[11], 1_132, "{left:?}");
        assert!(left.windows(11).all(|w| w[10] - w[0] >= 1_000 + 30), "{left:?}");
    }

    /// A loaded machine: every sleep overshoots by 30 ms. The late calls do
    /// not push the next slot back; the window still holds.
    #[test]
    fn late_wake_ups_cost_their_own_lateness_only() {
        let clock = Clock { late_ms: 30, ..Clock::default() };
        let left = departures(&clock, &RateLimiter::new(), &key("k", 10.0), 12, 0);
        assert_eq!(&left[..4], &[0, 130, 230, 330], "{left:?}");
        assert!(left.windows(11).all(|w| w[10] - w[0] >= 1_000), "{left:?}");
    }

    #[test]
    fn cancellation_while_waiting_is_an_error_and_sends_nothing() {
        let clock = Clock::default();
        let limiter = RateLimiter::new();
        assert_eq!(departures(&clock, &limiter, &key("k", 1.0), 1, 0), [0]);
        clock.cancelled.store(true, Ordering::SeqCst);
        let request = HttpRequest { rate_limit: Some(key("k", 1.0)), ..HttpRequest::default() };
        let error = limiter.send(&clock, &request, |_| unreachable!("a cancelled wait sends nothing")).unwrap_err();
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
