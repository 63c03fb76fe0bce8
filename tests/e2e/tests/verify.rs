//! The verification engine against real TLS servers on 127.0.0.1 serving
//! certificates generated at test time: one case per verdict and the main
//! findings.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use certinspect_analysis::TrustStore;
use certinspect_core::findings::FindingCode;
use certinspect_core::host::{CancelFlag, Host, HttpTransport, TransportConfig};
use certinspect_core::plugins::PluginRegistry;
use certinspect_core::reconcile::{IdentityBasis, Verdict};
use certinspect_core::report::Report;
use certinspect_core::verify::{verify, ConnectTo, VerifyInput, VerifyOptions};
use certinspect_protocol::{Binding, DeclaredCertificate, Endpoint, Location};
use certinspect_tls_farm::pki::{self_signed, Issued, TestCa, Validity};
use certinspect_tls_farm::{EndpointMode, EndpointSpec, Farm, FarmSpec, TlsEndpoint};

fn facts(issued: &Issued) -> certinspect_analysis::CertificateFacts {
    certinspect_analysis::parse_certificate(issued.leaf()).unwrap()
}

/// A binding for `name` on port 443 as a provider would declare it, with `declared`'s identity.
fn binding(name: &str, declared: Option<&Issued>) -> Binding {
    let declared = declared.map(facts).map(|f| {
        let mut declared = DeclaredCertificate::default()
            .with_serial(f.serial_hex.clone())
            .with_fingerprint("sha256", &f.sha256_fingerprint)
            .with_validity(f.not_before, f.not_after);
        declared.common_name = f.subject_common_names.first().cloned();
        declared
    });
    let mut location = Location::new("cdn", name).with_endpoint(Endpoint::new(name, 443).with_sni(name));
    location.plugin = "test".into();
    Binding::new(location, declared.unwrap_or_default())
}

struct World {
    report: Report,
    serials: Vec<String>,
}

fn run() -> World {
    let ca = TestCa::new("certinspect test CA").unwrap();
    let good = ca.issue(&["good.test"], Validity::around_now(1, 200)).unwrap();
    let old = ca.issue(&["stale.test"], Validity::around_now(300, 60)).unwrap();
    let renewed = ca.issue(&["stale.test"], Validity::around_now(1, 365)).unwrap();
    let stranger = ca.issue(&["other.test"], Validity::around_now(1, 200)).unwrap();
    let declared_foreign = ca.issue(&["foreign.test"], Validity::around_now(1, 200)).unwrap();
    let expired = ca.issue(&["expired.test"], Validity::expired(3)).unwrap();
    let expiring = ca.issue(&["soon.test"], Validity::around_now(80, 5)).unwrap();
    let wrong_name = ca.issue(&["somewhere-else.test"], Validity::around_now(1, 200)).unwrap();
    let untrusted = self_signed(&["selfsigned.test"], Validity::around_now(1, 200)).unwrap();
    let revoked = ca.issue(&["revoked.test"], Validity::around_now(1, 200)).unwrap();

    let tls =
        |name: &str, issued: &Issued| EndpointSpec::new(name, EndpointMode::Tls(TlsEndpoint::single(issued.source())));
    let farm = Farm::start(FarmSpec {
        endpoints: vec![
            tls("good", &good),
            tls("stale", &old),
            tls("foreign", &stranger),
            tls("expired", &expired),
            tls("soon", &expiring),
            tls("wrong-name", &wrong_name),
            tls("selfsigned", &untrusted),
            tls("revoked", &revoked),
            EndpointSpec::new("plain", EndpointMode::PlainHttp),
        ],
        ..FarmSpec::default()
    })
    .unwrap();
    let closed_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let cases: Vec<(&str, &str, Option<&Issued>)> = vec![
        ("good.test", "good", Some(&good)),
        ("stale.test", "stale", Some(&renewed)),
        ("foreign.test", "foreign", Some(&declared_foreign)),
        ("expired.test", "expired", Some(&expired)),
        ("soon.test", "soon", Some(&expiring)),
        ("wrong.test", "wrong-name", Some(&wrong_name)),
        ("selfsigned.test", "selfsigned", Some(&untrusted)),
        ("revoked.test", "revoked", Some(&revoked)),
        ("plain.test", "plain", None),
    ];
    let mut connect_to: Vec<ConnectTo> =
        cases.iter().map(|(name, endpoint, _)| ConnectTo::new(name, 443, farm.addr(endpoint).unwrap())).collect();
    connect_to.push(ConnectTo::new("down.test", 443, closed_port));
    let mut bindings: Vec<Binding> = cases.iter().map(|(name, _, declared)| binding(name, *declared)).collect();
    bindings.push(binding("down.test", Some(&good)));

    // Revocation comes from a plugin offering the capability.
    let revoked_serial = facts(&revoked).serial_hex;
    let mut registry = PluginRegistry::new();
    registry.add_static(certinspect_sdk::static_module::<static_provider_beta::Beta>());
    let host = Host::new(HttpTransport::new(TransportConfig::default()).unwrap(), CancelFlag::default());
    let revocation_source = Arc::new(
        registry
            .get("test-beta")
            .unwrap()
            .open(&serde_json::json!({ "revoked": [revoked_serial] }), host.for_plugin("test-beta"))
            .unwrap(),
    );

    let mut options = VerifyOptions::default();
    options.trust = Arc::new(TrustStore::from_der(vec![ca.der().to_vec()]).unwrap());
    options.connect_to = connect_to;
    options.probe.connect_timeout = Duration::from_secs(2);
    options.probe.handshake_timeout = Duration::from_secs(3);
    let report = verify(VerifyInput::bindings(bindings).with_revocation_sources(vec![revocation_source]), &options);
    drop(farm);
    World { report, serials: vec![revoked_serial] }
}

