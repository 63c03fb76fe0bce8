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
        let anchor = webpki::anchor_from_trusted_cert(&cert).map_err(|e| webpki_sentence(&e))?.to_owned();
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
/// and the trust store alone: nothing fetched counts here (fetched
/// intermediates show in [`TrustAnalysis::missing_intermediates`]).
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

/// The certificates a trust judgement can draw on: the served chain
/// (leaf first) followed by the intermediates the caller fetched. Indices
/// below `served.len()` are served, the rest fetched.
pub(crate) struct Pool<'a> {
    pub served_der: &'a [&'a [u8]],
    pub served: &'a [Option<Parsed>],
    pub fetched_der: &'a [&'a [u8]],
    pub fetched: &'a [Option<Parsed>],
}

impl Pool<'_> {
    fn len(&self) -> usize {
        self.served.len() + self.fetched.len()
    }

    fn parsed(&self, i: usize) -> Option<&Parsed> {
        match i.checked_sub(self.served.len()) {
            None => self.served[i].as_ref(),
            Some(f) => self.fetched.get(f).and_then(Option::as_ref),
        }
    }

    fn der(&self, i: usize) -> &[u8] {
        match i.checked_sub(self.served.len()) {
            None => self.served_der[i],
            Some(f) => self.fetched_der[f],
        }
    }

    fn location(&self, i: usize) -> CertificateLocation {
        match i.checked_sub(self.served.len()) {
            None => CertificateLocation::Served { index: i },
            Some(index) => CertificateLocation::Fetched { index },
        }
    }

    fn cert_ref(&self, i: usize) -> CertificateRef {
        CertificateRef {
            location: self.location(i),
            subject: self.parsed(i).map_or_else(String::new, |p| p.facts.subject.clone()),
        }
    }

    /// The pool without the fetched certificates.
    fn served_only(&self) -> Pool<'_> {
        Pool { served_der: self.served_der, served: self.served, fetched_der: &[], fetched: &[] }
    }
}

/// Follows issuer names from the leaf through the pool: the walk every
/// completeness and diagnosis question starts from. Returns the pool
/// indices walked (leaf first) and how the walk ends.
fn walk(pool: &Pool<'_>, trust: &TrustStore) -> (Vec<usize>, ChainEnd) {
    if pool.served.is_empty() {
        return (Vec::new(), ChainEnd::Empty);
    }
    let mut path = vec![0usize];
    let Some(mut current) = pool.parsed(0) else {
        return (path, ChainEnd::Unparsable { index: 0 });
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
        // Next hop: an unvisited certificate whose subject is our issuer;
        // prefer one whose SKI equals our AKI (cross-signed CAs share a
        // subject), and a served one over a fetched one.
        let candidates: Vec<usize> = (0..pool.len())
            .filter(|i| !path.contains(i) && pool.parsed(*i).is_some_and(|p| p.subject_raw == current.issuer_raw))
            .collect();
        let next = candidates
            .iter()
            .copied()
            .find(|&i| {
                let p = pool.parsed(i).expect("filtered on Some");
                current.facts.authority_key_id.is_some() && p.facts.subject_key_id == current.facts.authority_key_id
            })
            .or_else(|| candidates.first().copied());
        match next {
            Some(i) => {
                path.push(i);
                current_index = i;
                current = pool.parsed(i).expect("filtered on Some");
            }
            None => break ChainEnd::MissingIssuer { issuer: current.facts.issuer.clone() },
        }
    };
    (path, end)
}

pub(crate) fn completeness(parsed: &[Option<Parsed>], trust: &TrustStore) -> ChainCompleteness {
    let pool = Pool { served_der: &[], served: parsed, fetched_der: &[], fetched: &[] };
    let (path, ends_at) = walk(&pool, trust);
    let in_order = path.iter().enumerate().all(|(pos, &i)| pos == i);
    let unused = (0..parsed.len()).filter(|i| !path.contains(i)).collect();
    let (complete, reaches_trust_anchor) = match &ends_at {
        ChainEnd::TrustAnchor { .. } => (true, true),
        ChainEnd::SelfSigned { in_trust_store, .. } => (true, *in_trust_store),
        _ => (false, false),
    };
    ChainCompleteness { complete, reaches_trust_anchor, ends_at, path, in_order, unused }
}

