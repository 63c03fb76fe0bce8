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

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("tests/e2e is two levels deep").to_owned()
}

/// The cargo target directory of this build.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

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
/// `tests/fixtures/plugins`, built once per test process as their own
/// workspace, as an outside author would build them.
pub fn fixture_plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_dir().join("fixture-plugins");
        let mut command = cargo();
        command
            .args(["build", "--quiet", "--manifest-path", "tests/fixtures/plugins/Cargo.toml", "--target-dir"])
            .arg(&target);
        run(command, "the fixture plugins");
        target.join("debug")
    })
}

/// The path of a fixture plugin library by crate name (`example-provider`).
pub fn fixture_plugin(crate_name: &str) -> PathBuf {
    fixture_plugin_dir().join(library_file_name(&crate_name.replace('-', "_")))
}

/// Build workspace packages (cdylibs, binaries) that `cargo test` does not
/// produce as artifacts, and return the directory holding them.
pub fn workspace_artifacts() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut command = cargo();
        command.args([
            "build",
            "--quiet",
            "-p",
            "certinspect-cli",
            "-p",
            "static-provider-alpha-dylib",
            "-p",
            "static-provider-beta-dylib",
            "-p",
            "certinspect-alibaba-cdn-dylib",
            "-p",
            "certinspect-alibaba-slb-dylib",
            "-p",
            "certinspect-alibaba-cas-dylib",
        ]);
        run(command, "the inspect binary and the plugin libraries");
        target_dir().join("debug")
    })
}

/// A directory holding only the Alibaba plugin libraries, as
/// `cargo xtask plugins` lays them out.
pub fn alibaba_plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir().join("e2e-alibaba-plugins");
        std::fs::create_dir_all(&dir).expect("create the plugin directory");
        for service in ["cdn", "slb", "cas"] {
            let file = library_file_name(&format!("certinspect_alibaba_{service}_plugin"));
            std::fs::copy(workspace_artifacts().join(&file), dir.join(&file)).expect("copy a plugin library");
        }
        dir
    })
}

/// `lib<name>.so` (or the platform's equivalent).
pub fn library_file_name(lib_name: &str) -> String {
    format!("{}{lib_name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// The `inspect` binary.
pub fn inspect_binary() -> PathBuf {
    workspace_artifacts().join(format!("inspect{}", std::env::consts::EXE_SUFFIX))
}

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
