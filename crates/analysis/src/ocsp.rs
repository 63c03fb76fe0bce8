//! OCSP, pure: verifying a response (stapled or looked up) about one
//! certificate, and building the request that asks for one.
//!
//! A response is accepted only when it is a successful basic response,
//! signed by the certificate's issuer or by a responder certificate the
//! issuer signed for OCSP signing (RFC 6960 §4.2.2.2), carries a
//! `SingleResponse` whose `certID` (hash algorithm, issuer name and key
//! hashes, serial) names the certificate, and is fresh at the given clock.
//! Nonces are not required (stapled responses never carry one). Decoding
//! and encoding are RustCrypto's `x509-ocsp`/`der`; signatures are checked
//! with ring through x509-parser, as for certificates and CRLs.

use der::asn1::{Null, OctetString};
use der::oid::db::rfc5912::{ID_SHA_1, ID_SHA_256, ID_SHA_384, ID_SHA_512};
use der::oid::db::rfc6960::ID_PKIX_OCSP_BASIC;
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request};
use x509_ocsp::{SingleResponse, TbsRequest};
use x509_parser::der_parser::asn1_rs::BitString;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::revocation::reason_name;

/// How far a responder's clock may run ahead of ours, seconds.
const CLOCK_SKEW: i64 = 300;

/// What an OCSP responder says about one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum OcspStatus {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// When, UNIX seconds.
        revoked_at: i64,
        /// The reason (`key_compromise`, ...), when the response gives one.
        reason: Option<String>,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// A verified OCSP answer about one certificate, with its dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OcspAnswer {
    /// Good, revoked or unknown.
    pub status: OcspStatus,
    /// The response's producedAt, UNIX seconds.
    pub produced_at: i64,
    /// The single response's thisUpdate, UNIX seconds.
    pub this_update: i64,
    /// The single response's nextUpdate, UNIX seconds.
    pub next_update: Option<i64>,
    /// Signed by a delegated responder certificate, not the issuer itself.
    pub delegated: bool,
}

/// Why an OCSP response cannot be used. Every variant leaves revocation
/// unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OcspError {
    /// The bytes are not an OCSP response (or the certificates do not parse).
    #[error("the OCSP response does not parse ({0})")]
    Malformed(String),
    /// The responder answered with an error status.
    #[error("the OCSP responder answered '{0}' instead of a response")]
    NotSuccessful(String),
    /// A response type other than the basic one.
    #[error("the OCSP response is not a basic OCSP response")]
    NotBasic,
    /// No key at hand verifies the signature.
    #[error("the OCSP response is not signed by the issuer '{0}' nor by a responder certificate it issued")]
    BadSignature(String),
    /// Signed by a certificate the issuer issued, but not for OCSP signing.
    #[error("the OCSP response is signed by '{0}', which the issuer did not authorise for OCSP signing (no OCSP-signing extended key usage)")]
    UnauthorisedResponder(String),
    /// No single response names this certificate.
    #[error("the OCSP response says nothing about this certificate (no matching certID)")]
    NoMatchingResponse,
    /// nextUpdate has passed.
    #[error("the OCSP response is stale: its nextUpdate ({next_update}) has passed")]
    Stale {
        /// nextUpdate, UNIX seconds.
        next_update: i64,
    },
    /// thisUpdate is in the future.
    #[error("the OCSP response is not valid yet: its thisUpdate ({this_update}) is in the future")]
    NotYetValid {
        /// thisUpdate, UNIX seconds.
        this_update: i64,
    },
}

