//! The offline demo, run as the README says (`cargo xtask demo`), checks
//! both clouds in one report (the Alibaba emulator's world and the AWS world
//! seeded into moto) and finds exactly the drift each world planted and
//! nothing else. The demo starts moto once; its venv is the one the AWS
//! plugin's tests use (`target/tmp/certinspect-aws`).

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
        "revoked_crl" => ("revoked", &["provider-status-disagrees"]),
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
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the demo failed:\n{stderr}");
    assert!(!stderr.contains("no AWS part"), "the demo ran without its AWS part:\n{stderr}");

    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let read_world = |path: &str| -> Value {
        serde_json::from_slice(&std::fs::read(target_dir().join(path)).unwrap_or_else(|e| panic!("{path}: {e}")))
            .unwrap()
    };
    let alibaba = read_world("demo/world/world.json");
    let aws = read_world("demo/aws/world.json");
    assert_eq!(report["source_errors"], Value::Array(vec![]), "a source failed");

    // Where each drift was planted: (service, endpoint SNI) identifies the binding.
    let manifest = |world: &Value| -> BTreeMap<(String, String), String> {
        world["manifest"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    (m["service"].as_str().unwrap().into(), m["sni"].as_str().unwrap().into()),
                    m["kind"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let mut planted = manifest(&alibaba);
    // Every drift kind once, a stale SNI certificate on an ALB listener, and
    // a certificate only its CA's CRL revokes.
    assert_eq!(planted.len(), 8, "the Alibaba world plants every drift kind once, plus ALB and CRL: {planted:?}");
    assert_eq!(planted.iter().filter(|((service, _), kind)| service == "alb" && *kind == "stale").count(), 1);
    let aws_planted = manifest(&aws);
    let aws_kinds: BTreeSet<&str> = aws_planted.values().map(String::as_str).collect();
    assert_eq!(aws_kinds, BTreeSet::from(["foreign", "stale"]), "{aws_planted:?}");
    planted.extend(aws_planted.clone());

    let bindings = report["bindings"].as_array().unwrap();

    // One report, both clouds: every plugin's bindings are there, and every
    // AWS service of the seed.
    let plugins: BTreeSet<&str> =
        bindings.iter().filter_map(|b| b["binding"]["location"]["provider"].as_str()).collect();
    for plugin in ["alibaba-cdn", "alibaba-slb", "alibaba-cas", "alibaba-alb", "aws"] {
        assert!(plugins.contains(plugin), "no {plugin} bindings in the report: {plugins:?}");
    }
    let services: BTreeSet<&str> =
        bindings.iter().filter_map(|b| b["binding"]["location"]["service"].as_str()).collect();
    for service in ["acm", "elbv2", "cloudfront", "iam"] {
        assert!(services.contains(service), "no AWS {service} bindings in the report: {services:?}");
    }

    // The AWS verdicts: the planted STALE and FOREIGN, every other probed
    // AWS endpoint MATCH (ACM and IAM inventories are not probed).
    let mut aws_verdicts: BTreeMap<(String, String), String> = BTreeMap::new();
    for binding in bindings
        .iter()
        .filter(|b| ["elbv2", "cloudfront"].contains(&b["binding"]["location"]["service"].as_str().unwrap_or_default()))
    {
        let location = &binding["binding"]["location"];
        let results = binding["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{location}: {results:?}");
        let key = (
            location["service"].as_str().unwrap().to_owned(),
            location["endpoint"]["sni"].as_str().unwrap().to_owned(),
        );
        aws_verdicts.insert(key, results[0]["verdict"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        aws_verdicts.len(),
        5,
        "ALB default and SNI, NLB, IAM-certificate ALB, CloudFront alias: {aws_verdicts:?}"
    );
    for (key, verdict) in &aws_verdicts {
        let want = match aws_planted.get(key).map(String::as_str) {
            Some("stale") => "STALE",
            Some("foreign") => "FOREIGN",
            _ => "MATCH",
        };
        assert_eq!(verdict, want, "AWS binding {key:?}");
    }
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

    // Both revoked certificates, each with who said so: the private CA's
    // lookup (its CRL agreeing), and the CRL alone (the provider cannot tell).
    let revocation_of = |kind: &str| -> &Value {
        let key = planted.iter().find(|(_, k)| k.as_str() == kind).map(|(key, _)| key.clone()).unwrap();
        (0..bindings.len())
            .filter(|&i| key_of(i) == key)
            .find_map(|i| bindings[i]["results"].as_array().and_then(|r| r.first()))
            .map(|result| &result["revocation"])
            .unwrap_or_else(|| panic!("no result for the {kind} binding {key:?}"))
    };
    let by_cas = revocation_of("revoked");
    assert_eq!(
        (&by_cas["status"], &by_cas["source"]),
        (&Value::from("revoked"), &Value::from("alibaba-cas")),
        "{by_cas}"
    );
    let agreeing = by_cas["other_answers"].as_array().unwrap();
    assert!(agreeing.iter().any(|a| a["source"] == "crl" && a["status"] == "revoked"), "{by_cas}");
    let by_crl = revocation_of("revoked_crl");
    assert_eq!((&by_crl["status"], &by_crl["source"]), (&Value::from("revoked"), &Value::from("crl")), "{by_crl}");
    assert_eq!(by_crl["reason"], "key_compromise", "{by_crl}");
}
