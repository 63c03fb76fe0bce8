//! The engine embedded as a Rust program embeds it: the Alibaba providers
//! linked statically, `certinspect_core::scan::scan` called with plain data,
//! no CLI code. Against the same emulated world, its report is the one
//! `inspect scan` (with the providers loaded as plugin libraries) writes.

use std::path::Path;
use std::sync::Arc;

use certinspect_alibaba_cas::AlibabaCasProvider;
use certinspect_alibaba_cdn::AlibabaCdnProvider;
use certinspect_alibaba_slb::AlibabaSlbProvider;
use certinspect_core::plugins::PluginRegistry;
use certinspect_core::report::Report;
use certinspect_core::scan::{scan, ScanOptions, SourceSpec};
use certinspect_core::trust_store::{load_trust_store, TrustBase};
use certinspect_core::verify::NoObserver;
use certinspect_e2e::{alibaba_plugin_dir, inspect_binary, target_dir};
use certinspect_sdk::static_module;
use certinspect_testbed::{Testbed, TestbedOptions};
use serde_json::Value;

/// The embedding program: the sources and verification settings come from
/// its own configuration (here, the TOML file the testbed wrote).
fn embedded_scan(config: &Path, now_unix: i64) -> Report {
    let file: toml::Table = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    let mut registry = PluginRegistry::new();
    registry.add_static(static_module::<AlibabaCdnProvider>());
    registry.add_static(static_module::<AlibabaSlbProvider>());
    registry.add_static(static_module::<AlibabaCasProvider>());
    let specs: Vec<SourceSpec> = file["source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| SourceSpec::new(s["plugin"].as_str().unwrap(), serde_json::to_value(&s["config"]).unwrap()))
        .collect();
    let verify = &file["verify"];
    let mut options = ScanOptions::default();
    options.verify.now_unix = Some(now_unix);
    let ca_file = Path::new(verify["ca_file"].as_str().unwrap());
    let (trust, described) = load_trust_store(TrustBase::None, &[ca_file]).unwrap();
    options.verify.trust = Arc::new(trust);
    options.verify.trust_store = described;
    options.verify.connect_to =
        verify["connect_to"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().parse().unwrap()).collect();
    scan(&registry, &specs, &options, &mut NoObserver).unwrap()
}

/// What differs between two runs over the same world at the same analysis
/// time: how long each phase took, and whether a source was listed by a
/// plugin library (named by its SHA-256) or a linked provider.
fn without_timings(mut report: Value) -> Value {
    for binding in report["bindings"].as_array_mut().unwrap() {
        for result in binding["results"].as_array_mut().unwrap() {
            result["timings"] = Value::Null;
        }
    }
    // The CLI lists through the plugin libraries, which the report names by
    // SHA-256; the embedder links the same providers, which have no file.
    for stats in report["source_stats"].as_array_mut().unwrap() {
        if let Some(stats) = stats.as_object_mut() {
            stats.remove("library_sha256");
        }
    }
    report
}

/// The first place (a JSON path) where `a` and `b` differ, with both values.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).find_map(|k| {
            first_difference(&format!("{path}.{k}"), x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null))
        }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (a, b))| first_difference(&format!("{path}[{i}]"), a, b))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {a} != {b}")),
    }
}

#[test]
fn an_embedded_scan_reports_what_the_cli_reports() {
    let dir = target_dir().join("e2e-embed").join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let testbed = Testbed::start(&TestbedOptions {
        alb: false,
        domains: 6,
        accounts: 1,
        regions: vec!["cn-hangzhou".into()],
        drift: true,
        crl: false,
        seed: 5,
        dir: dir.join("world"),
    })
    .unwrap();
    let (config, home) = testbed.write_inspect_config(&dir).unwrap();
    // Both runs find their credentials in the same aliyun CLI profile, and
    // never fall through to the ECS metadata service. This test binary has
    // one test, so changing its environment races nothing.
    std::env::set_var("HOME", &home);
    std::env::set_var("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    for variable in ["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "CERTINSPECT_PLUGIN_PATH"] {
        std::env::remove_var(variable);
    }

    // Both runs analyse at one instant, so expiry facts agree to the second.
    let now_unix = time::OffsetDateTime::now_utc().unix_timestamp();
    let cli = std::process::Command::new(inspect_binary())
        .args(["scan", "--format", "json", "--now-unix", &now_unix.to_string(), "--config"])
        .arg(&config)
        .arg("--plugin-dir")
        .arg(alibaba_plugin_dir())
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(1), "{}", String::from_utf8_lossy(&cli.stderr));
    let from_cli: Value = serde_json::from_slice(&cli.stdout).unwrap();

    let embedded = serde_json::to_value(embedded_scan(&config, now_unix)).unwrap();
    assert!(embedded["summary"]["results"].as_u64().unwrap() > 0, "the world was probed");
    let (embedded, from_cli) = (without_timings(embedded), without_timings(from_cli));
    assert!(embedded == from_cli, "{}", first_difference("report", &embedded, &from_cli).unwrap_or_default());
}
