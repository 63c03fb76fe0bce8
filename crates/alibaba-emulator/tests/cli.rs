//! The binary: `generate`, then serve the generated world on loopback; non-loopback
//! listen addresses are refused.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use alibaba_emulator::World;

const BIN: &str = env!("CARGO_BIN_EXE_alibaba-emulator");

#[test]
fn generate_then_serve_the_world() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "generate",
            "--domains",
            "8",
            "--seed",
            "5",
            "--drift",
            "--regions",
            "cn-hangzhou,eu-central-1",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let world_path = dir.path().join("world.json");
    let w = World::load(&world_path).unwrap();
    assert_eq!(w.manifest.len(), 6);
    assert_eq!(w.regions.len(), 2);
    assert_eq!(w.regions[0].region_endpoint, "slb.aliyuncs.com");
    assert_eq!(w.regions[1].region_endpoint, "slb.eu-central-1.aliyuncs.com");
    let key = w.accounts[0].access_keys[0].clone();

    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--exit-after", "20", "--world"])
        .arg(&world_path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // A V1 request signed by hand against the served world.
    let mut params: Vec<(String, String)> = [
        ("Action", "DescribeCdnHttpsDomainList"),
        ("Version", "2018-05-10"),
        ("Format", "JSON"),
        ("AccessKeyId", key.id.as_str()),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", "cli-test-1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.push(("Timestamp".into(), alibaba_emulator::api::iso(time::OffsetDateTime::now_utc())));
    let sig = alibaba_signing::v1::sign("GET", &params, &key.secret);
    params.push(("Signature".into(), sig));
    let resp = common::http().get(format!("{url}/?{}", common::wire(&params))).send().unwrap();
    let status = resp.status().as_u16();
    let v: serde_json::Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["TotalCount"].as_u64().unwrap() as usize, w.accounts[0].cdn_domains.len());
}

#[test]
fn non_loopback_listen_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("w.json");
    common::small_world(0).save(&world).unwrap();
    let out =
        Command::new(BIN).args(["--listen", "0.0.0.0:0", "--exit-after", "1", "--world"]).arg(&world).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
