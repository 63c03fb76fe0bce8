//! Trust verdicts on the hard cases: every chain that builds no path to a
//! trust anchor is untrusted with a reason naming the certificate at fault;
//! a missing intermediate is a diagnosis only once a fetched certificate
//! completes the path. Certificates are generated at test time.

mod common;

use certinspect_analysis::*;
use common::*;

fn trust_of(cas: &[&Ca]) -> TrustStore {
    TrustStore::from_der(cas.iter().map(|c| c.der()).collect()).expect("trust store")
}

fn served(index: usize, cn: &str) -> CertificateRef {
    CertificateRef { location: CertificateLocation::Served { index }, subject: format!("CN={cn},O=certinspect tests") }
}

fn fetched(index: usize, cn: &str) -> CertificateRef {
    CertificateRef { location: CertificateLocation::Fetched { index }, subject: format!("CN={cn},O=certinspect tests") }
}

fn untrusted(reason: UntrustedReason) -> TrustVerdict {
    TrustVerdict::Untrusted { reason }
}

fn dn(cn: &str) -> String {
    format!("CN={cn},O=certinspect tests")
}

/// One case: what is served, what the caller fetched, what is trusted, and
/// the verdict and facts expected.
struct Case {
    name: &'static str,
    chain: Vec<Vec<u8>>,
    fetched: Vec<Vec<u8>>,
    trust: TrustStore,
    verdict: TrustVerdict,
    trusted_ignoring_time: bool,
    missing_intermediates: Vec<CertificateRef>,
}

