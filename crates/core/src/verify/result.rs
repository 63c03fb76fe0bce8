//! One observation of one binding, as the report shows it: the verdict
//! (reconciliation), the negotiated parameters, the served leaf in brief,
//! the error, and the revocation status that applies.
//!
//! Pure: the observation, its analysis and the known revocation answers in.

use std::collections::HashMap;

use certinspect_analysis::{distinguished_name, must_staple, ChainAnalysis};
use certinspect_probe::{CaptureMethod, ProbeErrorKind, ProbeObservation, ProbeOutcome};
use certinspect_protocol::{Binding, DeclaredCertificate, RevocationStatus};

use super::revocation::{provider_answer, RevocationAnswer, RevocationFact};
use crate::reconcile::{reconcile, IdentityBasis, Reconciliation, Verdict};
use crate::report::{ClientCertificateRequested, ObservationResult, ServedSummary, TlsSummary};

/// What is known about the revocation of the leaves of a batch.
pub(crate) struct Revocations<'a> {
    /// Provider lookups' answers by normalised serial.
    pub provider: &'a HashMap<String, RevocationStatus>,
    /// The network's answers about this observation's leaf (CRL, OCSP,
    /// the stapled response).
    pub network: &'a [RevocationAnswer],
}

/// The result of `observation` for `binding`.
pub(crate) fn observe(
    binding: &Binding,
    observation: &ProbeObservation,
    analysis: Option<&ChainAnalysis>,
    known: &[&DeclaredCertificate],
    revocations: &Revocations<'_>,
) -> ObservationResult {
    let leaf = analysis.and_then(|a| a.certificates.first()).and_then(|c| c.facts());
    // Whatever the handshake did afterwards, a served chain is judged: the
    // verdict says what was served; the error says what failed.
    let served_something = !observation.served_chain().is_empty();
    let reconciliation = match (&observation.outcome, leaf) {
        (_, Some(_)) if binding.declared == DeclaredCertificate::default() => Reconciliation {
            verdict: Verdict::Observed,
            basis: IdentityBasis::None,
            reason: "nothing was declared for this endpoint".into(),
        },
        (_, Some(facts)) => reconcile(&binding.declared, facts, known),
        (ProbeOutcome::Error(error), None) if !served_something => Reconciliation {
            verdict: if error.kind == ProbeErrorKind::NotTls { Verdict::NoTls } else { Verdict::Unreachable },
            basis: IdentityBasis::None,
            reason: error.message.clone(),
        },
        (_, None) => Reconciliation {
            verdict: Verdict::Indeterminate,
            basis: IdentityBasis::None,
            reason: "the served leaf could not be parsed".into(),
        },
    };
    let revocation = leaf.and_then(|facts| {
        let provider = provider_answer(revocations.provider, &facts.serial_hex).or_else(|| {
            // The provider's own revocation record applies when it is the served certificate.
            let declared = binding.declared.revocation.as_ref().filter(|_| reconciliation.verdict == Verdict::Match)?;
            let mut answer = RevocationAnswer::from_provider(declared);
            answer.source.get_or_insert_with(|| binding.location.plugin.clone());
            Some(answer)
        });
        // Only a full handshake tells whether the server stapled.
        let stapled = observation
            .tls()
            .filter(|tls| tls.capture == CaptureMethod::FullHandshake)
            .map(|tls| tls.stapled_ocsp.is_some());
        let answers = provider.into_iter().chain(revocations.network.iter().cloned()).collect();
        let mut fact = RevocationFact::merge(&facts.serial_hex, answers)?;
        fact.must_staple = observation.served_chain().first().is_some_and(|leaf| must_staple(leaf.as_bytes()));
        fact.stapled = stapled;
        Some(fact)
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
            capture: tls.capture,
            full_handshake_error: tls.full_handshake_error.clone(),
        }),
        client_certificate_request: observation.client_certificate_request().map(|request| {
            ClientCertificateRequested {
                acceptable_ca_names: request
                    .acceptable_ca_names
                    .iter()
                    .map(|name| distinguished_name(name.as_bytes()).unwrap_or_else(|| hex(name.as_bytes())))
                    .collect(),
                required: request.required,
            }
        }),
        served: leaf.map(|facts| {
            let expiry = analysis.and_then(|a| a.expiry.leaf.as_ref());
            ServedSummary {
                subject: facts.subject.clone(),
                common_name: facts.subject_common_names.first().cloned(),
                sans: facts.subject_alt_names.clone(),
                issuer: facts.issuer.clone(),
                serial: facts.serial_hex.clone(),
                sha256: facts.sha256_fingerprint.clone(),
                not_after: facts.not_after,
                days_remaining: expiry.map_or(0, |e| e.days_remaining),
                expiry: expiry.map(|e| e.state),
            }
        }),
        // The full analysis, when kept, is the report's, shared by every
        // result serving the chain (the caller sets these).
        chain: None,
        name_match: None,
        revocation,
        error: observation.error().cloned(),
        issuer_fetches: Vec::new(),
        timings: observation.timings,
    }
}

/// Lower-case hex, for bytes that have no better text.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
