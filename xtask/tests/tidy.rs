//! The invariants docs/ARCHITECTURE.md states, enforced as ordinary tests
//! (rust-analyzer's `tidy.rs` style): the dependency direction read from
//! `cargo metadata`, where `abi_stable` may appear (and that core's public
//! items never name its types), a `//!` doc on every
//! source file, and one list of exit codes in the CLI, its `--help` and
//! the README.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace root").to_owned()
}

/// Workspace package name -> (manifest directory relative to the root,
/// names of the packages it depends on for building, not for tests).
fn dependency_graph() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let root = workspace_root();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let manifest = Path::new(package["manifest_path"].as_str().unwrap());
            let dir = manifest.parent().unwrap().strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            let deps = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null() || d["kind"] == "build")
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (package["name"].as_str().unwrap().to_owned(), (dir, deps))
        })
        .collect()
}

/// Which of our packages `package` may never depend on.
fn forbidden_for(dir: &str, package: &str) -> &'static [&'static str] {
    const ENGINE_AND_UP: &[&str] = &["certinspect-core", "certinspect-cli", "certinspect-render"];
    match package {
        "certinspect-protocol" => &[
            "certinspect-abi",
            "certinspect-sdk",
            "certinspect-core",
            "certinspect-analysis",
            "certinspect-probe",
            "certinspect-cli",
            "certinspect-render",
        ],
        "certinspect-analysis" => {
            &["certinspect-probe", "certinspect-core", "certinspect-cli", "certinspect-render", "tokio"]
        }
        "certinspect-probe" => ENGINE_AND_UP,
        "certinspect-core" => &["certinspect-cli", "certinspect-render"],
        "certinspect-render" => &["certinspect-cli", "certinspect-analysis", "certinspect-probe"],
        "certinspect-abi" | "certinspect-sdk" => ENGINE_AND_UP,
        // A provider for one cloud shares code with another only through
        // the SDK (configuration helper, host-name rules).
        "certinspect-aws" | "certinspect-aws-dylib" => &[
            "certinspect-core",
            "certinspect-cli",
            "certinspect-render",
            "certinspect-alibaba-common",
            "alibaba-openapi",
            "alibaba-signing",
        ],
        _ if dir.starts_with("plugins/") => ENGINE_AND_UP,
        _ => &[],
    }
}

