//! `cargo xtask bench`: the benchmarks, with the commands that reproduce them.
//!
//! - `probe`: the probing engine against a loopback farm of N TLS endpoints
//!   in its own process (full handshakes, one certificate each), for
//!   N = 1,000 and 10,000 by default; reports endpoints/second, client CPU
//!   per handshake and peak memory.
//! - `parse`: certificate parsing, fingerprints and name matching
//!   (criterion), single-threaded and with rayon.
//! - `peers` ([`peers`]): `inspect probe` (release build) against the Go
//!   scanner in one run of the shared peer harness (`../shared/bench/` beside
//!   the repository), on one farm ([`crate::bench_farm`]) at each of the
//!   sizes `--endpoints` names (1,000 and 10,000 by default); then memory
//!   at scale (every format, up to 100,000 bindings) and a farm where ten
//!   endpoints share each chain.
//!   Prints endpoints/s, client CPU per handshake, peak RSS and inspect's
//!   CPU ratio to Go. A manual tool, never run in CI: it needs nginx, Go and
//!   GNU time (`bash ../shared/bench/run_peers.sh setup` installs them, once
//!   per machine).
//! - `farm`: that farm alone (`--endpoints N`, 1,000 by default;
//!   `--per-chain K`) until Enter, to profile `inspect probe` against.

use std::path::Path;
use std::process::{Command, Stdio};

/// Run the named benchmarks (all when none is named).
pub fn run(args: &[String]) -> Result<(), String> {
    let mut endpoints: Option<Vec<String>> = None;
    let mut which: Vec<&str> = Vec::new();
    let mut per_chain = 1;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "probe" | "parse" | "peers" | "farm" => which.push(arg),
            "--per-chain" => {
                per_chain = iter
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--per-chain needs a count")?;
            }
            "--endpoints" => {
                endpoints =
                    Some(iter.next().ok_or("--endpoints needs N[,N...]")?.split(',').map(str::to_owned).collect())
            }
            other => return Err(format!("unknown bench argument '{other}'")),
        }
    }
    if which.is_empty() {
        which = vec!["probe", "parse"];
    }
    for bench in which {
        match bench {
            "peers" | "farm" => {
                let sizes = endpoints.clone().unwrap_or_else(|| vec!["1000".to_owned(), "10000".to_owned()]);
                let sizes = sizes
                    .iter()
                    .map(|n| {
                        n.parse::<usize>().ok().filter(|&n| n > 0).ok_or(format!("--endpoints: '{n}' is not a count"))
                    })
                    .collect::<Result<Vec<usize>, String>>()?;
                if bench == "peers" {
                    peers(&sizes)?;
                } else {
                    let size = if endpoints.is_some() { sizes.iter().copied().max().unwrap_or(1000) } else { 1000 };
                    farm(size, per_chain)?;
                }
            }
            "probe" => {
                for n in endpoints.clone().unwrap_or_else(|| vec!["1000".to_owned(), "10000".to_owned()]) {
                    eprintln!("bench: probe, {n} endpoints (release build)");
                    crate::cargo(&[
                        "bench",
                        "--quiet",
                        "-p",
                        "certinspect-core",
                        "--bench",
                        "engine_throughput",
                        "--",
                        "--endpoints",
                        &n,
                    ])?;
                }
            }
            _ => crate::cargo(&["bench", "-p", "certinspect-analysis", "--bench", "parse"])?,
        }
    }
    Ok(())
}

