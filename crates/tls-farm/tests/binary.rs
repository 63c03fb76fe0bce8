//! The `tls-farm` binary: spec in, addresses out as JSON lines, bounded life.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certinspect_tls_farm::pki::{self, Validity};
use certinspect_tls_farm::BoundEndpoint;

#[test]
fn serves_a_json_spec_and_exits_when_stdin_closes() {
    let dir = tempfile::tempdir().unwrap();
    let cert = pki::self_signed(&["farm.test"], Validity::days_from_now(30)).unwrap();
    std::fs::write(dir.path().join("chain.pem"), cert.chain_pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.key_pem()).unwrap();
    let spec = serde_json::json!({
        "endpoints": [
            {"name": "site", "mode": {"type": "tls", "default": {"files": {
                "chain": dir.path().join("chain.pem"), "key": dir.path().join("key.pem")}}}},
            {"name": "http", "bind": ["127.0.0.1", "::1"], "mode": {"type": "plain_http"}}
        ]
    });
    let spec_path = dir.path().join("farm.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_tls-farm"))
        .arg("--spec")
        .arg(&spec_path)
        .args(["--for", "60", "--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut eps: Vec<BoundEndpoint> = Vec::new();
    loop {
        let line = lines.next().expect("a line before EOF").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v.get("ready").is_some() {
            assert_eq!(v["endpoints"], 2);
            break;
        }
        eps.push(serde_json::from_value(v).unwrap());
    }
    assert_eq!(eps.len(), 2);
    assert_eq!((eps[0].name.as_str(), eps[0].mode.as_str()), ("site", "tls"));
    assert_eq!(eps[1].addrs.len(), 2);

    // The TLS endpoint accepts; the HTTP one answers like an HTTP server on
    // both families.
    TcpStream::connect(eps[0].addr()).unwrap();
    for addr in &eps[1].addrs {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 400 "), "{resp}");
    }

    drop(child.stdin.take());
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > until {
            child.kill().unwrap();
            panic!("tls-farm did not exit after stdin closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

#[test]
fn refuses_a_non_loopback_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("farm.json");
    std::fs::write(&spec_path, r#"{"endpoints": [{"name": "x", "bind": ["0.0.0.0"], "mode": {"type": "tarpit"}}]}"#)
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tls-farm"))
        .arg("--spec")
        .arg(&spec_path)
        .args(["--for", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
