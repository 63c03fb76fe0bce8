//! Support for the end-to-end tests in `tests/e2e/tests/`: building plugin
//! libraries the way their authors would, locating workspace binaries, and
//! small loopback servers.
//!
//! What this crate is not: product code. Nothing outside the tests uses it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// One workspace root, one target directory, one library naming rule: the
// workspace's test support.
pub use certinspect_test_support::{library_file_name, target_dir, workspace_root};

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run cargo to build {what}: {e}"));
    assert!(output.status.success(), "building {what} failed:\n{}", String::from_utf8_lossy(&output.stderr));
}

/// Directory holding the third-party fixture plugins of
/// `tests/fixtures/plugins` and the plugin template of `templates/plugin`,
/// built once per test process the way an outside author builds them: the
/// fixtures as their own workspace, the template copied to a directory of
/// its own (see [`scratch_dir`]) with only the SDK as dependency.
pub fn fixture_plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = fixture_target_dir();
        let mut command = cargo();
        command
            .args(["build", "--quiet", "--manifest-path", "tests/fixtures/plugins/Cargo.toml", "--target-dir"])
            .arg(&target);
        run(command, "the fixture plugins");
        build_plugin_template(&target);
        target.join("debug")
    })
}

/// One target directory for every plugin built outside the workspace, so
/// their shared dependencies (abi_stable, serde) are compiled once.
fn fixture_target_dir() -> PathBuf {
    target_dir().join("fixture-plugins")
}

/// A fresh, empty directory for sources built outside the workspace. It
/// sits under the fixtures' target directory and keeps its name from run to
/// run, so cargo reuses what it compiled there before (a new temporary
/// directory per run would rebuild every path dependency).
fn scratch_dir(name: &str) -> PathBuf {
    let dir = fixture_target_dir().join("sources").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear the scratch directory");
    }
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Builds a copy of `templates/plugin` away from the repository's
/// workspace, its SDK dependency pointed at this checkout's, as someone
/// starting a plugin from the template would.
fn build_plugin_template(target: &Path) {
    let copy = scratch_dir("plugin-template");
    let template = workspace_root().join("templates/plugin");
    copy_tree(&template, &copy);
    let manifest = copy.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("the template's manifest");
    let sdk = workspace_root().join("crates/sdk");
    let text = text.replace(r#"path = "../../crates/sdk""#, &format!("path = {:?}", sdk.display().to_string()));
    assert!(text.contains(&sdk.display().to_string()), "the template names the SDK by path ../../crates/sdk");
    std::fs::write(&manifest, text).expect("write the manifest");
    // The fixtures' lock file: the same dependency versions, nothing to resolve.
    std::fs::copy(workspace_root().join("tests/fixtures/plugins/Cargo.lock"), copy.join("Cargo.lock"))
        .expect("copy the lock file");
    let mut command = cargo();
    command.args(["build", "--quiet", "--manifest-path"]).arg(&manifest).arg("--target-dir").arg(target);
    run(command, "the plugin template");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a directory");
    for entry in std::fs::read_dir(from).expect("read a directory") {
        let entry = entry.expect("a directory entry");
        let (source, destination) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("a file type").is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&source, &destination);
            }
        } else {
            std::fs::copy(&source, &destination).expect("copy a file");
        }
    }
}

