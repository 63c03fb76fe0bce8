//! `inspect scan` as a user runs it, against an emulated world served on
//! loopback: the report of a fixed world, every verdict, and the errors a
//! new user meets (bad credential, missing file, wrong flag).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use certinspect_e2e::{inspect_in_world, normalized_report as normalized, serve_text, target_dir};
use certinspect_testbed::aws::AwsWorld;
use certinspect_testbed::{Testbed, TestbedOptions};
use serde_json::Value;

struct World {
    testbed: Testbed,
    config: PathBuf,
    home: PathBuf,
}

fn world(name: &str, drift: bool) -> World {
    let dir = target_dir().join("e2e-cli").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let testbed = Testbed::start(&TestbedOptions {
        alb: false,
        domains: 8,
        accounts: 1,
        regions: vec!["cn-hangzhou".into(), "cn-shanghai".into()],
        drift,
        crl: false,
        seed: 11,
        dir: dir.join("world"),
    })
    .unwrap();
    let (config, home) = testbed.write_inspect_config(&dir).unwrap();
    World { testbed, config, home }
}

fn inspect(home: &Path, args: &[&str]) -> Output {
    inspect_in_world(home, args).output().unwrap()
}

fn scan_json(world: &World, extra: &[&str]) -> (Output, Value) {
    let config = world.config.to_str().unwrap();
    let mut args = vec!["scan", "--config", config, "--format", "json"];
    args.extend_from_slice(extra);
    let output = inspect(&world.home, &args);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&output.stderr)));
    (output, report)
}

#[test]
fn the_json_report_of_a_fixed_world_matches_its_snapshot() {
    let world = world("snapshot", true);
    let (output, report) = scan_json(&world, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report["schema_version"], 4);
    let actual = serde_json::to_string_pretty(&normalized(&report)).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/scan-fixed-world.json");
    certinspect_test_support::assert_snapshot(&path, &actual);
}

