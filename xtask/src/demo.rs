//! The offline demo: the whole product against two emulated clouds.
//!
//! 1. Builds `inspect` and the provider plugins (as dynamic libraries).
//! 2. Generates an Alibaba Cloud world with planted drift: a stale
//!    certificate, a foreign one, an expired one, a name mismatch, a revoked
//!    one, and an auto-managed certificate that was renewed but not deployed.
//! 3. Starts the Alibaba API emulator and loopback TLS endpoints serving the
//!    world's certificates (the testbed).
//! 4. Starts the AWS world (`certinspect_testbed::aws`): the real
//!    `moto_server` (pinned, installed into a venv under
//!    `target/tmp/certinspect-aws` on first use), seeded with a re-imported
//!    ACM certificate an ALB still serves the old version of (STALE) and an
//!    NLB listener pointing at another certificate (FOREIGN), and its own
//!    loopback TLS endpoints. If Python or moto cannot be installed, the
//!    demo says so and goes on with the Alibaba part alone.
//! 5. Writes one configuration a user could copy (`target/demo/inspect.toml`)
//!    with both clouds' sources, credentials in the aliyun CLI's and AWS's
//!    own file formats, and routes for every declared endpoint.
//! 6. Runs `inspect scan` with it and prints one report; everything stops
//!    when the demo exits.
//!
//! Extra arguments go to `inspect scan` (`cargo xtask demo -- --format json`).
//!
//! `cargo xtask demo --domains N` is the same product at fleet size
//! ([`fleet`]): an Alibaba world of N CDN domains (the AWS world has a fixed
//! size, so it is left out), the emulator at its real QPS limits, and the
//! scan run as its three phases, each a process of its own — `inspect
//! inventory`, `inspect scan --from-inventory` (probe and analysis), `inspect
//! report merge` (reading the JSON report back and rendering the table) —
//! with wall time and peak RSS per phase, beside the inventory's QPS floor
//! (the requests it made over each action's limit).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use certinspect_testbed::aws::AwsWorld;
use certinspect_testbed::{Testbed, TestbedOptions};

/// The demo world's size when `--domains` is not given.
const DEFAULT_DOMAINS: usize = 12;

/// Build, start, scan, clean up.
pub fn run(args: &[String]) -> Result<(), String> {
    let (domains, inspect_args) = parse_args(args)?;
    match domains {
        // The fleet run's phases take fixed arguments: extra ones would be lost silently.
        Some(_) if !inspect_args.is_empty() => {
            Err(format!("--domains runs fixed phases; it takes no inspect arguments ({})", inspect_args.join(" ")))
        }
        Some(domains) => fleet(domains),
        None => demo(&inspect_args),
    }
}

/// `[--domains N] [-- INSPECT-ARGS]`.
fn parse_args(args: &[String]) -> Result<(Option<usize>, Vec<String>), String> {
    let mut domains = None;
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--" => rest.extend(args.by_ref().cloned()),
            "--domains" => {
                let value = args.next().ok_or("--domains needs a number of domains")?;
                let n: usize = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--domains {value}: expected a positive number"))?;
                domains = Some(n);
            }
            other => rest.push(other.to_owned()),
        }
    }
    Ok((domains, rest))
}

