//! Reconciliation: is the served certificate the declared one?
//!
//! Pure: a declaration, the facts of the served leaf, and the certificates
//! the providers know of in, a verdict and the identity it was decided on out.

use certinspect_analysis::{CertificateFacts, SubjectAltName};
use certinspect_protocol::{normalize_hex, normalize_serial, DeclaredCertificate};
use serde::{Deserialize, Serialize};

/// The verdict for one binding at one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// The declared certificate is served.
    Match,
    /// An older certificate for the same names is served: the one the
    /// declared certificate replaced.
    Stale,
    /// A certificate other than the declared one is served.
    Foreign,
    /// No TLS handshake could be completed (network error, timeout, alert).
    Unreachable,
    /// The endpoint answered, but not with TLS.
    NoTls,
    /// The declaration carries nothing to compare with (no fingerprint,
    /// serial or names).
    Indeterminate,
    /// Nothing was declared for this endpoint (`inspect probe` without
    /// `--declared`): the served certificate is reported as observed.
    Observed,
}

impl Verdict {
    /// The upper-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "MATCH",
            Self::Stale => "STALE",
            Self::Foreign => "FOREIGN",
            Self::Unreachable => "UNREACHABLE",
            Self::NoTls => "NO_TLS",
            Self::Indeterminate => "INDETERMINATE",
            Self::Observed => "OBSERVED",
        }
    }
}

/// What the comparison was based on, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityBasis {
    /// SHA-256 fingerprints.
    Sha256,
    /// SHA-1 fingerprints.
    Sha1,
    /// Serial number (and issuer, where declared).
    SerialIssuer,
    /// Names and validity period: the weakest basis; a renewal with the same
    /// names and dates would not be told apart.
    NamesValidity,
    /// Nothing comparable was declared.
    None,
}

/// The outcome of comparing a declaration with a served leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// The verdict.
    pub verdict: Verdict,
    /// What it was decided on.
    pub basis: IdentityBasis,
    /// Why, in one line.
    pub reason: String,
}

/// Validity dates from providers that carry no time zone (CDN) may be off
/// by a zone offset; renewals differ by far more than a day.
const VALIDITY_TOLERANCE_SECONDS: i64 = 86_400;

/// Compare `declared` with the served leaf `served`. `known` are all
/// certificates the providers declared anywhere (to recognise a served
/// certificate as the one a renewal replaced).
pub fn reconcile(
    declared: &DeclaredCertificate,
    served: &CertificateFacts,
    known: &[&DeclaredCertificate],
) -> Reconciliation {
    let (same, basis) = same_certificate(declared, served);
    match same {
        None => Reconciliation {
            verdict: Verdict::Indeterminate,
            basis,
            reason: "the declaration carries no fingerprint, serial or names to compare".into(),
        },
        Some(true) => Reconciliation { verdict: Verdict::Match, basis, reason: format!("{} equal", basis_name(basis)) },
        Some(false) => {
            let replaced = known
                .iter()
                .any(|other| matches!(same_certificate(other, served).0, Some(true)) && issued_before(other, declared));
            let older_same_names = names_overlap(declared, served)
                && declared.not_before.is_some_and(|declared_start| served.not_before < declared_start);
            if replaced || older_same_names {
                let why = if replaced {
                    "the served certificate is a known, older certificate for these names"
                } else {
                    "the served certificate covers the same names and was issued before the declared one"
                };
                Reconciliation {
                    verdict: Verdict::Stale,
                    basis,
                    reason: format!("{} differ; {why}", basis_name(basis)),
                }
            } else {
                Reconciliation {
                    verdict: Verdict::Foreign,
                    basis,
                    reason: format!(
                        "{} differ; the served certificate is not one the provider declared here",
                        basis_name(basis)
                    ),
                }
            }
        }
    }
}

/// Whether `declared` describes `served`, on the strongest identity both
/// sides have; `None` when there is nothing to compare.
pub fn same_certificate(declared: &DeclaredCertificate, served: &CertificateFacts) -> (Option<bool>, IdentityBasis) {
    if let Some(sha256) = declared.fingerprint("sha256") {
        return (Some(normalize_hex(sha256) == served.sha256_fingerprint), IdentityBasis::Sha256);
    }
    if let Some(sha1) = declared.fingerprint("sha1") {
        return (Some(normalize_hex(sha1) == served.sha1_fingerprint), IdentityBasis::Sha1);
    }
    if let Some(serial) = &declared.serial {
        let serial_equal = normalize_serial(serial) == normalize_serial(&served.serial_hex);
        let issuer_consistent = declared.issuer.as_deref().is_none_or(|issuer| {
            // Providers spell issuers loosely ("Let's Encrypt" vs a DN); a
            // contradiction is only a declared issuer absent from the DN.
            served.issuer.to_lowercase().contains(&issuer.to_lowercase())
                || issuer.to_lowercase().contains(&served.issuer.to_lowercase())
        });
        return (Some(serial_equal && issuer_consistent), IdentityBasis::SerialIssuer);
    }
    if declared.common_name.is_some() || !declared.sans.is_empty() {
        let cn_ok = declared.common_name.as_deref().is_none_or(|cn| {
            served.subject_common_names.iter().any(|s| s.eq_ignore_ascii_case(cn))
                || served_dns_names(served).any(|s| s.eq_ignore_ascii_case(cn))
        });
        let sans_ok = declared.sans.iter().all(|san| served_names(served).any(|s| s.eq_ignore_ascii_case(san)));
        let close = |declared: Option<i64>, served: i64| {
            declared.is_none_or(|d| (d - served).abs() <= VALIDITY_TOLERANCE_SECONDS)
        };
        let dates_ok = close(declared.not_before, served.not_before) && close(declared.not_after, served.not_after);
        return (Some(cn_ok && sans_ok && dates_ok), IdentityBasis::NamesValidity);
    }
    (None, IdentityBasis::None)
}

