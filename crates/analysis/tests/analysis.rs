//! Facts for certificates generated at test time with rcgen.

mod common;

use std::net::IpAddr;

use certinspect_analysis::*;
use common::*;

fn trust_of(cas: &[&Ca]) -> TrustStore {
    TrustStore::from_der(cas.iter().map(|c| c.der()).collect()).expect("trust store")
}

fn run(chain: &[Vec<u8>], host: Option<&str>, trust: &TrustStore) -> ChainAnalysis {
    analyze(&AnalysisInput::new(chain, trust, NOW, &Policy::default()).with_host(host))
}

fn served_ref(index: usize, subject: &str) -> CertificateRef {
    CertificateRef { location: CertificateLocation::Served { index }, subject: subject.to_owned() }
}

fn facts(der: &[u8]) -> CertificateFacts {
    parse_certificate(der).expect("parse")
}

/// Root -> intermediate -> leaf, all P-256.
struct Pki {
    root: Ca,
    inter: Ca,
}

fn pki() -> Pki {
    let root = root("Test Root", p256());
    let inter = intermediate("Test Intermediate", p256(), &root);
    Pki { root, inter }
}

#[test]
fn valid_chain_is_trusted_complete_and_matches() {
    let pki = pki();
    let leaf = leaf(&["www.example.com", "example.com"], &pki.inter);
    let chain = vec![leaf.clone(), pki.inter.der()];
    let trust = trust_of(&[&pki.root]);
    let a = run(&chain, Some("WWW.Example.com."), &trust);

    assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
    assert!(a.trust.trusted_ignoring_time);
    assert_eq!(a.trust.webpki_error, None);
    let root_fp = facts(&pki.root.der()).sha256_fingerprint;
    assert_eq!(
        a.trust.verified_path,
        Some(vec![
            PathCertificate::Served { index: 0 },
            PathCertificate::Served { index: 1 },
            PathCertificate::TrustAnchor {
                subject: "CN=Test Root,O=certinspect tests".to_owned(),
                sha256_fingerprint: Some(root_fp),
            },
        ])
    );
    assert!(a.completeness.complete && a.completeness.reaches_trust_anchor);
    assert_eq!(a.completeness.path, vec![0, 1]);
    assert!(a.completeness.in_order);
    assert!(a.completeness.unused.is_empty());
    assert_eq!(
        a.completeness.ends_at,
        ChainEnd::TrustAnchor { anchor_subject: "CN=Test Root,O=certinspect tests".to_owned() }
    );
    assert_eq!(a.name_match, Some(NameMatch::Matched { san: "www.example.com".to_owned(), wildcard: false }));
    assert!(a.weaknesses.is_empty());

    let leaf_facts = a.certificates[0].facts().expect("leaf parsed");
    assert_eq!(leaf_facts.subject, "CN=www.example.com,O=certinspect tests");
    assert_eq!(leaf_facts.issuer, "CN=Test Intermediate,O=certinspect tests");
    assert_eq!(leaf_facts.subject_common_names, vec!["www.example.com"]);
    assert_eq!(leaf_facts.extended_key_usages, vec!["serverAuth"]);
    assert_eq!(leaf_facts.is_ca, None);
    assert!(!leaf_facts.self_issued && !leaf_facts.self_signed);
    assert_eq!(leaf_facts.not_before, NOW - 30 * DAY);
    assert_eq!(leaf_facts.not_after, NOW + 60 * DAY);
    assert_eq!(leaf_facts.version, 3);
    // The leaf's AKI names the intermediate's SKI.
    let inter_facts = a.certificates[1].facts().expect("intermediate parsed");
    assert_eq!(inter_facts.is_ca, Some(true));
    assert!(inter_facts.subject_key_id.is_some());
    assert_eq!(leaf_facts.authority_key_id, inter_facts.subject_key_id);

    // The three expiry facts: leaf 60 days out is Ok; the served and
    // verified chains' earliest is the leaf too here.
    let leaf_exp = a.expiry.leaf.as_ref().expect("leaf expiry");
    assert_eq!(leaf_exp.state, ExpiryState::Ok);
    assert_eq!(leaf_exp.days_remaining, 60);
    assert_eq!(a.expiry.earliest_served.as_ref(), Some(leaf_exp));
    assert_eq!(a.expiry.earliest_verified.as_ref(), Some(leaf_exp));
}

