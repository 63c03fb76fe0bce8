//! Revocation, pure: reading a certificate revocation list once (its
//! signature checked against the issuer, its scope and dates read) and
//! answering "is this certificate on it?", and the must-staple (TLS
//! feature `status_request`) flag of a certificate.
//!
//! The caller fetches the CRL (the URL comes from
//! [`CertificateFacts::crl_distribution_points`](crate::CertificateFacts)),
//! finds the issuer's certificate, and passes the clock. Parsing is
//! x509-parser's CRL support; signatures are checked with ring through it,
//! as for certificates.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_X509_EXT_DELTA_CRL_INDICATOR;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// id-pe-tlsfeature (RFC 7633).
const TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
/// [`TLS_FEATURE`] as DER: OBJECT IDENTIFIER, length 8, the encoded arcs.
const TLS_FEATURE_OID_DER: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x18];
/// The TLS feature `status_request` (extension 5): must staple.
const STATUS_REQUEST: u64 = 5;

/// Whether the certificate carries the TLS feature extension with
/// `status_request` (RFC 7633 "must staple"): a server presenting it must
/// staple an OCSP response. `false` for anything that does not parse.
pub fn must_staple(cert_der: &[u8]) -> bool {
    // An extension with this OID carries its DER encoding; most certificates
    // have none, and a byte search spares them a second full parse (the
    // analysis has parsed the leaf already).
    if !cert_der.windows(TLS_FEATURE_OID_DER.len()).any(|w| w == TLS_FEATURE_OID_DER) {
        return false;
    }
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else { return false };
    cert.extensions().iter().filter(|e| e.oid.to_id_string() == TLS_FEATURE).any(|e| {
        // Features ::= SEQUENCE OF INTEGER
        x509_parser::der_parser::parse_der(e.value)
            .ok()
            .and_then(|(_, seq)| seq.as_sequence().ok().cloned())
            .is_some_and(|features| features.iter().any(|feature| feature.as_u64().ok() == Some(STATUS_REQUEST)))
    })
}

/// What a CRL says about one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CrlStatus {
    /// Not on the list.
    Good,
    /// On the list.
    Revoked {
        /// When, UNIX seconds.
        revoked_at: i64,
        /// The CRL entry's reason (`key_compromise`, ...), when it gives one.
        reason: Option<String>,
    },
}

/// A CRL's answer for one certificate, with the list's dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CrlAnswer {
    /// Good or revoked.
    pub status: CrlStatus,
    /// The list's thisUpdate: when the answer was produced, UNIX seconds.
    pub this_update: i64,
    /// The list's nextUpdate, UNIX seconds.
    pub next_update: Option<i64>,
    /// The list covers one partition of the issuer's certificates (it has
    /// an issuing distribution point naming where it is published).
    pub partitioned: bool,
}

/// Why a CRL gives no answer. Every variant leaves revocation unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    /// The bytes are not a CRL.
    #[error("the CRL does not parse ({0})")]
    Malformed(String),
    /// The list is issued by someone else than the certificate's issuer.
    #[error("the CRL is issued by '{crl_issuer}', not by the certificate's issuer '{cert_issuer}'")]
    WrongIssuer {
        /// The CRL's issuer name.
        crl_issuer: String,
        /// The certificate's issuer name.
        cert_issuer: String,
    },
    /// The signature does not verify with the issuer's key.
    #[error("the CRL's signature does not verify with the key of '{0}'")]
    BadSignature(String),
    /// The list's nextUpdate has passed.
    #[error("the CRL is stale: its nextUpdate ({next_update}) has passed")]
    Stale {
        /// nextUpdate, UNIX seconds.
        next_update: i64,
    },
    /// The list's thisUpdate is in the future.
    #[error("the CRL is not valid yet: its thisUpdate ({this_update}) is in the future")]
    NotYetValid {
        /// thisUpdate, UNIX seconds.
        this_update: i64,
    },
    /// A delta CRL, which only lists changes since a base CRL.
    #[error("the URL serves a delta CRL, which lists only changes since a base CRL; delta CRLs are not merged")]
    Delta,
    /// The list does not cover this certificate.
    #[error("the CRL does not cover this certificate ({0})")]
    OutOfScope(String),
}

