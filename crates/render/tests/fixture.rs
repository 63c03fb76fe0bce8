//! The committed fixture `tests/data/report.json` is a real engine report
//! (tests/common/world.rs run once). Regenerate it after a change to the
//! report model, then review the snapshot diff:
//!
//! ```text
//! CERTINSPECT_REGENERATE_FIXTURE=1 cargo test -p certinspect-render --test fixture -- --ignored
//! CERTINSPECT_UPDATE_SNAPSHOTS=1 cargo test -p certinspect-render --test table
//! ```

mod common;

use certinspect_core::report::Report;

#[test]
#[ignore = "writes tests/data/report.json; run on purpose"]
fn regenerate_fixture() {
    assert!(std::env::var_os("CERTINSPECT_REGENERATE_FIXTURE").is_some(), "set CERTINSPECT_REGENERATE_FIXTURE=1");
    let report = common::world::live_report();
    let mut text = serde_json::to_string_pretty(&report).unwrap();
    text.push('\n');
    std::fs::write(common::data("report.json"), text).unwrap();
}

/// The fixture is exactly what the current model serializes: a field added
/// to (or removed from) the report shows up here, and the fixture must be
/// regenerated so every format test sees it.
#[test]
fn fixture_matches_the_current_report_model() {
    let text = std::fs::read_to_string(common::data("report.json")).unwrap();
    let report: Report = common::fixture();
    let again: serde_json::Value = serde_json::to_value(&report).unwrap();
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(again, original, "tests/data/report.json is stale: regenerate it (see this file's header)");
}
