//! The servers a user most needs to hear about, as real servers on
//! loopback with certificates generated at test time: legacy-only (TLS
//! 1.0, TLS 1.1), weak and DSA keys, malformed certificates, client
//! certificates required. Each must yield its chain and a precise reason.

use std::net::SocketAddr;
use std::time::Duration;

use certinspect_probe::{CaptureMethod, ProbeConfig, ProbeErrorKind, ProbeObservation, ProbeTarget};
use certinspect_tls_farm::openssl::{self, Server};
use certinspect_tls_farm::pki::{self, TestCa, Validity};
use certinspect_tls_farm::{CertSource, Der, EndpointMode, EndpointSpec, Farm, FarmError, FarmSpec, TlsEndpoint};

/// A target for `host` that connects to `addr`.
fn at(host: &str, addr: SocketAddr) -> ProbeTarget {
    ProbeTarget::new(host, addr.port()).with_resolve_override(vec![addr.ip()])
}

fn quick() -> ProbeConfig {
    ProbeConfig {
        connect_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(5),
        overall_deadline: Some(Duration::from_secs(60)),
        ..ProbeConfig::default()
    }
}

fn probe(config: ProbeConfig, targets: Vec<ProbeTarget>) -> Vec<ProbeObservation> {
    certinspect_probe::probe_blocking(config, targets).expect("runtime starts")
}

/// Fails the test with the farm's sentence (which says to install openssl
/// when it is missing).
fn ok<T>(result: Result<T, FarmError>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn served_chain(obs: &ProbeObservation) -> Vec<Vec<u8>> {
    obs.served_chain().iter().map(|c| c.as_bytes().to_vec()).collect()
}

/// Messages are for people: no debug syntax, no byte lists.
fn assert_readable(message: &str) {
    for debug_syntax in ["[", "{", "Error(", "::", "Some(", "\\x"] {
        assert!(!message.contains(debug_syntax), "debug text in {message:?}");
    }
}

#[test]
fn tls_1_0_and_1_1_only_servers_are_captured_by_the_legacy_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Legacy CA").unwrap();
    let issued = ca.issue(&["legacy.test"], Validity::days_from_now(30)).unwrap();
    ok(openssl::write_issued(dir.path(), "legacy", &issued));
    let serve = |version: &str| {
        ok(Server::start(
            dir.path(),
            "legacy.pem",
            "legacy.key",
            &["-cert_chain", "legacy-chain.pem", version, "-cipher", "DEFAULT:@SECLEVEL=0"],
        ))
    };
    let (tls10, tls11) = (serve("-tls1"), serve("-tls1_1"));
    let targets = vec![at("legacy.test", tls10.addr()), at("legacy.test", tls11.addr())];

    let obs = probe(quick(), targets.clone());
    for (o, (version, words)) in obs.iter().zip([("TLSv1.0", "TLS 1.0"), ("TLSv1.1", "TLS 1.1")]) {
        let tls = o.tls().unwrap_or_else(|| panic!("{version}: {:?}", o.error()));
        assert_eq!(tls.version, version);
        assert!(tls.is_legacy_protocol());
        assert_eq!(tls.capture, CaptureMethod::LegacyHandshake);
        assert!(tls.cipher_suite.starts_with("TLS_ECDHE_ECDSA_WITH_"), "{}", tls.cipher_suite);
        assert_eq!(served_chain(o), issued.chain, "{version}: leaf and CA as served");
        assert!(tls.handshake_bytes > 0);
        let why = tls.full_handshake_error.as_ref().expect("why the full handshake failed");
        assert_eq!(why.kind, ProbeErrorKind::UnsupportedProtocol);
        assert_eq!(why.message, format!("the server speaks only {words}, which current clients refuse"));
        assert_eq!(o.sni.as_deref(), Some("legacy.test"));
    }

    // The classic of its kind: RSA key exchange, CBC, SHA-1, TLS 1.0.
    let rsa = ok(openssl::self_signed(dir.path(), "rsa-legacy.test", "rsa:2048"));
    let classic = ok(Server::start(
        dir.path(),
        "rsa-legacy.test.pem",
        "rsa-legacy.test.key",
        &["-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0"],
    ));
    let obs = probe(quick(), vec![at("rsa-legacy.test", classic.addr())]);
    let tls = obs[0].tls().unwrap_or_else(|| panic!("{:?}", obs[0].error()));
    assert_eq!((tls.version.as_str(), tls.cipher_suite.as_str()), ("TLSv1.0", "TLS_RSA_WITH_AES_128_CBC_SHA"));
    assert_eq!(tls.capture, CaptureMethod::LegacyHandshake);
    assert_eq!(served_chain(&obs[0]), vec![rsa]);

    // Without the fallback: a precise reason and nothing else.
    let obs = probe(ProbeConfig { legacy_fallback: false, ..quick() }, targets);
    for o in &obs {
        let err = o.error().expect("rustls cannot talk to TLS 1.0/1.1");
        assert_eq!(err.kind, ProbeErrorKind::UnsupportedProtocol, "{err}");
        assert_readable(&err.message);
        assert!(o.served_chain().is_empty());
    }
}

