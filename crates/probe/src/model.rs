//! What a probe observed: the result types, all serde-serializable.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::target::ProbeTarget;

/// One certificate as served, DER-encoded. Serialized as standard base64.
///
/// The bytes are shared: the probe copies a certificate once, out of the
/// handshake, and every clone (the chain cache, the analysis, the results)
/// points at that one copy.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CertDer(Arc<[u8]>);

impl CertDer {
    /// A certificate from its DER bytes.
    pub fn new(der: impl Into<Arc<[u8]>>) -> Self {
        CertDer(der.into())
    }

    /// The DER bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `self` and `other` are one copy of the bytes, not two equal ones.
    pub fn shares_bytes_with(&self, other: &CertDer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl AsRef<[u8]> for CertDer {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for CertDer {
    fn from(der: Vec<u8>) -> Self {
        CertDer::new(der)
    }
}

impl From<&[u8]> for CertDer {
    fn from(der: &[u8]) -> Self {
        CertDer::new(der)
    }
}

impl fmt::Debug for CertDer {
    // Thousands of bytes per certificate would drown any debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertDer({} bytes)", self.0.len())
    }
}

impl Serialize for CertDer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        base64_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for CertDer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        base64_bytes::deserialize(d).map(CertDer::new)
    }
}

/// A distinguished name (an X.501 `Name`) exactly as a server sent it,
/// DER-encoded including its outer SEQUENCE: the bytes of a certificate's
/// subject field. Serialized as standard base64. Rendering it for people
/// (RFC 4514) is the analysis crate's job, like every other name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DistinguishedNameDer(pub Vec<u8>);

impl DistinguishedNameDer {
    /// The DER bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DistinguishedNameDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DistinguishedNameDer({} bytes)", self.0.len())
    }
}

impl Serialize for DistinguishedNameDer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        base64_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for DistinguishedNameDer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        base64_bytes::deserialize(d).map(DistinguishedNameDer)
    }
}

/// Binary values as standard base64 strings, for the DER newtypes above.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// IP family of the address connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl From<IpAddr> for IpFamily {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }
}

/// Where the addresses of a target came from: part of the vantage of an
/// observation (a `--resolve` override is not what the public sees).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The host was an IP literal.
    Literal,
    /// The target's `resolve_override`.
    Override,
    /// The system resolver (getaddrinfo).
    Dns,
}

/// The phases of one probe, for timings and timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for a concurrency permit (global or per address).
    Queue,
    /// Name resolution.
    Resolve,
    /// TCP connect.
    Connect,
    /// TLS handshake, from the first byte written to the handshake's end.
    Handshake,
}

impl Phase {
    /// The phase as an activity in a sentence ("the TLS handshake did not
    /// finish in time").
    pub fn activity(self) -> &'static str {
        match self {
            Phase::Queue => "wait for a free connection slot",
            Phase::Resolve => "name resolution",
            Phase::Connect => "TCP connect",
            Phase::Handshake => "TLS handshake",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Queue => "queue",
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Handshake => "handshake",
        })
    }
}

