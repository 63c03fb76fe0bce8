//! Facts about one certificate, read from its DER.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::certificate::{Validity, X509Certificate};
use x509_parser::error::X509Error;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo, X509Name};

use crate::dn;
use crate::AnalysisError;

/// id-ad-caIssuers (RFC 5280 4.2.2.1).
const OID_AD_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";
/// id-ad-ocsp (RFC 5280 4.2.2.1).
const OID_AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";

/// One subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum SubjectAltName {
    /// A `dNSName`, exactly as the certificate spells it (case kept).
    Dns(String),
    /// An `iPAddress` of 4 (IPv4) or 16 (IPv6) octets.
    Ip(IpAddr),
    /// Any other kind, as `kind:value` text (`email:`, `uri:`, `dirname:`,
    /// `othername:`, `registered_id:`, `ip:` for odd lengths, ...). Kept so
    /// nothing the certificate says is dropped; never used for host matching.
    Other(String),
}

/// Elliptic curve of an EC public key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EcCurve {
    /// secp256r1 / prime256v1.
    #[serde(rename = "P-256")]
    P256,
    /// secp384r1.
    #[serde(rename = "P-384")]
    P384,
    /// secp521r1.
    #[serde(rename = "P-521")]
    P521,
    /// Any other named curve, by OID (or `"unknown"` for explicit parameters).
    #[serde(rename = "other")]
    Other(String),
}

/// Subject public key type and strength.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum KeyType {
    /// RSA, with the modulus size in bits.
    Rsa {
        /// Modulus length in bits (leading zero octets not counted).
        bits: u32,
    },
    /// ECDSA/ECDH key on a named curve.
    Ec {
        /// The curve.
        curve: EcCurve,
    },
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
    /// Anything else (DSA, GOST, ...), by algorithm OID.
    Other {
        /// Dotted OID of the SPKI algorithm.
        oid: String,
    },
}

/// The certificate's signature algorithm (the outer `signatureAlgorithm`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignatureAlgorithm {
    /// Dotted OID.
    pub oid: String,
    /// Conventional name (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`,
    /// `ED25519`, ...); the OID again when unknown.
    pub name: String,
}

/// Everything this crate reads from a single certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFacts {
    /// X.509 version as written in the certificate (1, 2 or 3).
    pub version: u32,
    /// Subject, RFC 4514 string.
    pub subject: String,
    /// Issuer, RFC 4514 string.
    pub issuer: String,
    /// Every commonName in the subject, in DER order.
    pub subject_common_names: Vec<String>,
    /// Whether the certificate has a subjectAltName extension at all. Name
    /// matching ignores the CN whenever it does, even if it holds no DNS name.
    pub san_extension_present: bool,
    /// The SANs, in certificate order.
    pub subject_alt_names: Vec<SubjectAltName>,
    /// Serial number: lower-case hex of the DER INTEGER contents, leading
    /// zero octets kept (so `00ab...` when DER needed a sign octet).
    pub serial_hex: String,
    /// SHA-1 of the whole DER, lower-case hex.
    pub sha1_fingerprint: String,
    /// SHA-256 of the whole DER, lower-case hex.
    pub sha256_fingerprint: String,
    /// notBefore, UNIX seconds.
    pub not_before: i64,
    /// notAfter, UNIX seconds (the certificate is valid through this second).
    pub not_after: i64,
    /// Subject public key.
    pub key: KeyType,
    /// Signature algorithm.
    pub signature_algorithm: SignatureAlgorithm,
    /// Extended key usages (`serverAuth`, `clientAuth`, ..., or dotted OIDs);
    /// empty when the extension is absent.
    pub extended_key_usages: Vec<String>,
    /// basicConstraints cA flag; `None` when the extension is absent.
    pub is_ca: Option<bool>,
    /// Issuer and subject are the same name (byte for byte).
    pub self_issued: bool,
    /// Self-issued and signed by its own key: the signature verifies with
    /// the certificate's key, or, when that cannot be checked (algorithm
    /// ring lacks, e.g. P-521 or RSA < 2048), the AKI is absent or equals
    /// the SKI.
    pub self_signed: bool,
    /// subjectKeyIdentifier, lower-case hex.
    pub subject_key_id: Option<String>,
    /// authorityKeyIdentifier keyIdentifier, lower-case hex.
    pub authority_key_id: Option<String>,
    /// Authority Information Access `caIssuers` URIs: where the issuer's
    /// certificate can be fetched to complete a chain the server sent short.
    #[serde(default)]
    pub ca_issuers_urls: Vec<String>,
    /// Authority Information Access `ocsp` URIs: the issuer's OCSP responders.
    #[serde(default)]
    pub ocsp_urls: Vec<String>,
    /// CRL distribution point URIs (full names only; a name relative to the
    /// CRL issuer has no URI to fetch).
    #[serde(default)]
    pub crl_distribution_points: Vec<String>,
}

