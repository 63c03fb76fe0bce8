//! Revocation: one fact per served leaf, whatever answered.
//!
//! Two kinds of answer are gathered and merged here. Provider lookups: the
//! sources that offer `revocation-lookup` are asked about the served
//! leaves' serials in batches, each serial once per run. Network lookups:
//! the revocation lists a leaf's CRL distribution points name are fetched
//! (through [`Fetcher`]: bounded, off with `--no-fetch`), each URL once per
//! run, read once (`certinspect_analysis::Crl`: the issuer's signature,
//! scope, dates) and asked about every leaf that names them; the OCSP
//! responders a leaf's AIA names are asked (POST, through [`Fetcher`]) once
//! per (issuer, serial) per run; and the OCSP response the server stapled
//! is verified like a looked-up one (`certinspect_analysis::
//! verify_ocsp_response`: signer, delegated responder, certID, dates). The merged
//! [`RevocationFact`] keeps the deciding answer (revoked over good over
//! unknown over not checked) and the others, so a disagreement shows.

use std::collections::HashMap;
use std::sync::Arc;

use certinspect_analysis::{
    find_issuer, ocsp_request, verify_ocsp_response, CertificateFacts, ChainAnalysis, Crl, CrlStatus, OcspAnswer,
    OcspError, OcspStatus,
};
use certinspect_protocol::{normalize_serial, RevocationState, RevocationStatus};
use serde::{Deserialize, Serialize};

use crate::fetch::Fetcher;
use crate::plugins::OpenedSource;

/// The state of one revocation answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationVerdict {
    /// Nothing was asked: no pointer to ask, or fetching is off.
    NotChecked,
    /// Asked, but no usable answer came (unreachable, invalid, stale).
    Unknown,
    /// Not revoked, according to the source.
    Good,
    /// Revoked.
    Revoked,
}

/// Why an answer is unknown: the answer could not be had, or it came and
/// cannot be accepted. Each has its finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnknownCause {
    /// The responder or list could not be fetched (down, HTTP error, over
    /// the size bound), or the issuer's certificate was not at hand.
    Unavailable,
    /// It came, but is not acceptable: wrong signer, stale, out of scope,
    /// unparsable, a delta list.
    InvalidResponse,
}

/// One source's answer about one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RevocationAnswer {
    /// The state.
    pub status: RevocationVerdict,
    /// Who answered: `crl`, `ocsp`, `stapled`, or the plugin
    /// (`alibaba-cas`); absent when nothing was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The URL asked (a CRL distribution point, an OCSP responder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When the answer was produced (a CRL's or OCSP response's
    /// thisUpdate), UNIX seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produced_at: Option<i64>,
    /// When the source will have a newer answer (a CRL's nextUpdate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update: Option<i64>,
    /// When revoked, UNIX seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// The revocation reason (`key_compromise`, ...), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the state is unknown or not checked, one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// With `unknown`: whether no answer came or a bad one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<UnknownCause>,
    /// The list answering is one partition of the issuer's (it names an
    /// issuing distribution point).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partitioned: bool,
}

impl RevocationAnswer {
    pub(crate) fn new(status: RevocationVerdict, source: Option<&str>) -> Self {
        Self {
            status,
            source: source.map(str::to_owned),
            url: None,
            produced_at: None,
            next_update: None,
            revoked_at: None,
            reason: None,
            why: None,
            cause: None,
            partitioned: false,
        }
    }

    pub(crate) fn not_checked(why: &str) -> Self {
        Self { why: Some(why.to_owned()), ..Self::new(RevocationVerdict::NotChecked, None) }
    }

    pub(crate) fn unknown(source: &str, url: Option<&str>, cause: UnknownCause, why: String) -> Self {
        Self {
            url: url.map(str::to_owned),
            why: Some(why),
            cause: Some(cause),
            ..Self::new(RevocationVerdict::Unknown, Some(source))
        }
    }

    /// The issuer of the certificate `facts` describes is not at hand, so
    /// `consequence`.
    fn issuer_missing(source: &str, facts: &CertificateFacts, consequence: &str) -> Self {
        let why = format!("the issuer's certificate ('{}') was not served or fetched, so {consequence}", facts.issuer);
        Self::unknown(source, None, UnknownCause::Unavailable, why)
    }

