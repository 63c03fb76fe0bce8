//! The AWS plugin against the real `moto_server` (pinned in
//! crates/testbed/python/requirements.txt), seeded through its API with boto3:
//! every source returns the bindings the seed implies, the core's join
//! links ELB listeners and CloudFront aliases to ACM and IAM by ARN and id,
//! a re-imported ACM ARN declares the new certificate, and a listener
//! pointing at another certificate declares that one, and each binding
//! carries its resource's tags (kept without them, and said so, when the
//! tag calls are refused).
//!
//! One moto_server serves the whole test process; each test resets it.

mod support;

use std::collections::BTreeMap;

use std::sync::Arc;
use std::time::Duration;

use certinspect_analysis::TrustStore;
use certinspect_core::join::join;
use certinspect_core::reconcile::Verdict;
use certinspect_core::verify::{verify, ConnectTo, VerifyInput, VerifyOptions};
use certinspect_sdk::Binding;
use certinspect_tls_farm::pki::{Issued, TestCa, Validity};
use certinspect_tls_farm::{EndpointMode, EndpointSpec, Farm, FarmSpec, SniEntry, TlsEndpoint};
use serde_json::{json, Value};

/// (service, resource name or id, port, role/alias) of a binding.
fn key(binding: &Binding) -> (String, String, Option<u16>, String) {
    let role = match binding.location.service.as_str() {
        "cloudfront" => binding.extra["alias"].as_str().unwrap_or_default().to_owned(),
        _ => binding.extra["certificate_role"].as_str().unwrap_or_default().to_owned(),
    };
    let name = binding.location.resource_name.clone().unwrap_or_else(|| binding.location.resource_id.clone());
    (binding.location.service.clone(), name, binding.location.listener_port, role)
}

