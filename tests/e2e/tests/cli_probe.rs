//! `inspect probe` as a user runs it, without any cloud: bare endpoints
//! read as OBSERVED, and `--declared FILE` (CSV, or a report written
//! earlier) turns the same probes into MATCH / FOREIGN verdicts.

use std::process::Command;

use certinspect_e2e::{inspect_binary, probe_json, target_dir};
use certinspect_tls_farm::pki::{TestCa, Validity};
use certinspect_tls_farm::{EndpointMode, EndpointSpec, Farm, FarmSpec, TlsEndpoint};
use serde_json::Value;

fn verdicts(report: &Value) -> Vec<String> {
    report["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["results"].as_array().unwrap().iter().map(|r| r["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn declarations_from_a_file_give_verdicts_and_bare_endpoints_are_observed() {
    let dir = target_dir().join("e2e-cli-probe").join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca = TestCa::new("probe test CA").unwrap();
    let served = ca.issue(&["localhost"], Validity::days_from_now(200)).unwrap();
    let other = ca.issue(&["localhost"], Validity::days_from_now(300)).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let farm = Farm::start(FarmSpec {
        endpoints: vec![EndpointSpec::new("site", EndpointMode::Tls(TlsEndpoint::single(served.source())))],
        ..FarmSpec::default()
    })
    .unwrap();
    let port = farm.addr("site").unwrap().port().to_string();
    // Reached by address (no name resolution), with the name sent as SNI.
    let target = format!("127.0.0.1:{port}");
    let sha256 = |der: &[u8]| certinspect_analysis::parse_certificate(der).unwrap().sha256_fingerprint;

    let (output, bare) = probe_json(&dir, &ca_file, &[&target, "--sni", "localhost"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(verdicts(&bare), ["OBSERVED"]);

    let csv = format!(
        "host,port,sni,sha256\n127.0.0.1,{port},localhost,{}\n127.0.0.1,{port},localhost,{}\n",
        sha256(served.leaf()),
        sha256(other.leaf())
    );
    std::fs::write(dir.join("declared.csv"), csv).unwrap();
    let (output, report) = probe_json(&dir, &ca_file, &["--declared", "declared.csv"]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(verdicts(&report), ["MATCH", "FOREIGN"]);
    let codes: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["served-not-declared"]);

    // Last run's report is a declaration too: what was served then is expected now.
    std::fs::write(dir.join("last.json"), serde_json::to_string(&report).unwrap()).unwrap();
    let (_, again) = probe_json(&dir, &ca_file, &["--declared", "last.json"]);
    assert_eq!(verdicts(&again), ["MATCH", "FOREIGN"]);

    let bad =
        Command::new(inspect_binary()).args(["probe", "--declared"]).arg(dir.join("missing.csv")).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("missing.csv: cannot read the file"), "{said}");
    std::fs::remove_dir_all(&dir).unwrap();
}