/// Where a certificate named in a verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CertificateLocation {
    /// The served chain, by index (0 is the leaf).
    Served {
        /// Index in the served chain.
        index: usize,
    },
    /// An intermediate the caller fetched (AIA caIssuers), by index in
    /// [`crate::AnalysisInput::fetched_intermediates`].
    Fetched {
        /// Index in the fetched list.
        index: usize,
    },
}

/// A certificate named in a verdict: where it is and whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CertificateRef {
    /// Served or fetched, and its index.
    pub location: CertificateLocation,
    /// Its subject, RFC 4514 (empty when the certificate could not be parsed).
    pub subject: String,
}

impl CertificateRef {
    /// True for the served leaf.
    pub fn is_leaf(&self) -> bool {
        self.location == CertificateLocation::Served { index: 0 }
    }
}

impl fmt::Display for CertificateRef {
    /// "the leaf certificate 'CN=a'", "served certificate #2 'CN=b'",
    /// "fetched intermediate 'CN=c'".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            CertificateLocation::Served { index: 0 } => f.write_str("the leaf certificate")?,
            CertificateLocation::Served { index } => write!(f, "served certificate #{index}")?,
            CertificateLocation::Fetched { .. } => f.write_str("the fetched intermediate")?,
        }
        if !self.subject.is_empty() {
            write!(f, " '{}'", self.subject)?;
        }
        Ok(())
    }
}

/// Why a chain does not validate to a trust anchor, naming the certificate
/// at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UntrustedReason {
    /// Nothing was served.
    NoCertificates,
    /// The top certificate's issuer is neither served, fetched, nor a trust
    /// anchor: a CA nobody here trusts (or an intermediate that could not be
    /// found).
    UnknownIssuer {
        /// The certificate whose issuer is unknown.
        certificate: CertificateRef,
        /// That issuer's name, RFC 4514.
        issuer: String,
    },
    /// The chain ends at a served self-signed root that is not a trust anchor.
    UntrustedRoot {
        /// The root.
        certificate: CertificateRef,
    },
    /// The leaf is self-signed and not a trust anchor.
    SelfSigned {
        /// The leaf.
        certificate: CertificateRef,
    },
    /// A signature does not verify with its issuer's key.
    BadSignature {
        /// The certificate whose signature is bad.
        certificate: CertificateRef,
        /// The issuer it names, RFC 4514.
        issuer: String,
    },
    /// A certificate is signed with an algorithm clients refuse (SHA-1, MD5,
    /// ...) or one that does not fit its issuer's key.
    UnsupportedSignatureAlgorithm {
        /// The certificate, when it could be identified.
        certificate: Option<CertificateRef>,
        /// The algorithm's name (or dotted OID).
        algorithm: String,
    },
    /// A certificate's extended key usage does not allow TLS server
    /// authentication.
    ExtendedKeyUsage {
        /// The certificate, when it could be identified.
        certificate: Option<CertificateRef>,
    },
    /// A CA certificate was served as the leaf.
    CaCertificateAsLeaf {
        /// The leaf.
        certificate: CertificateRef,
    },
    /// A certificate that is not a CA issued another one.
    IssuerNotCa {
        /// The non-CA certificate used as an issuer, when identified.
        certificate: Option<CertificateRef>,
    },
    /// The leaf's names are outside a CA's name constraints.
    NameConstraints {
        /// The leaf.
        certificate: CertificateRef,
    },
    /// A CA's path length constraint is exceeded.
    PathLength,
    /// A certificate carries a critical extension clients do not process
    /// (policy constraints, inhibit any-policy, ...): clients must refuse it.
    UnsupportedCriticalExtension {
        /// The certificate, when identified.
        certificate: Option<CertificateRef>,
        /// The extension's name or dotted OID, when identified.
        extension: Option<String>,
    },
    /// A certificate is malformed for the verifier.
    Malformed {
        /// The certificate, when identified.
        certificate: Option<CertificateRef>,
        /// What is wrong, as a sentence fragment.
        detail: String,
    },
    /// Anything else the verifier refused (its reason, as a short name).
    Other {
        /// The verifier's reason.
        detail: String,
    },
}

