//! Pure certificate analysis for certinspect: DER bytes and a clock in,
//! facts out.
//!
//! This is the "chains -> analysis" step of the pipeline. Given the chain a
//! server sent (leaf first, DER) and the time, it reports:
//!
//! - per-certificate facts ([`parse_certificate`]): names, SANs, serial,
//!   SHA-1/SHA-256 fingerprints, validity, key, signature algorithm, EKUs,
//!   CA flag, self-signed, key identifiers;
//! - chain completeness: does the served chain reach a trust anchor without
//!   fetching anything ([`ChainCompleteness`]);
//! - a trust verdict from rustls-webpki, the verifier rustls uses, kept apart
//!   from expiry so an expired chain from a trusted CA shows both facts, and
//!   naming the certificate at fault when the chain is untrusted
//!   ([`TrustAnalysis`], [`UntrustedReason`]);
//! - RFC 6125/9525 host name matching as browsers apply it ([`match_name`]),
//!   a name only in the legacy CN accepted only on request ([`LegacyCn`]);
//! - three expiry facts (leaf, earliest served, earliest verified) graded by
//!   a [`Policy`];
//! - weak keys and signatures ([`WeaknessKind`]).
//!
//! What it is not: it does no I/O of any kind. No network (no AIA or OCSP
//! fetching, no handshakes: the probe and core crates do those; the caller
//! passes intermediates it fetched from the URLs this crate reports, see
//! [`ChainAnalysis::issuer_urls_to_fetch`]), no file reading
//! (callers load system or file trust roots and pass the bytes to
//! [`TrustStore::from_der`] / [`TrustStore::from_pem`]), no async runtime,
//! no reading of the system clock (the caller passes `now`, so results are
//! reproducible). Batches run on rayon's pool ([`analyze_many`]).
//!
//! ```
//! use certinspect_analysis::{analyze, AnalysisInput, Policy, TrustStore, TrustVerdict, UntrustedReason};
//!
//! let trust = TrustStore::mozilla(); // or from_pem(bytes the caller read)
//! let chain: Vec<Vec<u8>> = Vec::new(); // DER the probe captured, leaf first
//! let policy = Policy::default();
//! let input = AnalysisInput::new(&chain, &trust, 1_800_000_000, &policy).with_host(Some("www.example.com"));
//! let facts = analyze(&input);
//! assert_eq!(facts.trust.verdict, TrustVerdict::Untrusted { reason: UntrustedReason::NoCertificates });
//! ```
//!
//! - revocation lists read once and asked about certificates ([`Crl`]: the
//!   signature checked against the issuer, scope, freshness), and the
//!   must-staple flag ([`must_staple`]); the caller fetches.
//!
//! Deliberately not covered: fetching revocation data (the caller does), OCSP, CT/SCT
//! checks, and ECDSA P-521 path verification (ring has no P-521 verifier,
//! so such a chain is reported `Untrusted` with webpki's reason), and
//! certificate policies (webpki does not process them; a critical policy
//! extension is reported as [`UntrustedReason::UnsupportedCriticalExtension`]).

mod aia;
mod dn;
mod expiry;
mod facts;
mod names;
mod ocsp;
mod revocation;
mod trust;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use aia::certificates_from_ca_issuers;
pub use dn::distinguished_name;
pub use expiry::{describe_remaining, ExpiryFact, ExpiryFacts, ExpiryState, ExpirySubject, Policy};
pub use facts::{
    parse_certificate, CertificateFacts, EcCurve, KeyType, MalformedReason, PartialCertificateFacts,
    SignatureAlgorithm, SubjectAltName,
};
pub use names::{match_name, match_name_with, LegacyCn, NameMatch, NoMatchReason};
pub use ocsp::{ocsp_request, verify_ocsp_response, OcspAnswer, OcspError, OcspStatus};
pub use revocation::{find_issuer, must_staple, Crl, CrlAnswer, CrlError, CrlStatus};
pub use trust::{
    CertificateLocation, CertificateRef, ChainCompleteness, ChainEnd, PathCertificate, TrustAnalysis, TrustStore,
    TrustVerdict, UntrustedReason,
};

