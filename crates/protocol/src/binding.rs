//! What a provider yields: a binding per (certificate, place it is deployed).

use serde::{Deserialize, Serialize};

/// One certificate declared at one place: a CDN domain, a listener (+ SNI name),
/// or nowhere at all (an inventory entry that is bound nowhere).
///
/// Fields may be added in later releases: build one with [`Binding::new`]
/// and the `with_*` methods (or set the public fields on a built value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// The cloud resource's tags (key to value), so alerts can reach its
    /// owner. Optional on the wire: plugins that know no tags send none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Where a binding lives and how to reach it. Build one with [`Location::new`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Location {
    /// The name of the plugin that listed the binding, e.g. `alibaba-cdn`.
    /// The host fills it in from [`PluginInfo::name`](crate::PluginInfo::name)
    /// (whatever the plugin sent); a plugin leaves it empty. On the wire it
    /// keeps its version-1 name, `provider`.
    #[serde(rename = "provider", default)]
    pub plugin: String,
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
/// Build one with [`Endpoint::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
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
/// Start from [`DeclaredCertificate::default`] and the `with_*` methods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// With the provider's id for the certificate.
    pub fn with_provider_id(mut self, id: impl Into<String>) -> Self {
        self.provider_id = Some(id.into());
        self
    }
    /// With the certificate's name in the provider.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// With the subject common name.
    pub fn with_common_name(mut self, common_name: impl Into<String>) -> Self {
        self.common_name = Some(common_name.into());
        self
    }
    /// With the subject alternative names.
    pub fn with_sans(mut self, sans: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.sans = sans.into_iter().map(Into::into).collect();
        self
    }
    /// With one more fingerprint, normalised (see [`Fingerprint::new`]).
    pub fn with_fingerprint(mut self, algorithm: &str, any_hex: &str) -> Self {
        self.fingerprints.push(Fingerprint::new(algorithm, any_hex));
        self
    }
    /// With the serial number, lower-case hex.
    pub fn with_serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = Some(serial.into());
        self
    }
    /// With the issuer, as the provider spells it.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }
    /// With the validity period, UNIX seconds UTC.
    pub fn with_validity(mut self, not_before: i64, not_after: i64) -> Self {
        self.not_before = Some(not_before);
        self.not_after = Some(not_after);
        self
    }
    /// With the provider's own status string.
    pub fn with_provider_status(mut self, status: impl Into<String>) -> Self {
        self.provider_status = Some(status.into());
        self
    }
    /// With whether the provider renews and redeploys it automatically.
    pub fn with_auto_managed(mut self, auto_managed: Tristate) -> Self {
        self.auto_managed = auto_managed;
        self
    }
}

impl Binding {
    /// A certificate declared at a location, with no cross-references or extras.
    pub fn new(location: Location, declared: DeclaredCertificate) -> Self {
        Self { location, declared, xrefs: Vec::new(), extra: serde_json::Value::Null, tags: Default::default() }
    }
    /// With one more cross-reference key.
    pub fn with_xref(mut self, kind: impl Into<String>, value: impl Into<String>) -> Self {
        self.xrefs.push(CrossRef::new(kind, value));
        self
    }
    /// With these cross-reference keys added.
    pub fn with_xrefs(mut self, xrefs: impl IntoIterator<Item = CrossRef>) -> Self {
        self.xrefs.extend(xrefs);
        self
    }
    /// With provider-specific extras, shown as-is in reports.
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = extra;
        self
    }
    /// With these resource tags added (key, value).
    pub fn with_tags(mut self, tags: impl IntoIterator<Item = (String, String)>) -> Self {
        self.tags.extend(tags);
        self
    }
}

impl Location {
    /// A resource of `service` (e.g. `cdn`) with id `resource_id`, not
    /// probeable until [`Location::with_endpoint`] says how to reach it.
    pub fn new(service: impl Into<String>, resource_id: impl Into<String>) -> Self {
        Self { service: service.into(), resource_id: resource_id.into(), ..Self::default() }
    }
    /// With the account or credentials profile.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }
    /// With the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
    /// With the resource's display name.
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }
    /// With the listener port (load balancers).
    pub fn with_listener_port(mut self, port: u16) -> Self {
        self.listener_port = Some(port);
        self
    }
    /// Probeable at `endpoint`.
    pub fn with_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self.not_probeable = None;
        self
    }
    /// Not probeable, for `reason` (a sentence for the report).
    pub fn not_probeable(mut self, reason: impl Into<String>) -> Self {
        self.endpoint = None;
        self.not_probeable = Some(reason.into());
        self
    }
}

impl Endpoint {
    /// `host:port`, sending no SNI and knowing no addresses.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self { host: host.into(), port, sni: None, addresses: Vec::new() }
    }
    /// Sending `sni` as the server name.
    pub fn with_sni(mut self, sni: impl Into<String>) -> Self {
        self.sni = Some(sni.into());
        self
    }
    /// With the addresses the provider knows for the host.
    pub fn with_addresses(mut self, addresses: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.addresses = addresses.into_iter().map(Into::into).collect();
        self
    }
}

impl CrossRef {
    /// The key `value` in namespace `kind`.
    pub fn new(kind: impl Into<String>, value: impl Into<String>) -> Self {
        Self { kind: kind.into(), value: value.into() }
    }
}

impl RevocationStatus {
    /// `status` for `serial` (lower-case hex, as the host asked for it).
    pub fn new(serial: impl Into<String>, status: RevocationState) -> Self {
        Self { serial: serial.into(), status, revoked_at: None, source: None }
    }
    /// Revoked at `time`, UNIX seconds UTC.
    pub fn with_revoked_at(mut self, time: i64) -> Self {
        self.revoked_at = Some(time);
        self
    }
    /// Answered by `source`, e.g. `alibaba-cas`.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }
}

/// Revocation state of one serial number. Build one with [`RevocationStatus::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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

    /// The builders write the same JSON a version-1 plugin wrote with struct
    /// literals, so hosts old and new read it; the plugin name keeps its
    /// version-1 wire name `provider`.
    #[test]
    fn built_bindings_keep_the_version_1_wire_form() {
        let location = Location::new("slb", "lb-1")
            .with_account("main")
            .with_region("cn-hangzhou")
            .with_listener_port(443)
            .with_endpoint(Endpoint::new("192.0.2.1", 443).with_sni("www.example.test"));
        let declared =
            DeclaredCertificate::default().with_name("www").with_validity(1, 2).with_fingerprint("SHA1", "AB:CD");
        let binding = Binding::new(location, declared).with_xref("cas-certificate-id", "7");
        let json = serde_json::to_value(&binding).unwrap();
        assert_eq!(json["location"]["provider"], "");
        assert_eq!(json["location"]["endpoint"]["sni"], "www.example.test");
        assert_eq!(json["declared"]["fingerprints"][0]["hex"], "abcd");
        assert_eq!(json["xrefs"][0]["kind"], "cas-certificate-id");
        let version_1 = serde_json::json!({
            "location": {"provider": "alibaba-slb", "service": "slb", "resource_id": "lb-1"},
            "declared": {}
        });
        let read: Binding = serde_json::from_value(version_1).unwrap();
        assert_eq!(read.location.plugin, "alibaba-slb");
        assert_eq!(read.location.endpoint, None);
    }

    #[test]
    fn an_endpoint_and_a_reason_exclude_each_other() {
        let location = Location::new("cdn", "*.example.test").with_endpoint(Endpoint::new("h", 443));
        let location = location.not_probeable("wildcard domain");
        assert_eq!((location.endpoint, location.not_probeable.as_deref()), (None, Some("wildcard domain")));
    }
}
