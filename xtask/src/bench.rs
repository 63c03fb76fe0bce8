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
//!   the repository), at N endpoints (`--endpoints`, 1,000 by default); prints
//!   endpoints/s, client CPU per handshake, peak RSS and inspect's ratios to
//!   Go. A manual tool, never run in CI: it needs nginx, Go and GNU time
//!   (`bash ../shared/bench/run_peers.sh setup` installs them, once per
//!   machine), and starts the harness's nginx farm (`farm.sh start N`) when
//!   none runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Run the named benchmarks (all when none is named).
pub fn run(args: &[String]) -> Result<(), String> {
    let mut endpoints: Option<Vec<String>> = None;
    let mut which: Vec<&str> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "probe" | "parse" | "peers" => which.push(arg),
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
            "peers" => {
                for n in endpoints.clone().unwrap_or_else(|| vec!["1000".to_owned()]) {
                    peers(&n)?;
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
/// unless `RUNS` says otherwise) at `n` endpoints, and the table.
fn peers(n: &str) -> Result<(), String> {
    let shared = crate::workspace_root().join("..").join("shared").join("bench");
    if !shared.join("run_peers.sh").is_file() {
        return Err(format!("no peer harness at {}", shared.display()));
    }
    eprintln!("bench: peers, {n} endpoints (release build)");
    crate::cargo(&["build", "--quiet", "--release", "-p", "certinspect-cli"])?;
    let inspect = crate::target_dir().join("release").join("inspect");
    // A copy, so nothing the harness writes lands in the shared folder.
    let harness = crate::target_dir().join("tmp").join("bench-peers-harness");
    let _ = std::fs::remove_dir_all(&harness);
    copy_dir(&shared, &harness)?;
    let farm_dir = std::env::var_os("FARM_DIR").map_or_else(|| PathBuf::from("/tmp/benchfarm"), PathBuf::from);
    let farm_size = std::fs::read_to_string(farm_dir.join("N")).unwrap_or_default();
    let running = bash(&harness.join("farm.sh"), &["cpu"])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !running || farm_size.trim() != n {
        if running {
            bash(&harness.join("farm.sh"), &["stop"]).status().map_err(|e| format!("cannot run farm.sh: {e}"))?;
        }
        eprintln!("bench: starting the nginx farm of {n} endpoints (farm.sh start {n})");
        succeed(&mut bash(&harness.join("farm.sh"), &["start", n]))?;
    }
    let out = crate::target_dir().join("bench-peers").join(n);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    // The harness's targets are `HOST:PORT SNI`; inspect's target files say `sni=SNI`.
    let farm_targets = farm_dir.join("targets.txt");
    let targets = std::fs::read_to_string(&farm_targets)
        .map_err(|e| format!("cannot read {}: {e}", farm_targets.display()))?
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((target, sni)) => format!("{target} sni={sni}\n"),
            None => format!("{line}\n"),
        })
        .collect::<String>();
    let inspect_targets = crate::target_dir().join("bench-peers").join(format!("targets-{n}.txt"));
    std::fs::write(&inspect_targets, targets)
        .map_err(|e| format!("cannot write {}: {e}", inspect_targets.display()))?;
    let tool = format!(
        "inspect|256|{} probe --targets {} --trust none --ca-file {{ca}} --concurrency 256 --format jsonl",
        inspect.display(),
        inspect_targets.display()
    );
    succeed(bash(&harness.join("run_peers.sh"), &["--only", "go-scanner,inspect", "--tool", &tool]).env("OUT", &out))?;
    let runs =
        std::fs::read_to_string(out.join("runs.tsv")).map_err(|e| format!("no runs.tsv from the harness: {e}"))?;
    let medians = peer_medians(&runs);
    let uptime = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "peers at {n} endpoints (medians; load average {})",
        uptime.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!("{:<12} {:>12} {:>22} {:>14}", "tool", "endpoints/s", "client CPU ms/handshake", "peak RSS MiB");
    for m in &medians {
        println!("{:<12} {:>12.0} {:>22.3} {:>14.1}", m.tool, m.per_second, m.cpu_ms, m.rss_mib);
    }
    if let (Some(go), Some(us)) =
        (medians.iter().find(|m| m.tool == "go-scanner"), medians.iter().find(|m| m.tool == "inspect"))
    {
        println!(
            "inspect / Go: {:.2}x endpoints/s, {:.2}x CPU per handshake, {:.2}x peak RSS",
            us.per_second / go.per_second,
            us.cpu_ms / go.cpu_ms,
            us.rss_mib / go.rss_mib
        );
    }
    println!("the harness's own table and every run: {}", out.display());
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