#[test]
fn three_expiry_facts_can_differ() {
    // Root expires first (in 20 days, only on the verified path, not
    // served); a stale extra certificate in the served chain expired
    // already; the leaf is fine.
    let root = root_valid("Short Root", p256(), NOW - 365 * DAY, NOW + 20 * DAY);
    let inter = intermediate("Inter", p256(), &root);
    let old = root_valid("Stale Root", p256(), NOW - 900 * DAY, NOW - 100 * DAY);
    let leaf = leaf(&["a.example.com"], &inter);
    let chain = vec![leaf, inter.der(), old.der()];
    let a = run(&chain, None, &trust_of(&[&root]));

    assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
    assert_eq!(a.completeness.unused, vec![2]);
    let leaf = a.expiry.leaf.expect("leaf");
    assert_eq!(leaf.state, ExpiryState::Ok);
    let served = a.expiry.earliest_served.expect("served");
    assert_eq!(served.certificate, ExpirySubject::Served { index: 2 });
    assert_eq!(served.state, ExpiryState::Expired);
    assert_eq!(served.days_remaining, -100);
    let verified = a.expiry.earliest_verified.expect("verified");
    assert_eq!(verified.certificate, ExpirySubject::TrustAnchor);
    assert_eq!(verified.subject, "CN=Short Root,O=certinspect tests");
    assert_eq!(verified.state, ExpiryState::Warning);
    assert_eq!(verified.days_remaining, 20);
}

#[test]
fn expired_leaf_is_expired_and_otherwise_trusted() {
    let pki = pki();
    let mut params = leaf_params("old.example.com", &["old.example.com"]);
    params.not_before = at(NOW - 100 * DAY);
    params.not_after = at(NOW - DAY);
    let chain = vec![sign(params, &p256(), &pki.inter), pki.inter.der()];
    let a = run(&chain, Some("old.example.com"), &trust_of(&[&pki.root]));

    assert_eq!(
        a.trust.verdict,
        TrustVerdict::Expired { certificate: served_ref(0, "CN=old.example.com,O=certinspect tests") }
    );
    assert!(a.trust.trusted_ignoring_time);
    assert_eq!(a.trust.webpki_error.as_deref(), Some("CertExpired"));
    assert_eq!(a.trust.verified_path.as_ref().map(Vec::len), Some(3));
    let leaf = a.expiry.leaf.expect("leaf");
    assert_eq!(leaf.state, ExpiryState::Expired);
    assert_eq!(leaf.days_remaining, -1);
    assert_eq!(leaf.fraction_remaining, 0.0);
    assert!(a.name_match.unwrap().is_match());
}

#[test]
fn expired_intermediate_makes_chain_expired() {
    let root = root("Root", p256());
    let inter = intermediate_valid("Old Inter", p256(), &root, NOW - 400 * DAY, NOW - 2 * DAY);
    let chain = vec![leaf(&["a.example.com"], &inter), inter.der()];
    let a = run(&chain, None, &trust_of(&[&root]));
    assert_eq!(
        a.trust.verdict,
        TrustVerdict::Expired { certificate: served_ref(1, "CN=Old Inter,O=certinspect tests") }
    );
    assert_eq!(a.expiry.leaf.unwrap().state, ExpiryState::Ok);
    let served = a.expiry.earliest_served.unwrap();
    assert_eq!(served.certificate, ExpirySubject::Served { index: 1 });
    assert_eq!(served.state, ExpiryState::Expired);
    assert_eq!(a.expiry.earliest_verified.unwrap().state, ExpiryState::Expired);
}

#[test]
fn not_yet_valid_leaf() {
    let pki = pki();
    let mut params = leaf_params("new.example.com", &["new.example.com"]);
    params.not_before = at(NOW + DAY);
    params.not_after = at(NOW + 91 * DAY);
    let chain = vec![sign(params, &p256(), &pki.inter), pki.inter.der()];
    let a = run(&chain, None, &trust_of(&[&pki.root]));
    assert_eq!(
        a.trust.verdict,
        TrustVerdict::NotYetValid { certificate: served_ref(0, "CN=new.example.com,O=certinspect tests") }
    );
    assert!(a.trust.trusted_ignoring_time);
    assert_eq!(a.expiry.leaf.unwrap().state, ExpiryState::NotYetValid);
}

#[test]
fn expiring_soon_grades_warning_then_critical() {
    let pki = pki();
    let trust = trust_of(&[&pki.root]);
    for (days_left, want) in [(45, ExpiryState::Ok), (20, ExpiryState::Warning), (5, ExpiryState::Critical)] {
        let mut params = leaf_params("soon.example.com", &["soon.example.com"]);
        params.not_after = at(NOW + days_left * DAY + 3600);
        let chain = vec![sign(params, &p256(), &pki.inter), pki.inter.der()];
        let a = run(&chain, None, &trust);
        assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
        let leaf = a.expiry.leaf.unwrap();
        assert_eq!(leaf.state, want, "{days_left} days left");
        assert_eq!(leaf.days_remaining, days_left);
    }
    // A custom policy changes the grade.
    let mut params = leaf_params("soon.example.com", &["soon.example.com"]);
    params.not_after = at(NOW + 20 * DAY);
    let chain = vec![sign(params, &p256(), &pki.inter), pki.inter.der()];
    let strict = Policy { warn_days: 60, critical_days: 21, warn_fraction_remaining: 0.0 };
    let a = analyze_chain(&chain, &trust, NOW, &strict);
    assert_eq!(a.expiry.leaf.unwrap().state, ExpiryState::Critical);
    assert_eq!(a.name_match, None);
}

