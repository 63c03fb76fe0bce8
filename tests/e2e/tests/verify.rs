//! The verification engine against real TLS servers on 127.0.0.1 serving
//! certificates generated at test time: one case per verdict and the main
//! findings.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use certinspect_analysis::TrustStore;
use certinspect_core::findings::Finding;
use certinspect_core::findings::FindingCode;
use certinspect_core::host::{CancelFlag, Host, HttpTransport, TransportConfig};
use certinspect_core::plugins::PluginRegistry;
use certinspect_core::reconcile::{IdentityBasis, Verdict};
use certinspect_core::report::{ChainAnalysis, Detail, ObservationResult, Report, SubjectAltName};
use certinspect_core::verify::{verify_observed, ConnectTo, NoObserver, VerifyInput, VerifyObserver, VerifyOptions};
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

/// Run the engine over the world with `detail`, telling `observer`; with
/// `keep_results` off, as a streaming output does.
fn run_with(detail: Detail, keep_results: bool, observer: &mut dyn VerifyObserver) -> World {
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
    options.detail = detail;
    options.keep_results = keep_results;
    let input = VerifyInput::bindings(bindings).with_revocation_sources(vec![revocation_source]);
    let report = verify_observed(input, &options, observer);
    drop(farm);
    World { report, serials: vec![revoked_serial] }
}

fn run() -> World {
    run_with(Detail::Summary, true, &mut NoObserver)
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

#[test]
fn the_summary_names_the_served_leaf_without_the_full_analysis() {
    let World { report, .. } = run();
    assert!(report.chains.is_empty(), "the full analysis is opt-in");
    let good = result_of(&report, "good.test");
    assert_eq!((good.chain, &good.name_match), (None, &None));
    let served = good.served.as_ref().unwrap();
    assert_eq!(served.common_name.as_deref(), Some("good.test"));
    assert_eq!(served.sans, [SubjectAltName::Dns("good.test".into())]);
    // Findings still say which certificate and why.
    let index = report.bindings.iter().position(|b| b.binding.location.resource_id == "wrong.test").unwrap();
    let mismatch = report.findings.iter().find(|f| f.binding == Some(index)).unwrap();
    assert_eq!(mismatch.code, FindingCode::NameMismatch);
    assert!(mismatch.message.contains("not valid for 'wrong.test'"), "{}", mismatch.message);
    let evidence = mismatch.evidence.to_value().to_string();
    let served = result_of(&report, "wrong.test").served.as_ref().unwrap();
    assert!(evidence.contains(&served.sha256), "the evidence names the served certificate: {evidence}");
    assert!(evidence.contains("somewhere-else.test"), "and the names it has: {evidence}");
    let trust = report.trust_store.as_ref().unwrap();
    assert_eq!((trust.base.as_str(), trust.roots), ("mozilla", VerifyOptions::default().trust.len()));
}

/// Records what a streamed run hands its observer.
#[derive(Default)]
struct Streamed {
    /// Chain numbers, in the order they came.
    chains: Vec<usize>,
    /// For each result, the chains announced before it and its own.
    results: Vec<(usize, Option<usize>, Option<String>)>,
}

impl VerifyObserver for Streamed {
    fn chain(&mut self, index: usize, _analysis: &ChainAnalysis) {
        self.chains.push(index);
    }
    fn result(&mut self, _index: usize, _binding: &Binding, result: &ObservationResult, _findings: &[Finding]) {
        let sha256 = result.served.as_ref().map(|s| s.sha256.clone());
        self.results.push((self.chains.len(), result.chain, sha256));
    }
}

#[test]
fn full_detail_stores_each_distinct_chain_once_kept_or_streamed() {
    let World { report, .. } = run_with(Detail::Full, true, &mut NoObserver);
    let results: Vec<&ObservationResult> = report.bindings.iter().flat_map(|b| &b.results).collect();
    let served: Vec<&ObservationResult> = results.iter().copied().filter(|r| r.served.is_some()).collect();
    // Eight TLS endpoints, each its own chain; down.test (declared like
    // good.test) and plain.test serve none.
    assert_eq!(served.len(), 8);
    assert_eq!(report.chains.len(), 8);
    for result in &served {
        let chain = &report.chains[result.chain.expect("a served chain is referenced")];
        let leaf = chain.certificates[0].sha256_fingerprint();
        assert_eq!(leaf, result.served.as_ref().unwrap().sha256);
        assert_eq!(chain.name_match, None, "the name is matched per result");
        assert!(result.name_match.is_some());
    }
    // Numbered in report order.
    let order: Vec<usize> = served.iter().filter_map(|r| r.chain).collect();
    assert_eq!(order, (0..8).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.served.is_none()).all(|r| r.chain.is_none()));
    // Kept in the report, the same facts as the summary run.
    let summary_run = run();
    assert_eq!(summary_run.report.findings.len(), report.findings.len());

    // Streamed: each chain once, before the first result that refers to it,
    // and nothing kept in the report.
    let mut streamed = Streamed::default();
    let World { report, .. } = run_with(Detail::Full, false, &mut streamed);
    assert!(report.chains.is_empty() && report.bindings.is_empty(), "a streamed run keeps no bindings");
    assert_eq!(report.summary.bindings, 10);
    assert_eq!(streamed.results.len(), report.summary.results);
    assert_eq!(streamed.chains, (0..8).collect::<Vec<_>>(), "each chain once, numbered as it comes");
    for (announced, chain, sha256) in &streamed.results {
        assert_eq!(chain.is_some(), sha256.is_some());
        if let Some(chain) = chain {
            assert!(chain < announced, "chain {chain} came after its result");
        }
    }
}