/// What is wrong with a certificate that could not be read whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MalformedReason {
    /// The bytes are not a DER-encoded X.509 certificate at all.
    NotACertificate,
    /// The certificate is cut short.
    Truncated {
        /// Bytes its outer header announces (header included).
        expected: usize,
        /// Bytes present.
        present: usize,
    },
    /// The certificate's structure breaks at this field.
    UnreadableField {
        /// "serial number", "issuer name", "validity period", "public key",
        /// "extensions", ...
        field: String,
    },
    /// An extension appears more than once (RFC 5280 4.2 allows each once).
    DuplicateExtension {
        /// Its name and OID, e.g. "subjectAltName (2.5.29.17)".
        extension: String,
    },
    /// An extension's value cannot be read.
    InvalidExtension {
        /// Its name and OID.
        extension: String,
    },
    /// Bytes follow the certificate.
    TrailingData {
        /// How many.
        bytes: usize,
    },
}

impl std::fmt::Display for MalformedReason {
    /// A sentence fragment for people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MalformedReason::NotACertificate => f.write_str("the bytes are not a DER-encoded X.509 certificate"),
            MalformedReason::Truncated { expected, present } => write!(
                f,
                "the certificate is cut short: its header announces {expected} bytes but only {present} are present"
            ),
            MalformedReason::UnreadableField { field } => write!(f, "its {field} cannot be read"),
            MalformedReason::DuplicateExtension { extension } => {
                write!(f, "it has the {extension} extension twice, and each extension may appear only once")
            }
            MalformedReason::InvalidExtension { extension } => {
                write!(f, "the value of its {extension} extension cannot be read")
            }
            MalformedReason::TrailingData { bytes } => write!(f, "{bytes} bytes follow the end of the certificate"),
        }
    }
}

/// The fields of a malformed certificate that could still be read (those
/// before its extensions); each is `None` when it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialCertificateFacts {
    /// Subject, RFC 4514.
    pub subject: Option<String>,
    /// Issuer, RFC 4514.
    pub issuer: Option<String>,
    /// Serial number, lower-case hex of the DER INTEGER contents.
    pub serial_hex: Option<String>,
    /// notBefore, UNIX seconds.
    pub not_before: Option<i64>,
    /// notAfter, UNIX seconds.
    pub not_after: Option<i64>,
    /// Subject public key.
    pub key: Option<KeyType>,
    /// Signature algorithm.
    pub signature_algorithm: Option<SignatureAlgorithm>,
}

/// A parsed certificate plus the raw bits chain analysis compares
/// byte for byte (names, key); not public because the DER is the caller's.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub facts: CertificateFacts,
    /// Subject name contents, without the SEQUENCE header (webpki's form).
    pub subject_raw: Vec<u8>,
    /// Issuer name contents, without the SEQUENCE header.
    pub issuer_raw: Vec<u8>,
    /// Full SubjectPublicKeyInfo DER.
    pub spki_raw: Vec<u8>,
}

/// Lower-case hex SHA-1 and SHA-256 of `der`.
pub(crate) fn fingerprints(der: &[u8]) -> (String, String) {
    (hex::encode(Sha1::digest(der)), hex::encode(Sha256::digest(der)))
}

