//! Findings: one catalogue of codes, each with its default severity, its
//! meaning and whether it says "could not check"; and the [`Finding`] itself.
//!
//! Codes are part of the report contract (documented in `docs/REPORT.md`,
//! which a test checks against [`FindingCode::ALL`]); never rename one, add
//! new ones instead. Every output format, the exit-code decision and the
//! docs read this one table.

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
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [Self::Critical, Self::High, Self::Medium, Self::Low, Self::Info];

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
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the catalogue says about one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeInfo {
    /// The code.
    pub code: FindingCode,
    /// The severity it is raised with. Codes graded by days left
    /// (`cert-expiring`, `chain-expiring`) carry several; this is the
    /// mildest the engine emits (SARIF's default level).
    pub default_severity: Severity,
    /// Whether the finding says something could not be checked (a source,
    /// an endpoint) rather than that something checked is wrong. Exit
    /// codes keep the two apart.
    pub unchecked: bool,
    /// One line: what the finding means.
    pub summary: &'static str,
}

/// Declares [`FindingCode`] and its catalogue from one table, so a code
/// cannot exist without its severity, meaning and wire name.
macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, $severity:ident, $unchecked:literal, $summary:literal; )*) => {
        /// A finding's stable code; kebab-case on the wire (`cert-expired`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum FindingCode {
            $( $(#[$doc])* #[serde(rename = $wire)] $variant, )*
        }

        impl FindingCode {
            /// Every code, in the order `docs/REPORT.md` lists them.
            pub const ALL: &'static [FindingCode] = &[$(FindingCode::$variant),*];

            /// The catalogue entry.
            pub const fn info(self) -> CodeInfo {
                match self {
                    $( FindingCode::$variant => CodeInfo {
                        code: FindingCode::$variant,
                        default_severity: Severity::$severity,
                        unchecked: $unchecked,
                        summary: $summary,
                    }, )*
                }
            }

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( FindingCode::$variant => $wire, )*
                }
            }
        }
    };
}

