//! Trust anchors, chain completeness and the webpki trust verdict.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::dn;
use crate::facts::{fingerprints, parse_internal, Parsed};
use crate::AnalysisError;

/// What we know about one trust anchor beyond what webpki needs.
#[derive(Clone)]
struct AnchorInfo {
    /// notAfter when the anchor came from a full certificate; webpki-roots
    /// ships only subject, key and name constraints, so `None` there.
    not_after: Option<i64>,
    not_before: Option<i64>,
    /// SHA-256 of the anchor certificate, when we had the certificate.
    sha256: Option<String>,
}

/// A set of trust anchors for webpki path building.
///
/// Built from DER or PEM certificates the caller already holds, or from
/// the Mozilla set compiled into `webpki-roots`. Loading system or file
/// roots is the caller's job: this crate does no I/O.
///
/// Not serializable: it is an input, not a fact.
#[derive(Clone)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    info: Vec<AnchorInfo>,
    /// Anchor subjects (name contents, webpki form) for the completeness
    /// walk, which needs "is this issuer an anchor?" without a signature check.
    subjects: HashSet<Vec<u8>>,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore").field("anchors", &self.anchors.len()).finish()
    }
}

impl TrustStore {
    /// A store with no anchors: every chain is untrusted.
    pub fn empty() -> Self {
        TrustStore { anchors: Vec::new(), info: Vec::new(), subjects: HashSet::new() }
    }

    /// The Mozilla root program's server-auth anchors, from `webpki-roots`.
    pub fn mozilla() -> Self {
        let mut store = TrustStore::empty();
        for anchor in webpki_roots::TLS_SERVER_ROOTS {
            store.push(anchor.clone(), AnchorInfo { not_after: None, not_before: None, sha256: None });
        }
        store
    }

    /// Anchors from DER certificates. Fails on the first certificate webpki
    /// cannot use as an anchor, naming its index: a trust store that
    /// silently lost a root would give wrong verdicts.
    pub fn from_der(certs: Vec<Vec<u8>>) -> Result<Self, AnalysisError> {
        let mut store = TrustStore::empty();
        for (index, der) in certs.iter().enumerate() {
            store.add_der(der).map_err(|reason| AnalysisError::InvalidTrustAnchor { index, reason })?;
        }
        Ok(store)
    }

    /// Anchors from PEM text holding one or more `CERTIFICATE` blocks; other
    /// block types (keys, CRLs) are skipped. No certificate at all is an
    /// error, since an empty store is almost certainly a caller mistake
    /// (use [`TrustStore::empty`] to mean it).
    pub fn from_pem(pem: &[u8]) -> Result<Self, AnalysisError> {
        let mut ders = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
            let block = match block {
                Ok(block) => block,
                // Text after the last block (comments, blank lines) reads
                // as "no further header": the end, not an error.
                Err(x509_parser::error::PEMError::MissingHeader) => break,
                Err(e) => return Err(AnalysisError::Pem(e.to_string())),
            };
            match block.label.as_str() {
                "CERTIFICATE" => ders.push(block.contents),
                // OpenSSL's form: the certificate followed by its trust
                // settings; the anchor is the leading certificate.
                "TRUSTED CERTIFICATE" => {
                    let len = dn::tlv_len(&block.contents)
                        .ok_or_else(|| AnalysisError::Pem("malformed TRUSTED CERTIFICATE".to_owned()))?;
                    ders.push(block.contents[..len].to_vec());
                }
                _ => {}
            }
        }
        if ders.is_empty() {
            return Err(AnalysisError::Pem("no CERTIFICATE block found".to_owned()));
        }
        Self::from_der(ders)
    }

    /// Adds every anchor of `other`.
    pub fn extend(&mut self, other: TrustStore) {
        for (anchor, info) in other.anchors.into_iter().zip(other.info) {
            self.push(anchor, info);
        }
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// True when there are no anchors.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    fn add_der(&mut self, der: &[u8]) -> Result<(), String> {
        let cert = CertificateDer::from(der);
        let anchor = webpki::anchor_from_trusted_cert(&cert).map_err(|e| format!("{e:?}"))?.to_owned();
        // A root we cannot parse fully still works as an anchor; we only
        // lose its validity dates.
        let parsed = parse_internal(der).ok();
        let (_, sha256) = fingerprints(der);
        self.push(
            anchor,
            AnchorInfo {
                not_after: parsed.as_ref().map(|p| p.facts.not_after),
                not_before: parsed.as_ref().map(|p| p.facts.not_before),
                sha256: Some(sha256),
            },
        );
        Ok(())
    }

    fn push(&mut self, anchor: TrustAnchor<'static>, info: AnchorInfo) {
        self.subjects.insert(anchor.subject.as_ref().to_vec());
        self.anchors.push(anchor);
        self.info.push(info);
    }

    fn has_subject(&self, subject_contents: &[u8]) -> bool {
        self.subjects.contains(subject_contents)
    }

    fn contains_key(&self, subject_contents: &[u8], spki_der: &[u8]) -> bool {
        // webpki stores the SPKI without its outer SEQUENCE header.
        let spki = dn::der_contents(spki_der);
        self.anchors
            .iter()
            .any(|a| a.subject.as_ref() == subject_contents && a.subject_public_key_info.as_ref() == spki)
    }

    fn index_of(&self, anchor: &TrustAnchor<'_>) -> Option<usize> {
        self.anchors.iter().position(|a| {
            a.subject.as_ref() == anchor.subject.as_ref()
                && a.subject_public_key_info.as_ref() == anchor.subject_public_key_info.as_ref()
        })
    }
}