fn basis_name(basis: IdentityBasis) -> &'static str {
    match basis {
        IdentityBasis::Sha256 => "SHA-256 fingerprints",
        IdentityBasis::Sha1 => "SHA-1 fingerprints",
        IdentityBasis::SerialIssuer => "serial numbers",
        IdentityBasis::NamesValidity => "names and validity",
        IdentityBasis::None => "nothing",
    }
}

/// Whether `older` was issued before `newer` (by validity start, else end).
fn issued_before(older: &DeclaredCertificate, newer: &DeclaredCertificate) -> bool {
    match (older.not_before, newer.not_before) {
        (Some(a), Some(b)) => a < b,
        _ => matches!((older.not_after, newer.not_after), (Some(a), Some(b)) if a < b),
    }
}

fn served_dns_names(served: &CertificateFacts) -> impl Iterator<Item = &str> {
    served.subject_alt_names.iter().filter_map(|san| match san {
        SubjectAltName::Dns(name) => Some(name.as_str()),
        _ => None,
    })
}

fn served_names(served: &CertificateFacts) -> impl Iterator<Item = String> + '_ {
    served.subject_alt_names.iter().map(|san| match san {
        SubjectAltName::Dns(name) => name.clone(),
        SubjectAltName::Ip(ip) => ip.to_string(),
        SubjectAltName::Other(text) => text.clone(),
    })
}

/// Whether the declared names and the served names share one.
fn names_overlap(declared: &DeclaredCertificate, served: &CertificateFacts) -> bool {
    let declared_names: Vec<String> =
        declared.common_name.iter().chain(&declared.sans).map(|n| n.to_ascii_lowercase()).collect();
    served_dns_names(served)
        .chain(served.subject_common_names.iter().map(String::as_str))
        .any(|name| declared_names.contains(&name.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    //! Declared certificate and served leaf in, verdict and basis out.

    use certinspect_analysis::parse_certificate;
    use certinspect_tls_farm::pki::{TestCa, Validity};

    use super::*;

    #[test]
    fn verdicts() {
        let ca = TestCa::new("Reconcile Test CA").unwrap();
        let issue = |validity| parse_certificate(ca.issue(&["a.test"], validity).unwrap().leaf()).unwrap();
        let served = issue(Validity::days_from_now(90));
        let newer = issue(Validity::days_from_now(200));
        let as_declared = |facts: &CertificateFacts| {
            DeclaredCertificate::default()
                .with_fingerprint("sha256", &facts.sha256_fingerprint)
                .with_validity(facts.not_before, facts.not_after)
                .with_common_name("a.test")
        };
        let mut newer_declared = as_declared(&newer);
        // The replacement starts a day after the served one.
        newer_declared.not_before = Some(served.not_before + 86_400);
        let by_serial = DeclaredCertificate::default()
            .with_serial(format!("00:{}", served.serial_hex.to_uppercase()))
            .with_issuer("Reconcile Test CA");
        let by_names = DeclaredCertificate::default()
            .with_common_name("A.TEST")
            .with_sans(["a.test"])
            .with_validity(served.not_before + 3_600, served.not_after - 3_600);
        let wrong_serial_issuer = by_serial.clone().with_issuer("Other CA");
        let unrelated = DeclaredCertificate::default().with_fingerprint("sha256", &"ab".repeat(32));
        let served_declared = as_declared(&served);
        let nothing = DeclaredCertificate::default();
        #[rustfmt::skip]
        let cases: Vec<(&str, &DeclaredCertificate, Vec<&DeclaredCertificate>, Verdict, IdentityBasis)> = vec![
            ("same fingerprint", &served_declared, vec![], Verdict::Match, IdentityBasis::Sha256),
            ("a known older certificate is served", &newer_declared, vec![&served_declared], Verdict::Stale, IdentityBasis::Sha256),
            ("same names, issued before the declared one", &newer_declared, vec![], Verdict::Stale, IdentityBasis::Sha256),
            ("something else", &unrelated, vec![], Verdict::Foreign, IdentityBasis::Sha256),
            ("serial, spelled differently", &by_serial, vec![], Verdict::Match, IdentityBasis::SerialIssuer),
            ("serial equal but issuer contradicts", &wrong_serial_issuer, vec![], Verdict::Foreign, IdentityBasis::SerialIssuer),
            ("names and dates within a day", &by_names, vec![], Verdict::Match, IdentityBasis::NamesValidity),
            ("nothing declared", &nothing, vec![], Verdict::Indeterminate, IdentityBasis::None),
        ];
        for (name, declared, known, verdict, basis) in cases {
            let got = reconcile(declared, &served, &known);
            assert_eq!((got.verdict, got.basis), (verdict, basis), "{name}: {}", got.reason);
        }
    }
}
