//! Scanning continuously (`inspect serve`), as engine logic without I/O:
//! when the next scan is due (an interval with deterministic jitter), which
//! report is served (the last *complete* scan, never one half done), what is
//! remembered of an endpoint that stopped answering (the certificate it last
//! served, and when), and the health of the scans and of the configuration.
//!
//! The caller owns the clock, the threads, the HTTP server and the signals;
//! it feeds each scan's outcome into [`Watch`] and reads a [`Snapshot`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::report::{ObservationResult, Report, ServedSummary};
use certinspect_protocol::Binding;

/// Why an interval such as `15m` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntervalError {
    /// Not a number followed by `s`, `m`, `h` or `d`.
    #[error("'{0}' is not an interval: expected a whole number and a unit, like 30s, 15m, 6h or 1d")]
    Malformed(String),
    /// Shorter than [`MIN_INTERVAL`].
    #[error("'{0}' is too short: scans must be at least {secs} seconds apart", secs = MIN_INTERVAL.as_secs())]
    TooShort(String),
}

/// Scans closer than this would probe every endpoint back to back.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Read an interval: a whole number and a unit (`s`, `m`, `h`, `d`), e.g. `15m`.
pub fn parse_interval(text: &str) -> Result<Duration, IntervalError> {
    let malformed = || IntervalError::Malformed(text.to_owned());
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).ok_or_else(malformed)?;
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| malformed())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(malformed()),
    };
    let secs = number.checked_mul(unit_secs).ok_or_else(malformed)?;
    let interval = Duration::from_secs(secs);
    if interval < MIN_INTERVAL {
        return Err(IntervalError::TooShort(text.to_owned()));
    }
    Ok(interval)
}

/// How long after a scan starts the next one is due: `every`, moved by up
/// to a tenth of it either way, so many exporters started together do not
/// scan (and call the cloud APIs) in step. The jitter is a hash of `seed`
/// and the scan's number: the same inputs give the same delay.
pub fn next_delay(every: Duration, seed: u64, scan: u64) -> Duration {
    let spread = every.as_millis() as u64 / 10;
    if spread == 0 {
        return every;
    }
    // SplitMix64 of (seed, scan): well spread for consecutive numbers.
    let mut z = seed ^ scan.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let offset = z % (2 * spread + 1);
    every + Duration::from_millis(offset) - Duration::from_millis(spread)
}

/// The certificate an endpoint served when it was last answering.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LastSeen {
    /// The served leaf, as that scan saw it.
    pub served: ServedSummary,
    /// When that scan's clock read (UNIX seconds).
    pub seen_at: i64,
}

/// An observation of the served report that has no served certificate now
/// but had one in an earlier scan.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Remembered {
    /// Index of the binding in the report.
    pub binding: usize,
    /// Index of the result within the binding.
    pub result: usize,
    /// What it last served.
    pub last: LastSeen,
}

/// How scanning and configuration are going.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Health {
    /// Scans attempted.
    pub scans: u64,
    /// Scans that produced no report (the configuration could not be used).
    pub failed_scans: u64,
    /// Whether the last scan attempted produced a report.
    pub last_scan_succeeded: bool,
    /// How long the last scan attempted took.
    pub last_scan_duration: Duration,
    /// Why the last scan failed, when it did (a sentence).
    pub last_error: Option<String>,
    /// Whether the last configuration reload succeeded (true until one fails).
    pub config_reload_ok: bool,
    /// Why the last reload failed, when it did.
    pub config_reload_error: Option<String>,
}

/// What a reader (the HTTP server) gets: the last complete report, the
/// certificates remembered for its silent endpoints, and health.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// The last complete scan; `None` until one completes.
    pub report: Option<Arc<Report>>,
    /// Observations of `report` not served now but seen before.
    pub remembered: Vec<Remembered>,
    /// Health.
    pub health: Health,
}

/// The state of a continuous scan.
#[derive(Debug, Default)]
pub struct Watch {
    snapshot: Snapshot,
    last_seen: BTreeMap<ObservationKey, LastSeen>,
}

/// What identifies one observation across scans: the binding's place and
/// endpoint, the name sent and the address, and which of the bindings alike
/// in all that it is (a listener can declare two certificates for one
/// endpoint), in report order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ObservationKey {
    location: String,
    sni: Option<String>,
    address: Option<String>,
    nth: usize,
}

impl ObservationKey {
    fn of(binding: &Binding, result: &ObservationResult) -> Self {
        ObservationKey {
            location: serde_json::to_string(&binding.location).unwrap_or_default(),
            sni: result.sni.clone(),
            address: result.address.clone(),
            nth: 0,
        }
    }
}

