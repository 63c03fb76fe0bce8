//! Engine throughput against N loopback TLS endpoints, each with its own
//! certificate, all full handshakes: probing, chain analysis (rayon),
//! reconciliation and findings — `certinspect_core::verify::verify` as an
//! embedding program or `inspect probe` runs it.
//!
//! ```text
//! cargo bench -p certinspect-core --bench engine_throughput -- \
//!     [--endpoints N] [--mode ports|sni] [--concurrency C] [--farm-threads F]
//! ```
//!
//! The farm runs in a child process (this same executable, re-run with
//! `CERTINSPECT_BENCH_ROLE=farm`) so that `getrusage(RUSAGE_SELF)` and the
//! peak RSS measure the probing client alone. `--mode ports` gives each
//! endpoint its own 127.0.0.1 port; `--mode sni` serves all N certificates
//! on one port, selected by SNI. Both processes share the machine's cores,
//! so endpoints/second is for client and servers together.
//!
//! Without `--bench` (as `cargo test --benches` runs it) the default is 20
//! endpoints: a smoke test that fails unless every probe succeeds.
//!
//! Prints a human summary on stderr and one JSON object on stdout (the
//! last line) for `cargo xtask bench probe` to parse.
//!
//! The client's threads are the engine's own: the prober's runtime (one
//! worker per core) and rayon's pool for the analysis.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certinspect_analysis::TrustStore;
use certinspect_core::reconcile::Verdict;
use certinspect_core::verify::{bare_endpoint, verify, ConnectTo, VerifyInput, VerifyOptions};
use certinspect_tls_farm::pki::{TestCa, Validity};
use certinspect_tls_farm::{BoundEndpoint, EndpointMode, EndpointSpec, Farm, FarmSpec, SniEntry, TlsEndpoint};

const ROLE_ENV: &str = "CERTINSPECT_BENCH_ROLE";

#[derive(Clone, Debug)]
struct Opts {
    endpoints: usize,
    sni_mode: bool,
    concurrency: usize,
    farm_threads: usize,
}

fn parse_opts() -> Result<Opts, String> {
    // `cargo bench` passes --bench; `cargo test --benches` does not, and
    // then this runs as a quick smoke test unless told otherwise.
    let benching = std::env::args().any(|a| a == "--bench");
    let mut o = Opts { endpoints: if benching { 1000 } else { 20 }, sni_mode: false, concurrency: 64, farm_threads: 1 };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> Result<usize, String> {
        v.and_then(|s| s.parse().ok()).filter(|n| *n > 0).ok_or_else(|| format!("{what} needs a positive number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--endpoints" => o.endpoints = num(it.next(), "--endpoints")?,
            "--concurrency" => o.concurrency = num(it.next(), "--concurrency")?,
            "--farm-threads" => o.farm_threads = num(it.next(), "--farm-threads")?,
            "--mode" => match it.next().as_deref() {
                Some("ports") => o.sni_mode = false,
                Some("sni") => o.sni_mode = true,
                _ => return Err("--mode is ports or sni".into()),
            },
            // cargo bench passes --bench; libtest-style filters are ignored.
            _ => {}
        }
    }
    Ok(o)
}

fn host(i: usize) -> String {
    format!("e{i}.bench.test")
}

/// User+system CPU time and peak RSS (KiB) of `who`.
fn rusage(who: libc::c_int) -> (Duration, u64) {
    // SAFETY: getrusage only writes the struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    (tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_maxrss as u64)
}

fn current_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4)
}

