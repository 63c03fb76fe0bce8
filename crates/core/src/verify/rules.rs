//! Finding rules: from one observation's result and analysis, or from a
//! binding's results as a whole, to findings.
//!
//! Pure: no I/O, no clock (the analysis clock is passed in), so every rule
//! is table-tested with data in and findings out.

use std::collections::HashMap;

use certinspect_analysis::{
    describe_remaining, ChainAnalysis, ExpiryState, ExpirySubject, NameMatch, Policy, TrustVerdict, WeaknessKind,
};
use certinspect_probe::{is_legacy_version, CaptureMethod, ProbeErrorKind};
use certinspect_protocol::{Binding, DeclaredCertificate, Tristate};
use serde_json::json;

use crate::findings::{Finding, FindingCode, Severity};
use crate::reconcile::Verdict;
use crate::report::ObservationResult;
use crate::verify::revocation::{RevocationFact, RevocationVerdict, UnknownCause};

/// A binding's place for people: `service host:port`, with `(SNI name)`
/// when the name sent differs from the host; the resource id when there is
/// no endpoint. Findings carry it in [`Finding::place`].
pub fn place_of(binding: &Binding) -> String {
    let location = &binding.location;
    let place = match &location.endpoint {
        Some(e) => {
            let host = if e.host.contains(':') { format!("[{}]", e.host) } else { e.host.clone() };
            match &e.sni {
                Some(sni) if sni != &e.host => format!("{host}:{} (SNI {sni})", e.port),
                _ => format!("{host}:{}", e.port),
            }
        }
        None => location.resource_id.clone(),
    };
    if location.service.is_empty() || location.plugin == "probe" {
        place
    } else {
        format!("{} {place}", location.service)
    }
}

/// Findings about one observation of `binding`.
pub(crate) fn observation_findings(
    binding: &Binding,
    result: &ObservationResult,
    analysis: Option<&ChainAnalysis>,
    name_match: Option<&NameMatch>,
    reference_name: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(error) = &result.error {
        let chain_served = analysis.is_some();
        let finding = match &error.kind {
            // Not a failure of the server: reported as a request below.
            ProbeErrorKind::ClientCertificateRequired if chain_served => None,
            ProbeErrorKind::NotTls => Some((FindingCode::NoTls, "does not speak TLS")),
            // The server spoke TLS and sent its chain: what current clients
            // refuse is a fact about the server, not a failure to look.
            kind if kind.is_tls_failure() && chain_served => Some((
                FindingCode::HandshakeRejected,
                "sent its certificates, but current TLS clients refuse the handshake",
            )),
            kind if kind.is_tls_failure() => Some((FindingCode::HandshakeFailed, "TLS handshake failed")),
            _ => Some((FindingCode::Unreachable, "unreachable")),
        };
        if let Some((code, what)) = finding {
            out.push(Finding::new(code, format!("{what}: {error}")).with_evidence(json!({ "error": error })));
        }
    }
    if let Some(tls) = &result.tls {
        if let (CaptureMethod::LegacyHandshake, Some(failed)) = (tls.capture, &tls.full_handshake_error) {
            let evidence =
                json!({ "version": tls.version, "cipher_suite": tls.cipher_suite, "full_handshake_error": failed });
            let finding = if is_legacy_version(&tls.version) {
                Finding::new(
                    FindingCode::LegacyProtocol,
                    format!("speaks only {} ({}), which current clients refuse", tls.version, tls.cipher_suite),
                )
            } else {
                Finding::new(
                    FindingCode::HandshakeRejected,
                    format!(
                        "current TLS clients refuse the handshake ({failed}); its chain was read with {}",
                        tls.version
                    ),
                )
            };
            out.push(finding.with_evidence(evidence));
        }
    }
    if let Some(request) = &result.client_certificate_request {
        let names = if request.acceptable_ca_names.is_empty() {
            "naming no CA".to_owned()
        } else {
            format!("accepting certificates from {}", request.acceptable_ca_names.join("; "))
        };
        let how = if request.required { "requires" } else { "asks for" };
        out.push(
            Finding::new(FindingCode::ClientCertificateRequested, format!("{how} a client certificate, {names}"))
                .with_evidence(
                    json!({ "acceptable_ca_names": request.acceptable_ca_names, "required": request.required }),
                ),
        );
    }
    let served = result.served.as_ref();
    let evidence = json!({ "served": served, "declared": declared_evidence(&binding.declared), "basis": result.basis });
    match result.verdict {
        Verdict::Foreign => out.push(
            Finding::new(
                FindingCode::ServedNotDeclared,
                format!("serves a certificate other than the declared one ({})", result.reason),
            )
            .with_evidence(evidence.clone()),
        ),
        Verdict::Stale => out.push(
            Finding::new(
                FindingCode::StaleCertificate,
                format!("still serves the certificate the declared one replaced ({})", result.reason),
            )
            .with_evidence(evidence.clone()),
        ),
        _ => {}
    }
    if let Some(analysis) = analysis {
        chain_findings(analysis, name_match, result, reference_name, &mut out);
    }
    if let Some(revocation) = &result.revocation {
        revocation_findings(revocation, &mut out);
    }
    if binding.declared.provider_status.as_deref() == Some("ok") {
        provider_status_finding(&mut out);
    }
    let place = place_of(binding);
    out.into_iter().map(|f| f.at_place(place.clone())).collect()
}

