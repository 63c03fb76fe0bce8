//! The provider plugins as dynamic libraries: the one list of their cdylib
//! packages (`cargo xtask plugins` builds exactly these; tests pick from
//! it by plugin name), a builder for workspace packages that `cargo test`
//! does not produce as artifacts, and the one set of them the tests share
//! ([`test_artifacts`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One provider plugin built as a dynamic library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginPackage {
    /// The plugin's name (as it registers itself), also its directory under `plugins/`.
    pub name: &'static str,
    /// The cdylib package that exports it.
    pub package: &'static str,
    /// The library's crate name (`lib<library>.so`).
    pub library: &'static str,
}

impl PluginPackage {
    /// The library's file name on this platform.
    pub fn file_name(&self) -> String {
        library_file_name(self.library)
    }
}

/// Every provider plugin of the workspace.
pub const PLUGINS: &[PluginPackage] = &[
    PluginPackage {
        name: "alibaba-cdn",
        package: "certinspect-alibaba-cdn-dylib",
        library: "certinspect_alibaba_cdn_plugin",
    },
    PluginPackage {
        name: "alibaba-slb",
        package: "certinspect-alibaba-slb-dylib",
        library: "certinspect_alibaba_slb_plugin",
    },
    PluginPackage {
        name: "alibaba-cas",
        package: "certinspect-alibaba-cas-dylib",
        library: "certinspect_alibaba_cas_plugin",
    },
    PluginPackage {
        name: "alibaba-alb",
        package: "certinspect-alibaba-alb-dylib",
        library: "certinspect_alibaba_alb_plugin",
    },
    PluginPackage { name: "aws", package: "certinspect-aws-dylib", library: "certinspect_aws_plugin" },
];

/// The plugin called `name` in [`PLUGINS`].
///
/// # Panics
/// If there is none: a test names a plugin the workspace does not have.
pub fn plugin(name: &str) -> &'static PluginPackage {
    PLUGINS.iter().find(|p| p.name == name).unwrap_or_else(|| {
        let known: Vec<&str> = PLUGINS.iter().map(|p| p.name).collect();
        panic!("no plugin {name:?} in certinspect-test-support's list; known: {}", known.join(", "))
    })
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("crates/test-support is two levels deep").to_owned()
}

/// The cargo target directory of this build.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// `lib<name>.so` (or the platform's equivalent).
pub fn library_file_name(library: &str) -> String {
    format!("{}{library}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// Prefixes of the variables cargo sets for one package's test binary.
const PACKAGE_ENV_PREFIXES: &[&str] = &[
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
];

/// A cargo command for the workspace, run from within cargo (a test, an
/// xtask): in the workspace root, without the variables cargo set for the
/// package that runs it. Those describe the caller's package, not what the
/// nested cargo builds; passed on, they make build scripts that watch them
/// (ring's) rerun, rebuilding ring and all above it on every nested build.
pub fn nested_cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text == "OUT_DIR" || PACKAGE_ENV_PREFIXES.iter().any(|prefix| key_text.starts_with(prefix)) {
            command.env_remove(&key);
        }
    }
    command
}

/// Builds the workspace packages `packages` (debug profile) with a nested
/// cargo and returns the directory holding their artifacts. Callers build
/// once per test process (behind a `OnceLock`): cargo's lock on the target
/// directory serializes the nested build with any other.
///
/// # Panics
/// If cargo cannot run or the build fails, with cargo's error output.
pub fn build_packages<'a>(packages: impl IntoIterator<Item = &'a str>) -> PathBuf {
    let mut command = nested_cargo();
    command.args(["build", "--quiet"]);
    let mut names = Vec::new();
    for package in packages {
        command.args(["-p", package]);
        names.push(package);
    }
    let output = command.output().unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(
        output.status.success(),
        "building {} failed:\n{}",
        names.join(", "),
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir().join("debug")
}

/// The workspace artifacts the tests run, built once per test process in
/// one nested cargo: `inspect` (also the plugin host of process
/// isolation), the static providers' cdylib exports and the Alibaba plugin
/// libraries. One set for every suite, so the nested build resolves one
/// feature set and each suite after the first finds it built.
pub fn test_artifacts() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let binaries = ["certinspect-cli", "static-provider-alpha-dylib", "static-provider-beta-dylib"];
        let alibaba = PLUGINS.iter().filter(|p| p.name.starts_with("alibaba-")).map(|p| p.package);
        build_packages(binaries.into_iter().chain(alibaba))
    })
}

/// The `inspect` binary of [`test_artifacts`].
pub fn inspect_binary() -> PathBuf {
    test_artifacts().join(format!("inspect{}", std::env::consts::EXE_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_plugin_is_a_workspace_package() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        for plugin in PLUGINS {
            let dir = format!("plugins/{}/dylib", plugin.name);
            assert!(manifest.contains(&format!("\"{dir}\"")), "{dir} is not a workspace member");
            let package = std::fs::read_to_string(workspace_root().join(&dir).join("Cargo.toml")).unwrap();
            assert!(package.contains(&format!("name = \"{}\"", plugin.package)), "{dir} is not {}", plugin.package);
            assert!(
                package.contains(&format!("name = \"{}\"", plugin.library)),
                "{dir} does not build {}",
                plugin.library
            );
        }
    }
}
