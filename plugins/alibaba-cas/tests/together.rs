//! The three Alibaba plugins together, as `inspect` runs them: linked
//! statically into this one test binary and loaded as dynamic libraries,
//! collected by the host's own loop, joined by the core.

use certinspect_test_support::alibaba::{self as support, Isolation};

use std::sync::Arc;
use std::time::Instant;

use certinspect_alibaba_cas::AlibabaCasProvider;
use certinspect_alibaba_cdn::AlibabaCdnProvider;
use certinspect_alibaba_slb::AlibabaSlbProvider;
use certinspect_core::collect::Collected;
use certinspect_core::join::join;
use certinspect_core::plugins::{OpenedSource, PluginOrigin};
use certinspect_sdk::{error_kind, static_module, Binding, Tristate};
use serde_json::{json, Value};

const CDN: &str = certinspect_alibaba_cdn::PLUGIN_NAME;
const SLB: &str = certinspect_alibaba_slb::PLUGIN_NAME;
const CAS: &str = certinspect_alibaba_cas::PLUGIN_NAME;

/// The three providers under `isolation` (linked in, or their libraries in child processes).
fn static_registry(isolation: Isolation) -> support::Plugins {
    support::registry(
        isolation,
        [
            static_module::<AlibabaCdnProvider>(),
            static_module::<AlibabaSlbProvider>(),
            static_module::<AlibabaCasProvider>(),
        ],
    )
}

/// The three plugin libraries, loaded from files, run under `isolation`.
fn dynamic_registry(isolation: Isolation) -> support::Plugins {
    let registry = support::libraries(isolation, [CDN, SLB, CAS]);
    assert!(registry.plugins().iter().all(|p| matches!(p.origin(), PluginOrigin::File(_))));
    registry
}

/// All three plugins opened on `served`; `slb` and `cas` settings added.
fn open_all(
    registry: &support::Plugins,
    served: &support::Served,
    regions: &[&str],
    extra: Value,
) -> Vec<Arc<OpenedSource>> {
    vec![
        support::open(registry, CDN, &served.config(extra.clone())),
        support::open(registry, SLB, &served.config(merge(json!({ "regions": regions }), &extra))),
        support::open(registry, CAS, &served.config(extra)),
    ]
}

fn merge(mut base: Value, extra: &Value) -> Value {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    base
}

fn check_exactly_once(served: &support::Served, collected: &Collected) {
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    assert!(collected.warnings.is_empty(), "{:?}", collected.warnings);
    assert_eq!(support::resource_ids(collected, CDN), support::expected_cdn(&served.world));
    let mut slb: Vec<support::SlbKey> =
        collected.bindings.iter().filter(|b| b.location.plugin == SLB).map(support::slb_key).collect();
    slb.sort();
    assert_eq!(slb, support::expected_slb(&served.world));
    assert_eq!(support::resource_ids(collected, CAS), support::expected_cas(&served.world));
}

fn sorted(mut bindings: Vec<Binding>) -> Vec<Binding> {
    bindings.sort_by_cached_key(|b| serde_json::to_string(b).unwrap());
    bindings
}

fn a_one_certificate_world_through_all_three(isolation: Isolation) {
    let served = support::served_world(1, 41, &["cn-hangzhou"], false);
    let collected = support::collect_all(&open_all(&static_registry(isolation), &served, &["cn-hangzhou"], json!({})));
    check_exactly_once(&served, &collected);
    let counts: Vec<(&str, usize)> = collected.stats.iter().map(|s| (s.plugin.as_str(), s.bindings)).collect();
    assert_eq!(counts, [(CDN, 1), (SLB, 0), (CAS, 1)]);
}

