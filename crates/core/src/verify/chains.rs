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

use certinspect_analysis::{
    analyze_many, certificates_from_ca_issuers, AnalysisInput, ChainAnalysis, LegacyCn, Policy, TrustStore,
};
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
    pub chain: &'a [Vec<u8>],
    pub host: &'a str,
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
    let inputs: Vec<AnalysisInput<'_>> = which
        .iter()
        .map(|&i| {
            AnalysisInput::new(chains[i].chain, settings.trust, settings.now, settings.policy)
                .with_host(Some(chains[i].host))
                .with_legacy_cn(settings.legacy_cn)
                .with_fetched_intermediates(&fetched[i])
        })
        .collect();
    analyze_many(&inputs)
}
