//! The CDN plugin against generated emulator worlds, paged the way the host
//! pages (scopes, then `list_page` until no cursor).

use certinspect_test_support::alibaba::{self as support, Isolation};

use alibaba_emulator::{EmulatorConfig, FaultKind, FaultRule};
use certinspect_alibaba_cdn::{AlibabaCdnProvider, PLUGIN_NAME};
use certinspect_sdk::static_module;
use serde_json::json;

fn registry(isolation: Isolation) -> support::Plugins {
    support::registry(isolation, [static_module::<AlibabaCdnProvider>()])
}

fn a_one_certificate_world_yields_its_one_domain(isolation: Isolation) {
    let served = support::served_world(1, 11, &["cn-hangzhou"], false);
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({})));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cdn(&served.world));
    assert_eq!(collected.bindings.len(), 1);
    let binding = &collected.bindings[0];
    let endpoint = binding.location.endpoint.as_ref().expect("a CDN domain is probeable");
    assert_eq!((endpoint.host.as_str(), endpoint.port), (binding.location.resource_id.as_str(), 443));
    assert_eq!(endpoint.sni.as_deref(), Some(binding.location.resource_id.as_str()));
    assert_eq!(served.emulator.stats().key_material_returned, 0);
}

fn dates_agree_with_the_generator_in_china_time_and_ids_link_to_cas(isolation: Isolation) {
    let served = support::served_world(60, 12, &["cn-hangzhou", "cn-beijing"], true);
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "page_size": 7 })));
    let collected = support::collect_all(&[source]);
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cdn(&served.world));
    assert_eq!(collected.stats[0].pages, served.world.accounts[0].cdn_domains.len().div_ceil(7));
    let mut types = std::collections::BTreeSet::new();
    for domain in &served.world.accounts[0].cdn_domains {
        let binding = collected.bindings.iter().find(|b| b.location.resource_id == domain.domain_name).unwrap();
        let material = served.world.material(domain.material.as_deref().unwrap()).unwrap();
        // The generator writes UTC+8 wall-clock strings; read back, they are the certificate's instants.
        assert_eq!(binding.declared.not_before, Some(support::unix(&material.not_before)), "{}", domain.domain_name);
        assert_eq!(binding.declared.not_after, Some(support::unix(&material.not_after)), "{}", domain.domain_name);
        assert_eq!(binding.declared.provider_status.as_deref(), Some(domain.cert_status.as_str()));
        assert_eq!(binding.declared.name.as_deref(), Some(domain.cert_name.as_str()));
        assert_eq!(binding.extra["cert_type"], json!(domain.cert_type));
        let xref: Vec<(&str, &str)> = binding.xrefs.iter().map(|x| (x.kind.as_str(), x.value.as_str())).collect();
        if let Some(id) = domain.cas_certificate_id {
            // DescribeDomainCertificateInfo names the CAS certificate (bought or uploaded) by id.
            assert_eq!(xref, [("cas-certificate-id", id.to_string().as_str())]);
        } else {
            assert!(xref.is_empty(), "{xref:?}");
        }
        types.insert(domain.cert_type.clone());
    }
    assert_eq!(types.len(), 3, "the world should have free, cas and upload certificates: {types:?}");

    // Read as UTC instead, every instant moves by the eight hours.
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "cdn_time_zone": "UTC" })));
    let utc = support::collect_all(&[source]);
    for (china, utc) in collected.bindings.iter().zip(&utc.bindings) {
        assert_eq!(utc.declared.not_after.unwrap() - china.declared.not_after.unwrap(), 8 * 3600);
    }
}

fn wildcard_domains_are_reported_and_probed_only_under_the_configured_label(isolation: Isolation) {
    let (dir, mut world) = support::world(9, 13, &["cn-hangzhou"], false);
    world.accounts[0].cdn_domains[0].domain_name = "*.wild.certinspect.test".into();
    let served = support::serve(dir, world, EmulatorConfig::default());

    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({})));
    let collected = support::collect_all(&[source]);
    assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cdn(&served.world));
    let wildcard = collected.bindings.iter().find(|b| b.location.resource_id == "*.wild.certinspect.test").unwrap();
    assert!(wildcard.location.endpoint.is_none());
    assert!(wildcard.location.not_probeable.as_deref().unwrap().contains("wildcard_probe_label"));

    let source =
        support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "wildcard_probe_label": "www" })));
    let collected = support::collect_all(&[source]);
    let wildcard = collected.bindings.iter().find(|b| b.location.resource_id == "*.wild.certinspect.test").unwrap();
    let endpoint = wildcard.location.endpoint.as_ref().expect("probed under the label");
    assert_eq!(endpoint.host, "www.wild.certinspect.test");
    assert_eq!(endpoint.sni.as_deref(), Some("www.wild.certinspect.test"));
    assert!(wildcard.location.not_probeable.is_none());
}