/// Parses one DER certificate into [`CertificateFacts`].
///
/// Strict about framing: trailing bytes after the certificate are an error,
/// because a caller holding a buffer with more in it has a bug we should not
/// hide. Lenient about contents: unknown extensions and odd names are
/// reported, not refused.
pub fn parse_certificate(der: &[u8]) -> Result<CertificateFacts, AnalysisError> {
    parse_internal(der).map(|p| p.facts)
}

pub(crate) fn parse_internal(der: &[u8]) -> Result<Parsed, AnalysisError> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|_| AnalysisError::Malformed(structure_problem(der).unwrap_or(MalformedReason::NotACertificate)))?;
    if !rest.is_empty() {
        return Err(AnalysisError::Malformed(MalformedReason::TrailingData { bytes: rest.len() }));
    }
    if let Some(problem) = extension_problem(&cert) {
        return Err(AnalysisError::Malformed(problem));
    }

    let (sha1_fingerprint, sha256_fingerprint) = fingerprints(der);
    let subject_raw = dn::der_contents(cert.subject().as_raw()).to_vec();
    let issuer_raw = dn::der_contents(cert.issuer().as_raw()).to_vec();

    let subject_common_names = cert
        .subject()
        .iter_common_name()
        .map(|cn| dn::decode_string(cn.attr_value()).unwrap_or_else(|| format!("#{}", hex::encode(cn.as_slice()))))
        .collect();

    // Duplicates and unreadable values were refused above, so these
    // lookups cannot fail; an error here would be an x509-parser change.
    let broken = |oid: &str| AnalysisError::Malformed(MalformedReason::InvalidExtension { extension: named(oid) });
    let san = cert.subject_alternative_name().map_err(|_| broken("2.5.29.17"))?;
    let san_extension_present = san.is_some();
    let subject_alt_names =
        san.map(|ext| ext.value.general_names.iter().map(san_to_fact).collect()).unwrap_or_default();

    let extended_key_usages = cert
        .extended_key_usage()
        .map_err(|_| broken("2.5.29.37"))?
        .map(|ext| {
            let eku = ext.value;
            let mut out = Vec::new();
            for (present, name) in [
                (eku.any, "anyExtendedKeyUsage"),
                (eku.server_auth, "serverAuth"),
                (eku.client_auth, "clientAuth"),
                (eku.code_signing, "codeSigning"),
                (eku.email_protection, "emailProtection"),
                (eku.time_stamping, "timeStamping"),
                (eku.ocsp_signing, "OCSPSigning"),
            ] {
                if present {
                    out.push(name.to_owned());
                }
            }
            out.extend(eku.other.iter().map(|oid| oid.to_id_string()));
            out
        })
        .unwrap_or_default();

    let is_ca = cert.basic_constraints().map_err(|_| broken("2.5.29.19"))?.map(|ext| ext.value.ca);

    let mut subject_key_id = None;
    let mut authority_key_id = None;
    let mut ca_issuers_urls = Vec::new();
    let mut ocsp_urls = Vec::new();
    let mut crl_distribution_points = Vec::new();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(ki) => subject_key_id = Some(hex::encode(ki.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|ki| hex::encode(ki.0))
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for access in aia.iter() {
                    let GeneralName::URI(uri) = access.access_location else { continue };
                    match access.access_method.to_id_string().as_str() {
                        OID_AD_CA_ISSUERS => ca_issuers_urls.push(uri.to_owned()),
                        OID_AD_OCSP => ocsp_urls.push(uri.to_owned()),
                        _ => {}
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                        crl_distribution_points.extend(names.iter().filter_map(|name| match name {
                            GeneralName::URI(uri) => Some((*uri).to_owned()),
                            _ => None,
                        }));
                    }
                }
            }
            _ => {}
        }
    }

    let key = key_type(cert.public_key());
    let self_issued = subject_raw == issuer_raw;
    let self_signed = self_issued
        && match cert.verify_signature(None) {
            Ok(()) => true,
            Err(X509Error::SignatureVerificationError) if !matches!(key, KeyType::Rsa { bits } if bits < 2048) => false,
            // ring cannot check this one (unsupported algorithm, or an RSA
            // key too small for ring); fall back to key identifiers: a root
            // names its own key or does not name one at all.
            Err(_) => match (&authority_key_id, &subject_key_id) {
                (None, _) => true,
                (Some(aki), Some(ski)) => aki == ski,
                (Some(_), None) => false,
            },
        };

    let signature_algorithm = signature_algorithm_of(&cert.signature_algorithm);

    let facts = CertificateFacts {
        version: cert.version().0 + 1,
        subject: dn::rfc4514(cert.subject()),
        issuer: dn::rfc4514(cert.issuer()),
        subject_common_names,
        san_extension_present,
        subject_alt_names,
        serial_hex: hex::encode(cert.raw_serial()),
        sha1_fingerprint,
        sha256_fingerprint,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key,
        signature_algorithm,
        extended_key_usages,
        is_ca,
        self_issued,
        self_signed,
        subject_key_id,
        authority_key_id,
        ca_issuers_urls,
        ocsp_urls,
        crl_distribution_points,
    };
    Ok(Parsed { facts, subject_raw, issuer_raw, spki_raw: cert.public_key().raw.to_vec() })
}

