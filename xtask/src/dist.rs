//! `cargo xtask dist`: the release archive for the host target.
//!
//! `target/dist/certinspect-<version>-<target>.tar.gz` unpacks to one
//! directory laid out like an installation prefix:
//!
//! ```text
//! bin/inspect                                  the binary, Alibaba providers built in
//! lib/certinspect/plugins/                     where third-party plugin libraries go
//! share/man/man1/inspect.1                     the manual page
//! share/bash-completion/completions/inspect    shell completions
//! share/zsh/site-functions/_inspect
//! share/fish/vendor_completions.d/inspect.fish
//! share/doc/certinspect/                       README, licences, docs/
//! ```
//!
//! `inspect` searches `<prefix>/lib/certinspect/plugins` when it runs as
//! `<prefix>/bin/inspect`, so the unpacked directory works in place and
//! copied over `/usr/local` alike. The archive is made by `tar`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, target_dir, workspace_root};

/// Options: `--profile NAME` (default `release`; `dev` reuses a debug
/// build, as the test does), `--out DIR` (default `target/dist`).
pub fn run(args: &[String]) -> Result<(), String> {
    let mut profile = "release".to_owned();
    let mut out = target_dir().join("dist");
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--profile" => profile = rest.next().ok_or("--profile needs a name")?.clone(),
            "--out" => out = PathBuf::from(rest.next().ok_or("--out needs a directory")?),
            other => return Err(format!("dist: unknown argument '{other}' (expected --profile NAME, --out DIR)")),
        }
    }
    let archive = build(&profile, &out)?;
    println!("{}", archive.display());
    Ok(())
}

/// Build `inspect` with `profile` and write the archive into `out`.
pub fn build(profile: &str, out: &Path) -> Result<PathBuf, String> {
    cargo(&["build", "--quiet", "--locked", "--profile", profile, "-p", "certinspect-cli"])?;
    let profile_dir = if profile == "dev" { "debug" } else { profile };
    let binary = target_dir().join(profile_dir).join(format!("inspect{}", std::env::consts::EXE_SUFFIX));
    let name = format!("certinspect-{}-{}", version()?, host_target()?);
    let stage = out.join(&name);
    let _ = std::fs::remove_dir_all(&stage);

    let bin = stage.join("bin");
    mkdir(&bin)?;
    copy(&binary, &bin.join(binary.file_name().unwrap_or_default()))?;
    mkdir(&stage.join("lib/certinspect/plugins"))?;
    let outputs: [(&[&str], &str); 4] = [
        (&["man"], "share/man/man1/inspect.1"),
        (&["completions", "bash"], "share/bash-completion/completions/inspect"),
        (&["completions", "zsh"], "share/zsh/site-functions/_inspect"),
        (&["completions", "fish"], "share/fish/vendor_completions.d/inspect.fish"),
    ];
    for (args, path) in outputs {
        let output = Command::new(&binary).args(args).output().map_err(|e| format!("cannot run inspect: {e}"))?;
        if !output.status.success() {
            return Err(format!("`inspect {}` failed", args.join(" ")));
        }
        let file = stage.join(path);
        mkdir(file.parent().unwrap_or(&stage))?;
        std::fs::write(&file, output.stdout).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    let doc = stage.join("share/doc/certinspect");
    mkdir(&doc)?;
    for file in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        copy(&workspace_root().join(file), &doc.join(file))?;
    }
    copy_tree(&workspace_root().join("docs"), &doc.join("docs"))?;

    let archive = out.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(out)
        .arg(&name)
        .status()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar could not write {}", archive.display()));
    }
    Ok(archive)
}

/// The CLI's package version.
fn version() -> Result<String, String> {
    let manifest = workspace_root().join("crates/cli/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("version = \"").and_then(|v| v.strip_suffix('"')))
        .map(str::to_owned)
        .ok_or_else(|| format!("{} has no version line", manifest.display()))
}

/// The host's target triple, as rustc names it.
fn host_target() -> Result<String, String> {
    let output = Command::new("rustc").arg("-vV").output().map_err(|e| format!("cannot run rustc: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV names no host".to_owned())
}

fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to).map(drop).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    mkdir(to)?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read {}: {e}", from.display()))?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            copy(&path, &target)?;
        }
    }
    Ok(())
}