use facts::{fingerprints, parse_internal, partial_facts, weak_signature_hash, Parsed, WeakHash};

/// Errors of this crate. Chain analysis never fails as a whole (a bad
/// certificate becomes a fact about the chain); these come from parsing a
/// single certificate or building a trust store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AnalysisError {
    /// The bytes are not a DER X.509 certificate, an extension we read is
    /// malformed or duplicated, or bytes follow the certificate.
    #[error("not a valid X.509 certificate: {0}")]
    Malformed(MalformedReason),
    /// A trust anchor could not be used.
    #[error("trust anchor #{index} rejected: {reason}")]
    InvalidTrustAnchor {
        /// Position in the input.
        index: usize,
        /// webpki's reason.
        reason: String,
    },
    /// PEM input could not be read.
    #[error("PEM: {0}")]
    Pem(String),
    /// What a caIssuers URL served holds no certificate this crate can read.
    #[error("the issuer certificate fetched from the AIA caIssuers URL cannot be read: {0}")]
    UnreadableIssuerResponse(String),
}

/// A served certificate: its facts, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
// Nearly every served certificate parses, so the big variant is the normal
// one; boxing it would cost an allocation per certificate for nothing.
#[allow(clippy::large_enum_variant)]
pub enum ServedCertificate {
    /// Parsed.
    Parsed(CertificateFacts),
    /// Malformed: not readable whole. The fingerprints still identify the
    /// bytes, and the fields before the extensions are kept when readable.
    Unparsable {
        /// SHA-1 of the bytes, lower-case hex.
        sha1_fingerprint: String,
        /// SHA-256 of the bytes, lower-case hex.
        sha256_fingerprint: String,
        /// What is wrong, as a sentence for people.
        error: String,
        /// What is wrong, typed.
        reason: MalformedReason,
        /// The fields that could be read, if any.
        #[serde(default)]
        partial: Option<PartialCertificateFacts>,
    },
}

impl ServedCertificate {
    /// The facts, when parsed.
    pub fn facts(&self) -> Option<&CertificateFacts> {
        match self {
            ServedCertificate::Parsed(f) => Some(f),
            ServedCertificate::Unparsable { .. } => None,
        }
    }

    /// Why it could not be read, when it could not.
    pub fn malformed(&self) -> Option<&MalformedReason> {
        match self {
            ServedCertificate::Parsed(_) => None,
            ServedCertificate::Unparsable { reason, .. } => Some(reason),
        }
    }

    /// SHA-256 fingerprint, parsed or not.
    pub fn sha256_fingerprint(&self) -> &str {
        match self {
            ServedCertificate::Parsed(f) => &f.sha256_fingerprint,
            ServedCertificate::Unparsable { sha256_fingerprint, .. } => sha256_fingerprint,
        }
    }
}

/// A weakness of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeaknessKind {
    /// RSA modulus under 2048 bits.
    RsaKeyTooSmall {
        /// Modulus size.
        bits: u32,
    },
    /// Signed with SHA-1 (RSA, ECDSA or DSA).
    Sha1Signature,
    /// Signed with MD5.
    Md5Signature,
    /// Signed with MD2.
    Md2Signature,
}

/// A weakness located in the served chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Weakness {
    /// Index in the served chain.
    pub index: usize,
    /// What is weak.
    pub kind: WeaknessKind,
}

/// Weak key and signature facts of one certificate.
///
/// A self-signed certificate's own signature is not judged: clients never
/// check a root's self-signature, so a SHA-1 root is not a weakness (its key
/// size still is).
pub fn weaknesses(facts: &CertificateFacts) -> Vec<WeaknessKind> {
    weaknesses_of(Some(&facts.key), Some(&facts.signature_algorithm), facts.self_signed)
}

/// Weak key and signature facts of a malformed certificate, from what could
/// be read of it. Self-signature cannot be checked there, so a self-issued
/// one (subject equals issuer) has its signature left unjudged, as a root's.
pub fn partial_weaknesses(partial: &PartialCertificateFacts) -> Vec<WeaknessKind> {
    let self_issued = partial.subject.is_some() && partial.subject == partial.issuer;
    weaknesses_of(partial.key.as_ref(), partial.signature_algorithm.as_ref(), self_issued)
}

