//! Certificates that cannot be read whole: each is reported as malformed
//! with what is wrong, as a sentence, and what can still be read of it
//! (its key above all) still yields its facts. Built at test time with
//! rcgen, then damaged where a test needs it.

mod common;

use certinspect_analysis::*;
use common::*;

/// A leaf whose subjectAltName extension appears twice.
fn duplicated_san(issuer: &Ca, key: &impl rcgen::PublicKeyData) -> Vec<u8> {
    let mut params = leaf_params("dup.example.com", &["dup.example.com"]);
    // SEQUENCE { [2] "dup.example.com" }: the same SAN again, by hand.
    let name = b"dup.example.com";
    let mut san = vec![0x30, (name.len() + 2) as u8, 0x82, name.len() as u8];
    san.extend_from_slice(name);
    params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 17], san)];
    sign(params, key, issuer)
}

/// Replaces the first occurrence of `from` (which must be present).
fn patch(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = der.windows(from.len()).position(|w| w == from).expect("pattern present");
    let mut out = der.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

struct Case {
    name: &'static str,
    der: Vec<u8>,
    reason: MalformedReason,
    sentence: &'static str,
    /// Subject and key that must still be read, when any.
    partial_subject: Option<&'static str>,
    partial_key: Option<KeyType>,
    /// Whether webpki (so rustls) still accepts the chain: it does not read
    /// every extension, so a broken AIA does not stop it.
    clients_accept: bool,
}

#[test]
fn malformed_certificates_say_what_is_wrong() {
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    let good = leaf(&["a.example.com"], &inter);

    let mut broken_aia = leaf_params("aia.example.com", &["aia.example.com"]);
    // An INTEGER where the AccessDescription list belongs.
    broken_aia.custom_extensions =
        vec![rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], vec![0x02, 0x01, 0x00])];
    let broken_aia = sign(broken_aia, &p256(), &inter);

    // notBefore "2026..." as UTCTime "26..." becomes "X6...": not a time.
    let not_before = time::OffsetDateTime::from_unix_timestamp(NOW - 30 * DAY).unwrap();
    let yy = format!("{:02}", not_before.year() % 100);
    let bad_time = patch(&good, &[0x17, 0x0d, yy.as_bytes()[0]], &[0x17, 0x0d, b'X']);

    let mut trailing = good.clone();
    trailing.push(0);

    let cases = vec![
        Case {
            name: "duplicated extension, RSA-1024 key",
            der: duplicated_san(&inter, &rsa1024_public()),
            reason: MalformedReason::DuplicateExtension { extension: "subjectAltName (2.5.29.17)".to_owned() },
            sentence: "not a valid X.509 certificate: it has the subjectAltName (2.5.29.17) extension twice, and each extension may appear only once",
            partial_subject: Some("CN=dup.example.com,O=certinspect tests"),
            partial_key: Some(KeyType::Rsa { bits: 1024 }),
            clients_accept: false,
        },
        Case {
            name: "unreadable extension value",
            der: broken_aia,
            reason: MalformedReason::InvalidExtension { extension: "authorityInfoAccess (1.3.6.1.5.5.7.1.1)".to_owned() },
            sentence: "not a valid X.509 certificate: the value of its authorityInfoAccess (1.3.6.1.5.5.7.1.1) extension cannot be read",
            partial_subject: Some("CN=aia.example.com,O=certinspect tests"),
            partial_key: Some(KeyType::Ec { curve: EcCurve::P256 }),
            clients_accept: true,
        },
        Case {
            name: "unreadable validity date",
            der: bad_time,
            reason: MalformedReason::UnreadableField { field: "validity period".to_owned() },
            sentence: "not a valid X.509 certificate: its validity period cannot be read",
            partial_subject: None,
            partial_key: None,
            clients_accept: false,
        },
        Case {
            name: "cut short",
            der: good[..good.len() / 2].to_vec(),
            reason: MalformedReason::Truncated { expected: good.len(), present: good.len() / 2 },
            sentence: "",
            partial_subject: None,
            partial_key: None,
            clients_accept: false,
        },
        Case {
            name: "not a certificate",
            der: b"\x30\x03\x02\x01\x01".to_vec(),
            reason: MalformedReason::UnreadableField { field: "to-be-signed part".to_owned() },
            sentence: "not a valid X.509 certificate: its to-be-signed part cannot be read",
            partial_subject: None,
            partial_key: None,
            clients_accept: false,
        },
        Case {
            name: "text",
            der: b"HTTP/1.1 400 Bad Request".to_vec(),
            reason: MalformedReason::NotACertificate,
            sentence: "not a valid X.509 certificate: the bytes are not a DER-encoded X.509 certificate",
            partial_subject: None,
            partial_key: None,
            clients_accept: false,
        },
        Case {
            name: "trailing byte",
            der: trailing,
            reason: MalformedReason::TrailingData { bytes: 1 },
            sentence: "not a valid X.509 certificate: 1 bytes follow the end of the certificate",
            partial_subject: Some("CN=a.example.com,O=certinspect tests"),
            partial_key: Some(KeyType::Ec { curve: EcCurve::P256 }),
            clients_accept: false,
        },
    ];

    let trust = TrustStore::from_der(vec![root.der()]).unwrap();
    let policy = Policy::default();
    for case in cases {
        let error = parse_certificate(&case.der).expect_err(case.name);
        assert_eq!(error, AnalysisError::Malformed(case.reason.clone()), "{}", case.name);
        if !case.sentence.is_empty() {
            assert_eq!(error.to_string(), case.sentence, "{}", case.name);
        }

        let chain = vec![case.der.clone(), inter.der()];
        let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &policy).with_host(Some("a.example.com")));
        let ServedCertificate::Unparsable { error, reason, partial, .. } = &a.certificates[0] else {
            panic!("{}: expected unparsable", case.name)
        };
        assert_eq!(reason, &case.reason, "{}", case.name);
        assert_eq!(error, &AnalysisError::Malformed(case.reason.clone()).to_string(), "{}", case.name);
        assert_eq!(partial.as_ref().and_then(|p| p.subject.as_deref()), case.partial_subject, "{}", case.name);
        assert_eq!(partial.as_ref().and_then(|p| p.key.clone()), case.partial_key, "{}", case.name);
        assert_eq!(a.certificates[0].malformed(), Some(&case.reason));
        assert!(!error.contains('{') && !error.contains("Err("), "{}: {error}", case.name);
        // The verdict is the verifier's, independent of our reading.
        assert_eq!(a.trust.verdict == TrustVerdict::Trusted, case.clients_accept, "{}", case.name);
        assert_eq!(a.name_match, Some(NameMatch::NoMatch { reason: NoMatchReason::LeafUnparsable }));
    }
}