/// How the served chain ends when followed from the leaf by issuer names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainEnd {
    /// The last certificate on the walk is issued by a trust anchor's
    /// subject (or is an anchor itself).
    TrustAnchor {
        /// The anchor's subject, RFC 4514.
        anchor_subject: String,
    },
    /// The walk ends at a served self-signed certificate (a root).
    SelfSigned {
        /// Index in the served chain.
        index: usize,
        /// Whether that root (subject and key) is in the trust store.
        in_trust_store: bool,
    },
    /// The issuer of the last certificate on the walk was neither served
    /// nor an anchor: an intermediate is missing, or the CA is unknown.
    MissingIssuer {
        /// Issuer the chain needs next, RFC 4514.
        issuer: String,
    },
    /// A certificate on the walk could not be parsed.
    Unparsable {
        /// Index in the served chain.
        index: usize,
    },
    /// Nothing was served.
    Empty,
}

/// Completeness of the served chain, judged from the served certificates
/// and the trust store alone: nothing is fetched (no AIA chasing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCompleteness {
    /// Nothing is missing: the walk ends at a trust anchor or at a served
    /// self-signed root (trusted or not).
    pub complete: bool,
    /// The walk ends at a trust anchor in the store (directly, or through a
    /// served root that is in the store).
    pub reaches_trust_anchor: bool,
    /// How the walk ends.
    pub ends_at: ChainEnd,
    /// Served indices on the walk, leaf first.
    pub path: Vec<usize>,
    /// The served order is the walk order (each certificate followed by its
    /// issuer), as RFC 8446 section 4.4.2 and RFC 5246 require of servers.
    pub in_order: bool,
    /// Served certificates that are not on the walk (extra, duplicate, or
    /// belonging to another chain).
    pub unused: Vec<usize>,
}

