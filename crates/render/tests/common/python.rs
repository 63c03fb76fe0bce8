//! Runs the real consumers in tests/python/consumers.py: a venv under the
//! target directory with the pinned requirements (created once, reused on
//! later runs), and the SARIF 2.1.0 schema from an npm package.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use certinspect_test_support::{run, run_ok};

/// Microsoft's SARIF SDK ships the SARIF 2.1.0 JSON schema in its
/// Multitool packages; this one, pinned by version and content hash.
const SARIF_PACKAGE: &str = "@microsoft/sarif-multitool-linux@5.7.0";
const SARIF_SCHEMA_MEMBER: &str = "package/sarif-2.1.0.json";
const SARIF_SCHEMA_SHA256: &str = "1c49a0f2b60444c71bb14878e21e0d882198eff4c539861b133093ad89ed798c";

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("certinspect-render");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn script() -> PathBuf {
    super::crate_dir().join("tests/python/consumers.py")
}

/// The venv's python (the pinned consumers), created on first use.
pub fn python() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let requirements = super::crate_dir().join("tests/python/requirements.txt");
        certinspect_testbed::python::pinned_venv(&work_dir(), &requirements).unwrap_or_else(|e| panic!("{e}"))
    })
    .clone()
}

/// Run `consumers.py ARGS`; panics with the consumer's messages on failure.
pub fn consumer(args: &[&str]) -> String {
    let output = run_ok(Command::new(python()).arg(script()).args(args));
    String::from_utf8(output.stdout).unwrap()
}

/// Run `consumers.py ARGS` expecting a failure; returns stderr.
pub fn consumer_rejects(args: &[&str]) -> String {
    let output = run(Command::new(python()).arg(script()).args(args));
    assert!(
        !output.status.success(),
        "expected {args:?} to fail, but it passed:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The SARIF 2.1.0 schema, fetched from the npm registry once.
pub fn sarif_schema() -> PathBuf {
    static SCHEMA: OnceLock<PathBuf> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    SCHEMA
        .get_or_init(|| {
            let _guard = LOCK.lock().unwrap();
            let path = work_dir().join(format!("sarif-2.1.0-{}.json", &SARIF_SCHEMA_SHA256[..16]));
            if path.exists() {
                return path;
            }
            let download = work_dir().join(format!("npm-{}", std::process::id()));
            std::fs::create_dir_all(&download).unwrap();
            let output = run_ok(
                Command::new("npm").args(["pack", "--silent", SARIF_PACKAGE, "--pack-destination"]).arg(&download),
            );
            let tarball = download.join(String::from_utf8(output.stdout).unwrap().trim());
            let partial = path.with_extension("partial");
            consumer(&[
                "extract-npm",
                tarball.to_str().unwrap(),
                SARIF_SCHEMA_MEMBER,
                partial.to_str().unwrap(),
                SARIF_SCHEMA_SHA256,
            ]);
            std::fs::rename(&partial, &path).unwrap();
            let _ = std::fs::remove_dir_all(&download);
            path
        })
        .clone()
}
