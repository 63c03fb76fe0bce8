//! Host name matching, RFC 6125 / RFC 9525 as browsers and rustls-webpki
//! apply them.
//!
//! Implemented here rather than through webpki's
//! `verify_is_valid_for_subject_name` because we report *which* SAN matched
//! and why nothing did, and because the legacy CN-only case needs its own
//! reason: a mismatch by default (as every current client sees it), a match
//! only when the caller opts in for an old private PKI ([`LegacyCn::Accept`]).

use std::fmt;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::facts::{CertificateFacts, SubjectAltName};

/// Outcome of matching a host name or IP address against a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum NameMatch {
    /// A DNS SAN matched.
    Matched {
        /// The SAN that matched, as the certificate spells it.
        san: String,
        /// Whether it matched through a `*.` wildcard.
        wildcard: bool,
    },
    /// An IP SAN matched an IP address reference.
    MatchedIp {
        /// The matching IP SAN.
        san: IpAddr,
    },
    /// The certificate has no subjectAltName extension and a subject CN
    /// matched, and the caller accepts that ([`LegacyCn::Accept`]).
    /// Browsers and rustls reject it; under the default
    /// ([`LegacyCn::Reject`]) the same certificate gives
    /// [`NoMatchReason::OnlyInLegacyCn`].
    MatchedLegacyCnOnly {
        /// The matching commonName.
        common_name: String,
    },
    /// Nothing matched.
    NoMatch {
        /// Why.
        reason: NoMatchReason,
    },
}

impl NameMatch {
    /// True for every matched outcome, including the legacy CN-only one.
    pub fn is_match(&self) -> bool {
        !matches!(self, NameMatch::NoMatch { .. })
    }
}

/// Why a name did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoMatchReason {
    /// A DNS name was given; no DNS SAN covers it.
    NotInDnsSans {
        /// How many DNS SANs the certificate has.
        dns_sans: usize,
    },
    /// An IP address was given; no IP SAN equals it (IP addresses are never
    /// compared with DNS SANs or the CN).
    NotInIpSans {
        /// How many IP SANs the certificate has.
        ip_sans: usize,
    },
    /// No subjectAltName extension, and no subject CN matched.
    LegacyCnMismatch,
    /// No subjectAltName extension; the name appears only in the legacy
    /// subject CN, which current clients ignore ([`LegacyCn::Reject`]).
    OnlyInLegacyCn {
        /// The commonName that holds the name.
        common_name: String,
    },
    /// No subjectAltName extension and no CN: the certificate names nothing.
    NoNames,
    /// The leaf could not be parsed, so there was nothing to match against.
    LeafUnparsable,
    /// The reference given is not a valid host name or IP address.
    InvalidReference {
        /// What was wrong with it.
        detail: String,
    },
}

impl fmt::Display for NoMatchReason {
    /// A sentence fragment for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoMatchReason::NotInDnsSans { dns_sans } => {
                write!(f, "none of the certificate's {dns_sans} DNS names covers it")
            }
            NoMatchReason::NotInIpSans { ip_sans } => {
                write!(f, "none of the certificate's {ip_sans} IP addresses is it")
            }
            NoMatchReason::LegacyCnMismatch => {
                f.write_str("the certificate has no subjectAltName extension and its subject CN does not match")
            }
            NoMatchReason::OnlyInLegacyCn { common_name } => write!(
                f,
                "the name appears only in the legacy subject CN '{common_name}' (no subjectAltName extension), which current clients ignore"
            ),
            NoMatchReason::NoNames => f.write_str("the certificate names no host at all"),
            NoMatchReason::LeafUnparsable => f.write_str("the server certificate could not be read"),
            NoMatchReason::InvalidReference { detail } => write!(f, "the name is not a valid host name ({detail})"),
        }
    }
}

/// Whether a host name found only in the subject CN of a certificate
/// without a subjectAltName extension counts as a match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegacyCn {
    /// A name mismatch, as browsers, rustls and every current client see it
    /// ([`NoMatchReason::OnlyInLegacyCn`]). The default.
    #[default]
    Reject,
    /// A match ([`NameMatch::MatchedLegacyCnOnly`]): the opt-in for old
    /// private PKIs whose clients still read the CN.
    Accept,
}

/// A validated reference identity: what the client asked for.
enum Reference {
    Dns(String),
    Ip(IpAddr),
}

fn normalize_reference(host: &str) -> Result<Reference, String> {
    let host = host.trim();
    let bracketless = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bracketless.parse::<IpAddr>() {
        return Ok(Reference::Ip(ip));
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err("empty host name".to_owned());
    }
    let ascii = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        // U-labels: compare as A-labels, which is what certificates carry.
        idna::domain_to_ascii(host).map_err(|e| format!("IDNA conversion failed: {e}"))?
    };
    if ascii.len() > 253 {
        return Err("host name longer than 253 octets".to_owned());
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err("empty label".to_owned());
        }
        if label.len() > 63 {
            return Err("label longer than 63 octets".to_owned());
        }
        // Underscores are tolerated as webpki does; `*` never is in a
        // reference identity.
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(format!("invalid character in label {label:?}"));
        }
    }
    Ok(Reference::Dns(ascii))
}