fn cases() -> Vec<Case> {
    let elsewhere = root("Someone Else", p256());
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    let leaf_der = leaf(&["a.example.com"], &inter);
    let trusted = || trust_of(&[&root]);

    // Same names as the real intermediate, another key: a leaf it signed
    // names the real intermediate as issuer but its signature fails there.
    let impostor = intermediate("Test Intermediate", p256(), &root);
    let forged = common::leaf(&["a.example.com"], &impostor);

    let mut client_only = leaf_params("client.example.com", &["client.example.com"]);
    client_only.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_only = sign(client_only, &p256(), &inter);

    let constrained = intermediate_with("Constrained", p256(), &root, |p| {
        p.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("allowed.test".to_owned())],
            excluded_subtrees: Vec::new(),
        })
    });
    let outside = common::leaf(&["a.example.com"], &constrained);

    let policy_constrained = intermediate_with("Policy Constrained", p256(), &root, |p| {
        // policyConstraints { requireExplicitPolicy 0 }, critical.
        let mut ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 36], vec![0x30, 0x03, 0x80, 0x01, 0x00]);
        ext.set_criticality(true);
        p.custom_extensions = vec![ext];
    });
    let under_policy = common::leaf(&["a.example.com"], &policy_constrained);

    // A plain server certificate (not a CA) used to issue another.
    let not_a_ca = {
        let key = p256();
        let cert =
            leaf_params("Not A CA", &["notca.example.com"]).signed_by(&key, &inter.cert, &inter.key).expect("sign");
        Ca { cert, key }
    };

    let mut expired_params = leaf_params("old.example.com", &["old.example.com"]);
    expired_params.not_before = at(NOW - 100 * DAY);
    expired_params.not_after = at(NOW - 11 * DAY);
    let expired_leaf = sign(expired_params, &p256(), &inter);

    // The intermediate re-issued (same name and key) after the leaf expired:
    // the two were never valid at the same instant.
    let same_key = || rcgen::KeyPair::from_pem(&inter.key.serialize_pem()).expect("key");
    let reissued = intermediate_valid("Test Intermediate", same_key(), &root, NOW - 5 * DAY, NOW + 3 * 365 * DAY);
    let reissued_later = intermediate_valid("Test Intermediate", same_key(), &root, NOW + 2 * DAY, NOW + 3 * 365 * DAY);
    // Same dates, another key: the dates are not the only problem.
    let reissued_impostor = intermediate_valid("Test Intermediate", p256(), &root, NOW - 5 * DAY, NOW + 3 * 365 * DAY);

    // The intermediate with its basicConstraints twice.
    let doubled = intermediate_with("Doubled", p256(), &root, |p| {
        // basicConstraints { cA TRUE } again, by hand.
        p.custom_extensions =
            vec![rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x03, 0x01, 0x01, 0xff])];
    });
    let under_doubled = common::leaf(&["a.example.com"], &doubled);

    vec![
        Case {
            name: "served intermediate with a duplicated extension",
            chain: vec![under_doubled, doubled.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::Malformed {
                certificate: Some(served(1, "Doubled")),
                detail:
                    "it has the basicConstraints (2.5.29.19) extension twice, and each extension may appear only once"
                        .to_owned(),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "expired leaf (11 days ago) under a re-issued intermediate",
            chain: vec![expired_leaf.clone(), reissued.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: TrustVerdict::Expired { certificate: served(0, "old.example.com") },
            trusted_ignoring_time: true,
            missing_intermediates: vec![],
        },
        Case {
            name: "expired leaf under a re-issued intermediate of the wrong key",
            chain: vec![expired_leaf.clone(), reissued_impostor.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::BadSignature {
                certificate: served(0, "old.example.com"),
                issuer: dn("Test Intermediate"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "valid leaf under an intermediate re-issued for later: the intermediate is not valid yet",
            chain: vec![leaf_der.clone(), reissued_later.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: TrustVerdict::NotYetValid { certificate: served(1, "Test Intermediate") },
            trusted_ignoring_time: true,
            missing_intermediates: vec![],
        },
        Case {
            name: "expired leaf under a re-issued intermediate served with its root in the store",
            chain: vec![expired_leaf.clone(), reissued.der(), root.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: TrustVerdict::Expired { certificate: served(0, "old.example.com") },
            trusted_ignoring_time: true,
            missing_intermediates: vec![],
        },
        Case {
            name: "expired leaf under a re-issued intermediate of an unknown CA",
            chain: vec![expired_leaf.clone(), reissued.der()],
            fetched: vec![],
            trust: trust_of(&[&elsewhere]),
            verdict: untrusted(UntrustedReason::UnknownIssuer {
                certificate: served(1, "Test Intermediate"),
                issuer: dn("Test Root"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "unknown root omitted: the intermediate's issuer is unknown",
            chain: vec![leaf_der.clone(), inter.der()],
            fetched: vec![],
            trust: trust_of(&[&elsewhere]),
            verdict: untrusted(UntrustedReason::UnknownIssuer {
                certificate: served(1, "Test Intermediate"),
                issuer: dn("Test Root"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "unknown root omitted, against the Mozilla set",
            chain: vec![leaf_der.clone(), inter.der()],
            fetched: vec![],
            trust: TrustStore::mozilla(),
            verdict: untrusted(UntrustedReason::UnknownIssuer {
                certificate: served(1, "Test Intermediate"),
                issuer: dn("Test Root"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "unknown root served",
            chain: vec![leaf_der.clone(), inter.der(), root.der()],
            fetched: vec![],
            trust: trust_of(&[&elsewhere]),
            verdict: untrusted(UntrustedReason::UntrustedRoot { certificate: served(2, "Test Root") }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "missing intermediate, nothing fetched: untrusted, the issuer named",
            chain: vec![leaf_der.clone()],
            fetched: vec![],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::UnknownIssuer {
                certificate: served(0, "a.example.com"),
                issuer: dn("Test Intermediate"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "missing intermediate, fetched: incomplete",
            chain: vec![leaf_der.clone()],
            fetched: vec![inter.der()],
            trust: trusted(),
            verdict: TrustVerdict::Incomplete,
            trusted_ignoring_time: true,
            missing_intermediates: vec![fetched(0, "Test Intermediate")],
        },
        Case {
            name: "fetched certificate that does not help: still untrusted",
            chain: vec![leaf_der.clone()],
            fetched: vec![elsewhere.der()],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::UnknownIssuer {
                certificate: served(0, "a.example.com"),
                issuer: dn("Test Intermediate"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "fetched intermediate of an unknown CA: the fetched one's issuer is unknown",
            chain: vec![leaf_der.clone()],
            fetched: vec![inter.der()],
            trust: trust_of(&[&elsewhere]),
            verdict: untrusted(UntrustedReason::UnknownIssuer {
                certificate: fetched(0, "Test Intermediate"),
                issuer: dn("Test Root"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "served chain complete: fetched certificates are not needed",
            chain: vec![leaf_der.clone(), inter.der()],
            fetched: vec![inter.der()],
            trust: trusted(),
            verdict: TrustVerdict::Trusted,
            trusted_ignoring_time: true,
            missing_intermediates: vec![],
        },
        Case {
            name: "expired leaf and a missing intermediate fetched",
            chain: vec![expired_leaf.clone()],
            fetched: vec![inter.der()],
            trust: trusted(),
            verdict: TrustVerdict::Expired { certificate: served(0, "old.example.com") },
            trusted_ignoring_time: true,
            missing_intermediates: vec![fetched(0, "Test Intermediate")],
        },
        Case {
            name: "bad signature: the leaf does not verify with its issuer's key",
            chain: vec![forged, inter.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::BadSignature {
                certificate: served(0, "a.example.com"),
                issuer: dn("Test Intermediate"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "bad signature at the top: the intermediate is not signed by the trusted root of its issuer's name",
            chain: vec![leaf_der.clone(), inter.der()],
            fetched: vec![],
            trust: trust_of(&[&root_with_same_name()]),
            verdict: untrusted(UntrustedReason::BadSignature {
                certificate: served(1, "Test Intermediate"),
                issuer: dn("Test Root"),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "extended key usage for clients only",
            chain: vec![client_only, inter.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::ExtendedKeyUsage {
                certificate: Some(served(0, "client.example.com")),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "name outside the intermediate's name constraints",
            chain: vec![outside, constrained.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::NameConstraints { certificate: served(0, "a.example.com") }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "critical policy constraints on the intermediate",
            chain: vec![under_policy, policy_constrained.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::UnsupportedCriticalExtension {
                certificate: Some(served(1, "Policy Constrained")),
                extension: Some("policyConstraints, 2.5.29.36".to_owned()),
            }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
        Case {
            name: "server certificate used as an issuer",
            chain: vec![common::leaf(&["b.example.com"], &not_a_ca), not_a_ca.der(), inter.der()],
            fetched: vec![],
            trust: trusted(),
            verdict: untrusted(UntrustedReason::IssuerNotCa { certificate: Some(served(1, "Not A CA")) }),
            trusted_ignoring_time: false,
            missing_intermediates: vec![],
        },
    ]
}

/// A root named like the test root, with another key.
fn root_with_same_name() -> Ca {
    root("Test Root", p256())
}

#[test]
fn every_untrusted_chain_names_its_reason_and_certificate() {
    let policy = Policy::default();
    for case in cases() {
        let input =
            AnalysisInput::new(&case.chain, &case.trust, NOW, &policy).with_fetched_intermediates(&case.fetched);
        let a = analyze(&input);
        assert_eq!(a.trust.verdict, case.verdict, "{}", case.name);
        assert_eq!(a.trust.trusted_ignoring_time, case.trusted_ignoring_time, "{}", case.name);
        assert_eq!(a.trust.missing_intermediates, case.missing_intermediates, "{}", case.name);
        assert_eq!(a.fetched_certificates.len(), case.fetched.len(), "{}", case.name);
        let json = serde_json::to_string(&a).expect("serialize");
        assert_eq!(serde_json::from_str::<ChainAnalysis>(&json).expect("deserialize"), a, "{}", case.name);
        // The sentence for people names the certificate at fault.
        let sentence = a.trust.verdict.to_string();
        if let TrustVerdict::Untrusted { .. } | TrustVerdict::Expired { .. } = &a.trust.verdict {
            assert!(sentence.contains("CN="), "{}: {sentence}", case.name);
        }
        assert!(!sentence.contains('{') && !sentence.contains("Some("), "{}: {sentence}", case.name);
    }
}

#[test]
fn path_of_a_chain_never_valid_at_one_instant() {
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    let mut params = leaf_params("old.example.com", &["old.example.com"]);
    params.not_before = at(NOW - 100 * DAY);
    params.not_after = at(NOW - 11 * DAY);
    let leaf = sign(params, &p256(), &inter);
    let key = rcgen::KeyPair::from_pem(&inter.key.serialize_pem()).expect("key");
    let reissued = intermediate_valid("Test Intermediate", key, &root, NOW - 5 * DAY, NOW + 3 * 365 * DAY);
    let chain = vec![leaf, reissued.der()];
    let trust = trust_of(&[&root]);
    let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &Policy::default()));
    let path = a.trust.verified_path.as_ref().expect("path ignoring time");
    assert_eq!(path[..2], [PathCertificate::Served { index: 0 }, PathCertificate::Served { index: 1 }]);
    assert!(matches!(&path[2], PathCertificate::TrustAnchor { subject, .. } if subject == &dn("Test Root")));
    assert_eq!(a.trust.webpki_error.as_deref(), Some("CertExpired"));
    let leaf = a.expiry.leaf.expect("leaf");
    assert_eq!((leaf.state, leaf.days_remaining), (ExpiryState::Expired, -11));
    assert_eq!(
        a.trust.verdict.to_string(),
        "the leaf certificate 'CN=old.example.com,O=certinspect tests' has expired"
    );
}

#[test]
fn incomplete_chain_path_goes_through_the_fetched_intermediate() {
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    let chain = vec![leaf(&["a.example.com"], &inter)];
    let fetched = vec![inter.der()];
    let trust = trust_of(&[&root]);
    let policy = Policy::default();
    let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &policy).with_fetched_intermediates(&fetched));
    assert_eq!(a.trust.verdict, TrustVerdict::Incomplete);
    let path = a.trust.verified_path.as_ref().expect("path");
    assert_eq!(path[..2], [PathCertificate::Served { index: 0 }, PathCertificate::Fetched { index: 0 }]);
    assert!(matches!(path[2], PathCertificate::TrustAnchor { .. }));
    // The served chain alone is still incomplete.
    assert!(!a.completeness.complete);
    assert_eq!(a.expiry.earliest_verified.expect("verified").certificate, ExpirySubject::Served { index: 0 });
    assert!(a.trust.verdict.to_string().contains("served chain is incomplete"));
}

#[test]
fn aia_and_crl_urls_are_facts_and_say_what_to_fetch() {
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    let mut params = leaf_params("a.example.com", &["a.example.com"]);
    params.custom_extensions = vec![aia_extension(
        &["http://127.0.0.1:8080/inter.der"],
        &["http://127.0.0.1:8080/ocsp", "http://[::1]:8080/ocsp"],
    )];
    params.crl_distribution_points =
        vec![rcgen::CrlDistributionPoint { uris: vec!["http://127.0.0.1:8080/inter.crl".to_owned()] }];
    let chain = vec![sign(params, &p256(), &inter)];
    let trust = trust_of(&[&root]);
    let policy = Policy::default();

    let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &policy));
    let leaf = a.certificates[0].facts().expect("parsed");
    assert_eq!(leaf.ca_issuers_urls, vec!["http://127.0.0.1:8080/inter.der"]);
    assert_eq!(leaf.ocsp_urls, vec!["http://127.0.0.1:8080/ocsp", "http://[::1]:8080/ocsp"]);
    assert_eq!(leaf.crl_distribution_points, vec!["http://127.0.0.1:8080/inter.crl"]);
    assert_eq!(a.issuer_urls_to_fetch(), vec!["http://127.0.0.1:8080/inter.der"]);

    // Once fetched, nothing more to fetch.
    let fetched = vec![inter.der()];
    let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &policy).with_fetched_intermediates(&fetched));
    assert_eq!(a.trust.verdict, TrustVerdict::Incomplete);
    assert!(a.issuer_urls_to_fetch().is_empty());

    // A certificate without the extensions has empty lists.
    let f = a.fetched_certificates[0].facts().expect("parsed");
    assert!(f.ca_issuers_urls.is_empty() && f.ocsp_urls.is_empty() && f.crl_distribution_points.is_empty());
}

#[test]
fn untrusted_verdict_wire_shape() {
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    let chain = vec![leaf(&["a.example.com"], &inter), inter.der()];
    let trust = TrustStore::empty();
    let a = analyze(&AnalysisInput::new(&chain, &trust, NOW, &Policy::default()));
    let value = serde_json::to_value(&a.trust).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "verdict": {
                "status": "untrusted",
                "reason": {
                    "kind": "unknown_issuer",
                    "certificate": {
                        "location": { "source": "served", "index": 1 },
                        "subject": "CN=Test Intermediate,O=certinspect tests"
                    },
                    "issuer": "CN=Test Root,O=certinspect tests"
                }
            },
            "trusted_ignoring_time": false,
            "verified_path": null,
            "missing_intermediates": [],
            "webpki_error": "UnknownIssuer"
        })
    );
}