/// Verify the OCSP response `der` about `cert_der`, issued by `issuer_der`
/// (see [`find_issuer`](crate::find_issuer)), at `now` (UNIX seconds).
pub fn verify_ocsp_response(der: &[u8], cert_der: &[u8], issuer_der: &[u8], now: i64) -> Result<OcspAnswer, OcspError> {
    let malformed = |e: &dyn std::fmt::Display| OcspError::Malformed(e.to_string());
    let response = OcspResponse::from_der(der).map_err(|e| malformed(&e))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(OcspError::NotSuccessful(status_name(response.response_status).to_owned()));
    }
    let bytes = response.response_bytes.ok_or(OcspError::NotBasic)?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(OcspError::NotBasic);
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(|e| malformed(&e))?;
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| malformed(&e))?;
    let (_, issuer) = X509Certificate::from_der(issuer_der).map_err(|e| malformed(&e))?;
    let delegated = check_signer(&basic, &issuer, now)?;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|single| names_certificate(&single.cert_id, &cert, &issuer))
        .ok_or(OcspError::NoMatchingResponse)?;
    let this_update = unix(&single.this_update);
    let next_update = single.next_update.as_ref().map(unix);
    if this_update > now + CLOCK_SKEW {
        return Err(OcspError::NotYetValid { this_update });
    }
    if let Some(next_update) = next_update.filter(|next| *next < now) {
        return Err(OcspError::Stale { next_update });
    }
    Ok(OcspAnswer {
        status: status_of(single),
        produced_at: unix(&basic.tbs_response_data.produced_at),
        this_update,
        next_update,
        delegated,
    })
}

/// The DER OCSP request (RFC 6960 §4.1, no nonce, no signature) asking
/// about `cert_der`, issued by `issuer_der`. The certID uses SHA-1, which
/// every responder understands.
pub fn ocsp_request(cert_der: &[u8], issuer_der: &[u8]) -> Result<Vec<u8>, OcspError> {
    let malformed = |e: &dyn std::fmt::Display| OcspError::Malformed(e.to_string());
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| malformed(&e))?;
    let (_, issuer) = X509Certificate::from_der(issuer_der).map_err(|e| malformed(&e))?;
    let cert_id = CertId {
        hash_algorithm: AlgorithmIdentifierOwned { oid: ID_SHA_1, parameters: Some(Null.into()) },
        issuer_name_hash: OctetString::new(Sha1::digest(issuer.subject().as_raw()).to_vec())
            .map_err(|e| malformed(&e))?,
        issuer_key_hash: OctetString::new(Sha1::digest(issuer.public_key().subject_public_key.data.as_ref()).to_vec())
            .map_err(|e| malformed(&e))?,
        serial_number: SerialNumber::new(cert.raw_serial()).map_err(|e| malformed(&e))?,
    };
    let request = OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request { req_cert: cert_id, single_request_extensions: None }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    request.to_der().map_err(|e| malformed(&e))
}

/// Check the response's signature: by the issuer (`Ok(false)`), or by a
/// certificate carried in the response that the issuer signed, valid now,
/// with the OCSP-signing extended key usage (`Ok(true)`).
fn check_signer(basic: &BasicOcspResponse, issuer: &X509Certificate<'_>, now: i64) -> Result<bool, OcspError> {
    let tbs = basic.tbs_response_data.to_der().map_err(|e| OcspError::Malformed(e.to_string()))?;
    let algorithm = basic.signature_algorithm.to_der().map_err(|e| OcspError::Malformed(e.to_string()))?;
    let (_, algorithm) = AlgorithmIdentifier::from_der(&algorithm).map_err(|e| OcspError::Malformed(e.to_string()))?;
    let signature = BitString::new(0, basic.signature.raw_bytes());
    let signed_by = |key: &SubjectPublicKeyInfo<'_>| {
        x509_parser::verify::verify_signature(key, &algorithm, &signature, &tbs).is_ok()
    };
    if signed_by(issuer.public_key()) {
        return Ok(false);
    }
    let mut unauthorised = None;
    for responder in basic.certs.iter().flatten() {
        let Ok(responder_der) = responder.to_der() else { continue };
        let Ok((_, responder)) = X509Certificate::from_der(&responder_der) else { continue };
        let issued_by_issuer = responder.issuer().as_raw() == issuer.subject().as_raw()
            && responder.verify_signature(Some(issuer.public_key())).is_ok()
            && (responder.validity().not_before.timestamp()..=responder.validity().not_after.timestamp())
                .contains(&now);
        if !issued_by_issuer || !signed_by(responder.public_key()) {
            continue;
        }
        let for_ocsp = responder.extended_key_usage().ok().flatten().is_some_and(|eku| eku.value.ocsp_signing);
        if for_ocsp {
            return Ok(true);
        }
        unauthorised = Some(responder.subject().to_string());
    }
    Err(match unauthorised {
        Some(responder) => OcspError::UnauthorisedResponder(responder),
        None => OcspError::BadSignature(issuer.subject().to_string()),
    })
}

