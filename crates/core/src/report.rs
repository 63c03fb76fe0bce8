//! The report model: what a verification run found, versioned.
//!
//! The JSON form of [`Report`] is a public contract (documented in
//! `docs/REPORT.md`): fields are only ever added. Bump
//! [`REPORT_SCHEMA_VERSION`] on any change that could break a consumer.

use std::collections::{BTreeMap, HashMap};

use certinspect_analysis::ExpiryState;
/// The analysis types the report holds, so renderers need not depend on the analysis crate.
pub use certinspect_analysis::{ChainAnalysis, NameMatch, SubjectAltName};
use certinspect_probe::{CaptureMethod, ProbeError, Timings};
use certinspect_protocol::Binding;
use serde::{Deserialize, Serialize};

use crate::collect::{CollectError, SourceStats};
use crate::findings::{Finding, Severity};
use crate::join::JoinNote;
use crate::reconcile::{IdentityBasis, Verdict};
use crate::trust_store::TrustStoreInfo;
use crate::verify::{IssuerFetch, RevocationFact};

/// Version of the report's JSON schema.
pub const REPORT_SCHEMA_VERSION: u32 = 4;

/// The oldest schema version whose findings [`crate::diff`] compares with
/// today's: findings and their fingerprints did not change from 3 to 4.
pub const OLDEST_DIFFABLE_SCHEMA_VERSION: u32 = 3;

/// Everything a run found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// certinspect version that wrote it.
    pub tool_version: String,
    /// When the analysis clock read, UNIX seconds.
    pub generated_at: i64,
    /// The roots trust was verified against; absent in reports older than
    /// version 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_store: Option<TrustStoreInfo>,
    /// Totals; they add up to the lists below.
    pub summary: Summary,
    /// Every binding, with its results per address; none in a streamed
    /// run's report, whose observer had each (see [`Streamed`]).
    pub bindings: Vec<BindingReport>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// The full analysis of each distinct served chain, with
    /// [`Detail::Full`] (a result's `chain` is an index into it); empty
    /// otherwise. Each chain's `name_match` is `None`: the name is matched
    /// per result ([`ObservationResult::name_match`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chains: Vec<ChainAnalysis>,
    /// Sources (plugins, scopes) that could not be listed completely.
    #[serde(default)]
    pub source_errors: Vec<CollectError>,
    /// Per-source counts.
    #[serde(default)]
    pub source_stats: Vec<SourceStats>,
    /// The inventory the bindings were read from (`scan --from-inventory`),
    /// see [`crate::shard::inventory_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_id: Option<String>,
    /// Set on a shard's part report (`scan --shard`): which slice it is,
    /// for `inspect report merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardPart>,
    /// What the run gave its observer and did not keep (results and
    /// findings of a streamed run, `VerifyOptions::keep_results` off); not
    /// part of the JSON form, whose summary counts them.
    #[serde(skip)]
    pub streamed: Streamed,
}

/// How much of each served chain's analysis a report keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detail {
    /// The served leaf in brief ([`ServedSummary`]), the verdict, findings
    /// and revocation: what every output format shows.
    #[default]
    Summary,
    /// Also the full analysis of every distinct chain ([`Report::chains`])
    /// and each result's name match (`--detail full`).
    Full,
}

/// Results and findings a streamed run handed to its observer instead of
/// keeping them in the report: counts, and what the exit decision needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Streamed {
    /// Results streamed and not kept.
    pub results: usize,
    /// Findings streamed and not kept.
    pub findings: usize,
    /// The most severe of those findings that is not "could not check".
    pub worst_checked: Option<Severity>,
    /// Whether one of those results could not be checked ([`ObservationResult::unchecked`]).
    pub incomplete: bool,
}

impl ObservationResult {
    /// Whether this endpoint, or its served leaf's revocation, could not be checked.
    pub fn unchecked(&self) -> bool {
        matches!(self.verdict, Verdict::Unreachable | Verdict::NoTls)
            || self.revocation.as_ref().is_some_and(RevocationFact::unchecked)
    }
}

/// Which slice of an inventory a part report covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShardPart {
    /// The shard, from 0.
    pub index: u32,
    /// How many shards the inventory was split into.
    pub count: u32,
    /// Bindings in the whole inventory.
    pub inventory_bindings: usize,
    /// For each of this part's bindings, its index in the inventory.
    pub binding_indexes: Vec<usize>,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Bindings in the report.
    pub bindings: usize,
    /// Bindings with an endpoint that were probed.
    pub probed_bindings: usize,
    /// Deployments that could not be probed (wildcard domain, say).
    pub not_probeable: usize,
    /// Inventory records bound nowhere (declared certificates without a place).
    pub inventory_only: usize,
    /// Distinct endpoints probed (after de-duplication).
    pub endpoints: usize,
    /// Observations (binding x address).
    pub results: usize,
    /// Results per verdict.
    pub verdicts: BTreeMap<String, usize>,
    /// Findings per severity.
    pub findings: BTreeMap<String, usize>,
    /// Sources or scopes that failed.
    pub source_errors: usize,
}

/// One binding and what was observed for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BindingReport {
    /// The binding, after the cross-service join filled it in.
    pub binding: Binding,
    /// What the join did.
    #[serde(default)]
    pub join: JoinNoteReport,
    /// One result per address observed; empty when not probed.
    #[serde(default)]
    pub results: Vec<ObservationResult>,
}

