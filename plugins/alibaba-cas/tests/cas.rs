//! The CAS plugin against generated emulator worlds: the inventory (valid
//! and expired), auto-management, deployments, and revocation lookup.

use certinspect_test_support::alibaba::{self as support, Isolation};

use alibaba_emulator::{EmulatorConfig, FaultKind, FaultRule};
use certinspect_alibaba_cas::{AlibabaCasProvider, PLUGIN_NAME};
use certinspect_sdk::{static_module, RevocationState, Tristate};
use serde_json::json;

fn registry(isolation: Isolation) -> support::Plugins {
    support::registry(isolation, [static_module::<AlibabaCasProvider>()])
}

fn a_one_certificate_world_yields_its_one_certificate(isolation: Isolation) {
    let served = support::served_world(1, 31, &["cn-hangzhou"], false);
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({})));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cas(&served.world));
    assert_eq!(collected.bindings.len(), 1);
    let stats = served.emulator.stats();
    assert_eq!(stats.requests("GetUserCertificateDetail"), 0);
    assert_eq!(stats.key_material_returned, 0);
}

fn the_inventory_includes_expired_certificates_and_says_what_is_auto_managed(isolation: Isolation) {
    let served = support::served_world(120, 32, &["cn-hangzhou", "cn-shanghai"], true);
    // Two China regions share one CAS endpoint (and inventory): one scope.
    let config = served.config(json!({ "regions": ["cn-hangzhou", "cn-shanghai"], "page_size": 9 }));
    let source = support::open(&registry(isolation), PLUGIN_NAME, &config);
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(collected.stats[0].scopes, 1);
    assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cas(&served.world));

    let account = &served.world.accounts[0];
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (mut expired, mut exact, mut managed) = (0, 0, 0);
    for certificate in &account.cas.certificates {
        let binding = collected
            .bindings
            .iter()
            .find(|b| b.location.resource_id == certificate.certificate_id.to_string())
            .unwrap();
        let material = served.world.material(certificate.material.as_deref().unwrap()).unwrap();
        let declared = &binding.declared;
        assert_eq!(declared.serial.as_deref(), Some(material.serial.as_str()));
        assert_eq!(declared.fingerprint("sha1"), Some(material.sha1.as_str()));
        assert_eq!(declared.fingerprint("sha256"), Some(material.sha256.as_str()));
        assert_eq!(declared.common_name.as_deref(), Some(material.common_name.as_str()));
        assert_eq!(declared.sans, material.sans);
        let (nb, na) = (support::unix(&material.not_before), support::unix(&material.not_after));
        match binding.extra["validity_precision"].as_str().unwrap() {
            "second" => {
                exact += 1;
                assert_eq!((declared.not_before, declared.not_after), (Some(nb), Some(na)));
            }
            _ => {
                assert_eq!((declared.not_before, declared.not_after), (Some(nb - nb % 86_400), Some(na - na % 86_400)))
            }
        }
        if na < now {
            expired += 1;
            assert_eq!(declared.provider_status.as_deref(), Some("expired"), "{}", certificate.certificate_id);
        }
        let order = account
            .cas
            .orders
            .iter()
            .find(|o| !certificate.instance_id.is_empty() && o.instance_id == certificate.instance_id);
        let expected = match order {
            Some(order) if order.trustee || order.auto_reissue => Tristate::Yes,
            Some(_) => Tristate::No,
            None if certificate.upload => Tristate::No,
            None => Tristate::Unknown,
        };
        assert_eq!(declared.auto_managed, expected, "certificate {}", certificate.certificate_id);
        managed += usize::from(expected == Tristate::Yes);
        let deployed = account.cas.deployments.iter().filter(|d| d.cert_id == certificate.certificate_id).count();
        assert_eq!(binding.extra["deployments"].as_array().unwrap().len(), deployed);
        let kinds: Vec<&str> = binding.xrefs.iter().map(|x| x.kind.as_str()).collect();
        assert!(kinds.starts_with(&["cas-certificate-id", "cas-certificate-name"]), "{kinds:?}");
        assert!(binding.location.endpoint.is_none() && binding.location.not_probeable.is_none());
    }
    assert!(expired >= 20 && exact >= 20 && managed >= 10, "expired {expired}, exact {exact}, managed {managed}");

    // The renewed auto-managed certificate: CAS still deploys the old one.
    let drift = served.world.manifest.iter().find(|d| d.kind == "auto_managed_not_deployed").unwrap();
    let (old, renewed) = (drift.cas_certificate_ids[0].to_string(), drift.cas_certificate_ids[1].to_string());
    let find = |id: &str| collected.bindings.iter().find(|b| b.location.resource_id == id).unwrap();
    assert_eq!(find(&old).extra["superseded_by"], json!(drift.cas_certificate_ids[1]));
    assert_eq!(find(&old).extra["deployed"], json!(true));
    assert_eq!(find(&renewed).extra["deployed"], json!(false));
    assert_eq!(find(&old).declared.auto_managed, Tristate::Yes);
    assert!(find(&renewed).declared.not_before > find(&old).declared.not_before);
    let names = |id: &str| (find(id).declared.common_name.clone(), find(id).declared.sans.clone());
    assert_eq!(names(&old), names(&renewed));

    let stats = served.emulator.stats();
    assert_eq!(stats.requests("GetUserCertificateDetail"), 0);
    assert_eq!(stats.key_material_returned, 0);
    support::assert_within_qps(&stats, &[]);
}