#[test]
fn every_source_declares_what_was_seeded_and_the_join_links_them_by_arn() {
    let (_turn, url) = support::fresh_moto();
    let shop_old = support::certificate(&["shop.example.test", "www.shop.example.test"], 30, false);
    let shop_new = support::certificate(&["shop.example.test", "www.shop.example.test"], 400, false);
    let api = support::certificate(&["api.example.test"], 200, true);
    let other = support::certificate(&["other.example.test"], 200, true);
    let europe = support::certificate(&["eu.example.test"], 90, true);
    let legacy = support::certificate(&["legacy.example.test"], 60, true);
    let acm = |name: &str, region: &str, c: &support::Generated, reimport_of: Option<&str>| json!({"name": name, "region": region, "pem": c.pem, "key": c.key, "reimport_of": reimport_of});
    let plan = json!({
        "acm": [
            acm("shop", "us-east-1", &shop_old, None),
            acm("api", "us-east-1", &api, None),
            acm("other", "us-east-1", &other, None),
            acm("europe", "eu-west-1", &europe, None),
            // Renewed by re-importing over the same ARN: ACM now declares the new certificate.
            acm("shop-renewed", "us-east-1", &shop_new, Some("shop")),
        ],
        "iam": [{"name": "legacy", "pem": legacy.pem, "key": legacy.key, "path": "/cloudfront/"}],
        "load_balancers": [
            {"name": "web", "region": "us-east-1", "type": "application", "listeners": [
                {"protocol": "HTTPS", "port": 443, "default": "acm:shop", "sni": ["acm:api"]},
                {"protocol": "HTTP", "port": 80},
            ]},
            // Meant to serve shop.example.test, but its listener points at another certificate.
            {"name": "shop-nlb", "region": "us-east-1", "type": "network", "listeners": [
                {"protocol": "TLS", "port": 8443, "default": "acm:other"},
            ]},
            {"name": "eu-web", "region": "eu-west-1", "type": "application", "listeners": [
                {"protocol": "HTTPS", "port": 443, "default": "acm:europe"},
            ]},
            {"name": "classic-cert", "region": "us-east-1", "type": "application", "listeners": [
                {"protocol": "HTTPS", "port": 8443, "default": "iam:legacy"},
            ]},
        ],
        "distributions": [
            {"name": "shop-cdn", "aliases": ["cdn.shop.example.test", "static.shop.example.test"], "certificate": "acm:shop"},
            {"name": "legacy-cdn", "aliases": ["legacy.example.test"], "certificate": "iam:legacy"},
            {"name": "plain-cdn", "aliases": []},
        ],
    });
    let seeded = support::seed(&plan);
    let dir = tempfile::tempdir().unwrap();
    let credentials = support::credentials_file(dir.path());
    let source = support::open(&support::config(url, &credentials, json!({"regions": ["us-east-1", "eu-west-1"]})));
    let collected = support::collect_all(source);
    assert!(
        collected.errors.is_empty() && collected.warnings.is_empty(),
        "{:?} {:?}",
        collected.errors,
        collected.warnings
    );

    let mut keys: Vec<_> = collected.bindings.iter().map(key).collect();
    keys.sort();
    let plain_cdn = seeded["distributions"]["plain-cdn"]["domain_name"].as_str().unwrap().to_owned();
    let expect = |service: &str, name: &str, port: Option<u16>, role: &str| {
        (service.to_owned(), name.to_owned(), port, role.to_owned())
    };
    let mut want = vec![
        expect("acm", "shop.example.test", None, "inventory"),
        expect("acm", "api.example.test", None, "inventory"),
        expect("acm", "other.example.test", None, "inventory"),
        expect("acm", "eu.example.test", None, "inventory"),
        expect("elbv2", "web", Some(443), "default"),
        expect("elbv2", "web", Some(443), "sni"),
        expect("elbv2", "shop-nlb", Some(8443), "default"),
        expect("elbv2", "eu-web", Some(443), "default"),
        expect("elbv2", "classic-cert", Some(8443), "default"),
        expect("iam", "legacy", None, "inventory"),
    ];
    let cdn = |id: &str| seeded["distributions"][id]["domain_name"].as_str().unwrap().to_owned();
    want.push(expect("cloudfront", &cdn("shop-cdn"), Some(443), "cdn.shop.example.test"));
    want.push(expect("cloudfront", &cdn("shop-cdn"), Some(443), "static.shop.example.test"));
    want.push(expect("cloudfront", &cdn("legacy-cdn"), Some(443), "legacy.example.test"));
    want.push(expect("cloudfront", &plain_cdn, Some(443), &plain_cdn));
    want.sort();
    assert_eq!(keys, want);

    let mut bindings = collected.bindings.clone();
    let outcome = join(&mut bindings);
    assert!(outcome.issues.is_empty(), "{:?}", outcome.issues);
    let find = |service: &str, name: &str, role: &str| -> &Binding {
        bindings
            .iter()
            .find(|b| {
                let (s, n, _, r) = key(b);
                s == service && n == name && r == role
            })
            .unwrap_or_else(|| panic!("no {service} {name} {role}"))
    };
    let arn = |name: &str| seeded["acm"][name].as_str().unwrap().to_owned();

    // ACM declares the re-imported certificate (identity from the PEM), under the original ARN.
    let shop = find("acm", "shop.example.test", "inventory");
    assert_eq!(shop.location.resource_id, arn("shop"));
    assert_eq!(arn("shop-renewed"), arn("shop"));
    assert_eq!(shop.declared.fingerprint("sha256"), Some(shop_new.sha256.as_str()));
    assert_eq!(shop.declared.sans, ["shop.example.test", "www.shop.example.test"]);
    assert!(shop.extra["in_use_by"].as_array().is_some_and(|u| !u.is_empty()), "{}", shop.extra);

    // The ALB's default certificate is that ARN, joined to the new identity; SNI
    // goes to the SNI certificate's own name; the endpoint is the DNS name and port.
    let web = &seeded["load_balancers"]["web"];
    let default = find("elbv2", "web", "default");
    let endpoint = default.location.endpoint.as_ref().expect("probeable");
    assert_eq!((endpoint.host.as_str(), endpoint.port), (web["dns_name"].as_str().unwrap(), 443));
    assert_eq!(endpoint.sni.as_deref(), Some("shop.example.test"));
    assert_eq!(default.declared.provider_id.as_deref(), Some(arn("shop").as_str()));
    assert_eq!(default.declared.fingerprint("sha256"), Some(shop_new.sha256.as_str()));
    let sni = find("elbv2", "web", "sni");
    assert_eq!(sni.location.endpoint.as_ref().and_then(|e| e.sni.as_deref()), Some("api.example.test"));
    assert_eq!(sni.declared.fingerprint("sha256"), Some(api.sha256.as_str()));

    // The NLB listener points at another certificate: that is what it declares.
    let nlb = find("elbv2", "shop-nlb", "default");
    assert_eq!(nlb.declared.provider_id.as_deref(), Some(arn("other").as_str()));
    assert_eq!(nlb.declared.fingerprint("sha256"), Some(other.sha256.as_str()));
    assert_eq!(nlb.extra["listener_protocol"], "TLS");

    // Regions are kept apart; IAM certificates join by ARN (ELB) and by id (CloudFront).
    assert_eq!(find("elbv2", "eu-web", "default").declared.fingerprint("sha256"), Some(europe.sha256.as_str()));
    assert_eq!(find("elbv2", "eu-web", "default").location.region.as_deref(), Some("eu-west-1"));
    let iam = find("iam", "legacy", "inventory");
    assert_eq!(iam.declared.fingerprint("sha256"), Some(legacy.sha256.as_str()));
    let legacy_not_after = iam.declared.not_after.unwrap();
    let from_now = legacy_not_after - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (59 * 86_400..61 * 86_400).contains(&from_now),
        "IAM expiry must come from the PEM, not moto's placeholder"
    );
    assert_eq!(find("elbv2", "classic-cert", "default").declared.fingerprint("sha256"), Some(legacy.sha256.as_str()));
    let legacy_alias = find("cloudfront", &cdn("legacy-cdn"), "legacy.example.test");
    assert_eq!(legacy_alias.declared.fingerprint("sha256"), Some(legacy.sha256.as_str()));

    // CloudFront: one binding per alias, probed under the alias; no alias means the default certificate.
    let alias = find("cloudfront", &cdn("shop-cdn"), "static.shop.example.test");
    assert_eq!(
        alias.location.endpoint.as_ref().map(|e| (e.host.as_str(), e.sni.as_deref())),
        Some(("static.shop.example.test", Some("static.shop.example.test")))
    );
    assert_eq!(alias.declared.fingerprint("sha256"), Some(shop_new.sha256.as_str()));
    let plain = find("cloudfront", &plain_cdn, &plain_cdn);
    assert_eq!(plain.declared.common_name.as_deref(), Some("*.cloudfront.net"));
    assert!(plain.xrefs.is_empty());

    let by_service: BTreeMap<&str, usize> = bindings.iter().fold(BTreeMap::new(), |mut m, b| {
        *m.entry(b.location.service.as_str()).or_default() += 1;
        m
    });
    assert_eq!(by_service, BTreeMap::from([("acm", 4), ("cloudfront", 4), ("elbv2", 5), ("iam", 1)]));
}