/// The example plugin as it was when plugin ABI v1 was released, built
/// against that release's SDK, abi and protocol crates (taken from git at
/// [`ABI_V1_COMMIT`]), so tests can check that today's host still loads it.
/// Its package is renamed `example-provider-v1` so it can share the
/// fixtures' target directory; returns its library.
pub fn abi_v1_example_plugin() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        // git archive keeps the commit's file times, so reruns reuse the build.
        let old = scratch_dir("abi-v1");
        let paths = [
            "Cargo.toml",
            "crates/abi",
            "crates/protocol",
            "crates/sdk",
            "tests/fixtures/plugins/Cargo.toml",
            "tests/fixtures/plugins/Cargo.lock",
            "tests/fixtures/plugins/example-provider",
        ];
        let archive = Command::new("git")
            .args(["archive", "--format=tar", ABI_V1_COMMIT])
            .args(paths)
            .current_dir(workspace_root())
            .output()
            .expect("git runs");
        assert!(
            archive.status.success(),
            "cannot read the ABI v1 sources from git (a shallow clone?): {}",
            String::from_utf8_lossy(&archive.stderr)
        );
        let mut tar = Command::new("tar")
            .args(["-x", "-C"])
            .arg(&old)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("tar runs");
        tar.stdin.take().expect("tar's input").write_all(&archive.stdout).expect("feed tar");
        assert!(tar.wait().expect("tar ends").success(), "tar could not unpack the ABI v1 sources");
        let plugins = old.join("tests/fixtures/plugins");
        // Only the example plugin, under a name of its own.
        let workspace = std::fs::read_to_string(plugins.join("Cargo.toml")).expect("the fixtures' manifest");
        let (head, rest) = workspace.split_once("members = [").expect("a members list");
        let (_, tail) = rest.split_once(']').expect("the end of the members list");
        std::fs::write(plugins.join("Cargo.toml"), format!("{head}members = [\"example-provider\"]{tail}"))
            .expect("write the fixtures' manifest");
        let manifest = plugins.join("example-provider/Cargo.toml");
        let package = std::fs::read_to_string(&manifest).expect("the example's manifest");
        let renamed = package.replacen(r#"name = "example-provider""#, r#"name = "example-provider-v1""#, 1);
        assert_ne!(renamed, package, "the v1 example names its package example-provider");
        std::fs::write(&manifest, renamed).expect("write the example's manifest");
        let target = fixture_target_dir();
        let mut command = cargo();
        command
            .args(["build", "--quiet", "-p", "example-provider-v1", "--manifest-path"])
            .arg(plugins.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target);
        run(command, "the ABI v1 example plugin");
        target.join("debug").join(library_file_name("example_provider_v1"))
    })
}

/// Whether this checkout holds [`ABI_V1_COMMIT`]. A shallow clone does not,
/// and the ABI v1 test then says so and checks nothing rather than failing
/// on the checkout instead of on the code.
pub fn abi_v1_sources_available() -> bool {
    Command::new("git")
        .args(["cat-file", "-e", &format!("{ABI_V1_COMMIT}^{{commit}}")])
        .current_dir(workspace_root())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The commit that released plugin ABI v1 (`git log -- crates/abi`: its
/// first commit), whose SDK old plugins were built against.
pub const ABI_V1_COMMIT: &str = "fb76c2e3c14fb7579d42a001898985227748646b";

/// The path of a fixture plugin library by crate name (`example-provider`).
pub fn fixture_plugin(crate_name: &str) -> PathBuf {
    fixture_plugin_dir().join(library_file_name(&crate_name.replace('-', "_")))
}

/// The Alibaba plugins the end-to-end worlds load (by name in
/// `certinspect_test_support::PLUGINS`).
const ALIBABA_PLUGINS: [&str; 3] = ["alibaba-cdn", "alibaba-slb", "alibaba-cas"];

/// The workspace artifacts the tests run (`inspect`, the static providers'
/// and the Alibaba plugins' libraries): the one set of
/// `certinspect_test_support::test_artifacts`.
pub fn workspace_artifacts() -> &'static Path {
    certinspect_test_support::test_artifacts()
}

/// A directory holding only the Alibaba plugin libraries, as
/// `cargo xtask plugins` lays them out.
pub fn alibaba_plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir().join("e2e-alibaba-plugins");
        std::fs::create_dir_all(&dir).expect("create the plugin directory");
        for name in ALIBABA_PLUGINS {
            let file = certinspect_test_support::plugin(name).file_name();
            std::fs::copy(workspace_artifacts().join(&file), dir.join(&file)).expect("copy a plugin library");
        }
        dir
    })
}

pub use certinspect_test_support::inspect_binary;

/// `inspect ARGS` as a user of an emulated world runs it: the Alibaba plugin
/// libraries, `HOME` holding the world's credentials, nothing inherited from
/// the environment (credentials, plugin path, log filter), no ECS metadata.
pub fn inspect_in_world(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(inspect_binary());
    command
        .args(args)
        .arg("--plugin-dir")
        .arg(alibaba_plugin_dir())
        .env("HOME", home)
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        .env_remove("RUST_LOG");
    command
}