/// What the served leaf's revocation fact calls for: revoked, sources
/// disagreeing, or no usable answer (not checked at all raises nothing: the
/// fact says why).
fn revocation_findings(revocation: &RevocationFact, out: &mut Vec<Finding>) {
    let answer = &revocation.answer;
    let source = answer.source.as_deref().unwrap_or("a source");
    let evidence = json!({ "revocation": revocation });
    match answer.status {
        RevocationVerdict::Revoked => {
            let reason = answer.reason.as_deref().map(|r| format!(", reason {r}")).unwrap_or_default();
            out.push(
                Finding::new(
                    FindingCode::Revoked,
                    format!("serves a revoked certificate (serial {}; {source} says so{reason})", revocation.serial),
                )
                .with_evidence(evidence.clone()),
            );
        }
        RevocationVerdict::Unknown if revocation.unchecked() => {
            let code = match answer.cause {
                Some(UnknownCause::InvalidResponse) => FindingCode::RevocationResponseInvalid,
                _ => FindingCode::RevocationUnknown,
            };
            let why = answer.why.as_deref().unwrap_or("no answer came");
            out.push(
                Finding::new(
                    code,
                    format!("revocation of the served certificate (serial {}) is unknown: {why}", revocation.serial),
                )
                .with_evidence(evidence.clone()),
            );
        }
        _ => {}
    }
    // A staple clients reject is the server's fault whatever else answered.
    if let Some(staple) = revocation.invalid_staple().filter(|staple| *staple != answer) {
        out.push(
            Finding::new(
                FindingCode::RevocationResponseInvalid,
                format!(
                    "the server staples an OCSP response for the served certificate (serial {}) that clients must reject: {}",
                    revocation.serial,
                    staple.why.as_deref().unwrap_or("it is invalid")
                ),
            )
            .with_evidence(evidence.clone()),
        );
    }
    if revocation.staple_missing() {
        out.push(
            Finding::new(
                FindingCode::MustStapleMissing,
                format!(
                    "the served certificate (serial {}) must be stapled (TLS feature status_request), but the server stapled no OCSP response",
                    revocation.serial
                ),
            )
            .with_evidence(evidence.clone()),
        );
    }
    if let Some(good) = revocation.disagreement() {
        let other = good.source.as_deref().unwrap_or("another source");
        out.push(
            Finding::new(
                FindingCode::RevocationDisagreement,
                format!(
                    "{source} says the served certificate (serial {}) is revoked, {other} says it is good",
                    revocation.serial
                ),
            )
            .with_evidence(evidence),
        );
    }
}

