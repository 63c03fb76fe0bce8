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

/// The crashing fixture, its info asked of a child process (as `inspect`
/// does under process isolation): nothing of it runs in this process
/// unless a source opens it in-process.
fn registry() -> PluginRegistry {
    let mut registry = PluginRegistry::new();
    registry.set_info_host(options().process_host.unwrap());
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
    // Generous: filling the memory cap takes a while on a loaded 2-core machine.
    options.collect.call_timeout = Duration::from_secs(10);
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
        ("deadlock", "the plugin process did not answer list_page within 10s and was killed"),
        ("allocate", "the plugin process ran out of memory during list_page (its cap is 512 MiB) and was stopped"),
        (
            "garbage",
            "the plugin process wrote output that is not a protocol message: \"hell\" to its stdout and was stopped",
        ),
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

/// A child that dies is restarted once, for the next scope: the scope it
/// died in is an error, the next one is listed by a fresh child; a second
/// death ends the source, each later scope an error that says so.
#[test]
fn a_crashed_child_is_restarted_once_for_the_next_scope() {
    let mut options = options();
    // One scope at a time, in order: which scope meets which child is then fixed.
    options.collect.parallelism = 1;
    let specs = [SourceSpec::new("crashing", serde_json::json!({ "modes": ["segfault", "ok", "abort", "ok"] }))];

    let inventory = inventory(&registry(), &specs, &options, &mut NoObserver).expect("the source opens");

    let listed: Vec<&str> = inventory.bindings.iter().map(|b| b.location.resource_id.as_str()).collect();
    assert_eq!(listed, ["1:ok-1"], "the scope after the first crash is listed by the restarted child");
    let errors: Vec<(&str, &str)> =
        inventory.source_errors.iter().map(|e| (e.scope.as_deref().unwrap_or_default(), e.message.as_str())).collect();
    let expected = [
        ("0:segfault", "the plugin process was killed by signal 11 (SIGSEGV) during list_page"),
        ("2:abort", "the plugin process was killed by signal 6 (SIGABRT) during list_page"),
        (
            "3:ok",
            "the plugin process was killed by signal 6 (SIGABRT) during list_page; \
             the source ends here (its plugin process was restarted once already)",
        ),
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for ((scope, message), (expected_scope, expected_message)) in errors.iter().zip(expected) {
        assert_eq!(*scope, expected_scope);
        assert!(message.contains(expected_message), "{scope}: {message}");
    }
    let stats = &inventory.source_stats[0];
    assert_eq!((stats.scopes, stats.scopes_complete, stats.bindings), (4, 1, 1));
}

/// A library that aborts in `info()` is a load failure saying so, and this
/// process lives on: it never ran the library. (Asked in-process, the same
/// `info()` would end this test process.)
#[test]
fn a_library_that_crashes_in_info_is_a_load_failure_not_a_host_crash() {
    // `env` sets the fixture's switch in the child only.
    let args: [std::ffi::OsString; 3] =
        ["CERTINSPECT_CRASHING_INFO=abort".into(), inspect_binary().into(), "plugin-host".into()];
    let mut registry = PluginRegistry::new();
    registry.set_info_host(ProcessHost::new("env", args));
    registry.load_file(&fixture_plugin("crashing-provider"));

    assert!(registry.plugins().is_empty());
    let reasons: Vec<&str> = registry.failures().iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(reasons, ["the plugin process was killed by signal 6 (SIGABRT) during info"]);
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
/// the same bindings, and (printed, never asserted) what process isolation
/// costs: opening a source (start the child, load, open) and each page
/// (one `list_page` call with its proxied HTTP requests). Reproduce with
/// `cargo test -p certinspect-e2e --test isolation isolation_overhead -- --nocapture`.
/// `scopes` calls timed per source, to average out the clock.
const REPEAT: u32 = 50;

#[test]
fn isolation_overhead_on_the_alibaba_plugins_against_the_emulator() {
    use certinspect_core::host::{CancelFlag, Host, HttpTransport, TransportConfig};
    use certinspect_testbed::{Testbed, TestbedOptions};
    use std::time::Instant;

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("isolation-overhead");
    let _ = std::fs::remove_dir_all(&dir);
    let testbed = Testbed::start(&TestbedOptions {
        alb: false,
        domains: 120,
        accounts: 1,
        regions: vec!["cn-hangzhou".into(), "cn-shanghai".into()],
        drift: false,
        crl: false,
        seed: 15,
        dir: dir.join("world"),
    })
    .unwrap();
    let (config, home) = testbed.write_inspect_config(&dir).unwrap();
    // The plugins read the aliyun CLI's profile file under HOME, in this
    // process and in the children (which inherit it).
    std::env::set_var("HOME", &home);
    let config: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
    let sources: Vec<(String, serde_json::Value)> = config["source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["plugin"].as_str().unwrap().to_owned(), serde_json::to_value(&s["config"]).unwrap()))
        .collect();

    let mut registry = PluginRegistry::new();
    registry.load_search_path(&certinspect_core::plugins::PluginSearchPath::new(vec![
        certinspect_e2e::alibaba_plugin_dir().to_owned(),
    ]));
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());
    let host = Host::new(HttpTransport::new(TransportConfig::default()).unwrap(), CancelFlag::default());
    let process = options().process_host.unwrap();

    // Per isolation: total open time, page count, total page time,
    // bindings, and the time of a `scopes` call repeated (the bare round trip
    // when, as for the CDN plugin, it needs no HTTP).
    let mut measured = Vec::new();
    for round in 0..3 {
        for isolation in [Isolation::InProcess, Isolation::Process] {
            let (mut open_time, mut page_time, mut pages, mut bindings) =
                (Duration::ZERO, Duration::ZERO, 0u32, Vec::new());
            let mut scopes_time = Duration::ZERO;
            for (plugin, settings) in &sources {
                let plugin = registry.get(plugin).unwrap();
                let services = host.for_plugin(&plugin.info().name);
                let started = Instant::now();
                let source = match isolation {
                    Isolation::Process => plugin.open_in_child(settings, services, &process),
                    _ => plugin.open(settings, services),
                }
                .unwrap();
                open_time += started.elapsed();
                if plugin.info().name == "alibaba-cdn" {
                    let started = Instant::now();
                    for _ in 0..REPEAT {
                        source.scopes().unwrap();
                    }
                    scopes_time = started.elapsed() / REPEAT;
                }
                for scope in source.scopes().unwrap() {
                    let mut cursor = None;
                    loop {
                        let started = Instant::now();
                        let page = source.list_page(&scope.id, cursor.as_deref()).unwrap();
                        page_time += started.elapsed();
                        pages += 1;
                        bindings.extend(page.bindings);
                        cursor = page.next_cursor;
                        if cursor.is_none() {
                            break;
                        }
                    }
                }
            }
            let bindings = serde_json::to_value(&bindings).unwrap();
            measured.push((round, isolation, open_time, pages, page_time, bindings, scopes_time));
        }
    }
    for entry in &measured[1..] {
        assert_eq!(entry.5, measured[0].5, "every round and isolation lists the same bindings");
    }
    // The best round of each isolation (the machine is shared).
    let best = |isolation: Isolation| {
        let of = || measured.iter().filter(move |m| m.1 == isolation);
        let open = of().map(|m| m.2).min().unwrap();
        let page = of().map(|m| m.4 / m.3).min().unwrap();
        let call = of().map(|m| m.6).min().unwrap();
        (open, page, call, of().next().unwrap().3)
    };
    let ((open_in, page_in, call_in, pages), (open_child, page_child, call_child, _)) =
        (best(Isolation::InProcess), best(Isolation::Process));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "isolation overhead ({} sources, {pages} pages, {} bindings; best of 3): opening a source {:.2} ms in-process, \
         {:.2} ms in a child ({:+.2} ms per source); a call without HTTP (alibaba-cdn scopes) {:.3} ms in-process, \
         {:.3} ms in a child ({:+.3} ms per call); a page {:.2} ms in-process, {:.2} ms in a child ({:+.2} ms per page)",
        sources.len(),
        measured[0].5.as_array().unwrap().len(),
        ms(open_in) / sources.len() as f64,
        ms(open_child) / sources.len() as f64,
        (ms(open_child) - ms(open_in)) / sources.len() as f64,
        ms(call_in),
        ms(call_child),
        ms(call_child) - ms(call_in),
        ms(page_in),
        ms(page_child),
        ms(page_child) - ms(page_in),
    );
}
