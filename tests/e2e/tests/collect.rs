//! Collecting from several sources at once: a failing or hanging source is
//! reported, the others' bindings arrive, and the totals add up.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use certinspect_core::collect::{collect, CollectOptions};
use certinspect_core::host::{CancelFlag, Host, HttpTransport, TransportConfig};
use certinspect_core::plugins::PluginRegistry;
use certinspect_e2e::fixture_plugin;

#[test]
fn a_panicking_and_a_hanging_source_are_reported_and_the_rest_is_collected() {
    let mut registry = PluginRegistry::new();
    registry.add_static(certinspect_sdk::static_module::<static_provider_alpha::Alpha>());
    registry.add_static(certinspect_sdk::static_module::<static_provider_beta::Beta>());
    registry.load_file(&fixture_plugin("panicking-provider"));
    registry.load_file(&fixture_plugin("example-provider"));
    assert!(registry.failures().is_empty(), "{:?}", registry.failures());

    // A tarpit: accepts and never answers, so the example plugin's HTTP call hangs.
    let tarpit = TcpListener::bind("127.0.0.1:0").unwrap();
    let tarpit_url = format!("http://{}/", tarpit.local_addr().unwrap());

    let host = Host::new(
        HttpTransport::new(TransportConfig { timeout: Duration::from_secs(10), ..TransportConfig::default() }).unwrap(),
        CancelFlag::default(),
    );
    let open = |name: &str, config: serde_json::Value| {
        Arc::new(registry.get(name).unwrap().open(&config, host.for_plugin(name)).unwrap())
    };
    let sources = vec![
        open("test-alpha", serde_json::json!({})),
        open("panicking", serde_json::json!({})),
        open("example-inventory", serde_json::json!({ "inventory_url": tarpit_url })),
        open("test-beta", serde_json::json!({})),
    ];

    let started = Instant::now();
    let options = CollectOptions { call_timeout: Duration::from_millis(800), ..CollectOptions::default() };
    let collected = collect(&sources, &options);
    assert!(started.elapsed() < Duration::from_secs(8), "a hanging plugin held the collection");

    let ids: Vec<_> =
        collected.bindings.iter().map(|b| format!("{}/{}", b.location.plugin, b.location.resource_id)).collect();
    assert_eq!(ids, ["test-alpha/only-1", "test-alpha/only-2", "test-beta/only-1", "test-beta/only-2"]);

    assert_eq!(collected.errors.len(), 2, "{:?}", collected.errors);
    let panicked = collected.errors.iter().find(|e| e.plugin == "panicking").unwrap();
    assert!(panicked.message.contains("panicked in list_page()"), "{}", panicked.message);
    assert!(panicked.message.contains("listing incomplete: 0 bindings from 0 pages kept"), "{}", panicked.message);
    let hung = collected.errors.iter().find(|e| e.plugin == "example-inventory").unwrap();
    assert!(hung.message.contains("did not answer within 0.8s"), "{}", hung.message);

    let total: usize = collected.stats.iter().map(|s| s.bindings).sum();
    assert_eq!(total, collected.bindings.len());
    let complete: Vec<_> = collected.stats.iter().map(|s| (s.plugin.as_str(), s.scopes, s.scopes_complete)).collect();
    assert_eq!(complete, [("test-alpha", 1, 1), ("panicking", 1, 0), ("example-inventory", 1, 0), ("test-beta", 1, 1)]);
    drop(tarpit);
}
