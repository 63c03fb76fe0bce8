//! Small views of the report model that several formats share: where a
//! binding is, in words and as a URI; the served common name; dates; a
//! finding as a streamed writer keeps it.

use certinspect_core::findings::{Finding, FindingCode, Severity};
use certinspect_core::reconcile::Verdict;
use certinspect_core::report::ObservationResult;
use certinspect_core::verify::ReportOrderKey;
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

/// The most severe of `findings`.
pub(crate) fn highest<'f>(findings: impl IntoIterator<Item = &'f Finding>) -> Option<Severity> {
    findings.into_iter().map(|f| f.severity).min()
}

/// What the table and SARIF writers keep of a finding besides what they
/// render: its text and what orders it ([`report_order`]'s fields), without
/// the evidence.
///
/// [`report_order`]: certinspect_core::verify::report_order
#[derive(Debug)]
pub(crate) struct CompactFinding {
    pub(crate) severity: Severity,
    pub(crate) binding: Option<usize>,
    pub(crate) code: FindingCode,
    pub(crate) address: Option<Box<str>>,
    pub(crate) place: Option<Box<str>>,
    pub(crate) message: Box<str>,
}

impl CompactFinding {
    pub(crate) fn new(finding: &Finding) -> Self {
        CompactFinding {
            severity: finding.severity,
            binding: finding.binding,
            code: finding.code,
            address: finding.address.as_deref().map(Box::from),
            place: finding.place.as_deref().map(Box::from),
            message: finding.message.as_str().into(),
        }
    }

    /// What orders it among the report's findings.
    pub(crate) fn order_key(&self) -> ReportOrderKey<'_> {
        (self.severity, self.binding, self.code.as_str(), self.address.as_deref(), self.place.as_deref(), &self.message)
    }
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
