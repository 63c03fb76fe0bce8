//! Reading caIssuers responses: a DER certificate, a certs-only PKCS #7
//! bundle (DER or PEM), PEM certificates; anything else is refused with a
//! sentence. Certificates generated at test time; the bundle is encoded
//! here by hand, as RFC 5652 lays it out.

mod common;

use certinspect_analysis::*;
use common::*;

/// One DER element: tag, definite length, contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A certs-only SignedData ContentInfo holding `certs`.
fn pkcs7(certs: &[Vec<u8>]) -> Vec<u8> {
    let signed_data_oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let data_oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    let mut body = der(0x02, &[1]); // version
    body.extend(der(0x31, &[])); // no digest algorithms
    body.extend(der(0x30, &data_oid)); // encapContentInfo without content
    body.extend(der(0xa0, &certs.concat())); // [0] IMPLICIT certificates
    body.extend(der(0x31, &[])); // no signerInfos
    let mut content_info = signed_data_oid.to_vec();
    content_info.extend(der(0xa0, &der(0x30, &body)));
    der(0x30, &content_info)
}

fn pem(label: &str, data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            b64.push(if i <= chunk.len() { ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|l| std::str::from_utf8(l).expect("ascii")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// A named body and the certificates it must yield.
type OkCase = (&'static str, Vec<u8>, Vec<Vec<u8>>);

#[test]
fn ca_issuers_bodies_yield_their_certificates() {
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    let cross = intermediate("Cross", p256(), &root);
    let both = vec![inter.der(), cross.der()];

    let ok_cases: Vec<OkCase> = vec![
        ("DER certificate", inter.der(), vec![inter.der()]),
        ("PKCS #7 with two certificates", pkcs7(&both), both.clone()),
        ("PKCS #7 with none", pkcs7(&[]), vec![]),
        ("PEM certificates", format!("{}{}", inter.cert.pem(), cross.cert.pem()).into_bytes(), both.clone()),
        ("PEM PKCS7", pem("PKCS7", &pkcs7(&both)).into_bytes(), both.clone()),
        ("PEM after blank lines", format!("\n\n{}", inter.cert.pem()).into_bytes(), vec![inter.der()]),
    ];
    for (name, body, want) in ok_cases {
        assert_eq!(certificates_from_ca_issuers(&body).expect(name), want, "{name}");
    }

    let mut trailing = inter.der();
    trailing.extend_from_slice(b"junk");
    let bad_cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "the response is empty"),
        (
            "HTML",
            b"<html><body>Not Found</body></html>".to_vec(),
            "it is neither a DER certificate nor a PKCS #7 bundle (35 bytes, starting with \"<html><body>Not \")",
        ),
        ("trailing bytes", trailing, "4 bytes follow its DER content"),
        ("PEM key only", root.key.serialize_pem().into_bytes(), "its PEM text holds no certificate"),
        (
            "PKCS #7 data, not signed data",
            der(0x30, &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]),
            "it is a PKCS #7 message of another type than signed data",
        ),
    ];
    for (name, body, want) in bad_cases {
        let error = certificates_from_ca_issuers(&body).expect_err(name);
        assert_eq!(error, AnalysisError::UnreadableIssuerResponse(want.to_owned()), "{name}");
        assert!(error.to_string().starts_with("the issuer certificate fetched from the AIA caIssuers URL"), "{name}");
    }

    // What comes out completes a chain.
    let chain = vec![leaf(&["a.example.com"], &inter)];
    let fetched = certificates_from_ca_issuers(&pkcs7(&both)).unwrap();
    let trust = TrustStore::from_der(vec![root.der()]).unwrap();
    let policy = Policy::default();
    let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &policy).with_fetched_intermediates(&fetched));
    assert_eq!(a.trust.verdict, TrustVerdict::Incomplete);
}
