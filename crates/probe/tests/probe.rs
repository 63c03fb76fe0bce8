//! The probe against loopback TLS farms: certificates of every kind must
//! be captured as served, and hostile endpoints must end in the right error
//! within the configured time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use certinspect_probe::{
    apply_resolve_overrides, parse_resolve, probe_blocking, AddressSelection, FamilyFilter, IpFamily, Phase,
    ProbeConfig, ProbeErrorKind, ProbeObservation, ProbeTarget, Prober, Resolution, SniMode,
};
use certinspect_tls_farm::pki::{self, Issued, TestCa, Validity};
use certinspect_tls_farm::{
    ClientAuth, Der, EndpointMode, EndpointSpec, Farm, FarmHandle, FarmSpec, SniEntry, TlsEndpoint,
};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn start(endpoints: Vec<EndpointSpec>) -> FarmHandle {
    Farm::start(FarmSpec { endpoints, worker_threads: Some(2), max_connection_secs: Some(60) }).expect("farm starts")
}

fn tls(name: &str, cert: &Issued) -> EndpointSpec {
    EndpointSpec::new(
        name,
        EndpointMode::Tls(TlsEndpoint {
            alpn: vec!["h2".into(), "http/1.1".into()],
            ..TlsEndpoint::single(cert.source())
        }),
    )
}

/// A target for `host` on `addr`'s port that connects to `addr`.
fn at(host: &str, addr: SocketAddr) -> ProbeTarget {
    ProbeTarget::new(host, addr.port()).with_resolve_override(vec![addr.ip()])
}

fn quick() -> ProbeConfig {
    ProbeConfig {
        connect_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(5),
        overall_deadline: Some(Duration::from_secs(30)),
        ..ProbeConfig::default()
    }
}

fn leaf(obs: &ProbeObservation) -> Vec<u8> {
    match obs.leaf() {
        Some(l) => l.to_vec(),
        None => panic!("{} failed: {:?}", obs.target, obs.error()),
    }
}

fn chain(obs: &ProbeObservation) -> Vec<Vec<u8>> {
    obs.tls()
        .unwrap_or_else(|| panic!("{} failed: {:?}", obs.target, obs.error()))
        .chain
        .iter()
        .map(|c| c.as_bytes().to_vec())
        .collect()
}

