//! The verification engine: probe every endpoint the bindings name, analyse
//! the served chains in parallel, reconcile with the declarations, and
//! produce findings and a report.
//!
//! This module is the pipeline (a prober thread streaming observations, a
//! channel, analysis in batches with rayon); each step it drives has a
//! module of its own: [`plan`] (targets and routes), `result` (one
//! observation of one binding), `rules` (findings, pure), `revocation`
//! (provider and CRL answers merged into one fact per leaf), `summary` (totals).
//!
//! Embedding programs call [`verify`] with bindings (from providers, or
//! bare endpoints built with [`bare_endpoint`]) and get a [`Report`]; most
//! call [`crate::scan`] instead, which also opens and lists the sources.

mod chains;
mod plan;
mod result;
mod revocation;
mod rules;
mod summary;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use certinspect_analysis::{ChainAnalysis, LegacyCn, Policy, TrustStore};
use certinspect_probe::{probe_blocking_each, ProbeConfig, ProbeError, ProbeErrorKind, ProbeObservation, ProbeTarget};
use certinspect_protocol::{Binding, DeclaredCertificate, Endpoint, Location, RevocationStatus};
use serde_json::json;

use crate::collect::{CollectError, SourceStats};
use crate::fetch::{FetchOptions, Fetcher};
use crate::findings::{Finding, FindingCode};
use crate::join::join;
use crate::plugins::OpenedSource;
use crate::report::{BindingReport, ObservationResult, Report, REPORT_SCHEMA_VERSION};

pub use chains::IssuerFetch;
pub use plan::ConnectTo;
pub use revocation::{RevocationAnswer, RevocationFact, RevocationVerdict, UnknownCause};
pub use rules::place_of;

use chains::{analyse_chains, Analysed, AnalysisSettings, ChainToAnalyse};
use plan::plan_targets;
use result::{observe, Revocations};
use revocation::{lookup_revocations, RevocationLists};
use rules::{binding_findings, observation_findings, CertificatesByNames};
use summary::summarize;

/// Settings of a verification run.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// Whether a name found only in a certificate's legacy subject CN
    /// counts (`[verify] legacy_cn = "accept"`, for old private PKIs).
    pub legacy_cn: LegacyCn,
    /// Fetching issuers named by AIA URLs (`--no-fetch` turns it off).
    pub fetch: FetchOptions,
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
            legacy_cn: LegacyCn::default(),
            fetch: FetchOptions::default(),
        }
    }
}

/// What to verify.
#[derive(Debug, Default)]
#[non_exhaustive]
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

impl VerifyInput {
    /// Verify `bindings`, with nothing else known.
    pub fn bindings(bindings: Vec<Binding>) -> Self {
        Self { bindings, ..Self::default() }
    }

    /// Report `errors` (sources that could not be listed) as findings.
    pub fn with_source_errors(mut self, errors: Vec<CollectError>) -> Self {
        self.source_errors = errors;
        self
    }

    /// Ask `sources` (offering `revocation-lookup`) about the served leaves.
    pub fn with_revocation_sources(mut self, sources: Vec<Arc<OpenedSource>>) -> Self {
        self.revocation_sources = sources;
        self
    }
}