fn signature_algorithm_of(alg: &AlgorithmIdentifier<'_>) -> SignatureAlgorithm {
    let oid = alg.algorithm.to_id_string();
    SignatureAlgorithm { name: signature_name(&oid).unwrap_or(&oid).to_owned(), oid }
}

/// Extensions whose values this crate or the verifier reads: one that
/// appears twice or cannot be read makes the certificate malformed. Others
/// x509-parser cannot read are left alone, so an unusual private extension
/// does not cost every other fact.
const READ_EXTENSIONS: &[&str] = &[
    "2.5.29.14",
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.30",
    "2.5.29.31",
    "2.5.29.35",
    "2.5.29.37",
    "1.3.6.1.5.5.7.1.1",
];

/// "subjectAltName (2.5.29.17)", or the bare OID when it has no name here.
fn named(oid: &str) -> String {
    match extension_name(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_owned(),
    }
}

/// A repeated extension (RFC 5280 4.2 allows each once), or one whose value
/// cannot be read.
fn extension_problem(cert: &X509Certificate<'_>) -> Option<MalformedReason> {
    let mut seen = std::collections::HashSet::new();
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        if !seen.insert(oid.clone()) {
            return Some(MalformedReason::DuplicateExtension { extension: named(&oid) });
        }
        if matches!(ext.parsed_extension(), ParsedExtension::ParseError { .. })
            && READ_EXTENSIONS.contains(&oid.as_str())
        {
            return Some(MalformedReason::InvalidExtension { extension: named(&oid) });
        }
    }
    None
}

/// Total length (header included) a SEQUENCE header announces, whether or
/// not that many bytes follow.
fn announced_len(der: &[u8]) -> Option<usize> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if tag != 0x30 {
        return None;
    }
    if first < 0x80 {
        return Some(2 + first as usize);
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 || rest.len() < n {
        return None;
    }
    Some(2 + n + rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize))
}

/// One DER TLV: (tag, whole element, rest of input).
fn next_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let len = dn::tlv_len(input)?;
    Some((*input.first()?, &input[..len], &input[len..]))
}

