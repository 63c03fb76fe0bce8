//! `inspect probe` on the servers a user most needs to hear about, each a
//! real server on 127.0.0.1 with certificates generated here: what the
//! report says (verdict, findings with severity) and the exit code.
//!
//! Unknown CAs (root omitted and served), a missing intermediate completed
//! through an AIA URL served on loopback (and not, with `--no-fetch`), an
//! expired leaf under a re-issued intermediate, a CN-only certificate, an
//! RSA-1024 leaf, a duplicated extension, a bad handshake signature, TLS
//! 1.0- and 1.1-only servers, servers requiring a client certificate (TLS
//! 1.2 and 1.3), and a U-label name.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use certinspect_e2e::{inspect_binary, probe_run, target_dir, ProbeRun as Said};
use certinspect_tls_farm::openssl::{self, Server};
use certinspect_tls_farm::pki::{self_signed, Issued, LeafOptions, TestCa, Validity};
use certinspect_tls_farm::{CertSource, ClientAuth, Der, EndpointMode, EndpointSpec, Farm, FarmSpec, TlsEndpoint};
use time::{Duration, OffsetDateTime};

/// `inspect probe --format json` trusting only `ca_file`, with `args`.
fn probe(dir: &Path, ca_file: &Path, args: &[&str]) -> Said {
    probe_run(dir, ca_file, args)
}

/// Probe `name` at `addr` (no name resolution: the address is the target,
/// the name goes out as SNI and is what the certificate is checked for).
fn at(dir: &Path, ca_file: &Path, name: &str, addr: std::net::SocketAddr, extra: &[&str]) -> Said {
    let mut args =
        vec![addr.to_string(), "--sni".to_owned(), name.to_owned(), "--detail".to_owned(), "full".to_owned()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    probe(dir, ca_file, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn days(from_now: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(from_now)
}

fn validity(from: i64, to: i64) -> Validity {
    Validity { not_before: days(from), not_after: days(to) }
}

fn tls(name: &str, chain: Vec<Vec<u8>>, key: &[u8]) -> EndpointSpec {
    let source = CertSource::Der { chain: chain.into_iter().map(Der).collect(), key: Der(key.to_vec()) };
    EndpointSpec::new(name, EndpointMode::Tls(TlsEndpoint::single(source)))
}

fn served(name: &str, issued: &Issued) -> EndpointSpec {
    tls(name, issued.chain.clone(), &issued.key_pkcs8)
}

/// An HTTP server on 127.0.0.1 answering every request with `body`, at most
/// `max` requests; the URL it serves it at.
fn serve_file(body: Vec<u8>, max: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/i.cer", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.read(&mut [0u8; 2048]);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-cert\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
        }
    });
    url
}

