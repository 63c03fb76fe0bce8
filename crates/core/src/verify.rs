//! The verification engine: probe every endpoint the bindings name, analyse
//! the served chains in parallel, reconcile with the declarations, and
//! produce findings and a report.
//!
//! Embedding programs call [`verify`] with bindings (from providers, or
//! bare endpoints built with [`bare_endpoint`]) and get a [`Report`].

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use certinspect_analysis::{
    analyze_many, AnalysisInput, ChainAnalysis, ExpiryState, ExpirySubject, NameMatch, Policy, TrustStore,
    TrustVerdict, WeaknessKind,
};
use certinspect_probe::{
    probe_blocking_each, ProbeConfig, ProbeErrorKind, ProbeObservation, ProbeOutcome, ProbeTarget, SniMode,
};
use certinspect_protocol::{
    normalize_serial, Binding, DeclaredCertificate, Endpoint, Location, RevocationState, RevocationStatus, Tristate,
};
use serde_json::json;

use crate::collect::{CollectError, SourceStats};
use crate::findings::{code, Finding, Severity};
use crate::join::join;
use crate::plugins::OpenedSource;
use crate::reconcile::{reconcile, IdentityBasis, Reconciliation, Verdict};
use crate::report::{
    BindingReport, ObservationResult, Report, ServedSummary, Summary, TlsSummary, REPORT_SCHEMA_VERSION,
};

/// Route connections for `host:port` to `to` instead (curl's `--connect-to`),
/// keeping the name for SNI and matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    /// Host as the binding names it.
    pub host: String,
    /// Port as the binding names it.
    pub port: u16,
    /// Where to connect instead.
    pub to: SocketAddr,
}

impl std::str::FromStr for ConnectTo {
    type Err = String;

    /// `HOST:PORT:ADDR:PORT2`, IPv6 addresses in brackets.
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("'{text}': expected HOST:PORT:ADDRESS:PORT (IPv6 in brackets)");
        let (host, rest) = text.split_once(':').ok_or_else(expected)?;
        let (port, to) = rest.split_once(':').ok_or_else(expected)?;
        let port = port.parse().map_err(|_| expected())?;
        let to = to.parse::<SocketAddr>().map_err(|_| expected())?;
        Ok(Self { host: host.to_ascii_lowercase(), port, to })
    }
}

/// Settings of a verification run.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Probe limits and timeouts.
    pub probe: ProbeConfig,
    /// Expiry thresholds.
    pub policy: Policy,
    /// Roots trust is verified against.
    pub trust: Arc<TrustStore>,
    /// Connection overrides.
    pub connect_to: Vec<ConnectTo>,
    /// The analysis clock (UNIX seconds); `None` reads the system clock.
    pub now_unix: Option<i64>,
    /// Serials per revocation lookup call.
    pub revocation_batch: usize,
    /// Keep the full chain analysis in each result (larger reports).
    pub keep_analysis: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            probe: ProbeConfig::default(),
            policy: Policy::default(),
            trust: Arc::new(TrustStore::mozilla()),
            connect_to: Vec::new(),
            now_unix: None,
            revocation_batch: 50,
            keep_analysis: true,
        }
    }
}

/// What to verify.
#[derive(Debug, Default)]
pub struct VerifyInput {
    /// Bindings from providers, or bare endpoints.
    pub bindings: Vec<Binding>,
    /// Sources offering `revocation-lookup`.
    pub revocation_sources: Vec<Arc<OpenedSource>>,
    /// Failures while collecting the bindings; they become findings.
    pub source_errors: Vec<CollectError>,
    /// Collection counts, carried into the report.
    pub source_stats: Vec<SourceStats>,
}

/// A binding for a bare endpoint (no provider, nothing declared): `inspect probe`.
pub fn bare_endpoint(host: &str, port: u16, sni: Option<String>) -> Binding {
    Binding {
        location: Location {
            provider: "probe".into(),
            service: "endpoint".into(),
            resource_id: format!("{host}:{port}"),
            endpoint: Some(Endpoint { host: host.to_owned(), port, sni, addresses: vec![] }),
            ..Location::default()
        },
        ..Binding::default()
    }
}