/// Why a probe produced no handshake.
///
/// `Display` gives the kind's sentence for people ("the connection was
/// refused"); [`ProbeError::message`] says the same about one probe with
/// its particulars.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProbeErrorKind {
    /// The target cannot be probed as given (for example an SNI name that
    /// is not a valid DNS name).
    InvalidTarget,
    /// Name resolution failed or left no address of the wanted family.
    Dns,
    /// The TCP connection was refused.
    Refused,
    /// A phase exceeded its own timeout.
    Timeout(Phase),
    /// The whole run's deadline passed while the target was in this phase
    /// (`Queue` when it never started).
    Deadline(Phase),
    /// The peer reset the connection.
    Reset,
    /// The peer closed the connection cleanly (FIN) before the handshake
    /// finished, without a TLS alert.
    Closed,
    /// The peer answered with bytes that are not TLS records (an HTTP
    /// server, garbage).
    NotTls,
    /// The peer sent a fatal TLS alert not covered by a more precise kind;
    /// the alert's description, as named by rustls (`HandshakeFailure`,
    /// `UnrecognisedName`, ...).
    TlsAlert(String),
    /// The server's handshake was larger than the probe accepts: a single
    /// handshake message over 64 KiB (rustls's limit) or more bytes than
    /// `ProbeConfig::max_handshake_bytes` in total.
    TooLarge,
    /// The handshake failed on our side for a reason not covered by a more
    /// precise kind.
    Tls,
    /// Any other I/O error (unreachable network, address not available).
    Io,
    /// No protocol version in common: the server speaks only versions
    /// older (TLS 1.0/1.1, SSL 3.0) or newer than the client offered. The
    /// message names the server's version when the probe learnt it.
    UnsupportedProtocol,
    /// A version in common but no cipher suite, signature algorithm or key
    /// exchange group the server accepts from the client (the server's
    /// `handshake_failure` / `insufficient_security` answer to the hello).
    NoCommonAlgorithms,
    /// The server's certificate could not be used to check its handshake
    /// signature: it does not parse (a malformed certificate, a duplicated
    /// extension, bad DER) or carries a key type the client cannot use.
    /// The chain is in [`ProbeObservation::partial_tls`].
    UnusableCertificate,
    /// The server's handshake signature does not verify with the key in
    /// its certificate: a signature made with another key, or a key this
    /// client refuses to verify with (RSA under 2048 bits). The chain is
    /// in [`ProbeObservation::partial_tls`].
    BadHandshakeSignature,
    /// The server asked for a client certificate and ended the handshake
    /// when none was sent. The chain it served first is in
    /// [`ProbeObservation::partial_tls`].
    ClientCertificateRequired,
    /// The server broke the TLS protocol (a malformed or unexpected
    /// message).
    ProtocolViolation,
}

impl ProbeErrorKind {
    /// Whether the peer was reached and answered with TLS, so the failure
    /// is about the TLS conversation, not about reaching the endpoint.
    pub fn is_tls_failure(&self) -> bool {
        matches!(
            self,
            ProbeErrorKind::TlsAlert(_)
                | ProbeErrorKind::TooLarge
                | ProbeErrorKind::Tls
                | ProbeErrorKind::Closed
                | ProbeErrorKind::UnsupportedProtocol
                | ProbeErrorKind::NoCommonAlgorithms
                | ProbeErrorKind::UnusableCertificate
                | ProbeErrorKind::BadHandshakeSignature
                | ProbeErrorKind::ClientCertificateRequired
                | ProbeErrorKind::ProtocolViolation
        )
    }
}

impl fmt::Display for ProbeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeErrorKind::InvalidTarget => f.write_str("the target cannot be probed as given"),
            ProbeErrorKind::Dns => f.write_str("the name could not be resolved to an address to probe"),
            ProbeErrorKind::Refused => f.write_str("the connection was refused"),
            ProbeErrorKind::Timeout(p) => write!(f, "the {} did not finish in time", p.activity()),
            ProbeErrorKind::Deadline(p) => write!(f, "the run's deadline passed during the {}", p.activity()),
            ProbeErrorKind::Reset => f.write_str("the server reset the connection"),
            ProbeErrorKind::Closed => f.write_str("the server closed the connection before the handshake finished"),
            ProbeErrorKind::NotTls => f.write_str("the server answered with something that is not TLS"),
            ProbeErrorKind::TlsAlert(d) => {
                write!(f, "the server ended the handshake with the TLS alert \"{}\"", crate::messages::words(d))
            }
            ProbeErrorKind::TooLarge => f.write_str("the server's handshake is larger than the probe accepts"),
            ProbeErrorKind::Tls => f.write_str("the TLS handshake failed"),
            ProbeErrorKind::Io => f.write_str("a network error ended the probe"),
            ProbeErrorKind::UnsupportedProtocol => {
                f.write_str("the server offers no TLS version the probe's client supports (TLS 1.2 or 1.3)")
            }
            ProbeErrorKind::NoCommonAlgorithms => f.write_str(
                "the server accepts none of the cipher suites, signature algorithms or key exchange groups offered",
            ),
            ProbeErrorKind::UnusableCertificate => {
                f.write_str("the server's certificate cannot be used to check its handshake signature")
            }
            ProbeErrorKind::BadHandshakeSignature => {
                f.write_str("the server's handshake signature does not verify with its certificate's key")
            }
            ProbeErrorKind::ClientCertificateRequired => f.write_str("the server requires a client certificate"),
            ProbeErrorKind::ProtocolViolation => f.write_str("the server broke the TLS protocol"),
        }
    }
}