/// The planted-drift demo over both clouds, one report printed.
fn demo(inspect_args: &[String]) -> Result<(), String> {
    eprintln!("demo: building inspect and the provider plugins...");
    crate::cargo(&["build", "--quiet", "-p", "certinspect-cli"])?;
    let plugin_dir = crate::plugins(false)?;

    let dir = crate::target_dir().join("demo");
    // A fresh world each run: stale files would confuse the reader.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    eprintln!("demo: generating a world with planted drift and starting the emulated cloud...");
    let testbed = Testbed::start(&TestbedOptions {
        alb: true,
        domains: DEFAULT_DOMAINS,
        accounts: 1,
        regions: vec!["cn-hangzhou".into(), "cn-shanghai".into()],
        drift: true,
        crl: true,
        seed: 7,
        dir: dir.join("world"),
    })?;
    eprintln!("demo: starting moto with a seeded AWS account (the first run installs it, about a minute)...");
    let aws = match AwsWorld::start(&dir.join("aws"), &crate::target_dir().join("tmp").join("certinspect-aws")) {
        Ok(aws) => Some(aws),
        Err(e) if e.is_unavailable() => {
            eprintln!("demo: no AWS part ({e}); running the Alibaba part alone.");
            None
        }
        Err(e) => return Err(e.to_string()),
    };
    let (config, home) = testbed.write_inspect_config_with(&dir, aws.as_ref())?;
    eprintln!(
        "demo: Alibaba emulator at {}, {} TLS endpoints; configuration in {}",
        testbed.api_url(),
        testbed.routes().len(),
        config.display()
    );
    if let Some(aws) = &aws {
        eprintln!("demo: moto (AWS) at {}, {} TLS endpoints", aws.api_url(), aws.routes().len());
    }

    let inspect = crate::target_dir().join("debug").join(format!("inspect{}", std::env::consts::EXE_SUFFIX));
    let status = user_command(&inspect, &home)
        .arg("scan")
        .arg("--config")
        .arg(&config)
        .arg("--plugin-dir")
        .arg(&plugin_dir)
        .args(inspect_args)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", inspect.display()))?;
    drop(aws);
    drop(testbed);
    // 0 clean, 1 findings (the planted drift), 3 something unchecked: all
    // are a demo that ran; anything else is a failure.
    match status.code() {
        Some(0 | 1 | 3) => Ok(()),
        other => Err(format!("inspect scan exited with {other:?}")),
    }
}

/// `inspect` run as a user of the emulated world whose HOME is `home`.
fn user_command(inspect: &Path, home: &Path) -> Command {
    let mut command = Command::new(inspect);
    command
        // Credentials come from the aliyun CLI file under this HOME, as they
        // would for a user; nothing from the real environment leaks in.
        .env("HOME", home)
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("ALIBABA_CLOUD_PROFILE")
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        // The AWS source names its credentials file and profile; no real
        // AWS settings of the person running the demo may leak in either.
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        // Never let a credential chain fall through to a metadata service
        // (Alibaba's 100.100.100.200, AWS's IMDS): the demo stays on loopback.
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

/// The whole product over `domains` CDN domains, phase by phase (release
/// build: the numbers are meant to be read).
fn fleet(domains: usize) -> Result<(), String> {
    eprintln!("demo: building inspect and the provider plugins (release)...");
    crate::cargo(&["build", "--quiet", "--release", "-p", "certinspect-cli"])?;
    let plugin_dir = crate::plugins(true)?;
    let inspect = crate::target_dir().join("release").join(format!("inspect{}", std::env::consts::EXE_SUFFIX));

    let dir = crate::target_dir().join("demo-fleet");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    eprintln!("demo: generating a world of {domains} domains and starting the emulated cloud...");
    let started = Instant::now();
    let testbed = Testbed::start(&TestbedOptions {
        alb: true,
        domains,
        accounts: 1,
        regions: vec!["cn-hangzhou".into(), "cn-shanghai".into()],
        drift: true,
        crl: false,
        seed: 7,
        dir: dir.join("world"),
    })?;
    let (config, home) = testbed.write_inspect_config(&dir)?;
    eprintln!(
        "demo: world ready in {:.1} s: {} TLS endpoints, emulator at {}",
        started.elapsed().as_secs_f64(),
        testbed.routes().len(),
        testbed.api_url()
    );
    testbed.emulator.reset_stats();

    let inventory = dir.join("inventory.jsonl");
    let report = dir.join("report.json");
    let table = dir.join("report.txt");
    let mut phases = Vec::new();
    let mut phase = |name: &'static str, command: &mut Command| -> Result<(), String> {
        eprintln!("demo: {name}...");
        let measured = measure(command)?;
        // 0 clean, 1 findings (the planted drift), 3 something unchecked.
        if !matches!(measured.code, Some(0 | 1 | 3)) {
            return Err(format!("{name} exited with {:?}", measured.code));
        }
        phases.push((name, measured));
        Ok(())
    };
    let mut inventory_command = user_command(&inspect, &home);
    inventory_command
        .args(["inventory", "--format", "jsonl", "--config"])
        .arg(&config)
        .arg("--plugin-dir")
        .arg(&plugin_dir);
    let inventory_file =
        std::fs::File::create(&inventory).map_err(|e| format!("cannot create {}: {e}", inventory.display()))?;
    let inventory_started_ms = unix_ms();
    phase("inventory", inventory_command.stdout(inventory_file))?;
    let stats = testbed.emulator.stats();
    phase(
        "probe+analysis",
        user_command(&inspect, &home)
            .args(["scan", "--shard", "0/1", "--format", "json", "--config"])
            .arg(&config)
            .arg("--from-inventory")
            .arg(&inventory)
            .arg("--output")
            .arg(&report),
    )?;
    phase(
        "render",
        user_command(&inspect, &home)
            .args(["report", "merge", "--format", "table"])
            .arg(&report)
            .arg("--output")
            .arg(&table),
    )?;
    drop(testbed);

    let floor = qps_floor(&stats);
    println!("fleet demo: {domains} domains; reports in {}", dir.display());
    println!("{:<16} {:>10} {:>14}", "phase", "wall s", "peak RSS MiB");
    for (name, measured) in &phases {
        println!("{name:<16} {:>10.2} {:>14.1}", measured.wall.as_secs_f64(), measured.peak_rss_kib as f64 / 1024.0);
    }
    println!(
        "inventory QPS floor {:.2} s ({}: the slowest action's requests over its limit); inventory at {:.2}x the floor:",
        floor.seconds,
        floor.slowest().unwrap_or("no limited action"),
        phases[0].1.wall.as_secs_f64() / floor.seconds.max(f64::MIN_POSITIVE)
    );
    for (action, requests, limit) in &floor.actions {
        let throttled =
            stats.by_action.get(action).and_then(|a| a.refused.get("Throttling.User")).copied().unwrap_or(0);
        // Where the time goes: when the action's answered calls began and
        // ended, counted from the inventory's start.
        let answered = stats.requests.iter().filter(|r| &r.action == action && r.code.is_none());
        let (first, last) = answered.fold((i64::MAX, i64::MIN), |(a, b), r| (a.min(r.at_ms), b.max(r.at_ms)));
        let since_start = |ms: i64| (ms - inventory_started_ms) as f64 / 1000.0;
        println!(
            "  {action:<44} {requests:>7} requests / {limit:>3} per s = {:>7.2} s, {throttled} throttled (retried), answered from {:.2} s to {:.2} s",
            *requests as f64 / f64::from(*limit),
            since_start(first),
            since_start(last)
        );
    }
    Ok(())
}

