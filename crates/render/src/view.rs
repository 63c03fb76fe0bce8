//! Small views of the report model that several formats share: where a
//! binding is, in words and as a URI; the served common name; dates.

use certinspect_core::findings::{Finding, Severity};
use certinspect_core::reconcile::Verdict;
use certinspect_core::report::{ObservationResult, Report};
use certinspect_protocol::Binding;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Every verdict, in the order reports list them.
pub(crate) const VERDICTS: [Verdict; 7] = [
    Verdict::Match,
    Verdict::Stale,
    Verdict::Foreign,
    Verdict::Unreachable,
    Verdict::NoTls,
    Verdict::Indeterminate,
    Verdict::Observed,
];

/// UNIX seconds as RFC 3339 UTC (`2026-11-23T18:22:27Z`); out-of-range
/// values (not a real certificate date) as the plain number, so nothing is
/// lost.
pub(crate) fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// `host:port` of the binding's endpoint, IPv6 literals in brackets.
pub(crate) fn endpoint_text(binding: &Binding) -> Option<String> {
    binding.location.endpoint.as_ref().map(|e| {
        if e.host.contains(':') && !e.host.starts_with('[') {
            format!("[{}]:{}", e.host, e.port)
        } else {
            format!("{}:{}", e.host, e.port)
        }
    })
}

/// The served leaf's first subject common name.
pub(crate) fn served_common_name(result: &ObservationResult) -> Option<&str> {
    result.served.as_ref()?.common_name.as_deref()
}

/// Findings about binding `index` at `address`: those about the binding
/// as a whole (no address) and those about that observation.
pub(crate) fn findings_at<'r>(
    report: &'r Report,
    index: usize,
    address: Option<&'r str>,
) -> impl Iterator<Item = &'r Finding> + 'r {
    report
        .findings
        .iter()
        .filter(move |f| f.binding == Some(index) && (f.address.is_none() || f.address.as_deref() == address))
}

/// The most severe of `findings`.
pub(crate) fn highest<'f>(findings: impl IntoIterator<Item = &'f Finding>) -> Option<Severity> {
    findings.into_iter().map(|f| f.severity).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }
}
