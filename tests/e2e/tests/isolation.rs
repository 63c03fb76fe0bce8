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

/// The Alibaba plugin libraries against the emulator under both isolations:
/// the same inventory, and (printed, never asserted) what process isolation
/// costs per call and per page. `cargo test -p certinspect-e2e --test
/// isolation isolation_overhead -- --nocapture` reproduces the numbers.
#[test]
fn isolation_overhead_on_the_alibaba_plugins_against_the_emulator() {
    use certinspect_testbed::{Testbed, TestbedOptions};
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("isolation-overhead");
    let _ = std::fs::remove_dir_all(&dir);
    let testbed = Testbed::start(&TestbedOptions {
        alb: false,
        domains: 120,
        accounts: 1,
        regions: vec!["cn-hangzhou".into(), "cn-shanghai".into()],
        drift: false,
        seed: 15,
        dir: dir.join("world"),
    })
    .unwrap();
    let (config, home) = testbed.write_inspect_config(&dir).unwrap();
    let base = std::fs::read_to_string(&config).unwrap();
    let plugin_dir = certinspect_e2e::alibaba_plugin_dir();

    let run = |isolation: &str| {
        std::fs::write(&config, format!("[plugins]\nisolation = \"{isolation}\"\n\n{base}")).unwrap();
        let started = std::time::Instant::now();
        let output = std::process::Command::new(inspect_binary())
            .arg("inventory")
            .arg("--config")
            .arg(&config)
            .arg("--plugin-dir")
            .arg(plugin_dir)
            .args(["--format", "json"])
            .env("HOME", &home)
            .env_remove("CERTINSPECT_PLUGIN_PATH")
            .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{isolation}: {e}\n{}", String::from_utf8_lossy(&output.stderr)));
        assert_eq!(json["source_errors"], serde_json::json!([]), "{isolation}");
        (elapsed, json)
    };
    let mut timings = Vec::new();
    let mut inventories = Vec::new();
    for isolation in ["in-process", "process", "in-process", "process", "in-process", "process"] {
        let (elapsed, json) = run(isolation);
        timings.push((isolation, elapsed));
        inventories.push(json);
    }
    for json in &inventories[1..] {
        assert_eq!(json["bindings"], inventories[0]["bindings"], "both isolations list the same bindings");
    }
    let stats = inventories[0]["source_stats"].as_array().unwrap();
    let count = |key: &str| stats.iter().map(|s| s[key].as_u64().unwrap()).sum::<u64>();
    let (sources, pages) = (stats.len() as u64, count("pages"));
    // open + scopes per source, one list_page per page.
    let calls = 2 * sources + pages;
    let best = |which: &str| timings.iter().filter(|(i, _)| *i == which).map(|(_, t)| *t).min().unwrap();
    let (inproc, process) = (best("in-process"), best("process"));
    let extra = process.saturating_sub(inproc);
    println!(
        "isolation overhead: {sources} sources, {pages} pages, {calls} plugin calls, {} bindings; \
         in-process {:.1} ms, process {:.1} ms (best of 3 each); extra {:.1} ms = {:.2} ms per call, \
         {:.2} ms per page, {:.1} ms per source",
        inventories[0]["bindings"].as_array().unwrap().len(),
        inproc.as_secs_f64() * 1e3,
        process.as_secs_f64() * 1e3,
        extra.as_secs_f64() * 1e3,
        extra.as_secs_f64() * 1e3 / calls as f64,
        extra.as_secs_f64() * 1e3 / pages.max(1) as f64,
        extra.as_secs_f64() * 1e3 / sources as f64,
    );
}