fn ten_thousand_certificates_through_all_three_exactly_once(isolation: Isolation) {
    let regions = ["cn-hangzhou", "cn-shanghai", "cn-beijing"];
    let started = Instant::now();
    let (dir, world) = support::world(10_000, 42, &regions, true);
    let generated = started.elapsed();
    let served = support::serve(dir, world, alibaba_emulator::EmulatorConfig::default());
    let certificates = served.world.accounts[0].cas.certificates.len();
    let expired = served.world.accounts[0]
        .cas
        .certificates
        .iter()
        .filter(|c| support::unix(&c.not_after) < time::OffsetDateTime::now_utc().unix_timestamp())
        .count();
    assert!(certificates >= 10_000 && expired >= 2_000, "{certificates} CAS certificates, {expired} expired");

    // As the host runs them: all scopes of all three plugins at once, four at a time,
    // with CAS reading both orders and ListInstances.
    let registry = static_registry(isolation);
    let started = Instant::now();
    let collected = support::collect_all(&[
        // CAS at 100 rows per call and no per-domain CDN detail: this test is
        // about every row arriving once; at the documented defaults (20 to 50
        // rows per call at 10 QPS, one detail call per domain at 100 QPS) it
        // would take minutes. The join tests cover the detail calls.
        support::open(&registry, CDN, &served.config(json!({ "certificate_info": "none", "page_size": 500 }))),
        support::open(&registry, SLB, &served.config(json!({ "regions": regions }))),
        support::open(&registry, CAS, &served.config(json!({ "page_size": 100 }))),
    ]);
    let elapsed = started.elapsed();
    check_exactly_once(&served, &collected);
    let stats = served.emulator.stats();
    eprintln!("generated {certificates} CAS certificates ({expired} expired) in {generated:?}");
    for s in &collected.stats {
        eprintln!("{}: {} bindings in {} pages", s.plugin, s.bindings, s.pages);
    }
    let throttled: Vec<(&String, u64)> =
        stats.by_action.iter().filter_map(|(a, s)| s.refused.get("Throttling.User").map(|n| (a, *n))).collect();
    eprintln!("collected in {elapsed:?}; emulator: {} requests, throttled {throttled:?}", stats.total_requests);
    assert_eq!(stats.key_material_returned, 0);
    assert_eq!(stats.requests("GetUserCertificateDetail"), 0);
}

fn the_join_gives_cdn_domains_cas_serials_and_slb_listeners_cas_auto_management(isolation: Isolation) {
    let regions = ["cn-hangzhou", "cn-shanghai"];
    let served = support::served_world(150, 43, &regions, true);
    let mut collected = support::collect_all(&open_all(&static_registry(isolation), &served, &regions, json!({})));
    check_exactly_once(&served, &collected);
    let outcome = join(&mut collected.bindings);
    assert!(outcome.issues.is_empty(), "{:?}", outcome.issues);

    let account = &served.world.accounts[0];
    let (mut cdn_joined, mut slb_managed) = (0, 0);
    for binding in &collected.bindings {
        match binding.location.plugin.as_str() {
            "alibaba-cdn" => {
                let domain =
                    account.cdn_domains.iter().find(|d| d.domain_name == binding.location.resource_id).unwrap();
                if domain.cert_type != "cas" {
                    continue;
                }
                let cas = account
                    .cas
                    .certificates
                    .iter()
                    .find(|c| Some(c.certificate_id) == domain.cas_certificate_id)
                    .unwrap();
                let material = served.world.material(cas.material.as_deref().unwrap()).unwrap();
                assert_eq!(
                    binding.declared.serial.as_deref(),
                    Some(material.serial.as_str()),
                    "{}",
                    domain.domain_name
                );
                assert_eq!(binding.declared.fingerprint("sha256"), Some(material.sha256.as_str()));
                cdn_joined += 1;
            }
            "alibaba-slb" if !binding.xrefs.is_empty() => {
                let id: i64 = binding.xrefs[0].value.parse().unwrap();
                let cas = account.cas.certificates.iter().find(|c| c.certificate_id == id).unwrap();
                let order = account.cas.orders.iter().find(|o| o.instance_id == cas.instance_id);
                let expected = match order {
                    Some(o) if o.trustee || o.auto_reissue => Tristate::Yes,
                    Some(_) => Tristate::No,
                    None => Tristate::No,
                };
                assert_eq!(binding.declared.auto_managed, expected, "{:?}", binding.location);
                slb_managed += usize::from(expected == Tristate::Yes);
                assert!(binding.declared.fingerprint("sha256").is_some());
            }
            _ => {}
        }
    }
    assert!(cdn_joined >= 20 && slb_managed >= 5, "{cdn_joined} CDN domains joined, {slb_managed} SLB auto-managed");

    // The renewed auto-managed certificate the deployment does not use yet:
    // the deployment is auto-managed, and a newer certificate for the same
    // names is among the bindings, which is what the core flags.
    let drift = served.world.manifest.iter().find(|d| d.kind == "auto_managed_not_deployed").unwrap();
    let deployment = collected
        .bindings
        .iter()
        .find(|b| {
            b.location.service == drift.service
                && b.location.resource_id == drift.resource
                && b.location.endpoint.as_ref().and_then(|e| e.sni.as_deref()) == Some(drift.sni.as_str())
        })
        .unwrap();
    assert_eq!(deployment.declared.auto_managed, Tristate::Yes);
    let renewed = drift.cas_certificate_ids[1].to_string();
    let newer =
        collected.bindings.iter().find(|b| b.location.plugin == CAS && b.location.resource_id == renewed).unwrap();
    assert!(newer.declared.not_before > deployment.declared.not_before);
    assert_eq!(newer.declared.common_name, deployment.declared.common_name);
}