fn weaknesses_of(
    key: Option<&KeyType>,
    signature: Option<&SignatureAlgorithm>,
    self_signed: bool,
) -> Vec<WeaknessKind> {
    let mut out = Vec::new();
    if let Some(&KeyType::Rsa { bits }) = key {
        if bits < 2048 {
            out.push(WeaknessKind::RsaKeyTooSmall { bits });
        }
    }
    if let (false, Some(signature)) = (self_signed, signature) {
        match weak_signature_hash(&signature.oid) {
            Some(WeakHash::Sha1) => out.push(WeaknessKind::Sha1Signature),
            Some(WeakHash::Md5) => out.push(WeaknessKind::Md5Signature),
            Some(WeakHash::Md2) => out.push(WeaknessKind::Md2Signature),
            None => {}
        }
    }
    out
}

/// Everything known about one served chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainAnalysis {
    /// The analysis time, UNIX seconds.
    pub analyzed_at: i64,
    /// Per served certificate, in served order (leaf first).
    pub certificates: Vec<ServedCertificate>,
    /// Per fetched intermediate ([`AnalysisInput::fetched_intermediates`]),
    /// in the order given; empty when nothing was fetched.
    #[serde(default)]
    pub fetched_certificates: Vec<ServedCertificate>,
    /// Whether the served chain reaches an anchor on its own.
    pub completeness: ChainCompleteness,
    /// The trust verdict, naming the certificate at fault.
    pub trust: TrustAnalysis,
    /// Leaf, earliest served, earliest verified.
    pub expiry: ExpiryFacts,
    /// Weak keys and signatures anywhere in the served chain.
    pub weaknesses: Vec<Weakness>,
    /// Host name match of the leaf, when a host was given.
    pub name_match: Option<NameMatch>,
}

impl ChainAnalysis {
    /// The AIA `caIssuers` URLs worth fetching to complete this chain: those
    /// of the certificate whose issuer is unknown, when the verdict is
    /// [`UntrustedReason::UnknownIssuer`]; empty otherwise.
    ///
    /// The caller (which does I/O) fetches them, reads each body with
    /// [`certificates_from_ca_issuers`], adds the certificates to
    /// [`AnalysisInput::fetched_intermediates`] and analyses again; a
    /// fetched intermediate may itself name an unknown issuer, so repeat
    /// while new URLs appear, a bounded number of times.
    pub fn issuer_urls_to_fetch(&self) -> Vec<String> {
        let TrustVerdict::Untrusted { reason: UntrustedReason::UnknownIssuer { certificate, .. } } =
            &self.trust.verdict
        else {
            return Vec::new();
        };
        let served = match certificate.location {
            CertificateLocation::Served { index } => self.certificates.get(index),
            CertificateLocation::Fetched { index } => self.fetched_certificates.get(index),
        };
        served.and_then(ServedCertificate::facts).map(|f| f.ca_issuers_urls.clone()).unwrap_or_default()
    }
}

/// One item for [`analyze`] / [`analyze_many`]. Borrows everything, so a
/// batch shares one trust store and policy without copying chains. A
/// chain's certificates are any DER holder (`D`: a `Vec<u8>`, or the
/// probe's shared bytes), so the caller's bytes are read where they are.
///
/// Build it with [`AnalysisInput::new`] and the `with_` methods; fields may
/// be added.
#[derive(Debug)]
#[non_exhaustive]
pub struct AnalysisInput<'a, D = Vec<u8>> {
    /// Served chain, DER, leaf first, as the server sent it.
    pub chain: &'a [D],
    /// Host name or IP address the client asked for (SNI or address);
    /// `None` skips name matching.
    pub host: Option<&'a str>,
    /// Trust anchors.
    pub trust: &'a TrustStore,
    /// The analysis time, UNIX seconds.
    pub now_unix: i64,
    /// Expiry thresholds.
    pub policy: &'a Policy,
    /// Intermediates the caller fetched from AIA `caIssuers` URLs (DER, any
    /// order; see [`ChainAnalysis::issuer_urls_to_fetch`]). They can only
    /// complete a path: a chain trusted only thanks to them is
    /// [`TrustVerdict::Incomplete`], never `Trusted`.
    pub fetched_intermediates: &'a [Vec<u8>],
    /// Whether a name found only in the legacy subject CN matches; by
    /// default it does not.
    pub legacy_cn: LegacyCn,
}