/// The peer harness's runs of the Go scanner and inspect (3 counted runs
/// unless `RUNS` says otherwise) on one farm of the largest of `sizes`, at
/// each size (its first N endpoints); then inspect alone, every output
/// format, on the first 1,000 endpoints listed 1, 10 and 100 times and on
/// 1,000 closed ports (memory at scale); then both on a
/// farm of 1,000 endpoints where ten share each chain, beside the 1,000
/// distinct ones (the analysis grows with distinct chains). One table.
fn peers(sizes: &[usize]) -> Result<(), String> {
    let shared = crate::workspace_root().join("..").join("shared").join("bench");
    if !shared.join("run_peers.sh").is_file() {
        return Err(format!("no peer harness at {}", shared.display()));
    }
    let largest = sizes.iter().copied().max().unwrap_or(1000);
    eprintln!("bench: peers at {sizes:?} endpoints (release build)");
    crate::cargo(&["build", "--quiet", "--release", "-p", "certinspect-cli"])?;
    let inspect = crate::target_dir().join("release").join("inspect");
    // A copy, so nothing the harness writes lands in the shared folder.
    let harness = crate::target_dir().join("tmp").join("bench-peers-harness");
    let _ = std::fs::remove_dir_all(&harness);
    copy_dir(&shared, &harness)?;
    let farm_dir = crate::target_dir().join("tmp").join("bench-farm");
    let out = crate::target_dir().join("bench-peers");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let run = Run { harness: &harness, inspect: &inspect, farm_dir: &farm_dir, out: &out };

    let mut rows = Vec::new();
    eprintln!("bench: a farm of {largest} endpoints, one leaf each");
    let farm = crate::bench_farm::start(&farm_dir, largest, 1)?;
    for &n in sizes {
        rows.push(run.harness(&farm, n, &format!("{n}"))?);
    }
    let memory = run.memory_at_scale(&farm, 1000.min(largest))?;
    drop(farm);
    eprintln!("bench: a farm of 1000 endpoints, ten per leaf");
    let farm = crate::bench_farm::start(&farm_dir, 1000, 10)?;
    rows.push(run.harness(&farm, 1000, "1000, 10 per chain")?);
    drop(farm);

    println!(
        "{:<20} {:<14} {:>12} {:>10} {:>10} {:>8}  load",
        "endpoints", "tool", "endpoints/s", "CPU ms/hs", "RSS MiB", "CPU/Go"
    );
    for (label, load, medians) in &rows {
        let go = medians.iter().find(|m| m.tool == "go-scanner");
        for m in medians {
            let ratio = go.map_or(String::new(), |go| format!("{:.2}x", m.cpu_ms / go.cpu_ms));
            println!(
                "{label:<20} {:<14} {:>12.0} {:>10.3} {:>10.1} {ratio:>8}  {load}",
                m.tool, m.per_second, m.cpu_ms, m.rss_mib
            );
        }
    }
    println!("{memory}");
    println!("(shared-chain rows: the harness counts {} distinct leaf CNs there, one per chain)", 1000 / 10);
    println!("(inspect-ip256: --per-address-concurrency 256, as many connections to the farm's one address as the Go scanner)");
    println!("every run: {}", out.display());
    Ok(())
}

/// What one benchmark run uses.
struct Run<'a> {
    harness: &'a Path,
    inspect: &'a Path,
    farm_dir: &'a Path,
    out: &'a Path,
}

