//! Analysing a batch of served chains, completing them through the
//! Authority Information Access `caIssuers` URL when the issuer is unknown.
//!
//! The analysis itself is pure and parallel (rayon, `certinspect-analysis`);
//! this module adds the one piece of I/O it asks for: when a chain's top
//! certificate names an issuer nobody sent, fetch what its AIA URL serves
//! (through [`Fetcher`]: bounded, cached per URL per run, off with
//! `--no-fetch`) and analyse again with it. A fetched intermediate that
//! completes a path to a trusted root turns "unknown issuer" into
//! "incomplete"; anything else leaves the chain untrusted, and the fetch's
//! outcome is kept for the report.
//!
//! [`ChainCache`] makes each distinct chain cost one analysis per run:
//! fleets serve one certificate on many addresses, listeners and domains,
//! so the chain part of the analysis (parsing, trust, expiry, weaknesses)
//! is kept by chain and only the name match, which depends on the name
//! asked for, is made per observation.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use certinspect_analysis::{
    analyze_many, certificates_from_ca_issuers, match_name_with, AnalysisInput, ChainAnalysis, LegacyCn, NameMatch,
    NoMatchReason, Policy, TrustStore,
};
use certinspect_probe::CertDer;
use serde::{Deserialize, Serialize};

use crate::fetch::Fetcher;

/// Fetch rounds per chain: an intermediate fetched may itself name an
/// issuer to fetch (cross-signed roots); three covers real hierarchies.
const MAX_FETCH_ROUNDS: usize = 3;

/// One AIA fetch made for a chain, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IssuerFetch {
    /// The `caIssuers` URL.
    pub url: String,
    /// Certificates read from the answer.
    pub certificates: usize,
    /// Why nothing usable came back, when nothing did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A served chain to analyse.
pub(crate) struct ChainToAnalyse<'a> {
    pub chain: &'a [CertDer],
    /// The name to match the leaf against; `None` leaves the name to the caller.
    pub host: Option<&'a str>,
}

/// One distinct chain, analysed without a name, and the AIA fetches made for it.
#[derive(Debug)]
pub(crate) struct AnalysedChain {
    /// The chain as served (the cache key, compared in full): the probe's
    /// bytes, shared, not a copy.
    pub chain: Vec<CertDer>,
    /// Its analysis; `name_match` is `None` (see [`AnalysedChain::name_match`]).
    pub analysis: ChainAnalysis,
    /// Issuers fetched to complete it.
    pub fetches: Vec<IssuerFetch>,
    /// The certificates those fetches brought (DER).
    pub fetched: Vec<Vec<u8>>,
}

impl AnalysedChain {
    /// How the leaf matches `name` (the part of the analysis that depends on the name asked for).
    pub fn name_match(&self, name: &str, legacy_cn: LegacyCn) -> NameMatch {
        match self.analysis.certificates.first().and_then(|c| c.facts()) {
            Some(facts) => match_name_with(facts, name, legacy_cn),
            None => NameMatch::NoMatch { reason: NoMatchReason::LeafUnparsable },
        }
    }
}

/// Distinct chains analysed so far in a run, so that a chain served by many
/// endpoints is analysed once. Bounded: past [`ChainCache::CAPACITY`]
/// distinct chains the oldest is forgotten (and analysed again if it comes
/// back), so memory stays flat however many endpoints a run has.
#[derive(Debug, Default)]
pub(crate) struct ChainCache {
    /// By a hash of the chain; entries with equal hashes are told apart by the chain itself.
    chains: HashMap<u64, Vec<Arc<AnalysedChain>>>,
    /// Hashes in insertion order, for forgetting the oldest.
    order: VecDeque<u64>,
    /// Analyses made (cache misses), for tests and benchmarks.
    analysed: usize,
}

impl ChainCache {
    /// Distinct chains kept: far more than a batch, far less memory than a
    /// fleet's worth of analyses (a few KiB each).
    pub const CAPACITY: usize = 1024;

    /// Chains analysed so far (each distinct chain counts once while it stays cached).
    pub fn analysed(&self) -> usize {
        self.analysed
    }