fn result_of<'r>(report: &'r Report, name: &str) -> &'r certinspect_core::report::ObservationResult {
    let binding = report.bindings.iter().find(|b| b.binding.location.resource_id == name).unwrap();
    assert_eq!(binding.results.len(), 1, "{name}: {:?}", binding.results);
    &binding.results[0]
}

fn codes_for(report: &Report, name: &str) -> Vec<FindingCode> {
    let index = report.bindings.iter().position(|b| b.binding.location.resource_id == name).unwrap();
    let mut codes: Vec<FindingCode> =
        report.findings.iter().filter(|f| f.binding == Some(index)).map(|f| f.code).collect();
    codes.sort_by_key(|c| c.as_str());
    codes
}

#[test]
fn verdicts_and_findings_against_real_tls_servers() {
    let World { report, serials } = run();
    let verdict = |name: &str| result_of(&report, name).verdict;

    assert_eq!(verdict("good.test"), Verdict::Match);
    assert_eq!(result_of(&report, "good.test").basis, IdentityBasis::Sha256);
    assert!(codes_for(&report, "good.test").is_empty(), "{:?}", codes_for(&report, "good.test"));

    assert_eq!(verdict("stale.test"), Verdict::Stale);
    assert_eq!(codes_for(&report, "stale.test"), [FindingCode::StaleCertificate]);

    assert_eq!(verdict("foreign.test"), Verdict::Foreign);
    assert!(codes_for(&report, "foreign.test").contains(&FindingCode::ServedNotDeclared));
    assert!(codes_for(&report, "foreign.test").contains(&FindingCode::NameMismatch));

    assert_eq!(verdict("expired.test"), Verdict::Match);
    assert_eq!(codes_for(&report, "expired.test"), [FindingCode::CertExpired]);

    assert_eq!(codes_for(&report, "soon.test"), [FindingCode::CertExpiring]);
    assert_eq!(codes_for(&report, "wrong.test"), [FindingCode::NameMismatch]);
    assert_eq!(codes_for(&report, "selfsigned.test"), [FindingCode::Untrusted]);

    assert_eq!(codes_for(&report, "revoked.test"), [FindingCode::Revoked]);
    let revocation = result_of(&report, "revoked.test").revocation.as_ref().unwrap();
    assert_eq!(revocation.serial, serials[0]);
    assert_eq!(revocation.answer.source.as_deref(), Some("test-beta"));

    assert_eq!(verdict("plain.test"), Verdict::NoTls);
    assert_eq!(codes_for(&report, "plain.test"), [FindingCode::NoTls]);
    assert_eq!(verdict("down.test"), Verdict::Unreachable);
    assert_eq!(codes_for(&report, "down.test"), [FindingCode::Unreachable]);

    // Totals add up.
    assert_eq!(report.summary.bindings, 10);
    assert_eq!(report.summary.results, 10);
    assert_eq!(report.summary.verdicts.values().sum::<usize>(), 10);
    assert_eq!(report.summary.findings.values().sum::<usize>(), report.findings.len());
    // Most severe first.
    assert!(report.findings.windows(2).all(|w| w[0].severity <= w[1].severity));
    // The report round-trips through its JSON form.
    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}
