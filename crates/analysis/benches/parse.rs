//! Certificates per second, single thread and on rayon's pool.
//!
//! Run: `cargo bench -p certinspect-analysis --bench parse`
//!
//! Three workloads over 10,000 generated P-256 leaves (3 SANs each, one of
//! them a wildcard), all issued by one intermediate:
//! - `parse_fingerprint_match`: `parse_certificate` (which includes both
//!   fingerprints) + `match_name`;
//! - `analyze`: the full per-chain analysis (leaf + intermediate served):
//!   both parses, completeness, webpki path verification with signature
//!   checks, expiry facts, weaknesses, name match. Sequential `analyze`
//!   versus `analyze_many`;
//! - `analyze_unknown_ca`: the same chains against a store without their
//!   root, the costliest verdict (retries at other instants, then the
//!   diagnosis naming the certificate at fault), sequential.

use std::hint::black_box;
use std::time::Duration;

use certinspect_analysis::{analyze, analyze_many, match_name, parse_certificate, AnalysisInput, Policy, TrustStore};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;

#[path = "../tests/common/mod.rs"]
mod common;

const LEAVES: usize = 10_000;

struct Fixture {
    chains: Vec<Vec<Vec<u8>>>,
    hosts: Vec<String>,
    trust: TrustStore,
}

fn fixture() -> Fixture {
    let root = common::root("Bench Root", common::p256());
    let inter = common::intermediate("Bench Intermediate", common::p256(), &root);
    // One leaf key for all: key generation is not what we measure.
    let key = common::p256();
    let inter_der = inter.der();
    let mut chains = Vec::with_capacity(LEAVES);
    let mut hosts = Vec::with_capacity(LEAVES);
    for i in 0..LEAVES {
        let names = [format!("www{i}.example.com"), format!("api{i}.example.com"), format!("*.svc{i}.example.com")];
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let der = common::sign(common::leaf_params(&names[0], &refs), &key, &inter);
        chains.push(vec![der, inter_der.clone()]);
        // Every host matches, through the wildcard (the last SAN checked).
        hosts.push(format!("x.svc{i}.example.com"));
    }
    let trust = TrustStore::from_der(vec![root.der()]).expect("trust store");
    Fixture { chains, hosts, trust }
}

fn parse_and_match(der: &[u8], host: &str) -> bool {
    let facts = parse_certificate(der).expect("parses");
    match_name(&facts, host).is_match()
}

fn benches(c: &mut Criterion) {
    let fx = fixture();
    let policy = Policy::default();

    let mut group = c.benchmark_group("parse_fingerprint_match");
    group.throughput(Throughput::Elements(LEAVES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("single_thread", |b| {
        b.iter(|| {
            let matched = fx.chains.iter().zip(&fx.hosts).filter(|(c, h)| parse_and_match(&c[0], h)).count();
            assert_eq!(black_box(matched), LEAVES);
        })
    });
    group.bench_function("rayon", |b| {
        b.iter(|| {
            let matched = fx.chains.par_iter().zip(&fx.hosts).filter(|(c, h)| parse_and_match(&c[0], h)).count();
            assert_eq!(black_box(matched), LEAVES);
        })
    });
    group.finish();

    let inputs: Vec<AnalysisInput<'_>> = fx
        .chains
        .iter()
        .zip(&fx.hosts)
        .map(|(chain, host)| AnalysisInput::new(chain, &fx.trust, common::NOW, &policy).with_host(Some(host)))
        .collect();
    // Measure the path that matters: every chain verifies and matches.
    let sample = analyze(&inputs[LEAVES - 1]);
    assert_eq!(sample.trust.verdict, certinspect_analysis::TrustVerdict::Trusted);
    assert!(sample.name_match.is_some_and(|m| m.is_match()));
    let mut group = c.benchmark_group("analyze");
    group.throughput(Throughput::Elements(LEAVES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("single_thread", |b| {
        b.iter(|| {
            let out: Vec<_> = inputs.iter().map(analyze).collect();
            black_box(out)
        })
    });
    group.bench_function("analyze_many_rayon", |b| b.iter(|| black_box(analyze_many(&inputs))));
    group.finish();

    // The costly verdict: a private CA whose root is not trusted. Every
    // such chain is retried at other instants and then diagnosed link by
    // link, so it costs more than a trusted one; this keeps that in view.
    let untrusted = TrustStore::from_der(vec![common::root("Someone Else", common::p256()).der()]).expect("store");
    let inputs: Vec<AnalysisInput<'_>> =
        fx.chains.iter().map(|chain| AnalysisInput::new(chain, &untrusted, common::NOW, &policy)).collect();
    let sample = analyze(&inputs[0]);
    assert!(matches!(
        sample.trust.verdict,
        certinspect_analysis::TrustVerdict::Untrusted {
            reason: certinspect_analysis::UntrustedReason::UnknownIssuer { .. }
        }
    ));
    let mut group = c.benchmark_group("analyze_unknown_ca");
    group.throughput(Throughput::Elements(LEAVES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("single_thread", |b| {
        b.iter(|| {
            let out: Vec<_> = inputs.iter().map(analyze).collect();
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(parse, benches);
criterion_main!(parse);