/// A failed probe: a machine-readable kind and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ProbeError {
    /// What went wrong, for code.
    pub kind: ProbeErrorKind,
    /// What went wrong, for people: one or more sentences without Rust
    /// debug text or byte dumps, naming the particulars of this probe
    /// ("the server sent 4,096 bytes that are not TLS, starting with
    /// `HTTP/`"). Starts lowercase, ends without a full stop, so it can
    /// follow a colon.
    pub message: String,
}

impl ProbeError {
    /// An error of `kind` with its own message.
    pub fn new(kind: ProbeErrorKind, message: impl Into<String>) -> Self {
        ProbeError { kind, message: message.into() }
    }

    /// An error whose message is the kind's sentence.
    pub fn of_kind(kind: ProbeErrorKind) -> Self {
        let message = kind.to_string();
        ProbeError { kind, message }
    }
}

/// How the served chain was obtained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CaptureMethod {
    /// A full TLS 1.2/1.3 handshake (rustls) whose handshake signature was
    /// verified with the leaf's key: the server holds that key.
    #[default]
    FullHandshake,
    /// The capture-only handshake used when the full one could not be
    /// negotiated: a plaintext TLS 1.0-1.2 ClientHello, the server's
    /// ServerHello and Certificate read, then the connection closed. No key
    /// exchange happens, so nothing proves the server holds the leaf's key.
    LegacyHandshake,
}

/// A server's request for a client certificate (TLS 1.2 CertificateRequest
/// or its TLS 1.3 equivalent). The probe never sends a certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientCertificateRequest {
    /// The certificate authorities the server named as acceptable issuers,
    /// in its order (often empty: the list is optional).
    pub acceptable_ca_names: Vec<DistinguishedNameDer>,
    /// Whether the server then refused to continue without a certificate
    /// (an alert or a closed connection after the probe's empty
    /// certificate). `false` when the handshake went on, in TLS 1.3 when no
    /// refusal arrived within a short wait after the handshake, and always
    /// with the legacy capture, which stops before a server could refuse.
    pub required: bool,
}

/// What a completed handshake (or the legacy capture) revealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TlsFacts {
    /// Negotiated protocol version: `TLSv1.3`, `TLSv1.2`, and through the
    /// legacy capture also `TLSv1.1`, `TLSv1.0` or `SSLv3`.
    pub version: String,
    /// Negotiated cipher suite, by its IANA name (`TLS13_AES_128_GCM_SHA256`
    /// as rustls spells TLS 1.3 suites, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`).
    pub cipher_suite: String,
    /// Negotiated key exchange group (`X25519`, `secp256r1`), when known.
    pub key_exchange_group: Option<String>,
    /// Protocol the server selected by ALPN, if any.
    pub alpn: Option<String>,
    /// The chain exactly as served, leaf first; unverified.
    pub chain: Vec<CertDer>,
    /// Bytes read from the server until the handshake completed.
    pub handshake_bytes: u64,
    /// How the chain was obtained. `LegacyHandshake` means a client that
    /// supports only TLS 1.2 and 1.3 could not connect at all.
    #[serde(default)]
    pub capture: CaptureMethod,
    /// Why the full handshake failed, when `capture` is `LegacyHandshake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_handshake_error: Option<ProbeError>,
    /// The server asked for a client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_request: Option<ClientCertificateRequest>,
    /// The DER OCSP response the server stapled to the handshake, if any;
    /// always `None` with a legacy capture, which does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stapled_ocsp: Option<CertDer>,
}

