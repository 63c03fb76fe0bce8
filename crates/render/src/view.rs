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

/// The served leaf's first subject common name: from the full analysis
/// when the report kept it, else read from the subject DN.
pub(crate) fn served_common_name(result: &ObservationResult) -> Option<String> {
    if let Some(cn) = result
        .analysis
        .as_ref()
        .and_then(|a| a.certificates.first())
        .and_then(|c| c.facts())
        .and_then(|f| f.subject_common_names.first())
    {
        return Some(cn.clone());
    }
    result.served.as_ref().and_then(|s| common_name_from_dn(&s.subject))
}

/// The first `CN=` attribute of an RFC 4514 string, unescaped.
fn common_name_from_dn(dn: &str) -> Option<String> {
    // Split on commas and plus signs that are not escaped.
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' | '+' => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    let value = parts.iter().find_map(|p| {
        let (key, value) = p.trim().split_once('=')?;
        key.trim().eq_ignore_ascii_case("CN").then_some(value)
    })?;
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    Some(out)
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
    fn common_names_from_rfc4514() {
        assert_eq!(common_name_from_dn("CN=www.example.com,O=Example").as_deref(), Some("www.example.com"));
        assert_eq!(common_name_from_dn("O=Acme\\, Inc.,CN=a\\+b.test").as_deref(), Some("a+b.test"));
        assert_eq!(common_name_from_dn("O=Example"), None);
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }
}
