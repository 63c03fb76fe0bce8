//! Expiry facts and the thresholds that grade them.

use serde::{Deserialize, Serialize};

const DAY: i64 = 86_400;

/// Expiry thresholds.
///
/// A certificate is `Critical` when at most `critical_days` remain, and
/// `Warning` when at most `warn_days` remain *or* at most
/// `warn_fraction_remaining` of its lifetime (notBefore..notAfter) remains.
/// The fraction catches long-lived certificates early; for short-lived ones
/// (days-long ACME certificates) set the day thresholds below their lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Warn at or below this many days remaining.
    pub warn_days: u32,
    /// Critical at or below this many days remaining.
    pub critical_days: u32,
    /// Warn at or below this fraction of the lifetime remaining (0.0..=1.0;
    /// 0 disables).
    pub warn_fraction_remaining: f64,
}

impl Default for Policy {
    /// 30 days warning, 7 days critical, warning below 10 % of lifetime.
    fn default() -> Self {
        Policy { warn_days: 30, critical_days: 7, warn_fraction_remaining: 0.10 }
    }
}

/// Grade of one expiry fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryState {
    /// Past notAfter.
    Expired,
    /// Before notBefore.
    NotYetValid,
    /// Within `critical_days`.
    Critical,
    /// Within `warn_days` or `warn_fraction_remaining`.
    Warning,
    /// None of the above.
    Ok,
}

/// Which certificate an expiry fact is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ExpirySubject {
    /// A served certificate, by index in the served chain.
    Served {
        /// Index in the served chain.
        index: usize,
    },
    /// An intermediate the caller fetched (AIA caIssuers), by index in the
    /// fetched list.
    Fetched {
        /// Index in the fetched list.
        index: usize,
    },
    /// The trust anchor that ends the verified path.
    TrustAnchor,
}

/// One graded expiry fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiryFact {
    /// Which certificate.
    pub certificate: ExpirySubject,
    /// Its subject, RFC 4514.
    pub subject: String,
    /// notBefore, UNIX seconds.
    pub not_before: i64,
    /// notAfter, UNIX seconds.
    pub not_after: i64,
    /// notAfter minus now, in seconds; negative once expired.
    pub seconds_remaining: i64,
    /// Whole days remaining, rounded down (so -1 within the first day
    /// after expiry).
    pub days_remaining: i64,
    /// Remaining share of the lifetime, clamped to 0.0..=1.0.
    pub fraction_remaining: f64,
    /// The grade under the policy.
    pub state: ExpiryState,
}

impl ExpiryFact {
    /// Grades a validity period at `now` under `policy`.
    pub fn evaluate(
        certificate: ExpirySubject,
        subject: String,
        not_before: i64,
        not_after: i64,
        now: i64,
        policy: &Policy,
    ) -> Self {
        let seconds_remaining = not_after.saturating_sub(now);
        let lifetime = not_after.saturating_sub(not_before);
        let fraction_remaining =
            if lifetime > 0 { (seconds_remaining as f64 / lifetime as f64).clamp(0.0, 1.0) } else { 0.0 };
        // X.509 validity is inclusive at both ends (RFC 5280 4.1.2.5).
        let state = if now < not_before {
            ExpiryState::NotYetValid
        } else if now > not_after {
            ExpiryState::Expired
        } else if seconds_remaining <= i64::from(policy.critical_days) * DAY {
            ExpiryState::Critical
        } else if seconds_remaining <= i64::from(policy.warn_days) * DAY
            || fraction_remaining <= policy.warn_fraction_remaining
        {
            ExpiryState::Warning
        } else {
            ExpiryState::Ok
        };
        ExpiryFact {
            certificate,
            subject,
            not_before,
            not_after,
            seconds_remaining,
            days_remaining: seconds_remaining.div_euclid(DAY),
            fraction_remaining,
            state,
        }
    }
}

impl ExpiryFact {
    /// When the certificate expires (or expired, or becomes valid), for
    /// people: "expires in 11 days", "expired 11 days ago", "becomes valid
    /// in 2 days". Never a negative count.
    pub fn describe(&self) -> String {
        let now = self.not_after.saturating_sub(self.seconds_remaining);
        if self.state == ExpiryState::NotYetValid {
            return format!("becomes valid in {}", duration_words(self.not_before.saturating_sub(now)));
        }
        describe_remaining(self.seconds_remaining)
    }
}

/// "expires in 11 days" for a positive (or zero) time left, "expired 11
/// days ago" for a negative one; whole days, counted toward zero, and hours
/// under a day.
pub fn describe_remaining(seconds_remaining: i64) -> String {
    if seconds_remaining >= 0 {
        format!("expires in {}", duration_words(seconds_remaining))
    } else {
        format!("expired {} ago", duration_words(seconds_remaining.saturating_neg()))
    }
}

/// "11 days", "1 day", "5 hours", "1 hour", "less than an hour" for a
/// non-negative number of seconds.
fn duration_words(seconds: i64) -> String {
    const HOUR: i64 = 3_600;
    let plural = |n: i64, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    match seconds {
        s if s >= DAY => plural(s / DAY, "day", "days"),
        s if s >= HOUR => plural(s / HOUR, "hour", "hours"),
        _ => "less than an hour".to_owned(),
    }
}

/// The three expiry facts of a served chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiryFacts {
    /// The leaf (served index 0); `None` when it could not be parsed.
    pub leaf: Option<ExpiryFact>,
    /// The earliest notAfter among all parsed served certificates, even ones
    /// no client would use (a stale root sent along, say).
    pub earliest_served: Option<ExpiryFact>,
    /// The earliest notAfter on the path webpki verified, trust anchor
    /// included when the store holds its certificate; `None` without a path.
    pub earliest_verified: Option<ExpiryFact>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(nb: i64, na: i64, now: i64) -> (ExpiryState, i64) {
        let f =
            ExpiryFact::evaluate(ExpirySubject::Served { index: 0 }, String::new(), nb, na, now, &Policy::default());
        (f.state, f.days_remaining)
    }

    #[test]
    fn grades_by_days_and_fraction() {
        let year = 365 * DAY;
        assert_eq!(state(0, year, 0), (ExpiryState::Ok, 365));
        assert_eq!(state(0, year, year - 30 * DAY), (ExpiryState::Warning, 30));
        assert_eq!(state(0, year, year - 7 * DAY), (ExpiryState::Critical, 7));
        assert_eq!(state(0, year, year), (ExpiryState::Critical, 0));
        assert_eq!(state(0, year, year + 1), (ExpiryState::Expired, -1));
        assert_eq!(state(10, year, 9).0, ExpiryState::NotYetValid);
        // 36 days left of ten years is under 10 % of the lifetime: warning
        // by fraction although above warn_days.
        let ten = 10 * year;
        assert_eq!(state(0, ten, ten - 36 * DAY).0, ExpiryState::Warning);
        assert_eq!(state(0, ten, ten - 300 * DAY).0, ExpiryState::Warning);
        assert_eq!(state(0, ten, ten - 400 * DAY).0, ExpiryState::Ok);
    }
}
