//! What a provider yields: a binding per (certificate, place it is deployed).

use serde::{Deserialize, Serialize};

/// One certificate declared at one place: a CDN domain, a listener (+ SNI name),
/// or nowhere at all (an inventory entry that is bound nowhere).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// Where the certificate is declared.
    pub location: Location,
    /// What the provider says the certificate is.
    pub declared: DeclaredCertificate,
    /// Keys the core uses to join what different services say about one
    /// certificate, e.g. `{"kind":"cas-certificate-id","value":"12345"}`.
    #[serde(default)]
    pub xrefs: Vec<CrossRef>,
    /// Provider-specific extras, shown as-is in reports.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub extra: serde_json::Value,
}

/// Where a binding lives and how to reach it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Plugin / provider name, e.g. `alibaba-cdn`.
    pub provider: String,
    /// Service within the provider, e.g. `cdn`, `slb`, `cas`.
    #[serde(default)]
    pub service: String,
    /// Account or credentials profile.
    #[serde(default)]
    pub account: String,
    /// Region, when the service is regional.
    #[serde(default)]
    pub region: Option<String>,
    /// Resource id: a CDN domain, a load balancer id, a CAS certificate id.
    #[serde(default)]
    pub resource_id: String,
    /// Resource display name.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// Listener port, for load balancers.
    #[serde(default)]
    pub listener_port: Option<u16>,
    /// How to reach it, if it can be probed.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Why the binding cannot be probed, when `endpoint` is `None`
    /// (a wildcard CDN domain, an unbound inventory certificate).
    #[serde(default)]
    pub not_probeable: Option<String>,
}

/// A TLS endpoint: host or address, port, and the SNI name to send.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// DNS name or IP address to connect to.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Server name to send, `None` to send none.
    #[serde(default)]
    pub sni: Option<String>,
    /// Addresses the provider knows for `host` (a load balancer VIP), if any.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// A cross-reference key. `kind` values are documented per provider; the core
/// joins bindings whose keys are equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CrossRef {
    /// Namespace of the key, e.g. `cas-certificate-id`, `cas-certificate-name`.
    pub kind: String,
    /// The key.
    pub value: String,
}

/// A fingerprint: hash algorithm and lower-case hex without separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// `sha1` or `sha256`.
    pub algorithm: String,
    /// Lower-case hex, no separators.
    pub hex: String,
}

impl Fingerprint {
    /// A fingerprint normalised from any common spelling (`AB:CD`, `abcd`).
    pub fn new(algorithm: &str, any_hex: &str) -> Self {
        Self { algorithm: algorithm.to_ascii_lowercase(), hex: normalize_hex(any_hex) }
    }
}

/// Lower-case hex with `:`, spaces and `-` removed.
pub fn normalize_hex(any_hex: &str) -> String {
    any_hex.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).map(|c| c.to_ascii_lowercase()).collect()
}

/// Serial number normalised for comparison: lower-case hex, leading zeros stripped.
pub fn normalize_serial(any_hex: &str) -> String {
    let hex = normalize_hex(any_hex);
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Yes, no, or the provider does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tristate {
    /// The provider says yes.
    Yes,
    /// The provider says no.
    No,
    /// The provider does not say.
    #[default]
    Unknown,
}

/// The certificate as the provider declares it. Every field is optional
/// because providers know different things (CDN knows no fingerprint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeclaredCertificate {
    /// The provider's id for the certificate.
    #[serde(default)]
    pub provider_id: Option<String>,
    /// The certificate's name in the provider.
    #[serde(default)]
    pub name: Option<String>,
    /// Subject common name.
    #[serde(default)]
    pub common_name: Option<String>,
    /// Subject alternative names (DNS names and IP addresses as text).
    #[serde(default)]
    pub sans: Vec<String>,
    /// Fingerprints, normalised.
    #[serde(default)]
    pub fingerprints: Vec<Fingerprint>,
    /// Serial number, lower-case hex.
    #[serde(default)]
    pub serial: Option<String>,
    /// Issuer, as the provider spells it.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Validity start, UNIX seconds UTC.
    #[serde(default)]
    pub not_before: Option<i64>,
    /// Validity end, UNIX seconds UTC.
    #[serde(default)]
    pub not_after: Option<i64>,
    /// The provider's own status string (CDN `ok`/`mismatch`/`expired`/`expire_soon`).
    #[serde(default)]
    pub provider_status: Option<String>,
    /// Whether the provider renews and redeploys it automatically.
    #[serde(default)]
    pub auto_managed: Tristate,
    /// Revocation status, when the provider knows it.
    #[serde(default)]
    pub revocation: Option<RevocationStatus>,
}

impl DeclaredCertificate {
    /// The fingerprint for `algorithm`, if declared.
    pub fn fingerprint(&self, algorithm: &str) -> Option<&str> {
        self.fingerprints.iter().find(|f| f.algorithm == algorithm).map(|f| f.hex.as_str())
    }
}

/// Revocation state of one serial number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationStatus {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// `good`, `revoked` or `unknown`.
    pub status: RevocationState,
    /// Revocation time, UNIX seconds UTC, when revoked.
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// Who answered, e.g. `alibaba-cas`.
    #[serde(default)]
    pub source: Option<String>,
}

/// good / revoked / unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationState {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked,
    /// The source cannot tell.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_and_serials_normalise() {
        assert_eq!(Fingerprint::new("SHA1", "68:08:1A:f8").hex, "68081af8");
        assert_eq!(normalize_serial("00:0A:6e"), "a6e");
        assert_eq!(normalize_serial("0000"), "0");
    }
}