/// Whether `id` names `cert`, issued by `issuer`.
fn names_certificate(id: &CertId, cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    let digest = |data: &[u8]| -> Option<Vec<u8>> {
        let oid = id.hash_algorithm.oid;
        Some(match () {
            () if oid == ID_SHA_1 => Sha1::digest(data).to_vec(),
            () if oid == ID_SHA_256 => Sha256::digest(data).to_vec(),
            () if oid == ID_SHA_384 => Sha384::digest(data).to_vec(),
            () if oid == ID_SHA_512 => Sha512::digest(data).to_vec(),
            () => return None,
        })
    };
    id.serial_number.as_bytes() == cert.raw_serial()
        && cert.issuer().as_raw() == issuer.subject().as_raw()
        && digest(issuer.subject().as_raw()).is_some_and(|hash| hash == id.issuer_name_hash.as_bytes())
        && digest(issuer.public_key().subject_public_key.data.as_ref())
            .is_some_and(|hash| hash == id.issuer_key_hash.as_bytes())
}

fn status_of(single: &SingleResponse) -> OcspStatus {
    match &single.cert_status {
        CertStatus::Good(_) => OcspStatus::Good,
        CertStatus::Revoked(info) => OcspStatus::Revoked {
            revoked_at: unix(&info.revocation_time),
            reason: info.revocation_reason.map(|reason| reason_name(reason as u8).to_owned()),
        },
        CertStatus::Unknown(_) => OcspStatus::Unknown,
    }
}

