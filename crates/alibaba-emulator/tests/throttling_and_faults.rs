//! Per-account per-API QPS limits and fault injection.

mod common;

use std::time::{Duration as StdDuration, Instant};

use alibaba_emulator::{FaultKind, FaultRule};
use common::*;
use time::Duration;

const CDN: &str = "2018-05-10";

fn cdn() -> Req {
    Req::new("DescribeCdnHttpsDomainList", CDN)
}

#[test]
fn documented_qps_limits_answer_throttling_user_per_account_and_api() {
    let mut w = small_world(1);
    w.regions.push(alibaba_emulator::world::Region { region_id: "cn-shanghai".into(), ..Default::default() });
    let h = start_with(w, |c| {
        c.clock = fixed_clock();
        c.slb_qps = 3;
    });
    for (action, version, limit, extra) in [
        ("DescribeCdnHttpsDomainList", CDN, 100, None),
        ("ListUserCertificateOrder", "2020-04-07", 10, None),
        ("DescribeClientCertificateStatusForSerialNumber", "2020-06-30", 10, Some(("SerialNumber", "0a"))),
        ("DescribeServerCertificates", "2014-05-15", 3, Some(("RegionId", "cn-hangzhou"))),
        ("DescribeTagResources", CDN, 10, Some(("ResourceId.1", "d0000.example.test"))),
    ] {
        let mk = || {
            let mut r = Req::new(action, version);
            if action == "DescribeTagResources" {
                r = r.p("ResourceType", "DOMAIN");
            }
            match extra {
                Some((k, v)) => r.p(k, v),
                None => r,
            }
        };
        for i in 0..limit {
            let resp = v3(&h, &mk());
            assert_eq!(resp.status, 200, "{action} #{i}: {}", resp.text);
        }
        let resp = v1(&h, &mk());
        assert_eq!((resp.status, resp.code()), (400, "Throttling.User"), "{action}");
        // Another account has its own budget.
        let other = v3(&h, &mk().key(AK2, SECRET2));
        assert_eq!(other.status, 200, "{action}: {}", other.text);
        // The next second is a new budget.
        h.clock().advance(Duration::milliseconds(1001));
        assert_eq!(v3(&h, &mk()).status, 200, "{action}");
        h.clock().advance(Duration::seconds(2));
    }
    assert_eq!(h.stats().refused_total("Throttling.User"), 5);
}

#[test]
fn qps_limits_are_configurable_and_can_be_turned_off() {
    let h = start_with(small_world(1), |c| {
        c.clock = fixed_clock();
        c.qps.insert("DescribeCdnHttpsDomainList".into(), 2);
    });
    assert_eq!(v3(&h, &cdn()).status, 200);
    assert_eq!(v3(&h, &cdn()).status, 200);
    assert_eq!(v3(&h, &cdn()).code(), "Throttling.User");
    let h = start_with(small_world(1), |c| {
        c.clock = fixed_clock();
        c.qps_enabled = false;
    });
    for _ in 0..150 {
        assert_eq!(v3(&h, &cdn()).status, 200);
    }
}

#[test]
fn every_nth_and_count_bounded_5xx() {
    let h = start_with(small_world(1), |c| {
        c.qps_enabled = false;
        c.faults = vec![
            FaultRule {
                every_nth: Some(3),
                ..FaultRule::always(Some("DescribeCdnHttpsDomainList"), FaultKind::ServiceUnavailable)
            },
            FaultRule { count: Some(1), ..FaultRule::always(Some("DescribeRegions"), FaultKind::InternalError) },
        ];
    });
    let statuses: Vec<u16> = (0..6).map(|_| v3(&h, &cdn()).status).collect();
    assert_eq!(statuses, [200, 200, 503, 200, 200, 503]);
    let r = v3(&h, &cdn());
    assert_eq!(r.status, 200);
    let regions = || Req::new("DescribeRegions", "2014-05-15");
    let first = v3(&h, &regions());
    assert_eq!((first.status, first.code()), (500, "InternalError"));
    assert_eq!(v3(&h, &regions()).status, 200);
    let s = h.stats();
    assert_eq!(s.refused("DescribeCdnHttpsDomainList", "ServiceUnavailable"), 2);
    assert_eq!(s.faults_injected, 3);
}