fn scratch(name: &str) -> PathBuf {
    let dir = target_dir().join("e2e-hard-cases").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn chains_that_do_not_validate_are_never_softer_than_untrusted() {
    let dir = scratch("trust");
    let ca = TestCa::new("Hard Cases Root").unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();

    // Unknown CA: an intermediate under a root nobody trusts.
    let stranger_root = TestCa::new("Nobody's Root").unwrap();
    let stranger = stranger_root.intermediate("Nobody's Issuing CA", validity(-10, 900)).unwrap();
    let unknown = stranger.issue(&["unknown.test"], validity(-1, 200)).unwrap();
    let mut with_root = unknown.chain.clone();
    with_root.push(stranger_root.der().to_vec());

    // Missing intermediate: the leaf alone, its AIA URL on loopback.
    let issuing = ca.intermediate("Hard Cases Issuing CA", validity(-10, 900)).unwrap();
    let url = serve_file(issuing.der().to_vec(), 10);
    let aia = LeafOptions { ca_issuers_url: Some(url.clone()), leaf_only: true, ..LeafOptions::default() };
    let incomplete = issuing.issue_with(&["incomplete.test"], validity(-1, 200), &aia).unwrap();

    // Expired leaf (11 days ago) under its intermediate re-issued 5 days ago.
    let old = ca.intermediate("Hard Cases Renewed CA", validity(-400, -3)).unwrap();
    let expired = old.issue(&["expired.test"], validity(-100, -11)).unwrap();
    let renewed = ca.reissue(&old, validity(-5, 700)).unwrap();
    let expired_chain = vec![expired.leaf().to_vec(), renewed.der().to_vec()];

    // The name only in the subject CN.
    let cn_only = LeafOptions { common_name_only: true, ..LeafOptions::default() };
    let legacy = ca.issue_with(&["legacy.test"], validity(-1, 200), &cn_only).unwrap();

    let farm = Farm::start(FarmSpec {
        endpoints: vec![
            served("unknown", &unknown),
            tls("unknown-root-served", with_root, &unknown.key_pkcs8),
            served("incomplete", &incomplete),
            tls("expired", expired_chain, &expired.key_pkcs8),
            served("legacy", &legacy),
        ],
        ..FarmSpec::default()
    })
    .unwrap();
    let run =
        |name: &str, endpoint: &str, extra: &[&str]| at(&dir, &ca_file, name, farm.addr(endpoint).unwrap(), extra);

    for endpoint in ["unknown", "unknown-root-served"] {
        let said = run("unknown.test", endpoint, &[]);
        assert_eq!(
            (said.verdict(), said.findings(), said.exit),
            ("OBSERVED", vec!["untrusted:high".into()], 1),
            "{endpoint}"
        );
        assert_eq!(said.analysis()["trust"]["verdict"]["status"], "untrusted", "{endpoint}");
        // The header says what trust was judged against: only the CA file.
        let trust = &said.report["trust_store"];
        assert_eq!(
            (&trust["base"], &trust["ca_files"][0]["certificates"], &trust["roots"]),
            (&"none".into(), &1.into(), &1.into()),
            "{trust}"
        );
        assert!(said.message("untrusted").contains("Nobody's"), "{endpoint}: {}", said.message("untrusted"));
    }

    let said = run("incomplete.test", "incomplete", &[]);
    assert_eq!((said.findings(), said.exit), (vec!["chain-incomplete:medium".into()], 0));
    assert_eq!(said.result()["issuer_fetches"][0]["url"], url.as_str());
    assert_eq!(said.analysis()["trust"]["verdict"]["status"], "incomplete");

    let said = run("incomplete.test", "incomplete", &["--no-fetch"]);
    assert_eq!((said.findings(), said.exit), (vec!["untrusted:high".into()], 1));
    assert!(said.message("untrusted").contains("fetching is turned off"), "{}", said.message("untrusted"));

    let said = run("expired.test", "expired", &[]);
    assert_eq!((said.findings(), said.exit), (vec!["cert-expired:critical".into()], 1));
    let trust = &said.analysis()["trust"];
    assert_eq!(trust["verdict"]["status"], "expired", "{trust}");
    assert_eq!(trust["trusted_ignoring_time"], true, "{trust}");
    assert!(said.message("cert-expired").contains("expired 11 days ago"), "{}", said.message("cert-expired"));

    let said = run("legacy.test", "legacy", &[]);
    assert_eq!((said.findings(), said.exit), (vec!["name-mismatch:high".into()], 1));
    assert!(said.message("name-mismatch").contains("legacy"), "{}", said.message("name-mismatch"));
}

#[test]
fn broken_certificates_and_handshakes_keep_the_chain_and_say_why() {
    let dir = scratch("broken");
    // RSA-1024, from openssl (ring cannot make RSA keys), self-signed and
    // trusted through the CA file so only the weakness is left to report.
    let weak_der = openssl::self_signed(&dir, "weak.test", "rsa:1024").unwrap();
    let weak = Server::start(&dir, "weak.test.pem", "weak.test.key", &["-cipher", "DEFAULT:@SECLEVEL=0"]).unwrap();
    // (It is valid for 30 days: warn later than that.) A 1024-bit anchor is
    // itself refused, so the chain is untrusted as well as weak.
    let said = at(&dir, &dir.join("weak.test.pem"), "weak.test", weak.addr(), &["--warn-days", "7"]);
    assert_eq!(
        (said.findings(), said.exit),
        (vec!["handshake-rejected:high".into(), "untrusted:high".into(), "weak-key:medium".into()], 1)
    );
    assert_eq!(said.result()["served"]["subject"], "CN=weak.test");
    let sha256 = certinspect_analysis::parse_certificate(&weak_der).unwrap().sha256_fingerprint;
    assert_eq!(said.result()["served"]["sha256"], sha256.as_str());

    // A duplicated extension: rustls refuses the leaf, the report says what is wrong.
    let mut params = rcgen::CertificateParams::new(vec!["dup.test".to_owned()]).unwrap();
    let mut san = vec![0x30, 10, 0x82, 8];
    san.extend_from_slice(b"dup.test");
    params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 17], san)];
    let key = rcgen::KeyPair::generate().unwrap();
    let duplicated = params.self_signed(&key).unwrap().der().to_vec();
    // A chain presented with another certificate's key.
    let a = self_signed(&["forged.test"], Validity::days_from_now(200)).unwrap();
    let b = self_signed(&["other.test"], Validity::days_from_now(200)).unwrap();
    let farm = Farm::start(FarmSpec {
        endpoints: vec![
            tls("dup", vec![duplicated], &key.serialize_der()),
            tls("forged", a.chain.clone(), &b.key_pkcs8),
        ],
        ..FarmSpec::default()
    })
    .unwrap();
    let ca_file = dir.join("forged.pem");
    std::fs::write(&ca_file, a.chain_pem()).unwrap();

    let said = at(&dir, &ca_file, "dup.test", farm.addr("dup").unwrap(), &[]);
    assert_eq!(said.verdict(), "INDETERMINATE");
    assert!(said.findings().contains(&"malformed-certificate:high".to_owned()), "{:?}", said.findings());
    assert!(said.findings().contains(&"handshake-rejected:high".to_owned()), "{:?}", said.findings());
    assert_eq!(said.exit, 1);
    assert!(
        said.message("malformed-certificate").contains("extension twice"),
        "{}",
        said.message("malformed-certificate")
    );

    let said = at(&dir, &ca_file, "forged.test", farm.addr("forged").unwrap(), &[]);
    assert_eq!((said.findings(), said.exit), (vec!["handshake-rejected:high".into()], 1));
    assert!(
        said.message("handshake-rejected").contains("does not verify with the key"),
        "{}",
        said.message("handshake-rejected")
    );
    assert_eq!(said.result()["served"]["subject"], "CN=forged.test");
    // Messages are sentences: no Rust Debug text, no byte lists.
    let text = said.report.to_string();
    assert!(!text.contains("Other(") && !text.contains("[16, 3"), "{text}");
}