/// Receives results as the engine produces them, before the report is
/// complete (for streaming output and progress).
pub trait VerifyObserver {
    /// The endpoints are planned: `endpoints` probes for `bindings` bindings.
    fn planned(&mut self, bindings: usize, endpoints: usize) {
        let _ = (bindings, endpoints);
    }
    /// One result of the binding at `index` (as joined) and the findings about it.
    fn result(&mut self, index: usize, binding: &Binding, result: &ObservationResult, findings: &[Finding]) {
        let _ = (index, binding, result, findings);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;

impl VerifyObserver for NoObserver {}

/// Verify `input` and build the report.
pub fn verify(input: VerifyInput, options: &VerifyOptions) -> Report {
    verify_observed(input, options, &mut NoObserver)
}

/// [`verify`], telling `observer` about each result as it is made.
pub fn verify_observed(input: VerifyInput, options: &VerifyOptions, observer: &mut dyn VerifyObserver) -> Report {
    let now = options.now_unix.unwrap_or_else(unix_now);
    let mut bindings = input.bindings;
    let join_outcome = join(&mut bindings);

    // Probe each distinct endpoint once.
    let plan = plan_targets(&bindings, &options.connect_to);
    observer.planned(bindings.len(), plan.targets.len());
    let mut bindings_of_target: Vec<Vec<usize>> = vec![Vec::new(); plan.targets.len()];
    for (binding, target) in plan.target_of_binding.iter().enumerate() {
        if let Some(target) = target {
            bindings_of_target[*target].push(binding);
        }
    }

    let known: Vec<&DeclaredCertificate> = bindings.iter().map(|b| &b.declared).collect();
    let mut results: Vec<Vec<ObservationResult>> = vec![Vec::new(); bindings.len()];
    let mut findings = Vec::new();
    let mut revocations: HashMap<String, RevocationStatus> = HashMap::new();
    let mut handle_batch = |batch: Vec<ProbeObservation>| {
        // Analyse the batch's chains in parallel (pure, rayon).
        let chains: Vec<Vec<Vec<u8>>> = batch
            .iter()
            .map(|o| o.tls().map(|tls| tls.chain.iter().map(|c| c.0.clone()).collect()).unwrap_or_default())
            .collect();
        let inputs: Vec<AnalysisInput<'_>> = batch
            .iter()
            .zip(&chains)
            .filter(|(o, _)| o.tls().is_some())
            .map(|(o, chain)| AnalysisInput {
                chain,
                host: Some(plan.reference_names[o.target_index].as_str()),
                trust: &options.trust,
                now_unix: now,
                policy: &options.policy,
            })
            .collect();
        let mut analysed = analyze_many(&inputs).into_iter();
        let analyses: Vec<Option<ChainAnalysis>> =
            batch.iter().map(|o| o.tls().and_then(|_| analysed.next())).collect();
        lookup_revocations(&analyses, &input.revocation_sources, options.revocation_batch, &mut revocations);

        for (observation, analysis) in batch.iter().zip(&analyses) {
            let reference_name = &plan.reference_names[observation.target_index];
            for &binding_index in &bindings_of_target[observation.target_index] {
                let binding = &bindings[binding_index];
                let result =
                    observe(binding, observation, analysis.as_ref(), &known, &revocations, options.keep_analysis);
                let found: Vec<Finding> = observation_findings(binding, &result, analysis.as_ref(), reference_name)
                    .into_iter()
                    .map(|f| f.at_binding(binding_index).at_address(result.address.clone()))
                    .collect();
                observer.result(binding_index, binding, &result, &found);
                findings.extend(found);
                results[binding_index].push(result);
            }
        }
    };
    if !plan.targets.is_empty() {
        let (sender, receiver) = std::sync::mpsc::channel();
        let targets = plan.targets.clone();
        let probing = std::thread::spawn({
            let config = options.probe.clone();
            move || probe_blocking_each(config, targets, |observation| drop(sender.send(observation)))
        });
        // Batches: whatever has arrived, up to a bound, so results stream
        // while the analysis still runs on several cores.
        let mut observed = vec![false; plan.targets.len()];
        while let Ok(first) = receiver.recv() {
            let mut batch = vec![first];
            while batch.len() < ANALYSIS_BATCH {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            for observation in &batch {
                observed[observation.target_index] = true;
            }
            handle_batch(batch);
        }
        // Every target yields a result, even when the prober itself failed.
        let failure = match probing.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("cannot start the prober: {e}")),
            Err(_) => Some("the prober failed".to_owned()),
        };
        if let Some(why) = failure {
            let missing = plan.targets.iter().enumerate().filter(|(index, _)| !observed[*index]);
            handle_batch(missing.map(|(index, target)| failed_observation(index, target, &why)).collect());
        }
    }

    let by_names = CertificatesByNames::new(&known);
    let mut reports = Vec::with_capacity(bindings.len());
    for (binding_index, (binding, mut binding_results)) in bindings.iter().zip(results).enumerate() {
        binding_results.sort_by(|a, b| a.address.cmp(&b.address));
        findings.extend(
            binding_findings(binding, &binding_results, &by_names, now, &options.policy)
                .into_iter()
                .map(|f| f.at_binding(binding_index)),
        );
        reports.push(BindingReport {
            binding: binding.clone(),
            join: join_outcome.notes[binding_index].clone(),
            results: binding_results,
        });
    }
    for issue in &join_outcome.issues {
        findings
            .push(Finding::new(code::JOIN_AMBIGUOUS, Severity::Low, issue.message.clone()).at_binding(issue.binding));
    }
    for error in &input.source_errors {
        let scope = error.scope.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
        findings.push(
            Finding::new(code::SOURCE_FAILED, Severity::High, format!("{}{scope}: {}", error.plugin, error.message))
                .with_evidence(json!({ "plugin": error.plugin, "scope": error.scope })),
        );
    }
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.binding.cmp(&b.binding))
            .then(a.code.cmp(&b.code))
            .then(a.address.cmp(&b.address))
    });

    let summary = summarize(&reports, &findings, plan.targets.len(), input.source_errors.len());
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        generated_at: now,
        summary,
        bindings: reports,
        findings,
        source_errors: input.source_errors,
        source_stats: input.source_stats,
    }
}

