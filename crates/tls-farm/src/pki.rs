//! Throwaway certificates for tests and demos (rcgen, ECDSA P-256).

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use time::{Duration, OffsetDateTime};

use crate::spec::{CertSource, Der};
use crate::FarmError;

/// A certificate's validity window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// Start.
    pub not_before: OffsetDateTime,
    /// End.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Valid from a day ago for `days` days.
    pub fn days_from_now(days: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Validity { not_before: now - Duration::days(1), not_after: now + Duration::days(days) }
    }

    /// Valid from `days_ago` days ago until `days_ahead` days from now.
    pub fn around_now(days_ago: i64, days_ahead: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Validity { not_before: now - Duration::days(days_ago), not_after: now + Duration::days(days_ahead) }
    }

    /// Expired `days_ago` days ago, after a 90-day life.
    pub fn expired(days_ago: i64) -> Self {
        let end = OffsetDateTime::now_utc() - Duration::days(days_ago);
        Validity { not_before: end - Duration::days(90), not_after: end }
    }
}

/// A chain and its leaf's private key.
#[derive(Clone, Debug)]
pub struct Issued {
    /// DER chain, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's private key, PKCS#8 DER.
    pub key_pkcs8: Vec<u8>,
}

impl Issued {
    /// The leaf's DER.
    pub fn leaf(&self) -> &[u8] {
        &self.chain[0]
    }

    /// As a farm certificate source.
    pub fn source(&self) -> CertSource {
        CertSource::Der { chain: self.chain.iter().cloned().map(Der).collect(), key: Der(self.key_pkcs8.clone()) }
    }

    /// The chain as PEM text.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|c| pem("CERTIFICATE", c)).collect()
    }

    /// The key as PEM text.
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.key_pkcs8)
    }
}

/// `der` as PEM text under `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn params(cn: &str, names: &[&str], validity: Validity) -> Result<CertificateParams, FarmError> {
    let mut p = CertificateParams::default();
    p.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName((*n).try_into().map_err(pki_err)?)),
        })
        .collect::<Result<_, FarmError>>()?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.not_before = validity.not_before;
    p.not_after = validity.not_after;
    Ok(p)
}

/// Authority Information Access with one `caIssuers` URI (RFC 5280
/// 4.2.2.1); short DER lengths, as test URLs are short.
/// Authority Information Access with one access description per
/// `(method, url)`: the last arc of id-ad (1 = OCSP, 2 = caIssuers).
fn aia_extension(descriptions: &[(u8, &str)]) -> CustomExtension {
    let mut content = Vec::new();
    for (method, url) in descriptions {
        let access_method = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, *method];
        assert!(url.len() < 100, "test AIA URLs are short");
        let mut location = vec![0x86, url.len() as u8];
        location.extend_from_slice(url.as_bytes());
        content.extend([0x30, (access_method.len() + location.len()) as u8]);
        content.extend_from_slice(&access_method);
        content.extend(location);
    }
    assert!(content.len() < 128, "short form length");
    content.splice(0..0, [0x30, content.len() as u8]);
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
}

fn pki_err(e: rcgen::Error) -> FarmError {
    FarmError::Cert(format!("generating a certificate: {e}"))
}

/// A test certificate authority: a root, or an intermediate under one.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// Served above a leaf it issues: the root itself, or for an
    /// intermediate just the intermediate (servers omit the root).
    served_above: Vec<Vec<u8>>,
}

/// How [`TestCa::issue_with`] shapes a leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafOptions {
    /// Names only in the subject CN, no SAN extension (legacy).
    pub common_name_only: bool,
    /// An Authority Information Access `caIssuers` URL (short, as in tests).
    pub ca_issuers_url: Option<String>,
    /// Serve the leaf alone, without the CA certificates above it.
    pub leaf_only: bool,
    /// A CRL distribution point URI (see [`TestCa::crl`]).
    pub crl_url: Option<String>,
    /// The serial number (random when `None`), for [`TestCa::crl`] to list.
    pub serial: Option<u64>,
    /// The TLS feature extension with `status_request` (RFC 7633 must staple).
    pub must_staple: bool,
    /// An Authority Information Access OCSP responder URL.
    pub ocsp_url: Option<String>,
    /// The extended key usage OCSP signing only (a delegated responder).
    pub ocsp_signing: bool,
}

impl std::fmt::Debug for TestCa {
    // rcgen's types have no Debug; the key must not be printed anyway.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").field("der_len", &self.der().len()).finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new self-signed root, valid for ten years.
    pub fn new(cn: &str) -> Result<Self, FarmError> {
        let mut p = params(cn, &[], Validity::days_from_now(3650))?;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(pki_err)?;
        let cert = p.self_signed(&key).map_err(pki_err)?;
        let served_above = vec![cert.der().to_vec()];
        Ok(TestCa { cert, key, served_above })
    }

    /// An intermediate CA named `cn` under this CA; the leaves it issues are
    /// served with it, without the root.
    pub fn intermediate(&self, cn: &str, validity: Validity) -> Result<TestCa, FarmError> {
        self.sign_ca(cn, KeyPair::generate().map_err(pki_err)?, validity)
    }