fn either_auto_management_source_alone_gives_the_same_answer(isolation: Isolation) {
    let served = support::served_world(40, 33, &["cn-hangzhou"], false);
    let answers = |sources: serde_json::Value| {
        let source = support::open(
            &registry(isolation),
            PLUGIN_NAME,
            &served.config(json!({ "auto_managed_sources": sources })),
        );
        let collected = support::collect_all(&[source]);
        assert!(collected.errors.is_empty(), "{:?}", collected.errors);
        let mut out: Vec<(String, Tristate)> =
            collected.bindings.iter().map(|b| (b.location.resource_id.clone(), b.declared.auto_managed)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    };
    let orders = answers(json!(["orders"]));
    assert_eq!(orders, answers(json!(["instances"])));
    assert!(orders.iter().any(|(_, m)| *m == Tristate::Yes) && orders.iter().any(|(_, m)| *m == Tristate::No));
}

fn revocation_lookup_answers_good_revoked_and_unknown_in_batches(isolation: Isolation) {
    let served = support::served_world(30, 34, &["cn-hangzhou"], true);
    let source =
        support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "revocation_batch_size": 2 })));
    let pca = &served.world.accounts[0].pca;
    let revoked = pca.iter().find(|p| p.status == "revoked").unwrap();
    let good: Vec<&str> = pca.iter().filter(|p| p.status == "good").take(3).map(|p| p.serial_number.as_str()).collect();
    let mut serials: Vec<String> = good.iter().map(|s| s.to_uppercase()).collect();
    serials.push(revoked.serial_number.clone());
    serials.push("0abcdef0123456789".into());
    serials.push("not-hex".into());
    let before = served.emulator.stats().requests("DescribeClientCertificateStatusForSerialNumber");
    let answers = source.lookup_revocation(&serials).unwrap();
    let calls = served.emulator.stats().requests("DescribeClientCertificateStatusForSerialNumber") - before;
    assert_eq!(calls, 3, "five askable serials in batches of two");
    assert_eq!(answers.len(), serials.len());
    for (answer, serial) in answers.iter().zip(&serials) {
        assert_eq!(&answer.serial, serial, "answers keep the order and spelling asked");
    }
    assert!(answers[..3].iter().all(|a| a.status == RevocationState::Good && a.revoked_at.is_none()));
    assert_eq!(answers[3].status, RevocationState::Revoked);
    assert_eq!(answers[3].revoked_at, Some(revoked.revoke_time.unwrap() / 1000));
    assert_eq!(answers[4].status, RevocationState::Unknown);
    assert_eq!(answers[5].status, RevocationState::Unknown);
    assert!(source.lookup_revocation(&[]).unwrap().is_empty());
}