/// Observations analysed together: enough to keep rayon's threads busy,
/// few enough that results stream.
const ANALYSIS_BATCH: usize = 256;

struct TargetPlan {
    targets: Vec<ProbeTarget>,
    /// The name each target is checked against (SNI, else the host).
    reference_names: Vec<String>,
    target_of_binding: Vec<Option<usize>>,
}

/// One probe target per distinct (host, port, SNI, addresses); bindings that
/// share an endpoint share its observations.
fn plan_targets(bindings: &[Binding], connect_to: &[ConnectTo]) -> TargetPlan {
    let mut plan = TargetPlan { targets: Vec::new(), reference_names: Vec::new(), target_of_binding: Vec::new() };
    let mut seen: HashMap<(String, u16, Option<String>, Vec<String>), usize> = HashMap::new();
    let routes: HashMap<(&str, u16), SocketAddr> =
        connect_to.iter().map(|c| ((c.host.as_str(), c.port), c.to)).collect();
    for binding in bindings {
        let Some(endpoint) = &binding.location.endpoint else {
            plan.target_of_binding.push(None);
            continue;
        };
        let host = endpoint.host.to_ascii_lowercase();
        let key = (host.clone(), endpoint.port, endpoint.sni.clone(), endpoint.addresses.clone());
        let index = *seen.entry(key).or_insert_with(|| {
            let sni = match &endpoint.sni {
                Some(name) => SniMode::Name(name.clone()),
                None => SniMode::None,
            };
            let mut target = ProbeTarget::new(endpoint.host.clone(), endpoint.port).with_sni(sni);
            let addresses: Vec<IpAddr> = endpoint.addresses.iter().filter_map(|a| a.parse().ok()).collect();
            if !addresses.is_empty() {
                target = target.with_resolve_override(addresses);
            }
            if let Some(to) = routes.get(&(host.as_str(), endpoint.port)) {
                target.port = to.port();
                target.resolve_override = Some(vec![to.ip()]);
            }
            plan.targets.push(target);
            plan.reference_names.push(endpoint.sni.clone().unwrap_or_else(|| endpoint.host.clone()));
            plan.targets.len() - 1
        });
        plan.target_of_binding.push(Some(index));
    }
    plan
}