    /// The analysis of each chain in `chains` (`None` for an empty one),
    /// analysing only those not seen before, in parallel.
    pub fn analyse(
        &mut self,
        chains: &[&[CertDer]],
        settings: &AnalysisSettings<'_>,
        fetcher: &Fetcher,
    ) -> Vec<Option<Arc<AnalysedChain>>> {
        let hashes: Vec<u64> = chains.iter().map(|chain| chain_hash(chain)).collect();
        // The distinct chains not cached yet, each once.
        let mut missing: Vec<(u64, &[CertDer])> = Vec::new();
        for (chain, &hash) in chains.iter().zip(&hashes) {
            if chain.is_empty()
                || self.get(hash, chain).is_some()
                || missing.iter().any(|(h, c)| *h == hash && c == chain)
            {
                continue;
            }
            missing.push((hash, *chain));
        }
        if !missing.is_empty() {
            let to_analyse: Vec<ChainToAnalyse<'_>> =
                missing.iter().map(|(_, chain)| ChainToAnalyse { chain, host: None }).collect();
            let analysed = analyse_chains(&to_analyse, settings, fetcher);
            self.analysed += analysed.len();
            for ((hash, chain), Analysed { analysis, fetches, fetched }) in missing.into_iter().zip(analysed) {
                self.insert(hash, AnalysedChain { chain: chain.to_vec(), analysis, fetches, fetched });
            }
        }
        chains
            .iter()
            .zip(&hashes)
            .map(|(chain, &hash)| if chain.is_empty() { None } else { self.get(hash, chain) })
            .collect()
    }

    fn get(&self, hash: u64, chain: &[CertDer]) -> Option<Arc<AnalysedChain>> {
        self.chains.get(&hash)?.iter().find(|entry| entry.chain == chain).cloned()
    }

    fn insert(&mut self, hash: u64, entry: AnalysedChain) {
        if self.order.len() >= Self::CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                if let Some(bucket) = self.chains.get_mut(&oldest) {
                    bucket.remove(0);
                    if bucket.is_empty() {
                        self.chains.remove(&oldest);
                    }
                }
            }
        }
        self.order.push_back(hash);
        self.chains.entry(hash).or_default().push(Arc::new(entry));
    }
}

fn chain_hash(chain: &[CertDer]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for certificate in chain {
        certificate.as_bytes().hash(&mut hasher);
    }
    hasher.finish()
}

/// What analysis needs besides the chains.
pub(crate) struct AnalysisSettings<'a> {
    pub trust: &'a TrustStore,
    pub now: i64,
    pub policy: &'a Policy,
    pub legacy_cn: LegacyCn,
}

/// One chain analysed.
pub(crate) struct Analysed {
    pub analysis: ChainAnalysis,
    /// The AIA fetches made for it.
    pub fetches: Vec<IssuerFetch>,
    /// The certificates they gave (DER).
    pub fetched: Vec<Vec<u8>>,
}

