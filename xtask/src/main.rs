//! `cargo xtask`: project automation in Rust, not shell scripts.
//!
//! - `cargo xtask test`: everything CI checks — formatting, clippy with
//!   warnings denied, and every test of the workspace.
//! - `cargo xtask plugins [--release]`: build the provider plugins as dynamic
//!   libraries into `target/plugins/`.
//! - `cargo xtask demo`: the offline demo.
//!
//! It only orchestrates `cargo` and the project's own binaries; it holds no
//! product logic.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("plugins") => plugins(args.iter().any(|a| a == "--release")).map(|dir| println!("{}", dir.display())),
        Some("demo") => demo(),
        _ => {
            eprintln!("usage: cargo xtask <test | plugins [--release] | demo>");
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

/// The crates that are provider plugins, as (cdylib package, library name).
/// Empty until the Alibaba providers land.
const PLUGIN_PACKAGES: &[(&str, &str)] = &[];

fn test() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    cargo(&["test", "--workspace", "--locked"])
}

fn plugins(release: bool) -> Result<PathBuf, String> {
    let root = workspace_root();
    let out = root.join("target").join("plugins");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    if PLUGIN_PACKAGES.is_empty() {
        return Ok(out);
    }
    let mut args = vec!["build", "--locked"];
    if release {
        args.push("--release");
    }
    for (package, _) in PLUGIN_PACKAGES {
        args.extend(["-p", package]);
    }
    cargo(&args)?;
    let built = root.join("target").join(if release { "release" } else { "debug" });
    for (_, lib) in PLUGIN_PACKAGES {
        let file = format!("{}{lib}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
        std::fs::copy(built.join(&file), out.join(&file)).map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    Ok(out)
}

fn demo() -> Result<(), String> {
    println!("The offline demo is not built yet: it needs the Alibaba providers, the emulator and the");
    println!("verification engine. Meanwhile `cargo run -p certinspect-cli -- plugins` shows the plugin host.");
    Ok(())
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_owned()
}