impl fmt::Display for UntrustedReason {
    /// A sentence fragment for people, e.g. "issued by an unknown CA: the
    /// issuer 'CN=X' of the leaf certificate 'CN=a' is not a trusted root".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_a = |c: &Option<CertificateRef>, fallback: &str| {
            c.as_ref().map_or_else(|| fallback.to_owned(), ToString::to_string)
        };
        match self {
            UntrustedReason::NoCertificates => f.write_str("the server sent no certificate"),
            UntrustedReason::UnknownIssuer { certificate, issuer } => write!(
                f,
                "issued by an unknown CA: the issuer '{issuer}' of {certificate} is neither a trusted root nor in the chain"
            ),
            UntrustedReason::UntrustedRoot { certificate } => {
                write!(f, "the chain ends at a root that is not trusted: {certificate}")
            }
            UntrustedReason::SelfSigned { certificate } => {
                write!(f, "self-signed: {certificate} is signed by its own key and not trusted")
            }
            UntrustedReason::BadSignature { certificate, issuer } => {
                write!(f, "the signature of {certificate} does not verify with the key of its issuer '{issuer}'")
            }
            UntrustedReason::UnsupportedSignatureAlgorithm { certificate, algorithm } => write!(
                f,
                "{} is signed with {algorithm}, which clients do not accept",
                or_a(certificate, "a certificate in the chain")
            ),
            UntrustedReason::ExtendedKeyUsage { certificate } => write!(
                f,
                "the extended key usage of {} does not allow TLS server authentication",
                or_a(certificate, "a certificate in the chain")
            ),
            UntrustedReason::CaCertificateAsLeaf { certificate } => {
                write!(f, "{certificate} is a CA certificate, not a server certificate")
            }
            UntrustedReason::IssuerNotCa { certificate } => write!(
                f,
                "{} issues another certificate but is not a CA",
                or_a(certificate, "a certificate in the chain")
            ),
            UntrustedReason::NameConstraints { certificate } => {
                write!(f, "the names of {certificate} are outside its CA's name constraints")
            }
            UntrustedReason::PathLength => f.write_str("the chain is longer than a CA's path length constraint allows"),
            UntrustedReason::UnsupportedCriticalExtension { certificate, extension } => write!(
                f,
                "{} has a critical extension{} that clients do not process",
                or_a(certificate, "a certificate in the chain"),
                extension.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            UntrustedReason::Malformed { certificate, detail } => {
                write!(f, "{} is malformed: {detail}", or_a(certificate, "a certificate in the chain"))
            }
            UntrustedReason::Other { detail } => write!(f, "the verifier refused the chain ({detail})"),
        }
    }
}

/// The trust verdict for a served chain at the analysis time.
///
/// A chain that builds no path to a trust anchor is `Untrusted`, whatever
/// else is true of it; the time and completeness verdicts only apply to
/// chains that do build one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrustVerdict {
    /// webpki built a path from the served chain to a trust anchor, valid
    /// now, for server auth.
    Trusted,
    /// A path to a trust anchor builds when validity dates are ignored, and
    /// a certificate on it is past its notAfter.
    Expired {
        /// The first expired certificate on the path, leaf first.
        certificate: CertificateRef,
    },
    /// A path builds when validity dates are ignored, and a certificate on
    /// it is before its notBefore.
    NotYetValid {
        /// The first such certificate on the path, leaf first.
        certificate: CertificateRef,
    },
    /// The served chain is incomplete: a valid path to a trust anchor exists
    /// only with fetched intermediates ([`TrustAnalysis::missing_intermediates`]).
    /// Clients that do not fetch intermediates (most non-browsers) fail.
    Incomplete,
    /// No path to a trust anchor, for this reason.
    Untrusted {
        /// Why, naming the certificate at fault.
        reason: UntrustedReason,
    },
}

impl fmt::Display for TrustVerdict {
    /// A sentence fragment for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustVerdict::Trusted => f.write_str("trusted"),
            TrustVerdict::Expired { certificate } => write!(f, "{certificate} has expired"),
            TrustVerdict::NotYetValid { certificate } => write!(f, "{certificate} is not valid yet"),
            TrustVerdict::Incomplete => f.write_str(
                "the served chain is incomplete; a path to a trusted root exists only with the fetched intermediate, so clients that do not fetch intermediates will fail",
            ),
            TrustVerdict::Untrusted { reason } => write!(f, "not trusted: {reason}"),
        }
    }
}