/// Whether a presented DNS identifier (from a SAN or legacy CN) covers the
/// normalized reference. Returns `Some(wildcard)` on a match.
///
/// Rules, as in rustls-webpki and NSS: case-insensitive ASCII comparison;
/// a wildcard is only the whole leftmost label `*`, matches exactly one
/// non-empty label, and needs at least two labels after it (`*.com` never
/// matches); partial wildcards (`f*.example.com`) never match; presented
/// names with a trailing dot or non-ASCII octets are malformed and never
/// match.
fn presented_matches(presented: &str, reference: &str) -> Option<bool> {
    if !presented.is_ascii() || presented.ends_with('.') || presented.is_empty() {
        return None;
    }
    if let Some(suffix) = presented.strip_prefix("*.") {
        if suffix.contains('*') || !suffix.contains('.') || suffix.split('.').any(str::is_empty) {
            return None;
        }
        let (first, rest) = reference.split_once('.')?;
        if !first.is_empty() && rest.eq_ignore_ascii_case(suffix) {
            return Some(true);
        }
        return None;
    }
    if presented.contains('*') {
        return None;
    }
    presented.eq_ignore_ascii_case(reference).then_some(false)
}

/// Matches `host` (a DNS name, U-label or A-label, or an IPv4/IPv6 address,
/// optionally in brackets) against the certificate's names, as current
/// clients do: a name only in the legacy CN is a mismatch
/// ([`LegacyCn::Reject`]; see [`match_name_with`] to accept it).
pub fn match_name(facts: &CertificateFacts, host: &str) -> NameMatch {
    match_name_with(facts, host, LegacyCn::Reject)
}

/// [`match_name`] with a choice for the legacy CN. The CN is consulted only
/// when the certificate has no subjectAltName extension at all; a match
/// there is [`NameMatch::MatchedLegacyCnOnly`] under [`LegacyCn::Accept`]
/// and [`NoMatchReason::OnlyInLegacyCn`] under [`LegacyCn::Reject`].
pub fn match_name_with(facts: &CertificateFacts, host: &str, legacy_cn: LegacyCn) -> NameMatch {
    let reference = match normalize_reference(host) {
        Ok(r) => r,
        Err(detail) => return NameMatch::NoMatch { reason: NoMatchReason::InvalidReference { detail } },
    };
    match reference {
        Reference::Ip(ip) => {
            let mut ip_sans = 0;
            for san in &facts.subject_alt_names {
                if let SubjectAltName::Ip(candidate) = san {
                    ip_sans += 1;
                    if *candidate == ip {
                        return NameMatch::MatchedIp { san: *candidate };
                    }
                }
            }
            NameMatch::NoMatch { reason: NoMatchReason::NotInIpSans { ip_sans } }
        }
        Reference::Dns(name) => {
            if facts.san_extension_present {
                let mut dns_sans = 0;
                for san in &facts.subject_alt_names {
                    if let SubjectAltName::Dns(presented) = san {
                        dns_sans += 1;
                        if let Some(wildcard) = presented_matches(presented, &name) {
                            return NameMatch::Matched { san: presented.clone(), wildcard };
                        }
                    }
                }
                return NameMatch::NoMatch { reason: NoMatchReason::NotInDnsSans { dns_sans } };
            }
            if facts.subject_common_names.is_empty() {
                return NameMatch::NoMatch { reason: NoMatchReason::NoNames };
            }
            for cn in &facts.subject_common_names {
                if presented_matches(cn, &name).is_some() {
                    let common_name = cn.clone();
                    return match legacy_cn {
                        LegacyCn::Accept => NameMatch::MatchedLegacyCnOnly { common_name },
                        LegacyCn::Reject => {
                            NameMatch::NoMatch { reason: NoMatchReason::OnlyInLegacyCn { common_name } }
                        }
                    };
                }
            }
            NameMatch::NoMatch { reason: NoMatchReason::LegacyCnMismatch }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_rules() {
        assert_eq!(presented_matches("*.example.com", "a.example.com"), Some(true));
        assert_eq!(presented_matches("*.EXAMPLE.com", "a.example.com"), Some(true));
        assert_eq!(presented_matches("*.example.com", "example.com"), None);
        assert_eq!(presented_matches("*.example.com", "a.b.example.com"), None);
        assert_eq!(presented_matches("f*.example.com", "foo.example.com"), None);
        assert_eq!(presented_matches("*oo.example.com", "foo.example.com"), None);
        assert_eq!(presented_matches("a.*.example.com", "a.b.example.com"), None);
        assert_eq!(presented_matches("*.com", "example.com"), None);
        assert_eq!(presented_matches("*", "example"), None);
        assert_eq!(presented_matches("Example.COM", "example.com"), Some(false));
        assert_eq!(presented_matches("example.com.", "example.com"), None);
    }

    #[test]
    fn references_are_normalized() {
        assert!(matches!(
            normalize_reference("Bücher.Example"),
            Ok(Reference::Dns(n)) if n == "xn--bcher-kva.example"
        ));
        assert!(matches!(normalize_reference("[::1]"), Ok(Reference::Ip(_))));
        assert!(matches!(
            normalize_reference("Example.COM."),
            Ok(Reference::Dns(n)) if n == "example.com"
        ));
        assert!(normalize_reference("*.example.com").is_err());
        assert!(normalize_reference("a..b").is_err());
        assert!(normalize_reference("").is_err());
    }
}