    /// Of `failures` (at least one, each naming its URL), the one to report,
    /// with every failure's reason: an invalid answer outweighs a missing one.
    fn worst_of(mut failures: Vec<Self>) -> Self {
        failures.sort_by_key(|answer| answer.cause != Some(UnknownCause::InvalidResponse));
        let why = failures
            .iter()
            .map(|a| format!("{}: {}", a.url.as_deref().unwrap_or_default(), a.why.as_deref().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("; ");
        Self { why: Some(why), ..failures.swap_remove(0) }
    }

    /// What a verified OCSP response (or why it is unusable) says.
    fn from_ocsp(source: &str, url: Option<&str>, verified: Result<OcspAnswer, OcspError>) -> Self {
        let answer = match verified {
            Ok(answer) => answer,
            Err(e) => return Self::unknown(source, url, UnknownCause::InvalidResponse, e.to_string()),
        };
        let mut out = match answer.status {
            OcspStatus::Revoked { revoked_at, reason } => {
                Self { revoked_at: Some(revoked_at), reason, ..Self::new(RevocationVerdict::Revoked, Some(source)) }
            }
            OcspStatus::Good => Self::new(RevocationVerdict::Good, Some(source)),
            _ => Self::unknown(
                source,
                url,
                UnknownCause::Unavailable,
                "the OCSP responder does not know this certificate (status unknown)".to_owned(),
            ),
        };
        out.url = url.map(str::to_owned);
        out.produced_at = Some(answer.this_update);
        out.next_update = answer.next_update;
        out
    }

    /// A provider's answer.
    pub(crate) fn from_provider(status: &RevocationStatus) -> Self {
        let verdict = match status.status {
            RevocationState::Good => RevocationVerdict::Good,
            RevocationState::Revoked => RevocationVerdict::Revoked,
            RevocationState::Unknown => RevocationVerdict::Unknown,
        };
        let why = (verdict == RevocationVerdict::Unknown).then(|| "the provider cannot tell".to_owned());
        Self { revoked_at: status.revoked_at, why, ..Self::new(verdict, status.source.as_deref()) }
    }
}

/// What is known about one served certificate's revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RevocationFact {
    /// The certificate's serial, lower-case hex.
    pub serial: String,
    /// The deciding answer: revoked over good over unknown over not checked.
    #[serde(flatten)]
    pub answer: RevocationAnswer,
    /// Every other source's answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_answers: Vec<RevocationAnswer>,
    /// The leaf carries the must-staple TLS feature (RFC 7633).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_staple: bool,
    /// Whether the server stapled an OCSP response to the handshake;
    /// absent when that is not known (a legacy capture does not read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stapled: Option<bool>,
}

impl RevocationFact {
    /// Merge `answers` (at least one) about `serial`.
    pub(crate) fn merge(serial: &str, mut answers: Vec<RevocationAnswer>) -> Option<Self> {
        // Stable: among equals, the first given (the provider's) decides.
        answers.sort_by_key(|answer| std::cmp::Reverse(answer.status));
        let mut answers = answers.into_iter();
        let answer = answers.next()?;
        Some(Self {
            serial: serial.to_owned(),
            answer,
            other_answers: answers.collect(),
            must_staple: false,
            stapled: None,
        })
    }

    /// Whether revocation could not be checked though the leaf says where
    /// to ask (no answer came, or none acceptable): "could not check".
    pub fn unchecked(&self) -> bool {
        self.answer.status == RevocationVerdict::Unknown && self.answer.cause.is_some()
    }

    /// Whether the leaf must be stapled and the server stapled nothing.
    pub fn staple_missing(&self) -> bool {
        self.must_staple && self.stapled == Some(false)
    }

    /// The stapled answer, when the server stapled a response that cannot
    /// be accepted.
    pub fn invalid_staple(&self) -> Option<&RevocationAnswer> {
        std::iter::once(&self.answer)
            .chain(&self.other_answers)
            .find(|a| a.source.as_deref() == Some("stapled") && a.cause == Some(UnknownCause::InvalidResponse))
    }

