//! The SLB plugin against generated emulator worlds, paged the way the host
//! pages (scopes, then `list_page` until no cursor).

use certinspect_test_support::alibaba::{self as support, Isolation};

use alibaba_emulator::{EmulatorConfig, FaultKind, FaultRule};
use certinspect_alibaba_slb::{AlibabaSlbProvider, PLUGIN_NAME};
use certinspect_sdk::static_module;
use serde_json::json;

fn registry(isolation: Isolation) -> support::Plugins {
    support::registry(isolation, [static_module::<AlibabaSlbProvider>()])
}

fn keys(collected: &certinspect_core::collect::Collected) -> Vec<support::SlbKey> {
    let mut keys: Vec<support::SlbKey> = collected.bindings.iter().map(support::slb_key).collect();
    keys.sort();
    keys
}

fn the_smallest_world_with_a_load_balancer(isolation: Isolation) {
    // Domain 0 is a CDN domain, domain 1 the first load balancer.
    let served = support::served_world(2, 21, &["cn-hangzhou"], false);
    let source =
        support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "regions": ["cn-hangzhou"] })));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(keys(&collected), support::expected_slb(&served.world));
    assert_eq!(collected.bindings.len(), 1);
    // The load balancer's tags, as DescribeLoadBalancers answers them.
    let lb = &served.world.accounts[0].slb[0].load_balancers[0];
    assert_eq!(lb.tags.len(), 3, "the world tags its load balancers");
    assert_eq!(collected.bindings[0].tags, lb.tags);
}

fn listeners_extensions_and_unbound_certificates_across_regions(isolation: Isolation) {
    let regions = ["cn-hangzhou", "cn-shanghai", "cn-beijing"];
    let (dir, mut world) = support::world(90, 22, &regions, true);
    // A certificate uploaded to SLB and used nowhere, and a default
    // certificate whose CN is no host name.
    let slb = &mut world.accounts[0].slb[1];
    let mut spare = slb.server_certificates[0].clone();
    spare.server_certificate_id = format!("{}-spare", spare.server_certificate_id);
    spare.server_certificate_name = "spare".into();
    slb.server_certificates.push(spare.clone());
    let default_id = slb.load_balancers[0].listeners[1].server_certificate_id.clone().unwrap();
    let odd = slb.server_certificates.iter_mut().find(|c| c.server_certificate_id == default_id).unwrap();
    odd.common_name = "Shop certificate 2024".into();
    let odd_lb = slb.load_balancers[0].load_balancer_id.clone();
    let served = support::serve(dir, world, EmulatorConfig::default());

    // No `regions`: every region DescribeRegions returns is a scope.
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "page_size": 4 })));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(collected.stats[0].scopes, 3);
    assert_eq!(keys(&collected), support::expected_slb(&served.world));

    let account = &served.world.accounts[0];
    let mut extensions = 0;
    for binding in &collected.bindings {
        let region = account.slb.iter().find(|r| Some(&r.region_id) == binding.location.region.as_ref()).unwrap();
        match binding.extra["certificate_role"].as_str().unwrap() {
            "unbound" => {
                assert!(binding.location.endpoint.is_none() && binding.location.not_probeable.is_none());
                assert_eq!(binding.location.resource_id, spare.server_certificate_id);
            }
            role => {
                let lb = region
                    .load_balancers
                    .iter()
                    .find(|lb| lb.load_balancer_id == binding.location.resource_id)
                    .unwrap();
                let listener = lb.listeners.iter().find(|l| Some(l.port) == binding.location.listener_port).unwrap();
                let endpoint = binding.location.endpoint.as_ref().expect("running listeners are probeable");
                assert_eq!((endpoint.host.as_str(), endpoint.port), (lb.address.as_str(), listener.port));
                assert_eq!(endpoint.addresses, std::slice::from_ref(&lb.address));
                let certificate_id = if role == "extension" {
                    extensions += 1;
                    let domain = binding.extra["extension_domain"].as_str().unwrap();
                    assert_eq!(endpoint.sni.as_deref(), Some(domain));
                    &listener.domain_extensions.iter().find(|e| e.domain == domain).unwrap().server_certificate_id
                } else {
                    let certificate = binding.declared.common_name.clone().unwrap();
                    if lb.load_balancer_id == odd_lb {
                        assert_eq!(endpoint.sni, None, "a CN that is no host name is not sent as SNI");
                    } else {
                        assert_eq!(endpoint.sni.as_deref(), Some(certificate.as_str()));
                    }
                    listener.server_certificate_id.as_ref().unwrap()
                };
                let certificate =
                    region.server_certificates.iter().find(|c| &c.server_certificate_id == certificate_id).unwrap();
                assert_eq!(binding.declared.provider_id.as_ref(), Some(certificate_id));
                let sha1 = certificate.fingerprint.replace(':', "");
                assert_eq!(binding.declared.fingerprint("sha1"), Some(sha1.as_str()));
                assert_eq!(binding.declared.not_after, Some(certificate.expire_time_stamp / 1000));
                let xrefs: Vec<&str> = binding.xrefs.iter().map(|x| x.value.as_str()).collect();
                if certificate.is_ali_cloud_certificate == 1 {
                    assert_eq!(xrefs, [certificate.ali_cloud_certificate_id.as_str()]);
                    assert_eq!(binding.xrefs[0].kind, "cas-certificate-id");
                } else {
                    assert!(xrefs.is_empty());
                }
            }
        }
    }
    assert!(extensions > 5, "the world has SNI extensions: {extensions}");
    assert_eq!(served.emulator.stats().key_material_returned, 0);
}