#[test]
fn wrong_host_does_not_match() {
    let pki = pki();
    let chain = vec![leaf(&["a.example.com", "b.example.com"], &pki.inter)];
    let a = run(&chain, Some("c.example.com"), &trust_of(&[&pki.root]));
    assert_eq!(a.name_match, Some(NameMatch::NoMatch { reason: NoMatchReason::NotInDnsSans { dns_sans: 2 } }));
    // CN is ignored when SANs exist, even if it would match.
    let mut params = leaf_params("cn.example.com", &["san.example.com"]);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "cn.example.com");
    let f = facts(&sign(params, &p256(), &pki.inter));
    assert!(!match_name(&f, "cn.example.com").is_match());
    assert!(match_name(&f, "san.example.com").is_match());
}

#[test]
fn wildcard_positive_and_negative_cases() {
    let pki = pki();
    let f = facts(&leaf(&["*.example.com", "f*.other.com"], &pki.inter));
    assert_eq!(match_name(&f, "a.example.com"), NameMatch::Matched { san: "*.example.com".to_owned(), wildcard: true });
    assert!(match_name(&f, "A.EXAMPLE.COM").is_match());
    for host in ["example.com", "a.b.example.com", "foo.other.com", "f.other.com"] {
        assert_eq!(
            match_name(&f, host),
            NameMatch::NoMatch { reason: NoMatchReason::NotInDnsSans { dns_sans: 2 } },
            "{host}"
        );
    }
    // Wildcards never cover a public suffix-like two-label tail.
    let f = facts(&leaf(&["*.com"], &pki.inter));
    assert!(!match_name(&f, "example.com").is_match());
}

#[test]
fn idna_hosts_compare_as_a_labels() {
    let pki = pki();
    let f = facts(&leaf(&["xn--bcher-kva.example", "*.xn--caf-dma.example"], &pki.inter));
    assert!(match_name(&f, "bücher.example").is_match());
    assert!(match_name(&f, "BÜCHER.example").is_match());
    assert!(match_name(&f, "xn--bcher-kva.example").is_match());
    assert_eq!(
        match_name(&f, "www.café.example"),
        NameMatch::Matched { san: "*.xn--caf-dma.example".to_owned(), wildcard: true }
    );
    assert!(!match_name(&f, "bucher.example").is_match());
}