// By hand: derived, they would ask `D: Clone` of what is only borrowed.
impl<D> Clone for AnalysisInput<'_, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D> Copy for AnalysisInput<'_, D> {}

impl<'a, D: AsRef<[u8]>> AnalysisInput<'a, D> {
    /// A served chain to judge at `now_unix`, without name matching or
    /// fetched intermediates.
    pub fn new(chain: &'a [D], trust: &'a TrustStore, now_unix: i64, policy: &'a Policy) -> Self {
        AnalysisInput {
            chain,
            host: None,
            trust,
            now_unix,
            policy,
            fetched_intermediates: &[],
            legacy_cn: LegacyCn::Reject,
        }
    }

    /// Matches the leaf against this host name or IP address.
    pub fn with_host(mut self, host: Option<&'a str>) -> Self {
        self.host = host;
        self
    }

    /// Accepts (or not) a name found only in the legacy subject CN.
    pub fn with_legacy_cn(mut self, legacy_cn: LegacyCn) -> Self {
        self.legacy_cn = legacy_cn;
        self
    }

    /// Intermediates fetched from AIA `caIssuers` URLs.
    pub fn with_fetched_intermediates(mut self, fetched: &'a [Vec<u8>]) -> Self {
        self.fetched_intermediates = fetched;
        self
    }
}

/// Analyzes a served chain without name matching (see [`analyze`] to
/// include a host).
pub fn analyze_chain<D: AsRef<[u8]>>(chain: &[D], trust: &TrustStore, now_unix: i64, policy: &Policy) -> ChainAnalysis {
    analyze(&AnalysisInput::new(chain, trust, now_unix, policy))
}

/// Reads every certificate of a list, keeping unparsable ones as such.
fn read_all(ders: &[&[u8]]) -> (Vec<ServedCertificate>, Vec<Option<Parsed>>) {
    let results: Vec<Result<Parsed, AnalysisError>> = ders.iter().map(|der| parse_internal(der)).collect();
    let certificates = ders
        .iter()
        .zip(&results)
        .map(|(der, result)| match result {
            Ok(p) => ServedCertificate::Parsed(p.facts.clone()),
            Err(e) => {
                let (sha1_fingerprint, sha256_fingerprint) = fingerprints(der);
                let reason = match e {
                    AnalysisError::Malformed(reason) => reason.clone(),
                    // parse_internal fails only with Malformed.
                    _ => MalformedReason::NotACertificate,
                };
                ServedCertificate::Unparsable {
                    sha1_fingerprint,
                    sha256_fingerprint,
                    error: e.to_string(),
                    reason,
                    partial: partial_facts(der),
                }
            }
        })
        .collect();
    (certificates, results.into_iter().map(Result::ok).collect())
}