#[test]
fn dependencies_point_the_way_architecture_md_says() {
    let mut broken = Vec::new();
    for (package, (dir, deps)) in dependency_graph() {
        for forbidden in forbidden_for(&dir, &package) {
            if deps.contains(*forbidden) {
                broken.push(format!("{package} ({dir}) depends on {forbidden}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "dependency direction broken (docs/ARCHITECTURE.md, Invariants):\n{}",
        broken.join("\n")
    );
}

#[test]
fn abi_stable_is_a_dependency_only_where_architecture_md_allows() {
    let allowed = ["certinspect-abi", "certinspect-sdk", "certinspect-core"];
    let users: Vec<String> = dependency_graph()
        .into_iter()
        .filter(|(_, (_, deps))| deps.contains("abi_stable"))
        .map(|(package, _)| package)
        .filter(|package| !allowed.contains(&package.as_str()))
        .collect();
    assert!(users.is_empty(), "abi_stable is used outside {allowed:?}: {users:?}");
}

#[test]
fn abi_stable_types_stay_out_of_cores_public_api() {
    const FFI_NAMES: &[&str] = &["abi_stable", "PluginModV1", "SourceV1", "HostV1", "AbiError", "HttpReplyV1"];
    let root = workspace_root();
    let mut leaks = Vec::new();
    for path in tracked_rust_files().into_iter().filter(|p| p.starts_with("crates/core/src")) {
        let text = std::fs::read_to_string(root.join(&path)).unwrap_or_default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("pub ") && FFI_NAMES.iter().any(|name| line.contains(name)) {
                leaks.push(format!("{}:{}: {line}", path.display(), index + 1));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "core's public items name abi_stable types (wrap them, as `StaticPlugin` does):\n{}",
        leaks.join("\n")
    );
}

fn tracked_rust_files() -> Vec<PathBuf> {
    let output = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard", "*.rs"])
        .current_dir(workspace_root())
        .output()
        .expect("git runs");
    String::from_utf8(output.stdout).unwrap().lines().map(PathBuf::from).collect()
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let root = workspace_root();
    let missing: Vec<String> = tracked_rust_files()
        .into_iter()
        .filter(|path| root.join(path).exists())
        .filter(|path| {
            let text = std::fs::read_to_string(root.join(path)).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` doc comment saying what they are for:\n{}", missing.join("\n"));
}

/// Exit codes as `(code, NAME)` from crates/cli/src/exit.rs.
fn exit_rs_codes() -> BTreeSet<u8> {
    let text = std::fs::read_to_string(workspace_root().join("crates/cli/src/exit.rs")).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .filter_map(|rest| rest.split('=').nth(1))
        .map(|value| value.trim().trim_end_matches(';').parse().expect("pub const NAME: u8 = N;"))
        .collect()
}

#[test]
fn exit_codes_agree_in_the_code_the_help_and_the_readme() {
    let in_code = exit_rs_codes();
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = &readme[readme.find("## Exit codes").expect("README has an Exit codes section")..];
    let in_readme: BTreeSet<u8> = section
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    let help = std::fs::read_to_string(workspace_root().join("crates/cli/tests/snapshots/inspect.help.txt")).unwrap();
    let line = help.lines().find(|l| l.starts_with("Exit codes:")).expect("`inspect --help` lists exit codes");
    let in_help: BTreeSet<u8> = line
        .split(',')
        .filter_map(|part| part.trim().trim_start_matches("Exit codes:").trim().split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(in_readme, in_code, "README.md's exit codes differ from crates/cli/src/exit.rs");
    assert_eq!(in_help, in_code, "`inspect --help` (its snapshot) differs from crates/cli/src/exit.rs");
}

/// The plugin cdylib packages and their libraries are named in one place,
/// `certinspect_test_support::PLUGINS`, which `cargo xtask plugins` and the
/// tests read. (This file's dependency rules name packages as packages.)
#[test]
fn the_plugin_packages_are_listed_in_one_place() {
    let root = workspace_root();
    let mut repeated = Vec::new();
    for path in tracked_rust_files() {
        if path.starts_with("crates/test-support") || path == Path::new("xtask/tests/tidy.rs") {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&path)).unwrap_or_default();
        for plugin in certinspect_test_support::PLUGINS {
            for name in [plugin.package, plugin.library] {
                if text.contains(&format!("\"{name}\"")) {
                    repeated.push(format!("{}: \"{name}\"", path.display()));
                }
            }
        }
    }
    assert!(
        repeated.is_empty(),
        "plugin packages named outside certinspect_test_support::PLUGINS (use `plugin(NAME)`):\n{}",
        repeated.join("\n")
    );
}

/// Test support shared across crates lives in `certinspect-test-support`
/// (or a test crate's library), not in a file another crate includes with
/// `#[path]`: such a file compiles into each includer, warns as dead code
/// in each, and belongs to no package.
#[test]
fn no_path_include_leaves_its_package() {
    let root = workspace_root();
    let mut crossing = Vec::new();
    for path in tracked_rust_files() {
        let Ok(text) = std::fs::read_to_string(root.join(&path)) else { continue };
        let package = path.ancestors().skip(1).find(|dir| root.join(dir).join("Cargo.toml").is_file()).unwrap();
        for (index, line) in text.lines().enumerate() {
            let Some(target) = line.trim().strip_prefix("#[path = \"").and_then(|rest| rest.split('"').next()) else {
                continue;
            };
            let mut resolved = path.parent().unwrap().to_path_buf();
            for part in Path::new(target).components() {
                match part {
                    std::path::Component::ParentDir => {
                        resolved.pop();
                    }
                    other => resolved.push(other),
                }
            }
            if !resolved.starts_with(package) {
                crossing.push(format!("{}:{}: {}", path.display(), index + 1, line.trim()));
            }
        }
    }
    assert!(crossing.is_empty(), "`#[path]` includes from another package:\n{}", crossing.join("\n"));
}