fn linked_statically_and_loaded_dynamically_they_give_the_same_bindings(isolation: Isolation) {
    let regions = ["cn-hangzhou", "cn-beijing"];
    let served = support::served_world(60, 44, &regions, true);
    let statically =
        support::collect_all(&open_all(&static_registry(Isolation::InProcess), &served, &regions, json!({})));
    check_exactly_once(&served, &statically);
    let dynamic = dynamic_registry(isolation);
    let infos: Vec<&str> = dynamic.plugins().iter().map(|p| p.info().name.as_str()).collect();
    assert_eq!(infos, [CDN, SLB, CAS]);
    let dynamically = support::collect_all(&open_all(&dynamic, &served, &regions, json!({})));
    check_exactly_once(&served, &dynamically);
    assert_eq!(sorted(statically.bindings), sorted(dynamically.bindings));
    let source = support::open(&dynamic, CAS, &served.config(json!({})));
    let serials = vec![served.world.accounts[0].pca[0].serial_number.clone()];
    assert_eq!(source.lookup_revocation(&serials).unwrap().len(), 1);
}

fn an_unreachable_endpoint_and_a_refused_credential_are_one_error_per_plugin_and_scope(isolation: Isolation) {
    let regions = ["cn-hangzhou", "cn-shanghai"];
    let served = support::served_world(30, 45, &regions, false);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let registry = static_registry(isolation);
    let cdn = support::open(&registry, CDN, &support::config_for(&closed, &served.credentials, "default", json!({})));
    let slb_config =
        support::config_for(&served.emulator.url(), &served.credentials, "disabled", json!({ "regions": regions }));
    let slb = support::open(&registry, SLB, &slb_config);
    let cas = support::open(&registry, CAS, &served.config(json!({})));
    let collected = support::collect_all(&[cdn, slb, cas]);

    assert_eq!(support::resource_ids(&collected, CAS), support::expected_cas(&served.world), "CAS still arrives");
    let errors: Vec<(String, Option<String>)> =
        collected.errors.iter().map(|e| (e.plugin.clone(), e.scope.clone())).collect();
    assert_eq!(
        errors,
        [
            (CDN.to_owned(), Some("CDN, account test".to_owned())),
            (SLB.to_owned(), Some("SLB cn-hangzhou, account test".to_owned())),
            (SLB.to_owned(), Some("SLB cn-shanghai, account test".to_owned())),
        ]
    );
    let keys = &served.world.accounts[0].access_keys;
    for error in &collected.errors {
        for key in keys {
            assert!(!error.message.contains(&key.id) && !error.message.contains(&key.secret), "{}", error.message);
        }
        assert!(!error.message.contains("Signature="), "{}", error.message);
    }
    assert!(
        collected.errors[0].message.contains("transport error") && collected.errors[0].message.contains("127.0.0.1"),
        "{}",
        collected.errors[0].message
    );
    for error in &collected.errors[1..] {
        assert!(
            error.message.contains("Forbidden.AccessKeyDisabled") && error.message.contains("credentials were refused"),
            "{}",
            error.message
        );
    }
    // The kind travels with the error (the CLI maps it to its exit code).
    let refused = support::open(&registry, SLB, &slb_config).list_page("cn-hangzhou", None).unwrap_err();
    assert_eq!(refused.error.kind, error_kind::CREDENTIALS);
}

