//! What a probe observed: the result types, all serde-serializable.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::target::ProbeTarget;

/// One certificate as served, DER-encoded. Serialized as standard base64.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CertDer(pub Vec<u8>);

impl CertDer {
    /// The DER bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
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
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for CertDer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).map(CertDer).map_err(serde::de::Error::custom)
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
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// The peer sent a fatal TLS alert; the alert's description, as named
    /// by rustls (`HandshakeFailure`, `UnrecognisedName`, ...).
    TlsAlert(String),
    /// The server's handshake was larger than the probe accepts: a single
    /// handshake message over 64 KiB (rustls's limit) or more bytes than
    /// `ProbeConfig::max_handshake_bytes` in total.
    TooLarge,
    /// The peer spoke TLS but the handshake failed on our side (bad
    /// handshake signature, no common version or cipher suite, protocol
    /// violation).
    Tls,
    /// Any other I/O error (unreachable network, address not available).
    Io,
}

impl fmt::Display for ProbeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeErrorKind::InvalidTarget => f.write_str("invalid target"),
            ProbeErrorKind::Dns => f.write_str("dns"),
            ProbeErrorKind::Refused => f.write_str("connection refused"),
            ProbeErrorKind::Timeout(p) => write!(f, "{p} timeout"),
            ProbeErrorKind::Deadline(p) => write!(f, "run deadline reached during {p}"),
            ProbeErrorKind::Reset => f.write_str("connection reset"),
            ProbeErrorKind::Closed => f.write_str("connection closed"),
            ProbeErrorKind::NotTls => f.write_str("not TLS"),
            ProbeErrorKind::TlsAlert(d) => write!(f, "TLS alert {d}"),
            ProbeErrorKind::TooLarge => f.write_str("handshake too large"),
            ProbeErrorKind::Tls => f.write_str("TLS error"),
            ProbeErrorKind::Io => f.write_str("I/O error"),
        }
    }
}

/// A failed probe: a machine-readable kind and a human-readable message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ProbeError {
    /// What went wrong, for code.
    pub kind: ProbeErrorKind,
    /// What went wrong, for people (the underlying error's text).
    pub message: String,
}

impl ProbeError {
    pub(crate) fn new(kind: ProbeErrorKind, message: impl Into<String>) -> Self {
        ProbeError { kind, message: message.into() }
    }
}

/// What a completed handshake revealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFacts {
    /// Negotiated protocol version: `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// Negotiated cipher suite, by its IANA-style name as rustls spells it
    /// (`TLS13_AES_128_GCM_SHA256`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`).
    pub cipher_suite: String,
    /// Negotiated key exchange group (`X25519`, `secp256r1`), when known.
    pub key_exchange_group: Option<String>,
    /// Protocol the server selected by ALPN, if any.
    pub alpn: Option<String>,
    /// The chain exactly as served, leaf first; unverified.
    pub chain: Vec<CertDer>,
    /// Bytes read from the server until the handshake completed.
    pub handshake_bytes: u64,
}

/// The outcome of one probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// The handshake completed.
    Tls(TlsFacts),
    /// It did not.
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
    /// TLS handshake.
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
}

impl ProbeObservation {
    /// The handshake facts, if the handshake completed.
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

    /// The served leaf certificate's DER, if any.
    pub fn leaf(&self) -> Option<&[u8]> {
        self.tls()?.chain.first().map(CertDer::as_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_round_trip_and_shape() {
        let obs = ProbeObservation {
            target_index: 3,
            target: ProbeTarget::new("example.com", 443),
            address: Some("[::1]:443".parse().unwrap()),
            ip_family: Some(IpFamily::V6),
            sni: Some("example.com".into()),
            resolution: Some(Resolution::Override),
            started_at_unix_ms: 1,
            timings: Timings::default(),
            outcome: ProbeOutcome::Tls(TlsFacts {
                version: "TLSv1.3".into(),
                cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
                key_exchange_group: Some("X25519".into()),
                alpn: Some("h2".into()),
                chain: vec![CertDer(vec![0x30, 0x82, 0xff])],
                handshake_bytes: 10,
            }),
            failed_attempts: vec![],
        };
        let json = serde_json::to_value(&obs).unwrap();
        assert_eq!(json["outcome"]["tls"]["chain"][0], "MIL/");
        assert_eq!(json["ip_family"], "v6");
        assert!(json.get("failed_attempts").is_none());
        let back: ProbeObservation = serde_json::from_value(json).unwrap();
        assert_eq!(back, obs);

        let err = ProbeError::new(ProbeErrorKind::Timeout(Phase::Handshake), "slow");
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["kind"]["timeout"], "handshake");
        assert_eq!(err.to_string(), "handshake timeout: slow");
        let alert = serde_json::to_value(ProbeErrorKind::TlsAlert("HandshakeFailure".into())).unwrap();
        assert_eq!(alert["tls_alert"], "HandshakeFailure");
        assert_eq!(serde_json::to_value(ProbeErrorKind::NotTls).unwrap(), "not_tls");
    }
}