pub(crate) fn completeness(parsed: &[Option<Parsed>], trust: &TrustStore) -> ChainCompleteness {
    let Some(first) = parsed.first() else {
        return ChainCompleteness {
            complete: false,
            reaches_trust_anchor: false,
            ends_at: ChainEnd::Empty,
            path: Vec::new(),
            in_order: true,
            unused: Vec::new(),
        };
    };
    let mut path = vec![0usize];
    let mut current = match first {
        Some(p) => p,
        None => return finish(parsed, path, ChainEnd::Unparsable { index: 0 }),
    };
    let mut current_index = 0usize;
    let end = loop {
        if current.facts.self_signed {
            let in_trust_store = trust.contains_key(&current.subject_raw, &current.spki_raw);
            break ChainEnd::SelfSigned { index: current_index, in_trust_store };
        }
        if trust.has_subject(&current.issuer_raw) {
            break ChainEnd::TrustAnchor { anchor_subject: current.facts.issuer.clone() };
        }
        // Next hop: a served, unvisited certificate whose subject is our
        // issuer; prefer one whose SKI equals our AKI (cross-signed CAs
        // share a subject).
        let candidates: Vec<usize> = parsed
            .iter()
            .enumerate()
            .filter(|(i, p)| !path.contains(i) && p.as_ref().is_some_and(|p| p.subject_raw == current.issuer_raw))
            .map(|(i, _)| i)
            .collect();
        let next = candidates
            .iter()
            .copied()
            .find(|&i| {
                let p = parsed[i].as_ref().expect("filtered on Some");
                current.facts.authority_key_id.is_some() && p.facts.subject_key_id == current.facts.authority_key_id
            })
            .or_else(|| candidates.first().copied());
        match next {
            Some(i) => {
                path.push(i);
                current_index = i;
                current = parsed[i].as_ref().expect("filtered on Some");
            }
            None => break ChainEnd::MissingIssuer { issuer: current.facts.issuer.clone() },
        }
    };
    finish(parsed, path, end)
}

fn finish(parsed: &[Option<Parsed>], path: Vec<usize>, ends_at: ChainEnd) -> ChainCompleteness {
    let in_order = path.iter().enumerate().all(|(pos, &i)| pos == i);
    let unused = (0..parsed.len()).filter(|i| !path.contains(i)).collect();
    let (complete, reaches_trust_anchor) = match &ends_at {
        ChainEnd::TrustAnchor { .. } => (true, true),
        ChainEnd::SelfSigned { in_trust_store, .. } => (true, *in_trust_store),
        _ => (false, false),
    };
    ChainCompleteness { complete, reaches_trust_anchor, ends_at, path, in_order, unused }
}

/// The trust verdict for a served chain at the analysis time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustVerdict {
    /// webpki built a path to a trust anchor, valid now, for server auth.
    Trusted,
    /// The chain ends at a root (or CA) that is not in the trust store.
    UntrustedIssuer,
    /// The leaf is self-signed.
    SelfSigned,
    /// The chain would be trusted but a certificate on the path has expired.
    Expired,
    /// The chain would be trusted but a certificate on the path is not valid yet.
    NotYetValid,
    /// The served chain stops short: the top certificate is neither a root
    /// nor issued by an anchor. Without the missing certificate we cannot
    /// tell a missing intermediate from an unknown CA; clients that do not
    /// fetch (most non-browsers) fail either way.
    Incomplete,
    /// Anything else webpki refused (bad signature, unsupported algorithm,
    /// wrong EKU, CA certificate as leaf, name constraints, ...).
    Invalid(String),
}

/// Where a certificate on a verified path came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum PathCertificate {
    /// A served certificate, by index in the served chain.
    Served {
        /// Index in the served chain.
        index: usize,
    },
    /// The trust anchor that ends the path.
    TrustAnchor {
        /// Anchor subject, RFC 4514.
        subject: String,
        /// SHA-256 of the anchor certificate when the store had it (not for
        /// the compiled-in Mozilla set, which holds no certificates).
        sha256_fingerprint: Option<String>,
    },
}

/// The trust half of a chain analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnalysis {
    /// Verdict at the analysis time.
    pub verdict: TrustVerdict,
    /// webpki builds a path to an anchor when validity periods are set
    /// aside. True for `Trusted`, and for `Expired`/`NotYetValid` chains
    /// that are otherwise sound: "expired" and "trusted issuer" are separate
    /// facts.
    pub trusted_ignoring_time: bool,
    /// The path webpki built (at the analysis time, or else at a moment
    /// when the served certificates were valid), leaf first, anchor last.
    pub verified_path: Option<Vec<PathCertificate>>,
    /// webpki's error at the analysis time, verbatim, when there was one.
    pub webpki_error: Option<String>,
}

/// A verified path reduced to owned data: served indices (leaf first) and
/// the anchor's index in the store.
#[derive(Debug, Clone)]
pub(crate) struct PathFound {
    pub served: Vec<usize>,
    pub anchor: Option<usize>,
}