impl TlsFacts {
    /// Whether the negotiated protocol is older than TLS 1.2 (TLS 1.1,
    /// TLS 1.0, SSL 3.0): what a `legacy-protocol` finding is about.
    pub fn is_legacy_protocol(&self) -> bool {
        is_legacy_version(&self.version)
    }
}

/// Whether `version` (as [`TlsFacts::version`] names it) is older than
/// TLS 1.2, which current clients no longer speak.
pub fn is_legacy_version(version: &str) -> bool {
    matches!(version, "TLSv1.1" | "TLSv1.0" | "SSLv3" | "SSLv2")
}

/// What the server revealed before a handshake failed: as much of
/// [`TlsFacts`] as was known. The chain is captured before any check, so a
/// handshake that failed after the server's Certificate message (weak or
/// malformed leaf, bad handshake signature, missing client certificate)
/// still carries the chain to analyse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartialTls {
    /// Protocol version from the server's ServerHello, when it got that far.
    pub version: Option<String>,
    /// Cipher suite from the ServerHello, by IANA name.
    pub cipher_suite: Option<String>,
    /// The chain exactly as served, leaf first (empty when the server's
    /// Certificate message never arrived).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<CertDer>,
    /// The server asked for a client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_request: Option<ClientCertificateRequest>,
    /// Bytes read from the server before the failure.
    pub handshake_bytes: u64,
}

impl PartialTls {
    /// Whether anything was learnt at all.
    pub fn is_empty(&self) -> bool {
        self.version.is_none()
            && self.cipher_suite.is_none()
            && self.chain.is_empty()
            && self.client_certificate_request.is_none()
    }
}

/// The outcome of one probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// The handshake completed, or the legacy capture got the chain (see
    /// [`TlsFacts::capture`]).
    Tls(TlsFacts),
    /// It did not; what was learnt before the failure is in
    /// [`ProbeObservation::partial_tls`].
    Error(ProbeError),
}

/// Microseconds spent per phase. A phase that did not happen is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Waiting for concurrency permits (all phases together).
    pub queue_us: u64,
    /// Name resolution (None for IP literals and overrides).
    pub resolve_us: Option<u64>,
    /// TCP connect to the address observed (the last attempt).
    pub connect_us: Option<u64>,
    /// TLS handshake; with the legacy capture, both attempts together.
    pub handshake_us: Option<u64>,
    /// From the start of this target's probe to the observation.
    pub total_us: u64,
}

/// A connection attempt that failed before another address was tried
/// (with [`AddressSelection::First`](crate::AddressSelection::First)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    /// Address tried.
    pub address: SocketAddr,
    /// Why it failed.
    pub error: ProbeError,
}

/// One probe of one address of one target, successful or not.
///
/// Every target given to the prober yields at least one observation, so
/// totals add up: one per address probed, or a single error observation
/// when no address was reached (resolution failed, deadline passed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProbeObservation {
    /// Position of the target in the list given to the prober.
    pub target_index: usize,
    /// The target as given.
    pub target: ProbeTarget,
    /// Address connected to (or last tried); `None` when none was reached.
    pub address: Option<SocketAddr>,
    /// Family of `address`.
    pub ip_family: Option<IpFamily>,
    /// SNI sent, if any.
    pub sni: Option<String>,
    /// Where the address came from.
    pub resolution: Option<Resolution>,
    /// Wall-clock time the probe of this target started, in milliseconds
    /// since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// Time per phase.
    pub timings: Timings,
    /// Handshake facts or error.
    pub outcome: ProbeOutcome,
    /// Addresses tried before `address` that could not be connected to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<FailedAttempt>,
    /// With an error outcome: what the server revealed before the failure
    /// (chain, version, cipher suite, client-certificate request). `None`
    /// with a `Tls` outcome, or when nothing was learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_tls: Option<PartialTls>,
}

