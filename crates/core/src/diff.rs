//! What changed between two reports: findings new, resolved and changed,
//! matched by a stable fingerprint per finding (`inspect diff`, `inspect
//! scan --baseline`; the same fingerprint is SARIF's `partialFingerprints`).
//!
//! A fingerprint is the SHA-256 (first 32 hex digits) of the finding's code
//! and the identity of what it is about: the binding's provider, service,
//! account, region, resource id, listener port and endpoint (lower-case
//! host, port, lower-case SNI), or, for a finding about no binding (a
//! source that failed), its place. Nothing that varies between runs goes
//! in: not the message (it counts days), not timings, not the address (DNS
//! rotates), not the binding's index (reports number bindings in listing
//! order), not the served certificate (a renewal that keeps the problem is
//! the same problem, reported as changed when its severity moves).
//!
//! Pure: two reports in, a [`ReportDiff`] out.

use std::collections::BTreeMap;

use certinspect_protocol::Binding;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::findings::{Finding, Severity};
use crate::report::Report;
use crate::scan::Outcome;

/// The stable fingerprint of `finding`, one of `report`'s findings.
pub fn fingerprint(report: &Report, finding: &Finding) -> String {
    let binding = finding.binding.and_then(|index| report.bindings.get(index));
    fingerprint_of(finding, binding.map(|b| &b.binding))
}

/// [`fingerprint`] of `finding` about `binding` (`None`: about no binding),
/// for a writer that sees findings with their binding as a run streams them.
pub fn fingerprint_of(finding: &Finding, binding: Option<&Binding>) -> String {
    let mut hasher = Sha256::new();
    let mut field = |value: &str| {
        hasher.update(value.as_bytes());
        hasher.update([0]);
    };
    field(finding.code.as_str());
    match binding {
        Some(binding) => {
            let location = &binding.location;
            field("binding");
            field(&location.plugin);
            field(&location.service);
            field(&location.account);
            field(location.region.as_deref().unwrap_or(""));
            field(&location.resource_id);
            field(&location.listener_port.map(|p| p.to_string()).unwrap_or_default());
            if let Some(endpoint) = &location.endpoint {
                field(&endpoint.host.to_ascii_lowercase());
                field(&endpoint.port.to_string());
                field(&endpoint.sni.as_deref().unwrap_or("").to_ascii_lowercase());
            }
        }
        None => {
            field("place");
            field(finding.place.as_deref().unwrap_or(""));
        }
    }
    hasher.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// One finding on one side of a diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DiffEntry {
    /// [`fingerprint`].
    pub fingerprint: String,
    /// The finding as its report has it (`binding` indexes that report).
    pub finding: Finding,
}

/// A finding in both reports whose severity moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ChangedEntry {
    /// [`fingerprint`].
    pub fingerprint: String,
    /// As the old report has it.
    pub old: Finding,
    /// As the new report has it.
    pub new: Finding,
}

/// What changed from an old report to a new one.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReportDiff {
    /// In the new report only: regressions.
    pub new: Vec<DiffEntry>,
    /// In the old report only.
    pub resolved: Vec<DiffEntry>,
    /// In both, at another severity.
    pub changed: Vec<ChangedEntry>,
    /// In both, at the same severity.
    pub unchanged: usize,
}

impl ReportDiff {
    /// New findings at or above `severity` that say something is wrong
    /// (not "could not check"): what `--fail-on-new` fails on.
    pub fn new_at_least(&self, severity: Severity) -> impl Iterator<Item = &DiffEntry> {
        self.new.iter().filter(move |e| e.finding.severity <= severity && !e.finding.is_unchecked())
    }
}

/// The exit decision of `--fail-on-new`: [`Outcome::Findings`] only for
/// new findings at or above `fail_on` (regressions); what was already
/// there does not fail. Could-not-check still makes it
/// [`Outcome::Incomplete`].
pub fn outcome_of_new(report: &Report, diff: &ReportDiff, fail_on: Severity) -> Outcome {
    if diff.new_at_least(fail_on).next().is_some() {
        Outcome::Findings
    } else if report.incomplete() {
        Outcome::Incomplete
    } else {
        Outcome::Clean
    }
}