#[test]
fn many_sans() {
    let pki = pki();
    let names: Vec<String> = (0..100).map(|i| format!("host{i}.example.net")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let f = facts(&leaf(&refs, &pki.inter));
    assert_eq!(f.subject_alt_names.len(), 100);
    assert_eq!(f.subject_alt_names[99], SubjectAltName::Dns("host99.example.net".to_owned()));
    assert_eq!(
        match_name(&f, "host99.example.net"),
        NameMatch::Matched { san: "host99.example.net".to_owned(), wildcard: false }
    );
    assert_eq!(
        match_name(&f, "host100.example.net"),
        NameMatch::NoMatch { reason: NoMatchReason::NotInDnsSans { dns_sans: 100 } }
    );
}

#[test]
fn ip_sans_only_match_ip_references() {
    let pki = pki();
    let der = leaf(&["192.0.2.10", "2001:db8::1"], &pki.inter);
    let f = facts(&der);
    let v4: IpAddr = "192.0.2.10".parse().unwrap();
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(f.subject_alt_names, vec![SubjectAltName::Ip(v4), SubjectAltName::Ip(v6)]);
    assert_eq!(match_name(&f, "192.0.2.10"), NameMatch::MatchedIp { san: v4 });
    assert_eq!(match_name(&f, "2001:DB8:0::1"), NameMatch::MatchedIp { san: v6 });
    assert_eq!(match_name(&f, "[2001:db8::1]"), NameMatch::MatchedIp { san: v6 });
    assert_eq!(match_name(&f, "192.0.2.11"), NameMatch::NoMatch { reason: NoMatchReason::NotInIpSans { ip_sans: 2 } });
    // The CN ("192.0.2.10") is not consulted for a DNS name either.
    assert_eq!(
        match_name(&f, "example.com"),
        NameMatch::NoMatch { reason: NoMatchReason::NotInDnsSans { dns_sans: 0 } }
    );
    // An IP-only leaf still verifies: names are not part of the trust verdict.
    let a = run(&[der, pki.inter.der()], Some("192.0.2.10"), &trust_of(&[&pki.root]));
    assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
}

#[test]
fn cn_only_is_a_mismatch_unless_accepted() {
    let pki = pki();
    let der = sign(leaf_params("legacy.example.com", &[]), &p256(), &pki.inter);
    let f = facts(&der);
    assert!(!f.san_extension_present);
    assert!(f.subject_alt_names.is_empty());
    let only_in_cn = || NameMatch::NoMatch {
        reason: NoMatchReason::OnlyInLegacyCn { common_name: "legacy.example.com".to_owned() },
    };
    let cases = [
        ("legacy.example.com", LegacyCn::Reject, only_in_cn()),
        ("LEGACY.example.com.", LegacyCn::Reject, only_in_cn()),
        (
            "legacy.example.com",
            LegacyCn::Accept,
            NameMatch::MatchedLegacyCnOnly { common_name: "legacy.example.com".to_owned() },
        ),
        ("other.example.com", LegacyCn::Reject, NameMatch::NoMatch { reason: NoMatchReason::LegacyCnMismatch }),
        ("other.example.com", LegacyCn::Accept, NameMatch::NoMatch { reason: NoMatchReason::LegacyCnMismatch }),
        // IP references never fall back to the CN.
        ("192.0.2.1", LegacyCn::Accept, NameMatch::NoMatch { reason: NoMatchReason::NotInIpSans { ip_sans: 0 } }),
    ];
    let trust = trust_of(&[&pki.root]);
    let policy = Policy::default();
    let chain = vec![der.clone(), pki.inter.der()];
    for (host, legacy_cn, want) in cases {
        assert_eq!(match_name_with(&f, host, legacy_cn), want, "{host} {legacy_cn:?}");
        let input = AnalysisInput::new(&chain, &trust, NOW, &policy).with_host(Some(host)).with_legacy_cn(legacy_cn);
        assert_eq!(analyze(&input).name_match, Some(want), "{host} {legacy_cn:?} through analyze");
    }
    // The default is the client's view: a mismatch, saying why.
    assert_eq!(match_name(&f, "legacy.example.com"), only_in_cn());
    assert!(!only_in_cn().is_match());
    let NameMatch::NoMatch { reason } = only_in_cn() else { unreachable!() };
    assert_eq!(
        reason.to_string(),
        "the name appears only in the legacy subject CN 'legacy.example.com' (no subjectAltName extension), which current clients ignore"
    );
    let json = serde_json::to_value(only_in_cn()).unwrap();
    assert_eq!(json["reason"]["kind"], "only_in_legacy_cn");

    let mut nameless = leaf_params("x", &[]);
    nameless.distinguished_name = rcgen::DistinguishedName::new();
    nameless.distinguished_name.push(rcgen::DnType::OrganizationName, "No Names");
    let f = facts(&sign(nameless, &p256(), &pki.inter));
    assert_eq!(match_name(&f, "x"), NameMatch::NoMatch { reason: NoMatchReason::NoNames });
}

#[test]
fn self_signed_leaf() {
    let key = p256();
    let der = leaf_params("self.example.com", &["self.example.com"]).self_signed(&key).unwrap().der().to_vec();
    let f = facts(&der);
    assert!(f.self_issued && f.self_signed);
    let a = run(&[der], Some("self.example.com"), &TrustStore::mozilla());
    assert_eq!(
        a.trust.verdict,
        TrustVerdict::Untrusted {
            reason: UntrustedReason::SelfSigned {
                certificate: served_ref(0, "CN=self.example.com,O=certinspect tests")
            }
        }
    );
    assert!(!a.trust.trusted_ignoring_time);
    assert_eq!(a.completeness.ends_at, ChainEnd::SelfSigned { index: 0, in_trust_store: false });
    assert!(a.completeness.complete && !a.completeness.reaches_trust_anchor);
    assert!(a.name_match.unwrap().is_match());
}

#[test]
fn self_issued_but_not_self_signed_is_told_apart() {
    // Same name as its issuer, different key: self-issued, not self-signed.
    let root = root("Same Name", p256());
    let mut params = leaf_params("Same Name", &["x.example.com"]);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "certinspect tests");
    params.distinguished_name.push(rcgen::DnType::CommonName, "Same Name");
    let f = facts(&sign(params, &p256(), &root));
    assert!(f.self_issued);
    assert!(!f.self_signed);
    assert!(facts(&root.der()).self_signed);
}

#[test]
fn unknown_ca_is_untrusted_issuer() {
    let pki = pki();
    let leaf = leaf(&["a.example.com"], &pki.inter);
    let other = root("Someone Else", p256());
    let untrusted_root = |index: usize, subject: &str| TrustVerdict::Untrusted {
        reason: UntrustedReason::UntrustedRoot { certificate: served_ref(index, subject) },
    };

    // Full chain with its root served, but the root is not trusted.
    let chain = vec![leaf.clone(), pki.inter.der(), pki.root.der()];
    let a = run(&chain, None, &trust_of(&[&other]));
    assert_eq!(a.trust.verdict, untrusted_root(2, "CN=Test Root,O=certinspect tests"));
    assert!(!a.trust.trusted_ignoring_time);
    assert_eq!(a.trust.webpki_error.as_deref(), Some("UnknownIssuer"));
    assert!(a.completeness.complete && !a.completeness.reaches_trust_anchor);
    assert_eq!(a.completeness.path, vec![0, 1, 2]);

    // Same against the Mozilla set.
    let a = run(&chain, None, &TrustStore::mozilla());
    assert_eq!(a.trust.verdict, untrusted_root(2, "CN=Test Root,O=certinspect tests"));

    // A leaf issued directly by an untrusted root that is served.
    let direct = common::leaf(&["b.example.com"], &other);
    let a = run(&[direct, other.der()], None, &trust_of(&[&pki.root]));
    assert_eq!(a.trust.verdict, untrusted_root(1, "CN=Someone Else,O=certinspect tests"));
}

