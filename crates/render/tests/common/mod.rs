//! Support shared by the integration tests.

#![allow(dead_code)]

pub mod python;
pub mod world;

use std::path::{Path, PathBuf};

use certinspect_core::findings::Finding;
use certinspect_core::report::Report;
use certinspect_core::verify::{VerifyObserver, BINDING_FINDING_CODES};

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

/// Feed `observer` what a streamed run of `report` would, in a scrambled
/// order (last binding first, a binding's results last address first), as
/// the engine calls it: each result with the findings about it, then at
/// the end per binding its findings as a whole and, not probed, the binding
/// itself. Returns what a streamed run's report keeps: no bindings, and
/// only the findings about no binding or about a binding as a whole.
pub fn stream_scrambled(report: &Report, observer: &mut dyn VerifyObserver) -> Report {
    let as_a_whole = |f: &Finding| f.address.is_none() && BINDING_FINDING_CODES.contains(&f.code);
    let mut streamed = 0;
    for (index, b) in report.bindings.iter().enumerate().rev() {
        for result in b.results.iter().rev() {
            let about = |f: &&Finding| f.binding == Some(index) && f.address == result.address && !as_a_whole(f);
            let findings: Vec<Finding> = report.findings.iter().filter(about).cloned().collect();
            streamed += findings.len();
            observer.result(index, &b.binding, result, &findings);
        }
    }
    for (index, b) in report.bindings.iter().enumerate() {
        let whole: Vec<Finding> =
            report.findings.iter().filter(|f| f.binding == Some(index) && as_a_whole(f)).cloned().collect();
        streamed += whole.len();
        if !whole.is_empty() {
            observer.binding_findings(index, &b.binding, &whole);
        }
        if b.results.is_empty() {
            observer.not_probed(index, &b.binding);
        }
    }
    let unbound = report.findings.iter().filter(|f| f.binding.is_none()).count();
    assert_eq!(streamed + unbound, report.findings.len(), "every finding is streamed or kept");
    let mut kept = report.clone();
    kept.bindings.clear();
    kept.findings.retain(|f| f.binding.is_none() || as_a_whole(f));
    kept
}
