//! Findings: stable codes, severities, and where each points.
//!
//! Codes are part of the report contract (documented in
//! `docs/REPORT.md`); never rename one, add new ones instead.

use serde::{Deserialize, Serialize};

/// How urgently a finding needs a person. Ordered: `Critical` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Broken for users now (expired, revoked, wrong certificate served).
    Critical,
    /// Will break or is broken for some clients.
    High,
    /// Needs attention soon.
    Medium,
    /// Worth knowing.
    Low,
    /// Informational.
    Info,
}

impl Severity {
    /// The lower-case name, as in reports and `--fail-on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Info => "info",
        }
    }

    /// Parse a lower-case name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Critical, Self::High, Self::Medium, Self::Low, Self::Info].into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Finding codes. Stable strings; see `docs/REPORT.md`.
pub mod code {
    /// The served leaf has expired.
    pub const CERT_EXPIRED: &str = "cert-expired";
    /// The served leaf is not valid yet.
    pub const CERT_NOT_YET_VALID: &str = "cert-not-yet-valid";
    /// The served leaf expires within the thresholds.
    pub const CERT_EXPIRING: &str = "cert-expiring";
    /// A certificate of the served or verified chain (not the leaf) expires first.
    pub const CHAIN_EXPIRING: &str = "chain-expiring";
    /// The served leaf does not cover the name the endpoint is reached by.
    pub const NAME_MISMATCH: &str = "name-mismatch";
    /// The name matched only the subject CN; the leaf has no SAN extension.
    pub const NAME_LEGACY_CN_ONLY: &str = "name-legacy-cn-only";
    /// The endpoint serves a certificate other than the declared one.
    pub const SERVED_NOT_DECLARED: &str = "served-not-declared";
    /// The endpoint still serves the certificate the declared one replaced.
    pub const STALE_CERTIFICATE: &str = "stale-certificate";
    /// The served chain does not reach a trust anchor without fetching.
    pub const CHAIN_INCOMPLETE: &str = "chain-incomplete";
    /// The served chain is not trusted (unknown CA, self-signed, invalid).
    pub const UNTRUSTED: &str = "untrusted";
    /// The served leaf is revoked.
    pub const REVOKED: &str = "revoked";
    /// A key too small or a weak signature hash.
    pub const WEAK_KEY: &str = "weak-key";
    /// The TLS handshake failed.
    pub const HANDSHAKE_FAILED: &str = "handshake-failed";
    /// The endpoint could not be reached.
    pub const UNREACHABLE: &str = "unreachable";
    /// The endpoint answered, but not with TLS.
    pub const NO_TLS: &str = "no-tls";
    /// An auto-managed certificate was renewed, but the deployment still declares the old one.
    pub const AUTO_MANAGED_NOT_DEPLOYED: &str = "auto-managed-not-deployed";
    /// The provider's own status disagrees with what is served.
    pub const PROVIDER_STATUS_DISAGREES: &str = "provider-status-disagrees";
    /// The declared certificate has expired (from the provider's data).
    pub const DECLARED_EXPIRED: &str = "declared-expired";
    /// The declared certificate expires within the thresholds (from the provider's data).
    pub const DECLARED_EXPIRING: &str = "declared-expiring";
    /// The binding cannot be probed (wildcard domain, no endpoint).
    pub const NOT_PROBEABLE: &str = "not-probeable";
    /// Cross-service data could not be joined unambiguously.
    pub const JOIN_AMBIGUOUS: &str = "join-ambiguous";
    /// A source (plugin, scope) could not be listed completely.
    pub const SOURCE_FAILED: &str = "source-failed";
}

/// Whether `code` says that something could not be checked (a source, an
/// endpoint) rather than that something checked is wrong. Exit codes keep
/// the two apart.
pub fn is_unchecked(code: &str) -> bool {
    matches!(code, code::SOURCE_FAILED | code::UNREACHABLE | code::NO_TLS | code::HANDSHAKE_FAILED)
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code, see [`code`].
    pub code: String,
    /// Severity.
    pub severity: Severity,
    /// One line for people.
    pub message: String,
    /// Index into the report's bindings, when the finding concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<usize>,
    /// The address observed, when the finding concerns one observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Supporting facts (fingerprints, dates, errors).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub evidence: serde_json::Value,
}

impl Finding {
    /// A finding about binding `binding`.
    pub fn new(code: &str, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            severity,
            message: message.into(),
            binding: None,
            address: None,
            evidence: serde_json::Value::Null,
        }
    }

    /// Point at a binding.
    pub fn at_binding(mut self, binding: usize) -> Self {
        self.binding = Some(binding);
        self
    }

    /// Point at an address.
    pub fn at_address(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }

    /// Attach evidence.
    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = evidence;
        self
    }
}
