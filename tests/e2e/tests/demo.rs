//! The offline demo, run as the README says (`cargo xtask demo`), finds
//! exactly the drift the world planted and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use certinspect_e2e::{target_dir, workspace_root};
use serde_json::Value;

/// The findings each planted drift may cause: its own code first, then the
/// codes that follow from it on the same binding.
fn expected_codes(kind: &str) -> (&'static str, &'static [&'static str]) {
    match kind {
        "stale" => ("stale-certificate", &["cert-expiring"]),
        "foreign" => ("served-not-declared", &["name-mismatch", "provider-status-disagrees"]),
        "expired" => ("cert-expired", &["provider-status-disagrees"]),
        "wrong_name" => ("name-mismatch", &["provider-status-disagrees"]),
        "revoked" => ("revoked", &["provider-status-disagrees"]),
        "auto_managed_not_deployed" => ("auto-managed-not-deployed", &[]),
        other => panic!("the world planted a drift kind this test does not know: {other}"),
    }
}

#[test]
fn the_demo_finds_exactly_the_planted_drift() {
    let report_path = target_dir().join("e2e-demo-report.json");
    let _ = std::fs::remove_file(&report_path);
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(workspace_root())
        .args(["xtask", "demo", "--", "--format", "json", "--output"])
        .arg(&report_path)
        .output()
        .unwrap();
    assert!(output.status.success(), "the demo failed:\n{}", String::from_utf8_lossy(&output.stderr));

    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let world: Value =
        serde_json::from_slice(&std::fs::read(target_dir().join("demo/world/world.json")).unwrap()).unwrap();
    assert_eq!(report["source_errors"], Value::Array(vec![]), "a source failed");

    // Where each drift was planted: (service, endpoint SNI) identifies the binding.
    let planted: BTreeMap<(String, String), String> = world["manifest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                (m["service"].as_str().unwrap().into(), m["sni"].as_str().unwrap().into()),
                m["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(planted.len(), 6, "the demo world plants every drift kind once: {planted:?}");

    let bindings = report["bindings"].as_array().unwrap();
    let key_of = |index: usize| -> (String, String) {
        let location = &bindings[index]["binding"]["location"];
        let sni = location["endpoint"]["sni"].as_str().or(location["resource_id"].as_str()).unwrap_or_default();
        (location["service"].as_str().unwrap().into(), sni.into())
    };
    let mut found: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for finding in report["findings"].as_array().unwrap() {
        let index = finding["binding"].as_u64().expect("every finding of the demo points at a binding") as usize;
        found.entry(key_of(index)).or_default().insert(finding["code"].as_str().unwrap().into());
    }

    let unexpected: Vec<_> = found.keys().filter(|key| !planted.contains_key(*key)).collect();
    assert!(unexpected.is_empty(), "findings where nothing was planted: {unexpected:?} in {found:?}");
    for (key, kind) in &planted {
        let codes = found.get(key).unwrap_or_else(|| panic!("planted {kind} at {key:?} was not found"));
        let (own, consequences) = expected_codes(kind);
        assert!(codes.contains(own), "{kind} at {key:?}: expected {own}, got {codes:?}");
        let extra: Vec<_> = codes.iter().filter(|c| *c != own && !consequences.contains(&c.as_str())).collect();
        assert!(extra.is_empty(), "{kind} at {key:?}: unexpected {extra:?}");
    }
}
