//! `inspect probe` on served leaves whose CRL distribution points name a
//! real HTTP server on 127.0.0.1 serving revocation lists built here (rcgen)
//! by the leaves' CA, an impostor with the same name, or nobody: what the
//! report's revocation fact says (status, source), the findings with their
//! severity, and the exit code. Good, revoked, unknown (HTTP 404),
//! stale, wrong signer, responder down, a list over the size bound, a
//! must-staple leaf served without a staple, and `--no-fetch`; and one
//! fetch per list per run, however many leaves name it.
//!
//! OCSP the same way: leaves whose AIA names a real OCSP responder on
//! 127.0.0.1 (`tests/ocsp/responder.py`, Python `cryptography`'s OCSP
//! builder in a pinned venv, signing each response when asked) and leaves
//! served with a staple that responder built: good, revoked, unknown,
//! stale, wrong signer, delegated responder with and without the
//! OCSP-signing EKU, responder down, a good staple, a must-staple leaf
//! with its staple; and one request per certificate per run.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use certinspect_e2e::{probe_json, target_dir};
use certinspect_tls_farm::pki::{Issued, LeafOptions, TestCa, Validity};
use certinspect_tls_farm::{Der, EndpointMode, EndpointSpec, Farm, FarmSpec, TlsEndpoint};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// What one run of `inspect probe` said about its first result.
struct Said {
    exit: i32,
    report: Value,
}

impl Said {
    fn revocation(&self) -> &Value {
        &self.report["bindings"][0]["results"][0]["revocation"]
    }

    /// `code:severity` of every finding, sorted.
    fn findings(&self) -> Vec<String> {
        let mut found: Vec<String> = self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{}:{}", f["code"].as_str().unwrap(), f["severity"].as_str().unwrap()))
            .collect();
        found.sort();
        found
    }

    fn messages(&self) -> String {
        self.report["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect()
    }
}

/// An HTTP server on 127.0.0.1 serving `files` by path (404 otherwise),
/// counting requests per path; it stops after `max` requests.
fn serve(files: HashMap<String, Vec<u8>>, max: usize) -> (String, Arc<HashMap<String, AtomicUsize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let counts: Arc<HashMap<String, AtomicUsize>> =
        Arc::new(files.keys().map(|path| (path.clone(), AtomicUsize::new(0))).collect());
    let seen = Arc::clone(&counts);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 2048];
            let read = stream.read(&mut request).unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..read]);
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body) = match files.get(&path) {
                Some(body) => {
                    seen[&path].fetch_add(1, Ordering::SeqCst);
                    ("200 OK", body.as_slice())
                }
                None => ("404 Not Found", &[][..]),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/pkix-crl\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
        }
    });
    (base, counts)
}

/// A URL on 127.0.0.1 where nothing listens.
fn nobody_listening() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/down.crl", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn days(from: i64, to: i64) -> Validity {
    let now = OffsetDateTime::now_utc();
    Validity { not_before: now + Duration::days(from), not_after: now + Duration::days(to) }
}