impl Run<'_> {
    /// The harness's Go scanner and inspect on the farm's first `n` endpoints:
    /// the label, the load average, the medians.
    fn harness(
        &self,
        farm: &crate::bench_farm::Farm,
        n: usize,
        label: &str,
    ) -> Result<(String, String, Vec<PeerMedians>), String> {
        farm.select(n)?;
        let out = self.out.join(label.replace([' ', ','], "_"));
        // The harness's targets are `ADDRESS SNI`; inspect's target files say `sni=SNI`.
        let inspect_targets = self.out.join(format!("targets-{}.txt", label.replace([' ', ','], "_")));
        write_inspect_targets(&farm.targets[..n], 1, &inspect_targets)?;
        let inspect = format!(
            "{} probe --targets {} --trust none --ca-file {{ca}} --concurrency 256 --format jsonl",
            self.inspect.display(),
            inspect_targets.display()
        );
        // The farm is one address; by default inspect opens at most 8
        // connections to an address at once, where the Go scanner opens
        // 256. `inspect-ip256` lifts that cap to the Go scanner's.
        let tools =
            [format!("inspect|256|{inspect}"), format!("inspect-ip256|256|{inspect} --per-address-concurrency 256")];
        succeed(
            bash(
                &self.harness.join("run_peers.sh"),
                &["--only", "go-scanner,inspect,inspect-ip256", "--tool", &tools[0], "--tool", &tools[1]],
            )
            .env("OUT", &out)
            .env("FARM_DIR", self.farm_dir)
            .env("FARM_STATUS_PORT", farm.status_port.to_string()),
        )?;
        let runs =
            std::fs::read_to_string(out.join("runs.tsv")).map_err(|e| format!("no runs.tsv from the harness: {e}"))?;
        Ok((label.to_owned(), load_average(), peer_medians(&runs)))
    }

    /// inspect alone (GNU time, as the harness times), its peak RSS per
    /// format of [`MEMORY_FORMATS`] with the farm's first `n` endpoints
    /// listed each of [`MEMORY_REPEATS`] times; then the same with `n`
    /// closed loopback ports, the worst case for the formats that keep
    /// findings (every binding has one). A table, one row per format.
    fn memory_at_scale(&self, farm: &crate::bench_farm::Farm, n: usize) -> Result<String, String> {
        let cases = [("served", farm.targets[..n].to_vec()), ("refused", closed_loopback_ports(n)?)];
        let mut table = format!(
            "memory at scale: inspect --concurrency 256, peak RSS MiB, {n} endpoints listed {}\n\
             {:<9} {:<12} {:>9} {:>9} {:>9} {:>12}\n",
            MEMORY_REPEATS.map(|times| format!("{times}x")).join(" / "),
            "endpoints",
            "format",
            n,
            n * MEMORY_REPEATS[1],
            n * MEMORY_REPEATS[2],
            "KiB/binding"
        );
        for (case, targets) in &cases {
            let mut files = Vec::new();
            for times in MEMORY_REPEATS {
                let file = self.out.join(format!("targets-{case}-{n}x{times}.txt"));
                write_inspect_targets(targets, times, &file)?;
                files.push(file);
            }
            for (format, name) in MEMORY_FORMATS {
                let peaks =
                    files.iter().map(|file| self.peak_rss_mib(file, format)).collect::<Result<Vec<f64>, _>>()?;
                let bindings_added = (n * (MEMORY_REPEATS[2] - MEMORY_REPEATS[0])) as f64;
                let per_binding_kib = (peaks[2] - peaks[0]) * 1024.0 / bindings_added;
                table.push_str(&format!(
                    "{case:<9} {name:<12} {:>9.1} {:>9.1} {:>9.1} {per_binding_kib:>12.2}\n",
                    peaks[0], peaks[1], peaks[2]
                ));
            }
        }
        table.push_str(&format!("(load {})", load_average()));
        Ok(table)
    }

    /// inspect's peak RSS in MiB probing `targets`, writing `format`.
    fn peak_rss_mib(&self, targets: &Path, format: &str) -> Result<f64, String> {
        let times_file = self.out.join(format!("memory-at-scale-{format}.time"));
        let status = Command::new("/usr/bin/time")
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&times_file)
            .arg(self.inspect)
            .args(["probe", "--targets"])
            .arg(targets)
            .args(["--trust", "none", "--ca-file"])
            .arg(self.farm_dir.join("ca.pem"))
            .args(["--concurrency", "256", "--format", format])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run GNU time: {e}"))?;
        let measured = std::fs::read_to_string(&times_file).unwrap_or_default();
        // inspect's exit code says what it found (1 when a finding is over
        // the threshold); only a run GNU time could not measure is an error.
        match measured.lines().last().and_then(|line| line.trim().parse::<f64>().ok()) {
            Some(rss_kb) => Ok(rss_kb / 1024.0),
            None => Err(format!("inspect failed on {} ({status}): {measured}", targets.display())),
        }
    }
}

/// The formats memory at scale is measured for (`--format`, name): all of
/// them; each streams what it writes, or keeps only compact rows, or (JSON)
/// spills to a temporary file.
const MEMORY_FORMATS: &[(&str, &str)] = &[
    ("jsonl", "JSON Lines"),
    ("csv", "CSV"),
    ("prometheus", "Prometheus"),
    ("table", "table"),
    ("sarif", "SARIF"),
    ("json", "JSON"),
];

/// How many times the memory-at-scale target lists repeat the endpoints:
/// the bounds are at 1,000 and 10,000 endpoints and 100,000 bindings.
const MEMORY_REPEATS: [usize; 3] = [1, 10, 100];