#[test]
fn without_regions_every_region_ec2_reports_is_a_scope() {
    let (_turn, url) = support::fresh_moto();
    let dir = tempfile::tempdir().unwrap();
    let credentials = support::credentials_file(dir.path());
    let source = support::open(&support::config(url, &credentials, json!({"services": ["acm", "cloudfront"]})));
    let scopes = source.scopes().unwrap();
    let ids: Vec<&str> = scopes.iter().map(|s| s.id.as_str()).collect();
    assert!(ids.len() > 10, "{ids:?}");
    for want in ["acm/us-east-1", "acm/eu-west-1", "acm/ap-southeast-2", "cloudfront"] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
    assert!(!ids.iter().any(|id| id.starts_with("elbv2/") || *id == "iam"));
}

#[test]
fn services_can_be_chosen_and_an_empty_account_lists_nothing() {
    let (_turn, url) = support::fresh_moto();
    let dir = tempfile::tempdir().unwrap();
    let credentials = support::credentials_file(dir.path());
    let source = support::open(&support::config(
        url,
        &credentials,
        json!({"regions": ["ap-southeast-2"], "services": ["acm", "iam"]}),
    ));
    let collected = support::collect_all(source);
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    assert!(collected.bindings.is_empty());
    assert_eq!(collected.stats[0].scopes, 2);
}