/// Now, UNIX milliseconds (the emulator's clock in the demo).
fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What the emulator's QPS limits alone make the inventory take.
struct QpsFloor {
    /// The slowest action's requests over its limit: a floor whatever the
    /// plugins run in parallel (each action has its own budget).
    seconds: f64,
    /// (action, requests answered, limit per second), for each limited action.
    actions: Vec<(String, u64, u32)>,
}

impl QpsFloor {
    /// The action that sets the floor.
    fn slowest(&self) -> Option<&str> {
        let seconds = |(_, requests, limit): &&(String, u64, u32)| *requests as f64 / f64::from(*limit);
        self.actions.iter().max_by(|a, b| seconds(a).total_cmp(&seconds(b))).map(|(action, _, _)| action.as_str())
    }
}

fn qps_floor(stats: &alibaba_emulator::Stats) -> QpsFloor {
    let config = alibaba_emulator::EmulatorConfig::default();
    let actions: Vec<(String, u64, u32)> = stats
        .by_action
        .iter()
        .filter_map(|(action, counts)| config.qps_limit(action).map(|limit| (action.clone(), counts.ok, limit)))
        .collect();
    let seconds = actions.iter().map(|(_, requests, limit)| *requests as f64 / f64::from(*limit)).fold(0.0, f64::max);
    QpsFloor { seconds, actions }
}

/// A finished process: exit code, wall time, peak resident set.
struct Measured {
    code: Option<i32>,
    wall: Duration,
    peak_rss_kib: u64,
}

