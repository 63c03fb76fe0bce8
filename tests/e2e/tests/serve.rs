//! `inspect serve` as an operator runs it, against an emulated world on
//! loopback: it keeps serving the last complete scan through a source
//! outage (the CDN API refusing) and an endpoint outage (every TLS endpoint
//! gone), and `/metrics` shows both; SIGHUP with a broken configuration
//! keeps the old one and says so; SIGTERM stops it cleanly. A real
//! Prometheus server scrapes it and answers our metric from its query API,
//! and `promtool check metrics` accepts what it serves; the load balancers'
//! `owner` tag reaches Prometheus as a label (`[output] labels_from_tags`).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use alibaba_emulator::{FaultKind, FaultRule};
use certinspect_e2e::{inspect_in_world, target_dir};
use certinspect_testbed::prometheus::{http_get, tools, Server, Tools};
use certinspect_testbed::{Testbed, TestbedOptions};

fn world(name: &str) -> (Testbed, PathBuf, PathBuf, PathBuf) {
    let dir = target_dir().join("e2e-serve").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let testbed = Testbed::start(&TestbedOptions {
        alb: false,
        crl: false,
        domains: 4,
        accounts: 1,
        regions: vec!["cn-hangzhou".into()],
        drift: false,
        seed: 17,
        dir: dir.join("world"),
    })
    .unwrap();
    let (config, home) = testbed.write_inspect_config(&dir).unwrap();
    (testbed, config, home, dir)
}