#[test]
fn seeded_probability_faults_are_deterministic() {
    let run = |seed: u64| -> Vec<u16> {
        let h = start_with(small_world(1), |c| {
            c.qps_enabled = false;
            c.fault_seed = seed;
            c.faults = vec![FaultRule { probability: Some(0.5), ..FaultRule::always(None, FaultKind::Throttling) }];
        });
        (0..24).map(|_| v3(&h, &cdn()).status).collect()
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert!(a.contains(&200) && a.contains(&400), "{a:?}");
    assert_ne!(a, run(8));
}

#[test]
fn latency_malformed_truncated_and_html_faults() {
    let h = start_with(small_world(3), |c| c.qps_enabled = false);
    h.set_faults(vec![FaultRule::always(None, FaultKind::Latency { ms: 300 })]);
    let t0 = Instant::now();
    assert_eq!(v3(&h, &cdn()).status, 200);
    assert!(t0.elapsed() >= StdDuration::from_millis(300));

    h.set_faults(vec![FaultRule::always(None, FaultKind::MalformedJson)]);
    let r = v3(&h, &cdn());
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&r.text).is_err());

    h.set_faults(vec![FaultRule::always(None, FaultKind::HtmlErrorPage)]);
    let r = v3(&h, &cdn());
    assert_eq!(r.status, 502);
    assert!(r.text.contains("<html>"));

    // Truncated: the client cannot read the whole promised body.
    h.set_faults(vec![FaultRule::always(None, FaultKind::TruncatedBody)]);
    let mut req = cdn();
    req.method = "GET";
    let r = build_v1_url(&h, &req);
    let resp = http().get(r).send();
    let full = resp.and_then(|r| r.text());
    assert!(full.is_err() || serde_json::from_str::<serde_json::Value>(&full.unwrap()).is_err());

    h.set_faults(Vec::new());
    assert_eq!(v3(&h, &cdn()).status, 200);
}

/// A signed V1 GET URL (for reading the raw response by hand).
fn build_v1_url(h: &alibaba_emulator::EmulatorHandle, r: &Req) -> String {
    let mut all: Vec<(String, String)> = vec![
        ("Action".into(), r.action.clone()),
        ("Version".into(), r.version.clone()),
        ("AccessKeyId".into(), r.key.clone()),
        ("SignatureMethod".into(), "HMAC-SHA1".into()),
        ("SignatureVersion".into(), "1.0".into()),
        ("SignatureNonce".into(), nonce()),
        ("Timestamp".into(), ts(h.clock().now())),
        ("Format".into(), "JSON".into()),
    ];
    let sig = alibaba_signing::v1::sign("GET", &all, &r.secret);
    all.push(("Signature".into(), sig));
    format!("{}/?{}", h.url(), wire(&all))
}

#[test]
fn world_faults_apply_from_start_and_shutdown_frees_the_port() {
    let mut w = small_world(1);
    w.faults = vec![FaultRule {
        count: Some(2),
        ..FaultRule::always(Some("DescribeCdnHttpsDomainList"), FaultKind::Throttling)
    }];
    let h = start(w);
    assert_eq!(v3(&h, &cdn()).code(), "Throttling.User");
    assert_eq!(v3(&h, &cdn()).code(), "Throttling.User");
    assert_eq!(v3(&h, &cdn()).status, 200);
    let addr = h.addr();
    h.shutdown();
    assert!(std::net::TcpStream::connect_timeout(&addr, StdDuration::from_millis(500)).is_err());
}

#[test]
fn non_loopback_listen_addresses_are_refused() {
    let err = alibaba_emulator::Emulator::start(
        small_world(0),
        alibaba_emulator::EmulatorConfig { listen: "0.0.0.0:0".parse().unwrap(), ..Default::default() },
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
