//! The verification engine: probe every endpoint the bindings name, analyse
//! the served chains in parallel, reconcile with the declarations, and
//! produce findings and a report.
//!
//! This module is the pipeline (the prober's runtime probing while this
//! thread analyses the observations in batches, with rayon, as they
//! arrive); each step it drives has a
//! module of its own: [`plan`] (targets and routes), `result` (one
//! observation of one binding), `rules` (findings, pure), `revocation`
//! (provider and CRL answers merged into one fact per leaf), `summary` (totals).
//!
//! Embedding programs call [`verify`] with bindings (from providers, or
//! bare endpoints built with [`bare_endpoint`]) and get a [`Report`]; most
//! call [`crate::scan`] instead, which also opens and lists the sources.

mod chains;
mod held;
mod plan;
mod result;
mod revocation;
mod rules;
pub(crate) mod summary;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use certinspect_analysis::{ChainAnalysis, LegacyCn, Policy, TrustStore};
use certinspect_probe::{
    probe_blocking_batches, CertDer, ProbeConfig, ProbeError, ProbeErrorKind, ProbeObservation, ProbeTarget,
};
use certinspect_protocol::{Binding, DeclaredCertificate, Endpoint, Location, RevocationStatus};
use serde_json::json;

use crate::collect::{CollectError, SourceStats};
use crate::fetch::{FetchOptions, Fetcher};
use crate::findings::{Finding, FindingCode, Severity};
use crate::join::{join, JoinOutcome};
use crate::plugins::OpenedSource;
use crate::report::{
    number_chains, BindingReport, ChainIds, Detail, JoinNoteReport, ObservationResult, Report, ShardPart, Streamed,
    REPORT_SCHEMA_VERSION,
};
use crate::shard::Shard;
use crate::trust_store::{TrustBase, TrustStoreInfo};

pub use chains::IssuerFetch;
pub use held::BareEndpoint;
pub use plan::ConnectTo;
pub use revocation::{RevocationAnswer, RevocationFact, RevocationVerdict, UnknownCause};
pub use rules::{place_of, BINDING_FINDING_CODES};

use chains::{AnalysisSettings, ChainCache};
use held::HeldBindings;
use plan::plan_targets;
use result::{observe, Revocations};
use revocation::{lookup_revocations, RevocationLists};
use rules::{binding_findings, observation_findings, CertificatesByNames};
use summary::Tally;

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
    /// What [`trust`](Self::trust) holds, in words, for the report's
    /// `trust_store` header; set it with `trust` (both come from
    /// [`crate::trust_store::load_trust_store`]).
    pub trust_store: TrustStoreInfo,
    /// Connection overrides.
    pub connect_to: Vec<ConnectTo>,
    /// The analysis clock (UNIX seconds); `None` reads the system clock.
    pub now_unix: Option<i64>,
    /// Serials per revocation lookup call.
    pub revocation_batch: usize,
    /// How much of each chain's analysis the report keeps: the served
    /// leaf in brief, or also the full analysis of each distinct chain
    /// (`--detail full`, [`Report::chains`]).
    pub detail: Detail,
    /// Keep every binding, result and finding in the report. Off, results
    /// and their findings go only to the observer as they are made, and
    /// bindings that were not probed at the end
    /// ([`VerifyObserver::not_probed`]); the report keeps no bindings, the
    /// other findings and the totals, so memory is bounded by the
    /// concurrency, not by the results ([`Report::streamed`] says what was
    /// left out).
    pub keep_results: bool,
    /// Whether a name found only in a certificate's legacy subject CN
    /// counts (`[verify] legacy_cn = "accept"`, for old private PKIs).
    pub legacy_cn: LegacyCn,
    /// Fetching issuers named by AIA URLs (`--no-fetch` turns it off).
    pub fetch: FetchOptions,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        let trust = TrustStore::mozilla();
        Self {
            probe: ProbeConfig::default(),
            policy: Policy::default(),
            trust_store: TrustStoreInfo::describe(TrustBase::Mozilla, &trust),
            trust: Arc::new(trust),
            connect_to: Vec::new(),
            now_unix: None,
            revocation_batch: 50,
            detail: Detail::Summary,
            keep_results: true,
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
    /// Bare endpoints (nothing declared), held small while the run goes
    /// on; numbered after `bindings`.
    pub endpoints: Vec<BareEndpoint>,
    /// Sources offering `revocation-lookup`.
    pub revocation_sources: Vec<Arc<OpenedSource>>,
    /// Failures while collecting the bindings; they become findings.
    pub source_errors: Vec<CollectError>,
    /// Warnings the sources gave on their pages; they become findings.
    pub source_warnings: Vec<CollectError>,
    /// Collection counts, carried into the report.
    pub source_stats: Vec<SourceStats>,
    /// The inventory the bindings come from, carried into the report.
    pub inventory_id: Option<String>,
    /// Verify only this shard's slice of the bindings (the others still
    /// count as known declarations, so verdicts equal a whole run's).
    pub shard: Option<Shard>,
}