fn throttling_storms_5xx_and_truncated_bodies_lose_no_domain(isolation: Isolation) {
    let (dir, world) = support::world(300, 14, &["cn-hangzhou"], false);
    let action = Some("DescribeCdnHttpsDomainList".to_owned());
    let rule = |kind, every_nth| FaultRule {
        action: action.clone(),
        kind,
        probability: None,
        every_nth: Some(every_nth),
        count: None,
    };
    let config = EmulatorConfig {
        faults: vec![
            FaultRule { probability: Some(0.25), every_nth: None, ..rule(FaultKind::Throttling, 1) },
            rule(FaultKind::InternalError, 5),
            rule(FaultKind::TruncatedBody, 6),
            rule(FaultKind::ServiceUnavailable, 7),
            rule(FaultKind::MalformedJson, 11),
            rule(FaultKind::HtmlErrorPage, 13),
        ],
        fault_seed: 7,
        ..EmulatorConfig::default()
    };
    let served = support::serve(dir, world, config);
    let source = support::open(
        &registry(isolation),
        PLUGIN_NAME,
        &served.config(json!({ "page_size": 10, "max_attempts": 10 })),
    );
    let collected = support::collect_all(&[source]);
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cdn(&served.world));
    let stats = served.emulator.stats();
    assert!(stats.faults_injected >= 5, "the storm did happen: {} faults", stats.faults_injected);
    assert_eq!(stats.key_material_returned, 0);
}

fn a_fault_that_outlasts_the_retries_is_an_error_that_says_what_was_lost(isolation: Isolation) {
    let (dir, world) = support::world(90, 15, &["cn-hangzhou"], false);
    let served = support::serve(dir, world, EmulatorConfig::default());
    let source =
        support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "page_size": 10, "max_attempts": 2 })));
    // The first page is served; from the second on the service keeps failing.
    let first = source.list_page("global", None).unwrap();
    served.emulator.set_faults(vec![FaultRule::always(Some("DescribeCdnHttpsDomainList"), FaultKind::InternalError)]);
    let error = source.list_page("global", first.next_cursor.as_deref()).unwrap_err();
    let expected_total = served.world.accounts[0].cdn_domains.len();
    assert_eq!(first.bindings.len(), 10);
    assert!(error.error.message.contains("page 2"), "{}", error.error.message);
    assert!(
        error.error.message.contains(&format!("{} of {expected_total} rows not listed", expected_total - 10)),
        "{}",
        error.error.message
    );
    assert_eq!(error.error.kind, certinspect_sdk::error_kind::SERVICE);
}

fn domains_join_cas_by_certificate_id_not_by_name_and_say_when_https_is_off(isolation: Isolation) {
    let (dir, mut world) = support::world(40, 14, &["cn-hangzhou"], false);
    let domains = &mut world.accounts[0].cdn_domains;
    let cas: Vec<usize> = (0..domains.len()).filter(|i| domains[*i].cas_certificate_id.is_some()).collect();
    assert!(cas.len() >= 3, "the world has CAS-backed domains");
    // Names are not unique in CAS: two domains on different certificates of one name.
    let shared_name = domains[cas[0]].cert_name.clone();
    domains[cas[1]].cert_name = shared_name.clone();
    domains[cas[2]].https_off = true;
    let off = domains[cas[2]].domain_name.clone();
    let served = support::serve(dir, world, EmulatorConfig::default());
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({})));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    for domain in &served.world.accounts[0].cdn_domains {
        let binding = collected.bindings.iter().find(|b| b.location.resource_id == domain.domain_name).unwrap();
        let xref: Vec<(&str, &str)> = binding.xrefs.iter().map(|x| (x.kind.as_str(), x.value.as_str())).collect();
        match domain.cas_certificate_id {
            Some(id) => assert_eq!(xref, [("cas-certificate-id", id.to_string().as_str())], "{}", domain.domain_name),
            None => assert!(xref.is_empty(), "{xref:?}"),
        }
        if domain.domain_name == off {
            assert!(binding.location.endpoint.is_none(), "{:?}", binding.location);
            assert!(binding.location.not_probeable.as_deref().unwrap().contains("HTTPS is off"));
            assert_eq!(binding.extra["https"], json!("off"));
        } else {
            assert!(binding.location.not_probeable.is_none() || domain.domain_name.starts_with("*."));
        }
    }
}