/// Findings of `new` against those of `old`, matched by fingerprint. Equal
/// fingerprints in one report (one code at two addresses of a binding) are
/// matched in report order; the rest are new or resolved.
pub fn diff(old: &Report, new: &Report) -> ReportDiff {
    let mut before: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for finding in &old.findings {
        before.entry(fingerprint(old, finding)).or_default().push(finding);
    }
    for list in before.values_mut() {
        list.reverse(); // popped in report order
    }
    let mut out = ReportDiff::default();
    for finding in &new.findings {
        let print = fingerprint(new, finding);
        match before.get_mut(&print).and_then(Vec::pop) {
            Some(earlier) if earlier.severity == finding.severity => out.unchanged += 1,
            Some(earlier) => {
                out.changed.push(ChangedEntry { fingerprint: print, old: earlier.clone(), new: finding.clone() })
            }
            None => out.new.push(DiffEntry { fingerprint: print, finding: finding.clone() }),
        }
    }
    let mut resolved: Vec<DiffEntry> = before
        .into_iter()
        .flat_map(|(print, list)| {
            list.into_iter().map(move |f| DiffEntry { fingerprint: print.clone(), finding: f.clone() })
        })
        .collect();
    resolved
        .sort_by(|a, b| a.finding.severity.cmp(&b.finding.severity).then(a.finding.binding.cmp(&b.finding.binding)));
    out.resolved = resolved;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::FindingCode;
    use crate::report::{BindingReport, Summary};
    use crate::verify::bare_endpoint;

    fn report(hosts: &[&str], findings: Vec<Finding>) -> Report {
        Report {
            schema_version: crate::report::REPORT_SCHEMA_VERSION,
            tool_version: "test".into(),
            generated_at: 0,
            trust_store: None,
            summary: Summary::default(),
            bindings: hosts
                .iter()
                .map(|h| BindingReport {
                    binding: bare_endpoint(h, 443, Some((*h).to_owned())),
                    join: Default::default(),
                    results: vec![],
                })
                .collect(),
            findings,
            chains: vec![],
            source_errors: vec![],
            source_stats: vec![],
            inventory_id: None,
            shard: None,
            streamed: Default::default(),
        }
    }

    fn at(code: FindingCode, binding: usize, message: &str) -> Finding {
        Finding::new(code, message).at_binding(binding)
    }

    #[test]
    fn fingerprints_ignore_order_messages_and_addresses_but_not_identity() {
        let one = report(&["a.test", "b.test"], vec![at(FindingCode::CertExpired, 0, "expired 3 days ago")]);
        let other = report(
            &["b.test", "a.test"],
            vec![at(FindingCode::CertExpired, 1, "expired 4 days ago").at_address(Some("127.0.0.9:443".into()))],
        );
        assert_eq!(fingerprint(&one, &one.findings[0]), fingerprint(&other, &other.findings[0]));
        let elsewhere = report(&["b.test"], vec![at(FindingCode::CertExpired, 0, "expired 3 days ago")]);
        assert_ne!(fingerprint(&one, &one.findings[0]), fingerprint(&elsewhere, &elsewhere.findings[0]));
        let other_code = report(&["a.test"], vec![at(FindingCode::NameMismatch, 0, "expired 3 days ago")]);
        assert_ne!(fingerprint(&one, &one.findings[0]), fingerprint(&other_code, &other_code.findings[0]));
        let source = |place: &str| Finding::new(FindingCode::SourceFailed, "down").at_place(place.to_owned());
        let failed = report(&[], vec![source("alibaba-cdn"), source("alibaba-slb (cn-hangzhou)")]);
        assert_ne!(fingerprint(&failed, &failed.findings[0]), fingerprint(&failed, &failed.findings[1]));
    }

    #[test]
    fn findings_are_new_resolved_changed_or_unchanged() {
        let hosts = ["a.test", "b.test", "c.test"];
        let old = report(
            &hosts,
            vec![
                at(FindingCode::CertExpired, 0, "a"),
                at(FindingCode::NameMismatch, 1, "b"),
                Finding::with_severity(FindingCode::CertExpiring, Severity::Medium, "c").at_binding(2),
            ],
        );
        let new = report(
            &hosts,
            vec![
                at(FindingCode::CertExpired, 0, "a, a day later"),
                Finding::with_severity(FindingCode::CertExpiring, Severity::Critical, "c").at_binding(2),
                at(FindingCode::Unreachable, 1, "refused"),
                at(FindingCode::ChainIncomplete, 1, "no intermediate"),
            ],
        );
        let diff = diff(&old, &new);
        let codes = |entries: &[DiffEntry]| entries.iter().map(|e| e.finding.code).collect::<Vec<_>>();
        assert_eq!(diff.unchanged, 1);
        assert_eq!(codes(&diff.new), [FindingCode::Unreachable, FindingCode::ChainIncomplete]);
        assert_eq!(codes(&diff.resolved), [FindingCode::NameMismatch]);
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(
            (diff.changed[0].old.severity, diff.changed[0].new.severity),
            (Severity::Medium, Severity::Critical)
        );
        // Failing on regressions counts what is wrong, not what could not be checked.
        let failing: Vec<FindingCode> = diff.new_at_least(Severity::Info).map(|e| e.finding.code).collect();
        assert_eq!(failing, [FindingCode::ChainIncomplete]);
    }
}