/// [`JoinNote`] in the report.
pub type JoinNoteReport = JoinNote;

/// One observation of one binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationResult {
    /// Address connected to (`ip:port`), when one was.
    pub address: Option<String>,
    /// `v4` / `v6`.
    pub ip_family: Option<String>,
    /// Server name sent.
    pub sni: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The identity the verdict was decided on.
    pub basis: IdentityBasis,
    /// Why, in one line.
    pub reason: String,
    /// TLS version, cipher suite and ALPN, when the handshake completed.
    pub tls: Option<TlsSummary>,
    /// The served leaf, when one was received and parsed.
    pub served: Option<ServedSummary>,
    /// With [`Detail::Full`]: the full analysis of the served chain, as an
    /// index into [`Report::chains`] (shared by every result serving it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<usize>,
    /// With [`Detail::Full`]: how the served leaf matches the name asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_match: Option<NameMatch>,
    /// What is known about the served leaf's revocation, from every
    /// source (provider lookups, CRLs), merged; absent when no leaf was
    /// parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<RevocationFact>,
    /// The probe error, when the handshake did not complete.
    pub error: Option<ProbeError>,
    /// The server asked for a client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_request: Option<ClientCertificateRequested>,
    /// Issuer certificates fetched from AIA `caIssuers` URLs for this
    /// chain, and what came of each; absent when nothing was fetched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuer_fetches: Vec<IssuerFetch>,
    /// Timings per phase.
    pub timings: Timings,
}

/// The negotiated parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSummary {
    /// e.g. `TLSv1.3`.
    pub version: String,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// How the chain was read: a full, verified handshake, or the
    /// capture-only legacy handshake (TLS 1.0-1.2 servers current clients
    /// cannot talk to; nothing proves the server holds the key).
    #[serde(default)]
    pub capture: CaptureMethod,
    /// Why the full handshake failed, when the legacy capture read the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_handshake_error: Option<ProbeError>,
}

/// A server's request for a client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientCertificateRequested {
    /// The CAs the server accepts client certificates from, RFC 4514 (a
    /// name that does not parse is given as hex).
    pub acceptable_ca_names: Vec<String>,
    /// Whether the server refused to go on without one.
    pub required: bool,
}

/// The served leaf in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedSummary {
    /// Subject DN.
    pub subject: String,
    /// The subject's first common name.
    #[serde(default)]
    pub common_name: Option<String>,
    /// The subject alternative names, in certificate order.
    #[serde(default)]
    pub sans: Vec<SubjectAltName>,
    /// Issuer DN.
    pub issuer: String,
    /// Serial, lower-case hex.
    pub serial: String,
    /// SHA-256 fingerprint, lower-case hex.
    pub sha256: String,
    /// Validity end, UNIX seconds.
    pub not_after: i64,
    /// Days left (negative when expired).
    pub days_remaining: i64,
    /// Expiry state of the leaf.
    pub expiry: Option<ExpiryState>,
}

impl Report {
    /// Findings at or above `severity`.
    pub fn findings_at_least(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity <= severity)
    }

    /// Whether some source, scope, endpoint or served leaf's revocation
    /// could not be checked (streamed results included).
    pub fn incomplete(&self) -> bool {
        self.summary.source_errors > 0
            || self.streamed.incomplete
            || self.bindings.iter().flat_map(|b| &b.results).any(ObservationResult::unchecked)
    }
}

/// A served chain's identity: the SHA-256 of each certificate, in order.
fn chain_key(analysis: &ChainAnalysis) -> String {
    analysis.certificates.iter().map(|c| c.sha256_fingerprint()).collect::<Vec<_>>().join(":")
}

/// Numbers for distinct chains, in the order they are first seen.
#[derive(Debug, Default)]
pub(crate) struct ChainIds {
    ids: HashMap<String, usize>,
}

impl ChainIds {
    /// The number of `analysis`'s chain, and whether it is new.
    pub fn id_of(&mut self, analysis: &ChainAnalysis) -> (usize, bool) {
        let next = self.ids.len();
        let id = *self.ids.entry(chain_key(analysis)).or_insert(next);
        (id, id == next)
    }
}

/// Renumber `chains` in the order the results of `bindings` first refer to
/// them (bindings in order, each binding's results in order), one entry
/// per distinct chain, dropping those no result refers to; the results'
/// `chain` follow. A run and a merge of shard reports (whose chains are
/// concatenated) so number the same chains the same way.
pub(crate) fn number_chains(bindings: &mut [BindingReport], chains: Vec<ChainAnalysis>) -> Vec<ChainAnalysis> {
    if chains.is_empty() {
        return chains;
    }
    let mut ids = ChainIds::default();
    let mut renumbered = vec![None; chains.len()];
    let mut order = Vec::new();
    for result in bindings.iter_mut().flat_map(|b| &mut b.results) {
        let Some(old) = result.chain else { continue };
        let Some(analysis) = chains.get(old) else {
            result.chain = None;
            continue;
        };
        let new = *renumbered[old].get_or_insert_with(|| {
            let (id, first) = ids.id_of(analysis);
            if first {
                order.push(old);
            }
            id
        });
        result.chain = Some(new);
    }
    let mut chains: Vec<Option<ChainAnalysis>> = chains.into_iter().map(Some).collect();
    order.into_iter().filter_map(|old| chains[old].take()).collect()
}