#[test]
fn a_dsa_server_is_captured_by_the_legacy_handshake() {
    let dir = tempfile::tempdir().unwrap();
    ok(openssl::run(dir.path(), &["dsaparam", "-out", "dsa.params", "2048"]));
    let der = ok(openssl::self_signed(dir.path(), "dsa.test", "dsa:dsa.params"));
    let server = ok(Server::start(
        dir.path(),
        "dsa.test.pem",
        "dsa.test.key",
        &["-tls1_2", "-cipher", "DHE-DSS-AES128-GCM-SHA256:DHE-DSS-AES128-SHA:@SECLEVEL=0"],
    ));
    let obs = probe(quick(), vec![at("dsa.test", server.addr())]);
    let tls = obs[0].tls().unwrap_or_else(|| panic!("{:?}", obs[0].error()));
    assert_eq!(tls.capture, CaptureMethod::LegacyHandshake);
    assert_eq!(tls.version, "TLSv1.2");
    assert!(tls.cipher_suite.starts_with("TLS_DHE_DSS_WITH_"), "{}", tls.cipher_suite);
    assert_eq!(served_chain(&obs[0]), vec![der]);
    let why = tls.full_handshake_error.as_ref().unwrap();
    assert_eq!(why.kind, ProbeErrorKind::NoCommonAlgorithms, "{why}");
    assert_readable(&why.message);
}

#[test]
fn an_rsa_1024_leaf_keeps_its_chain() {
    let dir = tempfile::tempdir().unwrap();
    let der = ok(openssl::self_signed(dir.path(), "weak.test", "rsa:1024"));
    let tls13 = ok(Server::start(dir.path(), "weak.test.pem", "weak.test.key", &["-cipher", "DEFAULT:@SECLEVEL=0"]));
    let tls12 = ok(Server::start(
        dir.path(),
        "weak.test.pem",
        "weak.test.key",
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"],
    ));
    let obs = probe(quick(), vec![at("weak.test", tls13.addr()), at("weak.test", tls12.addr())]);
    for (o, version) in obs.iter().zip(["TLSv1.3", "TLSv1.2"]) {
        let err = o.error().unwrap_or_else(|| panic!("{version}: a 1024-bit RSA handshake signature must be refused"));
        assert_eq!(err.kind, ProbeErrorKind::BadHandshakeSignature, "{version}: {err}");
        assert!(err.message.contains("RSA under 2048 bits"), "{err}");
        assert_readable(&err.message);
        assert_eq!(served_chain(o), vec![der.clone()], "{version}: chain captured before the check");
        assert_eq!(o.protocol_version(), Some(version));
    }
}

#[test]
fn a_certificate_with_a_duplicated_extension_is_reported_malformed_with_its_chain() {
    use rcgen::{CertificateParams, CustomExtension, KeyPair};
    let mut params = CertificateParams::new(vec!["dup.test".to_owned()]).unwrap();
    // A second subjectAltName (2.5.29.17) next to the one rcgen writes:
    // SEQUENCE { [2] "dup.test" }.
    let mut san = vec![0x30, 10, 0x82, 8];
    san.extend_from_slice(b"dup.test");
    params.custom_extensions = vec![CustomExtension::from_oid_content(&[2, 5, 29, 17], san)];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let leaf = cert.der().to_vec();
    let source = CertSource::Der { chain: vec![Der(leaf.clone())], key: Der(key.serialize_der()) };
    let farm = Farm::start(FarmSpec {
        endpoints: vec![EndpointSpec::new("dup", EndpointMode::Tls(TlsEndpoint::single(source)))],
        worker_threads: Some(1),
        max_connection_secs: Some(30),
    })
    .unwrap();
    let obs = probe(quick(), vec![at("dup.test", farm.addr("dup").unwrap())]);
    let err = obs[0].error().expect("the leaf cannot be used");
    assert_eq!(err.kind, ProbeErrorKind::UnusableCertificate, "{err}");
    assert_eq!(
        err.message,
        "the server's certificate is malformed: an extension is invalid or appears more than once \
         (RFC 5280 allows each extension once)"
    );
    assert_eq!(served_chain(&obs[0]), vec![leaf]);
    assert_eq!(obs[0].protocol_version(), Some("TLSv1.3"));
}