#[test]
fn omitted_intermediate_without_fetching_is_an_unknown_issuer() {
    // Without the missing certificate, a missing intermediate cannot be
    // told from an unknown CA: untrusted, naming the issuer to look for.
    let pki = pki();
    let leaf = leaf(&["a.example.com"], &pki.inter);
    let a = run(std::slice::from_ref(&leaf), None, &trust_of(&[&pki.root]));
    assert_eq!(
        a.trust.verdict,
        TrustVerdict::Untrusted {
            reason: UntrustedReason::UnknownIssuer {
                certificate: served_ref(0, "CN=a.example.com,O=certinspect tests"),
                issuer: "CN=Test Intermediate,O=certinspect tests".to_owned(),
            }
        }
    );
    assert!(!a.completeness.complete);
    assert_eq!(
        a.completeness.ends_at,
        ChainEnd::MissingIssuer { issuer: "CN=Test Intermediate,O=certinspect tests".to_owned() }
    );
    assert_eq!(a.expiry.earliest_verified, None);
    assert!(a.expiry.leaf.is_some());

    // Trusting the intermediate itself completes the leaf alone.
    let a = run(&[leaf], None, &trust_of(&[&pki.inter]));
    assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
    assert!(a.completeness.reaches_trust_anchor);
}

#[test]
fn out_of_order_chain_is_trusted_but_flagged() {
    let pki = pki();
    let leaf = leaf(&["a.example.com"], &pki.inter);
    let chain = vec![leaf, pki.root.der(), pki.inter.der()];
    let a = run(&chain, None, &trust_of(&[&pki.root]));
    assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
    assert_eq!(a.completeness.path, vec![0, 2]);
    assert!(!a.completeness.in_order);
    assert_eq!(a.completeness.unused, vec![1]);
}

#[test]
fn rsa_keys_and_chains() {
    let root = root("RSA Root", rsa4096());
    let der = sign(leaf_params("rsa.example.com", &["rsa.example.com"]), &rsa2048(), &root);
    let f = facts(&der);
    assert_eq!(f.key, KeyType::Rsa { bits: 2048 });
    assert_eq!(f.signature_algorithm.name, "sha256WithRSAEncryption");
    assert_eq!(f.signature_algorithm.oid, "1.2.840.113549.1.1.11");
    let root_facts = facts(&root.der());
    assert_eq!(root_facts.key, KeyType::Rsa { bits: 4096 });
    assert!(root_facts.self_signed);
    let a = run(&[der], Some("rsa.example.com"), &trust_of(&[&root]));
    assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
    assert!(a.weaknesses.is_empty());
}

#[test]
fn ecdsa_and_ed25519_keys() {
    let cases: Vec<(rcgen::KeyPair, KeyType, &str)> = vec![
        (p256(), KeyType::Ec { curve: EcCurve::P256 }, "ecdsa-with-SHA256"),
        (p384(), KeyType::Ec { curve: EcCurve::P384 }, "ecdsa-with-SHA384"),
        (ed25519(), KeyType::Ed25519, "ED25519"),
    ];
    for (key, want_key, want_sig) in cases {
        // Each key both signs (as root) and is certified (as leaf key).
        let root = root("Alg Root", key);
        let root_facts = facts(&root.der());
        assert_eq!(root_facts.key, want_key);
        assert_eq!(root_facts.signature_algorithm.name, want_sig);
        assert!(root_facts.self_signed, "{want_sig} root self-signed");
        let der = leaf(&["alg.example.com"], &root);
        assert_eq!(facts(&der).signature_algorithm.name, want_sig);
        let a = run(&[der], None, &trust_of(&[&root]));
        assert_eq!(a.trust.verdict, TrustVerdict::Trusted, "{want_sig}");
    }
}

#[test]
fn small_rsa_key_is_weak() {
    let pki = pki();
    let der = sign(leaf_params("weak.example.com", &["weak.example.com"]), &rsa1024_public(), &pki.inter);
    let f = facts(&der);
    assert_eq!(f.key, KeyType::Rsa { bits: 1024 });
    assert_eq!(weaknesses(&f), vec![WeaknessKind::RsaKeyTooSmall { bits: 1024 }]);
    let a = run(&[der, pki.inter.der()], None, &trust_of(&[&pki.root]));
    assert_eq!(a.weaknesses, vec![Weakness { index: 0, kind: WeaknessKind::RsaKeyTooSmall { bits: 1024 } }]);
}

