//! The AWS world against the real moto (the venv the AWS plugin's tests
//! share, under the target directory): what it seeds, routes and writes
//! stays on loopback and says what was planted; moto takes its commands
//! and stops when dropped.

use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};

use certinspect_testbed::aws::AwsWorld;
use certinspect_testbed::moto::Moto;
use serde_json::Value;

fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("certinspect-aws")
}

#[test]
fn the_aws_world_routes_every_probed_endpoint_to_loopback_and_writes_a_loopback_only_source() {
    let dir = tempfile::tempdir().unwrap();
    let world = AwsWorld::start(&dir.path().join("world"), &venv_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(world.api_url().starts_with("http://127.0.0.1:"), "{}", world.api_url());

    // Every load balancer moto created, and the CloudFront alias, is routed
    // to a loopback TLS endpoint: nothing will be resolved.
    let seeded = world.seeded();
    let mut hosts: Vec<(String, u16)> = world.routes().iter().map(|r| (r.host.clone(), r.port)).collect();
    hosts.sort();
    let dns = |lb: &str| seeded["load_balancers"][lb]["dns_name"].as_str().unwrap().to_owned();
    let mut want = vec![
        (dns("web"), 443),
        (dns("shop-nlb"), 8443),
        (dns("classic"), 8443),
        ("cdn.aws.example.test".to_owned(), 443),
    ];
    want.sort();
    assert_eq!(hosts, want);
    assert!(world.routes().iter().all(|r| r.to.ip() == IpAddr::from([127, 0, 0, 1])), "{:?}", world.routes());

    // The manifest on disk is the planted drift.
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.path().join("world/world.json")).unwrap()).unwrap();
    let on_disk: Vec<(String, String, String)> = manifest["manifest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["service"].as_str().unwrap().into(),
                m["sni"].as_str().unwrap().into(),
                m["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let planted: Vec<(String, String, String)> =
        world.planted().iter().map(|p| (p.service.clone(), p.sni.clone(), p.kind.clone())).collect();
    assert_eq!(on_disk, planted);
    assert_eq!(
        planted,
        [
            ("elbv2".to_owned(), "shop.aws.example.test".to_owned(), "stale".to_owned()),
            ("elbv2".to_owned(), "other.aws.example.test".to_owned(), "foreign".to_owned()),
        ]
    );

    // The source: moto as the endpoint, credentials only from the written
    // file, never the metadata services.
    let section = world.write_source(&dir.path().join("aws")).unwrap();
    let parsed: toml::Table = toml::from_str(&section).unwrap_or_else(|e| panic!("{e}\n{section}"));
    let source = &parsed["source"].as_array().unwrap()[0];
    assert_eq!(source["plugin"].as_str(), Some("aws"));
    let config = &source["config"];
    assert_eq!(config["endpoint"].as_str(), Some(world.api_url()));
    let credentials = &config["credentials"];
    assert_eq!(credentials["metadata_services"].as_bool(), Some(false));
    let file = std::fs::read_to_string(credentials["credentials_file"].as_str().unwrap()).unwrap();
    let profile = credentials["profile"].as_str().unwrap();
    assert!(file.starts_with(&format!("[{profile}]\n")), "{file}");
    assert!(Path::new(credentials["config_file"].as_str().unwrap()).is_file());
}

#[test]
fn moto_takes_its_commands_and_stops_when_dropped() {
    let python = certinspect_testbed::moto::python(&venv_dir()).unwrap_or_else(|e| panic!("{e}"));
    let moto = Moto::start(&python).unwrap_or_else(|e| panic!("{e}"));
    let address = moto.url().trim_start_matches("http://").to_owned();
    moto.set_authentication(true).unwrap();
    moto.set_authentication(false).unwrap();
    moto.reset().unwrap();
    let seeded = moto.seed(&serde_json::json!({})).unwrap();
    assert_eq!(seeded, serde_json::json!({"acm": {}, "load_balancers": {}, "distributions": {}, "iam": {}}));
    // A plan moto refuses is a seed error in a sentence, not a hang.
    let refused =
        moto.seed(&serde_json::json!({"acm": [{"name": "x", "region": "us-east-1", "pem": "no", "key": "no"}]}));
    let error = refused.unwrap_err();
    assert!(!error.is_unavailable());
    assert!(error.to_string().starts_with("seeding moto failed: "), "{error}");
    drop(moto);
    assert!(TcpStream::connect(&address).is_err(), "moto still answers at {address} after drop");
}
