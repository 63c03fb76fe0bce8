//! A real report: the verification engine run against loopback TLS servers
//! serving certificates generated here, with bindings shaped like the ones
//! providers yield (CDN domains, load-balancer listeners, inventory
//! entries, a wildcard that cannot be probed, a failed source).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use certinspect_analysis::TrustStore;
use certinspect_core::collect::CollectError;
use certinspect_core::report::{Detail, Report};
use certinspect_core::trust_store::{TrustBase, TrustStoreInfo};
use certinspect_core::verify::{verify, ConnectTo, VerifyInput, VerifyOptions};
use certinspect_probe::AddressSelection;
use certinspect_protocol::{Binding, DeclaredCertificate, Endpoint, Location, Tristate};
use certinspect_tls_farm::pki::{self_signed, Issued, TestCa, Validity};
use certinspect_tls_farm::{EndpointMode, EndpointSpec, Farm, FarmSpec, TlsEndpoint};
use time::OffsetDateTime;

/// What a provider with full data (CAS, SLB) declares for `issued`.
fn declared(issued: &Issued, name: &str) -> DeclaredCertificate {
    let f = certinspect_analysis::parse_certificate(issued.leaf()).unwrap();
    let dns_names = f.subject_alt_names.iter().filter_map(|s| match s {
        certinspect_analysis::SubjectAltName::Dns(d) => Some(d.clone()),
        _ => None,
    });
    let mut declared = DeclaredCertificate::default()
        .with_provider_id(format!("cert-{name}"))
        .with_name(name)
        .with_sans(dns_names)
        .with_serial(f.serial_hex.clone())
        .with_fingerprint("sha256", &f.sha256_fingerprint)
        .with_issuer(f.issuer.clone())
        .with_validity(f.not_before, f.not_after);
    declared.common_name = f.subject_common_names.first().cloned();
    declared
}

fn location(provider: &str, service: &str, resource_id: &str, endpoint: Option<Endpoint>) -> Location {
    let mut location = Location::new(service, resource_id).with_account("prod");
    location.plugin = provider.into();
    location.endpoint = endpoint;
    location
}

fn endpoint(host: &str) -> Option<Endpoint> {
    Some(Endpoint::new(host, 443).with_sni(host))
}