    /// Whether one source says revoked and another good.
    pub fn disagreement(&self) -> Option<&RevocationAnswer> {
        (self.answer.status == RevocationVerdict::Revoked)
            .then(|| self.other_answers.iter().find(|a| a.status == RevocationVerdict::Good))
            .flatten()
    }
}

/// The revocation lists read in a run, by URL, with failures, so a list
/// is fetched and parsed once however many leaves name it.
#[derive(Debug, Default)]
pub(crate) struct RevocationLists {
    read: HashMap<String, Result<Arc<Crl>, (UnknownCause, String)>>,
    /// OCSP answers by (issuer certificate, serial): one request each per run.
    asked: HashMap<(Vec<u8>, Vec<u8>), RevocationAnswer>,
}

impl RevocationLists {
    /// Every network answer about `leaf` (DER, facts) served with
    /// `issuers` (the rest of the served chain and fetched intermediates)
    /// and, when the server stapled one, the OCSP response `staple`, at
    /// `now`.
    pub(crate) fn answers(
        &mut self,
        leaf: &[u8],
        facts: &CertificateFacts,
        issuers: &[&[u8]],
        staple: Option<&[u8]>,
        fetcher: &Fetcher,
        now: i64,
    ) -> Vec<RevocationAnswer> {
        let stapled = staple.map(|staple| match find_issuer(leaf, issuers) {
            Some(issuer) => {
                RevocationAnswer::from_ocsp("stapled", None, verify_ocsp_response(staple, leaf, issuer, now))
            }
            None => RevocationAnswer::issuer_missing("stapled", facts, "the stapled OCSP response cannot be verified"),
        });
        let looked_up = (!facts.ocsp_urls.is_empty()).then(|| self.ask_ocsp(leaf, facts, issuers, fetcher, now));
        std::iter::once(self.check_crl(leaf, facts, issuers, fetcher, now)).chain(looked_up).chain(stapled).collect()
    }

    /// The answer of the OCSP responders `facts` names about `leaf`, asked
    /// in order until one answers acceptably; once per (issuer, serial).
    fn ask_ocsp(
        &mut self,
        leaf: &[u8],
        facts: &CertificateFacts,
        issuers: &[&[u8]],
        fetcher: &Fetcher,
        now: i64,
    ) -> RevocationAnswer {
        if !fetcher.enabled() {
            return RevocationAnswer::not_checked("fetching is turned off (--no-fetch)");
        }
        let Some(issuer) = find_issuer(leaf, issuers) else {
            return RevocationAnswer::issuer_missing("ocsp", facts, "OCSP cannot be asked");
        };
        let key = (issuer.to_vec(), facts.serial_hex.clone().into_bytes());
        if let Some(known) = self.asked.get(&key) {
            return known.clone();
        }
        let request = ocsp_request(leaf, issuer);
        let mut failures = Vec::new();
        for url in &facts.ocsp_urls {
            let answer = match &request {
                Ok(request) => match fetcher.post_ocsp(url, request) {
                    Ok(body) => {
                        RevocationAnswer::from_ocsp("ocsp", Some(url), verify_ocsp_response(&body, leaf, issuer, now))
                    }
                    Err(e) => RevocationAnswer::unknown(
                        "ocsp",
                        Some(url),
                        UnknownCause::Unavailable,
                        format!("the OCSP responder could not be asked: {e}"),
                    ),
                },
                Err(e) => RevocationAnswer::unknown("ocsp", Some(url), UnknownCause::InvalidResponse, e.to_string()),
            };
            if answer.cause.is_none() {
                self.asked.insert(key, answer.clone());
                return answer;
            }
            failures.push(answer);
        }
        let answer = RevocationAnswer::worst_of(failures);
        self.asked.insert(key, answer.clone());
        answer
    }