/// The subject of `der` exactly as encoded: what a server lists as an
/// acceptable CA name.
fn subject_der(der: &[u8]) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    cert.tbs_certificate.subject.as_raw().to_vec()
}

#[test]
fn servers_that_require_a_client_certificate_keep_their_chain_and_name_their_cas() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("Server CA").unwrap();
    let issued = server_ca.issue(&["mtls.test"], Validity::days_from_now(30)).unwrap();
    ok(openssl::write_issued(dir.path(), "mtls", &issued));
    let client_ca = TestCa::new("Client CA For Probes").unwrap();
    ok(openssl::write(dir.path(), "client-ca.pem", &pki::pem("CERTIFICATE", client_ca.der())));
    let serve = |extra: &[&str]| {
        let mut args = vec!["-cert_chain", "mtls-chain.pem", "-CAfile", "client-ca.pem"];
        args.extend_from_slice(extra);
        ok(Server::start(dir.path(), "mtls.pem", "mtls.key", &args))
    };
    let required12 = serve(&["-Verify", "1", "-tls1_2"]);
    let required13 = serve(&["-Verify", "1", "-tls1_3"]);
    let optional12 = serve(&["-verify", "1", "-tls1_2"]);
    let optional13 = serve(&["-verify", "1", "-tls1_3"]);
    let obs = probe(
        quick(),
        vec![
            at("mtls.test", required12.addr()),
            at("mtls.test", required13.addr()),
            at("mtls.test", optional12.addr()),
            at("mtls.test", optional13.addr()),
        ],
    );
    let client_ca_name = subject_der(client_ca.der());

    for (o, version) in obs[..2].iter().zip(["TLSv1.2", "TLSv1.3"]) {
        let err = o.error().unwrap_or_else(|| panic!("{version}: the server requires a certificate"));
        assert_eq!(err.kind, ProbeErrorKind::ClientCertificateRequired, "{version}: {err}");
        assert!(err.message.starts_with("the server asked for a client certificate and "), "{err}");
        assert_readable(&err.message);
        assert_eq!(served_chain(o), issued.chain, "{version}: chain kept");
        assert_eq!(o.protocol_version(), Some(version));
        let request = o.client_certificate_request().expect("request recorded");
        assert!(request.required, "{version}");
        let names: Vec<Vec<u8>> = request.acceptable_ca_names.iter().map(|n| n.0.clone()).collect();
        assert_eq!(names, vec![client_ca_name.clone()], "{version}: the CAs the server named");
    }

    for (optional, version) in obs[2..].iter().zip(["TLSv1.2", "TLSv1.3"]) {
        let tls = optional.tls().unwrap_or_else(|| panic!("optional {version}: {:?}", optional.error()));
        assert_eq!(tls.version, version);
        assert_eq!(tls.capture, CaptureMethod::FullHandshake);
        let request = tls.client_certificate_request.as_ref().expect("request recorded");
        assert!(!request.required, "{version}");
        let names: Vec<Vec<u8>> = request.acceptable_ca_names.iter().map(|n| n.0.clone()).collect();
        assert_eq!(names, vec![client_ca_name.clone()]);
        assert_eq!(served_chain(optional), issued.chain);
    }
}

#[test]
fn a_certificate_that_is_not_der_is_reported_malformed_with_its_bytes() {
    let key = rcgen::KeyPair::generate().unwrap();
    let garbage = b"this is not a certificate".to_vec();
    let source = CertSource::Der { chain: vec![Der(garbage.clone())], key: Der(key.serialize_der()) };
    let farm = Farm::start(FarmSpec {
        endpoints: vec![EndpointSpec::new("garbage-cert", EndpointMode::Tls(TlsEndpoint::single(source)))],
        worker_threads: Some(1),
        max_connection_secs: Some(30),
    })
    .unwrap();
    let obs = probe(quick(), vec![at("garbage.test", farm.addr("garbage-cert").unwrap())]);
    let err = obs[0].error().expect("the leaf cannot be used");
    assert_eq!(err.kind, ProbeErrorKind::UnusableCertificate, "{err}");
    assert_eq!(err.message, "the server's certificate is malformed: it is not valid DER");
    assert_eq!(served_chain(&obs[0]), vec![garbage], "the bytes as served, for the analysis to report");
}