/// Rewrites the sha256WithRSAEncryption OID (both the TBS and the outer
/// copy) to another PKCS#1 algorithm; ring cannot sign with SHA-1 or MD5,
/// so this is how a test gets such a certificate. The signature no longer
/// verifies, which the verdict must show too.
fn with_pkcs1_algorithm(der: &[u8], last_oid_byte: u8) -> Vec<u8> {
    let oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    let mut out = der.to_vec();
    let mut replaced = 0;
    let mut i = 0;
    while i + oid.len() <= out.len() {
        if out[i..i + oid.len()] == oid {
            out[i + oid.len() - 1] = last_oid_byte;
            replaced += 1;
            i += oid.len();
        } else {
            i += 1;
        }
    }
    assert_eq!(replaced, 2, "signature OID appears in TBS and outer");
    out
}

#[test]
fn sha1_and_md5_signatures_are_weak() {
    let root = root("RSA Root", rsa2048());
    let der = sign(leaf_params("old.example.com", &["old.example.com"]), &p256(), &root);
    for (byte, want, name) in [
        (0x05, WeaknessKind::Sha1Signature, "sha1WithRSAEncryption"),
        (0x04, WeaknessKind::Md5Signature, "md5WithRSAEncryption"),
    ] {
        let patched = with_pkcs1_algorithm(&der, byte);
        let f = facts(&patched);
        assert_eq!(f.signature_algorithm.name, name);
        assert_eq!(weaknesses(&f), vec![want.clone()]);
        let a = run(&[patched], None, &trust_of(&[&root]));
        assert_eq!(
            a.trust.verdict,
            TrustVerdict::Untrusted {
                reason: UntrustedReason::UnsupportedSignatureAlgorithm {
                    certificate: Some(served_ref(0, "CN=old.example.com,O=certinspect tests")),
                    algorithm: name.to_owned(),
                }
            }
        );
        assert_eq!(a.weaknesses, vec![Weakness { index: 0, kind: want }]);
    }
}

#[test]
fn fingerprints_are_digests_of_the_der() {
    use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256};
    let pki = pki();
    let mut ders = vec![pki.root.der(), pki.inter.der()];
    for i in 0..40 {
        let names = vec![format!("h{i}.example.org"); 1 + i % 5];
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        ders.push(leaf(&refs, &pki.inter));
    }
    for der in &ders {
        let f = facts(der);
        assert_eq!(f.sha1_fingerprint, hex(digest(&SHA1_FOR_LEGACY_USE_ONLY, der).as_ref()));
        assert_eq!(f.sha256_fingerprint, hex(digest(&SHA256, der).as_ref()));
        assert_eq!(f.sha1_fingerprint.len(), 40);
        assert_eq!(f.sha256_fingerprint.len(), 64);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn serial_keeps_der_octets() {
    let pki = pki();
    let mut params = leaf_params("s.example.com", &["s.example.com"]);
    params.serial_number = serial(&[0x00, 0x8f, 0x01, 0xab]);
    assert_eq!(facts(&sign(params, &p256(), &pki.inter)).serial_hex, "008f01ab");
    let mut params = leaf_params("s.example.com", &["s.example.com"]);
    params.serial_number = serial(&[0x7f, 0x01]);
    assert_eq!(facts(&sign(params, &p256(), &pki.inter)).serial_hex, "7f01");
}

#[test]
fn distinguished_names_are_rfc4514() {
    let pki = pki();
    let mut params = leaf_params("x", &["x.example.com"]);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CountryName, "DE");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Acme, Inc.");
    params.distinguished_name.push(rcgen::DnType::CommonName, "#weird+name");
    let f = facts(&sign(params, &p256(), &pki.inter));
    assert_eq!(f.subject, "CN=\\#weird\\+name,O=Acme\\, Inc.,C=DE");
}