/// One CRL read once: checked against its issuer and indexed by serial,
/// so any number of certificates can be looked up in it.
#[derive(Debug, Clone)]
pub struct Crl {
    issuer_raw: Vec<u8>,
    /// The key the signature was checked with.
    issuer_key_raw: Vec<u8>,
    issuer: String,
    this_update: i64,
    next_update: Option<i64>,
    scope: Scope,
    /// DER INTEGER contents of the serial -> (revoked at, reason).
    revoked: HashMap<Vec<u8>, (i64, Option<String>)>,
}

/// What an issuing distribution point limits the list to.
#[derive(Debug, Clone, Default)]
struct Scope {
    /// URIs the list says it is published at; empty when it names none.
    published_at: Vec<String>,
    only_user_certs: bool,
    only_ca_certs: bool,
    only_some_reasons: bool,
    indirect: bool,
}

impl Crl {
    /// Read the CRL in `der`, signed by `issuer_der` (the certificate of
    /// the issuer of the certificates it will be asked about).
    pub fn read(der: &[u8], issuer_der: &[u8]) -> Result<Crl, CrlError> {
        let (_, crl) = CertificateRevocationList::from_der(der).map_err(|e| CrlError::Malformed(e.to_string()))?;
        let (_, issuer) = X509Certificate::from_der(issuer_der).map_err(|e| CrlError::Malformed(e.to_string()))?;
        if crl.issuer().as_raw() != issuer.subject().as_raw() {
            return Err(CrlError::WrongIssuer {
                crl_issuer: crl.issuer().to_string(),
                cert_issuer: issuer.subject().to_string(),
            });
        }
        crl.verify_signature(issuer.public_key()).map_err(|_| CrlError::BadSignature(issuer.subject().to_string()))?;
        let mut scope = Scope::default();
        for extension in crl.extensions() {
            if extension.oid == OID_X509_EXT_DELTA_CRL_INDICATOR {
                return Err(CrlError::Delta);
            }
            if let ParsedExtension::IssuingDistributionPoint(point) = extension.parsed_extension() {
                if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                    scope.published_at = names
                        .iter()
                        .filter_map(|n| match n {
                            GeneralName::URI(uri) => Some((*uri).to_owned()),
                            _ => None,
                        })
                        .collect();
                }
                scope.only_user_certs = point.only_contains_user_certs;
                scope.only_ca_certs = point.only_contains_ca_certs;
                scope.only_some_reasons = point.only_some_reasons.is_some();
                scope.indirect = point.indirect_crl;
            }
        }
        let revoked = crl
            .iter_revoked_certificates()
            .map(|entry| {
                let reason = entry.reason_code().map(|(_, code)| reason_name(code.0).to_owned());
                (entry.raw_serial().to_vec(), (entry.revocation_date.timestamp(), reason))
            })
            .collect();
        Ok(Crl {
            issuer_raw: crl.issuer().as_raw().to_vec(),
            issuer_key_raw: issuer.public_key().raw.to_vec(),
            issuer: crl.issuer().to_string(),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            scope,
            revoked,
        })
    }

    /// Whether the list names the URL it is published at (a partition).
    pub fn partitioned(&self) -> bool {
        !self.scope.published_at.is_empty()
    }

    /// What the list, fetched from `url`, says about `cert_der` (issued by
    /// `issuer_der`, see [`find_issuer`]) at `now`.
    pub fn status_of(&self, cert_der: &[u8], issuer_der: &[u8], url: &str, now: i64) -> Result<CrlAnswer, CrlError> {
        let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| CrlError::Malformed(e.to_string()))?;
        let (_, issuer) = X509Certificate::from_der(issuer_der).map_err(|e| CrlError::Malformed(e.to_string()))?;
        if cert.issuer().as_raw() != self.issuer_raw.as_slice() {
            return Err(CrlError::WrongIssuer {
                crl_issuer: self.issuer.clone(),
                cert_issuer: cert.issuer().to_string(),
            });
        }
        // Same name, another key: the list was not signed by this issuer.
        if issuer.public_key().raw != self.issuer_key_raw.as_slice() {
            return Err(CrlError::BadSignature(issuer.subject().to_string()));
        }
        let is_ca = cert.basic_constraints().ok().flatten().is_some_and(|b| b.value.ca);
        let scope = &self.scope;
        let out_of_scope = if scope.indirect {
            Some("it is an indirect CRL, which is not supported")
        } else if scope.only_some_reasons {
            Some("it lists only some revocation reasons")
        } else if scope.only_user_certs && is_ca {
            Some("it lists only end-entity certificates and this is a CA")
        } else if scope.only_ca_certs && !is_ca {
            Some("it lists only CA certificates")
        } else if !scope.published_at.is_empty() && !scope.published_at.iter().any(|u| u == url) {
            Some("it is a partition published elsewhere than the URL the certificate names")
        } else {
            None
        };
        if let Some(why) = out_of_scope {
            return Err(CrlError::OutOfScope(why.to_owned()));
        }
        if self.this_update > now {
            return Err(CrlError::NotYetValid { this_update: self.this_update });
        }
        if let Some(next_update) = self.next_update.filter(|next| *next < now) {
            return Err(CrlError::Stale { next_update });
        }
        let status = match self.revoked.get(cert.raw_serial()) {
            Some((revoked_at, reason)) => CrlStatus::Revoked { revoked_at: *revoked_at, reason: reason.clone() },
            None => CrlStatus::Good,
        };
        Ok(CrlAnswer {
            status,
            this_update: self.this_update,
            next_update: self.next_update,
            partitioned: self.partitioned(),
        })
    }
}

