//! Providers linked statically into one binary go through the same
//! interface as dynamic ones. This test binary links two provider crates
//! whose `cdylib` exports also exist in the workspace: if the export pattern
//! were wrong, it would not link (duplicate root-module symbol).

use certinspect_core::host::{CancelFlag, Host, HttpTransport, TransportConfig};
use certinspect_core::plugins::{PluginOrigin, PluginRegistry, PluginSearchPath};
use certinspect_protocol::Binding;

fn list_all(registry: &PluginRegistry, name: &str) -> Vec<Binding> {
    let host = Host::new(HttpTransport::new(TransportConfig::default()).unwrap(), CancelFlag::default());
    let source = registry.get(name).unwrap().open(&serde_json::json!({}), host.for_plugin(name)).unwrap();
    let mut bindings = Vec::new();
    for scope in source.scopes().unwrap() {
        let mut cursor = None;
        loop {
            let page = source.list_page(&scope.id, cursor.as_deref()).unwrap();
            bindings.extend(page.bindings);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    bindings
}

#[test]
fn two_statically_linked_providers_register_and_answer() {
    let mut registry = PluginRegistry::new();
    registry.add_static(certinspect_sdk::static_module::<static_provider_alpha::Alpha>());
    registry.add_static(certinspect_sdk::static_module::<static_provider_beta::Beta>());
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    assert!(registry.plugins().iter().all(|p| p.origin() == &PluginOrigin::Static));
    let alpha: Vec<_> = list_all(&registry, "test-alpha").into_iter().map(|b| b.location.resource_id).collect();
    let beta: Vec<_> = list_all(&registry, "test-beta").into_iter().map(|b| b.location.resource_id).collect();
    assert_eq!(alpha, ["only-1", "only-2"]);
    assert_eq!(beta, ["only-1", "only-2"]);
}

#[test]
fn a_provider_gives_the_same_bindings_linked_statically_and_loaded_dynamically() {
    let mut static_registry = PluginRegistry::new();
    static_registry.add_static(certinspect_sdk::static_module::<static_provider_alpha::Alpha>());

    let artifacts = certinspect_e2e::workspace_artifacts();
    let mut dynamic_registry = PluginRegistry::new();
    dynamic_registry.load_file(&artifacts.join(certinspect_e2e::library_file_name("test_provider_alpha")));
    dynamic_registry.load_file(&artifacts.join(certinspect_e2e::library_file_name("test_provider_beta")));
    assert!(dynamic_registry.failures().is_empty(), "{:?}", dynamic_registry.failures());
    assert_eq!(dynamic_registry.plugins().len(), 2);

    assert_eq!(list_all(&static_registry, "test-alpha"), list_all(&dynamic_registry, "test-alpha"));
}

#[test]
fn a_library_replaces_the_built_in_provider_of_the_same_name_visibly() {
    let mut registry = PluginRegistry::new();
    registry.add_static(certinspect_sdk::static_module::<static_provider_alpha::Alpha>());
    let artifacts = certinspect_e2e::workspace_artifacts();
    registry.load_search_path(&PluginSearchPath::new(vec![artifacts.to_owned()]));
    assert!(registry.failures().iter().all(|f| !f.reason.contains("test-alpha")), "{:?}", registry.failures());
    let alpha = registry.get("test-alpha").expect("test-alpha is loaded");
    assert!(matches!(alpha.origin(), PluginOrigin::File(_)), "{}", alpha.origin());
    let replaced = registry.replaced();
    assert_eq!(replaced.len(), 1);
    assert_eq!(replaced[0].info.name, "test-alpha");
    assert!(registry.get("test-beta").is_some());

    // Two built-in providers of one name are a conflict, reported.
    let mut registry = PluginRegistry::new();
    registry.add_static(certinspect_sdk::static_module::<static_provider_alpha::Alpha>());
    registry.add_static(certinspect_sdk::static_module::<static_provider_alpha::Alpha>());
    let failure = registry.failures().iter().find(|f| f.reason.contains("duplicate plugin name 'test-alpha'"));
    assert!(failure.is_some(), "{:?}", registry.failures());
}

#[test]
fn the_host_names_the_plugin_of_every_collected_binding() {
    use certinspect_core::collect::{collect, CollectOptions};
    let mut registry = PluginRegistry::new();
    registry.add_static(certinspect_sdk::static_module::<static_provider_alpha::Alpha>());
    registry.add_static(certinspect_sdk::static_module::<static_provider_beta::Beta>());
    let host = Host::new(HttpTransport::new(TransportConfig::default()).unwrap(), CancelFlag::default());
    let sources: Vec<_> = ["test-alpha", "test-beta"]
        .iter()
        .map(|name| {
            let plugin = registry.get(name).unwrap();
            std::sync::Arc::new(plugin.open(&serde_json::json!({}), host.for_plugin(name)).unwrap())
        })
        .collect();
    // Both providers leave `Location::plugin` empty; the host fills it in.
    let collected = collect(&sources, &CollectOptions::default());
    let plugins: Vec<_> = collected.bindings.iter().map(|b| b.location.plugin.as_str()).collect();
    assert_eq!(plugins, ["test-alpha", "test-alpha", "test-beta", "test-beta"]);
}

#[test]
fn a_page_warning_is_a_source_warning_finding_of_a_scan_and_of_a_scan_of_its_inventory() {
    use certinspect_core::bindings_file::{parse_inventory, InventoryHeader};
    use certinspect_core::findings::FindingCode;
    use certinspect_core::report::Report;
    use certinspect_core::scan::{inventory, scan, ScanOptions, SourceSpec};
    use certinspect_core::shard::Shard;
    use certinspect_core::verify::{verify, NoObserver, VerifyInput};

    let mut registry = PluginRegistry::new();
    registry.add_static(certinspect_sdk::static_module::<static_provider_alpha::Alpha>());
    let warning = "the tags of only-2 could not be read: access denied";
    let specs = [SourceSpec::new("test-alpha", serde_json::json!({ "warning": warning }))];
    let options = ScanOptions::default();
    let warnings_of = |report: &Report| -> Vec<(String, Option<String>, String)> {
        let found = report.findings.iter().filter(|f| f.code == FindingCode::SourceWarning);
        found.map(|f| (f.message.clone(), f.place.clone(), f.evidence.to_value()["plugin"].to_string())).collect()
    };
    let expected = vec![(warning.to_owned(), Some("test-alpha (alpha scope)".to_owned()), "\"test-alpha\"".to_owned())];

    // Listed by the scan itself: the warning is a finding, the bindings are all there.
    let report = scan(&registry, &specs, &options, &mut NoObserver).unwrap();
    assert_eq!(warnings_of(&report), expected);
    assert_eq!(report.summary.bindings, 2);
    assert!(report.source_errors.is_empty());

    // Through an inventory in JSON Lines: the header carries it to the scan.
    let listed = inventory(&registry, &specs, &options, &mut NoObserver).unwrap();
    let mut header = InventoryHeader::new(&listed.bindings, &listed.source_errors, &listed.source_stats);
    header.source_warnings.clone_from(&listed.source_warnings);
    let mut text = serde_json::to_string(&header).unwrap() + "\n";
    for binding in &listed.bindings {
        text += &(serde_json::to_string(binding).unwrap() + "\n");
    }
    let read = || parse_inventory(&text, false).unwrap();
    let from_inventory = verify(VerifyInput::from_inventory(read(), None), &options.verify);
    assert_eq!(warnings_of(&from_inventory), expected);
    // Sharded, it is reported once: by shard 0.
    let shard = |index| Shard::new(index, 2);
    assert_eq!(warnings_of(&verify(VerifyInput::from_inventory(read(), shard(0)), &options.verify)), expected);
    assert!(warnings_of(&verify(VerifyInput::from_inventory(read(), shard(1)), &options.verify)).is_empty());
}