fn unix(time: &x509_ocsp::OcspGeneralizedTime) -> i64 {
    i64::try_from(time.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

fn status_name(status: OcspResponseStatus) -> &'static str {
    match status {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformed request",
        OcspResponseStatus::InternalError => "internal error",
        OcspResponseStatus::TryLater => "try later",
        OcspResponseStatus::SigRequired => "signature required",
        OcspResponseStatus::Unauthorized => "unauthorized",
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use der::asn1::BitString as DerBitString;
    use der::oid::db::rfc5912::ECDSA_WITH_SHA_256;
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
        SerialNumber as RcgenSerial,
    };
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    use x509_cert::ext::pkix::CrlReason;
    use x509_cert::Certificate;
    use x509_ocsp::{OcspGeneralizedTime, ResponderId, ResponseData, RevokedInfo};

    use super::*;

    /// A certificate and its key, able to sign responses.
    struct Signer {
        der: Vec<u8>,
        cert: rcgen::Certificate,
        key: KeyPair,
    }

    fn ca(cn: &str) -> Signer {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Signer { der: cert.der().to_vec(), cert, key }
    }

    /// A certificate `issuer` signs: a responder (with or without the
    /// OCSP-signing EKU) or, with `serial`, a leaf.
    fn issued(issuer: &Signer, serial: u64, ocsp_signing: bool) -> Signer {
        let mut params = CertificateParams::new(vec!["a.test".to_owned()]).unwrap();
        params.serial_number = Some(RcgenSerial::from(serial));
        if ocsp_signing {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
        Signer { der: cert.der().to_vec(), cert, key }
    }

    /// The certID of `cert` issued by `issuer`, read with x509-cert and
    /// hashed with ring: independent of the code under test.
    fn cert_id(cert: &[u8], issuer: &[u8], sha256: bool) -> CertId {
        let cert = Certificate::from_der(cert).unwrap();
        let issuer = Certificate::from_der(issuer).unwrap();
        let (oid, algorithm) = if sha256 {
            (ID_SHA_256, &ring::digest::SHA256)
        } else {
            (ID_SHA_1, &ring::digest::SHA1_FOR_LEGACY_USE_ONLY)
        };
        let hash = |data: &[u8]| OctetString::new(ring::digest::digest(algorithm, data).as_ref()).unwrap();
        CertId {
            hash_algorithm: AlgorithmIdentifierOwned { oid, parameters: Some(Null.into()) },
            issuer_name_hash: hash(&issuer.tbs_certificate.subject.to_der().unwrap()),
            issuer_key_hash: hash(issuer.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes()),
            serial_number: cert.tbs_certificate.serial_number,
        }
    }

    fn at(offset_secs: i64) -> OcspGeneralizedTime {
        let secs = u64::try_from(now() + offset_secs).unwrap();
        der::DateTime::from_unix_duration(Duration::from_secs(secs)).unwrap().into()
    }

    /// A successful basic response about `id`, signed by `signer`
    /// (carried in the response when `carry`), valid from `this` to `next`
    /// seconds from now.
    fn response(id: CertId, status: CertStatus, signer: &Signer, carry: bool, this: i64, next: i64) -> Vec<u8> {
        let tbs_response_data = ResponseData {
            version: Default::default(),
            responder_id: ResponderId::ByName(Certificate::from_der(&signer.der).unwrap().tbs_certificate.subject),
            produced_at: at(0),
            responses: vec![SingleResponse {
                cert_id: id,
                cert_status: status,
                this_update: at(this),
                next_update: Some(at(next)),
                single_extensions: None,
            }],
            response_extensions: None,
        };
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &signer.key.serialize_der(),
            &SystemRandom::new(),
        )
        .unwrap();
        let signature = key.sign(&SystemRandom::new(), &tbs_response_data.to_der().unwrap()).unwrap();
        let basic = BasicOcspResponse {
            tbs_response_data,
            signature_algorithm: AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA_256, parameters: None },
            signature: DerBitString::from_bytes(signature.as_ref()).unwrap(),
            certs: carry.then(|| vec![Certificate::from_der(&signer.der).unwrap()]),
        };
        OcspResponse::successful(basic).unwrap().to_der().unwrap()
    }

    fn now() -> i64 {
        i64::try_from(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()).unwrap()
    }

    #[test]
    fn a_response_signed_by_the_issuer_or_an_authorised_responder_says_good_revoked_or_unknown() {
        let issuer = ca("OCSP Test CA");
        let leaf = issued(&issuer, 9, false);
        let responder = issued(&issuer, 77, true);
        let id = || cert_id(&leaf.der, &issuer.der, false);
        let revoked = CertStatus::revoked(RevokedInfo {
            revocation_time: at(-3600),
            revocation_reason: Some(CrlReason::KeyCompromise),
        });
        let cases = [
            (
                "good, SHA-1 certID",
                response(id(), CertStatus::good(), &issuer, false, -60, 3600),
                OcspStatus::Good,
                false,
            ),
            (
                "good, SHA-256 certID",
                response(cert_id(&leaf.der, &issuer.der, true), CertStatus::good(), &issuer, false, -60, 3600),
                OcspStatus::Good,
                false,
            ),
            (
                "revoked",
                response(id(), revoked, &issuer, false, -60, 3600),
                OcspStatus::Revoked { revoked_at: now() - 3600, reason: Some("key_compromise".into()) },
                false,
            ),
            ("unknown", response(id(), CertStatus::unknown(), &issuer, false, -60, 3600), OcspStatus::Unknown, false),
            ("delegated", response(id(), CertStatus::good(), &responder, true, -60, 3600), OcspStatus::Good, true),
            ("small skew", response(id(), CertStatus::good(), &issuer, false, 60, 3600), OcspStatus::Good, false),
        ];
        for (name, der, status, delegated) in cases {
            let answer =
                verify_ocsp_response(&der, &leaf.der, &issuer.der, now()).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let (OcspStatus::Revoked { revoked_at, reason }, OcspStatus::Revoked { revoked_at: want, reason: why }) =
                (&answer.status, &status)
            {
                assert!((revoked_at - want).abs() < 60, "{name}");
                assert_eq!(reason, why, "{name}");
            } else {
                assert_eq!(answer.status, status, "{name}");
            }
            assert_eq!(answer.delegated, delegated, "{name}");
            assert!((answer.this_update - now()).abs() < 120 && answer.next_update > Some(now()), "{name}");
        }
    }

    #[test]
    fn an_unusable_response_says_why_and_never_reads_good() {
        let issuer = ca("OCSP Test CA");
        let other = ca("OCSP Test CA");
        let leaf = issued(&issuer, 9, false);
        let unauthorised = issued(&issuer, 78, false);
        let foreign_responder = issued(&other, 79, true);
        let id = || cert_id(&leaf.der, &issuer.der, false);
        let good = CertStatus::good;
        type Expected = fn(&OcspError) -> bool;
        let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
            ("garbage", b"not der".to_vec(), |e| matches!(e, OcspError::Malformed(_))),
            (
                "internal error",
                OcspResponse::internal_error().to_der().unwrap(),
                |e| matches!(e, OcspError::NotSuccessful(s) if s == "internal error"),
            ),
            ("stale", response(id(), good(), &issuer, false, -7200, -3600), |e| matches!(e, OcspError::Stale { .. })),
            ("from the future", response(id(), good(), &issuer, false, 3600, 7200), |e| {
                matches!(e, OcspError::NotYetValid { .. })
            }),
            ("another key, same name", response(id(), good(), &other, false, -60, 3600), |e| {
                matches!(e, OcspError::BadSignature(_))
            }),
            ("responder of another CA", response(id(), good(), &foreign_responder, true, -60, 3600), |e| {
                matches!(e, OcspError::BadSignature(_))
            }),
            ("responder without the EKU", response(id(), good(), &unauthorised, true, -60, 3600), |e| {
                matches!(e, OcspError::UnauthorisedResponder(_))
            }),
            ("responder not carried", response(id(), good(), &issued(&issuer, 80, true), false, -60, 3600), |e| {
                matches!(e, OcspError::BadSignature(_))
            }),
            (
                "another certificate's status",
                response(
                    cert_id(&issued(&issuer, 10, false).der, &issuer.der, false),
                    good(),
                    &issuer,
                    false,
                    -60,
                    3600,
                ),
                |e| matches!(e, OcspError::NoMatchingResponse),
            ),
        ];
        for (name, der, expected) in cases {
            let error = verify_ocsp_response(&der, &leaf.der, &issuer.der, now()).expect_err(name);
            assert!(expected(&error), "{name}: {error:?}");
            assert!(!error.to_string().contains("Error"), "{name}: a sentence, not debug text: {error}");
        }
    }

    #[test]
    fn the_request_names_the_certificate_as_responders_expect() {
        let issuer = ca("OCSP Test CA");
        let leaf = issued(&issuer, 0x80_01, false);
        let request = OcspRequest::from_der(&ocsp_request(&leaf.der, &issuer.der).unwrap()).unwrap();
        let [single] = request.tbs_request.request_list.as_slice() else { panic!("one request") };
        assert_eq!(single.req_cert, cert_id(&leaf.der, &issuer.der, false));
        assert!(request.optional_signature.is_none() && request.tbs_request.request_extensions.is_none());
    }
}