#[test]
fn unparsable_certificates_are_reported_not_dropped() {
    let pki = pki();
    let leaf = leaf(&["a.example.com"], &pki.inter);
    let garbage = b"\x30\x03\x02\x01\x01".to_vec();
    let chain = vec![leaf, garbage.clone(), pki.inter.der()];
    let a = run(&chain, Some("a.example.com"), &trust_of(&[&pki.root]));
    assert_eq!(a.certificates.len(), 3);
    match &a.certificates[1] {
        ServedCertificate::Unparsable { sha256_fingerprint, .. } => {
            assert_eq!(sha256_fingerprint, &hex(ring::digest::digest(&ring::digest::SHA256, &garbage).as_ref()))
        }
        other => panic!("expected unparsable, got {other:?}"),
    }
    assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
    assert_eq!(a.completeness.unused, vec![1]);

    // Unparsable leaf: no leaf facts, no name match, verdict untrusted.
    let a = run(&[garbage], Some("a.example.com"), &trust_of(&[&pki.root]));
    assert!(matches!(
        a.trust.verdict,
        TrustVerdict::Untrusted { reason: UntrustedReason::Malformed { certificate: Some(ref c), .. } } if c.is_leaf()
    ));
    assert_eq!(a.expiry.leaf, None);
    assert_eq!(a.name_match, Some(NameMatch::NoMatch { reason: NoMatchReason::LeafUnparsable }));
    assert_eq!(a.completeness.ends_at, ChainEnd::Unparsable { index: 0 });

    let mut trailing = pki.inter.der();
    trailing.push(0);
    assert_eq!(parse_certificate(&trailing), Err(AnalysisError::Malformed(MalformedReason::TrailingData { bytes: 1 })));

    let a = run(&[], None, &trust_of(&[&pki.root]));
    assert_eq!(a.trust.verdict, TrustVerdict::Untrusted { reason: UntrustedReason::NoCertificates });
    assert_eq!(a.completeness.ends_at, ChainEnd::Empty);
}

#[test]
fn ca_certificate_as_leaf_is_invalid() {
    let pki = pki();
    let a = run(&[pki.inter.der()], None, &trust_of(&[&pki.root]));
    assert_eq!(
        a.trust.verdict,
        TrustVerdict::Untrusted {
            reason: UntrustedReason::CaCertificateAsLeaf {
                certificate: served_ref(0, "CN=Test Intermediate,O=certinspect tests")
            }
        }
    );
}

#[test]
fn trust_store_constructors() {
    let pki = pki();
    let mut pem = String::new();
    for ca in [&pki.root, &pki.inter] {
        pem.push_str(&ca.cert.pem());
    }
    pem.push_str(&pki.root.key.serialize_pem());
    let store = TrustStore::from_pem(pem.as_bytes()).expect("pem store");
    assert_eq!(store.len(), 2);

    assert!(matches!(TrustStore::from_pem(pki.root.key.serialize_pem().as_bytes()), Err(AnalysisError::Pem(_))));
    assert!(matches!(
        TrustStore::from_der(vec![pki.root.der(), b"junk".to_vec()]),
        Err(AnalysisError::InvalidTrustAnchor { index: 1, .. })
    ));
    let mozilla = TrustStore::mozilla();
    assert!(mozilla.len() > 100);
    let mut combined = TrustStore::mozilla();
    combined.extend(store);
    assert_eq!(combined.len(), mozilla.len() + 2);
    assert!(TrustStore::empty().is_empty());
}

#[test]
fn analyze_many_matches_sequential_in_input_order() {
    let pki = pki();
    let trust = trust_of(&[&pki.root]);
    let policy = Policy::default();
    let chains: Vec<Vec<Vec<u8>>> = (0..24)
        .map(|i| {
            let l = leaf(&[&format!("n{i}.example.com")], &pki.inter);
            if i % 3 == 0 {
                vec![l]
            } else {
                vec![l, pki.inter.der()]
            }
        })
        .collect();
    let hosts: Vec<String> = (0..24).map(|i| format!("n{}.example.com", i % 5)).collect();
    let inputs: Vec<AnalysisInput<'_>> = chains
        .iter()
        .zip(&hosts)
        .map(|(chain, host)| AnalysisInput::new(chain, &trust, NOW, &policy).with_host(Some(host)))
        .collect();
    let parallel = analyze_many(&inputs);
    let sequential: Vec<ChainAnalysis> = inputs.iter().map(analyze).collect();
    assert_eq!(parallel, sequential);
    assert!(matches!(
        parallel[3].trust.verdict,
        TrustVerdict::Untrusted { reason: UntrustedReason::UnknownIssuer { .. } }
    ));
    assert_eq!(parallel[4].trust.verdict, TrustVerdict::Trusted);
    assert!(parallel[2].name_match.as_ref().unwrap().is_match());
    assert!(!parallel[7].name_match.as_ref().unwrap().is_match());
}

#[test]
fn analysis_round_trips_through_json() {
    let pki = pki();
    let chain = vec![leaf(&["a.example.com", "192.0.2.1"], &pki.inter), pki.inter.der()];
    let a = run(&chain, Some("a.example.com"), &trust_of(&[&pki.root]));
    let json = serde_json::to_string(&a).unwrap();
    let back: ChainAnalysis = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["trust"]["verdict"]["status"], "trusted");
    assert_eq!(value["certificates"][0]["status"], "parsed");
    assert_eq!(value["certificates"][0]["key"]["curve"], "P-256");
    assert_eq!(value["name_match"]["outcome"], "matched");
}