fn a_load_balancer_that_keeps_failing_is_a_warning_not_a_lost_region(isolation: Isolation) {
    let (dir, world) = support::world(40, 23, &["cn-hangzhou"], false);
    let config = EmulatorConfig {
        // The first load balancer's listener call fails twice: both attempts the plugin makes.
        faults: vec![FaultRule {
            action: Some("DescribeLoadBalancerHTTPSListenerAttribute".into()),
            kind: FaultKind::InternalError,
            probability: None,
            every_nth: Some(1),
            count: Some(2),
        }],
        ..EmulatorConfig::default()
    };
    let served = support::serve(dir, world, config);
    let settings = json!({ "regions": ["cn-hangzhou"], "max_attempts": 2, "listener_concurrency": 1, "page_size": 5 });
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(settings));
    let collected = support::collect_all(&[source]);
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    let region = &served.world.accounts[0].slb[0];
    let failed = &region.load_balancers[0];
    let warnings: Vec<&str> = collected.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains(&failed.load_balancer_id) && warnings[0].contains("not listed"), "{warnings:?}");
    assert!(warnings[1].contains("may be in use there"), "{warnings:?}");

    // Everything else arrived; the failed balancer's certificates are still reported (as not seen on a listener).
    let mut expected: Vec<support::SlbKey> =
        support::expected_slb(&served.world).into_iter().filter(|k| k.1 != failed.load_balancer_id).collect();
    for listener in failed.listeners.iter().filter(|l| l.protocol == "https") {
        let ids = listener
            .server_certificate_id
            .iter()
            .chain(listener.domain_extensions.iter().map(|e| &e.server_certificate_id));
        expected.extend(ids.map(|id| ("cn-hangzhou".to_owned(), id.clone(), None, "unbound".to_owned())));
    }
    expected.sort();
    assert_eq!(keys(&collected), expected);
}

fn throttling_storms_and_5xx_lose_no_listener(isolation: Isolation) {
    let (dir, world) = support::world(60, 24, &["cn-hangzhou", "cn-shanghai"], false);
    let config = EmulatorConfig {
        faults: vec![
            FaultRule {
                action: None,
                kind: FaultKind::Throttling,
                probability: Some(0.2),
                every_nth: None,
                count: None,
            },
            FaultRule {
                action: None,
                kind: FaultKind::ServiceUnavailable,
                probability: None,
                every_nth: Some(9),
                count: None,
            },
            FaultRule {
                action: None,
                kind: FaultKind::TruncatedBody,
                probability: None,
                every_nth: Some(13),
                count: None,
            },
        ],
        fault_seed: 3,
        ..EmulatorConfig::default()
    };
    let served = support::serve(dir, world, config);
    let settings = json!({ "regions": ["cn-hangzhou", "cn-shanghai"], "max_attempts": 10 });
    let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(settings));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(keys(&collected), support::expected_slb(&served.world));
    assert!(served.emulator.stats().faults_injected >= 10);
}