/// A running `inspect serve`, stopped (SIGKILL) on drop if still running.
struct Exporter {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Exporter {
    fn start(config: &Path, home: &Path, dir: &Path) -> Exporter {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let log = dir.join("serve.log");
        let (listen, config) = (addr.to_string(), config.to_str().unwrap());
        let child = inspect_in_world(home, &["serve", "--every", "1s", "--listen", &listen, "--config", config])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Exporter { child, addr, log }
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).unwrap_or_else(|e| panic!("{e}\n{}", self.log_text()))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `/metrics` once `done` holds for it, within 60 seconds.
    fn metrics_when(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, body)) = http_get(self.addr, "/metrics") {
                if done(&body) {
                    return body;
                }
                assert!(Instant::now() < deadline, "no {what} within 60 s; /metrics:\n{body}\n{}", self.log_text());
            }
            assert!(Instant::now() < deadline, "/metrics did not answer within 60 s:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The values of the samples of `metric` whose line holds every one of `parts`.
fn values(metrics: &str, metric: &str, parts: &[&str]) -> Vec<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

/// The value of the first such sample.
fn value(metrics: &str, metric: &str, parts: &[&str]) -> Option<f64> {
    values(metrics, metric, parts).first().copied()
}

fn scans(metrics: &str) -> f64 {
    value(metrics, "certinspect_scans_total", &[]).unwrap_or(0.0)
}

fn promtool() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| tools(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn serve_keeps_serving_through_a_source_and_an_endpoint_outage_and_shows_both() {
    let (mut testbed, config, home, dir) = world("outage");
    let exporter = Exporter::start(&config, &home, &dir);

    // Before the first scan completes the health is served and nothing else.
    let first = exporter.metrics_when("complete scan", |m| {
        value(m, "certinspect_scan_success", &[]) == Some(1.0)
            && values(m, "certinspect_binding_verdict", &["verdict=\"MATCH\""]).contains(&1.0)
    });
    promtool().check_metrics(&first).unwrap();
    assert_eq!(exporter.get("/healthz"), (200, "ok\n".to_owned()));
    let (status, report) = exporter.get("/report.json");
    assert_eq!(status, 200);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(report["bindings"].as_array().is_some_and(|b| !b.is_empty()));
    assert_eq!(value(&first, "certinspect_source_up", &["plugin=\"alibaba-cdn\""]), Some(1.0));
    assert_eq!(exporter.get("/nothing").0, 404);

    // Both outages at once: the CDN API refuses every listing; every TLS
    // endpoint goes away.
    testbed.emulator.set_faults(
        ["DescribeCdnHttpsDomainList", "DescribeDcdnHttpsDomainList"]
            .into_iter()
            .map(|action| {
                FaultRule::always(
                    Some(action),
                    FaultKind::Refuse { code: "Forbidden".into(), status: 403, retry_after_ms: None },
                )
            })
            .collect(),
    );
    testbed.stop_endpoints();
    let before = scans(&first);
    let during = exporter.metrics_when("scan during the outages", |m| {
        // A scan that started after both outages: two more than before.
        scans(m) >= before + 2.0 && value(m, "certinspect_source_up", &["plugin=\"alibaba-cdn\""]) == Some(0.0)
    });
    promtool().check_metrics(&during).unwrap();
    assert_eq!(value(&during, "certinspect_scan_success", &[]), Some(1.0), "{during}");
    assert!(value(&during, "certinspect_source_errors", &[]).is_some_and(|n| n >= 1.0), "{during}");
    assert_eq!(value(&during, "certinspect_source_up", &["plugin=\"alibaba-slb\""]), Some(1.0), "{during}");
    // The SLB listeners stopped answering: UNREACHABLE now, and their
    // certificate is the one last seen, from an earlier scan.
    let unreachable = values(&during, "certinspect_binding_verdict", &["service=\"slb\"", "verdict=\"UNREACHABLE\""]);
    assert!(!unreachable.is_empty() && unreachable.iter().all(|v| *v == 1.0), "{during}");
    assert!(!values(&during, "certinspect_binding_verdict", &["verdict=\"MATCH\""]).contains(&1.0), "{during}");
    let remembered =
        value(&during, "certinspect_certificate_not_after_seconds", &["service=\"slb\"", "source=\"last_seen\""])
            .unwrap_or_else(|| panic!("no last-seen certificate:\n{during}"));
    let served_before =
        value(&first, "certinspect_certificate_not_after_seconds", &["service=\"slb\"", "source=\"served\""]).unwrap();
    assert_eq!(remembered, served_before);
    let seen_at = value(&during, "certinspect_certificate_last_seen_timestamp_seconds", &["service=\"slb\""]).unwrap();
    let scanned_at = value(&during, "certinspect_scan_timestamp_seconds", &[]).unwrap();
    assert!(seen_at < scanned_at, "last seen {seen_at} is not before the scan at {scanned_at}");
    assert_eq!(exporter.get("/healthz").0, 200);

    // SIGHUP with a broken configuration: the old one stays, the metric says so.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, "[[source]\nplugin = ").unwrap();
    exporter.signal("HUP");
    let reloaded =
        exporter.metrics_when("failed reload", |m| value(m, "certinspect_config_reload_success", &[]) == Some(0.0));
    let after_reload = scans(&reloaded);
    exporter.metrics_when("scan after the failed reload", |m| {
        scans(m) > after_reload && value(m, "certinspect_scan_success", &[]) == Some(1.0)
    });
    std::fs::write(&config, good).unwrap();
    exporter.signal("HUP");
    exporter.metrics_when("good reload", |m| value(m, "certinspect_config_reload_success", &[]) == Some(1.0));
    assert!(exporter.log_text().contains("the previous one stays in use"), "{}", exporter.log_text());

    // SIGTERM: a clean stop, promptly.
    let mut exporter = exporter;
    exporter.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = exporter.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "inspect serve did not stop within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "{}", exporter.log_text());
}

#[test]
fn a_real_prometheus_scrapes_serve_and_answers_our_metric() {
    let (_testbed, config, home, dir) = world("prometheus");
    // Alerts that reach an owner: the load balancers' `owner` tag as a label.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[output]\nlabels_from_tags = [\"owner\", \"cost-center\"]\n");
    std::fs::write(&config, text).unwrap();
    let exporter = Exporter::start(&config, &home, &dir);
    let prometheus = Server::start(promtool(), &dir.join("prometheus"), exporter.addr).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let results = loop {
        let answer = prometheus.query("certinspect_certificate_not_after_seconds{source=\"served\"}").unwrap();
        assert_eq!(answer["status"], "success", "{answer}");
        let results = answer["data"]["result"].as_array().cloned().unwrap_or_default();
        if !results.is_empty() {
            break results;
        }
        assert!(Instant::now() < deadline, "Prometheus has no certinspect series after 60 s:\n{}", exporter.log_text());
        std::thread::sleep(Duration::from_millis(500));
    };
    for series in &results {
        let metric = &series["metric"];
        assert_eq!(metric["job"], "certinspect");
        assert_eq!(metric["instance"], exporter.addr.to_string());
        assert!(metric["provider"].as_str().is_some_and(|p| p.starts_with("alibaba-")), "{series}");
        let not_after: f64 = series["value"][1].as_str().unwrap().parse().unwrap();
        assert!(not_after > 1.0e9, "{series}");
    }
    let owned = prometheus.query("certinspect_certificate_not_after_seconds{service=\"slb\",tag_owner!=\"\"}").unwrap();
    let owned = owned["data"]["result"].as_array().cloned().unwrap_or_default();
    assert!(!owned.is_empty(), "no SLB series carries its owner: {results:?}");
    for series in &owned {
        let owner = series["metric"]["tag_owner"].as_str().unwrap();
        assert!(["alice", "bob", "carol"].contains(&owner), "{series}");
        assert!(series["metric"]["tag_cost_center"].as_str().is_some_and(|c| c.starts_with("cc-")), "{series}");
    }
    let up = prometheus.query("up{job=\"certinspect\"}").unwrap();
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
}