catalogue! {
    /// The served leaf has expired.
    CertExpired = "cert-expired", Critical, false, "The served leaf certificate has expired.";
    /// The served leaf is not valid yet.
    CertNotYetValid = "cert-not-yet-valid", High, false, "The served leaf certificate is not valid yet.";
    /// The served leaf expires within the thresholds.
    CertExpiring = "cert-expiring", Medium, false,
        "The served leaf certificate expires within the warning thresholds.";
    /// A certificate of the served or verified chain (not the leaf) expires first.
    ChainExpiring = "chain-expiring", Medium, false,
        "A certificate of the served or verified chain (not the leaf) expires first, within the thresholds.";
    /// The served leaf does not cover the name the endpoint is reached by.
    NameMismatch = "name-mismatch", High, false,
        "The served leaf does not cover the name the endpoint is reached by.";
    /// The name matched only the subject CN and the user accepts that (`legacy_cn = "accept"`).
    NameLegacyCnOnly = "name-legacy-cn-only", Low, false,
        "The name matched only the subject CN (the leaf has no SAN extension) and legacy CN matching is accepted.";
    /// The endpoint serves a certificate other than the declared one.
    ServedNotDeclared = "served-not-declared", Critical, false,
        "The endpoint serves a certificate other than the declared one.";
    /// The endpoint still serves the certificate the declared one replaced.
    StaleCertificate = "stale-certificate", Critical, false,
        "The endpoint still serves the certificate the declared one replaced.";
    /// The served chain lacks an intermediate that was found elsewhere (AIA).
    ChainIncomplete = "chain-incomplete", Medium, false,
        "The served chain lacks an intermediate; with the one its AIA URL names, it reaches a trusted root (clients that do not fetch fail).";
    /// The served chain is not trusted.
    Untrusted = "untrusted", High, false,
        "The served chain does not validate to a trusted root (unknown issuer, self-signed, expired or invalid certificate in the path).";
    /// The served leaf is revoked.
    Revoked = "revoked", Critical, false, "The served leaf certificate is revoked.";
    /// The leaf must be stapled, and the server stapled nothing.
    MustStapleMissing = "must-staple-missing", High, false,
        "The served leaf carries the must-staple TLS feature, but the server stapled no OCSP response; clients that enforce it refuse the connection.";
    /// Sources disagree about the served leaf's revocation.
    RevocationDisagreement = "revocation-disagreement", High, false,
        "Sources disagree about the served leaf: one (a provider, a CRL) says revoked, another good; the revoked answer decides.";
    /// The revocation data the leaf names could not be had.
    RevocationUnknown = "revocation-unknown", Medium, true,
        "Revocation of the served leaf is unknown: the CRL or OCSP responder it names could not be reached (down, HTTP error, over the size bound), the responder does not know the leaf, or its issuer's certificate was not at hand.";
    /// A revocation answer came but cannot be accepted.
    RevocationResponseInvalid = "revocation-response-invalid", High, true,
        "Revocation of the served leaf is unknown, or the server staples an OCSP response clients must reject: a CRL or OCSP response came but cannot be accepted (wrong signer, an unauthorised responder, stale, out of scope, a delta CRL, not about the leaf, unparsable).";
    /// A weak key or signature hash.
    WeakKey = "weak-key", Medium, false,
        "A certificate of the served chain has a key too small or a weak signature hash.";
    /// A served certificate could not be parsed.
    MalformedCertificate = "malformed-certificate", High, false,
        "A certificate the server sent does not parse as X.509 (the error says what is wrong).";
    /// The server negotiated a protocol older than TLS 1.2.
    LegacyProtocol = "legacy-protocol", High, false,
        "The server speaks only a TLS version older than 1.2; its chain was read with a capture-only handshake.";
    /// The server asked for a client certificate.
    ClientCertificateRequested = "client-certificate-requested", Info, false,
        "The server asked for a client certificate (the acceptable CA names are in the evidence).";
    /// The server sent its chain, but current clients cannot complete the handshake.
    HandshakeRejected = "handshake-rejected", High, false,
        "The server sent its certificates, but a current TLS client refuses the handshake (weak key, bad handshake signature, malformed certificate, no shared algorithms); the chain is analysed.";
    /// The TLS handshake failed.
    HandshakeFailed = "handshake-failed", High, true,
        "The TLS handshake failed (alert, protocol error, closed connection).";
    /// The endpoint could not be reached.
    Unreachable = "unreachable", High, true, "The endpoint could not be reached (DNS, refused, timeout).";
    /// The endpoint answered, but not with TLS.
    NoTls = "no-tls", High, true, "The endpoint answered, but not with TLS.";
    /// An auto-managed certificate was renewed, but the deployment still declares the old one.
    AutoManagedNotDeployed = "auto-managed-not-deployed", High, false,
        "An auto-managed certificate was renewed, but the deployment still declares the old one.";
    /// The provider's own status disagrees with what is served.
    ProviderStatusDisagrees = "provider-status-disagrees", Medium, false,
        "The provider's own status says ok, but the served certificate has a problem.";
    /// The declared certificate has expired (from the provider's data).
    DeclaredExpired = "declared-expired", High, false,
        "The declared certificate has expired (from the provider's data; nothing was served).";
    /// The declared certificate expires within the thresholds (from the provider's data).
    DeclaredExpiring = "declared-expiring", Medium, false,
        "The declared certificate expires within the thresholds (from the provider's data; nothing was served).";
    /// The binding cannot be probed.
    NotProbeable = "not-probeable", Info, false, "The binding cannot be probed (wildcard domain, no endpoint).";
    /// Cross-service data could not be joined unambiguously.
    JoinAmbiguous = "join-ambiguous", Low, false, "Cross-service data could not be joined unambiguously.";
    /// A source (plugin, scope) could not be listed completely.
    SourceFailed = "source-failed", High, true, "A source (plugin, scope) could not be listed completely.";
    /// A source listed everything but warned about part of it.
    SourceWarning = "source-warning", Low, false,
        "A source listed everything but warned about part of what it read (tags it was refused, a detail it could not fetch); its bindings are reported.";
}

impl FindingCode {
    /// Whether this code says something could not be checked.
    pub const fn is_unchecked(self) -> bool {
        self.info().unchecked
    }

    /// The code with this wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// The code, see [`FindingCode`].
    pub code: FindingCode,
    /// Severity.
    pub severity: Severity,
    /// Where, for people: the binding's service and endpoint
    /// (`cdn www.example.com:443 (SNI a.example.com)`), or the plugin and
    /// scope of a source failure. Renderers compose it with `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// What is wrong, one sentence, without the place.
    pub message: String,
    /// Index into the report's bindings, when the finding concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<usize>,
    /// The address observed, when the finding concerns one observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Supporting facts (fingerprints, dates, errors).
    #[serde(default, skip_serializing_if = "Evidence::is_empty")]
    pub evidence: Evidence,
}