    /// The answer of the CRLs `facts` names about `leaf`, tried in order
    /// until one answers acceptably; each list read once per run.
    fn check_crl(
        &mut self,
        leaf: &[u8],
        facts: &CertificateFacts,
        issuers: &[&[u8]],
        fetcher: &Fetcher,
        now: i64,
    ) -> RevocationAnswer {
        if facts.crl_distribution_points.is_empty() {
            return RevocationAnswer::not_checked(if facts.ocsp_urls.is_empty() {
                "the certificate names no CRL distribution point or OCSP responder"
            } else {
                "the certificate names an OCSP responder, no CRL distribution point"
            });
        }
        if !fetcher.enabled() {
            return RevocationAnswer::not_checked("fetching is turned off (--no-fetch)");
        }
        let Some(issuer) = find_issuer(leaf, issuers) else {
            return RevocationAnswer::issuer_missing("crl", facts, "no CRL can be checked");
        };
        let mut failures = Vec::new();
        for url in &facts.crl_distribution_points {
            let read = self.read.entry(url.clone()).or_insert_with(|| read_list(fetcher, url, issuer));
            let answer = match read {
                Ok(list) => {
                    list.status_of(leaf, issuer, url, now).map_err(|e| (UnknownCause::InvalidResponse, e.to_string()))
                }
                Err(failure) => Err(failure.clone()),
            };
            match answer {
                Ok(answer) => {
                    let (status, revoked_at, reason) = match answer.status {
                        CrlStatus::Good => (RevocationVerdict::Good, None, None),
                        CrlStatus::Revoked { revoked_at, reason } => {
                            (RevocationVerdict::Revoked, Some(revoked_at), reason)
                        }
                        _ => (RevocationVerdict::Unknown, None, None),
                    };
                    return RevocationAnswer {
                        url: Some(url.clone()),
                        produced_at: Some(answer.this_update),
                        next_update: answer.next_update,
                        revoked_at,
                        reason,
                        partitioned: answer.partitioned,
                        ..RevocationAnswer::new(status, Some("crl"))
                    };
                }
                Err((cause, why)) => failures.push(RevocationAnswer::unknown("crl", Some(url), cause, why)),
            }
        }
        RevocationAnswer::worst_of(failures)
    }
}

/// Fetch and read the list at `url`, checked against `issuer`.
fn read_list(fetcher: &Fetcher, url: &str, issuer: &[u8]) -> Result<Arc<Crl>, (UnknownCause, String)> {
    let body =
        fetcher.get_crl(url).map_err(|e| (UnknownCause::Unavailable, format!("the CRL could not be fetched: {e}")))?;
    Crl::read(&body, issuer).map(Arc::new).map_err(|e| (UnknownCause::InvalidResponse, e.to_string()))
}

/// The provider's answer about `serial` among `statuses`.
pub(crate) fn provider_answer(statuses: &HashMap<String, RevocationStatus>, serial: &str) -> Option<RevocationAnswer> {
    statuses.get(&normalize_serial(serial)).map(RevocationAnswer::from_provider)
}

/// Ask every revocation-capable source about the served leaves' serials not
/// asked about yet. A revoked answer from any source wins over good/unknown.
pub(crate) fn lookup_revocations(
    analyses: &[&ChainAnalysis],
    sources: &[Arc<OpenedSource>],
    batch: usize,
    statuses: &mut HashMap<String, RevocationStatus>,
) {
    if sources.is_empty() {
        return;
    }
    let mut serials: Vec<String> = analyses
        .iter()
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
                        merge(statuses, answer);
                    }
                }
                Err(e) => tracing::warn!(plugin = source.plugin(), error = %e, "revocation lookup failed"),
            }
        }
    }
}

/// Keep the strongest answer per serial: revoked beats good beats unknown.
fn merge(statuses: &mut HashMap<String, RevocationStatus>, answer: RevocationStatus) {
    let key = normalize_serial(&answer.serial);
    let replace = statuses
        .get(&key)
        .is_none_or(|old| old.status != RevocationState::Revoked && answer.status != RevocationState::Unknown);
    if replace {
        statuses.insert(key, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(serial: &str, status: RevocationState, source: &str) -> RevocationStatus {
        RevocationStatus::new(serial, status).with_source(source)
    }

    #[test]
    fn the_strongest_answer_wins_whatever_the_order() {
        use RevocationState::*;
        let cases = [
            (vec![Good, Revoked], Revoked),
            (vec![Revoked, Good], Revoked),
            (vec![Unknown, Good], Good),
            (vec![Good, Unknown], Good),
            (vec![Revoked, Unknown], Revoked),
        ];
        for (answers, expected) in cases {
            let mut statuses = HashMap::new();
            for (i, status) in answers.iter().enumerate() {
                merge(&mut statuses, answer("0A", *status, &format!("source-{i}")));
            }
            assert_eq!(statuses[&normalize_serial("0a")].status, expected, "{answers:?}");
        }
    }
}