#[test]
fn each_binding_carries_the_tags_of_its_resource() {
    let (_turn, url) = support::fresh_moto();
    let shop = support::certificate(&["shop.tags.test"], 90, true);
    let api = support::certificate(&["api.tags.test"], 90, true);
    let plan = json!({
        "acm": [
            {"name": "shop", "region": "us-east-1", "pem": shop.pem, "key": shop.key,
             "tags": {"owner": "alice", "team": "shop", "pci": ""}},
            {"name": "api", "region": "us-east-1", "pem": api.pem, "key": api.key},
        ],
        "iam": [],
        "load_balancers": [
            {"name": "web", "region": "us-east-1", "type": "application", "tags": {"owner": "bob", "team": "edge"},
             "listeners": [{"protocol": "HTTPS", "port": 443, "default": "acm:shop", "sni": ["acm:api"],
                            "tags": {"team": "checkout"}}]},
            {"name": "plain", "region": "us-east-1", "type": "network",
             "listeners": [{"protocol": "TLS", "port": 8443, "default": "acm:api"}]},
        ],
        "distributions": [
            {"name": "cdn", "aliases": ["a.tags.test", "b.tags.test"], "certificate": "acm:shop",
             "tags": {"owner": "carol"}},
            {"name": "untagged", "aliases": ["c.tags.test"], "certificate": "acm:api"},
        ],
    });
    support::seed(&plan);
    let dir = tempfile::tempdir().unwrap();
    let credentials = support::credentials_file(dir.path());
    let config = support::config(url, &credentials, json!({"regions": ["us-east-1"]}));
    let collected = support::collect_all(support::open(&config));
    assert!(
        collected.errors.is_empty() && collected.warnings.is_empty(),
        "{:?} {:?}",
        collected.errors,
        collected.warnings
    );
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let mut got: Vec<(String, String, String, BTreeMap<String, String>)> = collected
        .bindings
        .iter()
        .map(|b| {
            assert!(b.extra.get("tags_error").is_none(), "{:?}", b.extra);
            let (service, name, _, role) = key(b);
            (service, name, role, b.tags.clone())
        })
        .collect();
    got.sort();
    let cdn = |alias: &str| ("cloudfront".to_owned(), alias.to_owned());
    let mut want = vec![
        // An ACM inventory binding: the certificate's own tags (a tag without a value is "").
        ("acm", "shop.tags.test", "inventory", tags(&[("owner", "alice"), ("team", "shop"), ("pci", "")])),
        ("acm", "api.tags.test", "inventory", tags(&[])),
        // A listener binding: its load balancer's tags, its listener's own on top.
        ("elbv2", "web", "default", tags(&[("owner", "bob"), ("team", "checkout")])),
        ("elbv2", "web", "sni", tags(&[("owner", "bob"), ("team", "checkout")])),
        ("elbv2", "plain", "default", tags(&[])),
    ]
    .into_iter()
    .map(|(s, n, r, t)| (s.to_owned(), n.to_owned(), r.to_owned(), t))
    .collect::<Vec<_>>();
    // Every alias of a distribution: the distribution's tags.
    for binding in collected.bindings.iter().filter(|b| b.location.service == "cloudfront") {
        let (service, alias) = cdn(binding.extra["alias"].as_str().unwrap());
        let owned = if alias == "c.tags.test" { tags(&[]) } else { tags(&[("owner", "carol")]) };
        want.push((service, binding.location.resource_name.clone().unwrap(), alias, owned));
    }
    want.sort();
    assert_eq!(got, want);
    assert_eq!(collected.bindings.iter().filter(|b| b.location.service == "cloudfront").count(), 3);

    // Switched off, no tag call is made and no binding carries tags.
    let off = support::config(url, &credentials, json!({"regions": ["us-east-1"], "tags": false}));
    let untagged = support::collect_all(support::open(&off));
    assert_eq!(untagged.bindings.len(), collected.bindings.len());
    assert!(untagged.bindings.iter().all(|b| b.tags.is_empty()));
}