#[test]
fn unreachable_and_no_tls_endpoints_of_a_world_get_their_verdicts() {
    let world = world("verdicts", false);
    let domains: Vec<String> =
        world.testbed.generated.world.accounts[0].cdn_domains.iter().map(|d| d.domain_name.clone()).collect();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let plain = serve_text("not TLS", 4).trim_start_matches("http://").trim_end_matches('/').to_owned();
    let down = format!("{}:443:{closed}", domains[0]);
    let http = format!("{}:443:{plain}", domains[1]);
    let (output, report) = scan_json(&world, &["--connect-to", &down, "--connect-to", &http]);
    // Nothing checked is wrong, but two endpoints could not be checked.
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let verdict_of = |domain: &str| {
        report["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["binding"]["location"]["resource_id"] == domain)
            .map(|b| b["results"][0]["verdict"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(verdict_of(&domains[0]), "UNREACHABLE");
    assert_eq!(verdict_of(&domains[1]), "NO_TLS");
    assert_eq!(verdict_of(&domains[2]), "MATCH");
    assert_eq!(
        report["summary"]["verdicts"]["MATCH"].as_u64().unwrap() + 2,
        report["summary"]["results"].as_u64().unwrap()
    );
}

#[test]
fn a_refused_credential_is_one_clear_error_per_source_and_no_backtrace() {
    let world = world("bad-credential", false);
    // The user's key was rotated: the file still holds the old secret.
    let credentials = world.home.join(".aliyun/config.json");
    let mut file: Value = serde_json::from_slice(&std::fs::read(&credentials).unwrap()).unwrap();
    let secret = file["profiles"][0]["access_key_secret"].as_str().unwrap().to_owned();
    file["profiles"][0]["access_key_secret"] = Value::String("not-the-secret".into());
    std::fs::write(&credentials, serde_json::to_vec(&file).unwrap()).unwrap();

    let (output, report) = scan_json(&world, &[]);
    assert_eq!(output.status.code(), Some(3));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(&secret) && !text.contains("not-the-secret"), "a secret leaked:\n{text}");
        assert!(!text.contains("string to sign"), "the server's string-to-sign leaked:\n{text}");
    }
    // One error per plugin and scope: CDN (global), SLB (two regions), CAS (one endpoint).
    let errors = report["source_errors"].as_array().unwrap();
    let scopes: Vec<String> = errors.iter().map(|e| format!("{} / {}", e["plugin"], e["scope"])).collect();
    assert_eq!(errors.len(), 4, "{scopes:#?}");
    for error in errors {
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("SignatureDoesNotMatch"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
    assert_eq!(report["summary"]["findings"]["high"], 4, "one source-failed finding each");
}

#[test]
fn a_missing_config_file_and_a_wrong_flag_are_one_line_each() {
    let home = target_dir();
    let missing = inspect(&home, &["scan", "--config", "/nonexistent/inspect.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8(missing.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("inspect: /nonexistent/inspect.toml: cannot read the configuration file"), "{stderr}");

    let wrong = inspect(&home, &["scan", "--formt", "json"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8(wrong.stderr).unwrap().starts_with("error: unexpected argument '--formt'"));
}

#[test]
fn a_bad_plugin_setting_names_the_file_line_and_expectation() {
    let world = world("bad-setting", false);
    let text = std::fs::read_to_string(&world.config).unwrap();
    let broken = text.replacen("[source.config]\n", "[source.config]\npage_size = 9000\n", 1);
    let config = world.config.with_file_name("broken.toml");
    std::fs::write(&config, &broken).unwrap();
    let line = broken.lines().position(|l| l == "page_size = 9000").unwrap() + 1;
    let output = inspect(&world.home, &["config", "check", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "inspect: {}:{line}:13: [[source]] 'alibaba-cdn': config.page_size: expected at most 500",
            config.display()
        )),
        "{stderr}"
    );
}

#[test]
fn the_alibaba_plugins_load_as_dynamic_libraries_in_inspect_plugins() {
    let output = inspect(&target_dir(), &["plugins", "--format", "json"]);
    assert!(output.status.success());
    let listing: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut names: Vec<&str> =
        listing["plugins"].as_array().unwrap().iter().map(|p| p["info"]["name"].as_str().unwrap()).collect();
    names.sort();
    // The three libraries replace their built-in providers; ALB/NLB and AWS stay built in.
    assert_eq!(names, ["alibaba-alb", "alibaba-cas", "alibaba-cdn", "alibaba-slb", "aws"], "{listing:#}");
    assert_eq!(listing["failures"], Value::Array(vec![]));
    let cas = listing["plugins"].as_array().unwrap().iter().find(|p| p["info"]["name"] == "alibaba-cas").unwrap();
    assert!(cas["info"]["capabilities"].as_array().unwrap().contains(&Value::from("revocation-lookup")));
    assert!(cas["info"]["config_schema"]["properties"]["credentials"].is_object());
}

#[test]
fn chosen_tags_are_csv_and_table_columns_of_a_scan() {
    // Both clouds: the Alibaba world and the AWS world on the real moto.
    let dir = target_dir().join("e2e-cli").join(format!("tags-aws-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let venv = target_dir().join("tmp").join("certinspect-aws");
    let aws = AwsWorld::start(&dir.join("aws-world"), &venv).unwrap_or_else(|e| panic!("{e}"));
    let mut world = world("tags", false);
    (world.config, world.home) = world.testbed.write_inspect_config_with(&dir, Some(&aws)).unwrap();
    let mut text = std::fs::read_to_string(&world.config).unwrap();
    text.push_str("\n[output]\nlabels_from_tags = [\"owner\"]\n");
    std::fs::write(&world.config, text).unwrap();
    let config = world.config.to_str().unwrap();
    let output = inspect(&world.home, &["scan", "--config", config, "--format", "csv"]);
    let csv = String::from_utf8(output.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.last(), Some(&"tag:owner"), "{csv}");
    let service = header.iter().position(|c| *c == "service").unwrap();
    // The service is the second cell and no tag holds a comma, so splitting
    // on commas finds both (a quoted reason between them may hold one).
    let rows: Vec<(&str, &str)> =
        lines.map(|l| (l.split(',').nth(service).unwrap(), l.rsplit(',').next().unwrap())).collect();
    let owners = |svc: &str| -> Vec<&str> {
        let mut owners: Vec<&str> = rows.iter().filter(|r| r.0 == svc).map(|r| r.1).collect();
        owners.sort_unstable();
        owners
    };
    // The emulator's load balancers carry an owner, and so do most CDN
    // domains (every fifth has no tags); CAS certificates have no tags, so
    // their cell is empty.
    let slb = owners("slb");
    assert!(!slb.is_empty() && slb.iter().all(|o| ["alice", "bob", "carol"].contains(o)), "{csv}");
    let cdn = owners("cdn");
    assert!(cdn.iter().any(|o| !o.is_empty()), "{csv}");
    assert!(cdn.iter().all(|o| ["alice", "bob", "carol", ""].contains(o)), "{csv}");
    // AWS (certinspect_testbed::aws): the web ALB's two certificates are
    // alice's, the NLB listener bob's (its own tag over its load
    // balancer's), the IAM-certificate ALB has none; the distribution and
    // its ACM certificate are carol's.
    assert_eq!(owners("acm"), ["", "", "", "carol"], "{csv}");
    assert_eq!(owners("elbv2"), ["", "alice", "alice", "bob"], "{csv}");
    assert_eq!(owners("cloudfront"), ["carol"], "{csv}");
    assert_eq!(owners("iam"), [""], "{csv}");
    let output = inspect(&world.home, &["scan", "--config", config, "--format", "table"]);
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.lines().any(|l| l.starts_with("SERVICE") && l.trim_end().ends_with("TAG:owner")), "{table}");
}