fn webpki_verify(
    leaf: &EndEntityCert<'_>,
    intermediates: &[CertificateDer<'_>],
    chain: &[Vec<u8>],
    trust: &TrustStore,
    at: i64,
) -> Result<PathFound, webpki::Error> {
    let time = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0) as u64));
    let path = leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &trust.anchors,
        intermediates,
        time,
        KeyUsage::server_auth(),
        None,
        None,
    )?;
    let mut served = vec![0];
    for cert in path.intermediate_certificates() {
        let der = cert.der();
        if let Some(i) = chain.iter().position(|c| c.as_slice() == der.as_ref()) {
            served.push(i);
        }
    }
    Ok(PathFound { served, anchor: trust.index_of(path.anchor()) })
}

/// Runs webpki and classifies the outcome. Also returns the served indices
/// and anchor index of the path, for the verified-chain expiry fact.
pub(crate) fn trust_analysis(
    chain: &[Vec<u8>],
    parsed: &[Option<Parsed>],
    completeness: &ChainCompleteness,
    trust: &TrustStore,
    now: i64,
) -> (TrustAnalysis, Option<PathFound>) {
    let invalid = |reason: String| TrustAnalysis {
        verdict: TrustVerdict::Invalid(reason),
        trusted_ignoring_time: false,
        verified_path: None,
        webpki_error: None,
    };
    let Some(leaf_der) = chain.first() else {
        return (invalid("empty chain".to_owned()), None);
    };
    let leaf_der = CertificateDer::from(leaf_der.as_slice());
    let leaf = match EndEntityCert::try_from(&leaf_der) {
        Ok(leaf) => leaf,
        Err(e) => return (invalid(format!("leaf rejected by webpki: {}", describe(&e))), None),
    };
    let intermediates: Vec<CertificateDer<'_>> =
        chain[1..].iter().map(|c| CertificateDer::from(c.as_slice())).collect();

    let now_result = webpki_verify(&leaf, &intermediates, chain, trust, now);
    let now_error = match now_result {
        Ok(found) => {
            let analysis = TrustAnalysis {
                verdict: TrustVerdict::Trusted,
                trusted_ignoring_time: true,
                verified_path: Some(path_facts(&found, trust)),
                webpki_error: None,
            };
            return (analysis, Some(found));
        }
        Err(e) => e,
    };

    // webpki checks validity periods while building the path. Retry at
    // moments when the served certificates were valid so that an expired
    // chain with a trusted issuer shows as both facts, not as "untrusted".
    let leaf_facts = parsed.first().and_then(|p| p.as_ref()).map(|p| &p.facts);
    let mut retry_at = Vec::new();
    if let Some(leaf) = leaf_facts {
        let mut candidates: Vec<i64> = parsed
            .iter()
            .flatten()
            .map(|p| p.facts.not_before)
            .filter(|&t| t >= leaf.not_before && t <= leaf.not_after)
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        candidates.dedup();
        candidates.push(leaf.not_before + (leaf.not_after - leaf.not_before) / 2);
        retry_at.extend(candidates.into_iter().filter(|&t| t != now).take(8));
    }
    let mut retry_error = None;
    let mut found_later = None;
    for &t in &retry_at {
        match webpki_verify(&leaf, &intermediates, chain, trust, t) {
            Ok(found) => {
                found_later = Some(found);
                break;
            }
            Err(e) => {
                retry_error.get_or_insert(e);
            }
        }
    }

    if let Some(found) = found_later {
        let out_of_time = |check: &dyn Fn(&crate::facts::CertificateFacts) -> bool| {
            found.served.iter().filter_map(|&i| parsed.get(i).and_then(|p| p.as_ref())).any(|p| check(&p.facts))
        };
        let verdict = if out_of_time(&|f| now > f.not_after) {
            TrustVerdict::Expired
        } else if out_of_time(&|f| now < f.not_before) {
            TrustVerdict::NotYetValid
        } else {
            // Sound at another moment, refused now, yet every served
            // certificate on the path is in its validity period: report
            // webpki's reason as is.
            TrustVerdict::Invalid(describe(&now_error))
        };
        let analysis = TrustAnalysis {
            verdict,
            trusted_ignoring_time: true,
            verified_path: Some(path_facts(&found, trust)),
            webpki_error: Some(describe(&now_error)),
        };
        return (analysis, Some(found));
    }

    // Classify by the error seen while the served certificates were valid:
    // at `now` an expired leaf hides what else is wrong (webpki checks the
    // leaf's dates before looking for its issuer).
    let error = retry_error.as_ref().unwrap_or(&now_error);
    let leaf_self_signed = leaf_facts.is_some_and(|f| f.self_signed);
    let verdict = if leaf_self_signed {
        TrustVerdict::SelfSigned
    } else {
        match (error, &completeness.ends_at) {
            (webpki::Error::UnknownIssuer, ChainEnd::SelfSigned { .. }) => TrustVerdict::UntrustedIssuer,
            (webpki::Error::UnknownIssuer, ChainEnd::MissingIssuer { .. }) => TrustVerdict::Incomplete,
            (webpki::Error::UnknownIssuer, ChainEnd::TrustAnchor { .. }) => {
                // The issuer's name is an anchor's, but no signature or key
                // linked up: a different CA with the same name.
                TrustVerdict::UntrustedIssuer
            }
            // No moment when the whole path was valid (validity periods
            // that do not overlap): still a time problem.
            (webpki::Error::CertExpired { .. }, _) => TrustVerdict::Expired,
            (webpki::Error::CertNotValidYet { .. }, _) => TrustVerdict::NotYetValid,
            (e, _) => TrustVerdict::Invalid(describe(e)),
        }
    };
    (
        TrustAnalysis {
            verdict,
            trusted_ignoring_time: false,
            verified_path: None,
            webpki_error: Some(describe(&now_error)),
        },
        None,
    )
}