/// Run `command` to completion, with its own peak RSS: the high-water mark
/// of its memory (`VmHWM` in `/proc/PID/status`), sampled every
/// [`RSS_SAMPLE`] until it exits. Not `ru_maxrss` from `wait4`: Linux
/// carries the spawning process's high-water mark across `exec` into the
/// child's, so every phase would read at least this process's size (the
/// world of 10,000 domains is hundreds of MiB; a `true` spawned from a
/// 300 MiB process reports 313 MiB).
fn measure(command: &mut Command) -> Result<Measured, String> {
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let pid = libc::id_t::from(child.id());
    let status_file = format!("/proc/{pid}/status");
    let exited = AtomicBool::new(false);
    let (waited, peak_rss_kib) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = 0;
            while !exited.load(Ordering::Acquire) {
                peak = peak.max(high_water_mark_kib(&status_file).unwrap_or(0));
                std::thread::sleep(RSS_SAMPLE);
            }
            peak
        });
        let waited = wait_for_exit_unreaped(pid);
        let wall = started.elapsed();
        exited.store(true, Ordering::Release);
        (waited.map(|()| wall), sampler.join().unwrap_or(0))
    });
    let wall = waited.map_err(|error| format!("cannot wait for {command:?}: {error}"))?;
    // Reaped only now, so the pid the sampler reads was never another process's.
    let status = child.wait().map_err(|e| format!("cannot wait for {command:?}: {e}"))?;
    Ok(Measured { code: status.code(), wall, peak_rss_kib })
}

/// How often [`measure`] reads a phase's high-water mark.
const RSS_SAMPLE: Duration = Duration::from_millis(10);

/// Blocks until process `pid` (a child) has exited, leaving it unreaped.
fn wait_for_exit_unreaped(pid: libc::id_t) -> std::io::Result<()> {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid value for waitid to fill in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our child; `info` is valid for writes. WNOWAIT
        // leaves it to be reaped by `Child::wait`.
        if unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) } == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// `VmHWM` of the process whose status file is `status_file`, in KiB
/// (`None` once it has exited: a zombie has no memory to report).
fn high_water_mark_kib(status_file: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_into_the_world_size_and_inspects_own() {
        let cases: &[(&[&str], Option<usize>, &[&str])] = &[
            (&[], None, &[]),
            (&["--", "--format", "json"], None, &["--format", "json"]),
            (&["--domains", "1000"], Some(1000), &[]),
            (&["--domains", "10", "--", "--domains", "3"], Some(10), &["--domains", "3"]),
        ];
        for (args, domains, rest) in cases {
            let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            assert_eq!(parse_args(&args), Ok((*domains, rest.iter().map(|a| (*a).to_owned()).collect())), "{args:?}");
        }
    }

    #[test]
    fn a_bad_world_size_is_a_sentence() {
        for args in [&["--domains"][..], &["--domains", "0"], &["--domains", "many"]] {
            let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            let error = parse_args(&args).expect_err("refused");
            assert!(error.starts_with("--domains"), "{error}");
        }
    }

    /// The peak is the phase's own: a small process spawned from a large
    /// one reads small (with `wait4`'s `ru_maxrss` it read the spawner's size).
    #[test]
    fn a_phase_peak_is_its_own_not_the_spawners() {
        let ballast = std::hint::black_box(vec![1u8; 64 << 20]);
        let measured = measure(Command::new("sleep").arg("0.2")).unwrap();
        assert_eq!(measured.code, Some(0));
        assert!(measured.wall >= Duration::from_millis(200), "{:?}", measured.wall);
        assert!(measured.peak_rss_kib > 0 && measured.peak_rss_kib < 16 << 10, "{} KiB", measured.peak_rss_kib);
        drop(ballast);
    }

    #[test]
    fn the_qps_floor_is_the_slowest_limited_action() {
        let mut stats = alibaba_emulator::Stats::default();
        let mut count = |action: &str, ok: u64| {
            stats
                .by_action
                .insert(action.to_owned(), alibaba_emulator::ActionStats { requests: ok, ok, ..Default::default() });
        };
        // 100/s: 2 s; CAS at 10/s: 3 s; an action without a limit counts for nothing.
        count("DescribeCdnHttpsDomainList", 200);
        count("ListUserCertificateOrder", 30);
        count("NoSuchAction", 1_000_000);
        let floor = qps_floor(&stats);
        assert!((floor.seconds - 3.0).abs() < 1e-9, "{}", floor.seconds);
        assert_eq!(floor.actions.len(), 2);
        assert_eq!(floor.slowest(), Some("ListUserCertificateOrder"));
    }
}