/// A certificate on a verified path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PathCertificate {
    /// A served certificate, by index in the served chain.
    Served {
        /// Index in the served chain.
        index: usize,
    },
    /// A fetched intermediate, by index in the fetched list.
    Fetched {
        /// Index in the fetched list.
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
    /// A path to a trust anchor builds when validity dates are ignored
    /// (with fetched intermediates where the served chain lacks them), even
    /// when its certificates were never all valid at one instant (an expired
    /// leaf served with its issuer's re-issued certificate). True for
    /// `Trusted`, `Incomplete`, `Expired` and `NotYetValid`.
    pub trusted_ignoring_time: bool,
    /// The path found (valid now, or else valid when dates are ignored),
    /// leaf first, anchor last.
    pub verified_path: Option<Vec<PathCertificate>>,
    /// The fetched intermediates the path needed: non-empty exactly when the
    /// served chain is incomplete and fetching completed it.
    #[serde(default)]
    pub missing_intermediates: Vec<CertificateRef>,
    /// webpki's error at the analysis time, as a short name, when there was one.
    pub webpki_error: Option<String>,
}

/// A path reduced to owned data: pool indices (leaf first) and the
/// anchor's index in the store.
#[derive(Debug, Clone)]
pub(crate) struct PathFound {
    pub certificates: Vec<CertificateLocation>,
    pub anchor: Option<usize>,
}