#[test]
fn load_balancers_page_by_marker_when_there_are_more_than_a_page() {
    let (_turn, url) = support::fresh_moto();
    // 21 load balancers: one more than the plugin asks for per page (moto's
    // ACM ignores MaxItems, so ACM's NextToken is covered by a recorded answer).
    let shared = support::certificate(&["paging.example.test"], 30, true);
    let names: Vec<String> = (0..21).map(|i| format!("lb-{i:02}")).collect();
    let plan = json!({
        "acm": [{"name": "shared", "region": "us-east-1", "pem": shared.pem, "key": shared.key}],
        "iam": [], "distributions": [],
        // Tagged, so the first page's 20 load balancers and 20 listeners
        // take two DescribeTags calls (20 ARNs each).
        "load_balancers": names.iter().map(|name| json!({"name": name, "region": "us-east-1", "type": "application",
            "tags": {"lb": name}, "listeners": [{"protocol": "HTTPS", "port": 443, "default": "acm:shared",
            "tags": {"listener": format!("{name}-443")}}]})).collect::<Vec<Value>>(),
    });
    support::seed(&plan);
    let dir = tempfile::tempdir().unwrap();
    let credentials = support::credentials_file(dir.path());
    let source =
        support::open(&support::config(url, &credentials, json!({"regions": ["us-east-1"], "services": ["elbv2"]})));
    let collected = support::collect_all(source);
    assert!(collected.errors.is_empty() && collected.warnings.is_empty(), "{:?}", collected.errors);
    let mut seen: Vec<String> = collected.bindings.iter().filter_map(|b| b.location.resource_name.clone()).collect();
    seen.sort();
    assert_eq!(seen, names);
    assert_eq!(collected.stats[0].pages, 2, "{:?}", collected.stats[0]);
    for binding in &collected.bindings {
        let name = binding.location.resource_name.clone().unwrap();
        let want = BTreeMap::from([("lb".to_owned(), name.clone()), ("listener".to_owned(), format!("{name}-443"))]);
        assert_eq!(binding.tags, want, "{name}");
    }
}

#[test]
fn the_plugin_library_declares_exactly_what_the_linked_provider_declares() {
    let (_turn, url) = support::fresh_moto();
    let cert = support::certificate(&["both.example.test"], 90, true);
    let plan = json!({
        "acm": [{"name": "both", "region": "us-east-1", "pem": cert.pem, "key": cert.key}],
        "iam": [],
        "load_balancers": [{"name": "both", "region": "us-east-1", "type": "application",
            "listeners": [{"protocol": "HTTPS", "port": 443, "default": "acm:both"}]}],
        "distributions": [{"name": "both", "aliases": ["cdn.both.example.test"], "certificate": "acm:both"}],
    });
    support::seed(&plan);
    let dir = tempfile::tempdir().unwrap();
    let credentials = support::credentials_file(dir.path());
    let config = support::config(url, &credentials, json!({"regions": ["us-east-1"]}));
    let sorted = |mut bindings: Vec<Binding>| {
        bindings.sort_by_cached_key(|b| serde_json::to_string(b).unwrap());
        bindings
    };
    let linked = support::collect_all(support::open(&config));
    let loaded = support::collect_all(support::open_from(&support::dynamic_registry(), &config));
    assert!(loaded.errors.is_empty() && loaded.warnings.is_empty(), "{:?} {:?}", loaded.errors, loaded.warnings);
    assert_eq!(linked.bindings.len(), 3);
    assert_eq!(sorted(loaded.bindings), sorted(linked.bindings));
}

/// The leaf of an issued chain as PEM, and its key.
fn leaf_and_key(issued: &Issued) -> (String, String) {
    let chain = issued.chain_pem();
    let end = "-----END CERTIFICATE-----";
    let leaf = &chain[..chain.find(end).unwrap() + end.len()];
    (format!("{leaf}\n"), issued.key_pem())
}

