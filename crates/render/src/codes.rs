//! The finding codes the engine emits, with what each renderer needs to
//! describe them before any finding exists (SARIF rules, Prometheus zero
//! series, docs). The codes themselves are `certinspect_core::findings::code`;
//! a test checks this list against that module's source so a new code
//! cannot be forgotten here.

use certinspect_core::findings::{code, Severity};

/// What a renderer knows about one finding code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// The stable code.
    pub code: &'static str,
    /// The severity it is raised with. Codes graded by days left
    /// (`cert-expiring`, `chain-expiring`) carry several; this is the one
    /// used as SARIF's default level: the mildest the engine emits.
    pub default_severity: Severity,
    /// One line: what the finding means.
    pub summary: &'static str,
}

const fn info(code: &'static str, default_severity: Severity, summary: &'static str) -> CodeInfo {
    CodeInfo { code, default_severity, summary }
}

/// Every finding code, in the order `docs/REPORT.md` lists them.
pub const FINDING_CODES: &[CodeInfo] = &[
    info(code::CERT_EXPIRED, Severity::Critical, "The served leaf certificate has expired."),
    info(code::CERT_NOT_YET_VALID, Severity::High, "The served leaf certificate is not valid yet."),
    info(code::CERT_EXPIRING, Severity::Medium, "The served leaf certificate expires within the warning thresholds."),
    info(
        code::CHAIN_EXPIRING,
        Severity::Medium,
        "A certificate of the served or verified chain (not the leaf) expires first, within the thresholds.",
    ),
    info(code::NAME_MISMATCH, Severity::High, "The served leaf does not cover the name the endpoint is reached by."),
    info(
        code::NAME_LEGACY_CN_ONLY,
        Severity::Low,
        "The name matched only the subject CN; the leaf has no SAN extension, which modern clients reject.",
    ),
    info(
        code::SERVED_NOT_DECLARED,
        Severity::Critical,
        "The endpoint serves a certificate other than the declared one.",
    ),
    info(
        code::STALE_CERTIFICATE,
        Severity::Critical,
        "The endpoint still serves the certificate the declared one replaced.",
    ),
    info(
        code::CHAIN_INCOMPLETE,
        Severity::Medium,
        "The served chain does not reach a trust anchor without fetching (missing intermediate).",
    ),
    info(code::UNTRUSTED, Severity::High, "The served chain is not trusted (unknown CA, self-signed, invalid)."),
    info(code::REVOKED, Severity::Critical, "The served leaf certificate is revoked."),
    info(
        code::WEAK_KEY,
        Severity::Medium,
        "A certificate of the served chain has a key too small or a weak signature hash.",
    ),
    info(
        code::HANDSHAKE_FAILED,
        Severity::High,
        "The TLS handshake failed (alert, protocol error, closed connection).",
    ),
    info(code::UNREACHABLE, Severity::High, "The endpoint could not be reached (DNS, refused, timeout)."),
    info(code::NO_TLS, Severity::High, "The endpoint answered, but not with TLS."),
    info(
        code::AUTO_MANAGED_NOT_DEPLOYED,
        Severity::High,
        "An auto-managed certificate was renewed, but the deployment still declares the old one.",
    ),
    info(
        code::PROVIDER_STATUS_DISAGREES,
        Severity::Medium,
        "The provider's own status says ok, but the served certificate has a problem.",
    ),
    info(
        code::DECLARED_EXPIRED,
        Severity::High,
        "The declared certificate has expired (from the provider's data; nothing was served).",
    ),
    info(
        code::DECLARED_EXPIRING,
        Severity::Medium,
        "The declared certificate expires within the thresholds (from the provider's data; nothing was served).",
    ),
    info(code::NOT_PROBEABLE, Severity::Info, "The binding cannot be probed (wildcard domain, no endpoint)."),
    info(code::JOIN_AMBIGUOUS, Severity::Low, "Cross-service data could not be joined unambiguously."),
    info(code::SOURCE_FAILED, Severity::High, "A source (plugin, scope) could not be listed completely."),
];

/// What is known about `code`, if it is one of [`FINDING_CODES`].
pub fn code_info(code: &str) -> Option<&'static CodeInfo> {
    FINDING_CODES.iter().find(|c| c.code == code)
}

/// Every severity, most severe first.
pub const SEVERITIES: [Severity; 5] =
    [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];