fn scratch(name: &str) -> PathBuf {
    let dir = target_dir().join("e2e-revocation").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn served(name: &str, issued: &Issued) -> EndpointSpec {
    EndpointSpec::new(name, EndpointMode::Tls(TlsEndpoint::single(issued.source())))
}

#[test]
fn every_crl_outcome_has_its_status_finding_and_exit_code() {
    let dir = scratch("crl");
    let ca = TestCa::new("Revocation Test CA").unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    // Same name, its own key: what it signs is not the CA's list.
    let impostor = TestCa::new("Revocation Test CA").unwrap();

    // A list over the 8 MiB bound: real entries, signed by the CA.
    let many: Vec<u64> = (1_000_000..1_000_000 + 330_000).collect();
    let big = ca.crl(&many, days(-1, 6)).unwrap();
    assert!(big.len() > 8 * 1024 * 1024, "{}", big.len());
    let files = HashMap::from([
        ("/main.crl".to_owned(), ca.crl(&[2, 40], days(-1, 6)).unwrap()),
        ("/stale.crl".to_owned(), ca.crl(&[], days(-9, -2)).unwrap()),
        ("/impostor.crl".to_owned(), impostor.crl(&[], days(-1, 6)).unwrap()),
        ("/big.crl".to_owned(), big),
    ]);
    let (base, counts) = serve(files, 100);
    let down = nobody_listening();

    let leaf_with = |serial: u64, options: LeafOptions| {
        let options = LeafOptions { serial: Some(serial), ..options };
        ca.issue_with(&[&format!("s{serial}.test")], days(-1, 90), &options).unwrap()
    };
    let leaf =
        |serial: u64, url: String| leaf_with(serial, LeafOptions { crl_url: Some(url), ..LeafOptions::default() });
    let cases: Vec<(&str, Issued)> = vec![
        ("good", leaf(1, format!("{base}/main.crl"))),
        ("revoked", leaf(2, format!("{base}/main.crl"))),
        ("missing", leaf(3, format!("{base}/missing.crl"))),
        ("stale", leaf(4, format!("{base}/stale.crl"))),
        ("impostor", leaf(5, format!("{base}/impostor.crl"))),
        ("down", leaf(6, down)),
        ("big", leaf(7, format!("{base}/big.crl"))),
        (
            "must-staple",
            leaf_with(
                8,
                LeafOptions { must_staple: true, crl_url: Some(format!("{base}/main.crl")), ..LeafOptions::default() },
            ),
        ),
    ];
    let farm = Farm::start(FarmSpec {
        endpoints: cases.iter().map(|(name, issued)| served(name, issued)).collect(),
        ..FarmSpec::default()
    })
    .unwrap();
    let probe = |name: &str, extra: &[&str]| {
        let serial = cases.iter().position(|(n, _)| *n == name).unwrap() + 1;
        let sni = format!("s{serial}.test");
        let mut args = vec![farm.addr(name).unwrap().to_string(), "--sni".to_owned(), sni];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let (output, report) = probe_json(&dir, &ca_file, &args.iter().map(String::as_str).collect::<Vec<_>>());
        Said { exit: output.status.code().unwrap_or(-1), report }
    };

    // (case, status, findings, exit code, words the messages must hold)
    let expectations: [(&str, &str, &[&str], i32, &str); 8] = [
        ("good", "good", &[], 0, ""),
        ("revoked", "revoked", &["revoked:critical"], 1, "key_compromise"),
        ("missing", "unknown", &["revocation-unknown:medium"], 3, "HTTP 404"),
        ("stale", "unknown", &["revocation-response-invalid:high"], 3, "stale"),
        ("impostor", "unknown", &["revocation-response-invalid:high"], 3, "signature"),
        ("down", "unknown", &["revocation-unknown:medium"], 3, "could not be fetched"),
        ("big", "unknown", &["revocation-unknown:medium"], 3, "exceeds"),
        ("must-staple", "good", &["must-staple-missing:high"], 1, "stapled no OCSP response"),
    ];
    for (name, status, findings, exit, words) in expectations {
        let said = probe(name, &[]);
        let revocation = said.revocation();
        assert_eq!(
            (revocation["status"].as_str(), said.findings(), said.exit),
            (Some(status), findings.iter().map(|f| (*f).to_owned()).collect(), exit),
            "{name}: {revocation} {}",
            said.messages()
        );
        assert_eq!(said.report["bindings"][0]["results"][0]["verdict"], "OBSERVED", "{name}");
        assert_eq!(revocation["source"], "crl", "{name}: {revocation}");
        assert!(said.messages().contains(words), "{name}: {}", said.messages());
        // The probe asks for a staple in every full handshake; the farm staples none.
        assert_eq!(revocation["stapled"], false, "{name}: {revocation}");
        assert_eq!(revocation["must_staple"].as_bool().unwrap_or_default(), name == "must-staple", "{name}");
        if status == "good" || status == "revoked" {
            assert!(revocation["produced_at"].is_i64() && revocation["next_update"].is_i64(), "{revocation}");
        }
    }

    // Turned off, nothing is fetched and the fact says so; nothing is raised.
    let before = counts["/main.crl"].load(Ordering::SeqCst);
    let said = probe("revoked", &["--no-fetch"]);
    assert_eq!((said.revocation()["status"].as_str(), said.findings(), said.exit), (Some("not_checked"), vec![], 0));
    assert!(said.revocation()["why"].as_str().unwrap().contains("--no-fetch"), "{}", said.revocation());
    assert_eq!(counts["/main.crl"].load(Ordering::SeqCst), before);

    // One run probing both leaves that name /main.crl fetches it once.
    let targets = dir.join("targets.txt");
    let line =
        |name: &str, serial: u64| format!("s{serial}.test sni=s{serial}.test connect={}\n", farm.addr(name).unwrap());
    std::fs::write(&targets, line("good", 1) + &line("revoked", 2)).unwrap();
    let (output, report) = probe_json(&dir, &ca_file, &["--targets", targets.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let statuses: Vec<&str> = report["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["results"][0]["revocation"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["good", "revoked"]);
    assert_eq!(counts["/main.crl"].load(Ordering::SeqCst), before + 1);
}

fn ocsp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ocsp")
}

/// The pinned venv's python with `cryptography`, created on first use.
fn python() -> PathBuf {
    let work = target_dir().join("e2e-revocation").join("ocsp-venv");
    certinspect_testbed::python::pinned_venv(&work, &ocsp_dir().join("requirements.txt"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The OCSP responder process; killed when dropped.
struct Responder(Child);

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `responder.py serve config`; its base URL on 127.0.0.1.
fn start_responder(python: &Path, config: &Path) -> (Responder, String) {
    let mut child = Command::new(python)
        .arg(ocsp_dir().join("responder.py"))
        .arg("serve")
        .arg(config)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8(line).unwrap();
    let port = line.strip_prefix("port ").unwrap_or_else(|| panic!("responder said {line:?}"));
    (Responder(child), format!("http://127.0.0.1:{port}/"))
}

#[test]
fn every_ocsp_outcome_has_its_status_finding_and_exit_code() {
    let dir = scratch("ocsp");
    let python = python();
    let ca = TestCa::new("OCSP Test CA").unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let impostor = TestCa::new("OCSP Test CA").unwrap();
    let responder = |serial: u64, ocsp_signing: bool| {
        let options = LeafOptions { serial: Some(serial), ocsp_signing, leaf_only: true, ..LeafOptions::default() };
        ca.issue_with(&["OCSP Responder"], days(-1, 30), &options).unwrap()
    };
    let signer = |issued: &Issued| serde_json::json!({ "cert": issued.chain_pem(), "key": issued.key_pem() });
    let config = dir.join("responder.json");
    let log = dir.join("asked.log");
    let (_responder, url) = start_responder(&python, &config);
    let down = nobody_listening();

    let leaf = |serial: u64, options: LeafOptions| {
        let options = LeafOptions { serial: Some(serial), ..options };
        ca.issue_with(&[&format!("s{serial}.test")], days(-1, 90), &options).unwrap()
    };
    let asking = |url: &str| LeafOptions { ocsp_url: Some(url.to_owned()), ..LeafOptions::default() };
    // The responder's answer: status, signer, thisUpdate and nextUpdate (seconds from now).
    type Answer = (&'static str, &'static str, i64, i64);
    // (case, leaf, the responder's answer)
    let cases: Vec<(&str, Issued, Option<Answer>)> = vec![
        ("good", leaf(1, asking(&url)), Some(("good", "ca", -60, 3600))),
        ("revoked", leaf(2, asking(&url)), Some(("revoked", "ca", -60, 3600))),
        ("unknown", leaf(3, asking(&url)), Some(("unknown", "ca", -60, 3600))),
        ("stale", leaf(4, asking(&url)), Some(("good", "ca", -7200, -3600))),
        ("wrong signer", leaf(5, asking(&url)), Some(("good", "impostor", -60, 3600))),
        ("delegated", leaf(6, asking(&url)), Some(("good", "delegated", -60, 3600))),
        ("delegated without EKU", leaf(7, asking(&url)), Some(("good", "no-eku", -60, 3600))),
        ("down", leaf(8, asking(&down)), None),
        ("good staple", leaf(9, LeafOptions::default()), Some(("good", "ca", -60, 3600))),
        (
            "must-staple, stapled",
            leaf(10, LeafOptions { must_staple: true, ..LeafOptions::default() }),
            Some(("good", "delegated", -60, 3600)),
        ),
        ("stale staple", leaf(11, LeafOptions::default()), Some(("good", "ca", -7200, -3600))),
    ];
    let answers: serde_json::Map<String, Value> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, (_, _, answer))| {
            let (status, signer, this, next) = (*answer)?;
            Some((
                (i + 1).to_string(),
                serde_json::json!({ "status": status, "signer": signer, "this": this, "next": next }),
            ))
        })
        .collect();
    let impostor_key = serde_json::json!({ "cert": impostor.pem(), "key": impostor.key_pem() });
    let settings = serde_json::json!({
        "issuer": ca.pem(),
        "signers": {
            "ca": { "cert": ca.pem(), "key": ca.key_pem() },
            "impostor": impostor_key,
            "delegated": signer(&responder(100, true)),
            "no-eku": signer(&responder(101, false)),
        },
        "answers": answers,
        "log": log,
    });
    std::fs::write(&config, serde_json::to_vec(&settings).unwrap()).unwrap();

    let staple = |serial: u64, issued: &Issued| {
        let leaf_file = dir.join(format!("leaf-{serial}.pem"));
        let out = dir.join(format!("staple-{serial}.der"));
        std::fs::write(&leaf_file, issued.chain_pem()).unwrap();
        let status = Command::new(&python)
            .arg(ocsp_dir().join("responder.py"))
            .args(["staple".as_ref(), config.as_os_str(), serial.to_string().as_ref(), leaf_file.as_os_str()])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        Der(std::fs::read(out).unwrap())
    };
    let farm = Farm::start(FarmSpec {
        endpoints: cases
            .iter()
            .enumerate()
            .map(|(i, (name, issued, _))| {
                let stapled = name.contains("staple").then(|| staple(i as u64 + 1, issued));
                let endpoint = TlsEndpoint { ocsp_staple: stapled, ..TlsEndpoint::single(issued.source()) };
                EndpointSpec::new(*name, EndpointMode::Tls(endpoint))
            })
            .collect(),
        ..FarmSpec::default()
    })
    .unwrap();
    let probe = |name: &str| {
        let serial = cases.iter().position(|(n, _, _)| *n == name).unwrap() + 1;
        let args = [farm.addr(name).unwrap().to_string(), "--sni".to_owned(), format!("s{serial}.test")];
        let (output, report) = probe_json(&dir, &ca_file, &args.iter().map(String::as_str).collect::<Vec<_>>());
        Said { exit: output.status.code().unwrap_or(-1), report }
    };

    // (case, status, source, findings, exit code, words the messages must hold)
    type Expected = (&'static str, &'static str, &'static str, &'static [&'static str], i32, &'static str);
    let expectations: [Expected; 11] = [
        ("good", "good", "ocsp", &[], 0, ""),
        ("revoked", "revoked", "ocsp", &["revoked:critical"], 1, "key_compromise"),
        ("unknown", "unknown", "ocsp", &["revocation-unknown:medium"], 3, "does not know"),
        ("stale", "unknown", "ocsp", &["revocation-response-invalid:high"], 3, "stale"),
        ("wrong signer", "unknown", "ocsp", &["revocation-response-invalid:high"], 3, "not signed by the issuer"),
        ("delegated", "good", "ocsp", &[], 0, ""),
        ("delegated without EKU", "unknown", "ocsp", &["revocation-response-invalid:high"], 3, "OCSP-signing"),
        ("down", "unknown", "ocsp", &["revocation-unknown:medium"], 3, "could not be asked"),
        ("good staple", "good", "stapled", &[], 0, ""),
        ("must-staple, stapled", "good", "stapled", &[], 0, ""),
        ("stale staple", "unknown", "stapled", &["revocation-response-invalid:high"], 3, "stale"),
    ];
    for (name, status, source, findings, exit, words) in expectations {
        let said = probe(name);
        let revocation = said.revocation();
        assert_eq!(
            (revocation["status"].as_str(), revocation["source"].as_str(), said.findings(), said.exit),
            (Some(status), Some(source), findings.iter().map(|f| (*f).to_owned()).collect(), exit),
            "{name}: {revocation} {}",
            said.messages()
        );
        assert!(said.messages().contains(words), "{name}: {}", said.messages());
        assert_eq!(revocation["stapled"], source == "stapled", "{name}: {revocation}");
        if status == "good" || status == "revoked" {
            assert!(revocation["produced_at"].is_i64() && revocation["next_update"].is_i64(), "{revocation}");
        }
    }

    // One request per certificate per run, however many endpoints serve it.
    let asked =
        |serial: &str| std::fs::read_to_string(&log).unwrap_or_default().lines().filter(|l| *l == serial).count();
    let before = asked("1");
    let targets = dir.join("targets.txt");
    let line = |sni: &str| format!("{sni} sni=s1.test connect={}\n", farm.addr("good").unwrap());
    std::fs::write(&targets, line("a.s1.test") + &line("b.s1.test")).unwrap();
    let (output, report) = probe_json(&dir, &ca_file, &["--targets", targets.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report["bindings"].as_array().unwrap().len(), 2);
    assert_eq!(asked("1"), before + 1);

    // Turned off, nothing is asked.
    let before = asked("2");
    let args =
        [farm.addr("revoked").unwrap().to_string(), "--sni".to_owned(), "s2.test".to_owned(), "--no-fetch".to_owned()];
    let (output, report) = probe_json(&dir, &ca_file, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(report["bindings"][0]["results"][0]["revocation"]["status"], "not_checked");
    assert_eq!(asked("2"), before);
}