/// A binding for a bare endpoint (no provider, nothing declared): `inspect probe`.
pub fn bare_endpoint(host: &str, port: u16, sni: Option<String>) -> Binding {
    let mut endpoint = Endpoint::new(host, port);
    endpoint.sni = sni;
    let mut location = Location::new("endpoint", format!("{host}:{port}")).with_endpoint(endpoint);
    location.plugin = "probe".into();
    Binding::new(location, DeclaredCertificate::default())
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
    let bindings_of_target = plan.bindings_of_targets();

    let known: Vec<&DeclaredCertificate> = bindings.iter().map(|b| &b.declared).collect();
    let mut results: Vec<Vec<ObservationResult>> = vec![Vec::new(); bindings.len()];
    let mut findings = Vec::new();
    let mut revocations: HashMap<String, RevocationStatus> = HashMap::new();
    let fetcher = Fetcher::new(options.fetch.clone());
    let mut revocation_lists = RevocationLists::default();
    let settings =
        AnalysisSettings { trust: &options.trust, now, policy: &options.policy, legacy_cn: options.legacy_cn };
    let mut handle_batch = |batch: Vec<ProbeObservation>| {
        // Analyse the batch's chains in parallel (pure, rayon), fetching
        // missing issuers where the analysis asks for them.
        // Every chain the server sent is analysed, whether or not the
        // handshake then completed.
        let chains: Vec<Vec<Vec<u8>>> =
            batch.iter().map(|o| o.served_chain().iter().map(|c| c.0.clone()).collect()).collect();
        let to_analyse: Vec<ChainToAnalyse<'_>> = batch
            .iter()
            .zip(&chains)
            .filter(|(_, chain)| !chain.is_empty())
            .map(|(o, chain)| ChainToAnalyse { chain, host: plan.reference_names[o.target_index].as_str() })
            .collect();
        let mut analysed = analyse_chains(&to_analyse, &settings, &fetcher).into_iter();
        let analysed: Vec<Option<Analysed>> =
            batch.iter().map(|o| (!o.served_chain().is_empty()).then(|| analysed.next()).flatten()).collect();
        let (analyses, issuer_fetches): (Vec<Option<ChainAnalysis>>, Vec<Vec<IssuerFetch>>) = analysed
            .iter()
            .map(|a| a.as_ref().map_or((None, Vec::new()), |a| (Some(a.analysis.clone()), a.fetches.clone())))
            .unzip();
        lookup_revocations(&analyses, &input.revocation_sources, options.revocation_batch, &mut revocations);
        // The network's answers about each served leaf (CRLs, each once per
        // run; the stapled OCSP response).
        let network: Vec<Vec<RevocationAnswer>> = analysed
            .iter()
            .zip(&chains)
            .zip(&batch)
            .map(|((analysed, chain), observation)| {
                let Some((analysed, facts)) =
                    analysed.as_ref().and_then(|a| Some((a, a.analysis.certificates.first()?.facts()?)))
                else {
                    return Vec::new();
                };
                let issuers: Vec<&[u8]> = chain[1..].iter().chain(&analysed.fetched).map(Vec::as_slice).collect();
                let staple = observation.tls().and_then(|tls| tls.stapled_ocsp.as_ref()).map(|s| s.0.as_slice());
                revocation_lists.answers(&chain[0], facts, &issuers, staple, &fetcher, now)
            })
            .collect();

        for (((observation, analysis), fetches), network) in
            batch.iter().zip(&analyses).zip(&issuer_fetches).zip(&network)
        {
            let reference_name = &plan.reference_names[observation.target_index];
            for &binding_index in &bindings_of_target[observation.target_index] {
                let binding = &bindings[binding_index];
                let revocation = Revocations { provider: &revocations, network };
                let mut result =
                    observe(binding, observation, analysis.as_ref(), &known, &revocation, options.keep_analysis);
                result.issuer_fetches = fetches.clone();
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
        let place = place_of(&bindings[issue.binding]);
        findings.push(
            Finding::new(FindingCode::JoinAmbiguous, issue.message.clone()).at_binding(issue.binding).at_place(place),
        );
    }
    for error in &input.source_errors {
        let scope = error.scope.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
        findings.push(
            Finding::new(FindingCode::SourceFailed, error.message.clone())
                .at_place(format!("{}{scope}", error.plugin))
                .with_evidence(json!({ "plugin": error.plugin, "scope": error.scope })),
        );
    }
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.binding.cmp(&b.binding))
            .then(a.code.as_str().cmp(b.code.as_str()))
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

fn failed_observation(index: usize, target: &ProbeTarget, message: &str) -> ProbeObservation {
    ProbeObservation::unreached(index, target.clone(), ProbeError::new(ProbeErrorKind::Io, message))
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