/// A finding's supporting facts: a JSON value, held as its compact text.
///
/// Why text: a `serde_json::Value` object is a map of nodes, several KiB
/// for the served-certificate facts a verdict finding carries, and a
/// report keeps one per finding; the text is a few hundred bytes. It is
/// parsed again only when written or read ([`Evidence::to_value`]), so
/// every output format sees the same value as before.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Evidence(Option<Box<str>>);

impl Evidence {
    /// `value` as evidence; `null` is no evidence.
    pub fn new(value: &serde_json::Value) -> Self {
        Self((!value.is_null()).then(|| value.to_string().into_boxed_str()))
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The value (`null` when there is none).
    pub fn to_value(&self) -> serde_json::Value {
        // The text was written from a value, so it always parses.
        self.0.as_deref().and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default()
    }

    /// The compact JSON text, when there is evidence.
    pub fn as_json(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl From<serde_json::Value> for Evidence {
    fn from(value: serde_json::Value) -> Self {
        Self::new(&value)
    }
}

impl std::fmt::Debug for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_json().unwrap_or("null"))
    }
}

impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Through the value, so a pretty printer indents it as it would the value.
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Evidence {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(|value| Self::new(&value))
    }
}

impl Finding {
    /// A finding with `code` at its catalogue severity.
    pub fn new(code: FindingCode, message: impl Into<String>) -> Self {
        Self::with_severity(code, code.info().default_severity, message)
    }

    /// A finding with `code` at `severity` (codes graded by days left).
    pub fn with_severity(code: FindingCode, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            code,
            severity,
            place: None,
            message: message.into(),
            binding: None,
            address: None,
            evidence: Evidence::default(),
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

    /// Say where, for people.
    pub fn at_place(mut self, place: impl Into<String>) -> Self {
        self.place = Some(place.into());
        self
    }

    /// Attach evidence.
    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = Evidence::new(&evidence);
        self
    }

    /// Whether this finding says something could not be checked.
    pub fn is_unchecked(&self) -> bool {
        self.code.is_unchecked()
    }

    /// The place and the message as one line (`place: message`).
    pub fn text(&self) -> String {
        match &self.place {
            Some(place) => format!("{place}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_name() {
        for &code in FindingCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<FindingCode>(&json).unwrap(), code);
            assert_eq!(FindingCode::parse(code.as_str()), Some(code));
        }
    }

    #[test]
    fn unchecked_codes_are_exactly_the_ones_about_not_looking() {
        let unchecked: Vec<&str> = FindingCode::ALL.iter().filter(|c| c.is_unchecked()).map(|c| c.as_str()).collect();
        assert_eq!(
            unchecked,
            [
                "revocation-unknown",
                "revocation-response-invalid",
                "handshake-failed",
                "unreachable",
                "no-tls",
                "source-failed"
            ]
        );
    }

    #[test]
    fn evidence_is_held_as_text_and_written_as_the_value_it_was() {
        let value = serde_json::json!({ "served": { "sha256": "ab", "sans": ["a.test"] }, "days": -3, "ok": null,
            "fraction_remaining": 0.9638764880952381 });
        let finding = Finding::new(FindingCode::Revoked, "m").with_evidence(value.clone());
        assert_eq!(finding.evidence.to_value(), value);
        let pretty = serde_json::to_string_pretty(&finding).unwrap();
        // Indented in a pretty report as the value itself would be.
        let indented = serde_json::to_string_pretty(&value).unwrap().replace('\n', "\n  ");
        assert!(pretty.contains(&format!("\"evidence\": {indented}\n}}")), "{pretty}");
        let read: Finding = serde_json::from_str(&pretty).unwrap();
        assert_eq!(read, finding);
        let none = Finding::new(FindingCode::Revoked, "m").with_evidence(serde_json::Value::Null);
        assert!(none.evidence.is_empty());
        assert!(!serde_json::to_string(&none).unwrap().contains("evidence"));
        assert_eq!(format!("{:?}", finding.evidence), value.to_string());
    }

    #[test]
    fn the_text_composes_place_and_message() {
        let finding = Finding::new(FindingCode::Revoked, "serves a revoked certificate").at_place("cdn a.test:443");
        assert_eq!(finding.text(), "cdn a.test:443: serves a revoked certificate");
        assert_eq!(finding.severity, Severity::Critical);
    }
}