fn failed_observation(index: usize, target: &ProbeTarget, message: &str) -> ProbeObservation {
    ProbeObservation {
        target_index: index,
        target: target.clone(),
        address: None,
        ip_family: None,
        sni: None,
        resolution: None,
        started_at_unix_ms: 0,
        timings: Default::default(),
        outcome: ProbeOutcome::Error(certinspect_probe::ProbeError {
            kind: ProbeErrorKind::Io,
            message: message.to_owned(),
        }),
        failed_attempts: Vec::new(),
    }
}

/// Ask every revocation-capable source about the served leaves' serials not
/// asked about yet. A revoked answer from any source wins over good/unknown.
fn lookup_revocations(
    analyses: &[Option<ChainAnalysis>],
    sources: &[Arc<OpenedSource>],
    batch: usize,
    statuses: &mut HashMap<String, RevocationStatus>,
) {
    if sources.is_empty() {
        return;
    }
    let mut serials: Vec<String> = analyses
        .iter()
        .flatten()
        .filter_map(|a| a.certificates.first().and_then(|c| c.facts()).map(|f| f.serial_hex.clone()))
        .filter(|serial| !statuses.contains_key(&normalize_serial(serial)))
        .collect();
    serials.sort();
    serials.dedup();
    for source in sources {
        for chunk in serials.chunks(batch.max(1)) {
            match source.lookup_revocation(chunk) {
                Ok(answers) => {
                    for mut answer in answers {
                        answer.source.get_or_insert_with(|| source.plugin().to_owned());
                        let key = normalize_serial(&answer.serial);
                        let replace = statuses.get(&key).is_none_or(|old| {
                            old.status != RevocationState::Revoked && answer.status != RevocationState::Unknown
                        });
                        if replace {
                            statuses.insert(key, answer);
                        }
                    }
                }
                Err(e) => tracing::warn!(plugin = source.plugin(), error = %e, "revocation lookup failed"),
            }
        }
    }
}

/// The result of one observation of one binding.
fn observe(
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
        timings: observation.timings,
    }
}