/// `n` loopback addresses where nothing listens (ports bound, then
/// released): each probe is refused at once, so every binding has a finding.
fn closed_loopback_ports(n: usize) -> Result<Vec<String>, String> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()).map_err(|e| format!("cannot read a bound port: {e}")))
        .collect()
}

/// `targets` (`ADDRESS [SNI]`) as inspect's targets file, each line `times` times.
fn write_inspect_targets(targets: &[String], times: usize, path: &Path) -> Result<(), String> {
    let mut text = String::new();
    for _ in 0..times {
        for line in targets {
            match line.split_once(' ') {
                Some((address, sni)) => text.push_str(&format!("{address} sni={sni}\n")),
                None => text.push_str(&format!("{line}\n")),
            }
        }
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The benchmark farm alone, until standard input ends (Enter or ^D), to
/// profile against: `perf record`, callgrind, one binary against another.
fn farm(endpoints: usize, per_chain: usize) -> Result<(), String> {
    let dir = crate::target_dir().join("tmp").join("bench-farm");
    let farm = crate::bench_farm::start(&dir, endpoints, per_chain)?;
    let targets = dir.join("targets-inspect.txt");
    write_inspect_targets(&farm.targets, 1, &targets)?;
    println!("farm of {endpoints} endpoints, {per_chain} per chain: CA {}", dir.join("ca.pem").display());
    println!("targets for inspect probe --targets: {}", targets.display());
    println!("press Enter to stop it");
    let _ = std::io::stdin().read_line(&mut String::new());
    Ok(())
}

/// One tool's medians over its counted runs.
#[derive(Debug, PartialEq)]
struct PeerMedians {
    tool: String,
    per_second: f64,
    cpu_ms: f64,
    rss_mib: f64,
}

/// Medians per tool from the harness's `runs.tsv` (`tool concurrency n run
/// wall_s user_s sys_s maxrss_kb ...`), tools in their first-seen order.
fn peer_medians(runs: &str) -> Vec<PeerMedians> {
    let mut tools: Vec<(String, Vec<[f64; 3]>)> = Vec::new();
    for line in runs.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let number = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        let (Some(n), Some(wall), Some(user), Some(sys), Some(rss)) =
            (number(2), number(4), number(5), number(6), number(7))
        else {
            continue;
        };
        let sample = [n / wall, (user + sys) * 1000.0 / n, rss / 1024.0];
        match tools.iter_mut().find(|(tool, _)| tool == fields[0]) {
            Some((_, samples)) => samples.push(sample),
            None => tools.push((fields[0].to_owned(), vec![sample])),
        }
    }
    tools
        .into_iter()
        .map(|(tool, samples)| {
            let median = |i: usize| {
                let mut values: Vec<f64> = samples.iter().map(|s| s[i]).collect();
                values.sort_by(f64::total_cmp);
                let mid = values.len() / 2;
                if values.len() % 2 == 1 {
                    values[mid]
                } else {
                    (values[mid - 1] + values[mid]) / 2.0
                }
            };
            PeerMedians { tool, per_second: median(0), cpu_ms: median(1), rss_mib: median(2) }
        })
        .collect()
}

fn bash(script: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("bash");
    command.arg(script).args(args);
    command
}

fn succeed(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))? {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_per_tool_from_the_harness_runs() {
        let runs =
            "tool\tconcurrency\tn\trun\twall_s\tuser_s\tsys_s\tmaxrss_kb\tcerts\tnginx_ticks\tfarm_accepts\texit\n\
                    go\t256\t1000\t1\t2.0\t0.4\t0.2\t10240\t1000\t1\t1\t0\n\
                    go\t256\t1000\t2\t1.0\t0.3\t0.1\t20480\t1000\t1\t1\t0\n\
                    go\t256\t1000\t3\t0.5\t0.5\t0.3\t30720\t1000\t1\t1\t0\n";
        let medians = peer_medians(runs);
        assert_eq!(medians.len(), 1);
        let go = &medians[0];
        assert_eq!(go.tool, "go");
        for (got, want) in [(go.per_second, 1000.0), (go.cpu_ms, 0.6), (go.rss_mib, 20.0)] {
            assert!((got - want).abs() < 1e-9, "{got} != {want}");
        }
    }
}