/// Whether this machine can listen on IPv6 loopback.
fn ipv6_loopback() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// Run the engine and return its report.
pub fn live_report() -> Report {
    let ca = TestCa::new("certinspect render test CA").unwrap();
    let good = ca.issue(&["www.good.test"], Validity::around_now(10, 200)).unwrap();
    let old = ca.issue(&["stale.test"], Validity::around_now(300, 60)).unwrap();
    let renewed = ca.issue(&["stale.test"], Validity::around_now(1, 365)).unwrap();
    let stranger = ca.issue(&["other.test"], Validity::around_now(1, 200)).unwrap();
    let declared_foreign = ca.issue(&["foreign.test"], Validity::around_now(1, 200)).unwrap();
    let expired = ca.issue(&["expired.test"], Validity::expired(3)).unwrap();
    let expiring = ca.issue(&["soon.test"], Validity::around_now(80, 5)).unwrap();
    let untrusted = self_signed(&["selfsigned.test"], Validity::around_now(1, 200)).unwrap();
    let long_name = "a-rather-long-subdomain-name-for-truncation.eu-central-1.cdn.example.test";
    let long = ca.issue(&[long_name], Validity::around_now(1, 90)).unwrap();
    let joined = ca.issue(&["join.test"], Validity::around_now(5, 120)).unwrap();
    let wildcard = ca.issue(&["*.wild.test"], Validity::around_now(80, 10)).unwrap();
    let inventory = ca.issue(&["unused.test"], Validity::around_now(30, 400)).unwrap();

    let tls =
        |name: &str, issued: &Issued| EndpointSpec::new(name, EndpointMode::Tls(TlsEndpoint::single(issued.source())));
    let dual_stack = ipv6_loopback();
    let mut endpoints = vec![
        tls("stale", &old),
        tls("foreign", &stranger),
        tls("expired", &expired),
        tls("soon", &expiring),
        tls("selfsigned", &untrusted),
        tls("long", &long),
        tls("join", &joined),
        EndpointSpec::new("plain", EndpointMode::PlainHttp),
    ];
    let good_bind: Vec<IpAddr> = if dual_stack {
        vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
    } else {
        vec![Ipv4Addr::LOCALHOST.into()]
    };
    endpoints.push(tls("good", &good).bind(good_bind.clone()));
    let farm = Farm::start(FarmSpec { endpoints, ..FarmSpec::default() }).unwrap();
    let closed_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let mut bindings = Vec::new();
    let mut connect_to = Vec::new();
    let mut route = |host: &str, farm_name: &str| {
        connect_to.push(ConnectTo::new(host, 443, farm.addr(farm_name).unwrap()));
    };

    // A load balancer listener reached at its VIPs (both families when the
    // machine has IPv6): one result per address. The account name carries
    // characters every format must escape.
    let good_port = farm.addr("good").unwrap().port();
    let mut lb = location(
        "alibaba-slb",
        "slb",
        "lb-bp1good",
        Some(
            Endpoint::new("www.good.test", good_port)
                .with_sni("www.good.test")
                .with_addresses(good_bind.iter().map(ToString::to_string)),
        ),
    );
    lb.account = "ops \"eu\", team\\west\nsecond line".into();
    lb.region = Some("cn-hangzhou".into());
    lb.resource_name = Some("edge, \"primary\"".into());
    lb.listener_port = Some(443);
    bindings.push(Binding::new(lb.clone(), declared(&good, "good-2026")));
    // The same listener declared twice (a default and an extension
    // certificate without SNI): identical locations.
    bindings.push(Binding::new(lb, declared(&good, "good-2026-copy")));

    let cdn = |domain: &str, decl: DeclaredCertificate| {
        Binding::new(location("alibaba-cdn", "cdn", domain, endpoint(domain)), decl)
    };
    route("stale.test", "stale");
    bindings.push(cdn("stale.test", declared(&renewed, "stale-renewed")));
    // The certificate the renewal replaced, still in the inventory.
    bindings.push(Binding::new(location("alibaba-cas", "cas", "cert-stale-old", None), declared(&old, "stale-old")));
    route("foreign.test", "foreign");
    bindings.push(cdn("foreign.test", declared(&declared_foreign, "foreign")));
    route("expired.test", "expired");
    let mut expired_decl = declared(&expired, "expired");
    expired_decl.provider_status = Some("ok".into());
    bindings.push(cdn("expired.test", expired_decl));
    route("soon.test", "soon");
    bindings.push(cdn("soon.test", declared(&expiring, "soon")));
    route("selfsigned.test", "selfsigned");
    bindings.push(cdn("selfsigned.test", declared(&untrusted, "selfsigned")));
    route(long_name, "long");
    bindings.push(cdn(long_name, declared(&long, "long")));
    route("plain.test", "plain");
    bindings.push(cdn("plain.test", DeclaredCertificate::default()));
    let mut down = declared(&good, "down");
    down.not_after = Some(OffsetDateTime::now_utc().unix_timestamp() + 20 * 86_400);
    bindings.push(cdn("down.test", down));

    // A CDN domain that declares only the certificate's name; the join
    // fills in the identity from the CAS inventory entry.
    route("join.test", "join");
    bindings.push(
        Binding::new(
            location("alibaba-cdn", "cdn", "join.test", endpoint("join.test")),
            DeclaredCertificate::default().with_name("join-cert").with_auto_managed(Tristate::No),
        )
        .with_xref("cas-certificate-id", "9001"),
    );
    bindings.push(
        Binding::new(location("alibaba-cas", "cas", "9001", None), declared(&joined, "join-cert"))
            .with_xref("cas-certificate-id", "9001"),
    );

    // A CDN domain whose certificate id names two different inventory
    // certificates: not joined, so nothing identifies the declared one.
    route("ambiguous.test", "join");
    bindings.push(
        Binding::new(
            location("alibaba-cdn", "cdn", "ambiguous.test", endpoint("ambiguous.test")),
            DeclaredCertificate::default().with_name("ambiguous-cert"),
        )
        .with_xref("cas-certificate-id", "9002"),
    );
    for (id, issued) in [("9002", &joined), ("9002-dup", &inventory)] {
        bindings.push(
            Binding::new(location("alibaba-cas", "cas", id, None), declared(issued, id))
                .with_xref("cas-certificate-id", "9002"),
        );
    }

    // A wildcard CDN domain: declared, expiring, not probeable.
    let mut wild = location("alibaba-cdn", "cdn", "*.wild.test", None);
    wild.not_probeable = Some("wildcard domain".into());
    bindings.push(Binding::new(wild, declared(&wildcard, "wild")));
    // An inventory certificate bound nowhere.
    bindings.push(Binding::new(location("alibaba-cas", "cas", "cert-unused", None), declared(&inventory, "unused")));

    let source_errors = vec![CollectError {
        plugin: "alibaba-slb".into(),
        scope: Some("prod/cn-shanghai".into()),
        message: "Throttling.User: Request was denied due to user flow control.".into(),
    }];

    connect_to.push(ConnectTo::new("down.test", 443, closed_port));
    let mut options = VerifyOptions::default();
    options.trust = Arc::new(TrustStore::from_der(vec![ca.der().to_vec()]).unwrap());
    options.trust_store = TrustStoreInfo::describe(TrustBase::None, &options.trust);
    // Every field of the report: the chains' full analyses too.
    options.detail = Detail::Full;
    options.connect_to = connect_to;
    options.probe.connect_timeout = Duration::from_secs(2);
    options.probe.handshake_timeout = Duration::from_secs(3);
    options.probe.addresses = AddressSelection::All;
    let report = verify(VerifyInput::bindings(bindings).with_source_errors(source_errors), &options);
    drop(farm);
    report
}
