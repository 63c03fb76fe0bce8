//! `cargo xtask`: project automation in Rust, not shell scripts.
//!
//! - `cargo xtask test`: everything CI checks — formatting, clippy with
//!   warnings denied, and every test of the workspace.
//! - `cargo xtask plugins [--release]`: build the provider plugins as dynamic
//!   libraries into `target/plugins/`.
//! - `cargo xtask demo [--domains N] [-- INSPECT-ARGS]`: the offline demo; with
//!   `--domains N`, at fleet size with wall time and peak RSS per phase (see `demo.rs`).
//! - `cargo xtask bench [probe|parse|peers] [--endpoints N,...]`: benchmarks (`peers`:
//!   inspect against the Go scanner in the shared harness; manual, see `bench.rs`).
//! - `cargo xtask dist [--profile NAME] [--out DIR]`: the release archive (see `dist.rs`).
//!
//! It orchestrates `cargo`, the project's binaries and the testbed; it holds
//! no product logic.

mod bench;
mod bench_farm;
mod demo;
mod dist;

use std::path::PathBuf;
use std::process::ExitCode;

// One workspace root, one target directory, one plugin list: the tests' own.
pub use certinspect_test_support::{target_dir, workspace_root, PLUGINS};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("plugins") => plugins(rest.iter().any(|a| a == "--release")).map(|dir| println!("{}", dir.display())),
        Some("demo") => demo::run(rest),
        Some("bench") => bench::run(rest),
        Some("dist") => dist::run(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <test | plugins [--release] | demo [--domains N] [-- INSPECT-ARGS] | bench [probe|parse|peers] [--endpoints N,...] | dist [--profile NAME] [--out DIR]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn test() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    cargo(&["test", "--workspace", "--locked"])
}

/// Build the plugins (the one list, `certinspect_test_support::PLUGINS`)
/// and copy them into `target/plugins/`.
pub fn plugins(release: bool) -> Result<PathBuf, String> {
    let out = target_dir().join("plugins");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut args = vec!["build", "--quiet"];
    if release {
        args.push("--release");
    }
    for plugin in PLUGINS {
        args.extend(["-p", plugin.package]);
    }
    cargo(&args)?;
    let built = target_dir().join(if release { "release" } else { "debug" });
    for plugin in PLUGINS {
        let file = plugin.file_name();
        std::fs::copy(built.join(&file), out.join(&file)).map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    Ok(out)
}

/// Run cargo in the workspace root.
pub fn cargo(args: &[&str]) -> Result<(), String> {
    let status =
        certinspect_test_support::nested_cargo().args(args).status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}
