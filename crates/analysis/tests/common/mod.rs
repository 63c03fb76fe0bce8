//! Test-time certificate factory shared by the tests and the benchmark.
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm,
};
use time::OffsetDateTime;

/// The fixed "now" of every test: 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;
pub const DAY: i64 = 86_400;

pub fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("valid timestamp")
}

pub fn rsa2048() -> KeyPair {
    KeyPair::from_pem(include_str!("../keys/rsa2048.pkcs8.pem")).expect("rsa 2048 key")
}

pub fn rsa4096() -> KeyPair {
    KeyPair::from_pem(include_str!("../keys/rsa4096.pkcs8.pem")).expect("rsa 4096 key")
}

pub fn p256() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256")
}

pub fn p384() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("p384")
}

pub fn ed25519() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519")
}

/// A CA certificate and its key.
pub struct Ca {
    pub cert: Certificate,
    pub key: KeyPair,
}

impl Ca {
    pub fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "certinspect tests");
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_params(cn: &str, not_before: i64, not_after: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = at(not_before);
    params.not_after = at(not_after);
    params
}

/// A self-signed root valid for ten years around NOW.
pub fn root(cn: &str, key: KeyPair) -> Ca {
    root_valid(cn, key, NOW - 5 * 365 * DAY, NOW + 5 * 365 * DAY)
}

pub fn root_valid(cn: &str, key: KeyPair, not_before: i64, not_after: i64) -> Ca {
    let cert = ca_params(cn, not_before, not_after).self_signed(&key).expect("self-sign root");
    Ca { cert, key }
}

pub fn intermediate(cn: &str, key: KeyPair, issuer: &Ca) -> Ca {
    intermediate_valid(cn, key, issuer, NOW - 365 * DAY, NOW + 3 * 365 * DAY)
}

pub fn intermediate_valid(cn: &str, key: KeyPair, issuer: &Ca, not_before: i64, not_after: i64) -> Ca {
    let mut params = ca_params(cn, not_before, not_after);
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).expect("sign intermediate");
    Ca { cert, key }
}

/// Leaf parameters: names become DNS or IP SANs, serverAuth EKU, valid
/// from 30 days before NOW for 90 days.
pub fn leaf_params(cn: &str, sans: &[&str]) -> CertificateParams {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).expect("leaf params");
    params.distinguished_name = dn(cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.not_before = at(NOW - 30 * DAY);
    params.not_after = at(NOW + 60 * DAY);
    params
}

pub fn sign(params: CertificateParams, key: &impl PublicKeyData, issuer: &Ca) -> Vec<u8> {
    params.signed_by(key, &issuer.cert, &issuer.key).expect("sign leaf").der().to_vec()
}

/// A leaf for `sans` signed by `issuer`.
pub fn leaf(sans: &[&str], issuer: &Ca) -> Vec<u8> {
    sign(leaf_params(sans.first().copied().unwrap_or("leaf"), sans), &p256(), issuer)
}

/// A bare public key (no private half) to certify: lets the tests put a
/// 1024-bit RSA key, which ring will not sign with, into a certificate.
pub struct RawPublicKey {
    /// The subjectPublicKey BIT STRING contents (RSAPublicKey DER for RSA).
    pub key: Vec<u8>,
    pub alg: &'static SignatureAlgorithm,
}

impl PublicKeyData for RawPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.key
    }
    fn algorithm(&self) -> &SignatureAlgorithm {
        self.alg
    }
}

/// The 1024-bit RSA public key checked in under tests/keys.
pub fn rsa1024_public() -> RawPublicKey {
    let pem = include_bytes!("../keys/rsa1024.spki.pem");
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).expect("pem");
    let (_, spki) = <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<
        x509_parser::error::X509Error,
    >>::from_der(&block.contents)
    .expect("spki");
    RawPublicKey { key: spki.subject_public_key.data.to_vec(), alg: &rcgen::PKCS_RSA_SHA256 }
}

pub fn serial(bytes: &[u8]) -> Option<SerialNumber> {
    Some(SerialNumber::from_slice(bytes))
}

pub fn dns_san(name: &str) -> SanType {
    SanType::DnsName(name.try_into().expect("ia5"))
}

/// An intermediate whose parameters a test adjusts (name constraints,
/// extensions, ...) before it is signed.
pub fn intermediate_with(cn: &str, key: KeyPair, issuer: &Ca, edit: impl FnOnce(&mut CertificateParams)) -> Ca {
    let mut params = ca_params(cn, NOW - 365 * DAY, NOW + 3 * 365 * DAY);
    params.use_authority_key_identifier_extension = true;
    edit(&mut params);
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).expect("sign intermediate");
    Ca { cert, key }
}

/// An Authority Information Access extension (RFC 5280 4.2.2.1) with these
/// caIssuers and OCSP URIs; rcgen has no parameter for it.
pub fn aia_extension(ca_issuers: &[&str], ocsp: &[&str]) -> rcgen::CustomExtension {
    const CA_ISSUERS: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    const OCSP: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let mut descriptions = Vec::new();
    for (method, uri) in ca_issuers.iter().map(|u| (&CA_ISSUERS, u)).chain(ocsp.iter().map(|u| (&OCSP, u))) {
        // URIs here are short: single-octet DER lengths suffice.
        let mut location = vec![0x86, uri.len() as u8];
        location.extend_from_slice(uri.as_bytes());
        let mut description = vec![0x30, (method.len() + location.len()) as u8];
        description.extend_from_slice(method);
        description.extend_from_slice(&location);
        descriptions.extend(description);
    }
    let mut content = vec![0x30, descriptions.len() as u8];
    content.extend(descriptions);
    rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
}