impl ProbeObservation {
    /// An observation of a target that was never connected to: what a
    /// caller reports for a target it could not hand to the prober.
    pub fn unreached(target_index: usize, target: ProbeTarget, error: ProbeError) -> Self {
        ProbeObservation {
            target_index,
            target,
            address: None,
            ip_family: None,
            sni: None,
            resolution: None,
            started_at_unix_ms: 0,
            timings: Timings::default(),
            outcome: ProbeOutcome::Error(error),
            failed_attempts: Vec::new(),
            partial_tls: None,
        }
    }

    /// The handshake facts, if the handshake completed (or the legacy
    /// capture got the chain).
    pub fn tls(&self) -> Option<&TlsFacts> {
        match &self.outcome {
            ProbeOutcome::Tls(t) => Some(t),
            ProbeOutcome::Error(_) => None,
        }
    }

    /// The error, if the handshake did not complete.
    pub fn error(&self) -> Option<&ProbeError> {
        match &self.outcome {
            ProbeOutcome::Tls(_) => None,
            ProbeOutcome::Error(e) => Some(e),
        }
    }

    /// The chain as served, leaf first, whether or not the handshake then
    /// completed; empty when the server never sent one.
    pub fn served_chain(&self) -> &[CertDer] {
        match (&self.outcome, &self.partial_tls) {
            (ProbeOutcome::Tls(t), _) => &t.chain,
            (ProbeOutcome::Error(_), Some(p)) => &p.chain,
            (ProbeOutcome::Error(_), None) => &[],
        }
    }

    /// The served leaf certificate's DER, if any, whether or not the
    /// handshake then completed.
    pub fn leaf(&self) -> Option<&[u8]> {
        self.served_chain().first().map(CertDer::as_bytes)
    }

    /// The protocol version the server chose, if it got that far.
    pub fn protocol_version(&self) -> Option<&str> {
        match (&self.outcome, &self.partial_tls) {
            (ProbeOutcome::Tls(t), _) => Some(&t.version),
            (ProbeOutcome::Error(_), Some(p)) => p.version.as_deref(),
            (ProbeOutcome::Error(_), None) => None,
        }
    }

