//! Measures signed requests per second the emulator serves on loopback.
//!
//! `cargo run --release -p alibaba-emulator --example throughput -- [REQUESTS] [THREADS]`
//! (defaults 4000 requests, 2 threads). Generates a 1,000-domain world in a temporary
//! directory, turns QPS limits off, and sends V3-signed DescribeCdnHttpsDomainList
//! (PageSize 20) over keep-alive connections. Bounded: stops after REQUESTS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use alibaba_emulator::generate::{generate, GenerateOptions};
use alibaba_emulator::{Emulator, EmulatorConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4000);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let g =
        generate(&GenerateOptions { domains: 1000, out_dir: dir.path().to_path_buf(), ..GenerateOptions::default() })
            .expect("generate");
    let key = g.world.accounts[0].access_keys[0].clone();
    let h = Emulator::start(
        g.world,
        EmulatorConfig { qps_enabled: false, request_log_capacity: 0, ..EmulatorConfig::default() },
    )
    .expect("start");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let next = next.clone();
            let key = key.clone();
            let url = h.url();
            let host = h.addr().to_string();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut ok = 0usize;
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let n = format!("t{t}-{}", next.load(Ordering::Relaxed));
                    let query = vec![("PageSize".to_string(), "20".to_string())];
                    let date = alibaba_emulator::api::iso(time::OffsetDateTime::now_utc());
                    let headers = vec![
                        ("host".to_string(), host.clone()),
                        ("x-acs-action".into(), "DescribeCdnHttpsDomainList".into()),
                        ("x-acs-version".into(), "2018-05-10".into()),
                        ("x-acs-date".into(), date),
                        ("x-acs-signature-nonce".into(), n),
                        ("x-acs-content-sha256".into(), alibaba_signing::v3::EMPTY_PAYLOAD_SHA256.into()),
                    ];
                    let cr = alibaba_signing::v3::canonical_request(
                        "POST",
                        "/",
                        &query,
                        &headers,
                        alibaba_signing::v3::EMPTY_PAYLOAD_SHA256,
                    );
                    let sig = alibaba_signing::v3::signature(&key.secret, &alibaba_signing::v3::string_to_sign(&cr));
                    let (_, names) = alibaba_signing::v3::canonical_headers(&headers);
                    let mut rb = client
                        .post(format!("{url}/?PageSize=20"))
                        .header("authorization", alibaba_signing::v3::authorization(&key.id, &names, &sig));
                    for (k, v) in headers.iter().skip(1) {
                        rb = rb.header(k.as_str(), v.as_str());
                    }
                    let resp = rb.send().expect("send");
                    if resp.status().is_success() {
                        ok += 1;
                    }
                    let _ = resp.bytes();
                }
                ok
            })
        })
        .collect();
    let ok: usize = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{ok}/{total} OK in {secs:.2}s: {:.0} requests/s ({threads} client threads, 2 server workers)",
        ok as f64 / secs
    );
}
