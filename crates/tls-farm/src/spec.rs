//! What a farm serves: endpoints, their behaviour and their certificates.
//! The same types are read from JSON by the `tls-farm` binary.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole farm: a list of endpoints served by one runtime.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FarmSpec {
    /// The endpoints.
    pub endpoints: Vec<EndpointSpec>,
    /// Runtime worker threads (default 1: enough for tests, and leaves the
    /// other core to the client in a benchmark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<usize>,
    /// Longest a connection is kept open by any endpoint (tarpits included),
    /// in seconds (default 300). Bounds every per-connection loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_secs: Option<u64>,
}

impl FarmSpec {
    pub(crate) fn max_connection(&self) -> Duration {
        Duration::from_secs(self.max_connection_secs.unwrap_or(300))
    }
}

/// One endpoint: listening sockets on one port, one behaviour.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// Name to find the endpoint by (unique within a farm).
    pub name: String,
    /// Loopback addresses to listen on, all on the same port (default
    /// `127.0.0.1`). Anything but loopback is refused.
    #[serde(default = "default_bind")]
    pub bind: Vec<IpAddr>,
    /// Port; 0 (the default) picks a free one, the same on every address.
    #[serde(default)]
    pub port: u16,
    /// What the endpoint does with a connection.
    pub mode: EndpointMode,
}

fn default_bind() -> Vec<IpAddr> {
    vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
}

impl EndpointSpec {
    /// An endpoint on a free 127.0.0.1 port.
    pub fn new(name: impl Into<String>, mode: EndpointMode) -> Self {
        EndpointSpec { name: name.into(), bind: default_bind(), port: 0, mode }
    }

    /// Same endpoint, listening on `bind` instead.
    pub fn bind(mut self, bind: Vec<IpAddr>) -> Self {
        self.bind = bind;
        self
    }
}

/// Behaviour of an endpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EndpointMode {
    /// A TLS server.
    Tls(TlsEndpoint),
    /// Accepts and never answers (reads and discards until the client
    /// leaves or `max_connection_secs` passes).
    Tarpit,
    /// Sends pseudo-random bytes that are not a TLS record, then waits for
    /// the client to leave.
    Garbage {
        /// How many bytes (default 512).
        #[serde(default = "default_garbage")]
        bytes: usize,
    },
    /// Reads the request (the ClientHello) and answers with an HTTP/1.1
    /// 400 response, as a plain-HTTP server on a TLS port does.
    PlainHttp,
    /// Accepts and closes immediately (FIN), then drains what the client
    /// sends so the close stays clean (no RST).
    Close,
    /// Accepts and resets the connection (SO_LINGER 0, then close: RST).
    Reset,
    /// A TLS server whose chain is a generated leaf for `localhost` plus
    /// `count - 1` padded filler certificates of about `cert_bytes` each:
    /// with the defaults (200 x 6000) the Certificate message is over 1 MB.
    HugeChain {
        /// Certificates in the chain (default 200).
        #[serde(default = "default_huge_count")]
        count: usize,
        /// Approximate size of each filler certificate (default 6000).
        #[serde(default = "default_huge_bytes")]
        cert_bytes: usize,
    },
}

fn default_garbage() -> usize {
    512
}
fn default_huge_count() -> usize {
    200
}
fn default_huge_bytes() -> usize {
    6000
}

impl EndpointMode {
    /// Short name of the mode, as printed by the binary.
    pub fn kind(&self) -> &'static str {
        match self {
            EndpointMode::Tls(_) => "tls",
            EndpointMode::Tarpit => "tarpit",
            EndpointMode::Garbage { .. } => "garbage",
            EndpointMode::PlainHttp => "plain_http",
            EndpointMode::Close => "close",
            EndpointMode::Reset => "reset",
            EndpointMode::HugeChain { .. } => "huge_chain",
        }
    }
}

/// A TLS endpoint: certificates selected by SNI, plus a default.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsEndpoint {
    /// Served when the client sends no SNI or one no entry matches. Without
    /// it such handshakes fail (the server sends an alert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<CertSource>,
    /// Certificates by SNI name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sni: Vec<SniEntry>,
    /// ALPN protocols the server accepts, in preference order (default
    /// none: no ALPN in the answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    /// Restrict to one protocol version: `"1.2"` or `"1.3"` (default both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Ask clients for a certificate (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<ClientAuth>,
    /// A DER OCSP response stapled to every handshake that asks for one
    /// (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocsp_staple: Option<Der>,
}

/// A TLS endpoint's request for client certificates.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuth {
    /// CA certificates (DER, base64 in JSON): the server names their
    /// subjects as acceptable issuers and verifies client chains against
    /// them.
    pub cas: Vec<Der>,
    /// Refuse clients that send no certificate (else they are let in).
    #[serde(default)]
    pub required: bool,
}

impl TlsEndpoint {
    /// An endpoint serving `cert` to everyone.
    pub fn single(cert: CertSource) -> Self {
        TlsEndpoint { default: Some(cert), ..TlsEndpoint::default() }
    }
}

/// A certificate selected by SNI.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniEntry {
    /// Names (case-insensitive); `*.example.com` matches one label.
    pub names: Vec<String>,
    /// The chain and key served for them.
    pub cert: CertSource,
}

/// A certificate chain (leaf first) and its private key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertSource {
    /// PEM files: a chain file and a key file (PKCS#8, SEC1 or PKCS#1).
    Files {
        /// Chain, leaf first.
        chain: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// PEM text.
    Pem {
        /// Chain, leaf first.
        chain: String,
        /// Private key.
        key: String,
    },
    /// DER bytes (base64 in JSON).
    Der {
        /// Chain, leaf first.
        chain: Vec<Der>,
        /// Private key (PKCS#8, SEC1 or PKCS#1).
        key: Der,
    },
}

/// DER bytes, serialized as standard base64.
#[derive(Clone, PartialEq, Eq)]
pub struct Der(pub Vec<u8>);

impl std::fmt::Debug for Der {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Der({} bytes)", self.0.len())
    }
}

impl Serialize for Der {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Der {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).map(Der).map_err(serde::de::Error::custom)
    }
}