fn throttling_storms_and_5xx_lose_no_certificate(isolation: Isolation) {
    let (dir, world) = support::world(80, 35, &["cn-hangzhou"], true);
    let config = EmulatorConfig {
        faults: vec![
            FaultRule {
                action: None,
                kind: FaultKind::Throttling,
                probability: Some(0.25),
                every_nth: None,
                count: None,
            },
            FaultRule {
                action: None,
                kind: FaultKind::InternalError,
                probability: None,
                every_nth: Some(7),
                count: None,
            },
            FaultRule {
                action: None,
                kind: FaultKind::TruncatedBody,
                probability: None,
                every_nth: Some(11),
                count: None,
            },
        ],
        fault_seed: 5,
        ..EmulatorConfig::default()
    };
    let served = support::serve(dir, world, config);
    let source = support::open(
        &registry(isolation),
        PLUGIN_NAME,
        &served.config(json!({ "page_size": 10, "max_attempts": 10 })),
    );
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cas(&served.world));
    assert!(served.emulator.stats().faults_injected >= 10);
}

/// Order rows carry no `CertificateId` (the SDK documents it only for CERT and
/// UPLOAD rows): renewals and trustee state are linked by `InstanceId`, so
/// reading auto-management from the orders alone still finds them.
fn orders_alone_still_link_renewals_by_instance(isolation: Isolation) {
    let served = support::served_world(120, 32, &["cn-hangzhou"], true);
    let config = served.config(json!({ "auto_managed_sources": ["orders"] }));
    let collected = support::collect_all(&[support::open(&registry(isolation), PLUGIN_NAME, &config)]);
    support::assert_complete(&collected);
    let drift = served.world.manifest.iter().find(|d| d.kind == "auto_managed_not_deployed").unwrap();
    let old = drift.cas_certificate_ids[0].to_string();
    let binding = collected.bindings.iter().find(|b| b.location.resource_id == old).unwrap();
    assert_eq!(binding.extra["superseded_by"], json!(drift.cas_certificate_ids[1]));
    assert_eq!(binding.declared.auto_managed, Tristate::Yes);
}

/// CAS's `Fingerprint` is classified by its length, not assumed to be SHA-1.
fn fingerprints_are_classified_by_length(isolation: Isolation) {
    let (dir, mut world) = support::world(10, 34, &["cn-hangzhou"], false);
    let certificate = &mut world.accounts[0].cas.certificates[0];
    certificate.fingerprint = certificate.sha2.clone();
    let (id, sha256) = (certificate.certificate_id.to_string(), certificate.sha2.to_ascii_lowercase());
    let served = support::serve(dir, world, alibaba_emulator::EmulatorConfig::default());
    let collected =
        support::collect_all(&[support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({})))]);
    support::assert_complete(&collected);
    let binding = collected.bindings.iter().find(|b| b.location.resource_id == id).unwrap();
    assert_eq!(binding.declared.fingerprint("sha1"), None, "{:?}", binding.declared.fingerprints);
    assert_eq!(binding.declared.fingerprint("sha256"), Some(sha256.as_str()));
}

