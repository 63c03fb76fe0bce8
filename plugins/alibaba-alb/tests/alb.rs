//! The ALB plugin against an emulated world: load balancers, HTTPS and QUIC
//! listeners and their certificates, paged by `NextToken` the way the host
//! pages (scopes, then `list_page` until no cursor).

use certinspect_test_support::alibaba::{self as support, Isolation};

use alibaba_emulator::world::{AlbCertificate, AlbListener, AlbLoadBalancer, AlbRegion, World};
use alibaba_emulator::EmulatorConfig;
use certinspect_alibaba_alb::{AlibabaAlbProvider, PLUGIN_NAME};
use certinspect_sdk::static_module;
use serde_json::json;

fn registry(isolation: Isolation) -> support::Plugins {
    support::registry(isolation, [static_module::<AlibabaAlbProvider>()])
}

/// Adds `count` load balancers in `region`, each with an HTTPS listener
/// (a default and an additional certificate), a QUIC listener and an HTTP
/// listener; certificates are the account's CAS certificates in
/// `CertIdentifier` form. Every third load balancer is intranet; every
/// other one is tagged with its owner and team.
fn add_albs(world: &mut World, region: &str, count: usize) {
    let cas: Vec<i64> = world.accounts[0].cas.certificates.iter().map(|c| c.certificate_id).collect();
    let certificate = |i: usize| format!("{}-cn-hangzhou", cas[i % cas.len()]);
    let load_balancers = (0..count)
        .map(|i| AlbLoadBalancer {
            load_balancer_id: format!("alb-{i:04}"),
            load_balancer_name: format!("alb {i}"),
            dns_name: format!("alb-{i:04}.{region}.alb.aliyuncs.test"),
            address: format!("127.11.0.{}", i + 1),
            address_type: if i % 3 == 2 { "Intranet" } else { "Internet" }.into(),
            load_balancer_status: "Active".into(),
            listeners: vec![
                AlbListener {
                    listener_id: format!("lsn-{i:04}-443"),
                    port: 443,
                    protocol: "HTTPS".into(),
                    status: "Running".into(),
                    certificates: vec![
                        AlbCertificate {
                            certificate_id: certificate(2 * i),
                            is_default: true,
                            status: "Associated".into(),
                            ..AlbCertificate::default()
                        },
                        AlbCertificate {
                            certificate_id: certificate(2 * i + 1),
                            is_default: false,
                            status: "Associated".into(),
                            ..AlbCertificate::default()
                        },
                    ],
                },
                AlbListener {
                    listener_id: format!("lsn-{i:04}-quic"),
                    port: 443,
                    protocol: "QUIC".into(),
                    status: "Running".into(),
                    certificates: vec![AlbCertificate {
                        certificate_id: certificate(2 * i),
                        is_default: true,
                        status: "Associated".into(),
                        ..AlbCertificate::default()
                    }],
                },
                AlbListener {
                    listener_id: format!("lsn-{i:04}-80"),
                    port: 80,
                    protocol: "HTTP".into(),
                    status: "Running".into(),
                    certificates: Vec::new(),
                },
            ],
            tags: if i % 2 == 0 {
                [("owner".to_owned(), format!("owner-{i}")), ("team".to_owned(), "edge".to_owned())].into()
            } else {
                Default::default()
            },
        })
        .collect();
    world.accounts[0].alb.push(AlbRegion { region_id: region.into(), load_balancers });
}

