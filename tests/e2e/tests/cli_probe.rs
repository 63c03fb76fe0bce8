//! `inspect probe` as a user runs it, without any cloud: bare endpoints
//! read as OBSERVED, and `--declared FILE` (CSV, or a report written
//! earlier) turns the same probes into MATCH / FOREIGN verdicts; the
//! streamed outputs (JSON Lines, CSV, JSON, Prometheus) hold what the whole
//! report does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use certinspect_e2e::{inspect_binary, probe_json, target_dir};
use certinspect_tls_farm::pki::{Issued, TestCa, Validity};
use certinspect_tls_farm::{EndpointMode, EndpointSpec, Farm, FarmHandle, FarmSpec, TlsEndpoint};
use serde_json::Value;

fn verdicts(report: &Value) -> Vec<String> {
    report["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["results"].as_array().unwrap().iter().map(|r| r["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

/// A scratch directory for `test`, a CA (its PEM in `ca.pem` there) and a
/// farm whose endpoint "site" serves a `localhost` leaf it issued.
struct Site {
    dir: PathBuf,
    ca: TestCa,
    ca_file: PathBuf,
    served: Issued,
    farm: FarmHandle,
}

fn site(test: &str) -> Site {
    let dir = target_dir().join(test).join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca = TestCa::new("probe test CA").unwrap();
    let served = ca.issue(&["localhost"], Validity::days_from_now(200)).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let farm = Farm::start(FarmSpec {
        endpoints: vec![EndpointSpec::new("site", EndpointMode::Tls(TlsEndpoint::single(served.source())))],
        ..FarmSpec::default()
    })
    .unwrap();
    Site { dir, ca, ca_file, served, farm }
}

#[test]
fn declarations_from_a_file_give_verdicts_and_bare_endpoints_are_observed() {
    let Site { dir, ca, ca_file, served, farm } = site("e2e-cli-probe");
    let other = ca.issue(&["localhost"], Validity::days_from_now(300)).unwrap();
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

/// `inspect probe --format jsonl` over a targets file that lists endpoints
/// several times: each binding is written once, as its result arrives (or,
/// not probed, at the end), and the summary counts them all, though the
/// run keeps none of them.
#[test]
fn streamed_json_lines_write_every_binding_once_and_total_them() {
    let Site { dir, ca_file, farm, .. } = site("e2e-cli-probe-jsonl");
    let site = farm.addr("site").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let targets: String = (0..3).map(|_| format!("{site} sni=localhost\n{closed}\n")).collect();
    std::fs::write(dir.join("targets.txt"), targets).unwrap();
    let run = |args: &[&str]| {
        let output = probe_in(&dir, &ca_file, &[&["--format", "jsonl"], args].concat());
        let lines: Vec<Value> =
            String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (output.status.code(), lines)
    };

    let (code, lines) = run(&["--targets", "targets.txt"]);
    assert_eq!(code, Some(3), "two endpoints could not be checked, nothing checked is wrong");
    let results: Vec<&Value> = lines.iter().filter(|l| l["type"] == "result").collect();
    let mut indexes: Vec<u64> = results.iter().map(|l| l["binding"].as_u64().unwrap()).collect();
    indexes.sort();
    assert_eq!(indexes, [0, 1, 2, 3, 4, 5]);
    for line in &results {
        let expected = if line["binding"].as_u64().unwrap() % 2 == 0 { "OBSERVED" } else { "UNREACHABLE" };
        assert_eq!(line["result"]["verdict"], expected, "{line}");
    }
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!((&summary["summary"]["bindings"], &summary["summary"]["results"]), (&6.into(), &6.into()));
    assert_eq!(summary["summary"]["endpoints"], 2);
    assert_eq!(summary["trust_store"]["ca_files"][0]["certificates"], 1);
    let findings = lines.iter().filter(|l| l["type"] == "finding").count();
    assert_eq!(summary["summary"]["findings"]["high"], findings, "three unreachable findings per closed port");

    // Against a baseline (the same run as JSON) the lines come at the end,
    // from the whole report, and every finding matches its own.
    let json = probe_in(&dir, &ca_file, &["--targets", "targets.txt", "--format", "json"]);
    std::fs::write(dir.join("base.json"), &json.stdout).unwrap();
    let compared =
        probe_in(&dir, &ca_file, &["--targets", "targets.txt", "--format", "jsonl", "--baseline", "base.json"]);
    let said = String::from_utf8_lossy(&compared.stderr);
    assert!(said.contains(&format!("0 new, 0 resolved, 0 changed, {findings} unchanged")), "{said}");
    assert_eq!(String::from_utf8_lossy(&compared.stdout).lines().count(), lines.len());

    // A declared binding without an endpoint is not probed: written once, at the end, with no result.
    let mut unplaced = results[0].clone();
    unplaced["location"]["endpoint"] = Value::Null;
    let binding =
        serde_json::json!({ "location": unplaced["location"], "declared": unplaced["declared"], "xrefs": [] });
    let declared = serde_json::json!({ "schema_version": 4, "bindings": [{ "binding": binding, "results": [] }] });
    std::fs::write(dir.join("declared.json"), declared.to_string()).unwrap();
    let (code, lines) = run(&["--declared", "declared.json"]);
    assert_eq!(code, Some(0));
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["result", "summary"]);
    assert_eq!((&lines[0]["binding"], &lines[0]["result"]), (&0.into(), &Value::Null));
    assert_eq!(lines[1]["summary"]["inventory_only"], 1);
    drop(farm);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `inspect probe --format csv` streams its rows (the run keeps no
/// bindings); the same run written from the whole report (as with
/// `--baseline`) has the same rows, in another order: results as they
/// came, then the rows about bindings as a whole (a declared certificate
/// expired at an endpoint that is down, a wildcard not probed). Likewise
/// `--format prometheus`, which keeps only each series' labels and numbers,
/// and the table and SARIF, which keep only the rows and results they
/// print and are byte for byte the whole report's (at the same clock).
#[test]
fn streamed_formats_have_what_the_whole_report_has() {
    let Site { dir, ca_file, farm, .. } = site("e2e-cli-probe-csv");
    let site = farm.addr("site").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let binding = |resource: &str, endpoint: Value, not_probeable: Value, not_after: i64| {
        serde_json::json!({ "binding": {
            "location": { "provider": "static", "service": "static", "account": "test", "resource_id": resource,
                "endpoint": endpoint, "not_probeable": not_probeable },
            "declared": { "name": resource, "not_after": not_after, "fingerprints": [], "sans": [] },
            "xrefs": [] }, "results": [] })
    };
    let endpoint = |addr: std::net::SocketAddr| serde_json::json!({ "host": addr.ip().to_string(), "port": addr.port(), "sni": "localhost" });
    let declared = serde_json::json!({ "schema_version": 4, "bindings": [
        binding("site", endpoint(site), Value::Null, 4_000_000_000),
        binding("down", endpoint(closed), Value::Null, 1_000_000_000),
        binding("also-down", endpoint(closed), Value::Null, 4_000_000_000),
        binding("*.wild.test", Value::Null, "wildcard domain".into(), 1_000_000_000),
    ] });
    std::fs::write(dir.join("declared.json"), declared.to_string()).unwrap();
    let run = |args: &[&str]| {
        let output = probe_in(&dir, &ca_file, &[&["--declared", "declared.json"], args].concat());
        assert_ne!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8(output.stdout).unwrap();
        let mut rows: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
        let header = rows.remove(0);
        (output.status.code(), header, rows)
    };

    let (code, header, streamed) = run(&["--format", "csv"]);
    let json = probe_in(&dir, &ca_file, &["--declared", "declared.json", "--format", "json"]);
    std::fs::write(dir.join("base.json"), &json.stdout).unwrap();
    let (whole_code, whole_header, whole) = run(&["--format", "csv", "--baseline", "base.json"]);
    assert_eq!((code, &header), (whole_code, &whole_header));
    assert!(header.starts_with("provider,service,account,"), "{header}");
    // Results first (as they came), the rows about bindings as a whole last.
    let tail: Vec<&str> = streamed.iter().rev().skip(1).take(2).map(String::as_str).collect();
    assert!(tail.iter().any(|row| row.contains(",down,") && row.contains("declared-expired")), "{tail:?}");
    assert!(tail.iter().any(|row| row.contains("*.wild.test") && row.contains("not-probeable")), "{tail:?}");
    assert_eq!(streamed.len(), 6, "three results, two rows about bindings as a whole, and the end: {streamed:?}");
    let sorted = |mut rows: Vec<String>| {
        rows.sort();
        rows
    };
    assert_eq!(sorted(streamed), sorted(whole));

    // Prometheus gathers compact series while streaming: the same samples
    // (but those that read the clock, which moved between the runs), and
    // promtool takes the file.
    let metrics = |args: &[&str]| {
        let output =
            probe_in(&dir, &ca_file, &[&["--declared", "declared.json", "--format", "prometheus"], args].concat());
        assert_ne!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let streamed = metrics(&[]);
    let whole = metrics(&["--baseline", "base.json"]);
    promtool().check_metrics(&streamed).unwrap_or_else(|e| panic!("{e}"));
    let timeless = |text: &str| {
        let clock = ["certinspect_certificate_expiry_seconds{", "certinspect_certificate_last_seen_timestamp_seconds{"];
        let clock_free = |line: &&str| {
            !clock.iter().any(|c| line.starts_with(c)) && !line.starts_with("certinspect_scan_timestamp_seconds ")
        };
        sorted(text.lines().filter(clock_free).map(str::to_owned).collect())
    };
    assert!(streamed.contains("source=\"declared\""), "{streamed}");
    assert_eq!(timeless(&streamed), timeless(&whole));

    // The table (coloured, as on a terminal) and SARIF gather compact rows
    // and order them at the end as the report does: the same bytes, exit
    // code and stderr as from the whole report.
    for format in [&["--format", "table", "--color", "always"][..], &["--format", "sarif"]] {
        let run = |args: &[&str]| {
            let declared = ["--declared", "declared.json", "--now-unix", "1800000000"];
            let output = probe_in(&dir, &ca_file, &[&declared[..], format, args].concat());
            assert_ne!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
            (output.status.code(), String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
        };
        let (code, streamed, said) = run(&[]);
        let (whole_code, whole, whole_said) = run(&["--baseline", "base.json"]);
        assert_eq!(code, whole_code, "{format:?}");
        assert_eq!(streamed, whole, "{format:?}");
        assert!(streamed.contains("declared-expired") && streamed.contains("*.wild.test"), "{streamed}");
        // The baseline run adds its comparison; the rest is the same.
        assert!(whole_said.starts_with(&said), "{said}\n---\n{whole_said}");
    }
    drop(farm);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--format json` streams (results to a temporary file, the report put
/// together at the end) and writes byte for byte the JSON of the whole
/// report (`--baseline` keeps it whole): bindings with results and join
/// notes, a binding at two addresses (results sorted by address), one
/// down, one not probed, findings about results and about bindings as a
/// whole, in report order; with `--detail full`, two chains numbered in
/// report order whatever order they came in; same exit code, same stderr
/// but the baseline's.
#[test]
fn streamed_json_is_the_whole_reports_json() {
    let Site { dir, ca, ca_file, farm, .. } = site("e2e-cli-probe-json");
    let site = farm.addr("site").unwrap();
    let other_leaf = ca.issue(&["localhost"], Validity::days_from_now(300)).unwrap();
    let other_farm = Farm::start(FarmSpec {
        endpoints: vec![EndpointSpec::new("other", EndpointMode::Tls(TlsEndpoint::single(other_leaf.source())))],
        ..FarmSpec::default()
    })
    .unwrap();
    let other = other_farm.addr("other").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let target = |addr: std::net::SocketAddr| format!("{addr}");
    let binding = |resource: &str, endpoint: Value, not_probeable: Value| {
        serde_json::json!({ "binding": {
            "location": { "provider": "static", "service": "static", "account": "test", "resource_id": resource,
                "endpoint": endpoint, "not_probeable": not_probeable },
            "declared": { "name": resource, "not_after": 1_000_000_000, "fingerprints": [], "sans": [] },
            "xrefs": [] }, "results": [] })
    };
    // Two addresses: the site's, and ::1, where nothing listens.
    let two_addresses = serde_json::json!({ "host": "shop.test", "port": site.port(), "sni": "localhost",
        "addresses": ["127.0.0.1", "::1"] });
    let declared = serde_json::json!({ "schema_version": 4, "bindings": [
        binding("shop", two_addresses, Value::Null),
        binding("*.wild.test", Value::Null, "wildcard domain".into()),
    ] });
    std::fs::write(dir.join("declared.json"), declared.to_string()).unwrap();
    for detail in ["summary", "full"] {
        let args = [
            "--declared",
            "declared.json",
            "--all-addresses",
            "--sni",
            "localhost",
            "--now-unix",
            "1900000000",
            "--format",
            "json",
            "--detail",
            detail,
            &target(site),
            &target(other),
            &target(closed),
        ];
        let streamed = probe_in(&dir, &ca_file, &args);
        assert_ne!(streamed.status.code(), Some(2), "{}", String::from_utf8_lossy(&streamed.stderr));
        std::fs::write(dir.join("base.json"), &streamed.stdout).unwrap();
        let whole = probe_in(&dir, &ca_file, &[&args[..], &["--baseline", "base.json"]].concat());
        assert_eq!(streamed.status.code(), whole.status.code());
        let report: Value = serde_json::from_slice(&streamed.stdout).unwrap();
        assert_eq!(report["bindings"].as_array().unwrap().len(), 5, "{report:#}");
        assert_eq!(report["bindings"][3]["results"].as_array().unwrap().len(), 2, "{report:#}");
        assert!(report["findings"].as_array().unwrap().len() > 2, "{report:#}");
        let chains = report["chains"].as_array().map_or(0, Vec::len);
        assert_eq!(chains, if detail == "full" { 2 } else { 0 }, "{report:#}");
        // Byte for byte, but the timings, which differ from run to run.
        let timeless = |output: &Output| {
            let text = String::from_utf8(output.stdout.clone()).unwrap();
            let timing = |line: &str| line.split_once("_us\": ").map(|(name, _)| format!("{name}_us\": -\n"));
            text.split_inclusive('\n').map(|line| timing(line).unwrap_or_else(|| line.to_owned())).collect::<String>()
        };
        let (streamed_text, whole_text) = (timeless(&streamed), timeless(&whole));
        assert!(streamed_text.contains("\"handshake_us\": -\n"), "{streamed_text}");
        let line = streamed_text.lines().zip(whole_text.lines()).position(|(s, w)| s != w);
        assert!(
            streamed_text == whole_text,
            "{detail}: differs from line {line:?}:\n{streamed_text}\n---\n{whole_text}"
        );
        let whole_stderr = String::from_utf8_lossy(&whole.stderr);
        let (baseline_said, _) = whole_stderr.split_once("inspect: since the baseline:").unwrap();
        assert_eq!(String::from_utf8_lossy(&streamed.stderr), baseline_said);
    }
    drop((farm, other_farm));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A JSON report's temporary file that cannot be created stops the run
/// before anything is probed, with a sentence naming where it was wanted.
#[test]
fn a_json_report_without_a_temporary_directory_is_a_clear_error() {
    let dir = target_dir().join("e2e-cli-probe-json-tmp").join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("no-such-directory");
    let output = Command::new(inspect_binary())
        .args(["probe", "--format", "json", "127.0.0.1:1"])
        .env("TMPDIR", &missing)
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected = format!("inspect: cannot create the JSON report's temporary file in {}: ", missing.display());
    assert!(stderr.starts_with(&expected) && stderr.lines().count() == 1, "{stderr}");
    assert!(output.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A targets file with nothing to probe (blank lines and comments) is a
/// usage error naming it, not an empty report that exits 0 as if all were
/// well.
#[test]
fn a_targets_file_naming_no_endpoint_is_a_usage_error() {
    let dir = target_dir().join("e2e-cli-probe-empty-targets").join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("targets.txt"), "# the fleet moved\n\n").unwrap();
    let output = Command::new(inspect_binary())
        .args(["probe", "--targets", "targets.txt"])
        .current_dir(&dir)
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr, "inspect: targets.txt names no endpoint to probe\n");
    assert!(output.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `inspect probe --trust none --ca-file CA_FILE ARGS...` run in `dir`,
/// without plugins.
fn probe_in(dir: &Path, ca_file: &Path, args: &[&str]) -> Output {
    Command::new(inspect_binary())
        .args(["probe", "--trust", "none", "--ca-file"])
        .arg(ca_file)
        .args(args)
        .current_dir(dir)
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        .output()
        .unwrap()
}

/// Debian's promtool, fetched once into the target directory when not installed.
fn promtool() -> &'static certinspect_testbed::prometheus::Tools {
    static TOOLS: std::sync::OnceLock<certinspect_testbed::prometheus::Tools> = std::sync::OnceLock::new();
    TOOLS.get_or_init(|| {
        certinspect_testbed::prometheus::tools(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
            .unwrap_or_else(|e| panic!("{e}"))
    })
}