fn the_default_page_size_is_asked_for_and_a_refused_one_stepped_down(isolation: Isolation) {
    let (dir, world) = support::world(45, 15, &["cn-hangzhou"], false);
    let mut config = EmulatorConfig::default();
    config.page_limits.insert("DescribeCdnHttpsDomainList".into(), 8);
    let served = support::serve(dir, world, config);
    for settings in [json!({}), json!({ "page_size": 100 })] {
        served.emulator.reset_stats();
        let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(settings.clone()));
        let collected = support::collect_all(&[source]);
        support::assert_complete(&collected);
        assert_eq!(support::resource_ids(&collected, PLUGIN_NAME), support::expected_cdn(&served.world), "{settings}");
        let stats = served.emulator.stats();
        let first = stats.requests.iter().find(|r| r.action == "DescribeCdnHttpsDomainList").unwrap();
        // 50 by default (one full DescribeTagResources batch); no maximum is documented.
        let asked = if settings["page_size"].is_null() { "50" } else { "100" };
        assert_eq!(first.params.get("PageSize").map(String::as_str), Some(asked), "{settings}");
    }
}

/// DCDN answers in CDN's shape and goes through the same code, as its own
/// scope; its HTTPS switch is `SSLProtocol`.
fn dcdn_domains_come_through_the_same_code_as_their_own_scope(isolation: Isolation) {
    let (dir, mut world) = support::world(30, 16, &["cn-hangzhou"], false);
    let account = &mut world.accounts[0];
    // Half the CDN domains move to DCDN; one of them has HTTPS off.
    let moved = account.cdn_domains.len() / 2;
    account.dcdn_domains = account.cdn_domains.split_off(moved);
    account.dcdn_domains[0].https_off = true;
    let off = account.dcdn_domains[0].domain_name.clone();
    let served = support::serve(dir, world, EmulatorConfig::default());

    let source =
        support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "products": ["cdn", "dcdn"] })));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(collected.stats[0].scopes, 2);
    let account = &served.world.accounts[0];
    for (service, domains) in [("cdn", &account.cdn_domains), ("dcdn", &account.dcdn_domains)] {
        let mut expected: Vec<&str> = domains.iter().map(|d| d.domain_name.as_str()).collect();
        let mut got: Vec<&str> = collected
            .bindings
            .iter()
            .filter(|b| b.location.service == service)
            .map(|b| b.location.resource_id.as_str())
            .collect();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected, "{service}");
        for domain in domains.iter() {
            let binding = collected.bindings.iter().find(|b| b.location.resource_id == domain.domain_name).unwrap();
            if let Some(id) = domain.cas_certificate_id {
                assert_eq!(binding.xrefs[0].value, id.to_string(), "{}", domain.domain_name);
            }
        }
    }
    let dcdn_off = collected.bindings.iter().find(|b| b.location.resource_id == off).unwrap();
    assert!(dcdn_off.location.not_probeable.as_deref().unwrap().contains("SSLProtocol off"));

    // Without the setting only CDN is listed; an account without DCDN domains is an empty scope.
    let cdn_only = support::collect_all(&[support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({})))]);
    assert!(cdn_only.bindings.iter().all(|b| b.location.service == "cdn") && cdn_only.stats[0].scopes == 1);
    let (dir, world) = support::world(4, 17, &["cn-hangzhou"], false);
    let empty = support::serve(dir, world, EmulatorConfig::default());
    let collected = support::collect_all(&[support::open(
        &registry(isolation),
        PLUGIN_NAME,
        &empty.config(json!({ "products": ["dcdn"] })),
    )]);
    support::assert_complete(&collected);
    assert!(collected.bindings.is_empty());
}

/// Every CDN and DCDN domain carries its tags, read 50 domains a call
/// within the tag operations' 10 QPS: the emulator throttles nothing.
fn cdn_and_dcdn_domains_carry_their_tags_read_fifty_a_call(isolation: Isolation) {
    let (dir, mut world) = support::world(330, 18, &["cn-hangzhou"], false);
    let account = &mut world.accounts[0];
    assert!(account.cdn_domains.len() > 100, "{} CDN domains", account.cdn_domains.len());
    account.dcdn_domains = account.cdn_domains.split_off(70);
    let served = support::serve(dir, world, EmulatorConfig::default());
    let source = support::open(
        &registry(isolation),
        PLUGIN_NAME,
        &served.config(json!({ "products": ["cdn", "dcdn"], "page_size": 120 })),
    );
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    let account = &served.world.accounts[0];
    let domains: Vec<_> = account.cdn_domains.iter().chain(&account.dcdn_domains).collect();
    assert!(domains.iter().any(|d| d.tags.is_empty()) && domains.iter().any(|d| d.tags.len() == 2));
    for domain in &domains {
        let binding = collected.bindings.iter().find(|b| b.location.resource_id == domain.domain_name).unwrap();
        assert_eq!(binding.tags, domain.tags, "{}", domain.domain_name);
        assert!(binding.extra.get("tags_error").is_none(), "{}", domain.domain_name);
    }
    let stats = served.emulator.stats();
    support::assert_within_qps(&stats, &["DescribeTagResources", "DescribeDcdnTagResources"]);
    for (action, domains) in [("DescribeTagResources", 70), ("DescribeDcdnTagResources", account.dcdn_domains.len())] {
        let calls: Vec<_> = stats.requests.iter().filter(|r| r.action == action).collect();
        assert_eq!(calls.len(), usize::div_ceil(domains, 50), "{action}: one call per 50 domains");
        assert!(calls.iter().all(|c| c.params.get("ResourceType").map(String::as_str) == Some("DOMAIN")));
        let asked: usize = calls.iter().map(|c| c.params.keys().filter(|k| k.starts_with("ResourceId.")).count()).sum();
        assert_eq!(asked, domains, "{action}: every domain asked once");
    }
}