/// Deployments on products without a plugin of their own (here WAF and API
/// Gateway) are probeable bindings of the CAS plugin: `Domain:ListenerPort`,
/// SNI = the domain, declaring the deployed certificate; HTTPS off is said,
/// not probed; CDN/SLB rows are left to their plugins unless asked for.
fn deployments_on_products_without_a_plugin_are_probeable_bindings(isolation: Isolation) {
    use alibaba_emulator::world::CloudResource;
    let (dir, mut world) = support::world(12, 35, &["cn-hangzhou"], false);
    let cas = &mut world.accounts[0].cas;
    let certificate = cas.certificates[0].certificate_id;
    let row = |id: i64, product: &str, domain: &str, port: &str, https: i32| CloudResource {
        id,
        cert_id: certificate,
        cert_name: "deployed".into(),
        cloud_name: "aliyun".into(),
        cloud_product: product.into(),
        region_id: "cn-hangzhou".into(),
        domain: domain.into(),
        instance_id: format!("{}-{id}", product.to_ascii_lowercase()),
        listener_port: port.into(),
        enable_https: https,
        status: "normal".into(),
        ..CloudResource::default()
    };
    cas.deployments.push(row(9001, "WAF", "shop.example.test", "8443", 1));
    cas.deployments.push(row(9002, "APIGateway", "api.example.test", "", 0));
    let served = support::serve(dir, world, EmulatorConfig::default());

    let collected =
        support::collect_all(&[support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({})))]);
    support::assert_complete(&collected);
    let deployed: Vec<_> = collected.bindings.iter().filter(|b| b.extra["source"] == "ListCloudResources").collect();
    assert_eq!(deployed.len(), 2, "{:?}", deployed.iter().map(|b| &b.location).collect::<Vec<_>>());
    let waf = deployed.iter().find(|b| b.location.service == "waf").unwrap();
    let endpoint = waf.location.endpoint.as_ref().unwrap();
    assert_eq!(
        (endpoint.host.as_str(), endpoint.port, endpoint.sni.as_deref()),
        ("shop.example.test", 8443, Some("shop.example.test"))
    );
    assert_eq!(waf.declared.provider_id, Some(certificate.to_string()));
    assert_eq!(waf.xrefs[0].value, certificate.to_string());
    let gateway = deployed.iter().find(|b| b.location.service == "apigateway").unwrap();
    assert!(gateway.location.not_probeable.as_deref().unwrap().contains("HTTPS is off"));

    let all = support::collect_all(&[support::open(
        &registry(isolation),
        PLUGIN_NAME,
        &served.config(json!({ "deployment_bindings": "all" })),
    )]);
    let every = all.bindings.iter().filter(|b| b.extra["source"] == "ListCloudResources").count();
    let rows_with_domains = served.world.accounts[0].cas.deployments.iter().filter(|d| !d.domain.is_empty()).count();
    assert!(rows_with_domains > 2, "the generated world has CDN/SLB deployments too");
    assert_eq!(every, rows_with_domains, "all: every row with a domain");
}

/// The lists of different APIs page side by side, each within its own
/// 10 QPS: certificate pages interleave with the cloud-resource and
/// instance pages (not one list after the other); the emulator, which enforces the
/// limits, throttles next to nothing (and what it throttles is retried);
/// every certificate arrives exactly once, with its deployments.
fn lists_of_different_apis_page_side_by_side_within_their_limits(isolation: Isolation) {
    let served = support::served_world(300, 21, &["cn-hangzhou"], true);
    let settings = json!({ "page_size": 10, "auto_managed_sources": ["instances"] });
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(settings));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cas(&served.world));
    for deployment in &served.world.accounts[0].cas.deployments {
        let id = deployment.cert_id.to_string();
        let binding = collected.bindings.iter().find(|b| b.location.resource_id == id).unwrap();
        assert!(!binding.extra["deployments"].as_array().unwrap().is_empty(), "{id}: deployments known");
    }

    let stats = served.emulator.stats();
    let answered = |action: &str| -> Vec<u64> {
        stats.requests.iter().filter(|r| r.action == action && r.status == 200).map(|r| r.seq).collect()
    };
    let (certificates, resources, instances) =
        (answered("ListUserCertificateOrder"), answered("ListCloudResources"), answered("ListInstances"));
    assert!(resources.len() > 10 && instances.len() > 10, "{} {}", resources.len(), instances.len());
    assert!(certificates.first() < resources.last() && certificates.first() < instances.last(), "side by side");
    support::assert_within_qps(&stats, &[]);
}

certinspect_test_support::under_both_isolations!(
    a_one_certificate_world_yields_its_one_certificate,
    the_inventory_includes_expired_certificates_and_says_what_is_auto_managed,
    either_auto_management_source_alone_gives_the_same_answer,
    revocation_lookup_answers_good_revoked_and_unknown_in_batches,
    throttling_storms_and_5xx_lose_no_certificate,
    orders_alone_still_link_renewals_by_instance,
    fingerprints_are_classified_by_length,
    deployments_on_products_without_a_plugin_are_probeable_bindings,
    lists_of_different_apis_page_side_by_side_within_their_limits,
);
