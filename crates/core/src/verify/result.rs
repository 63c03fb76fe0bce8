//! One observation of one binding, as the report shows it: the verdict
//! (reconciliation), the negotiated parameters, the served leaf in brief,
//! the error, and the revocation status that applies.
//!
//! Pure: the observation, its analysis and the known revocation answers in.

use std::collections::HashMap;

use certinspect_analysis::ChainAnalysis;
use certinspect_probe::{ProbeErrorKind, ProbeObservation, ProbeOutcome};
use certinspect_protocol::{normalize_serial, Binding, DeclaredCertificate, RevocationStatus};

use crate::reconcile::{reconcile, IdentityBasis, Reconciliation, Verdict};
use crate::report::{ObservationResult, ServedSummary, TlsSummary};

/// The result of `observation` for `binding`.
pub(crate) fn observe(
    binding: &Binding,
    observation: &ProbeObservation,
    analysis: Option<&ChainAnalysis>,
    known: &[&DeclaredCertificate],
    revocations: &HashMap<String, RevocationStatus>,
    keep_analysis: bool,
) -> ObservationResult {
    let leaf = analysis.and_then(|a| a.certificates.first()).and_then(|c| c.facts());
    let reconciliation = match (&observation.outcome, leaf) {
        (ProbeOutcome::Error(error), _) => Reconciliation {
            verdict: if error.kind == ProbeErrorKind::NotTls { Verdict::NoTls } else { Verdict::Unreachable },
            basis: IdentityBasis::None,
            reason: error.message.clone(),
        },
        (ProbeOutcome::Tls(_), None) => Reconciliation {
            verdict: Verdict::Indeterminate,
            basis: IdentityBasis::None,
            reason: "the served leaf could not be parsed".into(),
        },
        (ProbeOutcome::Tls(_), Some(_)) if binding.declared == DeclaredCertificate::default() => Reconciliation {
            verdict: Verdict::Observed,
            basis: IdentityBasis::None,
            reason: "nothing was declared for this endpoint".into(),
        },
        (ProbeOutcome::Tls(_), Some(facts)) => reconcile(&binding.declared, facts, known),
    };
    let revocation = leaf.and_then(|f| revocations.get(&normalize_serial(&f.serial_hex)).cloned()).or_else(|| {
        // The provider's own revocation record applies when it is the served certificate.
        (reconciliation.verdict == Verdict::Match).then(|| binding.declared.revocation.clone()).flatten()
    });
    ObservationResult {
        address: observation.address.map(|a| a.to_string()),
        ip_family: observation.ip_family.map(|f| format!("{f:?}").to_lowercase()),
        sni: observation.sni.clone(),
        verdict: reconciliation.verdict,
        basis: reconciliation.basis,
        reason: reconciliation.reason,
        tls: observation.tls().map(|tls| TlsSummary {
            version: tls.version.clone(),
            cipher_suite: tls.cipher_suite.clone(),
            alpn: tls.alpn.clone(),
        }),
        served: leaf.map(|facts| {
            let expiry = analysis.and_then(|a| a.expiry.leaf.as_ref());
            ServedSummary {
                subject: facts.subject.clone(),
                issuer: facts.issuer.clone(),
                serial: facts.serial_hex.clone(),
                sha256: facts.sha256_fingerprint.clone(),
                not_after: facts.not_after,
                days_remaining: expiry.map_or(0, |e| e.days_remaining),
                expiry: expiry.map(|e| e.state),
            }
        }),
        analysis: analysis.filter(|_| keep_analysis).cloned().map(Box::new),
        revocation,
        error: observation.error().cloned(),
        issuer_fetches: Vec::new(),
        timings: observation.timings,
    }
}