/// webpki at one instant over the pool's intermediates.
fn webpki_verify(
    leaf: &EndEntityCert<'_>,
    pool: &Pool<'_>,
    intermediates: &[CertificateDer<'_>],
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
    let mut certificates = vec![CertificateLocation::Served { index: 0 }];
    for cert in path.intermediate_certificates() {
        let der = cert.der();
        if let Some(i) = (1..pool.len()).find(|&i| pool.der(i) == der.as_ref()) {
            certificates.push(pool.location(i));
        }
    }
    Ok(PathFound { certificates, anchor: trust.index_of(path.anchor()) })
}

/// Largest number of instants tried when looking for a moment at which a
/// whole path is valid; each is one webpki path build.
const MAX_RETRY_INSTANTS: usize = 16;

/// The outcome of looking for a path over one pool.
enum Search {
    /// Valid at the analysis time.
    Now(PathFound),
    /// Valid only when validity dates are set aside; webpki's error at the
    /// analysis time.
    IgnoringTime(PathFound, webpki::Error),
    /// No path: the most telling webpki error seen, and webpki's error at
    /// the analysis time.
    None(webpki::Error, webpki::Error),
}

/// Looks for a path to an anchor over `pool`: at `now`, then at other
/// instants. When a path is valid at some instant, the latest notBefore of
/// its certificates is such an instant, so trying every notBefore in the
/// pool finds it (closest to `now` first).
fn search(leaf: &EndEntityCert<'_>, pool: &Pool<'_>, trust: &TrustStore, now: i64) -> Search {
    let intermediates: Vec<CertificateDer<'_>> = (1..pool.len()).map(|i| CertificateDer::from(pool.der(i))).collect();
    let now_error = match webpki_verify(leaf, pool, &intermediates, trust, now) {
        Ok(found) => return Search::Now(found),
        Err(e) => e,
    };
    let mut instants: Vec<i64> = (0..pool.len()).filter_map(|i| pool.parsed(i)).map(|p| p.facts.not_before).collect();
    instants.sort_unstable_by_key(|t| (t.abs_diff(now), *t));
    instants.dedup();
    let mut best_error: Option<webpki::Error> = None;
    for t in instants.into_iter().filter(|&t| t != now).take(MAX_RETRY_INSTANTS) {
        match webpki_verify(leaf, pool, &intermediates, trust, t) {
            Ok(found) => return Search::IgnoringTime(found, now_error),
            // The first error that is not about time says what else is
            // wrong: at `now` an expired leaf hides everything else, since
            // webpki checks the leaf's dates before looking for its issuer.
            Err(e) if !is_time_error(&e) => {
                best_error.get_or_insert(e);
            }
            Err(_) => {}
        }
    }
    match best_error {
        Some(error) => Search::None(error, now_error),
        // Only dates stood in the way, yet no single instant suits every
        // certificate: validity periods that do not overlap, as when an
        // expired leaf is served with its issuer's re-issued certificate.
        None => match link_by_link(leaf, pool, trust) {
            Some(found) => Search::IgnoringTime(found, now_error),
            None => Search::None(now_error.clone(), now_error),
        },
    }
}

/// Checks the issuer-name walk link by link with validity dates set aside,
/// for chains whose certificates were never all valid at one instant (so
/// webpki, which checks dates while building, cannot judge them whole).
///
/// The leaf's link is checked by webpki itself, at an instant inside the
/// leaf's validity, with its issuer standing in as the anchor (webpki does
/// not check an anchor's dates): signature, key usage, CA flag and the
/// issuer's name constraints. Each link above it must be signed by the next
/// certificate's key, which must be a CA's; the top must be signed by a
/// trust anchor of its issuer's name, or be a served root in the store.
fn link_by_link(leaf: &EndEntityCert<'_>, pool: &Pool<'_>, trust: &TrustStore) -> Option<PathFound> {
    use x509_parser::certificate::X509Certificate;
    use x509_parser::x509::SubjectPublicKeyInfo;

    let (mut path, end) = walk(pool, trust);
    let anchor_root = match end {
        ChainEnd::TrustAnchor { .. } => None,
        ChainEnd::SelfSigned { index, in_trust_store: true } if index != 0 => Some(index),
        _ => return None,
    };
    if anchor_root.is_some() {
        // The served root is the anchor, not part of the path.
        path.pop();
    }
    let issuer_index = *path.get(1).or(anchor_root.as_ref())?;
    let leaf_facts = &pool.parsed(0)?.facts;
    let issuer_der = CertificateDer::from(pool.der(issuer_index));
    let stand_in = webpki::anchor_from_trusted_cert(&issuer_der).ok()?;
    let time = UnixTime::since_unix_epoch(Duration::from_secs(leaf_facts.not_before.max(0) as u64));
    leaf.verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &[stand_in], &[], time, KeyUsage::server_auth(), None, None)
        .ok()?;

    let cert_at = |i: usize| X509Certificate::from_der(pool.der(i)).ok().map(|(_, c)| c);
    let serves_tls = |p: &Parsed| {
        let ekus = &p.facts.extended_key_usages;
        ekus.is_empty() || ekus.iter().any(|e| e == "serverAuth" || e == "anyExtendedKeyUsage")
    };
    let mut links: Vec<usize> = path.clone();
    links.extend(anchor_root);
    for pair in links.windows(2).skip(1) {
        let (child, parent) = (cert_at(pair[0])?, cert_at(pair[1])?);
        let parent_facts = &pool.parsed(pair[1])?.facts;
        if parent_facts.is_ca != Some(true) || !serves_tls(pool.parsed(pair[0])?) {
            return None;
        }
        child.verify_signature(Some(parent.public_key())).ok()?;
    }
    let anchor = match anchor_root {
        Some(root) => {
            let root = pool.parsed(root)?;
            trust.anchors.iter().position(|a| {
                a.subject.as_ref() == root.subject_raw.as_slice()
                    && a.subject_public_key_info.as_ref() == dn::der_contents(&root.spki_raw)
            })?
        }
        None => {
            let top = *path.last()?;
            let top_parsed = pool.parsed(top)?;
            if top != 0 && !serves_tls(top_parsed) {
                return None;
            }
            let child = cert_at(top)?;
            trust.anchors.iter().position(|a| {
                let spki_der = dn::wrap_sequence(a.subject_public_key_info.as_ref());
                a.subject.as_ref() == top_parsed.issuer_raw.as_slice()
                    && SubjectPublicKeyInfo::from_der(&spki_der)
                        .is_ok_and(|(_, spki)| child.verify_signature(Some(&spki)).is_ok())
            })?
        }
    };
    Some(PathFound { certificates: path.iter().map(|&i| pool.location(i)).collect(), anchor: Some(anchor) })
}

fn is_time_error(error: &webpki::Error) -> bool {
    matches!(error, webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. })
}

