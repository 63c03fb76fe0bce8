//! Process isolation end to end: a real plugin library that segfaults,
//! aborts, exits, deadlocks, allocates without bound or prints to stdout,
//! each run by `inspect plugin-host` in its own child process. Each ends as
//! one source error that says what happened; the other sources' bindings
//! are all reported and the totals add up.

use std::time::Duration;

use certinspect_core::plugins::{Isolation, PluginRegistry, ProcessHost};
use certinspect_core::scan::{inventory, ScanOptions, SourceSpec};
use certinspect_core::verify::NoObserver;
use certinspect_e2e::{fixture_plugin, inspect_binary};

fn registry() -> PluginRegistry {
    let mut registry = PluginRegistry::new();
    registry.load_file(&fixture_plugin("crashing-provider"));
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    registry
}

fn options() -> ScanOptions {
    let mut host = ProcessHost::new(inspect_binary(), ["plugin-host"]);
    host.memory_limit_bytes = Some(512 << 20);
    let mut options = ScanOptions::default();
    options.isolation = Isolation::Process;
    options.process_host = Some(host);
    options.collect.call_timeout = Duration::from_secs(3);
    options
}

fn source(mode: &str) -> SourceSpec {
    SourceSpec::new("crashing", serde_json::json!({ "mode": mode }))
}

#[test]
fn each_way_a_plugin_process_dies_is_one_source_error_and_the_others_are_reported() {
    // (mode, what the error must say)
    let cases = [
        ("segfault", "the plugin process was killed by signal 11 (SIGSEGV) during list_page"),
        ("abort", "the plugin process was killed by signal 6 (SIGABRT) during list_page"),
        ("exit", "the plugin process exited with status 0 during list_page"),
        ("deadlock", "the plugin process did not answer list_page within 3s and was killed"),
        ("allocate", "the plugin process ran out of memory during list_page (its cap is 512 MiB) and was stopped"),
        ("garbage", "the plugin process wrote output that is not a protocol message: \"hell\" to its stdout and was stopped"),
    ];
    let mut specs = vec![source("ok")];
    specs.extend(cases.iter().map(|(mode, _)| source(mode)));
    specs.push(source("ok"));

    let inventory = inventory(&registry(), &specs, &options(), &mut NoObserver).expect("the sources open");

    let listed: Vec<&str> = inventory.bindings.iter().map(|b| b.location.resource_id.as_str()).collect();
    assert_eq!(listed, ["ok-1", "ok-1"], "both healthy sources are reported in full");
    assert_eq!(inventory.source_errors.len(), cases.len(), "{:#?}", inventory.source_errors);
    for (mode, expected) in cases {
        let error = inventory
            .source_errors
            .iter()
            .find(|e| e.scope.as_deref() == Some(mode))
            .unwrap_or_else(|| panic!("no error for {mode}: {:#?}", inventory.source_errors));
        assert_eq!(error.plugin, "crashing");
        assert!(error.message.contains(expected), "{mode}: {}", error.message);
    }
    let stats = &inventory.source_stats;
    assert_eq!(stats.iter().map(|s| s.scopes).sum::<usize>(), cases.len() + 2);
    assert_eq!(stats.iter().map(|s| s.scopes_complete).sum::<usize>(), 2);
    assert_eq!(stats.iter().map(|s| s.bindings).sum::<usize>(), inventory.bindings.len());
}

#[test]
fn a_healthy_library_gives_the_same_bindings_in_both_isolations() {
    let registry = registry();
    let run = |isolation| {
        let specs = [source("ok").with_isolation(isolation)];
        let inventory = inventory(&registry, &specs, &options(), &mut NoObserver).unwrap();
        assert!(inventory.source_errors.is_empty(), "{:?}", inventory.source_errors);
        serde_json::to_value(&inventory.bindings).unwrap()
    };
    assert_eq!(run(Isolation::Process), run(Isolation::InProcess));
}