impl VerifyInput {
    /// Verify `bindings`, with nothing else known.
    pub fn bindings(bindings: Vec<Binding>) -> Self {
        Self { bindings, ..Self::default() }
    }

    /// Probe bare `endpoints` (`inspect probe`), with nothing declared.
    pub fn endpoints(endpoints: Vec<BareEndpoint>) -> Self {
        Self { endpoints, ..Self::default() }
    }

    /// Report `errors` (sources that could not be listed) as findings.
    pub fn with_source_errors(mut self, errors: Vec<CollectError>) -> Self {
        self.source_errors = errors;
        self
    }

    /// Report `warnings` (from the sources' pages) as findings.
    pub fn with_source_warnings(mut self, warnings: Vec<CollectError>) -> Self {
        self.source_warnings = warnings;
        self
    }

    /// Bindings from the inventory `id`, whose `source_errors`,
    /// `source_warnings` and `source_stats` are reported (by shard 0 only
    /// when sharded).
    pub fn from_inventory(inventory: crate::bindings_file::InventoryFile, shard: Option<Shard>) -> Self {
        Self {
            bindings: inventory.bindings,
            source_errors: inventory.source_errors,
            source_warnings: inventory.source_warnings,
            source_stats: inventory.source_stats,
            inventory_id: Some(inventory.id),
            shard,
            ..Self::default()
        }
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
    /// The full analysis of a served chain, numbered `index`, before the
    /// first result that refers to it ([`Detail::Full`] only; each chain once).
    fn chain(&mut self, index: usize, analysis: &ChainAnalysis) {
        let _ = (index, analysis);
    }
    /// A binding that was not probed (no endpoint, or a wildcard), once, at
    /// the end: only in a run that keeps no results, whose report then keeps
    /// no bindings ([`VerifyOptions::keep_results`]).
    fn not_probed(&mut self, index: usize, binding: &Binding) {
        let _ = (index, binding);
    }
    /// One result of the binding at `index` (as joined) and the findings about it.
    fn result(&mut self, index: usize, binding: &Binding, result: &ObservationResult, findings: &[Finding]) {
        let _ = (index, binding, result, findings);
    }
    /// The findings about the binding at `index` as a whole (codes of
    /// [`BINDING_FINDING_CODES`]), once, at the end, after all its results
    /// and before [`not_probed`](Self::not_probed) of the same binding; only
    /// for a binding that has some. The report holds them too.
    fn binding_findings(&mut self, index: usize, binding: &Binding, findings: &[Finding]) {
        let _ = (index, binding, findings);
    }
    /// The binding at `index` as the report lists it (joined) and what the
    /// join did for it ([`BindingReport::join`]): once per binding, at the
    /// end, in binding order, after all its results and its
    /// [`binding_findings`](Self::binding_findings), before
    /// [`not_probed`](Self::not_probed). A streamed run's report keeps no
    /// join notes, so a writer of the whole report's shape needs this.
    fn binding_done(&mut self, index: usize, binding: &Binding, join: &JoinNoteReport) {
        let _ = (index, binding, join);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;

impl VerifyObserver for NoObserver {}

/// Verify `input` and build the report.
///
/// Blocking: it runs the prober's own runtime, so call it from a thread
/// that is not inside a Tokio runtime (`spawn_blocking` from async code).
pub fn verify(input: VerifyInput, options: &VerifyOptions) -> Report {
    verify_observed(input, options, &mut NoObserver)
}

/// [`verify`], telling `observer` about each result as it is made (on the
/// calling thread).
pub fn verify_observed(input: VerifyInput, options: &VerifyOptions, observer: &mut dyn VerifyObserver) -> Report {
    let now = options.now_unix.unwrap_or_else(unix_now);
    let mut input = input;
    let mut all_bindings = std::mem::take(&mut input.bindings);
    let bare = std::mem::take(&mut input.endpoints);
    if !bare.is_empty() && (!all_bindings.is_empty() || input.shard.is_some()) {
        all_bindings.extend(bare.iter().map(BareEndpoint::binding));
    }
    if input.shard.is_some_and(|shard| shard.index != 0) {
        // Source errors belong to the inventory, reported once: by shard 0.
        input.source_errors.clear();
        input.source_warnings.clear();
        input.source_stats.clear();
    }
    // Bare endpoints alone are held small: nothing to join, nothing declared.
    let (bindings, all_bindings, join_outcome, shard_part) = if all_bindings.is_empty() {
        (HeldBindings::Bare(bare), Vec::new(), JoinOutcome::default(), None)
    } else {
        let mut join_outcome = join(&mut all_bindings);
        match input.shard {
            // A whole run moves its bindings.
            None => (HeldBindings::Full(all_bindings), Vec::new(), join_outcome, None),
            // A shard verifies a copy of its slice; every declaration stays
            // known, so STALE and renewal findings read the same as in a whole run.
            Some(shard) => {
                let selected: Vec<usize> =
                    (0..all_bindings.len()).filter(|&i| shard.selects(&all_bindings[i])).collect();
                let local_of: HashMap<usize, usize> =
                    selected.iter().enumerate().map(|(local, &i)| (i, local)).collect();
                join_outcome.notes = selected.iter().map(|&i| join_outcome.notes[i].clone()).collect();
                join_outcome.issues.retain_mut(|issue| match local_of.get(&issue.binding) {
                    Some(&local) => {
                        issue.binding = local;
                        true
                    }
                    None => false,
                });
                let slice = selected.iter().map(|&i| all_bindings[i].clone()).collect();
                let part = ShardPart {
                    index: shard.index,
                    count: shard.count,
                    inventory_bindings: all_bindings.len(),
                    binding_indexes: selected,
                };
                (HeldBindings::Full(slice), all_bindings, join_outcome, Some(part))
            }
        }
    };

    // Probe each distinct endpoint once.
    let plan = plan_targets(bindings.endpoints(), &options.connect_to);
    observer.planned(bindings.len(), plan.targets.len());
    let bindings_of_target = plan.bindings_of_targets();

    let known: Vec<&DeclaredCertificate> =
        if input.shard.is_some() { held::declared(&all_bindings) } else { bindings.declared() };
    // Kept per binding only when the report keeps results; streamed runs
    // keep one bit per binding (whether a leaf was served).
    let mut results: Vec<Vec<ObservationResult>> =
        if options.keep_results { (0..bindings.len()).map(|_| Vec::new()).collect() } else { Vec::new() };
    let mut served_seen = vec![false; bindings.len()];
    let mut findings = Vec::new();
    let mut tally = Tally::default();
    let mut streamed = Streamed::default();
    let mut revocations: HashMap<String, RevocationStatus> = HashMap::new();
    let fetcher = Fetcher::new(options.fetch.clone());
    let mut revocation_lists = RevocationLists::default();
    let mut cache = ChainCache::default();
    // With full detail, each distinct chain's analysis once, numbered as it
    // first appears (kept only when results are).
    let full = options.detail == Detail::Full;
    let mut chain_ids = ChainIds::default();
    let mut kept_chains: Vec<ChainAnalysis> = Vec::new();
    let settings =
        AnalysisSettings { trust: &options.trust, now, policy: &options.policy, legacy_cn: options.legacy_cn };
    let mut handle_batch = |batch: Vec<ProbeObservation>| {
        // Analyse the batch's chains in parallel (pure, rayon), each
        // distinct chain once per run, fetching missing issuers where the
        // analysis asks for them. Every chain the server sent is analysed,
        // whether or not the handshake then completed.
        let chains: Vec<&[CertDer]> = batch.iter().map(ProbeObservation::served_chain).collect();
        let analysed = cache.analyse(&chains, &settings, &fetcher);
        let analyses: Vec<&ChainAnalysis> = analysed.iter().flatten().map(|a| &a.analysis).collect();
        lookup_revocations(&analyses, &input.revocation_sources, options.revocation_batch, &mut revocations);
        // The network's answers about each served leaf (CRLs, each once per
        // run; OCSP, once per issuer and serial per run; the stapled response).
        let network: Vec<Vec<RevocationAnswer>> = analysed
            .iter()
            .zip(&batch)
            .map(|(analysed, observation)| {
                let Some((analysed, facts)) =
                    analysed.as_ref().and_then(|a| Some((a, a.analysis.certificates.first()?.facts()?)))
                else {
                    return Vec::new();
                };
                let chain = &analysed.chain;
                let issuers: Vec<&[u8]> = chain[1..]
                    .iter()
                    .map(CertDer::as_bytes)
                    .chain(analysed.fetched.iter().map(Vec::as_slice))
                    .collect();
                let staple = observation.tls().and_then(|tls| tls.stapled_ocsp.as_ref()).map(CertDer::as_bytes);
                revocation_lists.answers(chain[0].as_bytes(), facts, &issuers, staple, &fetcher, now)
            })
            .collect();

        for ((observation, chain), network) in batch.iter().zip(&analysed).zip(&network) {
            let reference_name = &plan.reference_names[observation.target_index];
            let analysis = chain.as_ref().map(|c| &c.analysis);
            let name_match = chain.as_ref().map(|c| c.name_match(reference_name, options.legacy_cn));
            let chain_id = analysis.filter(|_| full).map(|analysis| {
                let (id, first) = chain_ids.id_of(analysis);
                if first {
                    observer.chain(id, analysis);
                    if options.keep_results {
                        kept_chains.push(analysis.clone());
                    }
                }
                id
            });
            for &binding_index in &bindings_of_target[observation.target_index] {
                let binding = bindings.get(binding_index);
                let binding = binding.as_ref();
                let revocation = Revocations { provider: &revocations, network };
                let mut result = observe(binding, observation, analysis, &known, &revocation);
                if let Some(chain) = chain {
                    result.issuer_fetches.clone_from(&chain.fetches);
                }
                if full {
                    result.chain = chain_id;
                    result.name_match.clone_from(&name_match);
                }
                let found: Vec<Finding> =
                    observation_findings(binding, &result, analysis, name_match.as_ref(), reference_name)
                        .into_iter()
                        .map(|f| f.at_binding(binding_index).at_address(result.address.clone()))
                        .collect();
                observer.result(binding_index, binding, &result, &found);
                served_seen[binding_index] |= result.served.is_some();
                tally.result(&result);
                tally.findings(&found);
                if options.keep_results {
                    findings.extend(found);
                    let kept = &mut results[binding_index];
                    // Most bindings have one result: a first push would
                    // make room for four, several KiB per binding.
                    kept.reserve_exact(1);
                    kept.push(result);
                } else {
                    streamed.results += 1;
                    streamed.incomplete |= result.unchecked();
                    streamed.findings += found.len();
                    let worst = found.iter().filter(|f| !f.is_unchecked()).map(|f| f.severity).min();
                    streamed.worst_checked = streamed.worst_checked.into_iter().chain(worst).min();
                }
            }
        }
    };
    if !plan.targets.is_empty() {
        // The analysis runs on this thread, on batches of whatever
        // observations have arrived (up to a bound), while the prober's
        // runtime goes on probing: results stream, and the analysis still
        // runs on several cores.
        let mut observed = vec![false; plan.targets.len()];
        let probed = probe_blocking_batches(options.probe.clone(), plan.targets.clone(), ANALYSIS_BATCH, |batch| {
            for observation in &batch {
                observed[observation.target_index] = true;
            }
            handle_batch(batch);
        });
        // Every target yields a result, even when the prober itself failed.
        if let Err(e) = probed {
            let why = format!("cannot start the prober: {e}");
            let missing = plan.targets.iter().enumerate().filter(|(index, _)| !observed[*index]);
            handle_batch(missing.map(|(index, target)| failed_observation(index, target, &why)).collect());
        }
    }
    tracing::debug!(chains = cache.analysed(), endpoints = plan.targets.len(), "distinct chains analysed");

    // Findings of results were counted as they were made; these are the rest.
    let counted = findings.len();
    let by_names = CertificatesByNames::new(&known);
    let mut join_issues: HashMap<usize, Vec<&str>> = HashMap::new();
    for issue in &join_outcome.issues {
        join_issues.entry(issue.binding).or_default().push(&issue.message);
    }
    // Bare endpoints (nothing joined) have no notes.
    let no_note = JoinNoteReport::default();
    for (binding_index, &served) in served_seen.iter().enumerate() {
        let binding = bindings.get(binding_index);
        tally.binding(&binding.location);
        let mut found = binding_findings(&binding, served, &by_names, now, &options.policy);
        if let Some(messages) = join_issues.get(&binding_index) {
            let place = place_of(&binding);
            found.extend(messages.iter().map(|m| Finding::new(FindingCode::JoinAmbiguous, *m).at_place(place.clone())));
        }
        let found: Vec<Finding> = found.into_iter().map(|f| f.at_binding(binding_index)).collect();
        if !found.is_empty() {
            observer.binding_findings(binding_index, &binding, &found);
        }
        observer.binding_done(binding_index, &binding, join_outcome.notes.get(binding_index).unwrap_or(&no_note));
        if !options.keep_results && plan.target_of_binding[binding_index].is_none() {
            // Nothing was streamed for it: the observer hears of it now.
            observer.not_probed(binding_index, &binding);
        }
        findings.extend(found);
    }
    // The bindings move into the report, each with its results; a streamed
    // run's observer had every binding, and its report keeps none.
    drop(by_names);
    drop(known);
    let mut reports: Vec<BindingReport> = if options.keep_results {
        let mut notes = join_outcome.notes.into_iter();
        bindings
            .into_bindings()
            .zip(results)
            .map(|(binding, mut results)| {
                results.sort_by(|a, b| a.address.cmp(&b.address));
                BindingReport { binding, join: notes.next().unwrap_or_default(), results }
            })
            .collect()
    } else {
        Vec::new()
    };
    let sources = input.source_errors.iter().map(|e| (FindingCode::SourceFailed, e));
    for (code, error) in sources.chain(input.source_warnings.iter().map(|w| (FindingCode::SourceWarning, w))) {
        let scope = error.scope.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
        findings.push(
            Finding::new(code, error.message.clone())
                .at_place(format!("{}{scope}", error.plugin))
                .with_evidence(json!({ "plugin": error.plugin, "scope": error.scope })),
        );
    }
    tally.findings(&findings[counted..]);
    sort_findings(&mut findings);

    let summary = tally.summarize(plan.targets.len(), input.source_errors.len());
    // Numbered by first appearance in the report, not in time, so the
    // report never depends on timing.
    let chains = number_chains(&mut reports, kept_chains);
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        generated_at: now,
        trust_store: Some(options.trust_store.clone()),
        summary,
        bindings: reports,
        findings,
        chains,
        source_errors: input.source_errors,
        source_stats: input.source_stats,
        streamed,
        inventory_id: input.inventory_id,
        shard: shard_part,
    }
}

/// The report's order of findings: most severe first, then by binding,
/// code, address and message, so the order never depends on timing (and a
/// merge of shard reports orders them as one run does).
pub(crate) fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(report_order);
}

/// The order of findings in a report (see [`sort_findings`]), for a
/// renderer that lists some of them together (a CSV row) as the report would.
pub fn report_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    report_order_key(a).cmp(&report_order_key(b))
}

/// What [`report_order`] compares, in order: severity, binding, code (by
/// wire name), address, place, message; for a writer that keeps findings
/// in its own compact form and must order them as the report does.
pub type ReportOrderKey<'f> = (Severity, Option<usize>, &'f str, Option<&'f str>, Option<&'f str>, &'f str);

/// The [`ReportOrderKey`] of `finding`.
pub fn report_order_key(finding: &Finding) -> ReportOrderKey<'_> {
    (
        finding.severity,
        finding.binding,
        finding.code.as_str(),
        finding.address.as_deref(),
        finding.place.as_deref(),
        &finding.message,
    )
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