/// Runs webpki and classifies the outcome. Also returns the path, for the
/// verified-chain expiry fact.
pub(crate) fn trust_analysis(pool: &Pool<'_>, trust: &TrustStore, now: i64) -> (TrustAnalysis, Option<PathFound>) {
    let untrusted = |reason: UntrustedReason, webpki_error: Option<String>| TrustAnalysis {
        verdict: TrustVerdict::Untrusted { reason },
        trusted_ignoring_time: false,
        verified_path: None,
        missing_intermediates: Vec::new(),
        webpki_error,
    };
    let Some(leaf_der) = pool.served_der.first() else {
        return (untrusted(UntrustedReason::NoCertificates, None), None);
    };
    let leaf_der = CertificateDer::from(*leaf_der);
    let leaf = match EndEntityCert::try_from(&leaf_der) {
        Ok(leaf) => leaf,
        Err(e) => {
            let reason =
                UntrustedReason::Malformed { certificate: Some(pool.cert_ref(0)), detail: webpki_sentence(&e) };
            return (untrusted(reason, Some(describe(&e))), None);
        }
    };

    let served = pool.served_only();
    let mut outcome = search(&leaf, &served, trust, now);
    if matches!(outcome, Search::None(..)) && !pool.fetched.is_empty() {
        // Keep the served-only errors when the fetched certificates do not help.
        if let found @ (Search::Now(_) | Search::IgnoringTime(..)) = search(&leaf, pool, trust, now) {
            outcome = found;
        }
    }

    let (found, now_error) = match outcome {
        Search::None(error, now_error) => {
            let reason = diagnose(&error, pool, trust);
            return (untrusted(reason, Some(describe(&now_error))), None);
        }
        Search::Now(found) => (found, None),
        Search::IgnoringTime(found, now_error) => (found, Some(now_error)),
    };
    let missing_intermediates: Vec<CertificateRef> = found
        .certificates
        .iter()
        .filter_map(|location| match location {
            CertificateLocation::Fetched { index } => Some(pool.cert_ref(pool.served.len() + index)),
            CertificateLocation::Served { .. } => None,
        })
        .collect();
    let on_path = |location: &CertificateLocation| match *location {
        CertificateLocation::Served { index } => index,
        CertificateLocation::Fetched { index } => pool.served.len() + index,
    };
    let out_of_time = |check: &dyn Fn(&crate::facts::CertificateFacts) -> bool| {
        found.certificates.iter().map(on_path).find(|&i| pool.parsed(i).is_some_and(|p| check(&p.facts)))
    };
    let verdict = if let Some(i) = out_of_time(&|f| now > f.not_after) {
        TrustVerdict::Expired { certificate: pool.cert_ref(i) }
    } else if let Some(i) = out_of_time(&|f| now < f.not_before) {
        TrustVerdict::NotYetValid { certificate: pool.cert_ref(i) }
    } else if let Some(error) = &now_error {
        // A path valid at another instant, yet every certificate on it is
        // within its dates now and webpki still refuses: its reason stands.
        return (untrusted(diagnose(error, pool, trust), Some(describe(error))), None);
    } else if !missing_intermediates.is_empty() {
        TrustVerdict::Incomplete
    } else {
        TrustVerdict::Trusted
    };
    let analysis = TrustAnalysis {
        verdict,
        trusted_ignoring_time: true,
        verified_path: Some(path_facts(&found, trust)),
        missing_intermediates,
        webpki_error: now_error.as_ref().map(describe),
    };
    (analysis, Some(found))
}

