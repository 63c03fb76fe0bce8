//! Reading what an AIA `caIssuers` URL serves, for the caller that fetched
//! it: RFC 5280 4.2.2.1 allows a single DER certificate or a "certs-only"
//! CMS (PKCS #7) bundle; PEM text is common in the wild too. Pure: bytes in,
//! DER certificates out, ready for
//! [`AnalysisInput::with_fetched_intermediates`](crate::AnalysisInput::with_fetched_intermediates).

use crate::dn;
use crate::AnalysisError;

/// id-signedData, 1.2.840.113549.1.7.2, as a DER OID element.
const OID_SIGNED_DATA: [u8; 11] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// The certificates in a `caIssuers` response body: one DER certificate,
/// a DER certs-only PKCS #7 bundle, or PEM text holding `CERTIFICATE` or
/// `PKCS7` blocks. Certificates are returned as they are (not parsed), so
/// a malformed one is reported by the analysis like any other.
pub fn certificates_from_ca_issuers(body: &[u8]) -> Result<Vec<Vec<u8>>, AnalysisError> {
    let unreadable = |what: &str| AnalysisError::UnreadableIssuerResponse(what.to_owned());
    if body.is_empty() {
        return Err(unreadable("the response is empty"));
    }
    let text_start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
    if body[text_start..].starts_with(b"-----BEGIN") {
        let mut out = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(body) {
            let block = match block {
                Ok(block) => block,
                Err(x509_parser::error::PEMError::MissingHeader) => break,
                Err(_) => return Err(unreadable("its PEM text is malformed")),
            };
            match block.label.as_str() {
                "CERTIFICATE" => out.push(block.contents),
                "PKCS7" | "CMS" => out.extend(from_der(&block.contents)?),
                _ => {}
            }
        }
        if out.is_empty() {
            return Err(unreadable("its PEM text holds no certificate"));
        }
        return Ok(out);
    }
    from_der(body)
}

fn from_der(der: &[u8]) -> Result<Vec<Vec<u8>>, AnalysisError> {
    let unreadable = |what: &str| AnalysisError::UnreadableIssuerResponse(what.to_owned());
    let not_der = || {
        let shown: String =
            der.iter().take(16).map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        unreadable(&format!(
            "it is neither a DER certificate nor a PKCS #7 bundle ({} bytes, starting with \"{shown}\")",
            der.len()
        ))
    };
    let (outer, rest) = next(der).filter(|(t, _)| t.first() == Some(&0x30)).ok_or_else(not_der)?;
    if !rest.is_empty() {
        return Err(unreadable(&format!("{} bytes follow its DER content", rest.len())));
    }
    let contents = dn::der_contents(outer);
    match contents.first() {
        // A certificate: SEQUENCE { tbsCertificate SEQUENCE, ... }.
        Some(0x30) => Ok(vec![outer.to_vec()]),
        // ContentInfo { contentType OID, [0] EXPLICIT content }.
        Some(0x06) if contents.starts_with(&OID_SIGNED_DATA) => {
            signed_data_certificates(&contents[OID_SIGNED_DATA.len()..])
                .ok_or_else(|| unreadable("its PKCS #7 bundle is malformed (or uses BER indefinite lengths)"))
        }
        Some(0x06) => Err(unreadable("it is a PKCS #7 message of another type than signed data")),
        _ => Err(not_der()),
    }
}

/// The `certificates` of `[0] EXPLICIT SignedData` (RFC 5652 5.1):
/// version, digestAlgorithms, encapContentInfo, then `[0] IMPLICIT`
/// certificates, of which the plain X.509 ones (SEQUENCE) are kept.
fn signed_data_certificates(explicit: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (wrapper, _) = next(explicit).filter(|(t, _)| t.first() == Some(&0xa0))?;
    let (signed_data, _) = next(dn::der_contents(wrapper)).filter(|(t, _)| t.first() == Some(&0x30))?;
    let mut fields = dn::der_contents(signed_data);
    for expected in [0x02, 0x31, 0x30] {
        let (field, rest) = next(fields)?;
        if field.first() != Some(&expected) {
            return None;
        }
        fields = rest;
    }
    let mut out = Vec::new();
    if let Some((certificates, _)) = next(fields).filter(|(t, _)| t.first() == Some(&0xa0)) {
        let mut list = dn::der_contents(certificates);
        while !list.is_empty() {
            let (element, rest) = next(list)?;
            if element.first() == Some(&0x30) {
                out.push(element.to_vec());
            }
            list = rest;
        }
    }
    Some(out)
}

/// The first DER element and what follows it.
fn next(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = dn::tlv_len(input)?;
    Some(input.split_at(len))
}