impl Watch {
    /// Nothing scanned yet; the configuration is fine.
    pub fn new() -> Self {
        let mut watch = Watch::default();
        watch.snapshot.health.config_reload_ok = true;
        watch
    }

    /// A scan completed with `report` after `duration`: it becomes the one
    /// served. Endpoints that served a certificate are remembered with it;
    /// those that did not now keep what they served last; observations no
    /// longer in the report are forgotten.
    pub fn completed(&mut self, report: Report, duration: Duration) {
        let mut last_seen = BTreeMap::new();
        let mut remembered = Vec::new();
        let mut alike: BTreeMap<ObservationKey, usize> = BTreeMap::new();
        for (b, binding) in report.bindings.iter().enumerate() {
            for (r, result) in binding.results.iter().enumerate() {
                let mut key = ObservationKey::of(&binding.binding, result);
                let nth = alike.entry(key.clone()).or_insert(0);
                key.nth = *nth;
                *nth += 1;
                let seen = match &result.served {
                    Some(served) => Some(LastSeen { served: served.clone(), seen_at: report.generated_at }),
                    None => self.last_seen.remove(&key).inspect(|last| {
                        remembered.push(Remembered { binding: b, result: r, last: last.clone() });
                    }),
                };
                if let Some(seen) = seen {
                    last_seen.insert(key, seen);
                }
            }
        }
        self.last_seen = last_seen;
        let health = &mut self.snapshot.health;
        health.scans += 1;
        health.last_scan_succeeded = true;
        health.last_scan_duration = duration;
        health.last_error = None;
        self.snapshot.report = Some(Arc::new(report));
        self.snapshot.remembered = remembered;
    }

    /// A scan could not run (`message` says why): the last complete report
    /// stays served.
    pub fn failed(&mut self, message: String, duration: Duration) {
        let health = &mut self.snapshot.health;
        health.scans += 1;
        health.failed_scans += 1;
        health.last_scan_succeeded = false;
        health.last_scan_duration = duration;
        health.last_error = Some(message);
    }

    /// A configuration reload succeeded (`None`) or failed (why).
    pub fn reloaded(&mut self, error: Option<String>) {
        let health = &mut self.snapshot.health;
        health.config_reload_ok = error.is_none();
        health.config_reload_error = error;
    }

    /// What readers get now (cheap: the report is shared).
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        let cases: &[(&str, Result<u64, &str>)] = &[
            ("15m", Ok(900)),
            ("30s", Ok(30)),
            ("6h", Ok(21_600)),
            ("1d", Ok(86_400)),
            (" 2m ", Ok(120)),
            ("0s", Err("'0s' is too short: scans must be at least 1 seconds apart")),
            (
                "15",
                Err("'15' is not an interval: expected a whole number and a unit, like 30s, 15m, 6h or 1d"),
            ),
            (
                "m",
                Err("'m' is not an interval: expected a whole number and a unit, like 30s, 15m, 6h or 1d"),
            ),
            (
                "1.5h",
                Err("'1.5h' is not an interval: expected a whole number and a unit, like 30s, 15m, 6h or 1d"),
            ),
            (
                "10 minutes",
                Err("'10 minutes' is not an interval: expected a whole number and a unit, like 30s, 15m, 6h or 1d"),
            ),
            (
                "99999999999999999999d",
                Err("'99999999999999999999d' is not an interval: expected a whole number and a unit, like 30s, 15m, 6h or 1d"),
            ),
        ];
        for (text, expected) in cases {
            let got = parse_interval(text).map(|d| d.as_secs()).map_err(|e| e.to_string());
            assert_eq!(got, expected.map_err(str::to_owned), "{text}");
        }
    }

    #[test]
    fn jitter_stays_within_a_tenth_and_is_deterministic() {
        let every = Duration::from_secs(900);
        let delays: Vec<Duration> = (0..200).map(|n| next_delay(every, 42, n)).collect();
        assert!(delays.iter().all(|d| *d >= Duration::from_secs(810) && *d <= Duration::from_secs(990)));
        // Spread out, not constant.
        assert!(delays.iter().any(|d| *d < Duration::from_secs(870)));
        assert!(delays.iter().any(|d| *d > Duration::from_secs(930)));
        assert_eq!(delays, (0..200).map(|n| next_delay(every, 42, n)).collect::<Vec<_>>());
        assert_ne!(next_delay(every, 42, 7), next_delay(every, 43, 7));
        // Too short to jitter: as given.
        assert_eq!(next_delay(Duration::from_millis(5), 1, 1), Duration::from_millis(5));
    }
}