/// A short, stable description of a webpki error: the variant name, plus
/// the signature algorithm OID where that is the point. webpki's `Debug`
/// output lists every supported algorithm in DER, far too much for a report.
fn describe(error: &webpki::Error) -> String {
    let oid_of = |alg_id: &[u8]| -> String {
        match alg_id {
            [0x06, len, rest @ ..] if rest.len() >= *len as usize => {
                x509_parser::der_parser::oid::Oid::new(rest[..*len as usize].into()).to_id_string()
            }
            _ => hex::encode(alg_id),
        }
    };
    match error {
        webpki::Error::UnsupportedSignatureAlgorithmContext(ctx) => {
            format!("UnsupportedSignatureAlgorithm ({})", oid_of(&ctx.signature_algorithm_id))
        }
        webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(ctx) => format!(
            "UnsupportedSignatureAlgorithmForPublicKey ({} with key {})",
            oid_of(&ctx.signature_algorithm_id),
            oid_of(&ctx.public_key_algorithm_id)
        ),
        other => {
            let debug = format!("{other:?}");
            let name = debug.split(['(', ' ', '{']).next().unwrap_or(&debug);
            name.strip_suffix("Context").unwrap_or(name).to_owned()
        }
    }
}

fn path_facts(found: &PathFound, trust: &TrustStore) -> Vec<PathCertificate> {
    let mut out: Vec<PathCertificate> = found.served.iter().map(|&index| PathCertificate::Served { index }).collect();
    if let Some(i) = found.anchor {
        out.push(PathCertificate::TrustAnchor {
            subject: anchor_subject(&trust.anchors[i]),
            sha256_fingerprint: trust.info[i].sha256.clone(),
        });
    }
    out
}

pub(crate) fn anchor_subject(anchor: &TrustAnchor<'_>) -> String {
    let wrapped = dn::wrap_sequence(anchor.subject.as_ref());
    match X509Name::from_der(&wrapped) {
        Ok((_, name)) => dn::rfc4514(&name),
        Err(_) => format!("#{}", hex::encode(anchor.subject.as_ref())),
    }
}

/// Validity of the anchor at `index`, when the store had its certificate.
pub(crate) fn anchor_validity(trust: &TrustStore, index: usize) -> Option<(i64, i64, String)> {
    let info = trust.info.get(index)?;
    Some((info.not_before?, info.not_after?, anchor_subject(&trust.anchors[index])))
}