/// The certificate among `candidates` (served or fetched with it) that
/// issued `cert_der`: its subject is the certificate's issuer and its key
/// verifies the certificate's signature. `None` when none does, or when
/// `cert_der` does not parse.
pub fn find_issuer<'a>(cert_der: &[u8], candidates: &[&'a [u8]]) -> Option<&'a [u8]> {
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    candidates.iter().copied().find(|candidate| {
        X509Certificate::from_der(candidate).is_ok_and(|(_, issuer)| {
            issuer.subject().as_raw() == cert.issuer().as_raw()
                && cert.verify_signature(Some(issuer.public_key())).is_ok()
        })
    })
}

/// RFC 5280 CRLReason names, snake_case.
pub(crate) fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "key_compromise",
        2 => "ca_compromise",
        3 => "affiliation_changed",
        4 => "superseded",
        5 => "cessation_of_operation",
        6 => "certificate_hold",
        8 => "remove_from_crl",
        9 => "privilege_withdrawn",
        10 => "aa_compromise",
        _ => "unrecognised",
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlIssuingDistributionPoint, CrlScope,
        CustomExtension, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
        SerialNumber,
    };
    use time::{Duration, OffsetDateTime};

    use super::*;

    const URL: &str = "http://crl.test/ca.crl";

    struct Ca {
        cert: rcgen::Certificate,
        key: KeyPair,
    }

    fn ca(cn: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        Ca { cert: params.self_signed(&key).unwrap(), key }
    }

    fn leaf(ca: &Ca, serial: u64, extensions: Vec<CustomExtension>) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["a.test".to_owned()]).unwrap();
        params.serial_number = Some(SerialNumber::from(serial));
        params.custom_extensions = extensions;
        params.signed_by(&KeyPair::generate().unwrap(), &ca.cert, &ca.key).unwrap().der().to_vec()
    }

    fn crl(ca: &Ca, revoked: &[u64], days: (i64, i64), scope: Option<CrlIssuingDistributionPoint>) -> Vec<u8> {
        let now = OffsetDateTime::now_utc();
        CertificateRevocationListParams {
            this_update: now + Duration::days(days.0),
            next_update: now + Duration::days(days.1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: scope,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: now - Duration::days(2),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca.cert, &ca.key)
        .unwrap()
        .der()
        .to_vec()
    }

    fn now() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn a_listed_serial_is_revoked_with_its_time_and_reason_others_are_good() {
        let ca = ca("CRL Test CA");
        let list = Crl::read(&crl(&ca, &[7, 9], (-1, 6), None), ca.cert.der()).unwrap();
        let answer = list.status_of(&leaf(&ca, 9, vec![]), ca.cert.der(), URL, now()).unwrap();
        let CrlStatus::Revoked { revoked_at, reason } = answer.status else { panic!("{answer:?}") };
        assert!((now() - 2 * 86_400 - revoked_at).abs() < 60);
        assert_eq!(reason.as_deref(), Some("key_compromise"));
        assert_eq!(list.status_of(&leaf(&ca, 8, vec![]), ca.cert.der(), URL, now()).unwrap().status, CrlStatus::Good);
    }

    #[test]
    fn an_unusable_list_says_why_and_never_reads_good() {
        let ca = ca("CRL Test CA");
        // Same name, its own key.
        let impostor = self::ca("CRL Test CA");
        let other = self::ca("Other CA");
        let cert = leaf(&ca, 5, vec![]);
        let scoped = |urls: Vec<&str>| {
            Some(CrlIssuingDistributionPoint {
                distribution_point: rcgen::CrlDistributionPoint { uris: urls.into_iter().map(String::from).collect() },
                scope: Some(CrlScope::UserCertsOnly),
            })
        };
        let cases: Vec<(&str, Result<Crl, CrlError>)> = vec![
            ("wrong signer", Crl::read(&crl(&impostor, &[], (-1, 6), None), ca.cert.der())),
            ("other issuer", Crl::read(&crl(&other, &[], (-1, 6), None), other.cert.der())),
            ("stale", Crl::read(&crl(&ca, &[], (-9, -2), None), ca.cert.der())),
            ("future", Crl::read(&crl(&ca, &[], (2, 9), None), ca.cert.der())),
            (
                "partition elsewhere",
                Crl::read(&crl(&ca, &[], (-1, 6), scoped(vec!["http://crl.test/2.crl"])), ca.cert.der()),
            ),
            ("garbage", Crl::read(b"not a crl", ca.cert.der())),
        ];
        for (case, read) in cases {
            let answer = read.and_then(|list| list.status_of(&cert, ca.cert.der(), URL, now()));
            let error = answer.expect_err(case);
            let expected = match case {
                "wrong signer" => matches!(error, CrlError::BadSignature(_)),
                "other issuer" => matches!(error, CrlError::WrongIssuer { .. }),
                "stale" => matches!(error, CrlError::Stale { .. }),
                "future" => matches!(error, CrlError::NotYetValid { .. }),
                "partition elsewhere" => matches!(error, CrlError::OutOfScope(_)),
                _ => matches!(error, CrlError::Malformed(_)),
            };
            assert!(expected, "{case}: {error}");
        }
        let partition = Crl::read(&crl(&ca, &[], (-1, 6), scoped(vec![URL])), ca.cert.der()).unwrap();
        let answer = partition.status_of(&cert, ca.cert.der(), URL, now()).unwrap();
        assert!(answer.partitioned && answer.status == CrlStatus::Good, "{answer:?}");
    }

    #[test]
    fn the_issuer_is_the_candidate_whose_key_signed_the_certificate() {
        let ca = ca("Issuer CA");
        let impostor = self::ca("Issuer CA");
        let cert = leaf(&ca, 4, vec![]);
        let candidates = [impostor.cert.der().as_ref(), ca.cert.der().as_ref()];
        assert_eq!(find_issuer(&cert, &candidates), Some(ca.cert.der().as_ref()));
        assert_eq!(find_issuer(&cert, &candidates[..1]), None);
        // A list read with one key does not answer for the same name's other key.
        let list = Crl::read(&crl(&impostor, &[], (-1, 6), None), impostor.cert.der()).unwrap();
        let error = list.status_of(&cert, ca.cert.der(), URL, now()).unwrap_err();
        assert!(matches!(error, CrlError::BadSignature(_)), "{error}");
    }

    #[test]
    fn must_staple_is_the_tls_feature_status_request() {
        let ca = ca("Staple CA");
        let feature =
            |content: Vec<u8>| vec![CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 24], content)];
        assert!(must_staple(&leaf(&ca, 1, feature(vec![0x30, 0x03, 0x02, 0x01, 0x05]))));
        assert!(!must_staple(&leaf(&ca, 2, feature(vec![0x30, 0x03, 0x02, 0x01, 0x11]))));
        assert!(!must_staple(&leaf(&ca, 3, vec![])));
        assert!(!must_staple(b"garbage"));
    }

    #[test]
    fn the_searched_bytes_are_the_tls_feature_oid() {
        let oid: x509_parser::der_parser::oid::Oid<'_> = TLS_FEATURE.parse().unwrap();
        let content = oid.as_bytes();
        assert_eq!(TLS_FEATURE_OID_DER[..2], [0x06, u8::try_from(content.len()).unwrap()]);
        assert_eq!(&TLS_FEATURE_OID_DER[2..], content);
    }
}