/// Analyzes one served chain.
pub fn analyze<D: AsRef<[u8]>>(input: &AnalysisInput<'_, D>) -> ChainAnalysis {
    let now = input.now_unix;
    let served_der: Vec<&[u8]> = input.chain.iter().map(AsRef::as_ref).collect();
    let fetched_der: Vec<&[u8]> = input.fetched_intermediates.iter().map(Vec::as_slice).collect();
    let (certificates, parsed) = read_all(&served_der);
    let (fetched_certificates, fetched_parsed) = read_all(&fetched_der);

    let completeness = trust::completeness(&parsed, input.trust);
    let pool =
        trust::Pool { served_der: &served_der, served: &parsed, fetched_der: &fetched_der, fetched: &fetched_parsed };
    let (mut trust_analysis, verified) = trust::trust_analysis(&pool, input.trust, now);
    // The verifier's word for a malformed certificate is vaguer than ours
    // (webpki says "extension value invalid" for a duplicated extension).
    if let TrustVerdict::Untrusted { reason: UntrustedReason::Malformed { certificate: Some(at), detail } } =
        &mut trust_analysis.verdict
    {
        let ours = match at.location {
            CertificateLocation::Served { index } => certificates.get(index),
            CertificateLocation::Fetched { index } => fetched_certificates.get(index),
        };
        if let Some(ServedCertificate::Unparsable { reason, partial, .. }) = ours {
            *detail = reason.to_string();
            if let (true, Some(subject)) = (at.subject.is_empty(), partial.as_ref().and_then(|p| p.subject.as_ref())) {
                at.subject = subject.clone();
            }
        }
    }

    let fact_of = |subject: ExpirySubject, f: &CertificateFacts| {
        ExpiryFact::evaluate(subject, f.subject.clone(), f.not_before, f.not_after, now, input.policy)
    };
    let facts_at = |i: usize| parsed.get(i).and_then(|p| p.as_ref()).map(|p| &p.facts);
    let leaf = facts_at(0).map(|f| fact_of(ExpirySubject::Served { index: 0 }, f));
    // min_by_key keeps the first of equal minima, i.e. the lowest index.
    let earliest_served = (0..parsed.len())
        .filter_map(|i| facts_at(i).map(|f| (i, f)))
        .min_by_key(|(_, f)| f.not_after)
        .map(|(index, f)| fact_of(ExpirySubject::Served { index }, f));
    let earliest_verified = verified.and_then(|found| {
        let from_path = found
            .certificates
            .iter()
            .filter_map(|location| match *location {
                CertificateLocation::Served { index } => facts_at(index).map(|f| (ExpirySubject::Served { index }, f)),
                CertificateLocation::Fetched { index } => fetched_parsed
                    .get(index)
                    .and_then(Option::as_ref)
                    .map(|p| (ExpirySubject::Fetched { index }, &p.facts)),
            })
            .min_by_key(|(_, f)| f.not_after)
            .map(|(subject, f)| fact_of(subject, f));
        let from_anchor = found.anchor.and_then(|a| trust::anchor_validity(input.trust, a)).map(|(nb, na, subject)| {
            ExpiryFact::evaluate(ExpirySubject::TrustAnchor, subject, nb, na, now, input.policy)
        });
        match (from_path, from_anchor) {
            (Some(s), Some(a)) if a.not_after < s.not_after => Some(a),
            (Some(s), _) => Some(s),
            (None, a) => a,
        }
    });

    let weaknesses = certificates
        .iter()
        .enumerate()
        .flat_map(|(index, certificate)| {
            let kinds = match certificate {
                ServedCertificate::Parsed(facts) => weaknesses(facts),
                ServedCertificate::Unparsable { partial: Some(partial), .. } => partial_weaknesses(partial),
                ServedCertificate::Unparsable { partial: None, .. } => Vec::new(),
            };
            kinds.into_iter().map(move |kind| Weakness { index, kind })
        })
        .collect();

    let name_match = input.host.map(|host| match facts_at(0) {
        Some(f) => match_name_with(f, host, input.legacy_cn),
        None => NameMatch::NoMatch { reason: NoMatchReason::LeafUnparsable },
    });

    ChainAnalysis {
        analyzed_at: now,
        certificates,
        fetched_certificates,
        completeness,
        trust: trust_analysis,
        expiry: ExpiryFacts { leaf, earliest_served, earliest_verified },
        weaknesses,
        name_match,
    }
}

/// Analyzes many chains on rayon's thread pool; results are in input order.
///
/// Uses the current pool: call it inside `ThreadPool::install` to bound
/// the threads it takes from the rest of the process. A batch smaller than
/// [`PARALLEL_FROM`] is analysed on the calling thread: handing it to the
/// pool wakes a worker and puts the caller to sleep, two context switches
/// that cost more than the split saves (a streaming caller, whose batches
/// are whatever has arrived, mostly has one or two chains at a time).
pub fn analyze_many<D: AsRef<[u8]> + Sync>(items: &[AnalysisInput<'_, D>]) -> Vec<ChainAnalysis> {
    if items.len() < PARALLEL_FROM {
        items.iter().map(analyze).collect()
    } else {
        items.par_iter().map(analyze).collect()
    }
}

/// The smallest batch [`analyze_many`] splits across the thread pool.
pub const PARALLEL_FROM: usize = 4;