/// Names the certificate at fault for a chain that builds no path. webpki
/// says what went wrong but not where; the name walk and per-certificate
/// facts say where.
fn diagnose(error: &webpki::Error, pool: &Pool<'_>, trust: &TrustStore) -> UntrustedReason {
    let (path, end) = walk(pool, trust);
    let on_walk = |check: &dyn Fn(&Parsed) -> bool| -> Option<CertificateRef> {
        path.iter().copied().find(|&i| pool.parsed(i).is_some_and(check)).map(|i| pool.cert_ref(i))
    };
    #[allow(deprecated)]
    match error {
        webpki::Error::UnknownIssuer
        | webpki::Error::CertExpired { .. }
        | webpki::Error::CertNotValidYet { .. }
        | webpki::Error::InvalidSignatureForPublicKey => {
            if let Some(reason) = bad_link(pool, &path, trust) {
                return reason;
            }
            match end {
                ChainEnd::SelfSigned { index: 0, in_trust_store: false } => {
                    UntrustedReason::SelfSigned { certificate: pool.cert_ref(0) }
                }
                ChainEnd::SelfSigned { index, in_trust_store: false } => {
                    UntrustedReason::UntrustedRoot { certificate: pool.cert_ref(index) }
                }
                ChainEnd::MissingIssuer { issuer } | ChainEnd::TrustAnchor { anchor_subject: issuer } => {
                    let top = *path.last().expect("a walk over a non-empty chain has the leaf");
                    UntrustedReason::UnknownIssuer { certificate: pool.cert_ref(top), issuer }
                }
                _ => UntrustedReason::Other { detail: describe(error) },
            }
        }
        webpki::Error::UnsupportedSignatureAlgorithmContext(webpki::UnsupportedSignatureAlgorithmContext {
            signature_algorithm_id,
            ..
        })
        | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(
            webpki::UnsupportedSignatureAlgorithmForPublicKeyContext { signature_algorithm_id, .. },
        ) => {
            let oid = oid_of(signature_algorithm_id);
            UntrustedReason::UnsupportedSignatureAlgorithm {
                certificate: on_walk(&|p| p.facts.signature_algorithm.oid == oid),
                algorithm: crate::facts::signature_name(&oid).map_or(oid.clone(), str::to_owned),
            }
        }
        webpki::Error::UnsupportedSignatureAlgorithm
        | webpki::Error::UnsupportedSignatureAlgorithmForPublicKey
        | webpki::Error::SignatureAlgorithmMismatch => UntrustedReason::UnsupportedSignatureAlgorithm {
            certificate: None,
            algorithm: "an unsupported algorithm".to_owned(),
        },
        webpki::Error::RequiredEkuNotFound
        | webpki::Error::RequiredEkuNotFoundContext(_)
        | webpki::Error::EmptyEkuExtension => UntrustedReason::ExtendedKeyUsage {
            certificate: on_walk(&|p| {
                let ekus = &p.facts.extended_key_usages;
                !ekus.is_empty() && !ekus.iter().any(|e| e == "serverAuth" || e == "anyExtendedKeyUsage")
            }),
        },
        webpki::Error::CaUsedAsEndEntity => UntrustedReason::CaCertificateAsLeaf { certificate: pool.cert_ref(0) },
        webpki::Error::EndEntityUsedAsCa => UntrustedReason::IssuerNotCa {
            certificate: path
                .iter()
                .skip(1)
                .copied()
                .find(|&i| pool.parsed(i).is_some_and(|p| p.facts.is_ca != Some(true)))
                .map(|i| pool.cert_ref(i)),
        },
        webpki::Error::NameConstraintViolation => UntrustedReason::NameConstraints { certificate: pool.cert_ref(0) },
        webpki::Error::PathLenConstraintViolated => UntrustedReason::PathLength,
        webpki::Error::UnsupportedCriticalExtension => {
            let found = path.iter().copied().find_map(|i| {
                unsupported_critical_extension(pool.der(i)).map(|extension| (pool.cert_ref(i), extension))
            });
            UntrustedReason::UnsupportedCriticalExtension {
                certificate: found.as_ref().map(|(c, _)| c.clone()),
                extension: found.map(|(_, e)| e),
            }
        }
        webpki::Error::BadDer
        | webpki::Error::BadDerTime
        | webpki::Error::ExtensionValueInvalid
        | webpki::Error::MalformedExtensions
        | webpki::Error::TrailingData(_)
        | webpki::Error::UnsupportedCertVersion
        | webpki::Error::InvalidCertValidity
        | webpki::Error::InvalidSerialNumber
        | webpki::Error::MalformedDnsIdentifier
        | webpki::Error::MalformedNameConstraint => UntrustedReason::Malformed {
            // The first certificate webpki cannot read: on the walk, else
            // anywhere (the walk skips what does not parse).
            certificate: path
                .iter()
                .copied()
                .chain(0..pool.len())
                .find(|&i| EndEntityCert::try_from(&CertificateDer::from(pool.der(i))).is_err())
                .map(|i| pool.cert_ref(i)),
            detail: webpki_sentence(error),
        },
        other => UntrustedReason::Other { detail: describe(other) },
    }
}