#[test]
fn weak_key_shows_whether_or_not_the_leaf_parses() {
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    let trust = TrustStore::from_der(vec![root.der()]).unwrap();
    let policy = Policy::default();
    let weak = Weakness { index: 0, kind: WeaknessKind::RsaKeyTooSmall { bits: 1024 } };

    let readable = sign(leaf_params("weak.example.com", &["weak.example.com"]), &rsa1024_public(), &inter);
    let malformed = duplicated_san(&inter, &rsa1024_public());
    for (name, leaf, parses) in [("readable", readable, true), ("duplicated extension", malformed, false)] {
        let chain = vec![leaf, inter.der()];
        let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &policy));
        assert_eq!(a.weaknesses, vec![weak.clone()], "{name}");
        assert_eq!(a.certificates[0].facts().is_some(), parses, "{name}");
    }

    // The JSON says what is wrong, typed and in words.
    let chain = vec![duplicated_san(&inter, &rsa1024_public())];
    let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &policy));
    let json = serde_json::to_value(&a.certificates[0]).unwrap();
    assert_eq!(json["status"], "unparsable");
    assert_eq!(json["reason"]["kind"], "duplicate_extension");
    assert_eq!(json["partial"]["key"]["bits"], 1024);
    assert_eq!(
        a.trust.verdict.to_string(),
        "not trusted: the leaf certificate 'CN=dup.example.com,O=certinspect tests' is malformed: it has the subjectAltName (2.5.29.17) extension twice, and each extension may appear only once"
    );
}