/// Findings about one observation.
fn observation_findings(
    binding: &Binding,
    result: &ObservationResult,
    analysis: Option<&ChainAnalysis>,
    reference_name: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let endpoint = endpoint_label(binding);
    if let Some(error) = &result.error {
        let (code, what) = match error.kind {
            ProbeErrorKind::NotTls => (code::NO_TLS, "does not speak TLS"),
            ProbeErrorKind::TlsAlert(_) | ProbeErrorKind::Tls | ProbeErrorKind::Closed | ProbeErrorKind::TooLarge => {
                (code::HANDSHAKE_FAILED, "TLS handshake failed")
            }
            _ => (code::UNREACHABLE, "unreachable"),
        };
        out.push(
            Finding::new(code, Severity::High, format!("{endpoint}: {what}: {}", error.message))
                .with_evidence(json!({ "error": error })),
        );
        return out;
    }
    let served = result.served.as_ref();
    let evidence = json!({ "served": served, "declared": declared_evidence(&binding.declared), "basis": result.basis });
    match result.verdict {
        Verdict::Foreign => out.push(
            Finding::new(
                code::SERVED_NOT_DECLARED,
                Severity::Critical,
                format!("{endpoint}: serves a certificate other than the declared one ({})", result.reason),
            )
            .with_evidence(evidence.clone()),
        ),
        Verdict::Stale => out.push(
            Finding::new(
                code::STALE_CERTIFICATE,
                Severity::Critical,
                format!("{endpoint}: still serves the certificate the declared one replaced ({})", result.reason),
            )
            .with_evidence(evidence.clone()),
        ),
        _ => {}
    }
    let Some(analysis) = analysis else { return out };
    if let Some(leaf) = &analysis.expiry.leaf {
        let (code, severity, what) = match leaf.state {
            ExpiryState::Expired => {
                (code::CERT_EXPIRED, Severity::Critical, format!("expired {} days ago", -leaf.days_remaining))
            }
            ExpiryState::NotYetValid => (code::CERT_NOT_YET_VALID, Severity::High, "is not valid yet".to_owned()),
            ExpiryState::Critical => {
                (code::CERT_EXPIRING, Severity::High, format!("expires in {} days", leaf.days_remaining))
            }
            ExpiryState::Warning => {
                (code::CERT_EXPIRING, Severity::Medium, format!("expires in {} days", leaf.days_remaining))
            }
            ExpiryState::Ok => ("", Severity::Info, String::new()),
        };
        if !code.is_empty() {
            out.push(
                Finding::new(code, severity, format!("{endpoint}: served certificate {what}"))
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
        if !is_leaf && !out.iter().any(|f| f.code == code::CHAIN_EXPIRING) {
            out.push(
                Finding::new(
                    code::CHAIN_EXPIRING,
                    severity,
                    format!("{endpoint}: chain certificate '{}' expires in {} days", fact.subject, fact.days_remaining),
                )
                .with_evidence(json!({ "expiry": fact })),
            );
        }
    }
    match &analysis.name_match {
        Some(NameMatch::NoMatch { reason }) => out.push(
            Finding::new(code::NAME_MISMATCH, Severity::High, format!("{endpoint}: served certificate is not valid for '{reference_name}'"))
                .with_evidence(json!({ "name": reference_name, "reason": reason, "served": served })),
        ),
        Some(NameMatch::MatchedLegacyCnOnly { common_name }) => out.push(
            Finding::new(code::NAME_LEGACY_CN_ONLY, Severity::Low, format!("{endpoint}: '{reference_name}' matches only the subject CN '{common_name}' (no SAN extension); modern clients reject this"))
                .with_evidence(json!({ "name": reference_name })),
        ),
        _ => {}
    }
    match &analysis.trust.verdict {
        TrustVerdict::Trusted | TrustVerdict::Expired | TrustVerdict::NotYetValid => {}
        TrustVerdict::Incomplete => out.push(
            Finding::new(
                code::CHAIN_INCOMPLETE,
                Severity::Medium,
                format!("{endpoint}: the served chain does not reach a trusted root (missing intermediate)"),
            )
            .with_evidence(json!({ "completeness": analysis.completeness })),
        ),
        other => out.push(
            Finding::new(
                code::UNTRUSTED,
                Severity::High,
                format!("{endpoint}: the served chain is not trusted ({})", trust_reason(other)),
            )
            .with_evidence(json!({ "trust": analysis.trust })),
        ),
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
                code::WEAK_KEY,
                Severity::Medium,
                format!("{endpoint}: certificate {} of the chain has a weak {what}", weakness.index),
            )
            .with_evidence(json!({ "weakness": weakness })),
        );
    }
    if let Some(revocation) = result.revocation.as_ref().filter(|r| r.status == RevocationState::Revoked) {
        out.push(
            Finding::new(
                code::REVOKED,
                Severity::Critical,
                format!("{endpoint}: serves a revoked certificate (serial {})", revocation.serial),
            )
            .with_evidence(json!({ "revocation": revocation })),
        );
    }
    if binding.declared.provider_status.as_deref() == Some("ok") {
        let problems: Vec<&str> = out
            .iter()
            .filter(|f| {
                matches!(
                    f.code.as_str(),
                    code::CERT_EXPIRED
                        | code::NAME_MISMATCH
                        | code::SERVED_NOT_DECLARED
                        | code::STALE_CERTIFICATE
                        | code::REVOKED
                )
            })
            .map(|f| f.code.as_str())
            .collect();
        if !problems.is_empty() {
            let message = format!("{endpoint}: the provider reports status 'ok', but: {}", problems.join(", "));
            out.push(
                Finding::new(code::PROVIDER_STATUS_DISAGREES, Severity::Medium, message)
                    .with_evidence(json!({ "provider_status": "ok", "observed": problems })),
            );
        }
    }
    out
}