/// Analyse `chains` in parallel, fetching missing issuers as the analysis
/// asks.
pub(crate) fn analyse_chains(
    chains: &[ChainToAnalyse<'_>],
    settings: &AnalysisSettings<'_>,
    fetcher: &Fetcher,
) -> Vec<Analysed> {
    let mut fetched: Vec<Vec<Vec<u8>>> = vec![Vec::new(); chains.len()];
    let mut fetches: Vec<Vec<IssuerFetch>> = vec![Vec::new(); chains.len()];
    let mut analyses = analyse(chains, &fetched, settings, &(0..chains.len()).collect::<Vec<_>>());
    for _ in 0..MAX_FETCH_ROUNDS {
        let mut again = Vec::new();
        for (index, analysis) in analyses.iter().enumerate() {
            let urls: Vec<String> = analysis
                .issuer_urls_to_fetch()
                .into_iter()
                .filter(|url| !fetches[index].iter().any(|f| &f.url == url))
                .collect();
            let mut grew = false;
            for url in urls {
                let outcome = fetcher
                    .get(&url)
                    .map_err(|e| e.to_string())
                    .and_then(|body| certificates_from_ca_issuers(&body).map_err(|e| e.to_string()));
                match outcome {
                    Ok(certificates) => {
                        fetches[index].push(IssuerFetch { url, certificates: certificates.len(), error: None });
                        grew |= !certificates.is_empty();
                        fetched[index].extend(certificates);
                    }
                    Err(error) => fetches[index].push(IssuerFetch { url, certificates: 0, error: Some(error) }),
                }
            }
            if grew {
                again.push(index);
            }
        }
        if again.is_empty() {
            break;
        }
        for (index, analysis) in again.iter().zip(analyse(chains, &fetched, settings, &again)) {
            analyses[*index] = analysis;
        }
    }
    analyses
        .into_iter()
        .zip(fetches)
        .zip(fetched)
        .map(|((analysis, fetches), fetched)| Analysed { analysis, fetches, fetched })
        .collect()
}

/// The analyses of `chains[which]`, with what was fetched for each.
fn analyse(
    chains: &[ChainToAnalyse<'_>],
    fetched: &[Vec<Vec<u8>>],
    settings: &AnalysisSettings<'_>,
    which: &[usize],
) -> Vec<ChainAnalysis> {
    let inputs: Vec<AnalysisInput<'_, CertDer>> = which
        .iter()
        .map(|&i| {
            AnalysisInput::new(chains[i].chain, settings.trust, settings.now, settings.policy)
                .with_host(chains[i].host)
                .with_legacy_cn(settings.legacy_cn)
                .with_fetched_intermediates(&fetched[i])
        })
        .collect();
    analyze_many(&inputs)
}

#[cfg(test)]
mod tests {
    use certinspect_analysis::{NameMatch, TrustVerdict};
    use certinspect_tls_farm::pki::{TestCa, Validity};

    use super::*;
    use crate::fetch::FetchOptions;

    fn served(chain: &[Vec<u8>]) -> Vec<CertDer> {
        chain.iter().map(|der| CertDer::from(der.as_slice())).collect()
    }

    #[test]
    fn each_distinct_chain_is_analysed_once_and_named_per_endpoint() {
        let ca = TestCa::new("Cache Test CA").unwrap();
        let trust = TrustStore::from_der(vec![ca.der().to_vec()]).unwrap();
        let policy = Policy::default();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let settings = AnalysisSettings { trust: &trust, now, policy: &policy, legacy_cn: LegacyCn::Reject };
        let fetcher = Fetcher::new(FetchOptions { enabled: false, ..FetchOptions::default() });
        let shared = served(&ca.issue(&["a.test", "b.test"], Validity::days_from_now(200)).unwrap().chain);
        let other = served(&ca.issue(&["c.test"], Validity::days_from_now(200)).unwrap().chain);
        let mut cache = ChainCache::default();

        let batch: Vec<&[CertDer]> = vec![&shared, &shared, &[], &other, &shared];
        let analysed = cache.analyse(&batch, &settings, &fetcher);
        assert_eq!(cache.analysed(), 2, "two distinct chains");
        assert!(analysed[2].is_none(), "nothing served, nothing analysed");
        let first = analysed[0].as_ref().unwrap();
        assert!(Arc::ptr_eq(first, analysed[4].as_ref().unwrap()), "one analysis shared");
        assert!(
            first.chain.iter().zip(&shared).all(|(kept, probed)| kept.shares_bytes_with(probed)),
            "the cache keeps the probe's bytes, not a copy"
        );
        assert_eq!(first.analysis.trust.verdict, TrustVerdict::Trusted);
        assert_eq!(first.analysis.name_match, None, "the name is matched per endpoint");
        assert!(matches!(first.name_match("b.test", LegacyCn::Reject), NameMatch::Matched { .. }));
        assert!(matches!(first.name_match("c.test", LegacyCn::Reject), NameMatch::NoMatch { .. }));

        // A later batch reuses the analysis.
        let again = cache.analyse(&[&shared[..]], &settings, &fetcher);
        assert_eq!(cache.analysed(), 2);
        assert!(Arc::ptr_eq(first, again[0].as_ref().unwrap()));
        // The same leaf served with a different chain is a different chain.
        let leaf_only = shared[..1].to_vec();
        cache.analyse(&[&leaf_only[..]], &settings, &fetcher);
        assert_eq!(cache.analysed(), 3);
    }

    #[test]
    fn the_cache_forgets_the_oldest_past_its_capacity() {
        let trust = TrustStore::from_der(Vec::new()).unwrap();
        let policy = Policy::default();
        let settings = AnalysisSettings { trust: &trust, now: 0, policy: &policy, legacy_cn: LegacyCn::Reject };
        let fetcher = Fetcher::new(FetchOptions { enabled: false, ..FetchOptions::default() });
        // Distinct chains without issuing a thousand certificates: what a
        // broken server might send (analysed as unparsable, cheaply).
        let chains: Vec<Vec<CertDer>> = (0..=ChainCache::CAPACITY)
            .map(|n| vec![CertDer::from(format!("not a certificate {n}").into_bytes())])
            .collect();
        let mut cache = ChainCache::default();
        for chunk in chains.chunks(256) {
            let refs: Vec<&[CertDer]> = chunk.iter().map(Vec::as_slice).collect();
            cache.analyse(&refs, &settings, &fetcher);
        }
        assert_eq!(cache.analysed(), ChainCache::CAPACITY + 1);
        assert_eq!(cache.order.len(), ChainCache::CAPACITY);
        // The first was forgotten, the last is kept.
        cache.analyse(&[&chains[ChainCache::CAPACITY][..]], &settings, &fetcher);
        assert_eq!(cache.analysed(), ChainCache::CAPACITY + 1);
        cache.analyse(&[&chains[0][..]], &settings, &fetcher);
        assert_eq!(cache.analysed(), ChainCache::CAPACITY + 2);
    }
}
