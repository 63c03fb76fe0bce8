//! `tls-farm`: serves the endpoints of a JSON farm spec on loopback.
//!
//! ```text
//! tls-farm --spec FILE|- [--for SECONDS] [--exit-on-stdin-eof]
//! ```
//!
//! Prints one JSON line per endpoint (`{"name","mode","addrs","sni_names"}`)
//! and then `{"ready":true,"endpoints":N}` on stdout, then serves until
//! killed, until `--for` seconds have passed, or (with
//! `--exit-on-stdin-eof`) until its standard input closes, which lets a
//! parent tie the farm's life to its own.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use certinspect_tls_farm::{Farm, FarmSpec};

const USAGE: &str = "usage: tls-farm --spec FILE|- [--for SECONDS] [--exit-on-stdin-eof]";

struct Args {
    spec: String,
    run_for: Option<Duration>,
    exit_on_stdin_eof: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut spec = None;
    let mut run_for = None;
    let mut exit_on_stdin_eof = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--spec" => spec = Some(it.next().ok_or("--spec needs a value")?),
            "--for" => {
                let v = it.next().ok_or("--for needs a value")?;
                let secs: f64 = v.parse().map_err(|_| format!("--for: {v:?} is not a number of seconds"))?;
                if !(secs.is_finite() && secs >= 0.0) {
                    return Err(format!("--for: {v:?} is not a number of seconds"));
                }
                run_for = Some(Duration::from_secs_f64(secs));
            }
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args { spec: spec.ok_or_else(|| format!("--spec is required\n{USAGE}"))?, run_for, exit_on_stdin_eof })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let text = if args.spec == "-" {
        if args.exit_on_stdin_eof {
            return Err("--spec - and --exit-on-stdin-eof both need stdin".into());
        }
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| format!("reading stdin: {e}"))?;
        s
    } else {
        std::fs::read_to_string(&args.spec).map_err(|e| format!("reading {}: {e}", args.spec))?
    };
    let spec: FarmSpec = serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", args.spec))?;
    let farm = Farm::start(spec).map_err(|e| e.to_string())?;

    let mut out = std::io::stdout().lock();
    for ep in farm.endpoints() {
        let line = serde_json::to_string(ep).map_err(|e| e.to_string())?;
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    writeln!(out, "{{\"ready\":true,\"endpoints\":{}}}", farm.endpoints().len()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);

    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    if args.exit_on_stdin_eof {
        let tx = done_tx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            let mut stdin = std::io::stdin();
            // Ends at EOF or error; data on stdin is ignored.
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    }
    match args.run_for {
        Some(d) => {
            let _ = done_rx.recv_timeout(d);
        }
        None => {
            // Keep a sender alive so recv blocks until stdin EOF or a kill.
            let _keep = done_tx;
            let _ = done_rx.recv();
        }
    }
    drop(farm);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tls-farm: {e}");
            ExitCode::from(2)
        }
    }
}
