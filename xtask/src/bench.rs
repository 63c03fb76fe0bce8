//! `cargo xtask bench`: the benchmarks, with the commands that reproduce them.
//!
//! - `probe`: the probing engine against a loopback farm of N TLS endpoints
//!   in its own process (full handshakes, one certificate each), for
//!   N = 1,000 and 10,000 by default; reports endpoints/second, client CPU
//!   per handshake and peak memory.
//! - `parse`: certificate parsing, fingerprints and name matching
//!   (criterion), single-threaded and with rayon.

/// Run the named benchmarks (all when none is named).
pub fn run(args: &[String]) -> Result<(), String> {
    let mut endpoints = vec!["1000".to_owned(), "10000".to_owned()];
    let mut which: Vec<&str> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "probe" | "parse" => which.push(arg),
            "--endpoints" => {
                endpoints = iter.next().ok_or("--endpoints needs N[,N...]")?.split(',').map(str::to_owned).collect()
            }
            other => return Err(format!("unknown bench argument '{other}'")),
        }
    }
    if which.is_empty() {
        which = vec!["probe", "parse"];
    }
    for bench in which {
        match bench {
            "probe" => {
                for n in &endpoints {
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
                        n,
                    ])?;
                }
            }
            _ => crate::cargo(&["bench", "-p", "certinspect-analysis", "--bench", "parse"])?,
        }
    }
    Ok(())
}