    /// The server's request for a client certificate, whether or not the
    /// handshake then completed.
    pub fn client_certificate_request(&self) -> Option<&ClientCertificateRequest> {
        match (&self.outcome, &self.partial_tls) {
            (ProbeOutcome::Tls(t), _) => t.client_certificate_request.as_ref(),
            (ProbeOutcome::Error(_), Some(p)) => p.client_certificate_request.as_ref(),
            (ProbeOutcome::Error(_), None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(outcome: ProbeOutcome, partial_tls: Option<PartialTls>) -> ProbeObservation {
        ProbeObservation {
            address: Some("[::1]:443".parse().unwrap()),
            ip_family: Some(IpFamily::V6),
            sni: Some("example.com".into()),
            resolution: Some(Resolution::Override),
            started_at_unix_ms: 1,
            outcome,
            partial_tls,
            ..ProbeObservation::unreached(
                3,
                ProbeTarget::new("example.com", 443),
                ProbeError::of_kind(ProbeErrorKind::Io),
            )
        }
    }

    #[test]
    fn serde_round_trip_and_shape() {
        let obs = observation(
            ProbeOutcome::Tls(TlsFacts {
                version: "TLSv1.3".into(),
                cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
                key_exchange_group: Some("X25519".into()),
                alpn: Some("h2".into()),
                chain: vec![CertDer::from(vec![0x30, 0x82, 0xff])],
                handshake_bytes: 10,
                capture: CaptureMethod::FullHandshake,
                full_handshake_error: None,
                client_certificate_request: Some(ClientCertificateRequest {
                    acceptable_ca_names: vec![DistinguishedNameDer(vec![0x30, 0x00])],
                    required: false,
                }),
                stapled_ocsp: None,
            }),
            None,
        );
        let json = serde_json::to_value(&obs).unwrap();
        assert_eq!(json["outcome"]["tls"]["chain"][0], "MIL/");
        assert_eq!(json["outcome"]["tls"]["capture"], "full_handshake");
        assert_eq!(json["outcome"]["tls"]["client_certificate_request"]["acceptable_ca_names"][0], "MAA=");
        assert_eq!(json["ip_family"], "v6");
        assert!(json.get("failed_attempts").is_none());
        assert!(json.get("partial_tls").is_none());
        let back: ProbeObservation = serde_json::from_value(json).unwrap();
        assert_eq!(back, obs);
        assert_eq!(obs.leaf(), Some(&[0x30, 0x82, 0xff][..]));
        assert_eq!(obs.protocol_version(), Some("TLSv1.3"));
        // A clone shares the certificate's bytes; one read back owns its own.
        assert!(obs.clone().served_chain()[0].shares_bytes_with(&obs.served_chain()[0]));
        assert!(!back.served_chain()[0].shares_bytes_with(&obs.served_chain()[0]));
        assert!(obs.client_certificate_request().is_some());

        let err = ProbeError::new(ProbeErrorKind::Timeout(Phase::Handshake), "the TLS handshake took longer than 5 s");
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["kind"]["timeout"], "handshake");
        assert_eq!(err.to_string(), "the TLS handshake took longer than 5 s");
        let alert = serde_json::to_value(ProbeErrorKind::TlsAlert("HandshakeFailure".into())).unwrap();
        assert_eq!(alert["tls_alert"], "HandshakeFailure");
        assert_eq!(serde_json::to_value(ProbeErrorKind::NotTls).unwrap(), "not_tls");
        assert_eq!(serde_json::to_value(ProbeErrorKind::UnusableCertificate).unwrap(), "unusable_certificate");
    }

    /// A failed handshake keeps what the server revealed, and the
    /// accessors find it there.
    #[test]
    fn failed_observations_carry_the_partial_handshake() {
        let partial = PartialTls {
            version: Some("TLSv1.2".into()),
            cipher_suite: Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()),
            chain: vec![CertDer::from(vec![1, 2]), CertDer::from(vec![3])],
            client_certificate_request: None,
            handshake_bytes: 900,
        };
        let obs =
            observation(ProbeOutcome::Error(ProbeError::of_kind(ProbeErrorKind::BadHandshakeSignature)), Some(partial));
        assert!(obs.tls().is_none());
        assert_eq!(obs.leaf(), Some(&[1, 2][..]));
        assert_eq!(obs.served_chain().len(), 2);
        assert_eq!(obs.protocol_version(), Some("TLSv1.2"));
        let json = serde_json::to_value(&obs).unwrap();
        assert_eq!(json["partial_tls"]["chain"][1], "Aw==");
        assert_eq!(json["outcome"]["error"]["kind"], "bad_handshake_signature");
        let back: ProbeObservation = serde_json::from_value(json).unwrap();
        assert_eq!(back, obs);

        let bare = observation(ProbeOutcome::Error(ProbeError::of_kind(ProbeErrorKind::Refused)), None);
        assert_eq!((bare.leaf(), bare.served_chain().len(), bare.protocol_version()), (None, 0, None));
    }

    #[test]
    fn legacy_protocols_are_recognised() {
        let facts = |version: &str| TlsFacts {
            version: version.into(),
            cipher_suite: String::new(),
            key_exchange_group: None,
            alpn: None,
            chain: vec![],
            handshake_bytes: 0,
            capture: CaptureMethod::LegacyHandshake,
            full_handshake_error: None,
            client_certificate_request: None,
            stapled_ocsp: None,
        };
        for (version, legacy) in
            [("TLSv1.3", false), ("TLSv1.2", false), ("TLSv1.1", true), ("TLSv1.0", true), ("SSLv3", true)]
        {
            assert_eq!(facts(version).is_legacy_protocol(), legacy, "{version}");
        }
    }
}