/// Findings about a binding as a whole.
fn binding_findings(
    binding: &Binding,
    results: &[ObservationResult],
    by_names: &CertificatesByNames<'_>,
    now: i64,
    policy: &Policy,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let is_deployment = binding.location.endpoint.is_some() || binding.location.not_probeable.is_some();
    if !is_deployment {
        return out;
    }
    let label = endpoint_label(binding);
    if let Some(reason) = &binding.location.not_probeable {
        out.push(Finding::new(code::NOT_PROBEABLE, Severity::Info, format!("{label}: not probed: {reason}")));
    }
    // Without a successful handshake, the declaration is all there is to judge expiry by.
    let served_seen = results.iter().any(|r| r.served.is_some());
    if let (false, Some(not_after)) = (served_seen, binding.declared.not_after) {
        let days = (not_after - now).div_euclid(86_400);
        if not_after <= now {
            out.push(Finding::new(
                code::DECLARED_EXPIRED,
                Severity::High,
                format!("{label}: the declared certificate expired {} days ago", -days),
            ));
        } else if days < i64::from(policy.warn_days) {
            out.push(Finding::new(
                code::DECLARED_EXPIRING,
                Severity::Medium,
                format!("{label}: the declared certificate expires in {days} days"),
            ));
        }
    }
    if binding.declared.auto_managed == Tristate::Yes {
        if let Some(renewed) = by_names.newer_than(&binding.declared) {
            out.push(
                Finding::new(
                    code::AUTO_MANAGED_NOT_DEPLOYED,
                    Severity::High,
                    format!(
                        "{label}: auto-managed certificate was renewed ({}), but this deployment still uses {}",
                        renewed.name.as_deref().or(renewed.provider_id.as_deref()).unwrap_or("a newer certificate"),
                        binding
                            .declared
                            .name
                            .as_deref()
                            .or(binding.declared.provider_id.as_deref())
                            .unwrap_or("the old one"),
                    ),
                )
                .with_evidence(
                    json!({ "deployed": declared_evidence(&binding.declared), "renewed": declared_evidence(renewed) }),
                ),
            );
        }
    }
    out
}

/// Declared certificates grouped by the set of names they cover, so a
/// renewal (same names, later start) is found without comparing every
/// binding with every other.
struct CertificatesByNames<'a> {
    groups: HashMap<Vec<String>, Vec<&'a DeclaredCertificate>>,
}

impl<'a> CertificatesByNames<'a> {
    fn new(known: &[&'a DeclaredCertificate]) -> Self {
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
    fn newer_than(&self, declared: &DeclaredCertificate) -> Option<&'a DeclaredCertificate> {
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

fn trust_reason(verdict: &TrustVerdict) -> String {
    match verdict {
        TrustVerdict::UntrustedIssuer => "issued by an unknown CA".into(),
        TrustVerdict::SelfSigned => "self-signed".into(),
        TrustVerdict::Invalid(reason) => reason.clone(),
        other => format!("{other:?}"),
    }
}

fn endpoint_label(binding: &Binding) -> String {
    let location = &binding.location;
    let place = match &location.endpoint {
        Some(e) => match &e.sni {
            Some(sni) if sni != &e.host => format!("{}:{} (SNI {sni})", e.host, e.port),
            _ => format!("{}:{}", e.host, e.port),
        },
        None => location.resource_id.clone(),
    };
    if location.service.is_empty() || location.provider == "probe" {
        place
    } else {
        format!("{} {place}", location.service)
    }
}

fn declared_evidence(declared: &DeclaredCertificate) -> serde_json::Value {
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

fn summarize(reports: &[BindingReport], findings: &[Finding], endpoints: usize, source_errors: usize) -> Summary {
    let mut verdicts = BTreeMap::new();
    let mut summary = Summary { bindings: reports.len(), endpoints, source_errors, ..Summary::default() };
    for report in reports {
        let location = &report.binding.location;
        match (&location.endpoint, &location.not_probeable) {
            (Some(_), _) => summary.probed_bindings += 1,
            (None, Some(_)) => summary.not_probeable += 1,
            (None, None) => summary.inventory_only += 1,
        }
        for result in &report.results {
            summary.results += 1;
            *verdicts.entry(result.verdict.as_str().to_owned()).or_insert(0) += 1;
        }
    }
    summary.verdicts = verdicts;
    for finding in findings {
        *summary.findings.entry(finding.severity.as_str().to_owned()).or_insert(0) += 1;
    }
    summary
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