/// Reads a certificate field by field, as far as it goes, for a
/// certificate x509-parser refused: the facts that could be read, and the
/// first field that could not.
fn read_fields(der: &[u8]) -> (PartialCertificateFacts, Option<&'static str>) {
    let mut partial = PartialCertificateFacts::default();
    let Some((0x30, certificate, _)) = next_tlv(der) else { return (partial, Some("outer structure")) };
    let Some((0x30, tbs, _)) = next_tlv(dn::der_contents(certificate)) else {
        return (partial, Some("to-be-signed part"));
    };
    let mut fields = dn::der_contents(tbs);
    if fields.first() == Some(&0xa0) {
        match next_tlv(fields) {
            Some((_, _, rest)) => fields = rest,
            None => return (partial, Some("version")),
        }
    }
    // The next element when it has the expected tag.
    let mut take = |tag: u8| -> Option<&[u8]> {
        let (found, element, rest) = next_tlv(fields)?;
        fields = rest;
        (found == tag).then_some(element)
    };
    macro_rules! field {
        ($tag:expr, $name:expr) => {
            match take($tag) {
                Some(element) => element,
                None => return (partial, Some($name)),
            }
        };
    }
    let serial = field!(0x02, "serial number");
    partial.serial_hex = Some(hex::encode(dn::der_contents(serial)));
    let signature = field!(0x30, "signature algorithm");
    match AlgorithmIdentifier::from_der(signature) {
        Ok((_, alg)) => partial.signature_algorithm = Some(signature_algorithm_of(&alg)),
        Err(_) => return (partial, Some("signature algorithm")),
    }
    let issuer = field!(0x30, "issuer name");
    match X509Name::from_der(issuer) {
        Ok((_, name)) => partial.issuer = Some(dn::rfc4514(&name)),
        Err(_) => return (partial, Some("issuer name")),
    }
    let validity = field!(0x30, "validity period");
    match Validity::from_der(validity) {
        Ok((_, v)) => {
            partial.not_before = Some(v.not_before.timestamp());
            partial.not_after = Some(v.not_after.timestamp());
        }
        Err(_) => return (partial, Some("validity period")),
    }
    let subject = field!(0x30, "subject name");
    match X509Name::from_der(subject) {
        Ok((_, name)) => partial.subject = Some(dn::rfc4514(&name)),
        Err(_) => return (partial, Some("subject name")),
    }
    let spki = field!(0x30, "public key");
    match SubjectPublicKeyInfo::from_der(spki) {
        Ok((_, spki)) => partial.key = Some(key_type(&spki)),
        Err(_) => return (partial, Some("public key")),
    }
    // What follows: optional unique ids and the extensions.
    (partial, Some("extensions"))
}

/// Where a certificate x509-parser refused breaks, when that can be told.
fn structure_problem(der: &[u8]) -> Option<MalformedReason> {
    if let Some(expected) = announced_len(der) {
        if expected > der.len() {
            return Some(MalformedReason::Truncated { expected, present: der.len() });
        }
    }
    match read_fields(der) {
        (_, Some("outer structure")) => None,
        (_, Some(field)) => Some(MalformedReason::UnreadableField { field: field.to_owned() }),
        (_, None) => None,
    }
}

/// What can be read of a malformed certificate: the fields before its
/// extensions, so a weak key or old signature still shows.
pub(crate) fn partial_facts(der: &[u8]) -> Option<PartialCertificateFacts> {
    let from_fields = |cert: &X509Certificate<'_>| PartialCertificateFacts {
        subject: Some(dn::rfc4514(cert.subject())),
        issuer: Some(dn::rfc4514(cert.issuer())),
        serial_hex: Some(hex::encode(cert.raw_serial())),
        not_before: Some(cert.validity().not_before.timestamp()),
        not_after: Some(cert.validity().not_after.timestamp()),
        key: Some(key_type(cert.public_key())),
        signature_algorithm: Some(signature_algorithm_of(&cert.signature_algorithm)),
    };
    let partial = match X509Certificate::from_der(der) {
        Ok((_, cert)) => from_fields(&cert),
        Err(_) => read_fields(der).0,
    };
    (partial != PartialCertificateFacts::default()).then_some(partial)
}