/// Expiry, names, trust and weaknesses of an analysed chain.
fn chain_findings(
    analysis: &ChainAnalysis,
    name_match: Option<&NameMatch>,
    result: &ObservationResult,
    reference_name: &str,
    out: &mut Vec<Finding>,
) {
    let served = result.served.as_ref();
    if let Some(leaf) = &analysis.expiry.leaf {
        let graded = match leaf.state {
            ExpiryState::Expired => Some((FindingCode::CertExpired, Severity::Critical)),
            ExpiryState::NotYetValid => Some((FindingCode::CertNotYetValid, Severity::High)),
            ExpiryState::Critical => Some((FindingCode::CertExpiring, Severity::High)),
            ExpiryState::Warning => Some((FindingCode::CertExpiring, Severity::Medium)),
            ExpiryState::Ok => None,
        };
        if let Some((code, severity)) = graded {
            out.push(
                Finding::with_severity(code, severity, format!("served certificate {}", leaf.describe()))
                    .with_evidence(json!({ "expiry": leaf })),
            );
        }
    }
    for fact in [&analysis.expiry.earliest_served, &analysis.expiry.earliest_verified].into_iter().flatten() {
        let is_leaf = matches!(fact.certificate, ExpirySubject::Served { index: 0 });
        let severity = match fact.state {
            ExpiryState::Expired => Severity::Critical,
            ExpiryState::Critical => Severity::High,
            ExpiryState::Warning => Severity::Medium,
            ExpiryState::Ok | ExpiryState::NotYetValid => continue,
        };
        if !is_leaf && !out.iter().any(|f| f.code == FindingCode::ChainExpiring) {
            out.push(
                Finding::with_severity(
                    FindingCode::ChainExpiring,
                    severity,
                    format!("chain certificate '{}' {}", fact.subject, fact.describe()),
                )
                .with_evidence(json!({ "expiry": fact })),
            );
        }
    }
    match name_match {
        Some(NameMatch::NoMatch { reason }) => out.push(
            Finding::new(
                FindingCode::NameMismatch,
                format!("served certificate is not valid for '{reference_name}': {reason}"),
            )
                .with_evidence(json!({ "name": reference_name, "reason": reason, "served": served })),
        ),
        Some(NameMatch::MatchedLegacyCnOnly { common_name }) => out.push(
            Finding::new(
                FindingCode::NameLegacyCnOnly,
                format!("'{reference_name}' matches only the subject CN '{common_name}' (no SAN extension); accepted by `legacy_cn = \"accept\"`, but browsers and current TLS clients reject it"),
            )
            .with_evidence(json!({ "name": reference_name })),
        ),
        _ => {}
    }
    match &analysis.trust.verdict {
        // Expiry has findings of its own (cert-expired, chain-expiring).
        TrustVerdict::Trusted | TrustVerdict::Expired { .. } | TrustVerdict::NotYetValid { .. } => {}
        TrustVerdict::Incomplete => out.push(
            Finding::new(
                FindingCode::ChainIncomplete,
                "the served chain is incomplete: with the intermediate its AIA URL names it reaches a trusted \
                 root, but clients that do not fetch intermediates fail",
            )
            .with_evidence(json!({
                "completeness": analysis.completeness,
                "missing_intermediates": analysis.trust.missing_intermediates,
            })),
        ),
        TrustVerdict::Untrusted { reason } => {
            // Say what completing the chain through its AIA URL gave, so
            // "unknown" never hides "could not look".
            let fetched: Vec<String> = result
                .issuer_fetches
                .iter()
                .map(|f| match &f.error {
                    Some(error) => format!("fetching its issuer from {} failed: {error}", f.url),
                    None => format!("the issuer fetched from {} leads to no trusted root", f.url),
                })
                .collect();
            let after = if fetched.is_empty() { String::new() } else { format!("; {}", fetched.join("; ")) };
            out.push(
                Finding::new(FindingCode::Untrusted, format!("the served chain is not trusted: {reason}{after}"))
                    .with_evidence(json!({ "trust": analysis.trust, "issuer_fetches": result.issuer_fetches })),
            );
        }
        other => out.push(
            Finding::new(FindingCode::Untrusted, format!("the served chain is not trusted: {other}"))
                .with_evidence(json!({ "trust": analysis.trust })),
        ),
    }
    for (index, certificate) in analysis.certificates.iter().enumerate() {
        if let Some(reason) = certificate.malformed() {
            let which = if index == 0 {
                "the leaf certificate".to_owned()
            } else {
                format!("certificate {index} of the chain")
            };
            out.push(
                Finding::new(FindingCode::MalformedCertificate, format!("{which} is malformed: {reason}"))
                    .with_evidence(json!({ "index": index, "error": reason.to_string(), "reason": reason })),
            );
        }
    }
    for weakness in &analysis.weaknesses {
        let what = match &weakness.kind {
            WeaknessKind::RsaKeyTooSmall { bits } => format!("RSA key of {bits} bits"),
            WeaknessKind::Sha1Signature => "SHA-1 signature".to_owned(),
            WeaknessKind::Md5Signature => "MD5 signature".to_owned(),
            WeaknessKind::Md2Signature => "MD2 signature".to_owned(),
        };
        out.push(
            Finding::new(
                FindingCode::WeakKey,
                format!("certificate {} of the chain has a weak {what}", weakness.index),
            )
            .with_evidence(json!({ "weakness": weakness })),
        );
    }
}