    /// `ca` issued again by this CA with the same name and key and a new
    /// validity, as an intermediate is renewed: leaves it issued verify
    /// under either.
    pub fn reissue(&self, ca: &TestCa, validity: Validity) -> Result<TestCa, FarmError> {
        let cn = ca.cert.params().distinguished_name.get(&DnType::CommonName).and_then(|v| match v {
            rcgen::DnValue::Utf8String(s) => Some(s.clone()),
            rcgen::DnValue::PrintableString(s) => Some(s.as_str().to_owned()),
            _ => None,
        });
        let key = KeyPair::try_from(ca.key.serialize_der()).map_err(pki_err)?;
        self.sign_ca(&cn.unwrap_or_else(|| "intermediate".into()), key, validity)
    }

    fn sign_ca(&self, cn: &str, key: KeyPair, validity: Validity) -> Result<TestCa, FarmError> {
        let mut p = params(cn, &[], validity)?;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.signed_by(&key, &self.cert, &self.key).map_err(pki_err)?;
        let served_above = vec![cert.der().to_vec()];
        Ok(TestCa { cert, key, served_above })
    }

    /// The root's DER.
    pub fn der(&self) -> &[u8] {
        self.cert.der()
    }

    /// The root as PEM, for a `--ca-file`.
    pub fn pem(&self) -> String {
        pem("CERTIFICATE", self.der())
    }

    /// The CA's private key as PEM (PKCS#8), for a test responder that
    /// signs as the CA (OCSP).
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.key.serialize_der())
    }

    /// A leaf for `names` (DNS names or IP literals; the first is also the
    /// CN); the chain is the leaf then the CA (a root serves itself, an
    /// intermediate serves itself without its root).
    pub fn issue(&self, names: &[&str], validity: Validity) -> Result<Issued, FarmError> {
        self.issue_with(names, validity, &LeafOptions::default())
    }

    /// A certificate revocation list signed by this CA, valid over
    /// `validity` (thisUpdate, nextUpdate), listing `revoked` serials as
    /// revoked a day before thisUpdate for key compromise.
    pub fn crl(&self, revoked: &[u64], validity: Validity) -> Result<Vec<u8>, FarmError> {
        let params = rcgen::CertificateRevocationListParams {
            this_update: validity.not_before,
            next_update: validity.not_after,
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from(*serial),
                    revocation_time: validity.not_before - time::Duration::days(1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.cert, &self.key).map_err(pki_err)?.der().to_vec())
    }

    /// A leaf for `names` shaped by `options`.
    pub fn issue_with(&self, names: &[&str], validity: Validity, options: &LeafOptions) -> Result<Issued, FarmError> {
        let cn = names.first().copied().unwrap_or("leaf");
        let mut p = params(cn, if options.common_name_only { &[] } else { names }, validity)?;
        let access: Vec<(u8, &str)> = [(1, &options.ocsp_url), (2, &options.ca_issuers_url)]
            .into_iter()
            .filter_map(|(method, url)| Some((method, url.as_deref()?)))
            .collect();
        if !access.is_empty() {
            p.custom_extensions.push(aia_extension(&access));
        }
        if options.ocsp_signing {
            p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::OcspSigning];
        }
        if let Some(url) = &options.crl_url {
            p.crl_distribution_points = vec![rcgen::CrlDistributionPoint { uris: vec![url.clone()] }];
        }
        p.serial_number = options.serial.map(rcgen::SerialNumber::from);
        if options.must_staple {
            // id-pe-tlsfeature: Features ::= SEQUENCE OF INTEGER { 5 (status_request) }
            p.custom_extensions.push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 24],
                vec![0x30, 0x03, 0x02, 0x01, 0x05],
            ));
        }
        let key = KeyPair::generate().map_err(pki_err)?;
        let cert = p.signed_by(&key, &self.cert, &self.key).map_err(pki_err)?;
        let mut chain = vec![cert.der().to_vec()];
        if !options.leaf_only {
            chain.extend(self.served_above.iter().cloned());
        }
        Ok(Issued { chain, key_pkcs8: key.serialize_der() })
    }
}

/// A self-signed leaf for `names`; the chain is the leaf alone.
pub fn self_signed(names: &[&str], validity: Validity) -> Result<Issued, FarmError> {
    let cn = names.first().copied().unwrap_or("self-signed");
    let p = params(cn, names, validity)?;
    let key = KeyPair::generate().map_err(pki_err)?;
    let cert = p.self_signed(&key).map_err(pki_err)?;
    Ok(Issued { chain: vec![cert.der().to_vec()], key_pkcs8: key.serialize_der() })
}

/// A self-signed leaf for `localhost` followed by `count - 1` copies of one
/// filler certificate padded (by a private extension) to about
/// `cert_bytes`: a chain far larger than any client should accept.
pub fn huge_chain(count: usize, cert_bytes: usize) -> Result<Issued, FarmError> {
    let mut leaf = self_signed(&["localhost", "127.0.0.1", "::1"], Validity::days_from_now(30))?;
    let mut p = params("filler", &[], Validity::days_from_now(30))?;
    // Private-enterprise OID (arc 32473 is reserved for documentation).
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 32473, 1],
        vec![0x04; cert_bytes.saturating_sub(300).max(1)],
    )];
    let key = KeyPair::generate().map_err(pki_err)?;
    let filler = p.self_signed(&key).map_err(pki_err)?.der().to_vec();
    leaf.chain.extend(std::iter::repeat_n(filler, count.saturating_sub(1)));
    Ok(leaf)
}