/// A tag batch that keeps failing loses no binding: its domains are listed
/// without tags, saying why in `tags_error`, with one warning per batch; refused
/// credentials stop the tag calls after one warning.
fn a_failed_tag_batch_loses_no_binding_and_says_why_its_tags_are_missing(isolation: Isolation) {
    let (dir, mut world) = support::world(60, 19, &["cn-hangzhou"], false);
    // A reader allowed everything of CDN but the tag call.
    let key = world.accounts[0].access_keys.iter_mut().find(|k| k.enabled && k.security_token.is_none()).unwrap();
    key.permissions = Some(vec!["cdn:DescribeCdnHttpsDomainList".into(), "cdn:DescribeDomainCertificateInfo".into()]);
    let served = support::serve(dir, world, EmulatorConfig::default());
    let expected = support::expected_cdn(&served.world);
    let untagged = |collected: &certinspect_core::collect::Collected| {
        assert!(collected.errors.is_empty(), "{:?}", collected.errors);
        assert_eq!(support::resource_ids(collected, PLUGIN_NAME), expected);
        assert!(collected.bindings.iter().all(|b| b.tags.is_empty() && b.extra["tags_error"].is_string()));
    };

    let refused = support::collect_all(&[support::open(
        &registry(isolation),
        PLUGIN_NAME,
        &served.config(json!({ "page_size": 5 })),
    )]);
    assert!(refused.stats[0].pages > 1, "later pages do not ask again");
    untagged(&refused);
    assert_eq!(refused.warnings.len(), 1, "{:?}", refused.warnings);
    let warning = &refused.warnings[0].message;
    assert!(warning.contains("DescribeTagResources") && warning.contains("RAM permission"), "{warning}");
    assert!(warning.contains("tags = false"), "{warning}");
    let stats = served.emulator.stats();
    assert_eq!(stats.requests.iter().filter(|r| r.action == "DescribeTagResources").count(), 1, "asked once");

    // Without tags the permission is not needed and nothing is marked.
    let off = support::collect_all(&[support::open(
        &registry(isolation),
        PLUGIN_NAME,
        &served.config(json!({ "tags": false })),
    )]);
    support::assert_complete(&off);
    assert!(off.bindings.iter().all(|b| b.tags.is_empty() && b.extra.get("tags_error").is_none()));

    // A service failure that outlasts the retries: one warning per batch.
    let (dir, world) = support::world(60, 19, &["cn-hangzhou"], false);
    let served = support::serve(dir, world, EmulatorConfig::default());
    served.emulator.set_faults(vec![FaultRule::always(Some("DescribeTagResources"), FaultKind::InternalError)]);
    let failed = support::collect_all(&[support::open(
        &registry(isolation),
        PLUGIN_NAME,
        &served.config(json!({ "page_size": 20, "max_attempts": 2 })),
    )]);
    untagged(&failed);
    let pages = served.world.accounts[0].cdn_domains.len().div_ceil(20);
    assert_eq!(failed.warnings.len(), pages, "{:?}", failed.warnings);
    assert!(failed.warnings.iter().all(|w| w.message.contains("listed without tags")), "{:?}", failed.warnings);
}

certinspect_test_support::under_both_isolations!(
    a_one_certificate_world_yields_its_one_domain,
    dates_agree_with_the_generator_in_china_time_and_ids_link_to_cas,
    wildcard_domains_are_reported_and_probed_only_under_the_configured_label,
    throttling_storms_5xx_and_truncated_bodies_lose_no_domain,
    a_fault_that_outlasts_the_retries_is_an_error_that_says_what_was_lost,
    domains_join_cas_by_certificate_id_not_by_name_and_say_when_https_is_off,
    the_default_page_size_is_asked_for_and_a_refused_one_stepped_down,
    dcdn_domains_come_through_the_same_code_as_their_own_scope,
    cdn_and_dcdn_domains_carry_their_tags_read_fifty_a_call,
    a_failed_tag_batch_loses_no_binding_and_says_why_its_tags_are_missing,
);