/// The provider says all is well while we found a problem: say so.
fn provider_status_finding(out: &mut Vec<Finding>) {
    const CONTRADICTING: [FindingCode; 5] = [
        FindingCode::CertExpired,
        FindingCode::NameMismatch,
        FindingCode::ServedNotDeclared,
        FindingCode::StaleCertificate,
        FindingCode::Revoked,
    ];
    let problems: Vec<&str> = out.iter().filter(|f| CONTRADICTING.contains(&f.code)).map(|f| f.code.as_str()).collect();
    if !problems.is_empty() {
        let message = format!("the provider reports status 'ok', but: {}", problems.join(", "));
        let evidence = json!({ "provider_status": "ok", "observed": problems });
        out.push(Finding::new(FindingCode::ProviderStatusDisagrees, message).with_evidence(evidence));
    }
}

/// Findings about a binding as a whole; `served_seen`: some result of it received a served leaf.
pub(crate) fn binding_findings(
    binding: &Binding,
    served_seen: bool,
    by_names: &CertificatesByNames<'_>,
    now: i64,
    policy: &Policy,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let is_deployment = binding.location.endpoint.is_some() || binding.location.not_probeable.is_some();
    if !is_deployment {
        return out;
    }
    if let Some(reason) = &binding.location.not_probeable {
        out.push(Finding::new(FindingCode::NotProbeable, format!("not probed: {reason}")));
    }
    // Without a successful handshake, the declaration is all there is to judge expiry by.
    if let (false, Some(not_after)) = (served_seen, binding.declared.not_after) {
        let days = (not_after - now).div_euclid(86_400);
        let what = format!("the declared certificate {}", describe_remaining(not_after - now));
        if not_after <= now {
            out.push(Finding::new(FindingCode::DeclaredExpired, what));
        } else if days < i64::from(policy.warn_days) {
            out.push(Finding::new(FindingCode::DeclaredExpiring, what));
        }
    }
    if binding.declared.auto_managed == Tristate::Yes {
        if let Some(renewed) = by_names.newer_than(&binding.declared) {
            let label = |d: &DeclaredCertificate| d.name.clone().or_else(|| d.provider_id.clone());
            out.push(
                Finding::new(
                    FindingCode::AutoManagedNotDeployed,
                    format!(
                        "auto-managed certificate was renewed ({}), but this deployment still uses {}",
                        label(renewed).unwrap_or_else(|| "a newer certificate".into()),
                        label(&binding.declared).unwrap_or_else(|| "the old one".into()),
                    ),
                )
                .with_evidence(
                    json!({ "deployed": declared_evidence(&binding.declared), "renewed": declared_evidence(renewed) }),
                ),
            );
        }
    }
    let place = place_of(binding);
    out.into_iter().map(|f| f.at_place(place.clone())).collect()
}

/// Declared certificates grouped by the set of names they cover, so a
/// renewal (same names, later start) is found without comparing every
/// binding with every other.
pub(crate) struct CertificatesByNames<'a> {
    groups: HashMap<Vec<String>, Vec<&'a DeclaredCertificate>>,
}

impl<'a> CertificatesByNames<'a> {
    pub fn new(known: &[&'a DeclaredCertificate]) -> Self {
        let mut groups: HashMap<Vec<String>, Vec<&'a DeclaredCertificate>> = HashMap::new();
        for declared in known {
            let names = names_of(declared);
            if !names.is_empty() {
                groups.entry(names).or_default().push(declared);
            }
        }
        Self { groups }
    }

    /// The latest certificate for exactly `declared`'s names issued after it.
    pub fn newer_than(&self, declared: &DeclaredCertificate) -> Option<&'a DeclaredCertificate> {
        let start = declared.not_before?;
        self.groups
            .get(&names_of(declared))?
            .iter()
            .copied()
            .filter(|other| other.not_before.is_some_and(|other_start| other_start > start))
            .max_by_key(|other| other.not_before)
    }
}