#[test]
fn the_engine_finds_the_planted_aws_drift_on_real_tls_servers() {
    let (_turn, url) = support::fresh_moto();
    let ca = TestCa::new("certinspect AWS drift CA").unwrap();
    let days = |from: i64, to: i64| {
        let now = time::OffsetDateTime::now_utc();
        Validity { not_before: now - time::Duration::days(from), not_after: now + time::Duration::days(to) }
    };
    let shop_old = ca.issue(&["shop.example.test"], days(300, 60)).unwrap();
    let shop_new = ca.issue(&["shop.example.test"], days(1, 365)).unwrap();
    let api = ca.issue(&["api.example.test"], days(1, 200)).unwrap();
    let other = ca.issue(&["other.example.test"], days(1, 200)).unwrap();
    let acm = |name: &str, issued: &Issued, reimport_of: Option<&str>| {
        let (pem, key) = leaf_and_key(issued);
        json!({"name": name, "region": "us-east-1", "pem": pem, "key": key, "reimport_of": reimport_of})
    };
    let plan = json!({
        "acm": [acm("shop", &shop_old, None), acm("api", &api, None), acm("other", &other, None),
                acm("shop-renewed", &shop_new, Some("shop"))],
        "iam": [], "distributions": [],
        "load_balancers": [
            {"name": "web", "region": "us-east-1", "type": "application", "listeners": [
                {"protocol": "HTTPS", "port": 443, "default": "acm:shop", "sni": ["acm:api"]}]},
            {"name": "shop-nlb", "region": "us-east-1", "type": "network", "listeners": [
                {"protocol": "TLS", "port": 8443, "default": "acm:other"}]},
        ],
    });
    let seeded = support::seed(&plan);

    // What is really served: the ALB still serves the certificate ACM's
    // re-import replaced (STALE) and the right SNI certificate (MATCH); the
    // NLB serves the shop certificate although it declares another (FOREIGN).
    let farm = Farm::start(FarmSpec {
        endpoints: vec![
            EndpointSpec::new(
                "web",
                EndpointMode::Tls(TlsEndpoint {
                    default: Some(shop_old.source()),
                    sni: vec![SniEntry { names: vec!["api.example.test".into()], cert: api.source() }],
                    ..TlsEndpoint::default()
                }),
            ),
            EndpointSpec::new("nlb", EndpointMode::Tls(TlsEndpoint::single(shop_new.source()))),
        ],
        ..FarmSpec::default()
    })
    .unwrap();
    let dns = |lb: &str| seeded["load_balancers"][lb]["dns_name"].as_str().unwrap().to_owned();
    let connect_to = vec![
        ConnectTo::new(&dns("web"), 443, farm.addr("web").unwrap()),
        ConnectTo::new(&dns("shop-nlb"), 8443, farm.addr("nlb").unwrap()),
    ];

    let dir = tempfile::tempdir().unwrap();
    let credentials = support::credentials_file(dir.path());
    let source = support::open(&support::config(
        url,
        &credentials,
        json!({"regions": ["us-east-1"], "services": ["acm", "elbv2"]}),
    ));
    let collected = support::collect_all(source);
    assert!(collected.errors.is_empty() && collected.warnings.is_empty(), "{:?}", collected.errors);
    let mut options = VerifyOptions::default();
    options.trust = Arc::new(TrustStore::from_der(vec![ca.der().to_vec()]).unwrap());
    options.connect_to = connect_to;
    options.probe.connect_timeout = Duration::from_secs(2);
    options.probe.handshake_timeout = Duration::from_secs(3);
    let report = verify(VerifyInput::bindings(collected.bindings), &options);
    drop(farm);

    let verdict = |lb: &str, role: &str| {
        let found = report
            .bindings
            .iter()
            .find(|b| {
                b.binding.location.resource_name.as_deref() == Some(lb) && b.binding.extra["certificate_role"] == role
            })
            .unwrap_or_else(|| panic!("no {lb} {role} binding"));
        assert_eq!(found.results.len(), 1, "{lb} {role}: {:?}", found.results);
        found.results[0].verdict
    };
    assert_eq!(verdict("web", "default"), Verdict::Stale);
    assert_eq!(verdict("web", "sni"), Verdict::Match);
    assert_eq!(verdict("shop-nlb", "default"), Verdict::Foreign);
    // ACM inventory bindings are not probed themselves.
    assert!(report.bindings.iter().filter(|b| b.binding.location.service == "acm").all(|b| b.results.is_empty()));
}