fn san_to_fact(name: &GeneralName<'_>) -> SubjectAltName {
    match name {
        GeneralName::DNSName(s) => SubjectAltName::Dns((*s).to_owned()),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => SubjectAltName::Ip(IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("len 4"))),
            16 => SubjectAltName::Ip(IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("len 16"))),
            _ => SubjectAltName::Other(format!("ip:{}", hex::encode(bytes))),
        },
        GeneralName::RFC822Name(s) => SubjectAltName::Other(format!("email:{s}")),
        GeneralName::URI(s) => SubjectAltName::Other(format!("uri:{s}")),
        GeneralName::DirectoryName(n) => SubjectAltName::Other(format!("dirname:{}", dn::rfc4514(n))),
        GeneralName::OtherName(oid, _) => SubjectAltName::Other(format!("othername:{}", oid.to_id_string())),
        GeneralName::RegisteredID(oid) => SubjectAltName::Other(format!("registered_id:{}", oid.to_id_string())),
        GeneralName::X400Address(_) => SubjectAltName::Other("x400address".to_owned()),
        GeneralName::EDIPartyName(_) => SubjectAltName::Other("edipartyname".to_owned()),
    }
}

fn key_type(spki: &SubjectPublicKeyInfo<'_>) -> KeyType {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => KeyType::Rsa { bits: modulus_bits(rsa.modulus) },
            _ => KeyType::Other { oid: alg },
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| match oid.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => EcCurve::P256,
                    "1.3.132.0.34" => EcCurve::P384,
                    "1.3.132.0.35" => EcCurve::P521,
                    other => EcCurve::Other(other.to_owned()),
                })
                .unwrap_or_else(|| EcCurve::Other("unknown".to_owned()));
            KeyType::Ec { curve }
        }
        "1.3.101.112" => KeyType::Ed25519,
        "1.3.101.113" => KeyType::Ed448,
        _ => KeyType::Other { oid: alg },
    }
}

/// Bit length of a big-endian unsigned integer (x509-parser's own count is
/// off for moduli without a sign octet).
fn modulus_bits(modulus: &[u8]) -> u32 {
    let trimmed: &[u8] = {
        let skip = modulus.iter().take_while(|&&b| b == 0).count();
        &modulus[skip..]
    };
    match trimmed.first() {
        None => 0,
        Some(&top) => (trimmed.len() as u32 - 1) * 8 + (8 - top.leading_zeros()),
    }
}

pub(crate) fn signature_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-SHA1",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        _ => return None,
    })
}

/// Conventional name of a certificate extension, by dotted OID.
pub(crate) fn extension_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.29.14" => "subjectKeyIdentifier",
        "2.5.29.15" => "keyUsage",
        "2.5.29.17" => "subjectAltName",
        "2.5.29.18" => "issuerAltName",
        "2.5.29.19" => "basicConstraints",
        "2.5.29.30" => "nameConstraints",
        "2.5.29.31" => "cRLDistributionPoints",
        "2.5.29.32" => "certificatePolicies",
        "2.5.29.33" => "policyMappings",
        "2.5.29.35" => "authorityKeyIdentifier",
        "2.5.29.36" => "policyConstraints",
        "2.5.29.37" => "extendedKeyUsage",
        "2.5.29.54" => "inhibitAnyPolicy",
        "1.3.6.1.5.5.7.1.1" => "authorityInfoAccess",
        "1.3.6.1.4.1.11129.2.4.2" => "signedCertificateTimestampList",
        _ => return None,
    })
}

/// Hash family of a signature algorithm OID, for the weak-signature facts.
pub(crate) fn weak_signature_hash(oid: &str) -> Option<WeakHash> {
    match oid {
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" | "1.2.840.10045.4.1" | "1.2.840.10040.4.3" => Some(WeakHash::Sha1),
        "1.2.840.113549.1.1.4" => Some(WeakHash::Md5),
        "1.2.840.113549.1.1.2" => Some(WeakHash::Md2),
        _ => None,
    }
}

pub(crate) enum WeakHash {
    Sha1,
    Md5,
    Md2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignores_sign_octet_and_counts_odd_sizes() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(modulus_bits(&[0x7f, 0, 0]), 23);
        assert_eq!(modulus_bits(&[]), 0);
    }

    #[test]
    fn garbage_and_trailing_data_are_errors() {
        assert_eq!(
            parse_certificate(b"not a certificate"),
            Err(AnalysisError::Malformed(MalformedReason::NotACertificate))
        );
    }
}