/// CN and SANs, lower-cased, sorted, without repeats.
fn names_of(declared: &DeclaredCertificate) -> Vec<String> {
    let mut names: Vec<String> =
        declared.common_name.iter().chain(&declared.sans).map(|s| s.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    names
}

pub(crate) fn declared_evidence(declared: &DeclaredCertificate) -> serde_json::Value {
    json!({
        "id": declared.provider_id,
        "name": declared.name,
        "common_name": declared.common_name,
        "serial": declared.serial,
        "fingerprints": declared.fingerprints,
        "not_before": declared.not_before,
        "not_after": declared.not_after,
    })
}

#[cfg(test)]
mod tests {
    //! Data in, findings out: each row is a served chain (generated here),
    //! how it was reached and what was declared; the expectation is the set
    //! of finding codes with their severities.

    use certinspect_analysis::{analyze, AnalysisInput, TrustStore};
    use certinspect_probe::{ProbeError, Timings};
    use certinspect_protocol::Binding;
    use certinspect_tls_farm::pki::{self_signed, LeafOptions, TestCa, Validity};

    use super::*;
    use crate::reconcile::IdentityBasis;
    use crate::report::ObservationResult;
    use crate::verify::bare_endpoint;

    /// The generated certificates' dates are relative to the real clock.
    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn result(verdict: Verdict, error: Option<ProbeError>) -> ObservationResult {
        ObservationResult {
            address: Some("127.0.0.1:443".into()),
            ip_family: Some("v4".into()),
            sni: Some("a.test".into()),
            verdict,
            basis: IdentityBasis::Sha256,
            reason: "because".into(),
            tls: None,
            served: None,
            chain: None,
            name_match: None,
            revocation: None,
            error,
            client_certificate_request: None,
            issuer_fetches: Vec::new(),
            timings: Timings::default(),
        }
    }

    /// name, served chain, verdict, probe error, binding, expected findings.
    type Row<'a> =
        (&'a str, Option<Vec<Vec<u8>>>, Verdict, Option<ProbeError>, &'a Binding, Vec<(FindingCode, Severity)>);

    fn findings_of(
        chain: Option<Vec<Vec<u8>>>,
        trust: &TrustStore,
        verdict: Verdict,
        error: Option<ProbeError>,
        binding: &Binding,
    ) -> Vec<(FindingCode, Severity)> {
        let policy = Policy::default();
        let analysis = chain
            .as_ref()
            .map(|chain| analyze(&AnalysisInput::new(chain, trust, now(), &policy).with_host(Some("a.test"))));
        let result = result(verdict, error);
        let mut found: Vec<(FindingCode, Severity)> = observation_findings(
            binding,
            &result,
            analysis.as_ref(),
            analysis.as_ref().and_then(|a| a.name_match.as_ref()),
            "a.test",
        )
        .into_iter()
        .map(|f| (f.code, f.severity))
        .collect();
        found.sort_by_key(|(code, _)| code.as_str());
        found
    }

    #[test]
    fn observation_rules() {
        let ca = TestCa::new("Rules Test CA").unwrap();
        let trust = TrustStore::from_der(vec![ca.der().to_vec()]).unwrap();
        let chain = |names: &[&str], validity| Some(ca.issue(names, validity).unwrap().chain);
        let healthy = || chain(&["a.test"], Validity::days_from_now(200));
        let stranger =
            TestCa::new("Nobody's CA").unwrap().intermediate("Nobody's Issuing CA", Validity::days_from_now(900));
        let unknown_ca = Some(stranger.unwrap().issue(&["a.test"], Validity::days_from_now(200)).unwrap().chain);
        let cn_only = LeafOptions { common_name_only: true, ..LeafOptions::default() };
        let legacy = Some(ca.issue_with(&["a.test"], Validity::days_from_now(200), &cn_only).unwrap().chain);
        let endpoint = bare_endpoint("a.test", 443, Some("a.test".into()));
        let mut says_ok = endpoint.clone();
        says_ok.declared.provider_status = Some("ok".into());
        let error = |kind| Some(ProbeError::new(kind, "what happened"));
        use FindingCode::*;
        use Severity::*;
        #[rustfmt::skip]
        let cases: Vec<Row<'_>> = vec![
            ("healthy", healthy(), Verdict::Match, None, &endpoint, vec![]),
            ("expired", chain(&["a.test"], Validity::expired(3)), Verdict::Match, None, &endpoint,
                vec![(CertExpired, Critical)]),
            ("critical days", chain(&["a.test"], Validity::days_from_now(5)), Verdict::Match, None, &endpoint,
                vec![(CertExpiring, High)]),
            ("warning days", chain(&["a.test"], Validity::days_from_now(20)), Verdict::Match, None, &endpoint,
                vec![(CertExpiring, Medium)]),
            ("wrong name", chain(&["b.test"], Validity::days_from_now(200)), Verdict::Match, None, &endpoint,
                vec![(NameMismatch, High)]),
            ("self-signed", Some(self_signed(&["a.test"], Validity::days_from_now(200)).unwrap().chain),
                Verdict::Match, None, &endpoint, vec![(Untrusted, High)]),
            ("unknown CA, root omitted", unknown_ca, Verdict::Match, None, &endpoint, vec![(Untrusted, High)]),
            ("name only in the legacy CN", legacy, Verdict::Match, None, &endpoint, vec![(NameMismatch, High)]),
            ("foreign", healthy(), Verdict::Foreign, None, &endpoint, vec![(ServedNotDeclared, Critical)]),
            ("stale", healthy(), Verdict::Stale, None, &endpoint, vec![(StaleCertificate, Critical)]),
            ("provider says ok, but foreign", healthy(), Verdict::Foreign, None, &says_ok,
                vec![(ProviderStatusDisagrees, Medium), (ServedNotDeclared, Critical)]),
            ("provider says ok, and it is", healthy(), Verdict::Match, None, &says_ok, vec![]),
            ("not TLS", None, Verdict::NoTls, error(ProbeErrorKind::NotTls), &endpoint, vec![(NoTls, High)]),
            ("refused", None, Verdict::Unreachable, error(ProbeErrorKind::Refused), &endpoint,
                vec![(Unreachable, High)]),
            ("alert", None, Verdict::Unreachable, error(ProbeErrorKind::TlsAlert("HandshakeFailure".into())),
                &endpoint, vec![(HandshakeFailed, High)]),
            ("refused after the chain was sent", healthy(), Verdict::Match, error(ProbeErrorKind::BadHandshakeSignature),
                &endpoint, vec![(HandshakeRejected, High)]),
            ("a client certificate required, the chain sent", healthy(), Verdict::Match,
                error(ProbeErrorKind::ClientCertificateRequired), &endpoint, vec![]),
        ];
        for (name, chain, verdict, error, binding, expected) in cases {
            assert_eq!(findings_of(chain, &trust, verdict, error, binding), expected, "{name}");
        }
    }

    #[test]
    fn revocation_facts_raise_what_they_say() {
        use crate::verify::revocation::RevocationAnswer;
        use RevocationVerdict::*;
        let answer = |status, source: &str| RevocationAnswer::new(status, Some(source));
        let unknown = |cause| RevocationAnswer::unknown("crl", None, cause, "the CRL is stale".into());
        // (name, answers, expected findings)
        type Case = (&'static str, Vec<RevocationAnswer>, Vec<(FindingCode, Severity)>);
        let cases: Vec<Case> = vec![
            (
                "provider revoked",
                vec![answer(Revoked, "alibaba-cas")],
                vec![(FindingCode::Revoked, Severity::Critical)],
            ),
            ("crl revoked", vec![answer(Revoked, "crl")], vec![(FindingCode::Revoked, Severity::Critical)]),
            (
                "provider good, crl revoked",
                vec![answer(Good, "alibaba-cas"), answer(Revoked, "crl")],
                vec![(FindingCode::Revoked, Severity::Critical), (FindingCode::RevocationDisagreement, Severity::High)],
            ),
            ("good", vec![answer(Good, "crl")], vec![]),
            (
                "unreachable",
                vec![unknown(UnknownCause::Unavailable)],
                vec![(FindingCode::RevocationUnknown, Severity::Medium)],
            ),
            (
                "invalid",
                vec![unknown(UnknownCause::InvalidResponse)],
                vec![(FindingCode::RevocationResponseInvalid, Severity::High)],
            ),
            (
                "provider good outweighs an invalid list",
                vec![answer(Good, "alibaba-cas"), unknown(UnknownCause::InvalidResponse)],
                vec![],
            ),
            (
                "crl good, an invalid staple",
                vec![
                    answer(Good, "crl"),
                    RevocationAnswer::unknown("stapled", None, UnknownCause::InvalidResponse, "stale".into()),
                ],
                vec![(FindingCode::RevocationResponseInvalid, Severity::High)],
            ),
            (
                "only an invalid staple: one finding",
                vec![RevocationAnswer::unknown("stapled", None, UnknownCause::InvalidResponse, "stale".into())],
                vec![(FindingCode::RevocationResponseInvalid, Severity::High)],
            ),
            ("crl good, staple good", vec![answer(Good, "crl"), answer(Good, "stapled")], vec![]),
            ("provider cannot tell", vec![answer(Unknown, "alibaba-cas")], vec![]),
            ("not checked", vec![RevocationAnswer::not_checked("fetching is turned off (--no-fetch)")], vec![]),
        ];
        for (name, answers, expected) in cases {
            let mut observed = result(Verdict::Match, None);
            observed.revocation = RevocationFact::merge("0a", answers);
            check(name, &observed, expected);
        }
        // Must staple: raised only when the server is known not to have stapled.
        for (stapled, expected) in [
            (Some(false), vec![(FindingCode::MustStapleMissing, Severity::High)]),
            (Some(true), vec![]),
            (None, vec![]),
        ] {
            let mut observed = result(Verdict::Match, None);
            let mut fact = RevocationFact::merge("0a", vec![answer(Good, "crl")]).unwrap();
            fact.must_staple = true;
            fact.stapled = stapled;
            observed.revocation = Some(fact);
            check(&format!("must staple, stapled {stapled:?}"), &observed, expected);
        }
        fn check(name: &str, observed: &ObservationResult, expected: Vec<(FindingCode, Severity)>) {
            let endpoint = bare_endpoint("a.test", 443, Some("a.test".into()));
            let found = observation_findings(&endpoint, observed, None, None, "a.test");
            assert_eq!(found.iter().map(|f| (f.code, f.severity)).collect::<Vec<_>>(), expected, "{name}");
            assert!(
                found.iter().all(|f| f.place.as_deref() == Some("a.test:443") && f.message.contains("0a")),
                "{name}"
            );
        }
    }

    #[test]
    fn binding_rules() {
        let day = 86_400;
        let now = 1_000 * day;
        let declared = |name: &str, start: i64, end: i64, auto: Tristate| {
            DeclaredCertificate::default()
                .with_name(name)
                .with_common_name("a.test")
                .with_validity(start, end)
                .with_auto_managed(auto)
        };
        let deployed = |declared: DeclaredCertificate| {
            let mut binding = bare_endpoint("a.test", 443, None);
            binding.declared = declared;
            binding
        };
        let mut wildcard = deployed(declared("w", now - day, now + 200 * day, Tristate::No));
        wildcard.location.endpoint = None;
        wildcard.location.not_probeable = Some("wildcard domain".into());
        let renewed = declared("new", now - day, now + 90 * day, Tristate::Yes);
        use FindingCode::*;
        #[rustfmt::skip]
        let cases = [
            ("declared expired, nothing served", deployed(declared("x", now - 90 * day, now - 2 * day, Tristate::No)),
                vec![DeclaredExpired]),
            ("declared expiring, nothing served", deployed(declared("x", now - 90 * day, now + 3 * day, Tristate::No)),
                vec![DeclaredExpiring]),
            ("declared fine", deployed(declared("x", now - day, now + 200 * day, Tristate::No)), vec![]),
            ("not probeable", wildcard, vec![NotProbeable]),
            ("auto-managed, renewal not deployed", deployed(declared("old", now - 80 * day, now + 200 * day, Tristate::Yes)),
                vec![AutoManagedNotDeployed]),
        ];
        for (name, binding, expected) in cases {
            let known = [&binding.declared, &renewed];
            let by_names = CertificatesByNames::new(&known);
            let found: Vec<FindingCode> =
                binding_findings(&binding, false, &by_names, now, &Policy::default()).iter().map(|f| f.code).collect();
            assert_eq!(found, expected, "{name}");
        }
    }

    #[test]
    fn places_read_as_people_write_them() {
        let mut binding = bare_endpoint("a.test", 443, Some("b.test".into()));
        assert_eq!(place_of(&binding), "a.test:443 (SNI b.test)");
        binding.location.plugin = "alibaba-cdn".into();
        binding.location.service = "cdn".into();
        assert_eq!(place_of(&binding), "cdn a.test:443 (SNI b.test)");
        assert_eq!(place_of(&bare_endpoint("::1", 8443, None)), "[::1]:8443");
    }
}