fn a_missing_profile_is_one_clear_error_at_open(isolation: Isolation) {
    let served = support::served_world(1, 46, &["cn-hangzhou"], false);
    let registry = static_registry(isolation);
    let config = support::config_for(&served.emulator.url(), &served.credentials, "nobody", json!({}));
    let error = support::try_open(&registry, CDN, &config).unwrap_err();
    assert_eq!(error.error.kind, error_kind::CREDENTIALS);
    assert!(
        error.error.message.contains("credentials.profile \"nobody\"") && error.error.message.contains("[nobody]"),
        "{}",
        error.error.message
    );
}

#[test]
fn no_async_runtime_http_or_tls_stack_in_the_plugin_libraries() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_owned();
    for plugin in ["cdn", "slb", "cas"] {
        let output = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&root)
            .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "-p"])
            .arg(format!("certinspect-alibaba-{plugin}-dylib"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let tree = String::from_utf8_lossy(&output.stdout);
        assert!(tree.contains("alibaba-openapi"), "{tree}");
        for banned in ["tokio ", "reqwest ", "rustls ", "hyper ", "certinspect-core "] {
            assert!(!tree.lines().any(|l| l.starts_with(banned)), "{plugin} depends on {banned}");
        }
    }
}

fn the_documented_examples_pass_the_schemas_and_the_plugins_own_checks(isolation: Isolation) {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ALIBABA.md");
    let text = std::fs::read_to_string(docs).unwrap();
    let registry = static_registry(isolation);
    let mut seen = Vec::new();
    for block in text.split("```toml").skip(1) {
        let block = block.split("```").next().unwrap();
        let file: toml::Table = toml::from_str(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        for source in file["source"].as_array().unwrap() {
            let plugin = source["plugin"].as_str().unwrap();
            let config: Value = serde_json::to_value(&source["config"]).unwrap();
            let errors = certinspect_core::schema::validate(&registry.get(plugin).info().config_schema, &config);
            assert!(errors.is_empty(), "{plugin}: {errors:?}");
            // The profiles named in the examples do not exist here: opening
            // may fail on credentials, never on the configuration.
            if let Err(e) = support::try_open(&registry, plugin, &config) {
                assert_eq!(e.error.kind, error_kind::CREDENTIALS, "{plugin}: {e}");
            }
            seen.push(plugin.to_owned());
        }
    }
    assert_eq!(seen, [CDN, SLB, CAS]);
    // And a bad one fails both checks, naming the field.
    let bad = json!({ "page_size": 501 });
    let errors = certinspect_core::schema::validate(&registry.get(CDN).info().config_schema, &bad);
    assert_eq!(errors[0].to_string(), "page_size: expected at most 500, found 501");
    let error = support::try_open(&registry, CDN, &bad).unwrap_err();
    assert_eq!(error.error.kind, error_kind::INVALID_CONFIG);
    assert_eq!(error.error.message, "page_size: expected an integer from 1 to 500, found 501");
}

fn ecs_role_credentials_and_v1_signatures_work_too(isolation: Isolation) {
    let served = support::served_world(20, 47, &["cn-hangzhou"], false);
    let url = served.emulator.url();
    let config = json!({
        "credentials": { "ecs_ram_role": served.world.ecs_metadata.as_ref().unwrap().role_name },
        "credential_endpoints": { "ecs_metadata": url },
        "endpoint": url,
        "signature_version": "v1",
    });
    let registry = static_registry(isolation);
    let collected = support::collect_all(&[support::open(&registry, CAS, &config)]);
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    assert_eq!(support::resource_ids(&collected, CAS), support::expected_cas(&served.world));
    assert_eq!(
        collected.bindings[0].location.account,
        format!("ecs:{}", served.world.ecs_metadata.as_ref().unwrap().role_name)
    );
    let stats = served.emulator.stats();
    let signed: Vec<&str> = stats
        .requests
        .iter()
        .filter(|r| r.action == "ListUserCertificateOrder")
        .map(|r| r.signature.as_str())
        .collect();
    assert!(!signed.is_empty() && signed.iter().all(|s| *s == "v1"), "{signed:?}");

    // A role the instance does not have: one clear credentials error.
    let wrong = json!({
        "credentials": { "ecs_ram_role": "no-such-role" },
        "credential_endpoints": { "ecs_metadata": url },
        "endpoint": url,
    });
    let collected = support::collect_all(&[support::open(&registry, CAS, &wrong)]);
    assert_eq!(collected.errors.len(), 1, "{:?}", collected.errors);
    assert!(collected.errors[0].message.contains("ECS metadata"), "{}", collected.errors[0].message);
}

/// The RAM actions of the policy in docs/ALIBABA.md ("Least-privilege RAM permissions").
fn documented_policy() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ALIBABA.md")).unwrap();
    let section = doc.split("## Least-privilege RAM permissions").nth(1).expect("the section");
    let json = section.split("```json").nth(1).and_then(|rest| rest.split("```").next()).expect("the policy");
    let policy: Value = serde_json::from_str(json).expect("the documented policy is JSON");
    policy["Statement"][0]["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
}

/// The documented least-privilege policy is enough for all three plugins
/// with their defaults, and every action in it is needed: without it, the
/// plugin that calls it fails its scope with one error naming the action
/// (the CDN tag call: one warning, the domains listed untagged).
fn the_documented_least_privilege_policy_is_enough_and_every_action_in_it_is_needed(isolation: Isolation) {
    let policy = documented_policy();
    assert!(policy.len() >= 10, "{policy:?}");
    let (dir, mut world) = support::world(30, 46, &["cn-hangzhou"], false);
    world.accounts[0].access_keys[0].permissions = Some(policy.clone());
    let served = support::serve(dir, world, alibaba_emulator::EmulatorConfig::default());
    let registry = static_registry(isolation);
    let open = |plugin: &str| support::open(&registry, plugin, &served.config(json!({})));
    let collected = support::collect_all(&[open(CDN), open(SLB), open(CAS)]);
    check_exactly_once(&served, &collected);
    let serial = served.world.accounts[0].pca[0].serial_number.clone();
    assert_eq!(open(CAS).lookup_revocation(std::slice::from_ref(&serial)).unwrap().len(), 1);

    for missing in &policy {
        let allowed: Vec<String> = policy.iter().filter(|a| *a != missing).cloned().collect();
        served.emulator.update_world(|w| w.accounts[0].access_keys[0].permissions = Some(allowed));
        let plugin = match missing.split(':').next().unwrap() {
            "cdn" => CDN,
            "slb" => SLB,
            "yundun-cert" => CAS,
            other => panic!("an action of an unknown product in the policy: {other}"),
        };
        let action = missing.split(':').nth(1).unwrap();
        if action == "DescribeClientCertificateStatusForSerialNumber" {
            let error = open(CAS).lookup_revocation(std::slice::from_ref(&serial)).unwrap_err();
            assert_eq!(error.error.kind, error_kind::CREDENTIALS, "{}", error.error.message);
            continue;
        }
        let collected = support::collect_all(&[open(plugin)]);
        if action == "DescribeTagResources" {
            // Tags decide no verdict: without them the domains are all listed, untagged, with one warning.
            assert!(collected.errors.is_empty(), "without {missing}: {:?}", collected.errors);
            assert_eq!(support::resource_ids(&collected, CDN), support::expected_cdn(&served.world));
            let warnings: Vec<&str> = collected.warnings.iter().map(|w| w.message.as_str()).collect();
            assert_eq!(warnings.len(), 1, "without {missing}: {warnings:?}");
            assert!(warnings[0].contains("RAM permission") && warnings[0].contains(action), "{}", warnings[0]);
            continue;
        }
        let messages: Vec<&str> = collected.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages.len(), 1, "without {missing}: {messages:?} {:?}", collected.warnings);
        assert!(
            messages[0].contains("RAM permission") && messages[0].contains(action),
            "without {missing}: {}",
            messages[0]
        );
        assert!(collected.warnings.is_empty(), "without {missing}: {:?}", collected.warnings);
    }
}

certinspect_test_support::under_both_isolations!(
    a_one_certificate_world_through_all_three,
    ten_thousand_certificates_through_all_three_exactly_once,
    the_join_gives_cdn_domains_cas_serials_and_slb_listeners_cas_auto_management,
    linked_statically_and_loaded_dynamically_they_give_the_same_bindings,
    an_unreachable_endpoint_and_a_refused_credential_are_one_error_per_plugin_and_scope,
    a_missing_profile_is_one_clear_error_at_open,
    the_documented_examples_pass_the_schemas_and_the_plugins_own_checks,
    ecs_role_credentials_and_v1_signatures_work_too,
    the_documented_least_privilege_policy_is_enough_and_every_action_in_it_is_needed,
);