#[test]
fn expired_and_unknown_issuer_reports_the_unknown_issuer() {
    // webpki refuses the expired leaf before looking for its issuer; the
    // verdict must still say what else is wrong.
    let pki = pki();
    let mut params = leaf_params("old.example.com", &["old.example.com"]);
    params.not_before = at(NOW - 100 * DAY);
    params.not_after = at(NOW - DAY);
    let der = sign(params, &p256(), &pki.inter);
    let a = run(std::slice::from_ref(&der), None, &trust_of(&[&pki.root]));
    assert!(matches!(
        &a.trust.verdict,
        TrustVerdict::Untrusted { reason: UntrustedReason::UnknownIssuer { issuer, .. } }
            if issuer == "CN=Test Intermediate,O=certinspect tests"
    ));
    assert_eq!(a.trust.webpki_error.as_deref(), Some("CertExpired"));
    assert_eq!(a.expiry.leaf.unwrap().state, ExpiryState::Expired);

    let a = run(&[der, pki.inter.der(), pki.root.der()], None, &TrustStore::empty());
    assert!(matches!(a.trust.verdict, TrustVerdict::Untrusted { reason: UntrustedReason::UntrustedRoot { .. } }));
}

#[test]
fn pem_bundles_with_comments_and_trusted_certificates() {
    let pki = pki();
    let trusted = {
        // OpenSSL "TRUSTED CERTIFICATE": the DER followed by trust settings.
        let mut der = pki.root.der();
        der.extend_from_slice(&[0x30, 0x03, 0x02, 0x01, 0x01]);
        let body = pem_base64(&der);
        format!("-----BEGIN TRUSTED CERTIFICATE-----\n{body}\n-----END TRUSTED CERTIFICATE-----\n")
    };
    let bundle = format!("# a bundle\n{}\n# Issuer: x\n{trusted}\n\n# trailing comment\n", pki.inter.cert.pem());
    let store = TrustStore::from_pem(bundle.as_bytes()).expect("bundle");
    assert_eq!(store.len(), 2);
    let chain = vec![leaf(&["a.example.com"], &pki.inter), pki.inter.der()];
    let a = run(&chain, None, &store);
    assert_eq!(a.trust.verdict, TrustVerdict::Trusted);
}

/// Minimal base64 (standard alphabet, padded, 64-column lines) so the test
/// needs no extra dependency.
fn pem_base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.as_bytes().chunks(64).map(|l| std::str::from_utf8(l).unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn self_signed_leaf_pinned_in_the_store_is_trusted() {
    // Some operators trust a self-signed server certificate directly.
    let key = p256();
    let der = leaf_params("pinned.example.com", &["pinned.example.com"]).self_signed(&key).unwrap().der().to_vec();
    let store = TrustStore::from_der(vec![der.clone()]).unwrap();
    let a = run(&[der], None, &store);
    assert_eq!(a.completeness.ends_at, ChainEnd::SelfSigned { index: 0, in_trust_store: true });
    assert!(a.completeness.reaches_trust_anchor);
    assert_eq!(a.trust.verdict, TrustVerdict::Trusted, "{:?}", a.trust.webpki_error);
}

#[test]
fn expiry_wording_never_counts_negative_days() {
    let hour = 3_600;
    let cases: [(i64, &str); 10] = [
        (11 * DAY, "expires in 11 days"),
        (11 * DAY + 23 * hour, "expires in 11 days"),
        (DAY, "expires in 1 day"),
        (5 * hour, "expires in 5 hours"),
        (hour, "expires in 1 hour"),
        (0, "expires in less than an hour"),
        (-1, "expired less than an hour ago"),
        (-hour, "expired 1 hour ago"),
        (-DAY, "expired 1 day ago"),
        (-11 * DAY - 5 * hour, "expired 11 days ago"),
    ];
    for (seconds, want) in cases {
        assert_eq!(describe_remaining(seconds), want, "{seconds} s");
        let fact = ExpiryFact::evaluate(
            ExpirySubject::Served { index: 1 },
            String::new(),
            NOW - 400 * DAY,
            NOW + seconds,
            NOW,
            &Policy::default(),
        );
        assert_eq!(fact.describe(), want, "{seconds} s through a fact");
    }
    let early = ExpiryFact::evaluate(
        ExpirySubject::Served { index: 0 },
        String::new(),
        NOW + 2 * DAY,
        NOW + 90 * DAY,
        NOW,
        &Policy::default(),
    );
    assert_eq!(early.describe(), "becomes valid in 2 days");

    // The case: an intermediate that expired 11 days ago.
    let root = root("Root", p256());
    let inter = intermediate_valid("Old Inter", p256(), &root, NOW - 400 * DAY, NOW - 11 * DAY);
    let chain = vec![leaf(&["a.example.com"], &inter), inter.der()];
    let a = run(&chain, None, &trust_of(&[&root]));
    let served = a.expiry.earliest_served.expect("served");
    assert_eq!(served.certificate, ExpirySubject::Served { index: 1 });
    assert_eq!(served.describe(), "expired 11 days ago");
    assert_eq!(
        a.trust.verdict,
        TrustVerdict::Expired { certificate: served_ref(1, "CN=Old Inter,O=certinspect tests") }
    );
}