#[test]
fn with_authentication_on_requests_verify_and_the_documented_policy_is_enough() {
    let (_turn, url) = support::fresh_moto();
    let cert = support::certificate(&["auth.example.test"], 90, true);
    let legacy = support::certificate(&["legacy-auth.example.test"], 90, true);
    let policy = support::documented_policy();
    let without = |actions: &[&str]| {
        let mut policy: Value = serde_json::from_str(&policy).unwrap();
        policy["Statement"][0]["Action"].as_array_mut().unwrap().retain(|a| !actions.iter().any(|x| a == x));
        policy.to_string()
    };
    let plan = json!({
        "acm": [{"name": "auth", "region": "us-east-1", "pem": cert.pem, "key": cert.key, "tags": {"owner": "alice"}}],
        "iam": [{"name": "legacy-auth", "pem": legacy.pem, "key": legacy.key}],
        "load_balancers": [{"name": "auth", "region": "us-east-1", "type": "application", "tags": {"owner": "bob"},
            "listeners": [{"protocol": "HTTPS", "port": 443, "default": "acm:auth"}]}],
        "users": [
            {"name": "certinspect-reader", "policy": policy},
            {"name": "almost-reader", "policy": without(&["acm:GetCertificate"])},
            {"name": "tagless-reader", "policy": without(&["acm:ListTagsForCertificate", "elasticloadbalancing:DescribeTags"])},
        ],
    });
    let seeded = support::seed(&plan);
    support::set_authentication(true);
    let dir = tempfile::tempdir().unwrap();
    let run = |user: &str, secret: Option<&str>| {
        let keys = &seeded["users"][user];
        let secret = secret.unwrap_or_else(|| keys["secret_access_key"].as_str().unwrap());
        let credentials = support::credentials_for(dir.path(), "moto", keys["access_key_id"].as_str().unwrap(), secret);
        // moto cannot check CloudFront signatures (boto3's own ListDistributions
        // is refused there too), so CloudFront is left out of this test.
        let config = support::config(
            url,
            &credentials,
            json!({"regions": ["us-east-1"], "services": ["acm", "elbv2", "iam"], "max_attempts": 1}),
        );
        support::collect_all(support::open(&config))
    };

    // moto recomputes every signature with botocore and evaluates the
    // user's policy: the documented policy lists everything the plugin calls.
    let reader = run("certinspect-reader", None);
    assert!(reader.errors.is_empty() && reader.warnings.is_empty(), "{:?} {:?}", reader.errors, reader.warnings);
    assert_eq!(reader.bindings.len(), 3, "ACM, ELB listener, IAM");
    assert!(reader.bindings.iter().any(|b| b.declared.fingerprint("sha256") == Some(cert.sha256.as_str())));
    let owners: BTreeMap<&str, Option<&str>> = reader
        .bindings
        .iter()
        .map(|b| (b.location.service.as_str(), b.tags.get("owner").map(String::as_str)))
        .collect();
    assert_eq!(owners, BTreeMap::from([("acm", Some("alice")), ("elbv2", Some("bob")), ("iam", None)]));

    // Without the tag permissions every binding is still listed, without
    // tags, each saying why, and one warning per page says how many.
    let tagless = run("tagless-reader", None);
    assert!(tagless.errors.is_empty(), "{:?}", tagless.errors);
    assert_eq!(tagless.bindings.len(), 3, "ACM, ELB listener, IAM");
    for binding in tagless.bindings.iter().filter(|b| b.location.service != "iam") {
        assert!(binding.tags.is_empty(), "{:?}", binding.tags);
        let why = binding.extra["tags_error"].as_str().unwrap_or_default();
        assert!(why.starts_with("the tags could not be read:") && why.contains("AccessDenied"), "{why}");
    }
    let warnings: Vec<&str> = tagless.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "the tags of 1 ACM certificates could not be read (ACM ListTagsForCertificate failed: AccessDenied"
        )),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "the tags of 2 load balancers and listeners could not be read (ELBv2 DescribeTags failed: AccessDenied"
        )),
        "{warnings:?}"
    );

    // Without acm:GetCertificate the certificate's identity is lost, and said so.
    let almost = run("almost-reader", None);
    assert!(almost.errors.is_empty(), "{:?}", almost.errors);
    let warnings: Vec<&str> = almost.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(warnings.iter().any(|w| w.contains("GetCertificate") && w.contains("AccessDenied")), "{warnings:?}");

    // A wrong secret is refused as a credentials problem, and never shown.
    let wrong = run("certinspect-reader", Some("not-the-secret-at-all"));
    support::set_authentication(false);
    assert!(!wrong.errors.is_empty());
    for error in &wrong.errors {
        assert!(error.message.starts_with("credentials error:"), "{}", error.message);
        assert!(error.message.contains("SignatureDoesNotMatch"), "{}", error.message);
        assert!(!error.message.contains("not-the-secret-at-all"));
    }
}