fn sans_sent_as_one_json_string_are_the_certificates_names(isolation: Isolation) {
    let (dir, mut world) = support::world(20, 25, &["cn-hangzhou"], false);
    world.quirks.slb_sans_as_json_string = true;
    let served = support::serve(dir, world, EmulatorConfig::default());
    let source =
        support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "regions": ["cn-hangzhou"] })));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    let region = &served.world.accounts[0].slb[0];
    assert!(!collected.bindings.is_empty());
    for binding in &collected.bindings {
        let id = binding.declared.provider_id.as_ref().unwrap();
        let certificate = region.server_certificates.iter().find(|c| &c.server_certificate_id == id).unwrap();
        assert_eq!(binding.declared.sans, certificate.subject_alternative_names, "{id}");
    }
}

fn an_implausible_expiry_timestamp_loses_to_the_iso_string_and_says_so(isolation: Isolation) {
    let (dir, mut world) = support::world(20, 26, &["cn-hangzhou"], false);
    let certificate = &mut world.accounts[0].slb[0].server_certificates[0];
    // The API reference example's value: neither seconds nor milliseconds.
    certificate.expire_time_stamp = 15_041_477_450;
    let (id, expire_time) = (certificate.server_certificate_id.clone(), certificate.expire_time.clone());
    let served = support::serve(dir, world, EmulatorConfig::default());
    let source =
        support::open(&registry(isolation), PLUGIN_NAME, &served.config(json!({ "regions": ["cn-hangzhou"] })));
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    let expected = support::unix(&expire_time);
    for binding in &collected.bindings {
        let note = binding.extra["expiry_note"].as_str();
        if binding.declared.provider_id.as_ref() == Some(&id) {
            assert_eq!(binding.declared.not_after, Some(expected));
            let note = note.expect("the disagreement is noted");
            assert!(note.contains("15041477450") && note.contains(&expire_time), "{note}");
        } else {
            assert_eq!(note, None, "{:?}", binding.location);
        }
    }
}

fn intranet_load_balancers_are_probed_only_when_asked(isolation: Isolation) {
    let (dir, mut world) = support::world(20, 27, &["cn-hangzhou"], false);
    let lb = &mut world.accounts[0].slb[0].load_balancers[0];
    lb.address_type = "intranet".into();
    let intranet = lb.load_balancer_id.clone();
    let served = support::serve(dir, world, EmulatorConfig::default());
    for probe_intranet in [false, true] {
        let settings = json!({ "regions": ["cn-hangzhou"], "probe_intranet": probe_intranet });
        let source = support::open(&registry(isolation), PLUGIN_NAME, &served.config(settings));
        let collected = support::collect_all(&[source]);
        support::assert_complete(&collected);
        let mut seen = 0;
        for binding in collected.bindings.iter().filter(|b| b.extra["certificate_role"] != "unbound") {
            let location = &binding.location;
            if location.resource_id == intranet && !probe_intranet {
                seen += 1;
                assert!(location.endpoint.is_none(), "{location:?}");
                let reason = location.not_probeable.as_deref().unwrap();
                assert!(reason.contains("intranet") && reason.contains("probe_intranet"), "{reason}");
            } else {
                seen += usize::from(location.resource_id == intranet);
                assert!(location.endpoint.is_some() && location.not_probeable.is_none(), "{location:?}");
            }
        }
        assert!(seen > 0, "the intranet load balancer has listeners");
    }
}

certinspect_test_support::under_both_isolations!(
    the_smallest_world_with_a_load_balancer,
    listeners_extensions_and_unbound_certificates_across_regions,
    a_load_balancer_that_keeps_failing_is_a_warning_not_a_lost_region,
    throttling_storms_and_5xx_lose_no_listener,
    sans_sent_as_one_json_string_are_the_certificates_names,
    an_implausible_expiry_timestamp_loses_to_the_iso_string_and_says_so,
    intranet_load_balancers_are_probed_only_when_asked,
);