#[test]
fn legacy_and_client_certificate_servers_are_read_and_named() {
    let dir = scratch("legacy");
    let ca = TestCa::new("Legacy Root").unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let issued = ca.issue(&["old.test"], Validity::days_from_now(200)).unwrap();
    openssl::write_issued(&dir, "old", &issued).unwrap();
    openssl::write(&dir, "ca.pem", &ca.pem()).unwrap();
    let server = |extra: &[&str]| {
        let mut args = vec!["-cert_chain", "old-chain.pem"];
        args.extend_from_slice(extra);
        Server::start(&dir, "old.pem", "old.key", &args).unwrap()
    };
    for (flag, version) in [("-tls1", "TLSv1.0"), ("-tls1_1", "TLSv1.1")] {
        let old = server(&[flag, "-cipher", "DEFAULT:@SECLEVEL=0"]);
        let said = at(&dir, &ca_file, "old.test", old.addr(), &[]);
        assert_eq!(
            (said.verdict(), said.findings(), said.exit),
            ("OBSERVED", vec!["legacy-protocol:high".into()], 1),
            "{version}"
        );
        assert_eq!(said.result()["tls"]["version"], version);
        assert_eq!(said.result()["tls"]["capture"], "legacy_handshake");
        assert_eq!(said.result()["served"]["subject"], "CN=old.test");
    }

    // A client certificate required: the chain comes first, then the refusal.
    let tls12 = server(&["-Verify", "1", "-CAfile", "ca.pem", "-tls1_2"]);
    let farm = Farm::start(FarmSpec {
        endpoints: vec![EndpointSpec::new(
            "mtls13",
            EndpointMode::Tls(TlsEndpoint {
                client_auth: Some(ClientAuth { cas: vec![Der(ca.der().to_vec())], required: true }),
                ..TlsEndpoint::single(issued.source())
            }),
        )],
        ..FarmSpec::default()
    })
    .unwrap();
    for (addr, what) in [(tls12.addr(), "TLS 1.2"), (farm.addr("mtls13").unwrap(), "TLS 1.3")] {
        let said = at(&dir, &ca_file, "old.test", addr, &[]);
        assert_eq!(
            (said.verdict(), said.findings(), said.exit),
            ("OBSERVED", vec!["client-certificate-requested:info".into()], 0),
            "{what}"
        );
        let request = &said.result()["client_certificate_request"];
        assert_eq!(request["required"], true, "{what}: {request}");
        assert_eq!(request["acceptable_ca_names"][0], "CN=Legacy Root", "{what}: {request}");
    }
}

#[test]
fn names_are_taken_as_users_type_them() {
    let dir = scratch("names");
    let ca = TestCa::new("Names Root").unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let issued = ca.issue(&["xn--bcher-kva.test"], Validity::days_from_now(200)).unwrap();
    let farm = Farm::start(FarmSpec { endpoints: vec![served("books", &issued)], ..FarmSpec::default() }).unwrap();
    let port = farm.addr("books").unwrap().port();
    // The targets file routes the name to loopback; nothing is resolved.
    std::fs::write(dir.join("targets.txt"), format!("bücher.test:443 connect=127.0.0.1:{port}  # a U-label\n"))
        .unwrap();
    let said = probe(&dir, &ca_file, &["--targets", "targets.txt"]);
    assert_eq!((said.verdict(), said.findings(), said.exit), ("OBSERVED", Vec::<String>::new(), 0));
    assert_eq!(said.result()["sni"], "xn--bcher-kva.test");

    // Names that are no host names are usage errors naming them, refused
    // before any resolver sees them.
    for name in ["bad_name!.test", "bücher..test"] {
        let bad = Command::new(inspect_binary()).args(["probe", name]).output().unwrap();
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(bad.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(name), "{stderr}");
    }
}