fn every_listener_certificate_arrives_once_across_token_pages(isolation: Isolation) {
    let (dir, mut world) = support::world(20, 61, &["cn-hangzhou", "cn-shanghai"], false);
    add_albs(&mut world, "cn-hangzhou", 45);
    add_albs(&mut world, "cn-shanghai", 3);
    let served = support::serve(dir, world, EmulatorConfig::default());
    // Small pages, so listeners of 45 load balancers take several calls of each kind.
    let config = served.config(json!({ "regions": ["cn-hangzhou", "cn-shanghai"], "page_size": 7 }));
    let source = support::open(&registry(isolation), PLUGIN_NAME, &config);
    let collected = support::collect_all(&[source]);
    support::assert_complete(&collected);
    assert_eq!(collected.stats[0].scopes, 2);
    assert!(collected.bindings.iter().all(|b| b.location.service == "alb"));

    let mut expected = Vec::new();
    for region in &served.world.accounts[0].alb {
        for lb in &region.load_balancers {
            for listener in lb.listeners.iter().filter(|l| l.protocol != "HTTP") {
                for c in &listener.certificates {
                    expected.push((lb.load_balancer_id.clone(), listener.protocol.clone(), c.certificate_id.clone()));
                }
            }
        }
    }
    let mut got: Vec<(String, String, String)> = collected
        .bindings
        .iter()
        .map(|b| {
            (
                b.location.resource_id.clone(),
                b.extra["listener_protocol"].as_str().unwrap().to_owned(),
                b.declared.provider_id.clone().unwrap(),
            )
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);

    for binding in &collected.bindings {
        let id = binding.declared.provider_id.as_deref().unwrap();
        let cas = id.split('-').next().unwrap();
        let xrefs: Vec<(&str, &str)> = binding.xrefs.iter().map(|x| (x.kind.as_str(), x.value.as_str())).collect();
        assert_eq!(xrefs, [("cas-certificate-id", cas), ("cas-cert-identifier", id)]);
        let lb = &binding.location.resource_id;
        let role = binding.extra["certificate_role"].as_str().unwrap();
        let protocol = binding.extra["listener_protocol"].as_str().unwrap();
        match (protocol, role) {
            ("HTTPS", "default") if binding.extra["address_type"] == "Internet" => {
                let endpoint = binding.location.endpoint.as_ref().expect("the default certificate is probeable");
                assert!(endpoint.host.starts_with(lb.as_str()) && endpoint.port == 443 && endpoint.sni.is_none());
            }
            ("HTTPS", "default") => {
                assert!(binding.location.not_probeable.as_deref().unwrap().contains("intranet"));
            }
            ("QUIC", _) => assert!(binding.location.not_probeable.as_deref().unwrap().contains("QUIC")),
            (_, "additional") => assert!(binding.location.not_probeable.as_deref().unwrap().contains("additional")),
            other => panic!("unexpected binding {other:?}"),
        }
    }
    assert_tags_as_declared(&served.world, &collected.bindings);
    let stats = served.emulator.stats();
    assert!(stats.requests("ListLoadBalancers") >= 45 / 7, "paged by NextToken: {:?}", stats.by_action);
    assert!(stats.requests.iter().any(|r| r.params.contains_key("NextToken")), "NextToken was followed");
}

/// NLB has the same operations and shapes; its TLS listeners are TCPSSL.
fn nlb_tcpssl_listeners_come_through_the_same_code(isolation: Isolation) {
    let (dir, mut world) = support::world(10, 62, &["cn-hangzhou"], false);
    add_albs(&mut world, "cn-hangzhou", 4);
    // The same load balancers as NLBs: HTTPS becomes TCPSSL, HTTP becomes TCP, no QUIC.
    let mut nlb = world.accounts[0].alb[0].clone();
    for lb in &mut nlb.load_balancers {
        lb.load_balancer_id = lb.load_balancer_id.replace("alb-", "nlb-");
        lb.listeners.retain(|l| l.protocol != "QUIC");
        for listener in &mut lb.listeners {
            listener.protocol = if listener.protocol == "HTTPS" { "TCPSSL" } else { "TCP" }.into();
        }
    }
    world.accounts[0].nlb.push(nlb);
    let served = support::serve(dir, world, EmulatorConfig::default());
    let config = served.config(json!({ "regions": ["cn-hangzhou"], "products": ["alb", "nlb"], "page_size": 3 }));
    let collected = support::collect_all(&[support::open(&registry(isolation), PLUGIN_NAME, &config)]);
    support::assert_complete(&collected);
    assert_eq!(collected.stats[0].scopes, 2);
    let nlb: Vec<_> = collected.bindings.iter().filter(|b| b.location.service == "nlb").collect();
    // Four load balancers, one TCPSSL listener each with a default and an additional certificate.
    assert_eq!(nlb.len(), 8);
    for binding in &nlb {
        assert!(binding.location.resource_id.starts_with("nlb-"));
        assert_eq!(binding.extra["listener_protocol"], "TCPSSL");
        let probeable = binding.extra["certificate_role"] == "default" && binding.extra["address_type"] == "Internet";
        assert_eq!(binding.location.endpoint.is_some(), probeable, "{:?}", binding.location);
    }
    assert_eq!(collected.bindings.iter().filter(|b| b.location.service == "alb").count(), 4 * 3);
    assert_tags_as_declared(&served.world, &collected.bindings);
}

/// Every binding carries its load balancer's tags, as `ListLoadBalancers`
/// answers them (`Tags[] {Key, Value}`), untagged ones none; some are tagged.
fn assert_tags_as_declared(world: &World, bindings: &[certinspect_sdk::Binding]) {
    let regions = world.accounts[0].alb.iter().chain(&world.accounts[0].nlb);
    let tags: std::collections::BTreeMap<&str, _> =
        regions.flat_map(|r| &r.load_balancers).map(|lb| (lb.load_balancer_id.as_str(), &lb.tags)).collect();
    for binding in bindings {
        assert_eq!(&&binding.tags, &tags[binding.location.resource_id.as_str()], "{}", binding.location.resource_id);
    }
    assert!(bindings.iter().any(|b| b.tags.get("owner").is_some_and(|o| o.starts_with("owner-"))));
    assert!(bindings.iter().any(|b| b.tags.is_empty()));
}

/// ALB (with SNI names from CAS), NLB, DCDN and CAS deployment rows of a
/// product without a plugin, collected together and joined to CAS: every
/// deployment gets the CAS certificate's identity.
fn alb_nlb_dcdn_and_cas_deployments_are_joined_to_cas(isolation: Isolation) {
    use alibaba_emulator::world::CloudResource;
    use certinspect_alibaba_cas::AlibabaCasProvider;
    use certinspect_alibaba_cdn::AlibabaCdnProvider;

    let (dir, mut world) = support::world(30, 63, &["cn-hangzhou"], false);
    add_albs(&mut world, "cn-hangzhou", 3);
    let mut nlb = world.accounts[0].alb[0].clone();
    for lb in &mut nlb.load_balancers {
        lb.load_balancer_id = lb.load_balancer_id.replace("alb-", "nlb-");
        lb.listeners.retain(|l| l.protocol == "HTTPS");
        lb.listeners[0].protocol = "TCPSSL".into();
    }
    world.accounts[0].nlb.push(nlb);
    let account = &mut world.accounts[0];
    let moved = account.cdn_domains.len() / 2;
    account.dcdn_domains = account.cdn_domains.split_off(moved);
    // CAS knows where the first ALB's additional certificate is deployed, and a WAF site.
    let lb = &account.alb[0].load_balancers[0];
    let listener = &lb.listeners[0];
    let additional = listener.certificates.iter().find(|c| !c.is_default).unwrap();
    let additional_id: i64 = additional.certificate_id.split('-').next().unwrap().parse().unwrap();
    let (lb_id, listener_id) = (lb.load_balancer_id.clone(), listener.listener_id.clone());
    let row = |id: i64, product: &str, domain: &str, instance: &str, listener: &str| CloudResource {
        id,
        cert_id: additional_id,
        cloud_name: "aliyun".into(),
        cloud_product: product.into(),
        region_id: "cn-hangzhou".into(),
        domain: domain.into(),
        instance_id: instance.into(),
        listener_id: listener.into(),
        listener_port: "443".into(),
        enable_https: 1,
        status: "normal".into(),
        ..CloudResource::default()
    };
    account.cas.deployments.push(row(9101, "ALB", "shop.alb.example.test", &lb_id, &listener_id));
    account.cas.deployments.push(row(9102, "WAF", "waf.example.test", "waf-1", ""));
    let served = support::serve(dir, world, EmulatorConfig::default());

    let registry = support::registry(
        isolation,
        [
            static_module::<AlibabaAlbProvider>(),
            static_module::<AlibabaCdnProvider>(),
            static_module::<AlibabaCasProvider>(),
        ],
    );
    let mut collected = support::collect_all(&[
        support::open(&registry, PLUGIN_NAME, &served.config(json!({ "products": ["alb", "nlb"] }))),
        support::open(&registry, "alibaba-cdn", &served.config(json!({ "products": ["cdn", "dcdn"] }))),
        support::open(&registry, "alibaba-cas", &served.config(json!({}))),
    ]);
    support::assert_complete(&collected);
    let outcome = certinspect_core::join::join(&mut collected.bindings);
    assert!(outcome.issues.is_empty(), "{:?}", outcome.issues);

    let cas = &served.world.accounts[0].cas;
    let serial_of = |cas_id: &str| {
        let certificate = cas.certificates.iter().find(|c| c.certificate_id.to_string() == cas_id).unwrap();
        served.world.material(certificate.material.as_deref().unwrap()).unwrap().serial.clone()
    };
    let mut joined = std::collections::BTreeMap::<&str, usize>::new();
    for binding in collected
        .bindings
        .iter()
        .filter(|b| b.location.plugin != "alibaba-cas" || b.extra["source"] == "ListCloudResources")
    {
        let Some(cas_id) = binding.xrefs.iter().find(|x| x.kind == "cas-certificate-id") else { continue };
        assert_eq!(
            binding.declared.serial.as_deref(),
            Some(serial_of(&cas_id.value).as_str()),
            "{:?}",
            binding.location
        );
        assert!(binding.declared.fingerprint("sha256").is_some(), "{:?}", binding.location);
        *joined.entry(binding.location.service.as_str()).or_default() += 1;
    }
    for service in ["alb", "nlb", "cdn", "dcdn", "waf"] {
        assert!(joined.get(service).copied().unwrap_or(0) > 0, "{service} joined: {joined:?}");
    }
    // The additional certificate CAS names a domain for is probed under it.
    let sni = collected
        .bindings
        .iter()
        .find(|b| b.location.resource_id == lb_id && b.extra["certificate_role"] == "additional")
        .and_then(|b| b.location.endpoint.as_ref())
        .and_then(|e| e.sni.clone());
    assert_eq!(sni.as_deref(), Some("shop.alb.example.test"));
}

/// The generator's ALB case (`GenerateOptions::alb`, for the demo): the
/// additional certificate is probed under the domain CAS names and, joined
/// to CAS, declares the renewed certificate while the listener serves the old
/// one — what the engine reports as STALE.
fn the_generated_alb_case_declares_the_renewed_sni_certificate(isolation: Isolation) {
    use alibaba_emulator::generate::{generate, GenerateOptions};
    use certinspect_alibaba_cas::AlibabaCasProvider;

    let dir = tempfile::tempdir().unwrap();
    let generated = generate(&GenerateOptions {
        domains: 6,
        accounts: 1,
        regions: vec!["cn-hangzhou".into()],
        out_dir: dir.path().join("world"),
        alb: true,
        ..GenerateOptions::default()
    })
    .unwrap();
    let served = support::serve(dir, generated.world, EmulatorConfig::default());
    let registry =
        support::registry(isolation, [static_module::<AlibabaAlbProvider>(), static_module::<AlibabaCasProvider>()]);
    let mut collected = support::collect_all(&[
        support::open(&registry, PLUGIN_NAME, &served.config(json!({}))),
        support::open(&registry, "alibaba-cas", &served.config(json!({}))),
    ]);
    support::assert_complete(&collected);
    certinspect_core::join::join(&mut collected.bindings);
    let drift = served.world.manifest.iter().find(|d| d.service == "alb").unwrap();
    let binding = collected
        .bindings
        .iter()
        .find(|b| {
            b.location.plugin == PLUGIN_NAME
                && b.location.endpoint.as_ref().and_then(|e| e.sni.as_deref()) == Some(drift.sni.as_str())
        })
        .expect("the SNI certificate is probed under the domain CAS names");
    let declared = served.world.material(&drift.declared_material).unwrap();
    let stale = served.world.material(&drift.served_material).unwrap();
    assert_eq!(binding.declared.serial.as_deref(), Some(declared.serial.as_str()));
    assert_ne!(declared.serial, stale.serial);
    assert_eq!(binding.location.listener_port, drift.port);
}

/// The CAS plugin and the ALB plugin of one account both page CAS
/// `ListCloudResources` (CAS for its deployment rows, ALB for the domains of
/// its additional certificates): one per-account budget at the gateway, so
/// the host spaces them as one and the account stays within its QPS. A CAS
/// source of another account, paging at the same time, keeps a budget of
/// its own: together the two accounts get past what one budget allows.
fn sources_of_one_account_share_its_budget_and_another_account_keeps_its_own(isolation: Isolation) {
    use alibaba_emulator::generate::{generate, GenerateOptions};
    use alibaba_emulator::world::CloudResource;
    use certinspect_alibaba_cas::AlibabaCasProvider;
    const LIMIT: usize = 10;

    let dir = tempfile::tempdir().unwrap();
    let options = GenerateOptions {
        domains: 10,
        accounts: 2,
        seed: 65,
        regions: vec!["cn-hangzhou".into()],
        out_dir: dir.path().join("world"),
        ..GenerateOptions::default()
    };
    let mut world = generate(&options).unwrap().world;
    add_albs(&mut world, "cn-hangzhou", 1);
    // 2,000 ALB rows per account: 20 calls of 100 rows for ALB (its page),
    // 20 for CAS at page_size 100; 40 calls of one budget, about 4 s.
    for account in &mut world.accounts {
        let cert_id = account.cas.certificates[0].certificate_id;
        account.cas.deployments.extend((0..2_000).map(|i| CloudResource {
            id: 50_000 + i,
            cert_id,
            cloud_name: "aliyun".into(),
            cloud_product: "ALB".into(),
            region_id: "cn-hangzhou".into(),
            domain: format!("d{i}.alb.example.test"),
            instance_id: format!("alb-x{i}"),
            listener_id: format!("lsn-x{i}"),
            listener_port: "443".into(),
            enable_https: 1,
            status: "normal".into(),
            ..CloudResource::default()
        }));
    }
    let second = world.accounts[1].access_keys.iter().find(|k| k.enabled && k.security_token.is_none()).unwrap();
    let (second_account, second_key) = (world.accounts[1].id.clone(), second.clone());
    let served = support::serve(dir, world, EmulatorConfig::default());
    let profiles = std::fs::read_to_string(&served.credentials).unwrap();
    std::fs::write(
        &served.credentials,
        format!(
            "{profiles}[second]\ntype = access_key\naccess_key_id = {}\naccess_key_secret = {}\n",
            second_key.id, second_key.secret
        ),
    )
    .unwrap();
    let other = support::config_for(
        &served.emulator.url(),
        &served.credentials,
        "second",
        json!({ "page_size": 100, "deployment_bindings": "none" }),
    );

    let registry =
        support::registry(isolation, [static_module::<AlibabaAlbProvider>(), static_module::<AlibabaCasProvider>()]);
    // Opened on one registry: one run, one host.
    let collected = support::collect_all(&[
        support::open(&registry, PLUGIN_NAME, &served.config(json!({ "products": ["alb"] }))),
        support::open(
            &registry,
            "alibaba-cas",
            &served.config(json!({ "page_size": 100, "deployment_bindings": "none" })),
        ),
        support::open(&registry, "alibaba-cas", &other),
    ]);
    support::assert_complete(&collected);

    let stats = served.emulator.stats();
    support::assert_within_qps(&stats, &["ListCloudResources"]);
    let calls = |account: Option<&str>| -> Vec<i64> {
        stats
            .requests
            .iter()
            .filter(|r| r.action == "ListCloudResources" && r.code.is_none())
            .filter(|r| account.is_none_or(|a| r.account_id == a))
            .map(|r| r.at_ms)
            .collect()
    };
    let busiest_second = |times: &[i64]| {
        times.iter().map(|t| times.iter().filter(|u| (*t..t + 1000).contains(*u)).count()).max().unwrap_or(0)
    };
    let (first, second, both) = (calls(Some(&served.world.accounts[0].id)), calls(Some(&second_account)), calls(None));
    assert!(first.len() >= 40 && second.len() >= 20, "{} and {} calls", first.len(), second.len());
    // Two budgets: more than one allows, together (one budget is at most
    // LIMIT answered calls a second: the emulator refuses the rest, and
    // answers are what the busiest second counts).
    assert!(busiest_second(&both) > LIMIT + 3, "{} calls in the busiest second of both", busiest_second(&both));
}

certinspect_test_support::under_both_isolations!(
    every_listener_certificate_arrives_once_across_token_pages,
    sources_of_one_account_share_its_budget_and_another_account_keeps_its_own,
    nlb_tcpssl_listeners_come_through_the_same_code,
    alb_nlb_dcdn_and_cas_deployments_are_joined_to_cas,
    the_generated_alb_case_declares_the_renewed_sni_certificate,
);