/// An HTTP server on 127.0.0.1 that answers every request with `body`, for
/// at most `max_requests` requests. Returns its base URL.
pub fn serve_text(body: &'static str, max_requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/", listener.local_addr().expect("local addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_requests) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    url
}

/// The report with what varies between runs (keys, ports, times) left out:
/// per binding its place and verdicts, then the findings by code.
pub fn normalized_report(report: &serde_json::Value) -> serde_json::Value {
    let bindings = report["bindings"].as_array().unwrap();
    let place = |index: usize| {
        let location = &bindings[index]["binding"]["location"];
        let sni = location["endpoint"]["sni"].as_str().map(|s| format!(" sni={s}")).unwrap_or_default();
        let port = location["listener_port"].as_u64().map(|p| format!(":{p}")).unwrap_or_default();
        format!("{} {}{port}{sni}", location["service"].as_str().unwrap(), location["resource_id"].as_str().unwrap())
    };
    let mut rows: Vec<String> = (0..bindings.len())
        .map(|i| {
            let verdicts: Vec<String> = bindings[i]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{} by {}", r["verdict"].as_str().unwrap(), r["basis"].as_str().unwrap()))
                .collect();
            format!(
                "{} -> [{}] via [{}]",
                place(i),
                verdicts.join(", "),
                bindings[i]["join"]["enriched_via"].as_array().unwrap().len()
            )
        })
        .collect();
    rows.sort();
    let mut findings: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} at {}",
                f["severity"].as_str().unwrap(),
                f["code"].as_str().unwrap(),
                place(f["binding"].as_u64().unwrap() as usize)
            )
        })
        .collect();
    findings.sort();
    serde_json::json!({ "summary": report["summary"], "bindings": rows, "findings": findings })
}

/// `inspect probe --format json`, trusting only the roots in `ca_file`, with
/// `args`, run in `dir`: the process's output and the report it wrote.
pub fn probe_json(dir: &Path, ca_file: &Path, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let output = Command::new(inspect_binary())
        .args(["probe", "--format", "json", "--trust", "none", "--ca-file"])
        .arg(ca_file)
        .args(args)
        .current_dir(dir)
        .env_remove("CERTINSPECT_PLUGIN_PATH")
        .output()
        .expect("inspect runs");
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&output.stderr)));
    (output, report)
}

/// What one `inspect probe --format json` run said: its exit code and the
/// report, with readers for its first result and its findings.
#[derive(Debug)]
pub struct ProbeRun {
    pub exit: i32,
    pub report: serde_json::Value,
}

impl ProbeRun {
    /// The first binding's first result.
    pub fn result(&self) -> &serde_json::Value {
        &self.report["bindings"][0]["results"][0]
    }

    pub fn verdict(&self) -> &str {
        self.result()["verdict"].as_str().unwrap()
    }

    /// The full analysis of the first result's chain (a run with `--detail
    /// full`; `Null` otherwise).
    pub fn analysis(&self) -> &serde_json::Value {
        match self.result()["chain"].as_u64() {
            Some(chain) => &self.report["chains"][chain as usize],
            None => &serde_json::Value::Null,
        }
    }

    /// The first result's revocation fact.
    pub fn revocation(&self) -> &serde_json::Value {
        &self.result()["revocation"]
    }

    /// `code:severity` of every finding, sorted.
    pub fn findings(&self) -> Vec<String> {
        let mut found: Vec<String> = self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{}:{}", f["code"].as_str().unwrap(), f["severity"].as_str().unwrap()))
            .collect();
        found.sort();
        found
    }

    /// The message of the first finding with `code`, or "".
    pub fn message(&self, code: &str) -> String {
        let finding = self.report["findings"].as_array().unwrap().iter().find(|f| f["code"] == code);
        finding.map(|f| f["message"].as_str().unwrap().to_owned()).unwrap_or_default()
    }

    /// Every finding's message, run together (for `contains` checks).
    pub fn messages(&self) -> String {
        self.report["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect()
    }
}

/// [`probe_json`] as a [`ProbeRun`].
pub fn probe_run(dir: &Path, ca_file: &Path, args: &[&str]) -> ProbeRun {
    let (output, report) = probe_json(dir, ca_file, args);
    ProbeRun { exit: output.status.code().unwrap_or(-1), report }
}
