//! Support shared by the integration tests.

#![allow(dead_code)]

pub mod python;
pub mod world;

use std::path::{Path, PathBuf};

use certinspect_core::report::Report;

/// The crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's `docs/`.
pub fn docs_dir() -> PathBuf {
    crate_dir().join("../../docs")
}

/// `tests/data/<name>`.
pub fn data(name: &str) -> PathBuf {
    crate_dir().join("tests/data").join(name)
}

/// The committed fixture: a report the engine wrote (see tests/fixture.rs
/// for how it is regenerated).
pub fn fixture() -> Report {
    let text = std::fs::read_to_string(data("report.json")).expect("tests/data/report.json");
    serde_json::from_str(&text)
        .expect("the fixture no longer matches the report model; regenerate it (tests/fixture.rs)")
}

/// Render into a string.
pub fn rendered(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Write `text` to a fresh file under the target directory for an external
/// tool to read.
pub fn scratch_file(dir: &str, name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("certinspect-render").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