/// Waits (bounded) until the farm has seen `n` clean closes on `name`.
async fn clean_closes(farm: &FarmHandle, name: &str, n: u64) -> certinspect_tls_farm::EndpointStats {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let s = farm.stats(name).unwrap();
        if s.clean_closes >= n || Instant::now() > until {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_valid_expired_self_signed_and_wrong_host_chains() {
    let ca = TestCa::new("Probe Test CA").unwrap();
    let valid = ca.issue(&["valid.test"], Validity::days_from_now(90)).unwrap();
    let expired = ca.issue(&["expired.test"], Validity::expired(10)).unwrap();
    let selfsigned = pki::self_signed(&["self.test"], Validity::days_from_now(90)).unwrap();
    let other = ca.issue(&["other.test"], Validity::days_from_now(90)).unwrap();
    let farm =
        start(vec![tls("valid", &valid), tls("expired", &expired), tls("self", &selfsigned), tls("wrong", &other)]);
    let targets = vec![
        at("valid.test", farm.addr("valid").unwrap()),
        at("expired.test", farm.addr("expired").unwrap()),
        at("self.test", farm.addr("self").unwrap()),
        at("wrong.test", farm.addr("wrong").unwrap()),
    ];
    let obs = Prober::new(quick()).probe_collect(targets).await;
    assert_eq!(obs.len(), 4);

    assert_eq!(chain(&obs[0]), valid.chain, "valid: leaf then CA, as served");
    assert_eq!(chain(&obs[1]), expired.chain, "expired certificate still captured");
    assert_eq!(chain(&obs[2]), selfsigned.chain, "self-signed captured");
    assert_eq!(leaf(&obs[3]), other.leaf(), "wrong-host certificate captured");

    let o = &obs[0];
    let t = o.tls().unwrap();
    assert_eq!(t.version, "TLSv1.3");
    assert!(t.cipher_suite.starts_with("TLS13_"), "{}", t.cipher_suite);
    assert_eq!(t.alpn.as_deref(), Some("h2"));
    assert!(t.key_exchange_group.is_some());
    assert!(t.handshake_bytes > 0);
    assert_eq!(o.sni.as_deref(), Some("valid.test"));
    assert_eq!(o.address, farm.addr("valid"));
    assert_eq!(o.ip_family, Some(IpFamily::V4));
    assert_eq!(o.resolution, Some(Resolution::Override));
    assert!(o.timings.connect_us.is_some() && o.timings.handshake_us.is_some());
    assert_eq!(o.timings.resolve_us, None);
    assert_eq!(obs[3].sni.as_deref(), Some("wrong.test"));

    // The probe closed with close_notify and sent no application data.
    let stats = clean_closes(&farm, "valid", 1).await;
    assert_eq!(stats.handshakes, 1);
    assert_eq!(stats.clean_closes, 1, "{stats:?}");
    assert_eq!(stats.app_data_bytes, 0);
}

#[test]
fn blocking_probe_over_ipv6_sends_no_sni_to_an_ip() {
    if std::net::TcpListener::bind((V6, 0)).is_err() {
        eprintln!("skipping: no IPv6 loopback");
        return;
    }
    let cert = pki::self_signed(&["::1"], Validity::days_from_now(30)).unwrap();
    let farm = start(vec![tls("v6", &cert).bind(vec![V6])]);
    let addr = farm.addr("v6").unwrap();
    let target: ProbeTarget = format!("[::1]:{}", addr.port()).parse().unwrap();
    let obs = probe_blocking(quick(), vec![target]).unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(leaf(&obs[0]), cert.leaf());
    assert_eq!(obs[0].address, Some(addr));
    assert_eq!(obs[0].ip_family, Some(IpFamily::V6));
    assert_eq!(obs[0].sni, None, "IP targets send no SNI by default");
    assert_eq!(obs[0].resolution, Some(Resolution::Literal));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_selects_among_certificates_on_one_port() {
    let ca = TestCa::new("SNI CA").unwrap();
    let a = ca.issue(&["a.test"], Validity::days_from_now(30)).unwrap();
    let b = ca.issue(&["b.test"], Validity::days_from_now(30)).unwrap();
    let wild = ca.issue(&["*.wild.test"], Validity::days_from_now(30)).unwrap();
    let fallback = ca.issue(&["default.test"], Validity::days_from_now(30)).unwrap();
    let farm = start(vec![EndpointSpec::new(
        "multi",
        EndpointMode::Tls(TlsEndpoint {
            default: Some(fallback.source()),
            sni: vec![
                SniEntry { names: vec!["a.test".into()], cert: a.source() },
                SniEntry { names: vec!["b.test".into()], cert: b.source() },
                SniEntry { names: vec!["*.wild.test".into()], cert: wild.source() },
            ],
            ..TlsEndpoint::default()
        }),
    )]);
    let addr = farm.addr("multi").unwrap();
    let by_ip = |sni: SniMode| ProbeTarget::new(addr.ip().to_string(), addr.port()).with_sni(sni);
    let targets = vec![
        by_ip(SniMode::Name("a.test".into())),
        by_ip(SniMode::Name("b.test".into())),
        by_ip(SniMode::Name("x.wild.test".into())),
        by_ip(SniMode::None),
        // A name target told to send no SNI gets the default too.
        at("a.test", addr).with_sni(SniMode::None),
        by_ip(SniMode::Name("unknown.test".into())),
        by_ip(SniMode::Name("1.2.3.4".into())),
    ];
    let obs = Prober::new(quick()).probe_collect(targets).await;
    assert_eq!(obs.len(), 7);
    assert_eq!(leaf(&obs[0]), a.leaf());
    assert_eq!(leaf(&obs[1]), b.leaf());
    assert_ne!(leaf(&obs[0]), leaf(&obs[1]));
    assert_eq!(leaf(&obs[2]), wild.leaf());
    assert_eq!(leaf(&obs[3]), fallback.leaf());
    assert_eq!(leaf(&obs[4]), fallback.leaf());
    assert_eq!(leaf(&obs[5]), fallback.leaf());
    assert_eq!(obs[0].sni.as_deref(), Some("a.test"));
    assert_eq!(obs[3].sni, None);
    assert_eq!(obs[4].sni, None);
    let err = obs[6].error().expect("an IP address cannot be SNI");
    assert_eq!(err.kind, ProbeErrorKind::InvalidTarget);
    assert_eq!(obs[6].address, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sni_without_default_is_a_tls_alert() {
    let a = pki::self_signed(&["only.test"], Validity::days_from_now(30)).unwrap();
    let farm = start(vec![EndpointSpec::new(
        "strict",
        EndpointMode::Tls(TlsEndpoint {
            sni: vec![SniEntry { names: vec!["only.test".into()], cert: a.source() }],
            ..TlsEndpoint::default()
        }),
    )]);
    let addr = farm.addr("strict").unwrap();
    let obs = Prober::new(quick()).probe_collect(vec![at("only.test", addr), at("other.test", addr)]).await;
    assert_eq!(leaf(&obs[0]), a.leaf());
    let err = obs[1].error().expect("no certificate for other.test");
    assert!(matches!(err.kind, ProbeErrorKind::TlsAlert(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_override_reaches_every_address_or_the_first_that_connects() {
    let cert = pki::self_signed(&["svc.test"], Validity::days_from_now(30)).unwrap();
    let farm = start(vec![tls("both", &cert).bind(vec![V4, V6]), tls("v6only", &cert).bind(vec![V6])]);
    let port = farm.endpoint("both").unwrap().port();

    // Every address: one observation each, same SNI, both families.
    let mut targets = vec![ProbeTarget::new("svc.test", port)];
    let ov = parse_resolve(&format!("svc.test:{port}:[::1],127.0.0.1")).unwrap();
    assert_eq!(apply_resolve_overrides(&mut targets, &[ov]), 1);
    let all =
        Prober::new(ProbeConfig { addresses: AddressSelection::All, ..quick() }).probe_collect(targets.clone()).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    let families: Vec<_> = all.iter().map(|o| o.ip_family.unwrap()).collect();
    assert_eq!(families, vec![IpFamily::V4, IpFamily::V6]);
    for o in &all {
        assert_eq!(leaf(o), cert.leaf());
        assert_eq!(o.sni.as_deref(), Some("svc.test"));
        assert_eq!(o.target_index, 0);
        assert_eq!(o.resolution, Some(Resolution::Override));
    }

    // A family filter keeps only IPv6.
    let v6 = Prober::new(ProbeConfig { addresses: AddressSelection::All, ip_family: FamilyFilter::V6, ..quick() })
        .probe_collect(targets)
        .await;
    assert_eq!(v6.len(), 1);
    assert_eq!(v6[0].ip_family, Some(IpFamily::V6));

    // First that connects: 127.0.0.1 refuses, [::1] answers.
    let port6 = farm.endpoint("v6only").unwrap().port();
    let t = ProbeTarget::new("svc.test", port6).with_resolve_override(vec![V4, V6]);
    let first = Prober::new(quick()).probe_collect(vec![t]).await;
    assert_eq!(first.len(), 1);
    assert_eq!(leaf(&first[0]), cert.leaf());
    assert_eq!(first[0].address, Some(SocketAddr::new(V6, port6)));
    assert_eq!(first[0].failed_attempts.len(), 1);
    assert_eq!(first[0].failed_attempts[0].error.kind, ProbeErrorKind::Refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_names_with_the_system_resolver() {
    // /etc/hosts answers for localhost; nothing leaves the machine.
    let cert = pki::self_signed(&["localhost"], Validity::days_from_now(30)).unwrap();
    let farm = start(vec![tls("local", &cert)]);
    let port = farm.addr("local").unwrap().port();
    let obs = Prober::new(ProbeConfig { ip_family: FamilyFilter::V4, ..quick() })
        .probe_collect(vec![ProbeTarget::new("localhost", port)])
        .await;
    assert_eq!(leaf(&obs[0]), cert.leaf());
    assert_eq!(obs[0].resolution, Some(Resolution::Dns));
    assert!(obs[0].timings.resolve_us.is_some());
    assert_eq!(obs[0].sni.as_deref(), Some("localhost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_endpoints_end_in_the_right_error_in_time() {
    let farm = start(vec![
        EndpointSpec::new("tarpit", EndpointMode::Tarpit),
        EndpointSpec::new("garbage", EndpointMode::Garbage { bytes: 2048 }),
        EndpointSpec::new("http", EndpointMode::PlainHttp),
        EndpointSpec::new("close", EndpointMode::Close),
        EndpointSpec::new("reset", EndpointMode::Reset),
        EndpointSpec::new("huge", EndpointMode::HugeChain { count: 200, cert_bytes: 6000 }),
    ]);
    // A port that nothing listens on.
    let refused = {
        let l = std::net::TcpListener::bind((V4, 0)).unwrap();
        l.local_addr().unwrap()
    };
    let names = ["tarpit", "garbage", "http", "close", "reset", "huge"];
    let mut targets: Vec<ProbeTarget> = names.iter().map(|n| at("hostile.test", farm.addr(n).unwrap())).collect();
    targets.push(at("hostile.test", refused));
    let deadline = Duration::from_secs(20);
    let prober = Prober::new(ProbeConfig {
        handshake_timeout: Duration::from_secs(1),
        overall_deadline: Some(deadline),
        ..ProbeConfig::default()
    });
    let started = Instant::now();
    let mut rx = prober.probe_stream(targets);
    let mut obs = Vec::new();
    while let Some(o) = rx.recv().await {
        obs.push(o);
    }
    assert!(started.elapsed() < deadline, "finished before the overall deadline");
    assert_eq!(obs.len(), 7, "one observation per target");
    obs.sort_by_key(|o| o.target_index);
    let kinds: Vec<ProbeErrorKind> =
        obs.iter().map(|o| o.error().unwrap_or_else(|| panic!("{} handshook", o.target)).kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            ProbeErrorKind::Timeout(Phase::Handshake),
            ProbeErrorKind::NotTls,
            ProbeErrorKind::NotTls,
            ProbeErrorKind::Closed,
            ProbeErrorKind::Reset,
            ProbeErrorKind::TooLarge,
            ProbeErrorKind::Refused,
        ],
        "{obs:#?}"
    );
    // The 1 MB chain was refused by rustls's 64 KiB handshake-message limit,
    // not by reading it whole.
    assert!(obs[5].error().unwrap().message.contains("64 KiB"), "{:?}", obs[5].error());
    // Sentences for people: the particulars, no debug text or byte lists.
    let http = &obs[2].error().unwrap().message;
    assert!(
        http.starts_with("the server sent ")
            && http.ends_with("bytes that are not TLS, starting with `HTTP/1.1 400 Bad`"),
        "{http}"
    );
    // A server that hangs up on the ClientHello might be an old one that
    // chokes on TLS 1.3; the legacy capture was tried, and failed too.
    for o in &obs[3..5] {
        let message = &o.error().unwrap().message;
        // On a loaded machine the reset can reach connect() itself, before
        // any ClientHello was sent: then there was nothing to retry.
        let reset_while_opening = message.ends_with("reset the connection while it was being opened");
        assert!(message.contains("; a TLS 1.0-1.2 capture handshake failed too: ") || reset_while_opening, "{message}");
    }
    for o in &obs {
        let message = &o.error().unwrap().message;
        for debug_syntax in ["[", "{", "Error(", "::", "0x"] {
            assert!(!message.contains(debug_syntax), "{}: {message}", o.target);
        }
    }
    for o in &obs {
        assert_eq!(o.address, Some(SocketAddr::new(V4, o.target.port)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_cap_stops_a_chain_below_rustls_limit() {
    // 20 x 2 KB: each message is under 64 KiB but over a 16 KiB cap.
    let farm = start(vec![EndpointSpec::new("big", EndpointMode::HugeChain { count: 20, cert_bytes: 2000 })]);
    let addr = farm.addr("big").unwrap();
    let capped = Prober::new(ProbeConfig { max_handshake_bytes: 16 * 1024, ..quick() })
        .probe_collect(vec![at("localhost", addr)])
        .await;
    let err = capped[0].error().expect("capped");
    assert_eq!(err.kind, ProbeErrorKind::TooLarge);
    assert_eq!(err.message, "the server sent more than 16,384 bytes without finishing the handshake");
    let uncapped = Prober::new(quick()).probe_collect(vec![at("localhost", addr)]).await;
    assert_eq!(chain(&uncapped[0]).len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overall_deadline_reports_every_target() {
    let farm = start(vec![EndpointSpec::new("tarpit", EndpointMode::Tarpit)]);
    let addr = farm.addr("tarpit").unwrap();
    let deadline = Duration::from_millis(1500);
    let prober = Prober::new(ProbeConfig {
        max_concurrency: 1,
        handshake_timeout: Duration::from_secs(60),
        overall_deadline: Some(deadline),
        ..ProbeConfig::default()
    });
    let started = Instant::now();
    let obs = prober.probe_collect((0..3).map(|_| at("tarpit.test", addr)).collect()).await;
    assert!(started.elapsed() < deadline + Duration::from_secs(2));
    assert_eq!(obs.len(), 3, "nothing silently dropped");
    let mut kinds: Vec<_> = obs.iter().map(|o| o.error().unwrap().kind.clone()).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        kinds,
        vec![
            ProbeErrorKind::Deadline(Phase::Handshake),
            ProbeErrorKind::Deadline(Phase::Queue),
            ProbeErrorKind::Deadline(Phase::Queue),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_limit_queues_the_rest() {
    // Four tarpit probes, two at a time to one address: the second pair can
    // only start when the first pair's 1 s handshake timeout has expired.
    let farm = start(vec![EndpointSpec::new("tarpit", EndpointMode::Tarpit)]);
    let addr = farm.addr("tarpit").unwrap();
    let prober = Prober::new(ProbeConfig {
        max_concurrency: 16,
        per_address_concurrency: 2,
        handshake_timeout: Duration::from_secs(1),
        ..quick()
    });
    let obs = prober.probe_collect((0..4).map(|_| at("tarpit.test", addr)).collect()).await;
    assert_eq!(obs.len(), 4);
    let waited = obs.iter().filter(|o| o.timings.queue_us >= 900_000).count();
    assert_eq!(waited, 2, "{:?}", obs.iter().map(|o| o.timings).collect::<Vec<_>>());
    assert!(obs.iter().all(|o| o.error().unwrap().kind == ProbeErrorKind::Timeout(Phase::Handshake)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_only_server_is_observed_as_tls12() {
    let cert = pki::self_signed(&["old.test"], Validity::days_from_now(30)).unwrap();
    let farm = start(vec![EndpointSpec::new(
        "old",
        EndpointMode::Tls(TlsEndpoint { version: Some("1.2".into()), ..TlsEndpoint::single(cert.source()) }),
    )]);
    let obs = Prober::new(quick()).probe_collect(vec![at("old.test", farm.addr("old").unwrap())]).await;
    let t = obs[0].tls().expect("handshake");
    assert_eq!(t.version, "TLSv1.2");
    assert!(t.cipher_suite.starts_with("TLS_ECDHE_ECDSA_"), "{}", t.cipher_suite);
    assert_eq!(t.alpn, None, "server offers no ALPN");
    assert_eq!(leaf(&obs[0]), cert.leaf());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observations_serialize_to_json_and_back() {
    let cert = pki::self_signed(&["json.test"], Validity::days_from_now(30)).unwrap();
    let farm = start(vec![tls("j", &cert)]);
    let obs = Prober::new(quick()).probe_collect(vec![at("json.test", farm.addr("j").unwrap())]).await;
    let text = serde_json::to_string(&obs).unwrap();
    let back: Vec<ProbeObservation> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, obs);
    assert_eq!(leaf(&back[0]), cert.leaf());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_a_full_backlog_times_out() {
    // A listener that never accepts, with its accept queue filled: the
    // kernel drops further SYNs, so connect stalls.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(V4, 0)).unwrap();
    let listener = sock.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..8 {
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(addr)).await
        {
            held.push(s);
        }
    }
    let obs = Prober::new(ProbeConfig { connect_timeout: Duration::from_millis(500), ..quick() })
        .probe_collect(vec![at("stall.test", addr)])
        .await;
    assert!(!held.is_empty());
    assert_eq!(obs[0].error().unwrap().kind, ProbeErrorKind::Timeout(Phase::Connect));
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_served_without_its_key_is_refused() {
    // The server presents A's certificate but signs with B's key: accepting
    // any certificate must not mean accepting an unproven one.
    let a = pki::self_signed(&["a.test"], Validity::days_from_now(30)).unwrap();
    let b = pki::self_signed(&["b.test"], Validity::days_from_now(30)).unwrap();
    let forged = certinspect_tls_farm::CertSource::Der {
        chain: vec![certinspect_tls_farm::Der(a.leaf().to_vec())],
        key: certinspect_tls_farm::Der(b.key_pkcs8.clone()),
    };
    let farm = start(vec![
        EndpointSpec::new("forged13", EndpointMode::Tls(TlsEndpoint::single(forged.clone()))),
        EndpointSpec::new(
            "forged12",
            EndpointMode::Tls(TlsEndpoint { version: Some("1.2".into()), ..TlsEndpoint::single(forged) }),
        ),
    ]);
    let obs = Prober::new(quick())
        .probe_collect(vec![at("a.test", farm.addr("forged13").unwrap()), at("a.test", farm.addr("forged12").unwrap())])
        .await;
    for (o, version) in obs.iter().zip(["TLSv1.3", "TLSv1.2"]) {
        let err = o.error().expect("forged handshake must fail");
        assert_eq!(err.kind, ProbeErrorKind::BadHandshakeSignature, "{err}");
        assert!(err.message.contains("does not verify with the key in its certificate"), "{err}");
        // Captured before the signature check, so the report can still
        // show what was presented.
        let partial = o.partial_tls.as_ref().expect("the chain is kept");
        assert_eq!(partial.chain.len(), 1);
        assert_eq!(o.leaf(), Some(a.leaf()));
        assert_eq!(partial.version.as_deref(), Some(version));
        assert!(partial.cipher_suite.as_ref().is_some_and(|s| s.starts_with("TLS")), "{partial:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn u_label_names_are_sent_as_a_labels() {
    let ca = TestCa::new("IDN CA").unwrap();
    let idn = ca.issue(&["xn--bcher-kva.example"], Validity::days_from_now(30)).unwrap();
    let fallback = ca.issue(&["default.test"], Validity::days_from_now(30)).unwrap();
    let farm = start(vec![EndpointSpec::new(
        "idn",
        EndpointMode::Tls(TlsEndpoint {
            default: Some(fallback.source()),
            sni: vec![SniEntry { names: vec!["xn--bcher-kva.example".into()], cert: idn.source() }],
            ..TlsEndpoint::default()
        }),
    )]);
    let addr = farm.addr("idn").unwrap();
    let parsed: ProbeTarget = format!("bücher.example:{}", addr.port()).parse().unwrap();
    let targets = vec![
        // Typed by a user: converted when parsed.
        parsed.with_resolve_override(vec![addr.ip()]),
        // Built in code with U-labels: converted when probed.
        at("bücher.example", addr),
        at("127.0.0.1", addr).with_sni(SniMode::Name("BÜCHER.example".into())),
        at("127.0.0.1", addr).with_sni(SniMode::Name("bü_cher.example".into())),
    ];
    let obs = Prober::new(quick()).probe_collect(targets).await;
    for o in &obs[..3] {
        assert_eq!(leaf(o), idn.leaf(), "{}", o.target);
        assert_eq!(o.sni.as_deref(), Some("xn--bcher-kva.example"));
    }
    assert_eq!(obs[0].target.host, "xn--bcher-kva.example");
    let err = obs[3].error().expect("an unconvertible name is refused");
    assert_eq!(err.kind, ProbeErrorKind::InvalidTarget);
    assert!(err.message.starts_with("cannot send SNI: \"bü_cher.example\" is not a valid internationalized"), "{err}");
}

/// rustls servers with a client-certificate verifier, as the farm runs
/// them: the request and its CA names are recorded; a server that insists
/// ends the connection, and the chain it served is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_requests_from_rustls_servers() {
    let ca = TestCa::new("Server CA").unwrap();
    let cert = ca.issue(&["mtls.test"], Validity::days_from_now(30)).unwrap();
    let client_ca = TestCa::new("Client CA").unwrap();
    let endpoint = |name: &str, version: &str, required: bool| {
        EndpointSpec::new(
            name,
            EndpointMode::Tls(TlsEndpoint {
                version: Some(version.into()),
                client_auth: Some(ClientAuth { cas: vec![Der(client_ca.der().to_vec())], required }),
                ..TlsEndpoint::single(cert.source())
            }),
        )
    };
    let farm = start(vec![
        endpoint("required12", "1.2", true),
        endpoint("required13", "1.3", true),
        endpoint("optional12", "1.2", false),
        endpoint("optional13", "1.3", false),
    ]);
    let names = ["required12", "required13", "optional12", "optional13"];
    let targets = names.iter().map(|n| at("mtls.test", farm.addr(n).unwrap())).collect();
    let obs = Prober::new(quick()).probe_collect(targets).await;
    let (_, client_ca_cert) = x509_parser::parse_x509_certificate(client_ca.der()).unwrap();
    let client_ca_name = client_ca_cert.tbs_certificate.subject.as_raw().to_vec();
    for (o, name) in obs.iter().zip(names) {
        let request = o.client_certificate_request().unwrap_or_else(|| panic!("{name}: request recorded"));
        let cas: Vec<&[u8]> = request.acceptable_ca_names.iter().map(|n| n.as_bytes()).collect();
        assert_eq!(cas, vec![client_ca_name.as_slice()], "{name}");
        assert_eq!(o.served_chain().iter().map(|c| c.as_bytes().to_vec()).collect::<Vec<_>>(), cert.chain, "{name}");
        let required = name.starts_with("required");
        assert_eq!(request.required, required, "{name}");
        if required {
            let err = o.error().unwrap_or_else(|| panic!("{name}: refused"));
            assert_eq!(err.kind, ProbeErrorKind::ClientCertificateRequired, "{name}: {err}");
        } else {
            assert!(o.tls().is_some(), "{name}: {:?}", o.error());
        }
    }
}