/// Peak RSS from /proc (VmHWM). Preferred to `ru_maxrss`, which some
/// kernels (gVisor, where this was first measured) report inflated.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Child: generate N certificates, serve them, report CPU spent serving.
fn farm_role(o: &Opts) -> Result<(), String> {
    certinspect_tls_farm::raise_nofile_limit().map_err(|e| e.to_string())?;
    let ca = TestCa::new("Bench CA").map_err(|e| e.to_string())?;
    let certs = (0..o.endpoints)
        .map(|i| ca.issue(&[&host(i)], Validity::days_from_now(365)).map(|c| c.source()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let endpoints = if o.sni_mode {
        let sni = certs.into_iter().enumerate().map(|(i, cert)| SniEntry { names: vec![host(i)], cert }).collect();
        vec![EndpointSpec::new("sni", EndpointMode::Tls(TlsEndpoint { sni, ..TlsEndpoint::default() }))]
    } else {
        certs
            .into_iter()
            .enumerate()
            .map(|(i, c)| EndpointSpec::new(host(i), EndpointMode::Tls(TlsEndpoint::single(c))))
            .collect()
    };
    let farm =
        Farm::start(FarmSpec { endpoints, worker_threads: Some(o.farm_threads), max_connection_secs: Some(120) })
            .map_err(|e| e.to_string())?;
    let (cpu0, _) = rusage(libc::RUSAGE_SELF);
    let mut out = std::io::stdout().lock();
    for ep in farm.endpoints() {
        writeln!(out, "{}", serde_json::to_string(ep).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    // The client trusts the farm's CA, so the analysis does full path
    // building (the realistic cost), not an early "unknown issuer".
    writeln!(out, "{}", serde_json::json!({ "ready": true, "ca_der": ca.der() })).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    // Serve until the parent closes our stdin.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    // The client is done when it has the server's Finished; the server may
    // still be reading the client's. Let it catch up (bounded) before
    // counting.
    let totals = || {
        farm.endpoints()
            .iter()
            .filter_map(|e| farm.stats(&e.name))
            .fold((0, 0), |(acc, done), s| (acc + s.accepted, done + s.handshakes + s.handshake_failures))
    };
    let until = Instant::now() + Duration::from_secs(10);
    while totals().1 < totals().0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let handshakes: u64 = farm.endpoints().iter().map(|e| farm.stats(&e.name).map_or(0, |s| s.handshakes)).sum();
    drop(farm);
    let (cpu1, rss) = rusage(libc::RUSAGE_SELF);
    let rss = peak_rss_kib().unwrap_or(rss);
    writeln!(
        out,
        "{{\"farm_cpu_us\":{},\"farm_handshakes\":{handshakes},\"farm_peak_rss_kib\":{rss}}}",
        (cpu1 - cpu0).as_micros()
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

fn client_role(o: &Opts) -> Result<(), String> {
    let nofile = certinspect_tls_farm::raise_nofile_limit().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .env(ROLE_ENV, "farm")
        .args(std::env::args().skip(1))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the farm: {e}"))?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut eps: Vec<BoundEndpoint> = Vec::new();
    let setup = Instant::now();
    let ca_der: Vec<u8> = loop {
        let line = lines.next().ok_or("the farm exited before it was ready")?.map_err(|e| e.to_string())?;
        if line.contains("\"ready\"") {
            let ready: serde_json::Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
            break serde_json::from_value(ready["ca_der"].clone()).map_err(|e| e.to_string())?;
        }
        eps.push(serde_json::from_str(&line).map_err(|e| e.to_string())?);
    };
    eprintln!("farm ready: {} endpoint(s) in {:.1?}", eps.len(), setup.elapsed());

    // Bindings as `inspect probe` makes them: the name for SNI and matching,
    // routed to the farm's port.
    let bindings = (0..o.endpoints).map(|i| bare_endpoint(&host(i), 443, Some(host(i)))).collect();
    let connect_to = (0..o.endpoints)
        .map(|i| {
            let ep = if o.sni_mode { &eps[0] } else { &eps[i] };
            ConnectTo::new(&host(i), 443, ep.addr())
        })
        .collect();
    let mut options = VerifyOptions::default();
    options.trust = std::sync::Arc::new(TrustStore::from_der(vec![ca_der]).map_err(|e| e.to_string())?);
    options.connect_to = connect_to;
    options.probe.max_concurrency = o.concurrency;
    // Every endpoint is on 127.0.0.1: the per-address limit would otherwise
    // be the bottleneck being measured.
    options.probe.per_address_concurrency = o.concurrency;
    options.probe.overall_deadline = Some(Duration::from_secs(600));

    let rss_before = current_rss_kib();
    let (cpu0, _) = rusage(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    let report = verify(VerifyInput::bindings(bindings), &options);
    let wall = t0.elapsed();
    let (cpu1, peak_rss) = rusage(libc::RUSAGE_SELF);
    let peak_rss = peak_rss_kib().unwrap_or(peak_rss);

    drop(child.stdin.take());
    let farm_report: serde_json::Value = lines
        .next()
        .and_then(|l| l.ok())
        .and_then(|l| serde_json::from_str(&l).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = child.wait();

    let results: Vec<_> = report.bindings.iter().flat_map(|b| &b.results).collect();
    let ok = results.iter().filter(|r| r.tls.is_some()).count();
    let distinct: HashSet<&str> = results.iter().filter_map(|r| r.served.as_ref().map(|s| s.sha256.as_str())).collect();
    let clean = report.findings.is_empty() && results.iter().all(|r| r.verdict == Verdict::Observed);
    let mut kinds: Vec<String> = results.iter().filter_map(|r| r.error.as_ref()).map(|e| e.kind.to_string()).collect();
    kinds.sort();
    kinds.dedup();
    let cpu = cpu1 - cpu0;
    let n = results.len().max(1) as f64;
    let farm_cpu_us = farm_report["farm_cpu_us"].as_f64();
    let summary = serde_json::json!({
        "bench": "engine_throughput",
        "mode": if o.sni_mode { "sni" } else { "ports" },
        "endpoints": o.endpoints,
        "concurrency": o.concurrency,
        "farm_threads": o.farm_threads,
        "nofile_limit": nofile,
        "results": results.len(),
        "ok": ok,
        "failed": results.len() - ok,
        "findings": report.findings.len(),
        "failure_kinds": kinds,
        "distinct_leaves": distinct.len(),
        "wall_s": wall.as_secs_f64(),
        "endpoints_per_s": results.len() as f64 / wall.as_secs_f64(),
        "client_cpu_s": cpu.as_secs_f64(),
        "client_cpu_us_per_endpoint": cpu.as_micros() as f64 / n,
        "client_rss_before_kib": rss_before,
        "client_peak_rss_kib": peak_rss,
        "farm_cpu_us_per_handshake": farm_cpu_us.map(|c| c / n),
        "farm_peak_rss_kib": farm_report["farm_peak_rss_kib"],
        "farm_handshakes": farm_report["farm_handshakes"],
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "ip": IpAddr::from([127, 0, 0, 1]),
    });
    eprintln!(
        "{} endpoints ({} mode), concurrency {}: {ok} ok, {} failed {kinds:?}, {} distinct leaves\n\
         wall {:.2?} = {:.0} endpoints/s; client CPU {:.0} us/endpoint, peak RSS {} KiB (before run {} KiB); \
         farm CPU {} us/handshake",
        o.endpoints,
        if o.sni_mode { "sni" } else { "ports" },
        o.concurrency,
        results.len() - ok,
        distinct.len(),
        wall,
        results.len() as f64 / wall.as_secs_f64(),
        cpu.as_micros() as f64 / n,
        peak_rss,
        rss_before,
        farm_cpu_us.map_or("?".into(), |c| format!("{:.0}", c / n)),
    );
    println!("{summary}");
    if ok != o.endpoints || farm_report["farm_handshakes"].as_u64() != Some(o.endpoints as u64) || !clean {
        return Err(format!(
            "{ok} of {} probes succeeded, {} findings; the farm counted {} handshakes",
            o.endpoints,
            report.findings.len(),
            farm_report["farm_handshakes"]
        ));
    }
    Ok(())
}

fn main() {
    let res = parse_opts().and_then(|o| {
        if std::env::var_os(ROLE_ENV).is_some_and(|v| v == "farm") {
            farm_role(&o)
        } else {
            client_role(&o)
        }
    });
    if let Err(e) = res {
        eprintln!("handshake_throughput: {e}");
        std::process::exit(1);
    }
}