/// The first link on the walk whose signature does not verify with the
/// next certificate's key (or, at the top, the named anchor's key).
fn bad_link(pool: &Pool<'_>, path: &[usize], trust: &TrustStore) -> Option<UntrustedReason> {
    use x509_parser::certificate::X509Certificate;
    use x509_parser::error::X509Error;
    use x509_parser::x509::SubjectPublicKeyInfo;

    let cert_at = |i: usize| X509Certificate::from_der(pool.der(i)).ok().map(|(_, c)| c);
    let fails = |child: &X509Certificate<'_>, spki: &SubjectPublicKeyInfo<'_>| {
        matches!(child.verify_signature(Some(spki)), Err(X509Error::SignatureVerificationError))
    };
    for pair in path.windows(2) {
        let (Some(child), Some(parent)) = (cert_at(pair[0]), cert_at(pair[1])) else { continue };
        if fails(&child, parent.public_key()) {
            return Some(UntrustedReason::BadSignature {
                certificate: pool.cert_ref(pair[0]),
                issuer: pool.cert_ref(pair[1]).subject,
            });
        }
    }
    // The top certificate against every anchor of its issuer's name: bad
    // when at least one such anchor exists and none verifies it.
    let top = *path.last()?;
    let parsed = pool.parsed(top)?;
    if parsed.facts.self_signed {
        return None;
    }
    let child = cert_at(top)?;
    let anchors: Vec<Vec<u8>> = trust
        .anchors
        .iter()
        .filter(|a| a.subject.as_ref() == parsed.issuer_raw.as_slice())
        .map(|a| dn::wrap_sequence(a.subject_public_key_info.as_ref()))
        .collect();
    let spkis: Vec<SubjectPublicKeyInfo<'_>> =
        anchors.iter().filter_map(|der| SubjectPublicKeyInfo::from_der(der).ok().map(|(_, s)| s)).collect();
    if !spkis.is_empty() && spkis.iter().all(|spki| fails(&child, spki)) {
        return Some(UntrustedReason::BadSignature {
            certificate: pool.cert_ref(top),
            issuer: parsed.facts.issuer.clone(),
        });
    }
    None
}

/// Extensions webpki processes (RFC 5280 4.2 ids); a critical extension
/// outside this list makes it refuse the certificate.
const WEBPKI_EXTENSIONS: &[&str] =
    &["2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.30", "2.5.29.31", "2.5.29.37", "1.3.6.1.5.5.7.1.1"];

fn unsupported_critical_extension(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    cert.extensions().iter().find(|e| e.critical && !WEBPKI_EXTENSIONS.contains(&e.oid.to_id_string().as_str())).map(
        |e| {
            let oid = e.oid.to_id_string();
            match crate::facts::extension_name(&oid) {
                Some(name) => format!("{name}, {oid}"),
                None => oid,
            }
        },
    )
}

/// A webpki error about encoding, as a sentence fragment for people.
fn webpki_sentence(error: &webpki::Error) -> String {
    match error {
        webpki::Error::BadDer => "its DER encoding is invalid".to_owned(),
        webpki::Error::BadDerTime => "a validity date is not a valid DER time".to_owned(),
        webpki::Error::ExtensionValueInvalid => {
            "an extension's value is invalid (or an extension appears twice)".to_owned()
        }
        webpki::Error::MalformedExtensions => "its extensions block is malformed".to_owned(),
        webpki::Error::TrailingData(_) => "there are extra bytes after a DER element".to_owned(),
        webpki::Error::UnsupportedCertVersion => "it is not an X.509 version 3 certificate".to_owned(),
        webpki::Error::InvalidCertValidity => "its validity period ends before it begins".to_owned(),
        webpki::Error::InvalidSerialNumber => "its serial number is invalid".to_owned(),
        webpki::Error::MalformedDnsIdentifier => "a DNS name in it is malformed".to_owned(),
        webpki::Error::MalformedNameConstraint => "a name constraint is malformed".to_owned(),
        other => format!("the verifier refused it ({})", describe(other)),
    }
}

/// Dotted OID from an AlgorithmIdentifier's contents (OID first).
fn oid_of(alg_id: &[u8]) -> String {
    match alg_id {
        [0x06, len, rest @ ..] if rest.len() >= *len as usize => {
            x509_parser::der_parser::oid::Oid::new(rest[..*len as usize].into()).to_id_string()
        }
        _ => hex::encode(alg_id),
    }
}

/// A short, stable description of a webpki error: the variant name, plus
/// the signature algorithm OID where that is the point. webpki's `Debug`
/// output lists every supported algorithm in DER, far too much for a report.
fn describe(error: &webpki::Error) -> String {
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
    let mut out: Vec<PathCertificate> = found
        .certificates
        .iter()
        .map(|location| match *location {
            CertificateLocation::Served { index } => PathCertificate::Served { index },
            CertificateLocation::Fetched { index } => PathCertificate::Fetched { index },
        })
        .collect();
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
