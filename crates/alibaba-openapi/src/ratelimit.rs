//! Client-side rate limiting per (account, API), so that a scan stays under
//! Alibaba's documented per-account QPS instead of discovering it through
//! `Throttling.User` errors.
//!
//! The limiter is GCRA with a burst of one: each call reserves the next slot
//! `1/QPS` after the previous one and sleeps (through
//! [`HostServices::sleep`]) until its slot. Calls are therefore spaced
//! evenly, which is what per-second gateway counters tolerate best. Time is
//! the host's clock ([`HostServices::now_unix_ms`]).

use crate::endpoint::{ActionSpec, Product};
use crate::error::Error;
use certinspect_protocol::HostServices;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Default extra spacing between calls: 2% (20 ms of slack per second at
/// any QPS). See [`RateLimiter::with_spacing_margin`].
pub const DEFAULT_SPACING_MARGIN: f64 = 0.02;

/// Per-account QPS limits published by Alibaba (reference §3, §5, §7).
pub const DOCUMENTED_QPS: &[(Product, &str, f64)] = &[
    (Product::Cdn, "DescribeCdnHttpsDomainList", 100.0),
    (Product::Cdn, "DescribeDomainCertificateInfo", 100.0),
    (Product::Cdn, "DescribeCdnDomainByCertificate", 100.0),
    (Product::Cdn, "DescribeCdnCertificateList", 30.0),
    (Product::Cdn, "DescribeTagResources", 10.0),
    (Product::Dcdn, "DescribeDcdnHttpsDomainList", 100.0),
    (Product::Dcdn, "DescribeDcdnDomainCertificateInfo", 100.0),
    (Product::Dcdn, "DescribeDcdnTagResources", 10.0),
    (Product::Cas, "ListUserCertificateOrder", 10.0),
    (Product::Cas, "ListCert", 10.0),
    (Product::CasPca, "DescribeClientCertificateStatusForSerialNumber", 10.0),
    (Product::CasPca, "DescribeClientCertificateStatus", 10.0),
];

/// QPS per API: the documented table plus overrides. APIs in neither are unlimited.
#[derive(Debug, Clone)]
pub struct QpsTable {
    limits: HashMap<(Product, String), f64>,
}

impl Default for QpsTable {
    fn default() -> Self {
        Self::documented()
    }
}

impl QpsTable {
    /// The documented limits.
    pub fn documented() -> Self {
        let limits = DOCUMENTED_QPS.iter().map(|(p, a, q)| ((*p, a.to_string()), *q)).collect();
        QpsTable { limits }
    }

    /// No limits at all (every API unlimited unless set).
    pub fn unlimited() -> Self {
        QpsTable { limits: HashMap::new() }
    }

    /// Sets (or, with `None`, removes) the limit of one API. Non-positive or
    /// non-finite values remove the limit.
    pub fn set(&mut self, product: Product, action: &str, qps: Option<f64>) -> &mut Self {
        match qps.filter(|q| q.is_finite() && *q > 0.0) {
            Some(qps) => self.limits.insert((product, action.to_string()), qps),
            None => self.limits.remove(&(product, action.to_string())),
        };
        self
    }

    /// The limit for an API, if any.
    pub fn qps(&self, product: Product, action: &str) -> Option<f64> {
        self.limits.get(&(product, action.to_string())).copied()
    }
}

/// Spaces calls per (account, API). Share one between all clients that use
/// the same account so their calls count together.
#[derive(Debug)]
pub struct RateLimiter {
    table: QpsTable,
    spacing_margin: f64,
    /// Next free slot per (AccessKeyId, product, action), in microseconds since the epoch.
    next_slot_us: Mutex<HashMap<(String, Product, &'static str), i64>>,
}

impl RateLimiter {
    /// A limiter enforcing `table`.
    pub fn new(table: QpsTable) -> Self {
        RateLimiter { table, spacing_margin: DEFAULT_SPACING_MARGIN, next_slot_us: Mutex::new(HashMap::new()) }
    }

    /// Spaces calls `1/QPS * (1 + margin)` apart. The margin absorbs
    /// latency jitter: calls leave evenly spaced but arrive a few ms apart
    /// either way, and a server counting a sliding one-second window refuses
    /// the one that lands early. Negative or non-finite values mean 0.
    pub fn with_spacing_margin(mut self, margin: f64) -> Self {
        self.spacing_margin = if margin.is_finite() && margin > 0.0 { margin } else { 0.0 };
        self
    }

    /// The table in force.
    pub fn table(&self) -> &QpsTable {
        &self.table
    }

    /// Reserves the next slot for `account` calling `spec` and sleeps until
    /// it. Returns how long it slept. Unlimited APIs return at once.
    pub fn acquire(&self, host: &dyn HostServices, account: &str, spec: &ActionSpec) -> Result<Duration, Error> {
        let Some(qps) = self.table.qps(spec.product, spec.action) else {
            return Ok(Duration::ZERO);
        };
        let interval_us = (1_000_000.0 / qps * (1.0 + self.spacing_margin)).ceil() as i64;
        let now_us = host.now_unix_ms().saturating_mul(1000);
        let key = (account.to_string(), spec.product, spec.action);
        let wait_us = {
            let mut slots = self.next_slot_us.lock().unwrap_or_else(|p| p.into_inner());
            let next = slots.entry(key.clone()).or_insert(now_us);
            let slot = (*next).max(now_us);
            *next = slot + interval_us;
            slot - now_us
        };
        if wait_us <= 0 {
            return Ok(Duration::ZERO);
        }
        let wait = Duration::from_micros(wait_us as u64);
        host.sleep(wait);
        if host.is_cancelled() {
            return Err(Error::Cancelled);
        }
        // A late wake-up (a loaded machine) must not bring the next call
        // closer than the interval: the gateway counts arrivals, not slots.
        // Within the clock's millisecond resolution a call is on time.
        let left_us = host.now_unix_ms().saturating_mul(1000);
        if left_us - (now_us + wait_us) > 1000 {
            let mut slots = self.next_slot_us.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(next) = slots.get_mut(&key) {
                *next = (*next).max(left_us + interval_us);
            }
        }
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certinspect_sdk::testing::FakeHost;
    use std::sync::Arc;

    #[test]
    fn spaces_calls_evenly_per_account_and_api() {
        let host = FakeHost::new(1_000_000);
        let limiter = RateLimiter::new(QpsTable::documented()).with_spacing_margin(0.0);
        let cas = ActionSpec::new(Product::Cas, "ListUserCertificateOrder");
        let mut call_times = Vec::new();
        for _ in 0..21 {
            limiter.acquire(&*host, "account-a", &cas).unwrap();
            call_times.push(host.now());
        }
        // 10 QPS with a burst of one: 20 intervals of 100 ms.
        assert_eq!(call_times.last().unwrap() - call_times[0], 2_000);
        assert!(call_times.windows(2).all(|w| w[1] - w[0] == 100), "{call_times:?}");

        // Another account and an unlimited API are not held up.
        let before = host.now();
        limiter.acquire(&*host, "account-b", &cas).unwrap();
        limiter.acquire(&*host, "account-a", &ActionSpec::new(Product::Slb, "DescribeServerCertificates")).unwrap();
        assert_eq!(host.now(), before);
    }

    /// A loaded machine: every sleep overshoots by 30 ms.
    struct LateHost(Arc<FakeHost>);

    impl HostServices for LateHost {
        fn http(
            &self,
            request: &certinspect_protocol::HttpRequest,
        ) -> Result<certinspect_protocol::HttpResponse, certinspect_protocol::TransportError> {
            self.0.http(request)
        }
        fn log(&self, level: certinspect_protocol::LogLevel, target: &str, message: &str) {
            self.0.log(level, target, message)
        }
        fn now_unix_ms(&self) -> i64 {
            self.0.now_unix_ms()
        }
        fn is_cancelled(&self) -> bool {
            false
        }
        fn sleep(&self, duration: Duration) {
            self.0.sleep(duration + Duration::from_millis(30));
        }
    }

    #[test]
    fn a_late_wake_up_pushes_the_next_slot_back() {
        let host = LateHost(FakeHost::new(0));
        let limiter = RateLimiter::new(QpsTable::documented()).with_spacing_margin(0.0);
        let cas = ActionSpec::new(Product::Cas, "ListUserCertificateOrder");
        let mut left = Vec::new();
        for _ in 0..3 {
            limiter.acquire(&host, "a", &cas).unwrap();
            left.push(host.now_unix_ms());
        }
        // Slots at 0, 100, 200; the late wake-ups leave at 0, 130 and then a
        // full interval after that, not 30 ms after it.
        assert_eq!(left, [0, 130, 260]);
    }

    #[test]
    fn the_default_margin_spaces_calls_slightly_wider() {
        let host = FakeHost::new(0);
        let limiter = RateLimiter::new(QpsTable::documented());
        let cdn = ActionSpec::new(Product::Cdn, "DescribeCdnHttpsDomainList");
        for _ in 0..=100 {
            limiter.acquire(&*host, "a", &cdn).unwrap();
        }
        // 100 intervals of 10 ms * 1.02.
        assert_eq!(host.now(), 1_020);
    }

    #[test]
    fn overrides_replace_and_remove_limits() {
        let mut table = QpsTable::documented();
        table.set(Product::Cas, "ListUserCertificateOrder", Some(2.0));
        table.set(Product::Cdn, "DescribeCdnHttpsDomainList", None);
        table.set(Product::Slb, "DescribeServerCertificates", Some(5.0));
        assert_eq!(table.qps(Product::Cas, "ListUserCertificateOrder"), Some(2.0));
        assert_eq!(table.qps(Product::Cdn, "DescribeCdnHttpsDomainList"), None);
        assert_eq!(table.qps(Product::Slb, "DescribeServerCertificates"), Some(5.0));
        assert_eq!(QpsTable::unlimited().qps(Product::Cas, "ListUserCertificateOrder"), None);
    }
}
